package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
)

const istioNS = "istio-system"

// issuerReady returns the Issuer's Ready condition (zero if absent).
func (c *cluster) issuerReady(name string) (cmapi.IssuerCondition, error) {
	iss, err := c.cm.CertmanagerV1().Issuers(istioNS).Get(bg(), name, metav1.GetOptions{})
	if err != nil {
		return cmapi.IssuerCondition{}, err
	}
	for _, cond := range iss.Status.Conditions {
		if cond.Type == cmapi.IssuerConditionReady {
			return cond, nil
		}
	}
	return cmapi.IssuerCondition{}, nil
}

// waitIssuer waits until the Issuer's Ready condition has status want and
// returns it; on timeout the test fails with the cluster's state.
func (c *cluster) waitIssuer(t *testing.T, s *server, name string, want cmmeta.ConditionStatus) cmapi.IssuerCondition {
	t.Helper()
	var last cmapi.IssuerCondition
	ok, why := eventually(60*time.Second, func() (bool, string) {
		cond, err := c.issuerReady(name)
		if err != nil {
			return false, err.Error()
		}
		last = cond
		return cond.Status == want, fmt.Sprintf("Ready=%s %s %q", cond.Status, cond.Reason, cond.Message)
	})
	if !ok {
		t.Fatalf("Issuer %s/%s: want Ready=%s, last %s%s", istioNS, name, want, why, c.diagnose(s))
	}
	return last
}

// certificate returns the Certificate (nil if absent).
func (c *cluster) certificate(name string) *cmapi.Certificate {
	crt, err := c.cm.CertmanagerV1().Certificates(istioNS).Get(bg(), name, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	return crt
}

func certReady(crt *cmapi.Certificate) (bool, string) {
	if crt == nil {
		return false, "no Certificate"
	}
	for _, cond := range crt.Status.Conditions {
		if cond.Type == cmapi.CertificateConditionReady {
			return cond.Status == cmmeta.ConditionTrue && cond.ObservedGeneration == crt.Generation,
				fmt.Sprintf("Ready=%s %s %q (generation %d observed %d)", cond.Status, cond.Reason, cond.Message, crt.Generation, cond.ObservedGeneration)
		}
	}
	return false, "no Ready condition"
}

// waitCertificate waits until the Certificate is Ready for its current
// spec and its Secret satisfies accept (nil: any), and returns the Secret's
// data as read from the API server.
func (c *cluster) waitCertificate(t *testing.T, s *server, name string, timeout time.Duration, accept func(map[string][]byte) (bool, string)) map[string][]byte {
	t.Helper()
	var got map[string][]byte
	ok, why := eventually(timeout, func() (bool, string) {
		crt := c.certificate(name)
		if ready, why := certReady(crt); !ready {
			return false, why
		}
		sec, err := c.kube.CoreV1().Secrets(istioNS).Get(bg(), crt.Spec.SecretName, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		got = sec.Data
		if accept == nil {
			return true, ""
		}
		return accept(sec.Data)
	})
	if !ok {
		t.Fatalf("Certificate %s/%s: %s%s", istioNS, name, why, c.diagnose(s))
	}
	return got
}

// renew asks cert-manager to re-issue now, as `cmctl renew` does: it sets the
// Certificate's Issuing condition.
func (c *cluster) renew(t *testing.T, name string) {
	t.Helper()
	patch := map[string]any{"status": map[string]any{"conditions": append(conditionsOf(c.certificate(name)), map[string]any{
		"type": "Issuing", "status": "True", "reason": "ManuallyTriggered",
		"message": "Certificate re-issuance manually triggered", "lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
	})}}
	b, _ := json.Marshal(patch)
	if _, err := c.cm.CertmanagerV1().Certificates(istioNS).Patch(bg(), name, types.MergePatchType, b, metav1.PatchOptions{}, "status"); err != nil {
		t.Fatalf("renew %s: %v", name, err)
	}
}

func conditionsOf(crt *cmapi.Certificate) []any {
	var out []any
	if crt == nil {
		return out
	}
	for _, cond := range crt.Status.Conditions {
		if cond.Type == cmapi.CertificateConditionIssuing {
			continue
		}
		b, _ := json.Marshal(cond)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		out = append(out, m)
	}
	return out
}

// patchCertificate merge-patches the Certificate's spec.
func (c *cluster) patchCertificate(t *testing.T, name string, spec map[string]any) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"spec": spec})
	if _, err := c.cm.CertmanagerV1().Certificates(istioNS).Patch(bg(), name, types.MergePatchType, b, metav1.PatchOptions{}); err != nil {
		t.Fatalf("patch Certificate %s: %v", name, err)
	}
}

