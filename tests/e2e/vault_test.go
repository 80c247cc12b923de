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

// openBao is `bao server -dev` on the port the manifests use, with the
// user guide's Step 2 running on it with the bao CLI: the commands of
// config/istio-demo.vault (the guide's, with the preset AppRole credentials
// the shipped Secret and Issuer carry), `vault` being `bao`.
type openBao struct {
	server *proc
	step2  *proc // the shell running Step 2 once the server answers
}

// startOpenBao starts the server and, in the background, Step 2; see
// bootstrapped.
func startOpenBao(t *testing.T) *openBao {
	t.Helper()
	dir := filepath.Join(tools.work, "openbao")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	const addr = "http://127.0.0.1:8200"
	p := startProc(t, dir, "bao", []string{"HOME=" + dir}, tools.bao, "server", "-dev",
		"-dev-root-token-id=root", "-dev-listen-address=127.0.0.1:8200", "-dev-no-store-token")
	t.Cleanup(func() { p.stop(10 * time.Second) })
	// `bao status` exits 0 once the server answers unsealed.
	script := "vault() { \"$BAO\" \"$@\"; }\n" +
		"for i in $(seq 300); do \"$BAO\" status >/dev/null 2>&1 && break; sleep 0.1; done\n" +
		"set -e\n. " + filepath.Join(tools.repo, "config/istio-demo.vault") + "\n"
	step2 := startProc(t, dir, "step2", []string{"BAO=" + tools.bao, "HOME=" + dir, "VAULT_ADDR=" + addr, "VAULT_TOKEN=root",
		"BAO_ADDR=" + addr, "BAO_TOKEN=root"}, "/bin/sh", "-c", script)
	t.Cleanup(func() { step2.stop(time.Second) })
	return &openBao{server: p, step2: step2}
}

// bootstrapped waits for Step 2 to finish and returns the server.
func (b *openBao) bootstrapped(t *testing.T) *server {
	t.Helper()
	select {
	case <-b.step2.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("the guide's Step 2 on OpenBao still running after 60s:\n%s\n--- bao log:\n%s", b.step2.tail(20), b.server.tail(30))
	}
	if code := b.step2.cmd.ProcessState.ExitCode(); code != 0 || b.server.exited() {
		t.Fatalf("the guide's Step 2 on OpenBao: exit status %d (server exited: %v)\n%s\n--- bao log:\n%s",
			code, b.server.exited(), b.step2.tail(20), b.server.tail(30))
	}
	s := &server{name: "OpenBao", addr: "http://127.0.0.1:8200", token: "root", logs: b.server.tail}
	code, _, err := s.api("GET", "sys/health", nil)
	if err != nil || code != 200 {
		t.Fatalf("OpenBao after Step 2: sys/health %d %v\n%s", code, err, b.server.tail(30))
	}
	out, _ := os.ReadFile(b.step2.log)
	t.Logf("the guide's Step 2 ran with the bao CLI (%d lines of output)", bytes.Count(out, []byte("\n")))
	return s
}
