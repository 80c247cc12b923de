package conformance

// Kubernetes auth with serviceAccountRef (the Issuer's
// spec.vault.auth.kubernetes.serviceAccountRef, in
// https://github.com/cert-manager/cert-manager):
// cert-manager asks the Kubernetes TokenRequest API for a ServiceAccount token
// with its audiences; a reactor on the fake clientset answers with a JWT
// signed by a test key, as the API server would. The server validates it:
//
//   - vaultlet: pem_keys = the test key's public key and no kubernetes_host
//     (vaultlet's documented extension: local verification alone decides).
//   - OpenBao (and any other server): kubernetes_host points at a TokenReview
//     endpoint served by this test, which checks the JWT with the same key and
//     answers as the API server does; pem_keys is set as well.
//
// Either way cert-manager's client sends the same login and must get the same
// answer.

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	coretesting "k8s.io/client-go/testing"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
)

const (
	k8sSAName    = "vault-sa"
	k8sSAUID     = "5f0c7c2a-9d6e-4c1f-8a35-5f9c1a0a2b11"
	k8sIssuerAud = "vault://e2e/vault-issuer" // cert-manager's audience for Issuer e2e/vault-issuer
	k8sIss       = "https://kubernetes.default.svc.cluster.local"
)

var (
	saKeyOnce sync.Once
	saKey     *rsa.PrivateKey
)

// serviceAccountSigner is the test "API server" ServiceAccount signing key.
func serviceAccountSigner(t testing.TB) *rsa.PrivateKey {
	saKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		saKey = k
	})
	return saKey
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// mintServiceAccountJWT signs a projected ServiceAccount token as the API
// server would for TokenRequest (RS256, projected "kubernetes.io" claims).
func mintServiceAccountJWT(t testing.TB, ns, name string, audiences []string, ttl time.Duration) string {
	t.Helper()
	now, exp := time.Now(), time.Now().Add(ttl)
	if ttl < 0 {
		now = exp.Add(-10 * time.Minute) // an expired token was issued before it expired
	}
	header, _ := json.Marshal(map[string]any{"alg": "RS256", "kid": "conformance", "typ": "JWT"})
	claims, _ := json.Marshal(map[string]any{
		"aud": audiences, "exp": exp.Unix(), "iat": now.Unix(), "nbf": now.Unix(),
		"iss": k8sIss, "sub": "system:serviceaccount:" + ns + ":" + name,
		"jti": randomID(t),
		"kubernetes.io": map[string]any{
			"namespace":      ns,
			"serviceaccount": map[string]any{"name": name, "uid": k8sSAUID},
		},
	})
	in := b64url(header) + "." + b64url(claims)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, serviceAccountSigner(t), crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + b64url(sig)
}

// verifyServiceAccountJWT checks signature and expiry; returns the claims.
func verifyServiceAccountJWT(jwt string) (map[string]any, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWS compact serialization")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&saKey.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		return nil, err
	}
	if exp, _ := claims["exp"].(float64); int64(exp) < time.Now().Unix() {
		return nil, errors.New("expired")
	}
	return claims, nil
}

// tokenReviewServer is a minimal Kubernetes API server (HTTPS, its CA given
// to the server as kubernetes_ca_cert) answering
// POST /apis/authentication.k8s.io/v1/tokenreviews as kube-apiserver does for
// ServiceAccount tokens signed by serviceAccountSigner.
type tokenReviewServer struct {
	*httptest.Server
	mu      sync.Mutex
	reviews []authv1.TokenReview // requests received
}