// touchIssuer changes an annotation of the Issuer, so cert-manager runs its
// Setup (login + sys/health) again now.
func (c *cluster) touchIssuer(t *testing.T, name string) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{"e2e.vaultlet/touched": time.Now().Format(time.RFC3339Nano)}}})
	if _, err := c.cm.CertmanagerV1().Issuers(istioNS).Patch(bg(), name, types.MergePatchType, b, metav1.PatchOptions{}); err != nil {
		t.Fatalf("touch Issuer %s: %v", name, err)
	}
}

// setSecretValue replaces one key of an Opaque Secret.
func (c *cluster) setSecretValue(t *testing.T, name, key, value string) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"stringData": map[string]string{key: value}})
	if _, err := c.kube.CoreV1().Secrets(istioNS).Patch(bg(), name, types.MergePatchType, b, metav1.PatchOptions{}); err != nil {
		t.Fatalf("patch Secret %s: %v", name, err)
	}
}

// diagnose is what a person debugging a failed step looks at first: the
// conditions of every Issuer, Certificate and CertificateRequest, the
// recent events, and the last lines of the server's and the controllers'
// logs.
func (c *cluster) diagnose(s *server) string {
	var b strings.Builder
	b.WriteString("\n===== cluster state (" + istioNS + ") =====")
	if list, err := c.cm.CertmanagerV1().Issuers(istioNS).List(bg(), metav1.ListOptions{}); err == nil {
		for _, i := range list.Items {
			fmt.Fprintf(&b, "\nIssuer %s (server %s):", i.Name, vaultServerOf(&i))
			for _, cond := range i.Status.Conditions {
				fmt.Fprintf(&b, "\n    %s=%s %s: %s", cond.Type, cond.Status, cond.Reason, cond.Message)
			}
		}
	}
	if list, err := c.cm.CertmanagerV1().Certificates(istioNS).List(bg(), metav1.ListOptions{}); err == nil {
		for _, crt := range list.Items {
			rev := 0
			if crt.Status.Revision != nil {
				rev = *crt.Status.Revision
			}
			fmt.Fprintf(&b, "\nCertificate %s (revision %d, generation %d):", crt.Name, rev, crt.Generation)
			for _, cond := range crt.Status.Conditions {
				fmt.Fprintf(&b, "\n    %s=%s %s: %s", cond.Type, cond.Status, cond.Reason, cond.Message)
			}
		}
	}
	if list, err := c.cm.CertmanagerV1().CertificateRequests(istioNS).List(bg(), metav1.ListOptions{}); err == nil {
		for _, cr := range list.Items {
			fmt.Fprintf(&b, "\nCertificateRequest %s (issuer %s):", cr.Name, cr.Spec.IssuerRef.Name)
			for _, cond := range cr.Status.Conditions {
				fmt.Fprintf(&b, "\n    %s=%s %s: %s", cond.Type, cond.Status, cond.Reason, cond.Message)
			}
		}
	}
	if list, err := c.kube.CoreV1().Events(istioNS).List(bg(), metav1.ListOptions{}); err == nil {
		b.WriteString("\nEvents:")
		items := list.Items
		if len(items) > 15 {
			items = items[len(items)-15:]
		}
		for _, e := range items {
			fmt.Fprintf(&b, "\n    %s %s/%s %s: %s", e.Type, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
		}
	}
	if s != nil {
		fmt.Fprintf(&b, "\n===== %s log (last lines) =====\n%s", s.name, s.logs(25))
	}
	fmt.Fprintf(&b, "\n===== cert-manager controllers log (last lines) =====\n%s\n", c.controller.tail(25))
	return b.String()
}

func vaultServerOf(i *cmapi.Issuer) string {
	if i.Spec.Vault == nil {
		return "-"
	}
	return i.Spec.Vault.Server
}

// cleanIstioSystem deletes what one server's run left in istio-system, so
// the next server starts from the shipped manifests again. No garbage
// collector runs here, so the requests go explicitly.
func (c *cluster) cleanIstioSystem(t *testing.T) {
	t.Helper()
	opts := metav1.ListOptions{}
	cmv1 := c.cm.CertmanagerV1()
	_ = cmv1.Certificates(istioNS).DeleteCollection(bg(), metav1.DeleteOptions{}, opts)
	_ = cmv1.CertificateRequests(istioNS).DeleteCollection(bg(), metav1.DeleteOptions{}, opts)
	_ = cmv1.Issuers(istioNS).DeleteCollection(bg(), metav1.DeleteOptions{}, opts)
	_ = c.kube.CoreV1().Secrets(istioNS).DeleteCollection(bg(), metav1.DeleteOptions{}, opts)
	ok, why := eventually(30*time.Second, func() (bool, string) {
		s, err := c.kube.CoreV1().Secrets(istioNS).List(bg(), opts)
		if err != nil {
			return false, err.Error()
		}
		return len(s.Items) == 0, fmt.Sprintf("%d Secrets left", len(s.Items))
	})
	if !ok {
		t.Fatalf("cleaning %s: %s", istioNS, why)
	}
}
