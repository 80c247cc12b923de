package conformance

// Scenario "user guide": the Istio guide "Istio with Vault PKI as root of
// trust via cert-manager". Vault holds the root CA (pki/); cert-manager, logged
// in with AppRole, has Vault sign Istio's intermediate CA through
// pki/root/sign-intermediate and writes it to Istio's cacerts Secret. The
// guide's steps covered here: Step 2 (Vault set-up: pki mount and root,
// policy, AppRole), Step 3 (AppRole Secret and Issuer), Step 4 (the isCA
// istiod-ca Certificate) and the Istio side of Step 6 (istiod signing
// workload certificates from cacerts).

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
)

const (
	guideRootCN        = "my-org-rootca"
	guideIssuerName    = "my-org-rootca-demo"
	guideIssuingURL    = "http://vault.vault-demo:8200/v1/pki/ca"
	guideCRLURL        = "http://vault.vault-demo:8200/v1/pki/crl"
	guidePolicy        = "path \"pki/root/sign-intermediate\" {\ncapabilities = [\"create\", \"update\"]\n}\n"
	istioNamespace     = "istio-system"
	workloadSPIFFEID   = "spiffe://cluster.local/ns/default/sa/default"
	certManagerFuzzDur = 30 * time.Second
)

// guideState is what Step 2 leaves behind.
type guideState struct {
	root     *x509.Certificate
	rootPEM  string
	roleID   string
	secretID string
}

// guideStep2 configures the server exactly as the guide's Step 2 does, with
// the CLI's request bodies, and asserts what the CLI needs from each answer.
func guideStep2(t *testing.T) guideState {
	return guideStep2On(t, rootClient(t), server.Started)
}

// guideStep2On is guideStep2 against the server c talks to; fresh says the
// test started that server itself (so pki/ and approle/ are free).
func guideStep2On(t *testing.T, c *vaultHTTP, fresh bool) guideState {
	if !fresh {
		// An external server must be fresh: the guide uses the fixed paths
		// pki/ and approle/.
		if m := c.cliRead("sys/mounts").expect(t, 200); m.data()["pki/"] != nil {
			t.Fatalf("the server at VAULT_ADDR already has a mount at pki/; the user-guide scenario needs a fresh dev server")
		}
		if m := c.cliRead("sys/auth").expect(t, 200); m.data()["approle/"] != nil {
			t.Fatalf("the server at VAULT_ADDR already has auth at approle/; the user-guide scenario needs a fresh dev server")
		}
	}

	// vault secrets enable pki
	c.cliSecretsEnable("pki", "pki").expect2xx(t)
	// vault secrets tune -max-lease-ttl=87600h pki
	c.cliSecretsTuneMaxLeaseTTL("pki", 87600*time.Hour).expect2xx(t)

	// vault write pki/root/generate/internal common_name=... issuer_name=... ttl=8760h
	before := time.Now()
	gen := c.cliWrite("pki/root/generate/internal",
		"common_name", guideRootCN, "issuer_name", guideIssuerName, "ttl", "8760h").expect(t, 200)
	after := time.Now()
	rootPEM := gen.str(t, "certificate")
	root := parseCertPEM(t, "root/generate/internal data.certificate", rootPEM)
	if got := gen.str(t, "issuer_name"); got != guideIssuerName {
		t.Errorf("root/generate/internal data.issuer_name = %q, want %q", got, guideIssuerName)
	}
	if ic := parseCertPEM(t, "root/generate/internal data.issuing_ca", gen.str(t, "issuing_ca")); !bytes.Equal(ic.Raw, root.Raw) {
		t.Errorf("root/generate/internal: data.issuing_ca is not the new root itself")
	}
	if !selfSigned(root) {
		t.Errorf("generated root is not self-signed %s", describe(root))
	}
	if root.Subject.CommonName != guideRootCN {
		t.Errorf("root CN = %q, want %q", root.Subject.CommonName, guideRootCN)
	}
	checkCACert(t, "root CA", root)
	// ttl=8760h counts from now (the mount max was raised to 87600h first,
	// so it is not capped); certificate times have 1 s resolution.
	if lo, hi := before.Add(8760*time.Hour).Add(-time.Second), after.Add(8760*time.Hour).Add(time.Second); root.NotAfter.Before(lo) || root.NotAfter.After(hi) {
		t.Errorf("root NotAfter = %s, want now+8760h (between %s and %s)", root.NotAfter.UTC(), lo.UTC(), hi.UTC())
	}
	if root.NotBefore.After(before) {
		t.Errorf("root NotBefore %s is after the request time %s", root.NotBefore.UTC(), before.UTC())
	}

	// vault write pki/config/urls issuing_certificates=... crl_distribution_points=...
	c.cliWrite("pki/config/urls", "issuing_certificates", guideIssuingURL, "crl_distribution_points", guideCRLURL).expect2xx(t)
	// vault write pki/roles/cert-manager allowed_domains=svc require_cn=false allow_subdomains=true max_ttl=720h
	c.cliWrite("pki/roles/cert-manager", "allowed_domains", "svc", "require_cn", "false", "allow_subdomains", "true", "max_ttl", "720h").expect2xx(t)
	// vault policy write cert-manager - <<EOF ... EOF
	c.cliPolicyWrite("cert-manager", guidePolicy).expect2xx(t)
	// vault auth enable approle
	c.cliAuthEnable("approle", "approle").expect2xx(t)
	// vault write auth/approle/role/cert-manager token_policies=cert-manager token_ttl=1h token_max_ttl=2h
	c.cliWrite("auth/approle/role/cert-manager", "token_policies", "cert-manager", "token_ttl", "1h", "token_max_ttl", "2h").expect2xx(t)
	// vault read auth/approle/role/cert-manager/role-id
	roleID := c.cliRead("auth/approle/role/cert-manager/role-id").expect(t, 200).str(t, "role_id")
	// vault write -force auth/approle/role/cert-manager/secret-id   (body: null)
	sid := c.cliWrite("auth/approle/role/cert-manager/secret-id").expect(t, 200)
	secretID := sid.str(t, "secret_id")
	sid.str(t, "secret_id_accessor")
	if ttl, ok := sid.data()["secret_id_ttl"].(json.Number); !ok || ttl.String() != "0" {
		t.Errorf("secret-id: data.secret_id_ttl = %#v, want the integer 0 (the guide shows secret_id_ttl 0s)", sid.data()["secret_id_ttl"])
	}
	if roleID == "" || secretID == "" {
		t.Fatalf("empty role_id %q or secret_id %q", roleID, secretID)
	}
	return guideState{root: root, rootPEM: rootPEM, roleID: roleID, secretID: secretID}
}

