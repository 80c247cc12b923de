package conformance

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cert-manager/cert-manager/pkg/util/pki"

	"github.com/vaultlet/vaultlet/tests/istiocheck"
)

// parseCerts parses a PEM bundle of certificates only; fails on anything else.
func parseCerts(t testing.TB, what string, pemBytes []byte) []*x509.Certificate {
	t.Helper()
	cs, err := istiocheck.ParseCerts(pemBytes)
	if err != nil {
		t.Fatalf("%s: %v in %q", what, err, truncate(string(pemBytes), 200))
	}
	return cs
}

func parseCertPEM(t testing.TB, what, s string) *x509.Certificate {
	t.Helper()
	cs := parseCerts(t, what, []byte(s))
	if len(cs) != 1 {
		t.Fatalf("%s: want exactly one certificate, got %d", what, len(cs))
	}
	return cs[0]
}

func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil
}

func describe(c *x509.Certificate) string {
	return fmt.Sprintf("[subject=%q issuer=%q isCA=%v pathlen=%d(zero=%v) ku=%b eku=%v notBefore=%s notAfter=%s]",
		c.Subject.String(), c.Issuer.String(), c.IsCA, c.MaxPathLen, c.MaxPathLenZero, c.KeyUsage, c.ExtKeyUsage,
		c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
}

// checkCACert asserts the profile every CA certificate in an Istio chain
// needs and Istio itself does not check: v3 CA with basicConstraints,
// keyCertSign, and no extended key usage at all.
func checkCACert(t testing.TB, what string, c *x509.Certificate) {
	t.Helper()
	if !c.BasicConstraintsValid || !c.IsCA {
		t.Errorf("%s: not a CA certificate (basicConstraints valid=%v, CA=%v) %s", what, c.BasicConstraintsValid, c.IsCA, describe(c))
	}
	if c.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("%s: keyUsage lacks keyCertSign %s", what, describe(c))
	}
	if len(c.ExtKeyUsage) != 0 || len(c.UnknownExtKeyUsage) != 0 {
		t.Errorf("%s: CA certificate carries an extended key usage (%v %v); Istio CAs need none %s", what, c.ExtKeyUsage, c.UnknownExtKeyUsage, describe(c))
	}
	if len(c.SubjectKeyId) == 0 {
		t.Errorf("%s: no subjectKeyIdentifier %s", what, describe(c))
	}
}

// checkPathLenRoom asserts that chain (leaf first, trust anchor last) is
// valid under every issuer's pathLenConstraint, counting the leaf level: the
// number of intermediate CAs between issuer i and the leaf is i-1.
func checkPathLenRoom(t testing.TB, what string, chain []*x509.Certificate) {
	t.Helper()
	for i := 1; i < len(chain); i++ {
		c := chain[i]
		below := i - 1
		if c.MaxPathLen >= 0 && below > c.MaxPathLen {
			t.Errorf("%s: %s has pathlen %d but %d CA certificate(s) sit between it and the workload certificate %s",
				what, c.Subject.CommonName, c.MaxPathLen, below, describe(c))
		}
	}
}

// checkDuration is cert-manager e2e's CertificateRequestDurationValid:
// NotAfter-NotBefore must lie in [want, want+fuzz] (Vault back-dates
// NotBefore by 30 s, so e2e uses fuzz = 30 s).
func checkDuration(t testing.TB, what string, c *x509.Certificate, want, fuzz time.Duration) {
	t.Helper()
	got := c.NotAfter.Sub(c.NotBefore)
	if got > want+fuzz || got < want {
		t.Errorf("%s: NotAfter-NotBefore = %s, want %s (fuzz %s) %s", what, got, want, fuzz, describe(c))
	}
}

// checkKeyMatches asserts the certificate carries pk's public key.
func checkKeyMatches(t testing.TB, what string, c *x509.Certificate, pk crypto.Signer) {
	t.Helper()
	ok, err := pki.PublicKeyMatchesCertificate(pk.Public(), c)
	if err != nil || !ok {
		t.Errorf("%s: certificate public key does not match the requested key (err=%v)", what, err)
	}
}

// istioPlugIn hands a cert-manager cacerts Secret to Istio's own plugged-CA
// code as istiod reads it and signs a workload CSR for id (see
// istiocheck.SignWorkload). It returns the workload chain (leaf first, then
// the CA chain istiod sends) for further checks.
func istioPlugIn(t testing.TB, secret map[string][]byte, id string, ecdsaWorkload bool) (workloadChain []*x509.Certificate) {
	t.Helper()
	chain, err := istiocheck.SignWorkload(secret, id, ecdsaWorkload)
	if err != nil {
		t.Fatal(err)
	}
	return chain
}

var (
	oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidUPN            = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}
)

