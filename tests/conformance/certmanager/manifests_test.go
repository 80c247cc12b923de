package conformance

// The shipped Kubernetes manifests (docker/k8s/**.yaml): every cert-manager
// object and every Secret in them is decoded with cert-manager's and
// Kubernetes' own API types, strictly (unknown or duplicate fields fail),
// and the shipped Issuer — with only spec.vault.server rewritten to the test
// server — is then run by cert-manager's own code against a fresh server
// configured as the guide's Step 2 with the manifests' preset AppRole
// credentials, together with the shipped Secret and Certificate. Istio then
// accepts the result.

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	serializerjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
)

// manifestsDir is where the shipped manifests live (MANIFESTS_DIR overrides).
func manifestsDir() string {
	if d := os.Getenv("MANIFESTS_DIR"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "docker", "k8s")
}

// manifestSet is the decoded objects of one directory.
type manifestSet struct {
	dir          string
	issuers      []*cmapi.Issuer
	certificates []*cmapi.Certificate
	secrets      []*corev1.Secret
}

func strictCodec() runtime.Decoder {
	scheme := runtime.NewScheme()
	if err := cmapi.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if err := corev1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	return serializerjson.NewSerializerWithOptions(serializerjson.DefaultMetaFactory, scheme, scheme,
		serializerjson.SerializerOptions{Yaml: true, Strict: true})
}

// yamlDocs splits a multi-document YAML file.
func yamlDocs(t testing.TB, b []byte) [][]byte {
	t.Helper()
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var out [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(bytes.TrimSpace(doc)) > 0 {
			out = append(out, doc)
		}
	}
}

// loadManifests decodes every cert-manager object and Secret under root,
// grouped by directory. Other kinds are only checked to be YAML objects.
func loadManifests(t *testing.T, root string) []*manifestSet {
	t.Helper()
	codec := strictCodec()
	sets := map[string]*manifestSet{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, doc := range yamlDocs(t, b) {
			var tm metav1.TypeMeta
			if err := sigsyaml.Unmarshal(doc, &tm); err != nil {
				t.Errorf("%s document %d: not a Kubernetes object: %v", path, i, err)
				continue
			}
			group, _, _ := strings.Cut(tm.APIVersion, "/")
			if group != "cert-manager.io" && !(tm.APIVersion == "v1" && tm.Kind == "Secret") {
				continue
			}
			obj, gvk, err := codec.Decode(doc, nil, nil)
			if err != nil {
				t.Errorf("%s document %d (%s %s): cert-manager/Kubernetes strict decoding failed: %v", path, i, tm.APIVersion, tm.Kind, err)
				continue
			}
			dir := filepath.Dir(path)
			s := sets[dir]
			if s == nil {
				s = &manifestSet{dir: dir}
				sets[dir] = s
			}
			switch o := obj.(type) {
			case *cmapi.Issuer:
				s.issuers = append(s.issuers, o)
			case *cmapi.Certificate:
				s.certificates = append(s.certificates, o)
			case *corev1.Secret:
				s.secrets = append(s.secrets, o)
			default:
				t.Logf("%s document %d: %s decoded strictly (not used by the scenario)", path, i, gvk)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("reading %s: %v", root, err)
	}
	var out []*manifestSet
	for _, s := range sets {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].dir < out[j].dir })
	return out
}

// TestManifests_StrictDecoderRejectsUnknownFields proves the decoder used on
// the manifests is strict (a typo in a field name would not pass silently).
func TestManifests_StrictDecoderRejectsUnknownFields(t *testing.T) {
	doc := []byte("apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata:\n  name: x\nspec:\n  vault:\n    path: pki/sign/x\n    server: http://v\n    auth:\n      appRole:\n        path: approle\n        roleId: r\n        secretref:\n          name: s\n          key: k\n")
	if _, _, err := strictCodec().Decode(doc, nil, nil); err == nil || !runtime.IsStrictDecodingError(err) {
		t.Fatalf("an Issuer with the misspelt field secretref decoded without a strict-decoding error (err=%v)", err)
	}
}

// TestManifests_ShippedIssuerAndCertificateWorkWithCertManager: see the file
// comment. One fresh server per manifest directory with an Issuer.
func TestManifests_ShippedIssuerAndCertificateWorkWithCertManager(t *testing.T) {
	root := manifestsDir()
	if _, err := os.Stat(root); err != nil {
		t.Skipf("no shipped manifests at %s (%v): nothing to check yet", root, err)
	}
	sets := loadManifests(t, root)
	found := false
	for _, set := range sets {
		if len(set.issuers) == 0 {
			continue
		}
		found = true
		rel, _ := filepath.Rel(root, set.dir)
		t.Run("docker/k8s/"+rel, func(t *testing.T) { runShippedIssuer(t, set) })
	}
	if !found {
		t.Skipf("no cert-manager.io/v1 Issuer in %s: the scenario needs the shipped Issuer (e.g. docker/k8s/40-cert-manager.yaml)", root)
	}
}

