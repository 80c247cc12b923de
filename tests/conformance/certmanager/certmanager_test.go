package conformance

// The cert-manager side: cert-manager's own controller test Builder (fake
// Kubernetes and cert-manager clientsets with real informers), its real Vault
// Issuer setup code (pkg/issuer/vault) and its real CertificateRequest
// controller with the Vault signer (pkg/controller/certificaterequests +
// pkg/controller/certificaterequests/vault), which in turn run cert-manager's
// internal Vault client (internal/vault) against the server under test over
// HTTP, through a transparent recording proxy.

import (
	"bytes"
	"context"
	"crypto"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	apiutil "github.com/cert-manager/cert-manager/pkg/api/util"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/cert-manager/cert-manager/pkg/controller/certificaterequests"
	crvault "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/vault"
	testpkg "github.com/cert-manager/cert-manager/pkg/controller/test"
	"github.com/cert-manager/cert-manager/pkg/issuer"
	issuervault "github.com/cert-manager/cert-manager/pkg/issuer/vault"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
)

// ---------------------------------------------------------------------------
// Recording proxy: every request cert-manager's Vault client sends goes
// through it, so tests can assert what reached the server and what it
// answered (status codes, retries).

type exchange struct {
	Method, Path string
	Status       int
	ReqBody      []byte
	RespBody     []byte
	ReqHeader    http.Header
}

type recorder struct {
	mu  sync.Mutex
	log []exchange
	srv *httptest.Server
}

func newRecorder(t testing.TB) *recorder {
	return newRecorderTo(t, server.Addr)
}

// newRecorderTo is a recording proxy in front of the server at addr.
func newRecorderTo(t testing.TB, addr string) *recorder {
	target, err := url.Parse(addr)
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	type ctxKey struct{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
		},
		ModifyResponse: func(resp *http.Response) error {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(body))
			ex := resp.Request.Context().Value(ctxKey{}).(*exchange)
			ex.Status, ex.RespBody = resp.StatusCode, body
			r.mu.Lock()
			r.log = append(r.log, *ex)
			r.mu.Unlock()
			return nil
		},
	}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		ex := &exchange{Method: req.Method, Path: req.URL.Path, ReqBody: body, ReqHeader: req.Header.Clone()}
		rp.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), ctxKey{}, ex)))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// URL is what goes into spec.vault.server.
func (r *recorder) URL() string { return r.srv.URL }

// since returns the exchanges recorded after mark (a value of r.mark()).
func (r *recorder) since(mark int) []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]exchange(nil), r.log[mark:]...)
}

func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.log)
}

func (r *recorder) matching(mark int, method, path string) []exchange {
	var out []exchange
	for _, e := range r.since(mark) {
		if e.Method == method && e.Path == path {
			out = append(out, e)
		}
	}
	return out
}

func describeExchanges(xs []exchange) string {
	var b strings.Builder
	for _, e := range xs {
		b.WriteString("\n    " + e.Method + " " + e.Path + " -> " + http.StatusText(e.Status) + " (" + strconv.Itoa(e.Status) + ") " + truncate(string(e.RespBody), 600))
	}
	return b.String()
}

// ---------------------------------------------------------------------------
// cmEnv: one simulated cert-manager controller process.

type cmEnv struct {
	t      *testing.T
	b      *testpkg.Builder
	issuer issuer.Interface
	crCtrl *certificaterequests.Controller
	proxy  *recorder
}

// newCMEnv builds cert-manager's test Builder with the given Kubernetes
// objects (Secrets) and cert-manager objects (Issuers), constructs the real
// Vault Issuer and the real Vault CertificateRequest controller, and starts
// the informers.
func newCMEnv(t *testing.T, proxy *recorder, kubeObjects, cmObjects []runtime.Object) *cmEnv {
	t.Helper()
	b := &testpkg.Builder{T: t, KubeObjects: kubeObjects, CertManagerObjects: cmObjects}
	b.Init()
	iss, err := issuervault.NewVault(b.Context) // registers the Secrets informer: before Start
	if err != nil {
		t.Fatalf("issuervault.NewVault: %v", err)
	}
	c := certificaterequests.New(apiutil.IssuerVault, crvault.NewVault)
	if _, _, err := c.Register(b.Context); err != nil {
		t.Fatalf("certificaterequests Register: %v", err)
	}
	b.Start()
	t.Cleanup(b.Stop)
	return &cmEnv{t: t, b: b, issuer: iss, crCtrl: c, proxy: proxy}
}

// setupIssuer runs the issuers controller's step for one Issuer: the real
// Vault Setup (login + GET /v1/sys/health), then it stores the resulting
// status, as the issuers controller does, and waits for the informers so the
// CertificateRequest controller sees the new condition.
func (e *cmEnv) setupIssuer(ns, name string) (*cmapi.Issuer, error) {
	e.t.Helper()
	ctx := context.Background()
	stored, err := e.b.CMClient.CertmanagerV1().Issuers(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatalf("get issuer %s/%s: %v", ns, name, err)
	}
	iss := stored.DeepCopy()
	setupErr := e.issuer.Setup(ctx, iss)
	if _, err := e.b.CMClient.CertmanagerV1().Issuers(ns).UpdateStatus(ctx, iss, metav1.UpdateOptions{}); err != nil {
		e.t.Fatalf("update issuer status: %v", err)
	}
	e.b.Sync()
	return iss, setupErr
}

// updateSecret replaces a Secret's data (e.g. a rotated or wrong secret-id)
// and waits for the informers.
func (e *cmEnv) updateSecret(ns, name string, data map[string][]byte) {
	e.t.Helper()
	ctx := context.Background()
	s, err := e.b.Client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	s = s.DeepCopy()
	s.Data = data
	if _, err := e.b.Client.CoreV1().Secrets(ns).Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	e.b.Sync()
}

