// Package e2e runs the user guide's topology in a real control plane:
// etcd and kube-apiserver, cert-manager's own controllers, vaultlet from its
// container image under runc (and OpenBao, the reference, as a process), with
// the shipped manifests applied by kubectl and the chart installed by helm.
// tests/e2e/run builds (or reuses) every piece and runs this package inside a
// network and mount namespace of its own; see README.md.
package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// tools are the programs and files tests/e2e/run hands over.
var tools struct {
	apiserver, kubectl, etcd, cmController, helm, runc, bao string
	bundle                                                  string // vaultlet's image, unpacked by umoci (config.json + rootfs)
	cmCRDs                                                  string // cert-manager's deploy/crds directory
	repo                                                    string // the repository root
	work                                                    string // logs and state of this run
}

func TestMain(m *testing.M) {
	need := map[string]*string{
		"E2E_KUBE_APISERVER": &tools.apiserver,
		"E2E_KUBECTL":        &tools.kubectl,
		"E2E_ETCD":           &tools.etcd,
		"E2E_CM_CONTROLLER":  &tools.cmController,
		"E2E_HELM":           &tools.helm,
		"E2E_RUNC":           &tools.runc,
		"E2E_BAO":            &tools.bao,
		"E2E_VAULTLET_IMAGE": &tools.bundle,
		"E2E_CM_CRDS":        &tools.cmCRDs,
		"E2E_WORK":           &tools.work,
	}
	var missing []string
	for k, v := range need {
		if *v = os.Getenv(k); *v == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		fmt.Fprintf(os.Stderr, "e2e: %v not set: run this suite through tests/e2e/run\n", missing)
		os.Exit(1)
	}
	for _, part := range guideParts {
		selectedParts[part] = os.Getenv("E2E_PARTS") == ""
	}
	for _, part := range strings.Split(os.Getenv("E2E_PARTS"), ",") {
		if part == "" {
			continue
		}
		if _, ok := selectedParts[part]; !ok {
			fmt.Fprintf(os.Stderr, "e2e: E2E_PARTS names %q: the parts are %v\n", part, guideParts)
			os.Exit(1)
		}
		selectedParts[part] = true
	}
	wd, _ := os.Getwd()
	tools.repo = filepath.Clean(filepath.Join(wd, "../.."))
	if err := privateNetwork(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v: run this suite through tests/e2e/run\n", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// privateNetwork checks the test runs in a network namespace holding only
// the loopback interface: the servers listen on fixed ports (8200 is the
// port the shipped manifests use) and the image's 0.0.0.0 then means loopback.
func privateNetwork() error {
	ifs, err := net.Interfaces()
	if err != nil {
		return err
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback == 0 {
			return fmt.Errorf("network interface %s present: not in a private network namespace", i.Name)
		}
	}
	return nil
}

// vaultHost is the Service name the shipped Issuer uses; tests/e2e/run maps
// it to 127.0.0.1 in the test's own /etc/hosts.
const vaultHost = "vault.vault-demo"

// vaultHostResolves says whether the shipped Issuer's server URL reaches
// the loopback server unchanged.
func vaultHostResolves() bool {
	addrs, err := net.LookupHost(vaultHost)
	return err == nil && slices.Contains(addrs, "127.0.0.1")
}