func newTokenReviewServer(t testing.TB) *tokenReviewServer {
	trs := &tokenReviewServer{}
	trs.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/apis/authentication.k8s.io/v1/tokenreviews" {
			http.Error(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`, http.StatusNotFound)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var tr authv1.TokenReview
		if err := json.Unmarshal(body, &tr); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		trs.mu.Lock()
		trs.reviews = append(trs.reviews, tr)
		trs.mu.Unlock()
		out := authv1.TokenReview{TypeMeta: metav1.TypeMeta{APIVersion: "authentication.k8s.io/v1", Kind: "TokenReview"}, Spec: tr.Spec}
		claims, err := verifyServiceAccountJWT(tr.Spec.Token)
		if err != nil {
			out.Status.Error = err.Error()
		} else {
			var tokAud []string
			if a, ok := claims["aud"].([]any); ok {
				for _, x := range a {
					s, _ := x.(string)
					tokAud = append(tokAud, s)
				}
			}
			// kube-apiserver: the reviewed audiences must intersect the
			// token's; with none requested, the API server's own audiences
			// are used (here: the token's).
			aud := tokAud
			if len(tr.Spec.Audiences) > 0 {
				aud = nil
				for _, a := range tr.Spec.Audiences {
					if slices.Contains(tokAud, a) {
						aud = append(aud, a)
					}
				}
			}
			if len(aud) == 0 {
				out.Status.Error = "token audiences are invalid"
			} else {
				k8s, _ := claims["kubernetes.io"].(map[string]any)
				sa, _ := k8s["serviceaccount"].(map[string]any)
				ns, _ := k8s["namespace"].(string)
				name, _ := sa["name"].(string)
				uid, _ := sa["uid"].(string)
				out.Status = authv1.TokenReviewStatus{
					Authenticated: true,
					Audiences:     aud,
					User: authv1.UserInfo{
						Username: "system:serviceaccount:" + ns + ":" + name, UID: uid,
						Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
					},
				}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(trs.Close)
	return trs
}

func (trs *tokenReviewServer) count() int {
	trs.mu.Lock()
	defer trs.mu.Unlock()
	return len(trs.reviews)
}

// k8sRun is the state of one Kubernetes-auth Issuer run.
type k8sRun struct {
	mount       string
	issuerURL   string
	tokenReview *tokenReviewServer // nil for vaultlet's local verification
	mu          sync.Mutex
	requests    []*authv1.TokenRequest // what cert-manager asked the API server for
	saNames     []string
}

var (
	k8sRunsMu sync.Mutex
	k8sRuns   = map[*e2ePKI]*k8sRun{}
)

func k8sRunFor(p *e2ePKI) *k8sRun {
	k8sRunsMu.Lock()
	defer k8sRunsMu.Unlock()
	return k8sRuns[p]
}

func publicKeyPEM(t testing.TB, k *rsa.PrivateKey) string {
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

var kubernetesServiceAccountRef = authMethod{
	name: "KubernetesServiceAccountRef",
	configure: func(t *testing.T, p *e2ePKI, ns string, c *vaultHTTP, tgt *issuerTarget) ([]runtime.Object, cmapi.VaultAuth) {
		run := &k8sRun{mount: p.id + "-auth-kubernetes", issuerURL: tgt.server}
		k8sRunsMu.Lock()
		k8sRuns[p] = run
		k8sRunsMu.Unlock()
		t.Cleanup(func() {
			c.raw("DELETE", "auth/"+run.mount+"/role/"+p.role, nil)
			c.raw("DELETE", "sys/auth/"+run.mount, nil)
		})
		c.apiEnableAuth("kubernetes", run.mount).expect2xx(t)
		cfg := map[string]any{
			"pem_keys":               []string{publicKeyPEM(t, serviceAccountSigner(t))},
			"disable_iss_validation": true,
		}
		if server.Name == "vaultlet" {
			// vaultlet's extension: no kubernetes_host, local verification only.
		} else {
			run.tokenReview = newTokenReviewServer(t)
			cfg["kubernetes_host"] = run.tokenReview.URL
			cfg["kubernetes_ca_cert"] = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: run.tokenReview.Certificate().Raw}))
			cfg["disable_local_ca_jwt"] = true
		}
		c.apiWrite("auth/"+run.mount+"/config", cfg).expect2xx(t)
		if got := c.cliRead("auth/"+run.mount+"/config").expect(t, 200); len(got.data()) == 0 {
			t.Fatalf("auth/%s/config read back empty: %s", run.mount, got)
		} else if pk, _ := got.data()["pem_keys"].([]any); len(pk) != 1 {
			t.Errorf("auth/%s/config: pem_keys = %v, want the one key written", run.mount, got.data()["pem_keys"])
		}
		// The e2e role plus an audience, so the server's audience check is
		// exercised: cert-manager's token carries vault://<ns>/<issuer>.
		c.apiWrite("auth/"+run.mount+"/role/"+p.role, map[string]any{
			"bound_service_account_names": []string{k8sSAName}, "bound_service_account_namespaces": []string{ns},
			"token_period": "24h", "token_policies": []string{p.role}, "audience": k8sIssuerAud,
		}).expect2xx(t)
		return nil, cmapi.VaultAuth{Kubernetes: &cmapi.VaultKubernetesAuth{
			Path: "/v1/auth/" + run.mount, Role: p.role,
			ServiceAccountRef: &cmapi.ServiceAccountRef{Name: k8sSAName},
		}}
	},
	prepare: func(t *testing.T, e *cmEnv, p *e2ePKI) {
		run := k8sRunFor(p)
		e.b.FakeKubeClient().PrependReactor("create", "serviceaccounts", func(a coretesting.Action) (bool, runtime.Object, error) {
			if a.GetSubresource() != "token" {
				return false, nil, nil
			}
			ca, ok := a.(coretesting.CreateActionImpl)
			if !ok {
				return true, nil, fmt.Errorf("unexpected action %T", a)
			}
			tr, ok := ca.GetObject().(*authv1.TokenRequest)
			if !ok {
				return true, nil, fmt.Errorf("unexpected object %T", ca.GetObject())
			}
			run.mu.Lock()
			run.requests = append(run.requests, tr.DeepCopy())
			run.saNames = append(run.saNames, a.GetNamespace()+"/"+ca.Name)
			run.mu.Unlock()
			ttl := time.Hour
			if tr.Spec.ExpirationSeconds != nil {
				ttl = time.Duration(*tr.Spec.ExpirationSeconds) * time.Second
			}
			out := tr.DeepCopy()
			out.Status = authv1.TokenRequestStatus{
				Token:               mintServiceAccountJWT(t, a.GetNamespace(), ca.Name, tr.Spec.Audiences, ttl),
				ExpirationTimestamp: metav1.NewTime(time.Now().Add(ttl)),
			}
			return true, out, nil
		})
	},
	expectLogin: func(p *e2ePKI) string { return "/v1/auth/" + p.id + "-auth-kubernetes/login" },
	afterSetup: func(t *testing.T, p *e2ePKI) {
		run := k8sRunFor(p)
		run.mu.Lock()
		defer run.mu.Unlock()
		// cert-manager asked for exactly one token for e2e/vault-sa with its
		// audiences (issuer audience + spec.vault.server) and 600 s.
		if len(run.requests) != 1 || run.saNames[0] != "e2e/"+k8sSAName {
			t.Fatalf("want one TokenRequest for e2e/%s during Setup, got %v", k8sSAName, run.saNames)
		}
		tr := run.requests[0]
		if !slices.Equal(tr.Spec.Audiences, []string{k8sIssuerAud, run.issuerURL}) {
			t.Errorf("TokenRequest audiences = %q, want [%q %q]", tr.Spec.Audiences, k8sIssuerAud, run.issuerURL)
		}
		if tr.Spec.ExpirationSeconds == nil || *tr.Spec.ExpirationSeconds != 600 {
			t.Errorf("TokenRequest expirationSeconds = %v, want 600", tr.Spec.ExpirationSeconds)
		}
		if run.tokenReview != nil {
			// The reference server reviewed the token with the API server.
			if n := run.tokenReview.count(); n != 1 {
				t.Errorf("want 1 TokenReview during Setup, got %d", n)
			} else if r := run.tokenReview.reviews[0]; !slices.Contains(r.Spec.Audiences, k8sIssuerAud) {
				t.Errorf("TokenReview audiences = %q, want the role audience %q", r.Spec.Audiences, k8sIssuerAud)
			}
		}
	},
}

// TestKubernetesAuth_ServiceAccountChecks: the server refuses what Vault
// refuses — a token for a ServiceAccount or namespace the role does not bind,
// a token without the role's audience, a token signed by another key, an
// expired token — with 4xx (cert-manager would otherwise retry a 5xx), and
// accepts the right one. Sent as cert-manager's client sends the login.
func TestKubernetesAuth_ServiceAccountChecks(t *testing.T) {
	c := rootClient(t)
	p := &e2ePKI{id: randomID(t)}
	p.role = p.id + "-role"
	_, auth := kubernetesServiceAccountRef.configure(t, p, "e2e", c, &issuerTarget{server: "https://vault.example"})
	login := func(jwt string) *vaultResp {
		return (&vaultHTTP{t: t, addr: server.Addr}).send("POST", strings.TrimPrefix(auth.Kubernetes.Path, "/v1/")+"/login", map[string]string{"role": p.role, "jwt": jwt})
	}
	good := mintServiceAccountJWT(t, "e2e", k8sSAName, []string{k8sIssuerAud}, 10*time.Minute)
	if r := login(good); r.Status != 200 {
		t.Fatalf("login with a valid token: %s", r)
	} else {
		var a struct {
			Auth struct {
				ClientToken string            `json:"client_token"`
				Metadata    map[string]string `json:"metadata"`
				Policies    []string          `json:"policies"`
			} `json:"auth"`
		}
		_ = json.Unmarshal(r.Body, &a)
		if a.Auth.ClientToken == "" || a.Auth.Metadata["service_account_name"] != k8sSAName ||
			a.Auth.Metadata["service_account_namespace"] != "e2e" || a.Auth.Metadata["role"] != p.role ||
			!slices.Contains(a.Auth.Policies, p.role) {
			t.Errorf("login answer lacks the token, policies or Vault's metadata (role, service_account_name/namespace): %s", r)
		}
	}
	// A token signed by a key the server does not know (the test signer is
	// swapped for the duration of one mint).
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	forged := func() string {
		saved := saKey
		saKey = other
		defer func() { saKey = saved }()
		return mintServiceAccountJWT(t, "e2e", k8sSAName, []string{k8sIssuerAud}, 10*time.Minute)
	}()
	for _, bad := range []struct{ name, jwt string }{
		{"unbound service account", mintServiceAccountJWT(t, "e2e", "someone-else", []string{k8sIssuerAud}, 10*time.Minute)},
		{"unbound namespace", mintServiceAccountJWT(t, "other-ns", k8sSAName, []string{k8sIssuerAud}, 10*time.Minute)},
		{"missing the role audience", mintServiceAccountJWT(t, "e2e", k8sSAName, []string{"https://kubernetes.default.svc"}, 10*time.Minute)},
		{"signed by another key", forged},
		// Expired 5 minutes ago: beyond go-jose's 1-minute default leeway that
		// Vault's plugin applies.
		{"expired", mintServiceAccountJWT(t, "e2e", k8sSAName, []string{k8sIssuerAud}, -5*time.Minute)},
	} {
		r := login(bad.jwt)
		if r.Status < 400 || r.Status > 499 {
			t.Errorf("login with a token %s: want a 4xx refusal, got %s", bad.name, r)
		}
		if r.Status == 200 {
			t.Errorf("login with a token %s was accepted", bad.name)
		}
	}
}