func runShippedIssuer(t *testing.T, set *manifestSet) {
	if len(set.issuers) != 1 {
		t.Fatalf("%s: %d Issuers, the scenario expects the guide's one", set.dir, len(set.issuers))
	}
	iss := set.issuers[0].DeepCopy()
	v := iss.Spec.Vault
	if v == nil || v.Auth.AppRole == nil {
		t.Fatalf("%s: the shipped Issuer is not a Vault AppRole Issuer: %+v", set.dir, iss.Spec)
	}
	// The Secret the Issuer references, as the API server stores it
	// (stringData merged into data).
	ar := v.Auth.AppRole
	var secret *corev1.Secret
	for _, s := range set.secrets {
		if s.Name == ar.SecretRef.Name && s.Namespace == iss.Namespace {
			secret = s.DeepCopy()
		}
	}
	if secret == nil {
		t.Fatalf("%s: no Secret %s/%s (referenced by the Issuer's appRole.secretRef) in the manifests", set.dir, iss.Namespace, ar.SecretRef.Name)
	}
	if secret.Data == nil {
		secret.Data = map[string][]byte{}
	}
	for k, val := range secret.StringData {
		secret.Data[k] = []byte(val)
	}
	secret.StringData = nil
	secretID := strings.TrimSpace(string(secret.Data[ar.SecretRef.Key]))
	if secretID == "" {
		t.Fatalf("%s: Secret %s has no value for key %q", set.dir, secret.Name, ar.SecretRef.Key)
	}
	var crt *cmapi.Certificate
	for _, c := range set.certificates {
		if c.Spec.IssuerRef.Name == iss.Name && c.Namespace == iss.Namespace {
			crt = c.DeepCopy()
		}
	}
	if crt == nil {
		t.Fatalf("%s: no Certificate using Issuer %s/%s", set.dir, iss.Namespace, iss.Name)
	}

	// A fresh server: the guide's Step 2 with the CLI's bodies, then the
	// preset credentials the manifests carry (as config/istio-demo.vault does).
	srv := startExtraDevServer(t)
	c := srv.client(t)
	st := guideStep2On(t, c, true)
	c.cliWrite("auth/"+ar.Path+"/role/cert-manager/role-id", "role_id", ar.RoleId).expect2xx(t)
	c.cliWrite("auth/"+ar.Path+"/role/cert-manager/custom-secret-id", "secret_id", secretID).expect(t, 200)

	// The shipped Issuer; only the server URL is rewritten.
	rec := newRecorderTo(t, srv.Addr)
	shippedServer := v.Server
	v.Server = rec.URL()
	env := newCMEnv(t, rec, []runtime.Object{secret}, []runtime.Object{iss})
	mark := rec.mark()
	got, err := env.setupIssuer(iss.Namespace, iss.Name)
	if cond := issuerReady(got); err != nil || cond.Status != cmmeta.ConditionTrue || cond.Reason != "VaultVerified" || cond.Message != "Vault verified" {
		t.Fatalf("shipped Issuer (server %s → %s) Setup: err=%v Ready=%s/%s/%q; exchanges:%s", shippedServer, v.Server, err, cond.Status, cond.Reason, cond.Message, describeExchanges(rec.since(mark)))
	}
	logins := rec.matching(mark, "POST", "/v1/auth/"+ar.Path+"/login")
	if len(logins) != 1 || logins[0].Status != 200 {
		t.Fatalf("want one successful AppRole login with the shipped credentials:%s", describeExchanges(rec.since(mark)))
	}
	checkAppRoleLogin(t, logins[0], "cert-manager", time.Hour)

	// The shipped Certificate → CertificateRequest → signed.
	cr, pk := requestFor(t, crt)
	mark = rec.mark()
	done, err := env.sync(cr)
	if cond := readyCondition(done); err != nil || cond.Status != cmmeta.ConditionTrue || cond.Reason != cmapi.CertificateRequestReasonIssued {
		t.Fatalf("shipped Certificate: Sync err=%v Ready=%s/%s/%q; exchanges:%s", err, cond.Status, cond.Reason, cond.Message, describeExchanges(rec.since(mark)))
	}
	if signs := rec.matching(mark, "POST", "/v1/"+v.Path); len(signs) != 1 || signs[0].Status != 200 {
		t.Fatalf("want one POST /v1/%s answered 200:%s", v.Path, describeExchanges(rec.since(mark)))
	}
	sec := secretFor(t, crt, done, pk)
	tlsCerts := parseCerts(t, "tls.crt", sec[corev1.TLSCertKey])
	caCerts := parseCerts(t, "ca.crt", sec[cmmeta.TLSCAKey])
	if len(caCerts) != 1 || !bytes.Equal(caCerts[0].Raw, st.root.Raw) {
		t.Errorf("ca.crt is not the server's root")
	}
	ica := tlsCerts[0]
	if ica.Subject.CommonName != crt.Spec.CommonName || ica.IsCA != crt.Spec.IsCA {
		t.Errorf("tls.crt: CN %q isCA %v, want the shipped Certificate's %q isCA %v", ica.Subject.CommonName, ica.IsCA, crt.Spec.CommonName, crt.Spec.IsCA)
	}
	want := 90 * 24 * time.Hour
	if crt.Spec.Duration != nil {
		want = crt.Spec.Duration.Duration
	}
	checkDuration(t, "tls.crt", ica, want, certManagerFuzzDur)
	if crt.Spec.IsCA {
		checkCACert(t, "shipped Certificate's CA", ica)
		if crt.Spec.SecretName == "cacerts" {
			// istiod's plugged CA reads exactly this Secret.
			chain := istioPlugIn(t, sec, workloadSPIFFEID, false)
			checkPathLenRoom(t, "workload chain", []*x509.Certificate{chain[0], ica, st.root})
		}
	}
}