// sync stores the CertificateRequest (as the requestmanager controller would
// create it), runs the CertificateRequest controller's Sync once and returns
// the CertificateRequest as stored afterwards, with Sync's error.
func (e *cmEnv) sync(cr *cmapi.CertificateRequest) (*cmapi.CertificateRequest, error) {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.b.CMClient.CertmanagerV1().CertificateRequests(cr.Namespace).Get(ctx, cr.Name, metav1.GetOptions{}); err != nil {
		if _, err := e.b.CMClient.CertmanagerV1().CertificateRequests(cr.Namespace).Create(ctx, cr, metav1.CreateOptions{}); err != nil {
			e.t.Fatalf("create CertificateRequest: %v", err)
		}
	}
	syncErr := e.crCtrl.Sync(ctx, cr)
	got, err := e.b.CMClient.CertmanagerV1().CertificateRequests(cr.Namespace).Get(ctx, cr.Name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatalf("get CertificateRequest: %v", err)
	}
	return got, syncErr
}

// resync runs Sync again on the CertificateRequest as stored (what the
// controller's work queue does on a requeue or an informer resync).
func (e *cmEnv) resync(ns, name string) (*cmapi.CertificateRequest, error) {
	e.t.Helper()
	cr, err := e.b.CMClient.CertmanagerV1().CertificateRequests(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return e.sync(cr)
}

// ---------------------------------------------------------------------------
// Certificates → CertificateRequests, exactly as cert-manager's requestmanager
// controller builds them.

// requestFor generates the private key and CSR for crt with cert-manager's own
// pki helpers and the controller's default feature gates (v1.21:
// LiteralCertificateSubject, NameConstraints and OtherNames on,
// UseCertificateRequestBasicConstraints off), and returns the approved
// CertificateRequest plus the key.
func requestFor(t testing.TB, crt *cmapi.Certificate) (*cmapi.CertificateRequest, crypto.Signer) {
	t.Helper()
	pk, err := pki.GeneratePrivateKeyForCertificate(crt)
	if err != nil {
		t.Fatalf("GeneratePrivateKeyForCertificate: %v", err)
	}
	x509CSR, err := pki.GenerateCSR(crt,
		pki.WithUseLiteralSubject(true),
		pki.WithEncodeBasicConstraintsInRequest(false),
		pki.WithNameConstraints(true),
		pki.WithOtherNames(true),
	)
	if err != nil {
		t.Fatalf("GenerateCSR: %v", err)
	}
	der, err := pki.EncodeCSR(x509CSR, pk)
	if err != nil {
		t.Fatalf("EncodeCSR: %v", err)
	}
	csrPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	return crFor(crt, csrPEM), pk
}

// crFor wraps a CSR into an approved CertificateRequest for crt.
func crFor(crt *cmapi.Certificate, csrPEM []byte) *cmapi.CertificateRequest {
	return &cmapi.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   crt.Namespace,
			Name:        crt.Name + "-1",
			Annotations: map[string]string{cmapi.CertificateRequestRevisionAnnotationKey: "1", cmapi.CertificateNameKey: crt.Name},
		},
		Spec: cmapi.CertificateRequestSpec{
			Duration:  crt.Spec.Duration,
			IssuerRef: crt.Spec.IssuerRef,
			Request:   csrPEM,
			IsCA:      crt.Spec.IsCA,
			Usages:    crt.Spec.Usages,
		},
		Status: cmapi.CertificateRequestStatus{
			// What cert-manager's approver controller sets.
			Conditions: []cmapi.CertificateRequestCondition{{
				Type:    cmapi.CertificateRequestConditionApproved,
				Status:  cmmeta.ConditionTrue,
				Reason:  "cert-manager.io",
				Message: "Certificate request has been approved by cert-manager.io",
			}},
		},
	}
}

// secretFor is the Secret the certificates controller writes once the
// request is issued (tls.crt = status.certificate, ca.crt = status.ca,
// tls.key = the private key in the Certificate's encoding).
func secretFor(t testing.TB, crt *cmapi.Certificate, cr *cmapi.CertificateRequest, pk crypto.Signer) map[string][]byte {
	t.Helper()
	enc := cmapi.PKCS1
	if crt.Spec.PrivateKey != nil && crt.Spec.PrivateKey.Encoding != "" {
		enc = crt.Spec.PrivateKey.Encoding
	}
	keyPEM, err := pki.EncodePrivateKey(pk, enc)
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		corev1.TLSCertKey:       cr.Status.Certificate,
		corev1.TLSPrivateKeyKey: keyPEM,
		cmmeta.TLSCAKey:         cr.Status.CA,
	}
}

// readyCondition returns the CertificateRequest's Ready condition (zero value
// if absent).
func readyCondition(cr *cmapi.CertificateRequest) cmapi.CertificateRequestCondition {
	for _, c := range cr.Status.Conditions {
		if c.Type == cmapi.CertificateRequestConditionReady {
			return c
		}
	}
	return cmapi.CertificateRequestCondition{}
}

func issuerReady(iss cmapi.GenericIssuer) cmapi.IssuerCondition {
	for _, c := range iss.GetStatus().Conditions {
		if c.Type == cmapi.IssuerConditionReady {
			return c
		}
	}
	return cmapi.IssuerCondition{}
}

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

func issuerRef(name string) cmmeta.IssuerReference {
	return cmmeta.IssuerReference{Name: name, Kind: cmapi.IssuerKind, Group: "cert-manager.io"}
}
