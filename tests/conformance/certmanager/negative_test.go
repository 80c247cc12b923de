package conformance

// Negative scenarios: what cert-manager's own code makes of the server's
// error answers. Vault answers deterministic errors with 4xx; a 5xx (or 429)
// makes cert-manager's HashiCorp client send the same request three times.

import (
	"encoding/pem"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
)

// appRoleIssuerEnv starts a cmEnv with one AppRole Issuer for p at path.
func appRoleIssuerEnv(t *testing.T, p *e2ePKI, path string) (*cmEnv, *recorder) {
	t.Helper()
	const ns = "neg"
	proxy := newRecorder(t)
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "vault-approle"},
		Data:       map[string][]byte{"secretkey": []byte(p.secretID)},
	}
	iss := &cmapi.Issuer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "vault-issuer"},
		Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{Vault: &cmapi.VaultIssuer{
			Path: path, Server: proxy.URL(),
			Auth: cmapi.VaultAuth{AppRole: &cmapi.VaultAppRole{
				Path: p.approleMount, RoleId: p.roleID,
				SecretRef: cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "vault-approle"}, Key: "secretkey"},
			}},
		}}},
	}
	env := newCMEnv(t, proxy, []runtime.Object{s}, []runtime.Object{iss})
	mark := proxy.mark()
	got, err := env.setupIssuer(ns, iss.Name)
	if c := issuerReady(got); err != nil || c.Status != cmmeta.ConditionTrue || c.Reason != "VaultVerified" {
		t.Fatalf("Issuer Setup: err=%v Ready=%s/%s/%q; exchanges:%s", err, c.Status, c.Reason, c.Message, describeExchanges(proxy.since(mark)))
	}
	return env, proxy
}

func leafCertificate(ns string) *cmapi.Certificate {
	return &cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "neg-crt"},
		Spec: cmapi.CertificateSpec{
			SecretName: "tls", CommonName: "neg.example.com", DNSNames: []string{"neg.example.com"},
			Duration: dur(time.Hour), IssuerRef: issuerRef("vault-issuer"),
			PrivateKey: &cmapi.CertificatePrivateKey{Algorithm: cmapi.ECDSAKeyAlgorithm},
		},
	}
}

func hasEvent(events []string, prefix string) bool {
	for _, e := range events {
		if strings.HasPrefix(e, prefix) {
			return true
		}
	}
	return false
}

// TestNegative_WrongSecretID_RequestPendingVaultInitError_IssuerNotReady: the
// AppRole secret-id in the Secret is wrong (rotated, mistyped). The login is
// refused with 400 (Vault: "invalid role or secret ID"), sent once; the
// CertificateRequest stays Pending with cert-manager's VaultInitError and is
// requeued; a fresh Issuer Setup turns Ready=False with VaultError.
func TestNegative_WrongSecretID_RequestPendingVaultInitError_IssuerNotReady(t *testing.T) {
	p := setupE2EPKI(t, false)
	env, proxy := appRoleIssuerEnv(t, p, p.signPath())
	env.updateSecret("neg", "vault-approle", map[string][]byte{"secretkey": []byte("00000000-1111-2222-3333-444444444444")})
	loginPath := "/v1/auth/" + p.approleMount + "/login"

	cr, _ := requestFor(t, leafCertificate("neg"))
	mark := proxy.mark()
	done, err := env.sync(cr)
	xs := proxy.since(mark)
	if err == nil {
		t.Errorf("Sync returned no error; cert-manager requeues a VaultInitError by returning it")
	}
	c := readyCondition(done)
	if c.Status != cmmeta.ConditionFalse || c.Reason != cmapi.CertificateRequestReasonPending ||
		!strings.HasPrefix(c.Message, "Failed to initialise vault client for signing: ") {
		t.Errorf("CertificateRequest Ready = %s/%s/%q, want False/Pending/\"Failed to initialise vault client for signing: …\"", c.Status, c.Reason, c.Message)
	}
	if !hasEvent(env.b.Events(), "Normal VaultInitError Failed to initialise vault client for signing: ") {
		t.Errorf("no VaultInitError event; events: %q", env.b.Events())
	}
	if len(done.Status.Certificate) != 0 {
		t.Errorf("a certificate was stored despite the failed login")
	}
	logins := proxy.matching(mark, "POST", loginPath)
	if len(logins) != 1 || logins[0].Status != 400 {
		t.Errorf("want exactly one POST %s answered 400 (no retries), got:%s", loginPath, describeExchanges(xs))
	}
	if s := proxy.matching(mark, "POST", "/v1/"+p.signPath()); len(s) != 0 {
		t.Errorf("sign was called without a token:%s", describeExchanges(xs))
	}

	mark = proxy.mark()
	iss, err := env.setupIssuer("neg", "vault-issuer")
	if err == nil {
		t.Errorf("Issuer Setup returned no error with a wrong secret-id")
	}
	if ic := issuerReady(iss); ic.Status != cmmeta.ConditionFalse || ic.Reason != "VaultError" ||
		!strings.HasPrefix(ic.Message, "Failed to initialize Vault client: ") {
		t.Errorf("Issuer Ready = %s/%s/%q, want False/VaultError/\"Failed to initialize Vault client: …\"", ic.Status, ic.Reason, ic.Message)
	}
	if logins := proxy.matching(mark, "POST", loginPath); len(logins) != 1 || logins[0].Status != 400 {
		t.Errorf("Setup: want exactly one POST %s answered 400, got:%s", loginPath, describeExchanges(proxy.since(mark)))
	}
}

