package conformance

// clientCertificate auth over the TLS listener (the Issuer's
// spec.vault.auth.clientCertificate, as set up by cert-manager's e2e Vault
// addon, test/e2e/framework/addon/vault in
// https://github.com/cert-manager/cert-manager): the server runs from a
// configuration file with a TLS listener (its certificate from a test CA,
// given to the Issuer as caBundle), is
// initialized and unsealed through the API, and gets cert-manager's e2e PKI
// layout plus a cert auth mount whose role trusts the e2e's self-signed
// RSA-2048 CN=example.com clientAuth certificate. cert-manager connects
// directly (a proxy would have to terminate TLS and the client certificate),
// so the logins are counted in the server's token store instead.

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
)

// selfSignedClientCert is the e2e's client certificate: self-signed RSA-2048,
// CN=example.com, clientAuth (PEMs: certificate, PKCS#1 key).
func selfSignedClientCert(t testing.TB, cn string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}

func certMount(p *e2ePKI) string { return p.id + "-auth-clientcert" }

// tokensIssuedAt counts the live tokens whose creation path is loginPath,
// through LIST auth/token/accessors + lookup-accessor (root token).
func tokensIssuedAt(t testing.TB, c *vaultHTTP, loginPath string, check func(data map[string]any)) int {
	t.Helper()
	list := c.raw("GET", "auth/token/accessors?list=true", nil).expect(t, 200)
	keys, _ := list.data()["keys"].([]any)
	n := 0
	for _, k := range keys {
		acc, _ := k.(string)
		r := c.send("POST", "auth/token/lookup-accessor", map[string]string{"accessor": acc})
		if r.Status != 200 {
			continue
		}
		if p, _ := r.data()["path"].(string); p == loginPath {
			n++
			if check != nil {
				check(r.data())
			}
		}
	}
	return n
}

var clientCertificateAuth = authMethod{
	name: "ClientCertificate",
	configure: func(t *testing.T, p *e2ePKI, ns string, c *vaultHTTP, tgt *issuerTarget) ([]runtime.Object, cmapi.VaultAuth) {
		mount := certMount(p)
		c.apiEnableAuth("cert", mount).expect2xx(t)
		certPEM, keyPEM := selfSignedClientCert(t, "example.com")
		// The e2e's cert role, with its string TTL.
		c.apiWrite("auth/"+mount+"/certs/"+p.role, map[string]any{
			"certificate": string(certPEM), "display_name": p.role, "token_policies": []string{p.role}, "token_ttl": "3600",
		}).expect2xx(t)
		t.Cleanup(func() {
			c.raw("DELETE", "auth/"+mount+"/certs/"+p.role, nil)
			c.raw("DELETE", "sys/auth/"+mount, nil)
		})
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "vault-client-cert"},
			Type:       corev1.SecretTypeTLS,
			Data:       map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM},
		}
		return []runtime.Object{s}, cmapi.VaultAuth{ClientCertificate: &cmapi.VaultClientCertificateAuth{
			Path: "/v1/auth/" + mount, SecretName: "vault-client-cert", Name: p.role,
		}}
	},
	expectLogin: func(p *e2ePKI) string { return "/v1/auth/" + certMount(p) + "/login" },
	loginCount: func(t *testing.T, p *e2ePKI, c *vaultHTTP) int {
		return tokensIssuedAt(t, c, "auth/"+certMount(p)+"/login", func(d map[string]any) {
			meta, _ := d["meta"].(map[string]any)
			if meta["cert_name"] != p.role || meta["common_name"] != "example.com" {
				t.Errorf("cert login token metadata = %v, want cert_name=%s common_name=example.com", meta, p.role)
			}
			pols, _ := d["policies"].([]any)
			found := false
			for _, x := range pols {
				found = found || x == p.role
			}
			if !found {
				t.Errorf("cert login token policies = %v, want %s", pols, p.role)
			}
		})
	},
}

