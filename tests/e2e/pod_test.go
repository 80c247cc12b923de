package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// pod is a pod run from vaultlet's image under runc, the way a kubelet runs
// it: what it runs and with what comes from the object in the API server,
// not from the test.
type pod struct {
	id    string // runc container id
	dir   string // this pod's bundle (config.json; the image's rootfs is shared)
	runc  *proc  // `runc run`, in the foreground: the container's output is its log
	probe string // the readiness probe's URL ("" if none)
	grace time.Duration
}

// runStatefulSetPod reads StatefulSet ns/name and runs its pod <name>-0
// (each volumeClaimTemplate is the directory <claims>/<claim>, kept across
// restarts); it returns once the readiness probe passes.
func runStatefulSetPod(t *testing.T, c *cluster, ns, name, claims string) *pod {
	t.Helper()
	sts, err := c.kube.AppsV1().StatefulSets(ns).Get(bg(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("StatefulSet %s/%s: %v", ns, name, err)
	}
	dirs := map[string]string{}
	for _, pvc := range sts.Spec.VolumeClaimTemplates {
		dirs[pvc.Name] = filepath.Join(claims, pvc.Name)
	}
	p := newPod(t, c, ns, name+"-0", sts.Spec.Template.Spec, dirs)
	p.start(t)
	return p
}

// newPod writes the runc bundle of a pod with one container: its command
// and args, env (values, Secret and ConfigMap references read from the API
// server), volumes (emptyDir, configMap, secret, and the claim directories
// given), securityContext (runAsUser/runAsGroup/fsGroup,
// readOnlyRootFilesystem, dropped capabilities, no privilege escalation), and
// an /etc/hosts in which every Service of the cluster is a name for
// 127.0.0.1, standing in for cluster DNS. The container has no network
// namespace of its own: it shares the test's private one.
func newPod(t *testing.T, c *cluster, ns, name string, spec corev1.PodSpec, claims map[string]string) *pod {
	t.Helper()
	if len(spec.Containers) != 1 {
		t.Fatalf("pod %s/%s: want one container, got %d", ns, name, len(spec.Containers))
	}
	ctr := spec.Containers[0]
	p := &pod{id: fmt.Sprintf("%s-%s-%d", ns, name, time.Now().UnixNano()), grace: 30 * time.Second}
	if spec.TerminationGracePeriodSeconds != nil {
		p.grace = time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
	}
	p.dir = filepath.Join(tools.work, "pods", p.id)
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		t.Fatal(err)
	}

	bundle := imageBundle(t)
	var cfg map[string]any
	raw, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	process := cfg["process"].(map[string]any)

	// Command and args, as Kubernetes combines them with the image's.
	args := toStrings(process["args"]) // the image's ENTRYPOINT + CMD
	if len(ctr.Command) > 0 {
		args = append(slices.Clone(ctr.Command), ctr.Args...)
	} else if len(ctr.Args) > 0 {
		t.Fatalf("container %s: args without command are not supported here", ctr.Name)
	}
	process["args"] = args
	process["env"] = podEnv(t, c, ns, toStrings(process["env"]), name, ctr.Env)
	process["terminal"] = false
	// This sandbox refuses setrlimit inside containers.
	delete(process, "rlimits")

	sc := spec.SecurityContext
	if sc == nil {
		sc = &corev1.PodSecurityContext{}
	}
	user := process["user"].(map[string]any)
	if sc.RunAsUser != nil {
		user["uid"] = *sc.RunAsUser
	}
	if sc.RunAsGroup != nil {
		user["gid"] = *sc.RunAsGroup
	}
	if sc.FSGroup != nil {
		user["additionalGids"] = []int64{*sc.FSGroup}
	}
	cfg["root"] = map[string]any{"path": filepath.Join(bundle, "rootfs"), "readonly": false}
	if csc := ctr.SecurityContext; csc != nil {
		if csc.RunAsUser != nil {
			user["uid"] = *csc.RunAsUser
		}
		if csc.ReadOnlyRootFilesystem != nil && *csc.ReadOnlyRootFilesystem {
			cfg["root"] = map[string]any{"path": filepath.Join(bundle, "rootfs"), "readonly": true}
		}
		if csc.AllowPrivilegeEscalation != nil && !*csc.AllowPrivilegeEscalation {
			process["noNewPrivileges"] = true
		}
		if csc.Capabilities != nil && slices.Contains(csc.Capabilities.Drop, "ALL") {
			process["capabilities"] = map[string]any{"bounding": []string{}, "effective": []string{}, "permitted": []string{}, "inheritable": []string{}, "ambient": []string{}}
		}
	}
	cfg["hostname"] = name

	// The network namespace is the test's; the image's VOLUME is not a pod volume.
	linux := cfg["linux"].(map[string]any)
	var nss []any
	for _, n := range linux["namespaces"].([]any) {
		if n.(map[string]any)["type"] != "network" {
			nss = append(nss, n)
		}
	}
	linux["namespaces"] = nss
	var mounts []any
	for _, m := range cfg["mounts"].([]any) {
		d := m.(map[string]any)["destination"].(string)
		if !strings.HasPrefix(d, "/vault/") {
			mounts = append(mounts, m)
		}
	}
	hosts := filepath.Join(p.dir, "hosts")
	if err := os.WriteFile(hosts, []byte(clusterHosts(t, c)), 0o644); err != nil {
		t.Fatal(err)
	}
	mounts = append(mounts, map[string]any{"destination": "/etc/hosts", "type": "bind", "source": hosts, "options": []string{"rbind", "ro"}})
	vols := map[string]string{}
	for _, v := range spec.Volumes {
		vols[v.Name] = podVolume(t, c, ns, p.dir, v, sc.FSGroup)
	}
	for claim, d := range claims {
		mkdirOwned(t, d, sc.FSGroup)
		vols[claim] = d
	}
	for _, vm := range ctr.VolumeMounts {
		src, ok := vols[vm.Name]
		if !ok {
			t.Fatalf("container %s mounts volume %q, which the pod does not have", ctr.Name, vm.Name)
		}
		mode := "rw"
		if vm.ReadOnly {
			mode = "ro"
		}
		mounts = append(mounts, map[string]any{"destination": vm.MountPath, "type": "bind", "source": src, "options": []string{"rbind", mode}})
	}
	cfg["mounts"] = mounts

	out, _ := json.MarshalIndent(cfg, "", " ")
	if err := os.WriteFile(filepath.Join(p.dir, "config.json"), out, 0o644); err != nil {
		t.Fatal(err)
	}

	if rp := ctr.ReadinessProbe; rp != nil && rp.HTTPGet != nil {
		port := rp.HTTPGet.Port.IntValue()
		for _, cp := range ctr.Ports {
			if cp.Name == rp.HTTPGet.Port.String() {
				port = int(cp.ContainerPort)
			}
		}
		p.probe = fmt.Sprintf("http://127.0.0.1:%d%s", port, rp.HTTPGet.Path)
	}
	return p
}

