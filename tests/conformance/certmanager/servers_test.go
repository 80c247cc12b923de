package conformance

// Extra servers of the kind under test, for scenarios that cannot share the
// suite's dev server: a second fresh dev server (a scenario that needs the
// guide's fixed paths pki/ and approle/ to itself), and a server started from
// a configuration file with a TLS listener, initialized and unsealed over the
// API as an operator would (`vault operator init` / `unseal`).

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// serverProc is one extra server process.
type serverProc struct {
	Addr  string // http://… or https://…
	Token string // root token
	CA    []byte // PEM of the CA that signed the TLS listener's certificate (nil for plain HTTP)
	hc    *http.Client
}

// client is a root client for this server.
func (s *serverProc) client(t testing.TB) *vaultHTTP {
	return &vaultHTTP{t: t, addr: s.Addr, token: s.Token, hc: s.hc}
}

// needOwnServers skips t when the suite runs against an external server
// (VAULT_ADDR): it cannot start a second instance of that.
func needOwnServers(t *testing.T) {
	t.Helper()
	if server.Bin == "" {
		t.Skipf("this scenario starts its own %s process; it cannot run against the external server at VAULT_ADDR", "server")
	}
}

// startProc starts bin with args (private HOME, own process group, log to a
// temp file) and registers its termination with t.Cleanup. ready is polled
// until it returns nil.
func startProc(t *testing.T, bin string, args []string, ready func() error) {
	t.Helper()
	logFile, err := os.CreateTemp("", "conformance-"+server.Name+"-extra-*.log")
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Env = append(os.Environ(), "HOME="+home)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
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
		if os.Getenv("CONFORMANCE_KEEP_LOGS") == "" {
			os.Remove(logFile.Name())
		} else {
			t.Logf("server log kept at %s", logFile.Name())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			out, _ := os.ReadFile(logFile.Name())
			t.Fatalf("%s %v exited early:\n%s", bin, args, out)
		default:
		}
		if last = ready(); last == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, _ := os.ReadFile(logFile.Name())
	t.Fatalf("%s %v not ready after 30 s: %v\n%s", bin, args, last, out)
}

// startExtraDevServer starts another dev server of the kind under test,
// with root token "root", exactly as TestMain starts the suite's server.
func startExtraDevServer(t *testing.T) *serverProc {
	t.Helper()
	needOwnServers(t)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	s := &serverProc{Addr: "http://" + listen, Token: "root"}
	startProc(t, server.Bin, []string{"server", "-dev", "-dev-root-token-id=root", "-dev-listen-address=" + listen, "-dev-no-store-token"},
		func() error { return healthStatus(http.DefaultClient, s.Addr, http.StatusOK) })
	return s
}

func healthStatus(hc *http.Client, addr string, want int) error {
	resp, err := hc.Get(addr + "/v1/sys/health")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("GET /v1/sys/health: %d, want %d", resp.StatusCode, want)
	}
	return nil
}

// startTLSServer starts the server kind under test from a configuration file
// with a TLS listener (certificate for 127.0.0.1 from a fresh test CA) and
// in-memory storage, then initializes it (1 share, threshold 1) and unseals
// it through the API.
func startTLSServer(t *testing.T) *serverProc {
	t.Helper()
	needOwnServers(t)
	dir := t.TempDir()
	caPEM, certPEM, keyPEM := tlsListenerCert(t)
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	// The same HCL for vaultlet and OpenBao: both read Vault's listener and
	// storage stanzas.
	cfg := fmt.Sprintf(`listener "tcp" {
  address       = %q
  tls_cert_file = %q
  tls_key_file  = %q
}
storage "inmem" {}
disable_mlock = true
api_addr = "https://%s"
`, listen, certFile, keyFile, listen)
	cfgFile := filepath.Join(dir, "server.hcl")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	hc := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	s := &serverProc{Addr: "https://" + listen, CA: caPEM, hc: hc}
	// Ready = the listener answers over TLS (uninitialized: 501).
	startProc(t, server.Bin, []string{"server", "-config=" + cfgFile}, func() error {
		resp, err := hc.Get(s.Addr + "/v1/sys/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
	c := s.client(t)
	if st := c.raw("GET", "sys/health", nil); st.Status != 501 {
		t.Fatalf("a fresh in-memory server should answer sys/health 501 (not initialized): %s", st)
	}
	init := c.send("PUT", "sys/init", map[string]any{"secret_shares": 1, "secret_threshold": 1}).expect(t, 200)
	keys, _ := init.JSON["keys"].([]any)
	root, _ := init.JSON["root_token"].(string)
	if len(keys) != 1 || root == "" {
		t.Fatalf("sys/init: want 1 key and a root_token: %s", init)
	}
	key, _ := keys[0].(string)
	unseal := c.send("PUT", "sys/unseal", map[string]any{"key": key}).expect(t, 200)
	if sealed, _ := unseal.JSON["sealed"].(bool); sealed {
		t.Fatalf("sys/unseal with the only key left the server sealed: %s", unseal)
	}
	s.Token = root
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := healthStatus(hc, s.Addr, http.StatusOK)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after unseal: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return s
}

// tlsListenerCert makes a test CA and a serving certificate for 127.0.0.1 /
// localhost signed by it (PEMs: CA cert, serving cert, serving key).
func tlsListenerCert(t testing.TB) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "conformance listener CA"},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}