// TestE2ELayout_ClientCertificateOverTLS: the cert-manager e2e layout on a
// server with a TLS listener; the Issuer has server https://127.0.0.1:<port>,
// the listener's CA as caBundle and clientCertificate auth with secretName.
// Every e2e certificate check runs; logins are counted on the server.
func TestE2ELayout_ClientCertificateOverTLS(t *testing.T) {
	srv := startTLSServer(t)
	for _, withRoot := range []bool{false, true} {
		name := "IntermediateWithoutRoot"
		if withRoot {
			name = "IntermediateWithRoot"
		}
		t.Run(name, func(t *testing.T) {
			c := srv.client(t)
			p := setupE2EPKIOn(t, c, withRoot)
			runE2EIssuerAt(t, p, clientCertificateAuth, &issuerTarget{server: srv.Addr, caBundle: srv.CA, root: c})
		})
	}
	t.Run("Refusals", func(t *testing.T) {
		c := srv.client(t)
		p := setupE2EPKIOn(t, c, false)
		_, _ = clientCertificateAuth.configure(t, p, "e2e", c, nil)
		login := "auth/" + certMount(p) + "/login"
		// Over TLS without a client certificate: 4xx, no token.
		r := c.send("POST", login, map[string]string{"name": p.role})
		if r.Status < 400 || r.Status > 499 {
			t.Errorf("cert login without a client certificate: want 4xx, got %s", r)
		}
		// With a certificate the role does not trust: 4xx.
		certPEM, keyPEM := selfSignedClientCert(t, "example.com")
		if r := certLogin(t, srv, login, p.role, certPEM, keyPEM); r.Status < 400 || r.Status > 499 {
			t.Errorf("cert login with an untrusted certificate: want 4xx, got %s", r)
		}
		// An Issuer with that untrusted certificate does not become Ready.
		const ns = "e2e"
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "other-cert"}, Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM}}
		iss := &cmapi.Issuer{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "vault-issuer"},
			Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{Vault: &cmapi.VaultIssuer{
				Path: p.signPath(), Server: srv.Addr, CABundle: srv.CA,
				Auth: cmapi.VaultAuth{ClientCertificate: &cmapi.VaultClientCertificateAuth{Path: "/v1/auth/" + certMount(p), SecretName: "other-cert", Name: p.role}},
			}}},
		}
		env := newCMEnv(t, nil, []runtime.Object{sec}, []runtime.Object{iss})
		got, err := env.setupIssuer(ns, iss.Name)
		if cond := issuerReady(got); err == nil || cond.Status != cmmeta.ConditionFalse || cond.Reason != "VaultError" {
			t.Errorf("Issuer with an untrusted client certificate: err=%v Ready=%s/%s/%q, want False/VaultError", err, cond.Status, cond.Reason, cond.Message)
		}
		// Without caBundle cert-manager must not trust the listener at all.
		iss2 := iss.DeepCopy()
		iss2.Name = "no-ca-bundle"
		iss2.Spec.Vault.CABundle = nil
		env2 := newCMEnv(t, nil, []runtime.Object{sec}, []runtime.Object{iss2})
		got2, err := env2.setupIssuer(ns, iss2.Name)
		if cond := issuerReady(got2); err == nil || cond.Status != cmmeta.ConditionFalse || !strings.Contains(cond.Message, "certificate") {
			t.Errorf("Issuer without caBundle: err=%v Ready=%s/%s/%q, want False with a certificate error", err, cond.Status, cond.Reason, cond.Message)
		}
	})
}

// certLogin sends POST <login> {"name": role} over TLS presenting certPEM.
func certLogin(t testing.TB, srv *serverProc, login, role string, certPEM, keyPEM []byte) *vaultResp {
	t.Helper()
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	tr := srv.hc.Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = append(tr.TLSClientConfig.Certificates, pair)
	c := &vaultHTTP{t: t, addr: srv.Addr, hc: &http.Client{Timeout: 60 * time.Second, Transport: tr}}
	b, _ := json.Marshal(map[string]string{"name": role})
	return c.raw("POST", login, b)
}
