package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// vaultURL is where cert-manager and the test reach the server: the shipped
// Issuer's URL (see vaultHost).
const vaultURL = "http://" + vaultHost + ":8200"

// server is the Vault-API server of one run: vaultlet from its image, or
// OpenBao, the reference.
type server struct {
	name  string
	addr  string // http://127.0.0.1:8200
	token string // root
	logs  func(n int) string
}

// api sends one request to the server with the root token and decodes the
// JSON answer (nil for an empty body).
func (s *server) api(method, path string, body any) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.addr+"/v1/"+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if s.token != "" {
		req.Header.Set("X-Vault-Token", s.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return resp.StatusCode, nil, nil
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: answer is not JSON: %q", method, path, raw)
	}
	return resp.StatusCode, out, nil
}

// must sends a request and fails the test unless the status is one of want.
func (s *server) must(t testing.TB, method, path string, body any, want ...int) map[string]any {
	t.Helper()
	code, out, err := s.api(method, path, body)
	if err != nil {
		t.Fatalf("%s: %v", s.name, err)
	}
	if !slices.Contains(want, code) {
		t.Fatalf("%s: %s /v1/%s = %d %v, want %v\n--- server log:\n%s", s.name, method, path, code, out, want, s.logs(20))
	}
	return out
}

// raw fetches an unauthenticated URL (CA and CRL endpoints) as bytes.
func rawGet(t testing.TB, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %s: %s", url, resp.Status, b)
	}
	return b
}

func data(out map[string]any) map[string]any {
	d, _ := out["data"].(map[string]any)
	return d
}

func str(out map[string]any, key string) string {
	s, _ := data(out)[key].(string)
	return s
}

// waitBootstrapped waits until the bootstrap file has run to its end: its
// last command sets the preset AppRole secret_id, so a login with the
// shipped credentials succeeds. (The server answers, and its readiness probe
// passes, while the bootstrap is still running.)
func waitBootstrapped(t testing.TB, s *server) {
	t.Helper()
	body := map[string]any{"role_id": roleID, "secret_id": secretID}
	ok, why := eventually(90*time.Second, func() (bool, string) {
		code, out, err := (&server{addr: s.addr}).api("POST", "auth/approle/login", body)
		if err != nil {
			return false, err.Error()
		}
		return code == 200, fmt.Sprintf("%d %v", code, out)
	})
	if !ok {
		t.Fatalf("%s: the bootstrap did not finish (AppRole login: %s)\n--- server log:\n%s", s.name, why, s.logs(30))
	}
}

// startOpenBao starts `bao server -dev` on the port the manifests use and
// runs the user guide's Step 2 on it with the bao CLI: the commands of
// config/istio-demo.vault (the guide's, with the preset AppRole
// credentials the shipped Secret and Issuer carry), `vault` being `bao`.
func startOpenBao(t *testing.T) *server {
	t.Helper()
	dir := filepath.Join(tools.work, "openbao")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, dir, "bao", []string{"HOME=" + dir}, tools.bao, "server", "-dev",
		"-dev-root-token-id=root", "-dev-listen-address=127.0.0.1:8200", "-dev-no-store-token")
	t.Cleanup(func() { p.stop(10 * time.Second) })
	s := &server{name: "OpenBao", addr: "http://127.0.0.1:8200", token: "root", logs: p.tail}
	ok, why := eventually(30*time.Second, func() (bool, string) {
		if p.exited() {
			return false, "bao exited"
		}
		code, _, err := s.api("GET", "sys/health", nil)
		if err != nil {
			return false, err.Error()
		}
		return code == 200, fmt.Sprint(code)
	})
	if !ok {
		t.Fatalf("OpenBao not ready: %s\n%s", why, p.tail(30))
	}
	script := "vault() { \"$BAO\" \"$@\"; }\nset -e\n. " + filepath.Join(tools.repo, "config/istio-demo.vault") + "\n"
	out, err := run([]string{"BAO=" + tools.bao, "HOME=" + dir, "VAULT_ADDR=" + s.addr, "VAULT_TOKEN=root",
		"BAO_ADDR=" + s.addr, "BAO_TOKEN=root"}, "/bin/sh", "-c", script)
	if err != nil {
		t.Fatalf("the guide's Step 2 on OpenBao: %v", err)
	}
	t.Logf("the guide's Step 2 ran with the bao CLI (%d lines of output)", strings.Count(out, "\n"))
	return s
}
