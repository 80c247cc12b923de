package e2e

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
)

const (
	reviewerSA = "vault-token-reviewer" // in vault-demo, bound to system:auth-delegator
	issuerSA   = "vault-issuer"         // in istio-system, the SA cert-manager asks tokens for
	extraAud   = "vaultlet-e2e"         // the extra audience of the audiences variant
	goneSA     = "vault-login-gone"     // in istio-system, deleted right after a login (goneAccount)
	goneRole   = "gone-sa"              // the auth/kubernetes role bound to goneSA
)

// configureKubernetesAuth mounts the server's auth/kubernetes against this
// test's kube-apiserver (kubernetes_host, its CA, and a reviewer token of a
// ServiceAccount bound to system:auth-delegator) with the roles the
// scenario logs in with. Its objects go when t (the scenario) ends.
func configureKubernetesAuth(t *testing.T, c *cluster, s *server) {
	t.Cleanup(func() {
		_ = c.kube.RbacV1().ClusterRoleBindings().Delete(bg(), reviewerSA, metav1.DeleteOptions{})
		_ = c.kube.CoreV1().ServiceAccounts("vault-demo").Delete(bg(), reviewerSA, metav1.DeleteOptions{})
		_ = c.kube.CoreV1().ServiceAccounts(istioNS).Delete(bg(), issuerSA, metav1.DeleteOptions{})
		_ = c.kube.CoreV1().ServiceAccounts(istioNS).Delete(bg(), goneSA, metav1.DeleteOptions{})
	})
	createSA(t, c, "vault-demo", reviewerSA)
	if _, err := c.kube.RbacV1().ClusterRoleBindings().Create(bg(), &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: reviewerSA},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:auth-delegator"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: reviewerSA, Namespace: "vault-demo"}},
	}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	reviewerJWT := requestToken(t, c, "vault-demo", reviewerSA, nil)

	s.must(t, "POST", "sys/auth/kubernetes", map[string]any{"type": "kubernetes"}, 200, 204)
	s.must(t, "POST", "auth/kubernetes/config", map[string]any{
		"kubernetes_host":    apiServerURL,
		"kubernetes_ca_cert": string(c.caPEM),
		"token_reviewer_jwt": reviewerJWT,
	}, 200, 204)
	// cert-manager's serviceAccountRef token carries the audience
	// vault://<namespace>/<issuer> (and the server URL): the role asks for it.
	role := func(name, account, audience string) {
		s.must(t, "POST", "auth/kubernetes/role/"+name, map[string]any{
			"bound_service_account_names":      account,
			"bound_service_account_namespaces": istioNS,
			"audience":                         audience,
			"token_policies":                   "cert-manager",
			"token_ttl":                        "1h",
		}, 200, 204)
	}
	role("cert-manager-sa", issuerSA, "vault://"+istioNS+"/vault-issuer-k8s")
	role("cert-manager-aud", issuerSA, extraAud)
	role("cert-manager-other", issuerSA, "someone-else")
	role(goneRole, goneSA, extraAud)
}

// goneAccount is a ServiceAccount deleted right after one of its tokens
// logged in, at the start of the scenario; the other steps run while
// kube-apiserver's cache of that token's review expires.
type goneAccount struct {
	jwt      string
	loggedIn time.Time // the login returned: its TokenReview came before
	deleted  time.Time
}