// upnSANs returns the otherName UPN values of c's subjectAltName extension.
func upnSANs(t testing.TB, c *x509.Certificate) []string {
	t.Helper()
	var out []string
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		var seq asn1.RawValue
		if _, err := asn1.Unmarshal(ext.Value, &seq); err != nil {
			t.Fatalf("subjectAltName: %v", err)
		}
		for rest := seq.Bytes; len(rest) > 0; {
			var gn asn1.RawValue
			var err error
			if rest, err = asn1.Unmarshal(rest, &gn); err != nil {
				t.Fatalf("subjectAltName GeneralName: %v", err)
			}
			if gn.Class != asn1.ClassContextSpecific || gn.Tag != 0 {
				continue
			}
			var oid asn1.ObjectIdentifier
			r2, err := asn1.Unmarshal(gn.Bytes, &oid)
			if err != nil || !oid.Equal(oidUPN) {
				continue
			}
			var v asn1.RawValue
			if _, err := asn1.Unmarshal(r2, &v); err != nil {
				t.Fatalf("otherName value: %v", err)
			}
			var s string
			if _, err := asn1.UnmarshalWithParams(v.Bytes, &s, "utf8"); err != nil {
				t.Fatalf("otherName UPN value is not a UTF8String: %v", err)
			}
			out = append(out, s)
		}
	}
	return out
}

// checkSignResponse asserts the shape of a Vault sign / sign-intermediate
// answer as cert-manager's client decodes it (certutil.Secret +
// ParsePKIMap): data.certificate is the issued certificate (a string),
// data.issuing_ca the issuing CA, data.ca_chain a JSON array of PEM strings
// equal to wantChain (for sign/<role>: issuing CA first, then its parents;
// for root/sign-intermediate Vault puts the new CA itself first), data.serial_number the colon-hex serial of
// the leaf, data.expiration its NotAfter as an integer, and no private_key.
func checkSignResponse(t testing.TB, ex exchange, leaf, issuingCA *x509.Certificate, wantChain []*x509.Certificate) {
	t.Helper()
	var resp struct {
		LeaseID       *string         `json:"lease_id"`
		Renewable     *bool           `json:"renewable"`
		LeaseDuration *json.Number    `json:"lease_duration"`
		Warnings      []string        `json:"warnings"`
		Data          map[string]any  `json:"data"`
		Auth          json.RawMessage `json:"auth"`
	}
	dec := json.NewDecoder(bytes.NewReader(ex.RespBody))
	dec.UseNumber()
	if err := dec.Decode(&resp); err != nil || resp.Data == nil {
		t.Errorf("sign response is not a Vault secret with data (%v): %s", err, truncate(string(ex.RespBody), 500))
		return
	}
	if resp.LeaseID == nil || *resp.LeaseID != "" || resp.Renewable == nil || *resp.Renewable || resp.LeaseDuration == nil || resp.LeaseDuration.String() != "0" {
		t.Errorf("sign response envelope: want lease_id \"\", renewable false, lease_duration 0: %s", truncate(string(ex.RespBody), 300))
	}
	d := resp.Data
	certPEM, ok := d["certificate"].(string)
	if !ok || !bytes.Equal(parseCertPEM(t, "data.certificate", certPEM).Raw, leaf.Raw) {
		t.Errorf("sign response data.certificate is not the issued certificate")
	}
	issuing, ok := d["issuing_ca"].(string)
	if !ok || !bytes.Equal(parseCertPEM(t, "data.issuing_ca", issuing).Raw, issuingCA.Raw) {
		t.Errorf("sign response data.issuing_ca is not the issuing CA %q", issuingCA.Subject.CommonName)
	}
	arr, ok := d["ca_chain"].([]any)
	if !ok {
		t.Errorf("sign response data.ca_chain is %T, want a JSON array", d["ca_chain"])
	} else {
		var got []string
		for i, e := range arr {
			s, ok := e.(string)
			if !ok {
				t.Errorf("data.ca_chain[%d] is %T, want a PEM string", i, e)
				continue
			}
			got = append(got, parseCertPEM(t, fmt.Sprintf("data.ca_chain[%d]", i), s).Subject.CommonName)
		}
		var want []string
		for _, c := range wantChain {
			want = append(want, c.Subject.CommonName)
		}
		if !slices.Equal(got, want) {
			t.Errorf("sign response data.ca_chain = %q, want %q", got, want)
		}
	}
	if sn, ok := d["serial_number"].(string); !ok || sn != colonHex(leaf.SerialNumber.Bytes()) {
		t.Errorf("sign response data.serial_number = %#v, want %q", d["serial_number"], colonHex(leaf.SerialNumber.Bytes()))
	}
	if exp, ok := d["expiration"].(json.Number); !ok || exp.String() != strconv.FormatInt(leaf.NotAfter.Unix(), 10) {
		t.Errorf("sign response data.expiration = %#v, want the integer %d", d["expiration"], leaf.NotAfter.Unix())
	}
	if pk, present := d["private_key"]; present && pk != "" && pk != nil {
		t.Errorf("sign response carries a private_key")
	}
}

func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02x", x)
	}
	return strings.Join(parts, ":")
}
