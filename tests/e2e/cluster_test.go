package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	cmclient "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned"
)

// Fixed loopback ports: the test runs in a network namespace of its own
// (tests/e2e/run), so nothing else listens there.
const (
	apiServerPort = 6443
	etcdPort      = 2379
	etcdPeerPort  = 2380
	apiServerURL  = "https://127.0.0.1:6443"
)

// cluster is a control plane: etcd, kube-apiserver and cert-manager's
// controllers, reached with an admin kubeconfig.
type cluster struct {
	dir        string
	kubeconfig string
	caPEM      []byte // the API server's CA
	etcd       *proc
	apiserver  *proc
	controller *proc
	kube       kubernetes.Interface
	cm         cmclient.Interface
	rest       *rest.Config
}

// startCluster starts etcd and kube-apiserver, applies cert-manager's CRDs
// and starts cert-manager's controllers. Everything stops at
// the end of the test that cleanup belongs to.
func startCluster(t *testing.T, cleanup func(func())) *cluster {
	t.Helper()
	t0 := time.Now()
	dir := filepath.Join(tools.work, "cluster")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c := &cluster{dir: dir, kubeconfig: filepath.Join(dir, "kubeconfig")}
	cleanup(c.stop)

	p := func(n string) string { return filepath.Join(dir, n) }
	// etcd starts while the certificates and keys are made.
	c.etcd = startProc(t, dir, "etcd", nil, tools.etcd,
		"--name=e2e", "--data-dir="+p("etcd-data"),
		fmt.Sprintf("--listen-client-urls=http://127.0.0.1:%d", etcdPort),
		fmt.Sprintf("--advertise-client-urls=http://127.0.0.1:%d", etcdPort),
		fmt.Sprintf("--listen-peer-urls=http://127.0.0.1:%d", etcdPeerPort),
		fmt.Sprintf("--initial-advertise-peer-urls=http://127.0.0.1:%d", etcdPeerPort),
		fmt.Sprintf("--initial-cluster=e2e=http://127.0.0.1:%d", etcdPeerPort),
		"--log-level=warn")
	ca := newTestCA(t)
	c.caPEM = ca.pem
	if err := os.WriteFile(p("ca.crt"), ca.pem, 0o644); err != nil {
		t.Fatal(err)
	}
	ca.issue(t, servingCert(), p("apiserver.crt"), p("apiserver.key"))
	ca.issue(t, clientCert("e2e-admin", "system:masters"), p("admin.crt"), p("admin.key"))
	writeServiceAccountKeys(t, p("sa.key"), p("sa.pub"))
	c.writeKubeconfig(t)

	c.apiserver = startProc(t, dir, "kube-apiserver", nil, tools.apiserver,
		fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", etcdPort),
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", apiServerPort),
		"--cert-dir="+p("apiserver-certs"),
		"--tls-cert-file="+p("apiserver.crt"), "--tls-private-key-file="+p("apiserver.key"),
		"--client-ca-file="+p("ca.crt"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+p("sa.pub"),
		"--service-account-signing-key-file="+p("sa.key"),
		"--service-cluster-ip-range=10.96.0.0/16",
		"--authorization-mode=RBAC",
		// The loopback advertise address cannot be an endpoint of the
		// kubernetes Service, and no controller manager runs.
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
		"--v=1")
	c.waitReady(t)
	tReady := time.Since(t0)

	cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	c.rest = cfg
	c.kube = kubernetes.NewForConfigOrDie(cfg)
	c.cm = cmclient.NewForConfigOrDie(cfg)

	// cert-manager's CRDs, from the module the controllers are built from.
	c.applyCRDs(t, tools.cmCRDs)
	for _, crd := range []string{"issuers", "certificates", "certificaterequests"} {
		c.waitEstablished(t, crd+".cert-manager.io")
	}
	tCRDs := time.Since(t0)
	c.controller = startProc(t, dir, "cert-manager-controller", nil, tools.cmController,
		"-kubeconfig="+c.kubeconfig, "-v=2")
	r := func(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }
	t.Logf("control plane up in %s: kube-apiserver ready after %s, cert-manager's CRDs established after %s, its controllers started",
		r(time.Since(t0)), r(tReady), r(tCRDs))
	return c
}

func (c *cluster) writeKubeconfig(t *testing.T) {
	t.Helper()
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: admin
  user:
    client-certificate: %s
    client-key: %s
contexts:
- name: e2e
  context: {cluster: e2e, user: admin}
current-context: e2e
`, apiServerURL, filepath.Join(c.dir, "ca.crt"), filepath.Join(c.dir, "admin.crt"), filepath.Join(c.dir, "admin.key"))
	if err := os.WriteFile(c.kubeconfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitReady waits for the API server's /readyz (etcd reached, bootstrap
// RBAC roles and priority levels written).
func (c *cluster) waitReady(t *testing.T) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ok, why := eventually(90*time.Second, func() (bool, string) {
		if c.apiserver.exited() || c.etcd.exited() {
			return false, "a control-plane process exited"
		}
		resp, err := hc.Get(apiServerURL + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	if !ok {
		t.Fatalf("kube-apiserver not ready: %s\n--- etcd log:\n%s\n--- kube-apiserver log:\n%s", why, c.etcd.tail(20), c.apiserver.tail(40))
	}
}

// applyCRDs applies every CustomResourceDefinition in dir's YAML files
// (server-side apply, as `kubectl apply --server-side` does; with client-go,
// which spares a kubectl process per request).
func (c *cluster) applyCRDs(t *testing.T, dir string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs in %s (%v)", dir, err)
	}
	dyn := dynamic.NewForConfigOrDie(c.rest)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096)
		for {
			var obj unstructured.Unstructured
			if err := dec.Decode(&obj.Object); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if obj.Object == nil {
				continue
			}
			if obj.GetKind() != "CustomResourceDefinition" {
				t.Fatalf("%s: a %s, want only CustomResourceDefinitions", f, obj.GetKind())
			}
			if _, err := dyn.Resource(crdResource).Apply(bg(), obj.GetName(), &obj, metav1.ApplyOptions{FieldManager: "e2e", Force: true}); err != nil {
				t.Fatalf("apply CRD %s from %s: %v", obj.GetName(), f, err)
			}
		}
	}
}

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// waitEstablished waits for a CRD's Established condition.
func (c *cluster) waitEstablished(t *testing.T, crd string) {
	t.Helper()
	dyn := dynamic.NewForConfigOrDie(c.rest)
	ok, why := eventually(60*time.Second, func() (bool, string) {
		obj, err := dyn.Resource(crdResource).Get(bg(), crd, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
		for _, cond := range conds {
			m, _ := cond.(map[string]any)
			if m["type"] == "Established" {
				return m["status"] == "True", fmt.Sprintf("Established=%v", m["status"])
			}
		}
		return false, "no Established condition yet"
	})
	if !ok {
		t.Fatalf("CRD %s not established: %s", crd, why)
	}
}

// kubectl runs kubectl against the cluster and fails the test on error.
func (c *cluster) kubectl(t testing.TB, args ...string) string {
	t.Helper()
	out, err := c.kubectlErr(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (c *cluster) kubectlErr(args ...string) (string, error) {
	// The discovery cache goes with the run, not into the source tree.
	return run(nil, tools.kubectl, append([]string{"--kubeconfig=" + c.kubeconfig, "--cache-dir=" + filepath.Join(c.dir, "kube-cache")}, args...)...)
}

// applyYAML applies manifest text with kubectl (client-side apply, as a
// user's `kubectl apply -f` does).
func (c *cluster) applyYAML(t testing.TB, name, text string) {
	t.Helper()
	f := filepath.Join(c.dir, strings.ReplaceAll(name, "/", "_"))
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c.kubectl(t, "apply", "-f", f)
}

func (c *cluster) stop() {
	c.controller.stop(10 * time.Second)
	c.apiserver.stop(10 * time.Second)
	c.etcd.stop(10 * time.Second)
}

func bg() context.Context { return context.Background() }
