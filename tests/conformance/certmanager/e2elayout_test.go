package conformance

// Scenario "cert-manager e2e layout": the Vault set-up of cert-manager's own
// e2e suite (test/e2e/framework/addon/vault in
// https://github.com/cert-manager/cert-manager) and the checks its Vault
// conformance suite makes on what comes out.

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
)

func randomID(t testing.TB) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "cm" + hex.EncodeToString(b)
}

// e2ePKI is one root mount plus one intermediate mount signed by it, with a
// role on the intermediate and an AppRole auth mount: VaultInitializer.Setup
// + CreateAppRole.
type e2ePKI struct {
	id                string
	rootMount         string
	intMount          string
	role              string
	approleMount      string
	configureWithRoot bool
	root, inter       *x509.Certificate
	roleID, secretID  string
}

func (p *e2ePKI) signPath() string { return p.intMount + "/sign/" + p.role }

// setupE2EPKI performs the e2e addon's calls (root and intermediate mounts,
// generate/sign/set-signed, role, auth mounts and roles, policy), with the
// e2e's typed JSON where it sends typed JSON and string booleans where it
// sends strings.
func setupE2EPKI(t *testing.T, configureWithRoot bool) *e2ePKI {
	t.Helper()
	return setupE2EPKIOn(t, rootClient(t), configureWithRoot)
}

// setupE2EPKIOn is setupE2EPKI against the server c talks to.
func setupE2EPKIOn(t *testing.T, c *vaultHTTP, configureWithRoot bool) *e2ePKI {
	t.Helper()
	id := randomID(t)
	p := &e2ePKI{id: id, rootMount: id + "-root-ca", intMount: id + "-intermediate-ca", role: id + "-role",
		approleMount: id + "-auth-approle", configureWithRoot: configureWithRoot}

	// Root CA mount and certificate.
	c.apiMount("pki", p.rootMount, "87600h").expect2xx(t)
	gen := c.apiWrite(p.rootMount+"/root/generate/internal", map[string]any{
		"common_name": "Root CA", "exclude_cn_from_sans": true, "key_bits": 256, "key_type": "ec", "ttl": "87600h",
	}).expect(t, 200)
	rootPEM := gen.str(t, "certificate")
	p.root = parseCertPEM(t, "root certificate", rootPEM)
	if !selfSigned(p.root) {
		t.Fatalf("root/generate/internal: not self-signed %s", describe(p.root))
	}
	checkCACert(t, "e2e root", p.root)
	configureURLs(t, c, p.rootMount)

	// Intermediate mount, CSR, signed by the root, imported.
	c.apiMount("pki", p.intMount, "43800h").expect2xx(t)
	csr := c.apiWrite(p.intMount+"/intermediate/generate/internal", map[string]any{
		"common_name": "Intermediate CA", "exclude_cn_from_sans": true, "key_bits": 256, "key_type": "ec", "ttl": "43800h",
	}).expect(t, 200).str(t, "csr")
	intPEM := c.apiWrite(p.rootMount+"/root/sign-intermediate", map[string]any{
		"csr": csr, "exclude_cn_from_sans": true, "ttl": "43800h", "use_csr_values": true,
	}).expect(t, 200).str(t, "certificate")
	p.inter = parseCertPEM(t, "intermediate certificate", intPEM)
	if p.inter.Subject.CommonName != "Intermediate CA" || p.inter.CheckSignatureFrom(p.root) != nil {
		t.Fatalf("root/sign-intermediate: not the Intermediate CA signed by the root %s", describe(p.inter))
	}
	checkCACert(t, "e2e intermediate", p.inter)
	chain := intPEM
	if configureWithRoot {
		chain = fmt.Sprintf("%s\n%s", intPEM, rootPEM)
	}
	c.apiWrite(p.intMount+"/intermediate/set-signed", map[string]any{"certificate": chain}).expect2xx(t)
	configureURLs(t, c, p.intMount)

	// The role, with the e2e's string booleans.
	c.cliWrite(p.intMount+"/roles/"+p.role,
		"allow_any_name", "true", "allow_bare_domains", "true", "allowed_other_sans", "*",
		"allowed_uri_sans", "spiffe://cluster.local/*", "enforce_hostnames", "false", "key_type", "any",
		"max_ttl", "2160h", "require_cn", "false", "use_csr_sans", "true").expect2xx(t)

	// AppRole auth (CreateAppRole).
	if auths := c.cliRead("sys/auth").expect(t, 200); auths.data()[p.approleMount+"/"] == nil {
		c.apiEnableAuth("approle", p.approleMount).expect2xx(t)
	}
	c.cliPolicyWrite(p.role, fmt.Sprintf("path \"%s\" { capabilities = [ \"create\", \"update\" ] }", p.signPath())).expect2xx(t)
	c.apiWrite("auth/"+p.approleMount+"/role/"+p.role, map[string]any{
		"token_period": "24h", "token_policies": []string{p.role},
	}).expect2xx(t)
	p.roleID = c.cliRead("auth/"+p.approleMount+"/role/"+p.role+"/role-id").expect(t, 200).str(t, "role_id")
	p.secretID = c.cliWrite("auth/"+p.approleMount+"/role/"+p.role+"/secret-id").expect(t, 200).str(t, "secret_id")

	t.Cleanup(func() {
		// VaultInitializer.Clean / CleanAppRole.
		c.raw("DELETE", "auth/"+p.approleMount+"/role/"+p.role, nil)
		c.raw("DELETE", "sys/policies/acl/"+p.role, nil)
		c.raw("DELETE", "sys/auth/"+p.approleMount, nil)
		c.raw("DELETE", "sys/mounts/"+p.intMount, nil)
		c.raw("DELETE", "sys/mounts/"+p.rootMount, nil)
	})
	return p
}

