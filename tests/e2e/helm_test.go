package e2e

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// helmScenario installs docker/helm/vaultlet into the API server with the
// guide's line (dev), ci/dev-values.yaml and ci/durable-values.yaml, each in
// a namespace of its own: the API server's admission and validation accept
// every object. Each release's pod then runs from the image under runc
// until ready, and `helm test` runs for real: the test plays the kubelet for
// the hook pod helm creates (runs it, reports its phase), and helm reports
// the result. The HA values (ci/ha-values.yaml: three replicas on
// PostgreSQL) install too, their pods left unscheduled; HA without a
// connection URL is refused at install time with the chart's explanation.
func helmScenario(t *testing.T, c *cluster) {
	chart := manifest("docker/helm/vaultlet")
	releases := []struct {
		ns   string
		args []string
	}{
		{"helm-guide", []string{"--set", "server.dev.enabled=true"}},
		{"helm-dev", []string{"-f", filepath.Join(chart, "ci/dev-values.yaml")}},
		{"helm-durable", []string{"-f", filepath.Join(chart, "ci/durable-values.yaml")}},
	}
	for _, r := range releases {
		t.Run(r.ns, func(t *testing.T) {
			args := append([]string{"install", "vault", chart, "--namespace", r.ns, "--create-namespace"}, r.args...)
			out := c.helm(t, args...)
			if !strings.Contains(out, "STATUS: deployed") {
				t.Fatalf("helm install: %s", out)
			}
			t.Cleanup(func() { _, _ = c.helmErr("uninstall", "vault", "--namespace", r.ns) })
			// The ServiceAccount controller would make "default"; pods need it.
			createSA(t, c, r.ns, "default")
			p := runStatefulSetPod(t, c, r.ns, "vault", t.TempDir())
			helmTest(t, c, r.ns, "vault")
			p.stop()
		})
	}
	t.Run("helm-ha", func(t *testing.T) { helmHA(t, c, chart) })
	t.Run("ha-refused", func(t *testing.T) {
		out, err := c.helmErr("install", "vault", chart, "--namespace", "helm-ha-refused", "--create-namespace", "--set", "server.ha.enabled=true")
		if err == nil || !strings.Contains(out, "needs the PostgreSQL connection URL") {
			t.Fatalf("helm install with server.ha.enabled=true and no database: err=%v, want a refusal that explains; output:\n%s", err, out)
		}
		if list, _ := c.helmErr("list", "--namespace", "helm-ha-refused", "-q"); strings.TrimSpace(list) != "" {
			t.Errorf("a refused install left release(s) %q", list)
		}
	})
}

