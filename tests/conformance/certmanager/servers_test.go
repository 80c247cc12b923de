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
	"regexp"
	"strconv"
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

// rootToken is the root token of every dev server the suite starts.
const rootToken = "root"

// listen is the listen address of every server the suite starts: loopback,
// port chosen by the kernel at bind time. The bound address is read from the
// server's startup banner (listenAddress), so no port is picked ahead and
// released, and two runs can never race for one.
const listen = "127.0.0.1:0"

// quickClient is for readiness polls: a server that does not answer within
// seconds is polled again.
var quickClient = &http.Client{Timeout: 2 * time.Second}

// devArgs are Vault's dev-mode flags with the suite's root token.
func devArgs() []string {
	return []string{"server", "-dev", "-dev-root-token-id=" + rootToken, "-dev-listen-address=" + listen, "-dev-no-store-token"}
}

var (
	listenerLine = regexp.MustCompile(`(?m)^\s*Listener 1: tcp \((.*)\)\s*$`)
	bannerProp   = regexp.MustCompile(`([a-z_]+(?: [a-z_]+)*): "([^"]*)"`)
)

// listenAddress reads the first listener's URL from a startup banner:
// `Listener 1: tcp (addr: "127.0.0.1:41629", ..., tls: "disabled")`.
// vaultlet prints the bound address there. OpenBao prints the configured one
// (port 0), but places its cluster listener on the bound port + 1 and prints
// that (`cluster address: "127.0.0.1:41630"`), so its API port is one less;
// a listener stanza for OpenBao must therefore not set cluster_address.
func listenAddress(banner []byte) (url string, ok bool) {
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
	scheme := "http"
	if props["tls"] == "enabled" {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port), true
}

// process is a server the suite started.
type process struct {
	Addr   string // http://… or https://…, read from the banner
	cmd    *exec.Cmd
	exited chan struct{}
	log    *os.File
	home   string
}

// startServer starts bin with args (private HOME, own process group, output
// to a temp log file), reads its address from the banner and polls
// ready(addr) until it returns nil. The one way the suite starts a server.
func startServer(bin string, args []string, ready func(addr string) error) (*process, error) {
	logFile, err := os.CreateTemp("", "conformance-"+server.Name+"-*.log")
	if err != nil {
		return nil, err
	}
	home, err := os.MkdirTemp("", "conformance-home-*")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// No VAULT_*/BAO_* (removed from ours by TestMain), and a private HOME so
	// nothing touches ~.
	cmd.Env = append(os.Environ(), "HOME="+home)
	p := &process{cmd: cmd, exited: make(chan struct{}), log: logFile, home: home}
	if err := cmd.Start(); err != nil {
		p.cleanup()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	last := fmt.Errorf("no listen address in its output yet")
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			p.stop()
			return nil, fmt.Errorf("%s %v exited early:\n%s", bin, args, p.output())
		default:
		}
		if p.Addr == "" {
			if url, ok := listenAddress(p.output()); ok {
				p.Addr = url
			}
		}
		if p.Addr != "" {
			if last = ready(p.Addr); last == nil {
				return p, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	out := p.output()
	p.stop()
	return nil, fmt.Errorf("%s %v not ready after 30 s: %v\n%s", bin, args, last, out)
}

func (p *process) output() []byte {
	out, _ := os.ReadFile(p.log.Name())
	return out
}

// stop ends the process group (SIGTERM, then SIGKILL after 5 s) and removes
// its files (the log stays with CONFORMANCE_KEEP_LOGS=1).
func (p *process) stop() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	}
	p.cleanup()
}

func (p *process) cleanup() {
	p.log.Close()
	if os.Getenv("CONFORMANCE_KEEP_LOGS") == "" {
		os.Remove(p.log.Name())
	} else {
		fmt.Fprintf(os.Stderr, "conformance: server log kept at %s\n", p.log.Name())
	}
	os.RemoveAll(p.home)
}

// startExtra starts a server for one test, stopped when the test ends.
func startExtra(t *testing.T, args []string, ready func(addr string) error) *process {
	t.Helper()
	p, err := startServer(server.Bin, args, ready)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	return p
}

// startExtraDevServer starts another dev server of the kind under test,
// with root token "root", exactly as TestMain starts the suite's server.
func startExtraDevServer(t *testing.T) *serverProc {
	t.Helper()
	needOwnServers(t)
	p := startExtra(t, devArgs(), func(addr string) error { return healthStatus(quickClient, addr, http.StatusOK) })
	return &serverProc{Addr: p.Addr, Token: rootToken}
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
	// The same HCL for vaultlet and OpenBao: both read Vault's listener and
	// storage stanzas.
	cfg := fmt.Sprintf(`listener "tcp" {
  address       = %q
  tls_cert_file = %q
  tls_key_file  = %q
}
storage "inmem" {}
disable_mlock = true
`, listen, certFile, keyFile)
	cfgFile := filepath.Join(dir, "server.hcl")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	hc := &http.Client{Timeout: 60 * time.Second, Transport: transport}
	// Ready = the listener answers over TLS (uninitialized: 501).
	p := startExtra(t, []string{"server", "-config=" + cfgFile}, func(addr string) error {
		resp, err := (&http.Client{Timeout: 2 * time.Second, Transport: transport}).Get(addr + "/v1/sys/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
	s := &serverProc{Addr: p.Addr, CA: caPEM, hc: hc}
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
	if err := waitHealthy(hc, s.Addr, 20*time.Second); err != nil {
		t.Fatalf("after unseal: %v", err)
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
