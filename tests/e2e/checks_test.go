package e2e

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/cert-manager/cert-manager/pkg/util/pki"

	istioca "istio.io/istio/security/pkg/pki/ca"
	istioutil "istio.io/istio/security/pkg/pki/util"
)

const workloadID = "spiffe://cluster.local/ns/default/sa/default"

// parseCerts parses a PEM bundle that holds only certificates.
func parseCerts(t testing.TB, what string, b []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			if len(bytes.TrimSpace(rest)) != 0 {
				t.Fatalf("%s: trailing data after the certificates", what)
			}
			break
		}
		if blk.Type != "CERTIFICATE" {
			t.Fatalf("%s: unexpected PEM block %q", what, blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no certificate", what)
	}
	return out
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
	istioSignsWorkload(t, sec, root, ica)
	return ica
}

// istioSignsWorkload hands the Secret to Istio as istiod reads a
// kubernetes.io/tls-layout cacerts: NewPluggedCertIstioCAOptions (which
// verifies the chain and that the signing certificate is a CA) and
// NewIstioCA, then signs a workload CSR and checks the result with Istio's
// VerifyCertificate against ca.crt and with Go's verifier as a peer does.
func istioSignsWorkload(t *testing.T, sec map[string][]byte, root, ica *x509.Certificate) {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey, cmmeta.TLSCAKey} {
		if err := os.WriteFile(filepath.Join(dir, k), sec[k], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	bundle := istioca.SigningCAFileBundle{
		RootCertFile:    filepath.Join(dir, istioca.TLSSecretRootCertFile),
		CertChainFiles:  []string{filepath.Join(dir, istioca.TLSSecretCACertFile), filepath.Join(dir, istioca.TLSSecretRootCertFile)},
		SigningCertFile: filepath.Join(dir, istioca.TLSSecretCACertFile),
		SigningKeyFile:  filepath.Join(dir, istioca.TLSSecretCAPrivateKeyFile),
	}
	// istiod's defaults: workload TTL 24h, max 90 days, RSA 2048.
	opts, err := istioca.NewPluggedCertIstioCAOptions(bundle, 24*time.Hour, 90*24*time.Hour, 2048)
	if err != nil {
		t.Fatalf("Istio NewPluggedCertIstioCAOptions rejected cacerts: %v", err)
	}
	ca, err := istioca.NewIstioCA(opts)
	if err != nil {
		t.Fatalf("Istio NewIstioCA: %v", err)
	}
	csr, key, err := istioutil.GenCSR(istioutil.CertOptions{Host: workloadID, ECSigAlg: istioutil.EcdsaSigAlg})
	if err != nil {
		t.Fatal(err)
	}
	leafPEM, err := ca.Sign(csr, istioca.CertOpts{SubjectIDs: []string{workloadID}, TTL: time.Hour})
	if err != nil {
		t.Fatalf("Istio CA Sign: %v", err)
	}
	kb := ca.GetCAKeyCertBundle()
	chain := append(append([]byte{}, leafPEM...), kb.GetCertChainPem()...)
	if err := istioutil.VerifyCertificate(key, chain, kb.GetRootCertPem(), &istioutil.VerifyFields{
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		Host:        workloadID,
	}); err != nil {
		t.Fatalf("Istio VerifyCertificate of the workload certificate: %v", err)
	}
	if !bytes.Equal(kb.GetRootCertPem(), sec[cmmeta.TLSCAKey]) {
		t.Errorf("Istio's trust anchor is not ca.crt")
	}
	leaf := one(t, "workload certificate", leafPEM)
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	inter.AddCert(ica)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("the workload certificate does not verify to the Vault root: %v", err)
	}
}