// TestUserGuide_VaultRootIssuesIstioCAThroughCertManager proves the guide
// end to end: Step 2 server setup; Step 3 Issuer (AppRole) is "Vault
// verified" by cert-manager's own code; Step 4's isCA Certificate is signed
// through pki/root/sign-intermediate by cert-manager's CertificateRequest
// controller, for an RSA key (the guide's default) and an ECDSA key; the
// resulting cacerts Secret is accepted by Istio's own plugged-CA code, which
// then signs a workload certificate that verifies against the Vault root.
func TestUserGuide_VaultRootIssuesIstioCAThroughCertManager(t *testing.T) {
	st := guideStep2(t)

	// ---- Step 3: the AppRole Secret and the Issuer.
	proxy := newRecorder(t)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: istioNamespace, Name: "cert-manager-vault-approle"},
		Type:       corev1.SecretTypeOpaque,
		// `echo "your-secret-id" | base64` as the guide says: with the newline.
		Data: map[string][]byte{"secretId": []byte(st.secretID + "\n")},
	}
	iss := &cmapi.Issuer{
		ObjectMeta: metav1.ObjectMeta{Namespace: istioNamespace, Name: "vault-issuer"},
		Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{Vault: &cmapi.VaultIssuer{
			Path:   "pki/root/sign-intermediate",
			Server: proxy.URL(),
			Auth: cmapi.VaultAuth{AppRole: &cmapi.VaultAppRole{
				Path:      "approle",
				RoleId:    st.roleID,
				SecretRef: cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "cert-manager-vault-approle"}, Key: "secretId"},
			}},
		}}},
	}
	env := newCMEnv(t, proxy, []runtime.Object{secret}, []runtime.Object{iss})

	mark := proxy.mark()
	got, err := env.setupIssuer(istioNamespace, "vault-issuer")
	if err != nil {
		t.Fatalf("Issuer Setup returned %v; exchanges:%s", err, describeExchanges(proxy.since(mark)))
	}
	if c := issuerReady(got); c.Status != cmmeta.ConditionTrue || c.Reason != "VaultVerified" || c.Message != "Vault verified" {
		t.Fatalf("Issuer Ready condition = %s/%s/%q, want True/VaultVerified/\"Vault verified\"; exchanges:%s",
			c.Status, c.Reason, c.Message, describeExchanges(proxy.since(mark)))
	}
	logins := proxy.matching(mark, "POST", "/v1/auth/approle/login")
	if len(logins) != 1 || logins[0].Status != 200 {
		t.Fatalf("want exactly one successful POST /v1/auth/approle/login during Setup, got:%s", describeExchanges(proxy.since(mark)))
	}
	checkAppRoleLogin(t, logins[0], "cert-manager", time.Hour)
	if h := proxy.matching(mark, "GET", "/v1/sys/health"); len(h) != 1 || h[0].Status != 200 {
		t.Errorf("want one GET /v1/sys/health answered 200 during Setup, got:%s", describeExchanges(proxy.since(mark)))
	}

	// ---- Step 4: the istio-ca Certificate (isCA, 720h, CN istiod-ca).
	for _, alg := range []cmapi.PrivateKeyAlgorithm{cmapi.RSAKeyAlgorithm, cmapi.ECDSAKeyAlgorithm} {
		t.Run(string(alg), func(t *testing.T) {
			crt := &cmapi.Certificate{
				ObjectMeta: metav1.ObjectMeta{Namespace: istioNamespace, Name: "istio-ca-" + string(alg)},
				Spec: cmapi.CertificateSpec{
					SecretName:  "cacerts",
					Duration:    dur(720 * time.Hour),
					RenewBefore: dur(360 * time.Hour),
					CommonName:  "istiod-ca",
					IsCA:        true,
					IssuerRef:   issuerRef("vault-issuer"),
				},
			}
			if alg != cmapi.RSAKeyAlgorithm { // the guide's Certificate has no privateKey: RSA 2048
				crt.Spec.PrivateKey = &cmapi.CertificatePrivateKey{Algorithm: alg}
			}
			cr, pk := requestFor(t, crt)
			mark := proxy.mark()
			done, err := env.sync(cr)
			xs := proxy.since(mark)
			if err != nil {
				t.Fatalf("CertificateRequest Sync: %v; exchanges:%s", err, describeExchanges(xs))
			}
			if c := readyCondition(done); c.Status != cmmeta.ConditionTrue || c.Reason != cmapi.CertificateRequestReasonIssued {
				t.Fatalf("CertificateRequest Ready = %s/%s/%q, want True/Issued; exchanges:%s", c.Status, c.Reason, c.Message, describeExchanges(xs))
			}
			signs := proxy.matching(mark, "POST", "/v1/pki/root/sign-intermediate")
			if len(signs) != 1 || signs[0].Status != 200 {
				t.Fatalf("want exactly one POST /v1/pki/root/sign-intermediate answered 200, got:%s", describeExchanges(xs))
			}
			var body map[string]string
			if err := json.Unmarshal(signs[0].ReqBody, &body); err != nil || body["ttl"] != "720h0m0s" || body["common_name"] != "istiod-ca" {
				t.Errorf("unexpected sign request body from cert-manager: %s (err %v)", signs[0].ReqBody, err)
			}

			sec := secretFor(t, crt, done, pk)
			tlsCerts := parseCerts(t, "tls.crt", sec[corev1.TLSCertKey])
			caCerts := parseCerts(t, "ca.crt", sec[cmmeta.TLSCAKey])

			// ca.crt is the self-signed Vault root, byte for byte.
			if len(caCerts) != 1 || !bytes.Equal(caCerts[0].Raw, st.root.Raw) {
				t.Errorf("ca.crt is not the Vault root: got %d cert(s), first %s", len(caCerts), describe(caCerts[0]))
			}
			// tls.crt is the new CA alone (cert-manager drops the root).
			if len(tlsCerts) != 1 {
				t.Errorf("tls.crt holds %d certificates, want 1 (the new CA)", len(tlsCerts))
			}
			ica := tlsCerts[0]
			if ica.Subject.CommonName != "istiod-ca" {
				t.Errorf("tls.crt CN = %q, want istiod-ca", ica.Subject.CommonName)
			}
			if !bytes.Equal(ica.RawIssuer, st.root.RawSubject) || ica.CheckSignatureFrom(st.root) != nil {
				t.Errorf("tls.crt is not issued by the Vault root %s", describe(ica))
			}
			if !bytes.Equal(ica.AuthorityKeyId, st.root.SubjectKeyId) {
				t.Errorf("tls.crt authorityKeyIdentifier %x != root subjectKeyIdentifier %x", ica.AuthorityKeyId, st.root.SubjectKeyId)
			}
			checkKeyMatches(t, "tls.crt", ica, pk)
			// sign-intermediate: issuing_ca = root, ca_chain = [new CA, root].
			checkSignResponse(t, signs[0], ica, st.root, []*x509.Certificate{ica, st.root})
			checkCACert(t, "istiod-ca (tls.crt)", ica)
			checkDuration(t, "istiod-ca (tls.crt)", ica, 720*time.Hour, certManagerFuzzDur)
			if !ica.NotAfter.Before(st.root.NotAfter) && !ica.NotAfter.Equal(st.root.NotAfter) {
				t.Errorf("istiod-ca outlives the root: %s > %s", ica.NotAfter, st.root.NotAfter)
			}
			// config/urls was written before signing: the AIA and CRL URLs are in the new CA.
			if !slices.Equal(ica.IssuingCertificateURL, []string{guideIssuingURL}) {
				t.Errorf("tls.crt AIA issuing certificate URLs = %v, want [%s]", ica.IssuingCertificateURL, guideIssuingURL)
			}
			if !slices.Equal(ica.CRLDistributionPoints, []string{guideCRLURL}) {
				t.Errorf("tls.crt CRL distribution points = %v, want [%s]", ica.CRLDistributionPoints, guideCRLURL)
			}
			if t.Failed() {
				t.FailNow()
			}

			// ---- Istio: plug the Secret in, sign a workload, verify.
			chain := istioPlugIn(t, sec, workloadSPIFFEID, alg == cmapi.ECDSAKeyAlgorithm)
			leaf := chain[0]
			if len(leaf.URIs) != 1 || leaf.URIs[0].String() != workloadSPIFFEID {
				t.Errorf("workload certificate URI SANs = %v, want [%s]", leaf.URIs, workloadSPIFFEID)
			}
			full := []*x509.Certificate{leaf, ica, st.root}
			checkPathLenRoom(t, "workload chain", full)
			// What a Go/Envoy peer does: verify with the serverAuth EKU.
			roots, inter := x509.NewCertPool(), x509.NewCertPool()
			roots.AddCert(st.root)
			inter.AddCert(ica)
			for _, eku := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
				if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{eku}}); err != nil {
					t.Errorf("workload certificate does not verify to the Vault root for EKU %v: %v", eku, err)
				}
			}
		})
	}
}

