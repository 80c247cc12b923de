// Package istiocheck hands a cert-manager `cacerts` Secret to Istio's own
// plugged-CA code, exactly as istiod reads a kubernetes.io/tls-layout
// cacerts directory, and signs a workload certificate with it. The Go
// conformance suite and the end-to-end suite both use it, so "Istio accepts
// what vaultlet issued" means one thing in both.
package istiocheck

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	istioca "istio.io/istio/security/pkg/pki/ca"
	istioutil "istio.io/istio/security/pkg/pki/util"
	corev1 "k8s.io/api/core/v1"
)

// ParseCerts parses a PEM bundle that must hold certificates only.
func ParseCerts(pemBytes []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := pemBytes
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("unexpected PEM block %q", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("trailing data after the certificates")
	}
	if len(out) == 0 {
		return nil, errors.New("no certificate")
	}
	return out, nil
}

// SignWorkload builds Istio's plugged-cert CA from the Secret's tls.crt,
// tls.key and ca.crt (NewPluggedCertIstioCAOptions verifies the chain and
// that the signing certificate is a CA; NewIstioCA), signs a workload CSR
// for the SPIFFE id (ECDSA or RSA-2048 key), and checks the result as Istio
// (VerifyCertificate against ca.crt) and as a Go peer does (x509 Verify with
// serverAuth and with clientAuth). It returns the workload chain istiod would
// send: the leaf first, then the CA chain.
func SignWorkload(secret map[string][]byte, id string, ecdsaWorkload bool) ([]*x509.Certificate, error) {
	dir, err := os.MkdirTemp("", "istio-cacerts")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	for _, k := range []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey, cmmeta.TLSCAKey} {
		if len(secret[k]) == 0 {
			return nil, fmt.Errorf("cacerts secret: %s is empty", k)
		}
		if err := os.WriteFile(filepath.Join(dir, k), secret[k], 0o600); err != nil {
			return nil, err
		}
	}
	bundle := istioca.SigningCAFileBundle{
		RootCertFile: filepath.Join(dir, istioca.TLSSecretRootCertFile),
		CertChainFiles: []string{
			filepath.Join(dir, istioca.TLSSecretCACertFile),
			filepath.Join(dir, istioca.TLSSecretRootCertFile),
		},
		SigningCertFile: filepath.Join(dir, istioca.TLSSecretCACertFile),
		SigningKeyFile:  filepath.Join(dir, istioca.TLSSecretCAPrivateKeyFile),
	}
	// istiod's defaults: DEFAULT_WORKLOAD_CERT_TTL 24h, MAX_WORKLOAD_CERT_TTL
	// 90 days, CITADEL_SELF_SIGNED_CA_RSA_KEY_SIZE 2048.
	opts, err := istioca.NewPluggedCertIstioCAOptions(bundle, 24*time.Hour, 90*24*time.Hour, 2048)
	if err != nil {
		return nil, fmt.Errorf("Istio NewPluggedCertIstioCAOptions rejected cacerts: %w", err)
	}
	ca, err := istioca.NewIstioCA(opts)
	if err != nil {
		return nil, fmt.Errorf("Istio NewIstioCA: %w", err)
	}
	co := istioutil.CertOptions{Host: id, RSAKeySize: 2048}
	if ecdsaWorkload {
		co.ECSigAlg = istioutil.EcdsaSigAlg
	}
	csrPEM, keyPEM, err := istioutil.GenCSR(co)
	if err != nil {
		return nil, fmt.Errorf("Istio GenCSR: %w", err)
	}
	leafPEM, err := ca.Sign(csrPEM, istioca.CertOpts{SubjectIDs: []string{id}, TTL: time.Hour})
	if err != nil {
		return nil, fmt.Errorf("Istio CA Sign: %w", err)
	}
	kb := ca.GetCAKeyCertBundle()
	chainPEM := append(append([]byte{}, leafPEM...), kb.GetCertChainPem()...)
	if err := istioutil.VerifyCertificate(keyPEM, chainPEM, kb.GetRootCertPem(), &istioutil.VerifyFields{
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		Host:        id,
	}); err != nil {
		return nil, fmt.Errorf("Istio VerifyCertificate of the workload certificate against ca.crt: %w", err)
	}
	if !bytes.Equal(kb.GetRootCertPem(), secret[cmmeta.TLSCAKey]) {
		return nil, errors.New("Istio's trust anchor is not ca.crt")
	}
	chain, err := ParseCerts(chainPEM)
	if err != nil {
		return nil, fmt.Errorf("workload chain: %w", err)
	}
	roots, err := ParseCerts(secret[cmmeta.TLSCAKey])
	if err != nil {
		return nil, fmt.Errorf("ca.crt: %w", err)
	}
	rootPool, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, r := range roots {
		rootPool.AddCert(r)
	}
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	for _, eku := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := chain[0].Verify(x509.VerifyOptions{Roots: rootPool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{eku}}); err != nil {
			return nil, fmt.Errorf("the workload certificate does not verify to ca.crt for %v: %w", eku, err)
		}
	}
	return chain, nil
}
