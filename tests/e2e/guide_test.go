package e2e

import (
	"bytes"
	"crypto/x509"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
)

const (
	issuerName  = "vault-issuer" // docker/k8s/40-cert-manager.yaml
	certName    = "istio-ca"
	approleName = "cert-manager-vault-approle" // docker/k8s/30-cert-manager-approle.yaml
	// secretID is the preset secret_id of config/istio-demo.vault.
	secretID = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f60"
	// roleID is the preset role_id of config/istio-demo.vault.
	roleID = "6b0f3c6e-4d3a-4c55-9a5e-1f2d7c8b9a01"
)

// TestGuideTopology is the user guide's cluster, once per server: vaultlet
// from its image under runc with docker/k8s/ ("vaultlet"), OpenBao (the
// reference) with the guide's commands ("openbao"), vaultlet's durable
// manifests across a restart ("vaultlet-durable") and the Helm chart
// ("helm").
//
// The shipped manifests fix the namespaces, the Service name and port 8200,
// so two servers cannot share a control plane at the same time.
// tests/e2e/run therefore runs the package as two processes at once, each
// in a network namespace with a control plane of its own, E2E_PARTS naming
// the parts each runs (comma-separated, in the order above); without
// E2E_PARTS one process runs every part, one after the other.
func TestGuideTopology(t *testing.T) {
	cl := clusterOnce(t)
	parts := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"vaultlet", func(t *testing.T) {
			c := cl(t)
			c.kubectl(t, "apply", "-f", manifest("docker/k8s/10-vault-bootstrap.yaml"), "-f", manifest("docker/k8s/20-vault.yaml"))
			p := runStatefulSetPod(t, c, "vault-demo", "vault", t.TempDir())
			s := &server{name: "vaultlet (image, runc)", addr: "http://127.0.0.1:8200", token: "root", logs: p.tail}
			guideScenario(t, c, s, "docker/k8s")
		}},
		{"openbao", func(t *testing.T) {
			// OpenBao and the guide's Step 2 start while the control plane does.
			bao := startOpenBao(t)
			c := cl(t)
			s := bao.bootstrapped(t)
			guideScenario(t, c, s, "docker/k8s")
		}},
		{"vaultlet-durable", func(t *testing.T) { durableScenario(t, cl(t)) }},
		{"helm", func(t *testing.T) { helmScenario(t, cl(t)) }},
	}
	for _, p := range parts {
		if !selectedParts[p.name] {
			continue
		}
		// The durable manifests replace the guide's StatefulSet: no point
		// once the guide's own run failed.
		if !t.Run(p.name, p.run) && p.name == "vaultlet" {
			return
		}
	}
}

// guideParts are TestGuideTopology's parts; selectedParts those this
// process runs (E2E_PARTS, checked by TestMain).
var (
	guideParts    = []string{"vaultlet", "openbao", "vaultlet-durable", "helm"}
	selectedParts = map[string]bool{}
)

// clusterOnce starts the control plane for the first subtest that asks for
// it (a -test.run selecting no subtest starts none) and stops it when
// parent ends.
func clusterOnce(parent *testing.T) func(t *testing.T) *cluster {
	var c *cluster
	failed := false
	return func(t *testing.T) *cluster {
		t.Helper()
		if failed {
			t.Fatal("the control plane did not start (see the earlier failure)")
		}
		if c == nil {
			failed = true
			started := startCluster(t, parent.Cleanup)
			started.kubectl(t, "apply", "-f", manifest("docker/k8s/00-namespaces.yaml"))
			c, failed = started, false
		}
		return c
	}
}

func manifest(rel string) string { return filepath.Join(tools.repo, rel) }