func configureURLs(t *testing.T, c *vaultHTTP, mount string) {
	t.Helper()
	c.apiWrite(mount+"/config/urls", map[string]any{
		"crl_distribution_points": []string{"https://vault.vault:8200/v1/" + mount + "/crl"},
		"issuing_certificates":    []string{"https://vault.vault:8200/v1/" + mount + "/ca"},
	}).expect2xx(t)
}

// authMethod is one way for the Issuer to log in. Each returns the Secrets
// the Issuer needs and its spec.vault.auth. Kubernetes (serviceAccountRef:
// a "create serviceaccounts/token" reactor on env.b.FakeKubeClient() that
// mints a JWT signed by a test key, audiences checked) and clientCertificate
// (TLS listener, caBundle) slot in here once the server supports them;
// prepare gets the cmEnv before Setup for such reactors.
type authMethod struct {
	name string
	// configure creates the server-side configuration through c (a root
	// client of the server the Issuer will use) and returns the Secrets and
	// spec.vault.auth. tgt.server is already the Issuer's spec.vault.server.
	configure func(t *testing.T, p *e2ePKI, ns string, c *vaultHTTP, tgt *issuerTarget) ([]runtime.Object, cmapi.VaultAuth)
	prepare   func(t *testing.T, e *cmEnv, p *e2ePKI)
	// expectLogin is the login path the Issuer must call ("" for none).
	expectLogin func(p *e2ePKI) string
	// afterSetup, when set, runs after a successful Issuer Setup (e.g. to
	// check what the login reactor or TokenReview endpoint saw).
	afterSetup func(t *testing.T, p *e2ePKI)
	// loginCount, for a direct (unproxied) target, counts the logins the
	// server has recorded for this method (tokens it issued): it must grow by
	// one at Setup and at every CertificateRequest.
	loginCount func(t *testing.T, p *e2ePKI, c *vaultHTTP) int
}

// issuerTarget is where the Issuer points.
type issuerTarget struct {
	server   string     // spec.vault.server
	caBundle []byte     // spec.vault.caBundle
	proxy    *recorder  // the recording proxy in front of the server; nil when cert-manager connects directly (TLS client certificates)
	root     *vaultHTTP // root client of the server
}

var e2eAuthMethods = []authMethod{
	{
		name: "AppRole",
		configure: func(t *testing.T, p *e2ePKI, ns string, _ *vaultHTTP, _ *issuerTarget) ([]runtime.Object, cmapi.VaultAuth) {
			s := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "vault-approle"},
				Data:       map[string][]byte{"secretkey": []byte(p.secretID)},
			}
			return []runtime.Object{s}, cmapi.VaultAuth{AppRole: &cmapi.VaultAppRole{
				Path:      p.approleMount,
				RoleId:    p.roleID,
				SecretRef: cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "vault-approle"}, Key: "secretkey"},
			}}
		},
		expectLogin: func(p *e2ePKI) string { return "/v1/auth/" + p.approleMount + "/login" },
	},
	{
		name: "TokenSecretRef",
		configure: func(t *testing.T, p *e2ePKI, ns string, c *vaultHTTP, _ *issuerTarget) ([]runtime.Object, cmapi.VaultAuth) {
			// A token limited to the role's policy (not the root token), so
			// the ACL is really exercised.
			tok := c.apiWrite("auth/token/create", map[string]any{
				"policies": []string{p.role}, "ttl": "1h",
			}).expect(t, 200)
			auth, _ := tok.JSON["auth"].(map[string]any)
			token, _ := auth["client_token"].(string)
			if token == "" {
				t.Fatalf("auth/token/create: no auth.client_token: %s", tok)
			}
			s := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "vault-token"},
				Data:       map[string][]byte{"token": []byte(token)},
			}
			return []runtime.Object{s}, cmapi.VaultAuth{TokenSecretRef: &cmmeta.SecretKeySelector{
				LocalObjectReference: cmmeta.LocalObjectReference{Name: "vault-token"}, Key: "token",
			}}
		},
		expectLogin: func(p *e2ePKI) string { return "" },
	},
	kubernetesServiceAccountRef,
}