// deleteAfterLogin: a token of a live ServiceAccount logs in, then the
// account is deleted.
func deleteAfterLogin(t *testing.T, c *cluster, s *server) *goneAccount {
	createSA(t, c, istioNS, goneSA)
	g := &goneAccount{jwt: requestToken(t, c, istioNS, goneSA, []string{extraAud})}
	if code, out := k8sLogin(t, s, goneRole, g.jwt); code != 200 || out["auth"] == nil {
		t.Fatalf("login with a live ServiceAccount's token: %d %v\n--- server log:\n%s", code, out, s.logs(15))
	}
	g.loggedIn = time.Now()
	if err := c.kube.CoreV1().ServiceAccounts(istioNS).Delete(bg(), goneSA, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	g.deleted = time.Now()
	t.Logf("%s: ServiceAccount %s/%s deleted right after a token of it logged in", s.name, istioNS, goneSA)
	return g
}

// refused: the very token that logged in while the account lived is
// refused now. kube-apiserver caches a successful token review for 10 s
// (not configurable; keyed by the token and the review's audiences) and
// sees a deletion through its informer, a moment later: the test waits
// until the API server itself refuses the token (its own reviews, each
// with an audience list of its own, so no cache entry is shared) and until
// 10 s have passed since the server's review, then logs in with it. A
// login with a live account's token right after shows the server still
// reviews tokens.
func (g *goneAccount) refused(t *testing.T, c *cluster, s *server) {
	asked := 0
	ok, why := eventually(30*time.Second, func() (bool, string) {
		asked++
		live, why := tokenReview(t, c, g.jwt, []string{extraAud})
		return !live, why
	})
	if !ok {
		t.Fatalf("the API server still accepts a token of the deleted ServiceAccount: %s", why)
	}
	const reviewCacheTTL = 10 * time.Second
	wait := time.Until(g.loggedIn.Add(reviewCacheTTL + 100*time.Millisecond))
	if wait > 0 {
		time.Sleep(wait)
	}
	if code, out := k8sLogin(t, s, goneRole, g.jwt); code != 403 || out["auth"] != nil {
		t.Fatalf("login, %s after the account's deletion, with the token that logged in before it: %d %v, want 403 and no token\n--- server log:\n%s",
			time.Since(g.deleted).Round(time.Millisecond), code, out, s.logs(15))
	}
	control := requestToken(t, c, istioNS, issuerSA, []string{extraAud})
	if code, out := k8sLogin(t, s, "cert-manager-aud", control); code != 200 || out["auth"] == nil {
		t.Fatalf("login with a live ServiceAccount's token after the refusal: %d %v\n--- server log:\n%s", code, out, s.logs(15))
	}
	t.Logf("%s: the token that logged in before its ServiceAccount's deletion is refused %s after that login (the API server's own review refusing it at ask %d; waited %s more for its review cache)",
		s.name, time.Since(g.loggedIn).Round(time.Millisecond), asked, max(wait, 0).Round(time.Millisecond))
}

// k8sLogin logs in at auth/kubernetes without a token of the test's.
func k8sLogin(t *testing.T, s *server, role, jwt string) (int, map[string]any) {
	t.Helper()
	saved := s.token
	s.token = ""
	defer func() { s.token = saved }()
	code, out, err := s.api("POST", "auth/kubernetes/login", map[string]any{"role": role, "jwt": jwt})
	if err != nil {
		t.Fatal(err)
	}
	return code, out
}

// reviews numbers the test's own TokenReviews.
var reviews atomic.Int64

// tokenReview asks the API server itself about a token, with audiences
// plus one audience of this review's own: kube-apiserver's cache of
// successful reviews (keyed by token and audiences) answers no review the
// servers or the test made before.
func tokenReview(t *testing.T, c *cluster, jwt string, audiences []string) (bool, string) {
	t.Helper()
	aud := append(slices.Clone(audiences), fmt.Sprintf("e2e-probe-%d", reviews.Add(1)))
	r, err := c.kube.AuthenticationV1().TokenReviews().Create(bg(), &authv1.TokenReview{
		Spec: authv1.TokenReviewSpec{Token: jwt, Audiences: aud},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenReview: %v", err)
	}
	return r.Status.Authenticated, fmt.Sprintf("authenticated=%v user=%q error=%q", r.Status.Authenticated, r.Status.User.Username, r.Status.Error)
}

// kubernetesAuth: cert-manager's Issuer logs in with a token it requests
// for a ServiceAccount (serviceAccountRef), with its default audience and
// with an extra one; a role wanting another audience is refused. A token
// of a deleted (or deleted and recreated) ServiceAccount is refused on the
// next login.
func kubernetesAuth(t *testing.T, c *cluster, s *server) {
	createSA(t, c, istioNS, issuerSA)
	issuers := []struct {
		name, role string
		audiences  []string
		ready      cmmeta.ConditionStatus
	}{
		{"vault-issuer-k8s", "cert-manager-sa", nil, cmmeta.ConditionTrue},
		{"vault-issuer-k8s-aud", "cert-manager-aud", []string{extraAud}, cmmeta.ConditionTrue},
		// The role wants an audience cert-manager's token does not carry.
		{"vault-issuer-k8s-other", "cert-manager-other", nil, cmmeta.ConditionFalse},
	}
	for _, is := range issuers {
		createK8sIssuer(t, c, is.name, is.role, is.audiences)
	}
	created := time.Now()
	for _, is := range issuers {
		cond := c.waitIssuer(t, s, is.name, is.ready)
		t.Logf("%s: Issuer %s (role %s, extra audiences %v): Ready=%s %s %q (after %s)", s.name, is.name, is.role, is.audiences,
			cond.Status, cond.Reason, cond.Message, time.Since(created).Round(time.Millisecond))
	}
	root := one(t, "pki/ca/pem", rawGet(t, s.addr+"/v1/pki/ca/pem"))
	for _, is := range issuers[:2] {
		crt := &cmapi.Certificate{
			ObjectMeta: metav1.ObjectMeta{Name: "istio-ca-" + is.name, Namespace: istioNS},
			Spec: cmapi.CertificateSpec{
				SecretName: "cacerts-" + is.name, CommonName: "istiod-ca", IsCA: true,
				Duration:  &metav1.Duration{Duration: 720 * time.Hour},
				IssuerRef: cmmeta.IssuerReference{Name: is.name, Kind: "Issuer"},
			},
		}
		if _, err := c.cm.CertmanagerV1().Certificates(istioNS).Create(bg(), crt, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		asked := time.Now()
		checkCacerts(t, c.waitCertificate(t, s, crt.Name, 60*time.Second, nil), root)
		t.Logf("%s: Certificate %s through Issuer %s: issued, under the root, after %s", s.name, crt.Name, is.name, time.Since(asked).Round(time.Millisecond))
	}

	// Once the issuer's account is deleted, and again once one of the same
	// name is recreated (a new UID), a token of the deleted account is
	// refused at once: a token never presented to the server before (so no
	// cached review answers for it; see goneAccount for the one that did log
	// in), shown live by the API server before the deletion and presented
	// once the API server itself refuses it.
	aud := []string{"vault://" + istioNS + "/vault-issuer-k8s"}
	jwt := requestToken(t, c, istioNS, issuerSA, aud)
	if live, why := tokenReview(t, c, jwt, aud); !live {
		t.Fatalf("TokenReview of a token while its ServiceAccount lives: %s", why)
	}
	if err := c.kube.CoreV1().ServiceAccounts(istioNS).Delete(bg(), issuerSA, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	ok, why := eventually(30*time.Second, func() (bool, string) {
		live, why := tokenReview(t, c, jwt, aud)
		return !live, why
	})
	if !ok {
		t.Fatalf("the API server still accepts a token of the deleted ServiceAccount: %s", why)
	}
	seen := time.Since(deleted)
	if code, out := k8sLogin(t, s, "cert-manager-sa", jwt); code != 403 || out["auth"] != nil {
		t.Fatalf("login with a deleted ServiceAccount's token: %d %v, want 403 and no token\n--- server log:\n%s", code, out, s.logs(15))
	}
	c.touchIssuer(t, "vault-issuer-k8s")
	cond := c.waitIssuer(t, s, "vault-issuer-k8s", cmmeta.ConditionFalse)
	t.Logf("%s: ServiceAccount deleted (the API server refusing its tokens after %s): login refused; Issuer Ready=False after %s %q",
		s.name, seen.Round(time.Millisecond), time.Since(deleted).Round(time.Millisecond), cond.Message)

	// Once the Issuer is Ready again the API server knows the new account
	// (cert-manager logged in with a token of it): the old token, of the
	// same name but the old UID, is refused.
	createSA(t, c, istioNS, issuerSA)
	recreated := time.Now()
	c.touchIssuer(t, "vault-issuer-k8s")
	c.waitIssuer(t, s, "vault-issuer-k8s", cmmeta.ConditionTrue)
	if code, out := k8sLogin(t, s, "cert-manager-sa", jwt); code != 403 || out["auth"] != nil {
		t.Errorf("login with the token of a deleted ServiceAccount after one of the same name was recreated: %d %v, want 403", code, out)
	}
	t.Logf("%s: ServiceAccount recreated: Issuer Ready again after %s; the old account's token still refused", s.name, time.Since(recreated).Round(time.Millisecond))
}

func createSA(t *testing.T, c *cluster, ns, name string) {
	t.Helper()
	_, err := c.kube.CoreV1().ServiceAccounts(ns).Create(bg(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// requestToken asks the API server for a ServiceAccount token (TokenRequest).
func requestToken(t *testing.T, c *cluster, ns, name string, audiences []string) string {
	t.Helper()
	exp := int64(3600)
	tr, err := c.kube.CoreV1().ServiceAccounts(ns).CreateToken(bg(), name, &authv1.TokenRequest{
		Spec: authv1.TokenRequestSpec{Audiences: audiences, ExpirationSeconds: &exp},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", ns, name, err)
	}
	return tr.Status.Token
}

func createK8sIssuer(t *testing.T, c *cluster, name, role string, audiences []string) {
	t.Helper()
	server := vaultURL
	if !vaultHostResolves() {
		server = "http://127.0.0.1:8200"
	}
	iss := &cmapi.Issuer{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: istioNS},
		Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{Vault: &cmapi.VaultIssuer{
			Path:   "pki/root/sign-intermediate",
			Server: server,
			Auth: cmapi.VaultAuth{Kubernetes: &cmapi.VaultKubernetesAuth{
				Role:              role,
				ServiceAccountRef: &cmapi.ServiceAccountRef{Name: issuerSA, TokenAudiences: audiences},
			}},
		}}},
	}
	if _, err := c.cm.CertmanagerV1().Issuers(istioNS).Create(bg(), iss, metav1.CreateOptions{}); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
}