// applyIssuer applies the shipped AppRole Secret and Issuer/Certificate of
// dir: unchanged when the Service name resolves to the test's loopback (as
// tests/e2e/run arranges), otherwise with only spec.vault.server rewritten.
func applyIssuer(t *testing.T, c *cluster, dir string) {
	t.Helper()
	c.kubectl(t, "apply", "-f", manifest(dir+"/30-cert-manager-approle.yaml"))
	if vaultHostResolves() {
		c.kubectl(t, "apply", "-f", manifest(dir+"/40-cert-manager.yaml"))
		return
	}
	b, err := os.ReadFile(manifest(dir + "/40-cert-manager.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(b), "server: "+vaultURL, "server: http://127.0.0.1:8200", 1)
	t.Logf("%s does not resolve here: the Issuer's server is rewritten to http://127.0.0.1:8200", vaultHost)
	c.applyYAML(t, "40-cert-manager.yaml", text)
}

// guideScenario runs every step against one server and leaves istio-system
// empty for the next one.
func guideScenario(t *testing.T, c *cluster, s *server, dir string) {
	t.Cleanup(func() { c.cleanIstioSystem(t) })
	waitBootstrapped(t, s)
	root := one(t, "pki/ca/pem", rawGet(t, s.addr+"/v1/pki/ca/pem"))
	configureKubernetesAuth(t, c, s)
	// A ServiceAccount is deleted first, right after a token of it logged
	// in; the same token's next login comes last, once kube-apiserver's
	// cache of its review has expired (see goneAccount).
	var gone *goneAccount
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"KubernetesAuthDeleteAccount", func(t *testing.T) { gone = deleteAfterLogin(t, c, s) }},
		{"IssuerAndCacerts", func(t *testing.T) { guideCacerts(t, c, s, dir, root) }},
		{"WrongSecretID", func(t *testing.T) { wrongSecretID(t, c, s) }},
		{"RenewRotateRevoke", func(t *testing.T) { renewRotateRevoke(t, c, s, root) }},
		{"KubernetesAuth", func(t *testing.T) { kubernetesAuth(t, c, s) }},
		{"KubernetesAuthDeletedAccountRefused", func(t *testing.T) { gone.refused(t, c, s) }},
	}
	for _, st := range steps {
		if !t.Run(st.name, st.run) {
			return
		}
	}
}

// guideCacerts: Steps 3 and 4 with the shipped manifests. The Issuer is
// "Vault verified" and the Certificate fills istio-system/cacerts, which
// Istio accepts.
func guideCacerts(t *testing.T, c *cluster, s *server, dir string, root *x509.Certificate) {
	applyIssuer(t, c, dir)
	cond := c.waitIssuer(t, s, issuerName, cmmeta.ConditionTrue)
	if cond.Reason != "VaultVerified" || cond.Message != "Vault verified" {
		t.Errorf("Issuer Ready condition = %s %q, want VaultVerified \"Vault verified\" (the guide's expected output)", cond.Reason, cond.Message)
	}
	sec := c.waitCertificate(t, s, certName, 60*time.Second, nil)
	ica := checkCacerts(t, sec, root)
	if d := ica.NotAfter.Sub(ica.NotBefore); d < 720*time.Hour || d > 720*time.Hour+time.Minute {
		t.Errorf("istiod-ca is valid for %s, want the Certificate's 720h", d)
	}
	t.Logf("%s: Issuer %s %q; cacerts: istiod-ca serial %s, pathlen %d, issued by %q",
		s.name, cond.Reason, cond.Message, serialHex(ica), ica.MaxPathLen, ica.Issuer.CommonName)
}

// wrongSecretID: a wrong secret_id in the AppRole Secret makes the Issuer
// Ready=False (cert-manager re-runs Setup when the Secret changes); the
// right one makes it Ready again.
func wrongSecretID(t *testing.T, c *cluster, s *server) {
	c.setSecretValue(t, approleName, "secretId", "00000000-0000-0000-0000-000000000000")
	cond := c.waitIssuer(t, s, issuerName, cmmeta.ConditionFalse)
	if cond.Reason != "VaultError" || !strings.Contains(cond.Message, "Failed to initialize Vault client") {
		t.Errorf("Issuer Ready=False condition = %s %q, want VaultError \"Failed to initialize Vault client: …\"", cond.Reason, cond.Message)
	}
	t.Logf("%s, wrong secret_id: Issuer Ready=False %s: %s", s.name, cond.Reason, cond.Message)
	c.setSecretValue(t, approleName, "secretId", secretID)
	c.waitIssuer(t, s, issuerName, cmmeta.ConditionTrue)
}