// checkAppRoleLogin asserts the login answer Vault gives for an AppRole
// role with token_policies=<policy> and token_ttl=<ttl>, as cert-manager's
// client decodes it (vault.Secret typing).
func checkAppRoleLogin(t testing.TB, login exchange, policy string, ttl time.Duration) {
	t.Helper()
	var resp struct {
		Auth *struct {
			ClientToken   string            `json:"client_token"`
			Accessor      string            `json:"accessor"`
			Policies      []string          `json:"policies"`
			TokenPolicies []string          `json:"token_policies"`
			Metadata      map[string]string `json:"metadata"`
			LeaseDuration int               `json:"lease_duration"`
			Renewable     bool              `json:"renewable"`
		} `json:"auth"`
	}
	if err := json.Unmarshal(login.RespBody, &resp); err != nil || resp.Auth == nil {
		t.Errorf("AppRole login response does not decode as a Vault secret with auth (%v): %s", err, login.RespBody)
		return
	}
	a := resp.Auth
	if a.ClientToken == "" || a.Accessor == "" {
		t.Errorf("AppRole login: empty client_token or accessor: %s", login.RespBody)
	}
	if !slices.Contains(a.Policies, policy) || !slices.Contains(a.Policies, "default") {
		t.Errorf("AppRole login: auth.policies = %v, want %q and \"default\"", a.Policies, policy)
	}
	if !slices.Contains(a.TokenPolicies, policy) {
		t.Errorf("AppRole login: auth.token_policies = %v, want %q", a.TokenPolicies, policy)
	}
	if a.LeaseDuration != int(ttl.Seconds()) {
		t.Errorf("AppRole login: auth.lease_duration = %d, want %d (token_ttl)", a.LeaseDuration, int(ttl.Seconds()))
	}
	if !a.Renewable {
		t.Errorf("AppRole login: auth.renewable = false, want true")
	}
}
