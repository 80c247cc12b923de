package e2e

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/cert-manager/cert-manager/pkg/util/pki"

	"github.com/vaultlet/vaultlet/tests/istiocheck"
)

const workloadID = "spiffe://cluster.local/ns/default/sa/default"

// parseCerts parses a PEM bundle that holds only certificates.
func parseCerts(t testing.TB, what string, b []byte) []*x509.Certificate {
	t.Helper()
	cs, err := istiocheck.ParseCerts(b)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return cs
}

func one(t testing.TB, what string, b []byte) *x509.Certificate {
	t.Helper()
	cs := parseCerts(t, what, b)
	if len(cs) != 1 {
		t.Fatalf("%s: %d certificates, want 1", what, len(cs))
	}
	return cs[0]
}

func serialHex(c *x509.Certificate) string {
	b := c.SerialNumber.Bytes()
	s := ""
	for i, x := range b {
		if i > 0 {
			s += ":"
		}
		s += fmt.Sprintf("%02x", x)
	}
	return s
}

// checkCacerts asserts what the guide's Step 6 inspects in Secret
// istio-system/cacerts, with the Secret's bytes as the API server holds
// them: tls.crt is one CA certificate (CN istiod-ca, CA:TRUE, keyCertSign)
// issued by root; its pathlen leaves room for the workload certificates
// istiod signs and the root's leaves room for it; tls.key is its key;
// ca.crt is root itself. Then Istio's own plugged-CA code takes the Secret
// and signs a workload certificate that verifies to the root. It returns
// the intermediate.
func checkCacerts(t *testing.T, sec map[string][]byte, root *x509.Certificate) *x509.Certificate {
	t.Helper()
	tlsCerts := parseCerts(t, "tls.crt", sec[corev1.TLSCertKey])
	if len(tlsCerts) != 1 {
		t.Errorf("tls.crt holds %d certificates, want the intermediate alone", len(tlsCerts))
	}
	ica := tlsCerts[0]
	if ica.Subject.CommonName != "istiod-ca" {
		t.Errorf("tls.crt CN = %q, want istiod-ca", ica.Subject.CommonName)
	}
	if !ica.BasicConstraintsValid || !ica.IsCA || ica.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("tls.crt is not a CA certificate with keyCertSign (CA=%v, keyUsage=%b)", ica.IsCA, ica.KeyUsage)
	}
	// istiod signs leaves directly: the intermediate needs no room below it
	// (any pathlen, or none), the root needs room for the intermediate.
	if root.MaxPathLen == 0 && root.MaxPathLenZero {
		t.Errorf("the root has pathlen 0: it cannot certify the Istio intermediate")
	}
	if err := ica.CheckSignatureFrom(root); err != nil || !bytes.Equal(ica.RawIssuer, root.RawSubject) {
		t.Errorf("tls.crt does not verify against pki/ca/pem (%v)", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	if _, err := ica.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("tls.crt does not chain to the root: %v", err)
	}
	key, err := pki.DecodePrivateKeyBytes(sec[corev1.TLSPrivateKeyKey])
	if err != nil {
		t.Fatalf("tls.key: %v", err)
	}
	if ok, err := pki.PublicKeyMatchesCertificate(key.Public(), ica); err != nil || !ok {
		t.Errorf("tls.key is not the key of tls.crt (%v)", err)
	}
	if ca := one(t, "ca.crt", sec[cmmeta.TLSCAKey]); !bytes.Equal(ca.Raw, root.Raw) {
		t.Errorf("ca.crt is not the root (%q)", ca.Subject.CommonName)
	}
	if t.Failed() {
		t.FailNow()
	}
	istioSignsWorkload(t, sec)
	return ica
}

// istioSignsWorkload hands the Secret to Istio's own plugged-CA code as
// istiod reads it and signs an ECDSA workload certificate that must verify to
// the root (see istiocheck.SignWorkload).
func istioSignsWorkload(t *testing.T, sec map[string][]byte) {
	t.Helper()
	if _, err := istiocheck.SignWorkload(sec, workloadID, true); err != nil {
		t.Fatal(err)
	}
}