// e2eCert is one Certificate of cert-manager's Vault conformance checks.
type e2eCert struct {
	name     string
	alg      cmapi.PrivateKeyAlgorithm
	duration *time.Duration
	want     time.Duration // expected NotAfter-NotBefore (before the 30 s fuzz)
	cn       string
	dns      []string
	ips      []string
	uris     []string
	emails   []string
	upn      string // otherName UPN SAN (OtherNames feature gate, on by default)
}

func durp(d time.Duration) *time.Duration { return &d }

var e2eCerts = []e2eCert{
	{
		name: "ECDSA-35d-all-SAN-types", alg: cmapi.ECDSAKeyAlgorithm, duration: durp(35 * 24 * time.Hour), want: 35 * 24 * time.Hour,
		cn:     "e2e.example.com",
		dns:    []string{"e2e.example.com", "*.wild.example.com", "a-very-long-label-to-check-long-domains-are-accepted-0123456789.example.com"},
		ips:    []string{"127.0.0.1", "10.0.0.1", "::1", "fd00::10"},
		uris:   []string{"spiffe://cluster.local/ns/sandbox/sa/foo"},
		emails: []string{"alice@example.com", "bob@example.org"},
	},
	{
		name: "RSA-default-duration-90d", alg: cmapi.RSAKeyAlgorithm, duration: nil, want: 90 * 24 * time.Hour,
		cn: "default.example.com", dns: []string{"default.example.com"},
	},
	{
		name: "RSA-365d-above-max_ttl-capped-to-90d", alg: cmapi.RSAKeyAlgorithm, duration: durp(365 * 24 * time.Hour), want: 90 * 24 * time.Hour,
		cn: "capped.example.com", dns: []string{"capped.example.com"}, ips: []string{"192.168.0.1"},
	},
	{
		name: "ECDSA-240d-above-max_ttl-capped-to-90d-no-CN", alg: cmapi.ECDSAKeyAlgorithm, duration: durp(240 * 24 * time.Hour), want: 90 * 24 * time.Hour,
		dns: []string{"nocn.example.com"}, uris: []string{"spiffe://cluster.local/ns/x/sa/y"},
	},
	{
		name: "ECDSA-otherName-UPN", alg: cmapi.ECDSAKeyAlgorithm, duration: durp(time.Hour), want: time.Hour,
		cn: "upn.example.com", dns: []string{"upn.example.com"}, upn: "upn@example.local",
	},
}

// TestE2ELayout_IntermediateMountSignsLeavesForEveryAuthMethod runs
// cert-manager's e2e Vault layout twice (intermediate imported without and
// with its root), and for each auth method: Issuer Setup → VaultVerified,
// then every e2eCert through the CertificateRequest controller with the
// e2e's checks (duration within 30 s, max_ttl capping, SANs, isCA false,
// trust chain with serverAuth, ca.crt root-most).
func TestE2ELayout_IntermediateMountSignsLeavesForEveryAuthMethod(t *testing.T) {
	for _, withRoot := range []bool{false, true} {
		name := "IntermediateWithoutRoot"
		if withRoot {
			name = "IntermediateWithRoot"
		}
		t.Run(name, func(t *testing.T) {
			p := setupE2EPKI(t, withRoot)
			for _, am := range e2eAuthMethods {
				t.Run(am.name, func(t *testing.T) {
					runE2EIssuer(t, p, am)
				})
			}
		})
	}
}

func runE2EIssuer(t *testing.T, p *e2ePKI, am authMethod) {
	proxy := newRecorder(t)
	runE2EIssuerAt(t, p, am, &issuerTarget{server: proxy.URL(), proxy: proxy, root: rootClient(t)})
}