// renewRotateRevoke: cert-manager renews the intermediate by itself while
// the test watches; after the root is rotated in the server (and made the
// default issuer) the next issuance chains to the new root while the old
// root and what it signed stay valid; the last intermediate is revoked and
// shows up in the CRL its certificate points to.
func renewRotateRevoke(t *testing.T, c *cluster, s *server, root *x509.Certificate) {
	before := c.waitCertificate(t, s, certName, 30*time.Second, nil)
	first := one(t, "tls.crt", before[corev1.TLSCertKey])

	// 1h with renewBefore 59m58s: cert-manager renews at NotAfter −
	// renewBefore, and NotAfter is the signing time + 1h (the server
	// backdates only NotBefore), so each intermediate is renewed about 2 s
	// after it is issued; 1h is the shortest duration cert-manager's
	// validating webhook accepts.
	c.patchCertificate(t, certName, map[string]any{"duration": "1h", "renewBefore": "59m58s"})
	short := c.waitCertificate(t, s, certName, 60*time.Second, func(sec map[string][]byte) (bool, string) {
		ica := one(t, "tls.crt", sec[corev1.TLSCertKey])
		return ica.NotAfter.Sub(ica.NotBefore) < 2*time.Hour, "waiting for the 1h intermediate"
	})
	shortCA := checkCacerts(t, short, root)
	renewed := c.waitCertificate(t, s, certName, 90*time.Second, func(sec map[string][]byte) (bool, string) {
		ica := one(t, "tls.crt", sec[corev1.TLSCertKey])
		return !bytes.Equal(ica.Raw, shortCA.Raw), "waiting for cert-manager to renew " + serialHex(shortCA)
	})
	renewedCA := checkCacerts(t, renewed, root)
	if bytes.Equal(renewed[corev1.TLSPrivateKeyKey], short[corev1.TLSPrivateKeyKey]) {
		t.Errorf("the renewal kept the private key; cert-manager's default rotationPolicy is Always")
	}
	t.Logf("%s: renewed without a touch: %s -> %s (first was %s), same root %q",
		s.name, serialHex(shortCA), serialHex(renewedCA), serialHex(first), root.Subject.CommonName)

	// Rotate the root: a new root issuer, then made the default.
	oldID := str(s.must(t, "GET", "pki/issuer/default", nil, 200), "issuer_id")
	rot := s.must(t, "POST", "pki/root/rotate/internal", map[string]any{
		"common_name": "my-org-rootca", "issuer_name": "my-org-rootca-rotated", "ttl": "8760h"}, 200)
	newRoot := one(t, "root/rotate certificate", []byte(str(rot, "certificate")))
	s.must(t, "POST", "pki/config/issuers", map[string]any{"default": str(rot, "issuer_id")}, 200, 204)
	if got := one(t, "pki/ca/pem after rotation", rawGet(t, s.addr+"/v1/pki/ca/pem")); !bytes.Equal(got.Raw, newRoot.Raw) {
		t.Fatalf("pki/ca/pem is not the new root after pki/config/issuers default=<new>")
	}
	// cert-manager knows nothing of the rotation: its next issuance (the
	// next renewal) is signed by the new default issuer and replaces ca.crt.
	rotated := c.waitCertificate(t, s, certName, 90*time.Second, func(sec map[string][]byte) (bool, string) {
		ca := one(t, "ca.crt", sec[cmmeta.TLSCAKey])
		return bytes.Equal(ca.Raw, newRoot.Raw), "waiting for an intermediate under the new root"
	})
	rotatedCA := checkCacerts(t, rotated, newRoot)
	oldRootKept(t, s, oldID, str(rot, "issuer_id"), root, renewedCA)
	t.Logf("%s: after root rotation the next renewal is %s under the new root; ca.crt now holds only the new root; the old root is still issuer %s, %s not revoked",
		s.name, serialHex(rotatedCA), oldID, serialHex(renewedCA))

	// Back to the guide's 720h/360h; the spec change issues once more.
	c.patchCertificate(t, certName, map[string]any{"duration": "720h", "renewBefore": "360h"})
	final := c.waitCertificate(t, s, certName, 60*time.Second, func(sec map[string][]byte) (bool, string) {
		ica := one(t, "tls.crt", sec[corev1.TLSCertKey])
		return ica.NotAfter.Sub(ica.NotBefore) >= 720*time.Hour, "waiting for the 720h intermediate"
	})
	finalCA := checkCacerts(t, final, newRoot)

	// Revoke it: the CRL its CRL distribution point names lists it at once
	// (the guide's setup leaves config/crl auto_rebuild off, so Vault
	// rebuilds the complete CRL on each revocation).
	rev := s.must(t, "POST", "pki/revoke", map[string]any{"serial_number": serialHex(finalCA)}, 200)
	if _, ok := data(rev)["revocation_time"]; !ok {
		t.Errorf("pki/revoke answer has no revocation_time: %v", rev)
	}
	if len(finalCA.CRLDistributionPoints) != 1 {
		t.Fatalf("istiod-ca has CRL distribution points %v, want the one of pki/config/urls", finalCA.CRLDistributionPoints)
	}
	crlURL := finalCA.CRLDistributionPoints[0]
	if !vaultHostResolves() {
		crlURL = strings.Replace(crlURL, vaultURL, s.addr, 1)
	}
	crlLists := func(serial *big.Int) bool {
		t.Helper()
		crl, err := x509.ParseRevocationList(rawGet(t, crlURL))
		if err != nil {
			t.Fatalf("CRL at %s: %v", crlURL, err)
		}
		if err := crl.CheckSignatureFrom(newRoot); err != nil {
			t.Errorf("the CRL at %s is not signed by the new root: %v", crlURL, err)
		}
		return slices.ContainsFunc(crl.RevokedCertificateEntries, func(e x509.RevocationListEntry) bool { return e.SerialNumber.Cmp(serial) == 0 })
	}
	if !crlLists(finalCA.SerialNumber) {
		t.Errorf("the CRL at %s does not list the revoked intermediate %s", crlURL, serialHex(finalCA))
	}
	// cert-manager does not read CRLs: the Certificate stays Ready with the
	// revoked intermediate in cacerts.
	c.touchIssuer(t, issuerName)
	c.waitIssuer(t, s, issuerName, cmmeta.ConditionTrue)
	still := c.waitCertificate(t, s, certName, 10*time.Second, nil)
	if !bytes.Equal(still[corev1.TLSCertKey], final[corev1.TLSCertKey]) {
		t.Errorf("cacerts changed after the revocation; cert-manager was not expected to act on it")
	}
	t.Logf("%s: revoked %s; listed in the CRL at %s; the Certificate stays Ready (cert-manager does not check revocation)",
		s.name, serialHex(finalCA), finalCA.CRLDistributionPoints[0])
}

