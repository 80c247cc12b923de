package acme

// The server under test: `<bin> server -dev -dev-tls` on loopback (port
// chosen by the kernel, read from the startup banner), its listener's CA
// from -dev-tls-cert-dir, root token "root".

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"
)

const rootToken = "root"

// devServer is one started server and a root client of its API.
type devServer struct {
	name string
	addr string // https://127.0.0.1:port
	ca   []byte // PEM of the listener's CA
	hc   *http.Client
}

var (
	listenerLine = regexp.MustCompile(`(?m)^\s*Listener 1: tcp \((.*)\)\s*$`)
	bannerProp   = regexp.MustCompile(`([a-z_]+(?: [a-z_]+)*): "([^"]*)"`)
)

// listenAddress reads the API address from a startup banner. vaultlet
// prints the bound port; OpenBao prints port 0 and its cluster listener on
// the bound port + 1.
func listenAddress(banner []byte) (string, bool) {
	m := listenerLine.FindSubmatch(banner)
	if m == nil {
		return "", false
	}
	props := map[string]string{}
	for _, kv := range bannerProp.FindAllSubmatch(m[1], -1) {
		props[string(kv[1])] = string(kv[2])
	}
	host, port, err := net.SplitHostPort(props["addr"])
	if err != nil {
		return "", false
	}
	if port == "0" {
		_, cport, err := net.SplitHostPort(props["cluster address"])
		n, err2 := strconv.Atoi(cport)
		if err != nil || err2 != nil {
			return "", false
		}
		port = strconv.Itoa(n - 1)
	}
	return "https://" + net.JoinHostPort(host, port), true
}

// serverBinary is the binary CONFORMANCE_SERVER names (vaultlet or bao).
func serverBinary(t *testing.T) (name, bin string) {
	switch kind := os.Getenv("CONFORMANCE_SERVER"); kind {
	case "", "vaultlet":
		bin = os.Getenv("VAULTLET_BIN")
		if bin == "" {
			bin = filepath.Join("..", "..", "..", "target", "debug", "vaultlet")
		}
		name = "vaultlet"
	case "bao":
		bin = os.Getenv("BAO_BIN")
		if bin == "" {
			p, err := exec.LookPath("bao")
			if err != nil {
				t.Fatalf("CONFORMANCE_SERVER=bao but no bao on PATH: %v", err)
			}
			bin = p
		}
		name = "bao"
	default:
		t.Fatalf("unknown CONFORMANCE_SERVER=%q (want vaultlet or bao)", kind)
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	return name, abs
}

// startDevServer starts the server for one test; it is stopped when the
// test ends.
func startDevServer(t *testing.T) *devServer {
	t.Helper()
	name, bin := serverBinary(t)
	home := t.TempDir()
	certDir := filepath.Join(home, "tls")
	if err := os.Mkdir(certDir, 0o700); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(home, "server.log")
	logFile, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "server", "-dev", "-dev-root-token-id="+rootToken,
		"-dev-listen-address=127.0.0.1:0", "-dev-no-store-token", "-dev-tls", "-dev-tls-cert-dir="+certDir)
	cmd.Dir, cmd.Stdout, cmd.Stderr = home, logFile, logFile
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		logFile.Close()
	})
	s := &devServer{name: name}
	deadline := time.Now().Add(40 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			out, _ := os.ReadFile(log)
			t.Fatalf("%s exited early:\n%s", bin, out)
		default:
		}
		if s.hc == nil {
			out, _ := os.ReadFile(log)
			addr, ok := listenAddress(out)
			ca, err := os.ReadFile(filepath.Join(certDir, "vault-ca.pem"))
			if ok && err == nil {
				s.addr, s.ca = addr, ca
				s.hc = httpsClient(ca)
			}
		}
		if s.hc != nil {
			if r, err := s.hc.Get(s.addr + "/v1/sys/health"); err == nil {
				r.Body.Close()
				if r.StatusCode == http.StatusOK {
					return s
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, _ := os.ReadFile(log)
	t.Fatalf("%s not ready after 40 s:\n%s", bin, out)
	return nil
}

// httpsClient trusts exactly the given CA.
func httpsClient(caPEM []byte) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
}

// api sends one Vault API request with the root token; the body of a
// non-2xx answer fails the test.
func (s *devServer) api(t *testing.T, method, path string, body any) map[string]any {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.addr+"/v1/"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Vault-Token", rootToken)
	r, err := s.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	raw, _ := io.ReadAll(r.Body)
	if r.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, r.StatusCode, raw)
	}
	out := map[string]any{}
	if len(raw) > 0 && json.Unmarshal(raw, &out) != nil {
		out["raw"] = string(raw)
	}
	return out
}

func (s *devServer) String() string { return fmt.Sprintf("%s at %s", s.name, s.addr) }