// runE2EIssuerAt runs one auth method's Issuer against tgt: Setup, then every
// e2eCert. Through the recording proxy it also asserts the exchanges; for a
// direct target it counts the server's logins with am.loginCount instead.
func runE2EIssuerAt(t *testing.T, p *e2ePKI, am authMethod, tgt *issuerTarget) {
	const ns = "e2e"
	proxy := tgt.proxy
	secrets, auth := am.configure(t, p, ns, tgt.root, tgt)
	iss := &cmapi.Issuer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "vault-issuer"},
		Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{Vault: &cmapi.VaultIssuer{
			Path: p.signPath(), Server: tgt.server, Auth: auth, CABundle: tgt.caBundle,
		}}},
	}
	env := newCMEnv(t, proxy, secrets, []runtime.Object{iss})
	if am.prepare != nil {
		am.prepare(t, env, p)
	}
	direct := proxy == nil
	if direct && am.loginCount == nil {
		t.Fatalf("auth method %s on a direct target needs loginCount", am.name)
	}
	exchanges := func(mark int) string {
		if direct {
			return " (direct connection: not recorded)"
		}
		return describeExchanges(proxy.since(mark))
	}
	mark, logins := 0, 0
	if direct {
		logins = am.loginCount(t, p, tgt.root)
	} else {
		mark = proxy.mark()
	}
	got, err := env.setupIssuer(ns, iss.Name)
	if c := issuerReady(got); err != nil || c.Status != cmmeta.ConditionTrue || c.Reason != "VaultVerified" || c.Message != "Vault verified" {
		t.Fatalf("Issuer Setup: err=%v, Ready=%s/%s/%q, want True/VaultVerified/\"Vault verified\"; exchanges:%s",
			err, c.Status, c.Reason, c.Message, exchanges(mark))
	}
	if am.afterSetup != nil {
		am.afterSetup(t, p)
	}
	if direct {
		if n := am.loginCount(t, p, tgt.root); n != logins+1 {
			t.Fatalf("Issuer Setup: the server recorded %d new %s login(s), want 1", n-logins, am.name)
		}
	} else if lp := am.expectLogin(p); lp != "" {
		ls := proxy.matching(mark, "POST", lp)
		if len(ls) != 1 || ls[0].Status != 200 {
			t.Fatalf("want one successful POST %s during Setup, got:%s", lp, describeExchanges(proxy.since(mark)))
		}
		checkAppRoleLogin(t, ls[0], p.role, 24*time.Hour) // token_period=24h
	}

	for _, ec := range e2eCerts {
		t.Run(ec.name, func(t *testing.T) {
			crt := &cmapi.Certificate{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "crt-" + randomID(t)},
				Spec: cmapi.CertificateSpec{
					SecretName:     "tls",
					CommonName:     ec.cn,
					DNSNames:       ec.dns,
					IPAddresses:    ec.ips,
					URIs:           ec.uris,
					EmailAddresses: ec.emails,
					IssuerRef:      issuerRef(iss.Name),
					PrivateKey:     &cmapi.CertificatePrivateKey{Algorithm: ec.alg},
				},
			}
			if ec.duration != nil {
				crt.Spec.Duration = dur(*ec.duration)
			}
			if ec.upn != "" {
				crt.Spec.OtherNames = []cmapi.OtherName{{OID: "1.3.6.1.4.1.311.20.2.3", UTF8Value: ec.upn}}
			}
			cr, pk := requestFor(t, crt)
			mark, logins := 0, 0
			if direct {
				logins = am.loginCount(t, p, tgt.root)
			} else {
				mark = proxy.mark()
			}
			done, err := env.sync(cr)
			if c := readyCondition(done); err != nil || c.Status != cmmeta.ConditionTrue || c.Reason != cmapi.CertificateRequestReasonIssued {
				t.Fatalf("CertificateRequest: Sync err=%v, Ready=%s/%s/%q, want True/Issued; exchanges:%s", err, c.Status, c.Reason, c.Message, exchanges(mark))
			}
			var signs []exchange
			if direct {
				// cert-manager logs in for every request.
				if n := am.loginCount(t, p, tgt.root); n != logins+1 {
					t.Errorf("CertificateRequest: the server recorded %d new %s login(s), want 1", n-logins, am.name)
				}
			} else {
				signs = proxy.matching(mark, "POST", "/v1/"+p.signPath())
				if len(signs) != 1 || signs[0].Status != 200 {
					t.Fatalf("want exactly one POST /v1/%s answered 200, got:%s", p.signPath(), exchanges(mark))
				}
			}
			sec := secretFor(t, crt, done, pk)
			tlsCerts := parseCerts(t, "tls.crt", sec[corev1.TLSCertKey])
			caCerts := parseCerts(t, "ca.crt", sec[cmmeta.TLSCAKey])
			leaf := tlsCerts[0]

			// tls.crt = leaf + intermediate; ca.crt = root-most cert Vault returned.
			if len(tlsCerts) != 2 || !bytes.Equal(tlsCerts[1].Raw, p.inter.Raw) {
				t.Errorf("tls.crt: want [leaf, Intermediate CA], got %d cert(s)", len(tlsCerts))
			}
			wantCA := p.inter
			if p.configureWithRoot {
				wantCA = p.root
			}
			if len(caCerts) != 1 || !bytes.Equal(caCerts[0].Raw, wantCA.Raw) {
				t.Errorf("ca.crt: want %q (set-signed with root=%v), got %s", wantCA.Subject.CommonName, p.configureWithRoot, describe(caCerts[0]))
			}
			checkKeyMatches(t, "leaf", leaf, pk)
			wantChain := []*x509.Certificate{p.inter}
			if p.configureWithRoot {
				wantChain = append(wantChain, p.root)
			}
			if !direct {
				checkSignResponse(t, signs[0], leaf, p.inter, wantChain)
			}

			// Duration: within [want, want+30 s] (max_ttl capping, not rejection).
			checkDuration(t, "leaf", leaf, ec.want, certManagerFuzzDur)
			// isCA false.
			if leaf.IsCA {
				t.Errorf("leaf is a CA certificate %s", describe(leaf))
			}
			// Subject and SANs.
			if leaf.Subject.CommonName != ec.cn {
				t.Errorf("leaf CN = %q, want %q", leaf.Subject.CommonName, ec.cn)
			}
			if !sameStrings(leaf.DNSNames, ec.dns) {
				t.Errorf("leaf DNS SANs = %v, want %v", leaf.DNSNames, ec.dns)
			}
			if !sameStrings(ipStrings(leaf.IPAddresses), ec.ips) {
				t.Errorf("leaf IP SANs = %v, want %v", leaf.IPAddresses, ec.ips)
			}
			var uris []string
			for _, u := range leaf.URIs {
				uris = append(uris, u.String())
			}
			if !sameStrings(uris, ec.uris) {
				t.Errorf("leaf URI SANs = %v, want %v", uris, ec.uris)
			}
			if !sameStrings(leaf.EmailAddresses, ec.emails) {
				t.Errorf("leaf email SANs = %v, want %v", leaf.EmailAddresses, ec.emails)
			}
			if ec.upn != "" {
				if got := upnSANs(t, leaf); !slices.Equal(got, []string{ec.upn}) {
					t.Errorf("leaf otherName UPN SANs = %v, want [%s]", got, ec.upn)
				}
			}
			// ExpectCorrectTrustChain: x509.Verify(leaf, roots=ca.crt, intermediates=tls.crt) with serverAuth.
			roots, inter := x509.NewCertPool(), x509.NewCertPool()
			for _, c := range caCerts {
				roots.AddCert(c)
			}
			for _, c := range tlsCerts {
				inter.AddCert(c)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
				t.Errorf("x509.Verify(leaf, roots=ca.crt, intermediates=tls.crt, serverAuth): %v", err)
			}
			// What cert-manager sent (it never sends the email/otherName SANs;
			// the role's use_csr_sans takes them from the CSR).
			if direct {
				return
			}
			var body map[string]string
			if err := json.Unmarshal(signs[0].ReqBody, &body); err != nil {
				t.Errorf("sign request body is not a string map: %v", err)
			} else if _, ok := body["exclude_cn_from_sans"]; !ok {
				t.Errorf("sign request lacks exclude_cn_from_sans: %s", signs[0].ReqBody)
			}
		})
	}
}

func ipStrings(ips []net.IP) []string {
	var out []string
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out
}

// sameStrings compares as sets-with-multiplicity, nil == empty; IPs are
// normalised through net.ParseIP when both parse.
func sameStrings(a, b []string) bool {
	norm := func(xs []string) []string {
		out := make([]string, 0, len(xs))
		for _, x := range xs {
			if ip := net.ParseIP(x); ip != nil {
				x = ip.String()
			}
			out = append(out, x)
		}
		sort.Strings(out)
		return out
	}
	return slices.Equal(norm(a), norm(b))
}