// clusterHosts is an /etc/hosts in which every Service name resolves to
// the loopback address all servers listen on here.
func clusterHosts(t *testing.T, c *cluster) string {
	t.Helper()
	svcs, err := c.kube.CoreV1().Services("").List(bg(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost\n")
	for _, s := range svcs.Items {
		fmt.Fprintf(&b, "127.0.0.1\t%s.%s %s.%s.svc %s.%s.svc.cluster.local\n", s.Name, s.Namespace, s.Name, s.Namespace, s.Name, s.Namespace)
	}
	return b.String()
}

// start runs the container and, if it has a readiness probe, waits for it.
func (p *pod) start(t *testing.T) {
	t.Helper()
	p.runc = startProc(t, p.dir, "container", nil, tools.runc, "--root", runcRoot(), "run", "--bundle", p.dir, p.id)
	t.Cleanup(func() { p.stop() })
	if p.probe == "" {
		return
	}
	ok, why := eventually(60*time.Second, func() (bool, string) {
		if p.runc.exited() {
			return false, "container exited"
		}
		resp, err := http.Get(p.probe)
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode >= 200 && resp.StatusCode < 400, resp.Status
	})
	if !ok {
		t.Fatalf("pod %s not ready (%s: %s); container log:\n%s", p.id, p.probe, why, p.runc.tail(40))
	}
}

// wait waits for the container to exit and returns its exit code.
func (p *pod) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.runc.done:
		return p.runc.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatalf("pod %s still running after %s; log:\n%s", p.id, timeout, p.runc.tail(20))
		return -1
	}
}

// stop does what the kubelet does: SIGTERM, then SIGKILL after the grace
// period; then removes the container.
func (p *pod) stop() {
	if p.runc == nil || p.runc.exited() {
		_, _ = run(nil, tools.runc, "--root", runcRoot(), "delete", "--force", p.id)
		return
	}
	_, _ = run(nil, tools.runc, "--root", runcRoot(), "kill", p.id, "TERM")
	select {
	case <-p.runc.done:
	case <-time.After(p.grace):
		_, _ = run(nil, tools.runc, "--root", runcRoot(), "kill", p.id, "KILL")
		<-p.runc.done
	}
	_, _ = run(nil, tools.runc, "--root", runcRoot(), "delete", "--force", p.id)
}