// helmHA installs ci/ha-values.yaml (the connection URL's Secret made
// first, as a user would) and reads back from the API server what it
// admitted: the StatefulSet with three replicas, each pod's addresses and
// the Secret reference, the cluster port on the headless Service, the
// PodDisruptionBudget. The pods are not run: they would need PostgreSQL.
func helmHA(t *testing.T, c *cluster, chart string) {
	const ns = "helm-ha"
	if _, err := c.kube.CoreV1().Namespaces().Create(bg(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "vault-postgresql", Namespace: ns},
		StringData: map[string]string{"connection_url": "postgres://vault:pw@db.helm-ha:5432/vault?sslmode=require"},
	}
	if _, err := c.kube.CoreV1().Secrets(ns).Create(bg(), secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	out := c.helm(t, "install", "vault", chart, "--namespace", ns, "-f", filepath.Join(chart, "ci/ha-values.yaml"))
	if !strings.Contains(out, "STATUS: deployed") {
		t.Fatalf("helm install (HA): %s", out)
	}
	t.Cleanup(func() { _, _ = c.helmErr("uninstall", "vault", "--namespace", ns) })

	sts, err := c.kube.AppsV1().StatefulSets(ns).Get(bg(), "vault", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 3 || len(sts.Spec.VolumeClaimTemplates) != 0 {
		t.Errorf("StatefulSet: replicas %v, %d volume claim templates; want 3 and none", sts.Spec.Replicas, len(sts.Spec.VolumeClaimTemplates))
	}
	pod := sts.Spec.Template.Spec
	if a := pod.Affinity; a == nil || a.PodAntiAffinity == nil || len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) != 1 {
		t.Errorf("no required pod anti-affinity: %+v", pod.Affinity)
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range pod.Containers[0].Env {
		env[e.Name] = e
	}
	if ref := env["VAULT_PG_CONNECTION_URL"].ValueFrom; ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != "vault-postgresql" || ref.SecretKeyRef.Key != "connection_url" {
		t.Errorf("VAULT_PG_CONNECTION_URL: %+v, want the Secret's connection_url", env["VAULT_PG_CONNECTION_URL"])
	}
	if got := env["VAULT_API_ADDR"].Value; got != "http://$(POD_IP):8200" {
		t.Errorf("VAULT_API_ADDR = %q", got)
	}
	if got := env["VAULT_CLUSTER_ADDR"].Value; got != "https://$(HOSTNAME).vault-internal:8201" {
		t.Errorf("VAULT_CLUSTER_ADDR = %q", got)
	}
	internal, err := c.kube.CoreV1().Services(ns).Get(bg(), "vault-internal", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	clusterPort := false
	for _, p := range internal.Spec.Ports {
		clusterPort = clusterPort || p.Port == 8201
	}
	if !clusterPort || !internal.Spec.PublishNotReadyAddresses {
		t.Errorf("vault-internal: ports %+v, publishNotReadyAddresses %v; want 8201, true", internal.Spec.Ports, internal.Spec.PublishNotReadyAddresses)
	}
	pdb, err := c.kube.PolicyV1().PodDisruptionBudgets(ns).Get(bg(), "vault", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("PodDisruptionBudget maxUnavailable = %v, want 1", pdb.Spec.MaxUnavailable)
	}
	t.Logf("helm install (HA) admitted by the API server: StatefulSet vault ×3, vault-internal with 8201, PodDisruptionBudget vault")
}

// helmTest runs `helm test` and acts as the kubelet for its hook pod: runs
// the container from the image under runc and writes the pod's phase.
func helmTest(t *testing.T, c *cluster, ns, release string) {
	t.Helper()
	cmd := exec.Command(tools.helm, "--kubeconfig", c.kubeconfig, "test", release, "--namespace", ns, "--timeout", "90s")
	cmd.Env = helmEnv(c)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var hook *corev1.Pod
	ok, why := eventually(60*time.Second, func() (bool, string) {
		pods, err := c.kube.CoreV1().Pods(ns).List(bg(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		for i := range pods.Items {
			if pods.Items[i].Annotations["helm.sh/hook"] == "test" {
				hook = &pods.Items[i]
				return true, ""
			}
		}
		return false, "no test hook pod yet"
	})
	if !ok {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("helm test created no hook pod (%s):\n%s", why, out.String())
	}
	p := newPod(t, c, ns, hook.Name, hook.Spec, nil)
	hook.Status.Phase = corev1.PodRunning
	hook = updatePodStatus(t, c, hook)
	p.start(t)
	code := p.wait(t, 60*time.Second)
	hook.Status.Phase = corev1.PodSucceeded
	if code != 0 {
		hook.Status.Phase = corev1.PodFailed
	}
	updatePodStatus(t, c, hook)
	err := cmd.Wait()
	if code != 0 || err != nil || !helmTestSucceeded.MatchString(out.String()) {
		t.Fatalf("helm test %s: container exit %d, helm: %v\n%s\n--- hook pod log:\n%s", release, code, err, out.String(), p.tail(20))
	}
	t.Logf("helm test %s in %s: the hook pod's container answered; helm:\n%s", release, ns, out.String())
}

// helmTestSucceeded matches the line of `helm test` that reports the hook's phase.
var helmTestSucceeded = regexp.MustCompile(`(?m)^Phase:\s+Succeeded$`)

func updatePodStatus(t *testing.T, c *cluster, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	got, err := c.kube.CoreV1().Pods(p.Namespace).UpdateStatus(bg(), p, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("pod %s status: %v", p.Name, err)
	}
	return got
}

func helmEnv(c *cluster) []string {
	d := filepath.Join(c.dir, "helm")
	return []string{"HELM_CACHE_HOME=" + d + "/cache", "HELM_CONFIG_HOME=" + d + "/config", "HELM_DATA_HOME=" + d + "/data"}
}

func (c *cluster) helm(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.helmErr(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (c *cluster) helmErr(args ...string) (string, error) {
	return run(helmEnv(c), tools.helm, append([]string{"--kubeconfig", c.kubeconfig}, args...)...)
}