// oldRootKept: a rotation adds an issuer and the default moves to it; the
// old root stays an issuer of the mount, served unchanged, and what it
// signed stays valid: the intermediate it issued before the rotation is
// neither revoked nor in the old root's CRL.
func oldRootKept(t *testing.T, s *server, oldID, newID string, oldRoot, issued *x509.Certificate) {
	t.Helper()
	keys, _ := data(s.must(t, "LIST", "pki/issuers", nil, 200))["keys"].([]any)
	if !slices.Contains(keys, any(oldID)) || !slices.Contains(keys, any(newID)) {
		t.Errorf("LIST pki/issuers after the rotation = %v, want both the old root %s and the new %s", keys, oldID, newID)
	}
	served := parseCerts(t, "pki/issuer/<old root>/pem", rawGet(t, s.addr+"/v1/pki/issuer/"+oldID+"/pem"))
	if !served[0].Equal(oldRoot) {
		t.Errorf("pki/issuer/%s/pem after the rotation is %q serial %s, want the old root %s", oldID, served[0].Subject.CommonName, serialHex(served[0]), serialHex(oldRoot))
	}
	crl, err := x509.ParseRevocationList(rawGet(t, s.addr+"/v1/pki/issuer/"+oldID+"/crl/der"))
	if err != nil {
		t.Fatalf("pki/issuer/%s/crl/der: %v", oldID, err)
	}
	if err := crl.CheckSignatureFrom(oldRoot); err != nil {
		t.Errorf("pki/issuer/%s/crl/der is not signed by the old root: %v", oldID, err)
	}
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(issued.SerialNumber) == 0 {
			t.Errorf("the old root's CRL lists %s, the intermediate it issued before the rotation", serialHex(issued))
		}
	}
	cert := data(s.must(t, "GET", "pki/cert/"+serialHex(issued), nil, 200))
	if rt, _ := cert["revocation_time"].(float64); rt != 0 || cert["revocation_time"] == nil {
		t.Errorf("pki/cert/%s after the rotation: revocation_time %v, want 0 (not revoked)", serialHex(issued), cert["revocation_time"])
	}
}