// restart stops the container and runs it again from the same bundle and
// volumes, as a kubelet restarts a container of the same pod.
func (p *pod) restart(t *testing.T) {
	t.Helper()
	p.stop()
	p.start(t)
}

func (p *pod) tail(n int) string {
	if p == nil || p.runc == nil {
		return "(no pod)"
	}
	return p.runc.tail(n)
}

// imageBundle returns vaultlet's image, unpacked. tests/e2e/run builds it
// while the control planes start and moves it into place (a rename, so it
// is there whole or not at all), or writes <bundle>.failed if the build
// failed.
func imageBundle(t *testing.T) string {
	t.Helper()
	ok, why := eventually(10*time.Minute, func() (bool, string) {
		if msg, err := os.ReadFile(tools.bundle + ".failed"); err == nil {
			t.Fatalf("vaultlet's image: %s", msg)
		}
		_, err := os.Stat(tools.bundle)
		return err == nil, fmt.Sprintf("waiting for tests/e2e/run to build it (%v)", err)
	})
	if !ok {
		t.Fatalf("vaultlet's image at %s: %s", tools.bundle, why)
	}
	return tools.bundle
}

// runcRoot is runc's state directory for this run's containers only;
// tests/e2e/run removes whatever is left in it.
func runcRoot() string { return filepath.Join(tools.work, "runc") }

// podEnv is the image's environment overlaid with the container's env.
func podEnv(t *testing.T, c *cluster, ns string, image []string, hostname string, env []corev1.EnvVar) []string {
	t.Helper()
	vals := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	for _, kv := range image {
		k, v, _ := strings.Cut(kv, "=")
		set(k, v)
	}
	set("HOSTNAME", hostname)
	for _, e := range env {
		switch {
		case e.ValueFrom == nil:
			set(e.Name, e.Value)
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			s, err := c.kube.CoreV1().Secrets(ns).Get(bg(), ref.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("env %s: Secret %s/%s: %v", e.Name, ns, ref.Name, err)
			}
			set(e.Name, string(s.Data[ref.Key]))
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			cm, err := c.kube.CoreV1().ConfigMaps(ns).Get(bg(), ref.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("env %s: ConfigMap %s/%s: %v", e.Name, ns, ref.Name, err)
			}
			set(e.Name, cm.Data[ref.Key])
		default:
			t.Fatalf("env %s: unsupported valueFrom", e.Name)
		}
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+vals[k])
	}
	return out
}

// podVolume materialises one pod volume under dir and returns its path.
func podVolume(t *testing.T, c *cluster, ns, dir string, v corev1.Volume, fsGroup *int64) string {
	t.Helper()
	d := filepath.Join(dir, "volumes", v.Name)
	switch {
	case v.EmptyDir != nil:
		mkdirOwned(t, d, fsGroup)
	case v.ConfigMap != nil:
		cm, err := c.kube.CoreV1().ConfigMaps(ns).Get(bg(), v.ConfigMap.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("volume %s: ConfigMap %s/%s: %v", v.Name, ns, v.ConfigMap.Name, err)
		}
		files := map[string][]byte{}
		for k, s := range cm.Data {
			files[k] = []byte(s)
		}
		writeVolumeFiles(t, d, files, v.ConfigMap.Items)
	case v.Secret != nil:
		s, err := c.kube.CoreV1().Secrets(ns).Get(bg(), v.Secret.SecretName, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("volume %s: Secret %s/%s: %v", v.Name, ns, v.Secret.SecretName, err)
		}
		writeVolumeFiles(t, d, s.Data, v.Secret.Items)
	case v.PersistentVolumeClaim != nil:
		t.Fatalf("volume %s: a plain PersistentVolumeClaim is not supported here (only volumeClaimTemplates)", v.Name)
	default:
		t.Fatalf("volume %s: unsupported volume source", v.Name)
	}
	return d
}

func writeVolumeFiles(t *testing.T, d string, data map[string][]byte, items []corev1.KeyToPath) {
	t.Helper()
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{}
	for k := range data {
		paths[k] = k
	}
	if len(items) > 0 {
		paths = map[string]string{}
		for _, it := range items {
			paths[it.Key] = it.Path
		}
	}
	for k, rel := range paths {
		f := filepath.Join(d, rel)
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, data[k], 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// mkdirOwned makes a volume directory the pod's fsGroup owns (group
// writable, set-gid), as the kubelet prepares one.
func mkdirOwned(t *testing.T, d string, fsGroup *int64) {
	t.Helper()
	if err := os.MkdirAll(d, 0o777); err != nil {
		t.Fatal(err)
	}
	if fsGroup == nil {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := os.Chown(d, 0, int(*fsGroup)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, 0o775|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
