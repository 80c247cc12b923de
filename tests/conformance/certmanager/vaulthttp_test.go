package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// vaultHTTP sends requests the way the `vault`/`bao` CLI and the Go vault/api
// client do: X-Vault-Token and X-Vault-Request headers, no Content-Type, a
// JSON body produced by json.Marshal (sorted keys, no trailing newline).
type vaultHTTP struct {
	t     testing.TB
	addr  string
	token string
	// hc, when set, is the HTTP client to use (e.g. one trusting a TLS
	// listener's CA); nil means a plain client with a 60 s timeout.
	hc *http.Client
}

func rootClient(t testing.TB) *vaultHTTP {
	return &vaultHTTP{t: t, addr: server.Addr, token: server.Token}
}

// vaultResp is one response: status, raw body and the decoded JSON (if any).
type vaultResp struct {
	Method, Path string
	Status       int
	Body         []byte
	JSON         map[string]any
}

func (r *vaultResp) String() string {
	return fmt.Sprintf("%s /v1/%s -> %d %s", r.Method, r.Path, r.Status, truncate(string(r.Body), 2000))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// data returns resp.JSON["data"] as an object (nil if absent).
func (r *vaultResp) data() map[string]any {
	d, _ := r.JSON["data"].(map[string]any)
	return d
}

// str returns data[key] when it is a JSON string; fails the test otherwise.
func (r *vaultResp) str(t testing.TB, key string) string {
	t.Helper()
	v, ok := r.data()[key].(string)
	if !ok {
		t.Fatalf("%s: data.%s is not a string (got %T %v)", r, key, r.data()[key], r.data()[key])
	}
	return v
}

// raw sends body verbatim (nil = no body).
func (c *vaultHTTP) raw(method, path string, body []byte) *vaultResp {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.addr+"/v1/"+path, rd)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	req.Header.Set("X-Vault-Request", "true")
	if c.token != "" {
		req.Header.Set("X-Vault-Token", c.token)
	}
	// The Go client never sets Content-Type; make sure net/http does not either.
	req.Header["Content-Type"] = nil
	hc := c.hc
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s /v1/%s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := &vaultResp{Method: method, Path: path, Status: resp.StatusCode, Body: b}
	if len(bytes.TrimSpace(b)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		_ = dec.Decode(&out.JSON)
	}
	return out
}

func (c *vaultHTTP) send(method, path string, body any) *vaultResp {
	c.t.Helper()
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			c.t.Fatal(err)
		}
	}
	return c.raw(method, path, b)
}

// expect fails the test unless the status is one of want.
func (r *vaultResp) expect(t testing.TB, want ...int) *vaultResp {
	t.Helper()
	for _, w := range want {
		if r.Status == w {
			return r
		}
	}
	t.Fatalf("want status %v: %s", want, r)
	return r
}

// expect2xx fails the test unless the status is 2xx (what the CLI and the Go
// client accept as success).
func (r *vaultResp) expect2xx(t testing.TB) *vaultResp {
	t.Helper()
	if r.Status < 200 || r.Status > 299 {
		t.Fatalf("want 2xx: %s", r)
	}
	return r
}

// ---- The CLI's commands, byte for byte as the `vault` CLI sends them ----

// cliWrite is `vault write PATH k=v ...`: PUT with every value a JSON string.
// With no pairs it is `vault write -force PATH`, whose body is the 4 bytes
// `null`.
func (c *vaultHTTP) cliWrite(path string, kv ...string) *vaultResp {
	c.t.Helper()
	if len(kv)%2 != 0 {
		c.t.Fatalf("cliWrite %s: odd kv list", path)
	}
	if len(kv) == 0 {
		return c.raw(http.MethodPut, path, []byte("null"))
	}
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return c.send(http.MethodPut, path, m)
}

// cliRead is `vault read PATH`.
func (c *vaultHTTP) cliRead(path string) *vaultResp {
	c.t.Helper()
	return c.raw(http.MethodGet, path, nil)
}

// cliSecretsEnable is `vault secrets enable -path=PATH TYPE`.
func (c *vaultHTTP) cliSecretsEnable(typ, path string) *vaultResp {
	c.t.Helper()
	body := `{"type":"` + typ + `","description":"","config":{"options":null,"default_lease_ttl":"0s","max_lease_ttl":"0s","force_no_cache":false},"local":false,"seal_wrap":false,"external_entropy_access":false,"options":null}`
	return c.raw(http.MethodPost, "sys/mounts/"+path, []byte(body))
}

// cliSecretsTuneMaxLeaseTTL is `vault secrets tune -max-lease-ttl=D PATH`.
func (c *vaultHTTP) cliSecretsTuneMaxLeaseTTL(path string, d time.Duration) *vaultResp {
	c.t.Helper()
	body := `{"options":null,"default_lease_ttl":"","max_lease_ttl":"` + d.String() + `","force_no_cache":false}`
	return c.raw(http.MethodPost, "sys/mounts/"+path+"/tune", []byte(body))
}

// cliAuthEnable is `vault auth enable -path=PATH TYPE`.
func (c *vaultHTTP) cliAuthEnable(typ, path string) *vaultResp {
	c.t.Helper()
	body := `{"type":"` + typ + `","description":"","config":{"options":null,"default_lease_ttl":"0s","max_lease_ttl":"0s","force_no_cache":false},"local":false,"seal_wrap":false,"external_entropy_access":false,"options":null}`
	return c.raw(http.MethodPost, "sys/auth/"+path, []byte(body))
}

// cliPolicyWrite is `vault policy write NAME - <<EOF ... EOF`.
func (c *vaultHTTP) cliPolicyWrite(name, hcl string) *vaultResp {
	c.t.Helper()
	return c.send(http.MethodPut, "sys/policies/acl/"+strings.ToLower(name), map[string]string{"policy": hcl})
}

// ---- The Go vault/api client's typed calls (cert-manager's e2e setup) ----

// apiMount is vault/api Sys().Mount(path, &MountInput{Type: typ, Config:
// MountConfigInput{MaxLeaseTTL: maxLeaseTTL}}) as cert-manager's e2e addon
// calls it.
func (c *vaultHTTP) apiMount(typ, path, maxLeaseTTL string) *vaultResp {
	c.t.Helper()
	body := `{"type":"` + typ + `","description":"","config":{"options":null,"default_lease_ttl":"","max_lease_ttl":"` + maxLeaseTTL + `","force_no_cache":false},"local":false,"seal_wrap":false,"external_entropy_access":false,"options":null}`
	return c.raw(http.MethodPost, "sys/mounts/"+path, []byte(body))
}

// apiEnableAuth is vault/api Sys().EnableAuthWithOptions(path, &MountInput{Type: typ}).
func (c *vaultHTTP) apiEnableAuth(typ, path string) *vaultResp {
	c.t.Helper()
	body := `{"type":"` + typ + `","description":"","config":{"options":null,"default_lease_ttl":"","max_lease_ttl":"","force_no_cache":false},"local":false,"seal_wrap":false,"external_entropy_access":false,"options":null}`
	return c.raw(http.MethodPost, "sys/auth/"+path, []byte(body))
}

// apiWrite is vault/api Logical().Write(path, data): PUT with typed JSON.
func (c *vaultHTTP) apiWrite(path string, data map[string]any) *vaultResp {
	c.t.Helper()
	return c.send(http.MethodPut, path, data)
}
