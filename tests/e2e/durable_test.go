package e2e

import (
	"bytes"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
)

// durableScenario: docker/k8s/durable/ (the redb store on the pod's volume
// claim, unsealed by the static seal key of Secret vault-unseal-key) applied
// as its README says, after the dev StatefulSet is deleted. The container is
// killed and run again on the same data directory: the server comes back
// unsealed with the same root and AppRole credentials, the Issuer stays
// Ready, and a renewal after the restart is signed by the same root.
func durableScenario(t *testing.T, c *cluster) {
	t.Cleanup(func() { c.cleanIstioSystem(t) })
	c.kubectl(t, "delete", "statefulset", "vault", "-n", "vault-demo", "--ignore-not-found")
	dir := "docker/k8s/durable"
	c.kubectl(t, "apply", "-f", manifest(dir+"/00-namespaces.yaml"), "-f", manifest(dir+"/10-vault-bootstrap.yaml"), "-f", manifest(dir+"/20-vault.yaml"))
	p := runStatefulSetPod(t, c, "vault-demo", "vault", t.TempDir())
	s := &server{name: "vaultlet durable (image, runc)", addr: "http://127.0.0.1:8200", logs: p.tail}
	waitBootstrapped(t, s)
	root := one(t, "pki/ca/pem", rawGet(t, s.addr+"/v1/pki/ca/pem"))

	applyIssuer(t, c, dir)
	ready := c.waitIssuer(t, s, issuerName, cmmeta.ConditionTrue)
	before := c.waitCertificate(t, s, certName, 60*time.Second, nil)
	first := checkCacerts(t, before, root)

	p.restart(t)
	if got := one(t, "pki/ca/pem after the restart", rawGet(t, s.addr+"/v1/pki/ca/pem")); !bytes.Equal(got.Raw, root.Raw) {
		t.Fatalf("the root changed across the restart: the store or the bootstrap-once rule did not hold")
	}
	// Setup runs again (login with the same AppRole credentials, health).
	c.touchIssuer(t, issuerName)
	c.renew(t, certName)
	renewed := c.waitCertificate(t, s, certName, 60*time.Second, func(sec map[string][]byte) (bool, string) {
		return !bytes.Equal(sec[corev1.TLSCertKey], before[corev1.TLSCertKey]), "waiting for the renewal after the restart"
	})
	second := checkCacerts(t, renewed, root)
	after := c.waitIssuer(t, s, issuerName, cmmeta.ConditionTrue)
	if !after.LastTransitionTime.Equal(ready.LastTransitionTime) {
		t.Errorf("the Issuer's Ready condition changed across the restart (%s -> %s)", ready.LastTransitionTime, after.LastTransitionTime)
	}
	t.Logf("durable: %s before the restart, %s after it, both under root %s; Issuer Ready since %s",
		serialHex(first), serialHex(second), serialHex(root), ready.LastTransitionTime)
}