// TestNegative_PolicyDeniedPath_SigningErrorSurfaced: the Issuer points at a
// path the AppRole token's policy does not grant (the root mount's
// sign-intermediate). Setup still succeeds (it only checks health); signing
// is refused with 403 once, and cert-manager fails the request with the
// server's "permission denied" in the message.
func TestNegative_PolicyDeniedPath_SigningErrorSurfaced(t *testing.T) {
	p := setupE2EPKI(t, true)
	deniedPath := p.rootMount + "/root/sign-intermediate"
	env, proxy := appRoleIssuerEnv(t, p, deniedPath)

	cr, _ := requestFor(t, leafCertificate("neg"))
	mark := proxy.mark()
	done, err := env.sync(cr)
	xs := proxy.since(mark)
	if err != nil {
		t.Errorf("Sync returned %v; a signing error is terminal (Failed), not requeued", err)
	}
	c := readyCondition(done)
	if c.Status != cmmeta.ConditionFalse || c.Reason != cmapi.CertificateRequestReasonFailed ||
		!strings.HasPrefix(c.Message, "Vault failed to sign certificate: ") ||
		!strings.Contains(c.Message, "permission denied") || !strings.Contains(c.Message, "403") {
		t.Errorf("CertificateRequest Ready = %s/%s/%q, want False/Failed/\"Vault failed to sign certificate: … 403 … permission denied\"", c.Status, c.Reason, c.Message)
	}
	if !hasEvent(env.b.Events(), "Warning SigningError Vault failed to sign certificate: ") {
		t.Errorf("no SigningError event; events: %q", env.b.Events())
	}
	if len(done.Status.Certificate) != 0 {
		t.Errorf("a certificate was stored despite the denied path")
	}
	signs := proxy.matching(mark, "POST", "/v1/"+deniedPath)
	if len(signs) != 1 || signs[0].Status != 403 {
		t.Errorf("want exactly one POST /v1/%s answered 403 (no retries), got:%s", deniedPath, describeExchanges(xs))
	}
}

// TestNegative_InvalidCSR_FailedNotRetried: a CSR that parses but whose
// signature does not verify (cert-manager's client does not check it, so it
// reaches the server). The server refuses it with 400 exactly once; the
// request is Failed (terminal) and a later resync sends nothing.
func TestNegative_InvalidCSR_FailedNotRetried(t *testing.T) {
	p := setupE2EPKI(t, true)
	env, proxy := appRoleIssuerEnv(t, p, p.signPath())

	cr, _ := requestFor(t, leafCertificate("neg"))
	blk, _ := pem.Decode(cr.Spec.Request)
	der := append([]byte(nil), blk.Bytes...)
	der[len(der)-3] ^= 0x5a // inside the signature BIT STRING: the structure still parses
	cr.Spec.Request = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})

	mark := proxy.mark()
	done, err := env.sync(cr)
	xs := proxy.since(mark)
	if err != nil {
		t.Errorf("Sync returned %v; a signing error is terminal (Failed), not requeued", err)
	}
	c := readyCondition(done)
	if c.Status != cmmeta.ConditionFalse || c.Reason != cmapi.CertificateRequestReasonFailed ||
		!strings.HasPrefix(c.Message, "Vault failed to sign certificate: ") {
		t.Errorf("CertificateRequest Ready = %s/%s/%q, want False/Failed/\"Vault failed to sign certificate: …\"", c.Status, c.Reason, c.Message)
	}
	if len(done.Status.Certificate) != 0 {
		t.Errorf("a certificate was issued for a CSR with a broken signature")
	}
	signs := proxy.matching(mark, "POST", "/v1/"+p.signPath())
	if len(signs) != 1 || signs[0].Status != 400 {
		t.Errorf("want exactly one POST /v1/%s answered 400 (a 5xx is retried by the client), got:%s", p.signPath(), describeExchanges(xs))
	}

	mark = proxy.mark()
	if _, err := env.resync("neg", cr.Name); err != nil {
		t.Errorf("resync: %v", err)
	}
	if xs := proxy.since(mark); len(xs) != 0 {
		t.Errorf("a Failed request was sent again on resync:%s", describeExchanges(xs))
	}
}
