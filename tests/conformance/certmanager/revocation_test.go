package conformance

// Revocation as Go clients see it, checked with the parsers Vault itself
// builds on: golang.org/x/crypto/ocsp for the OCSP responder and
// crypto/x509 for complete and delta CRLs.

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// ocspPost sends a DER OCSP request as OCSP clients do (RFC 6960 A.1).
func ocspPost(t *testing.T, mount string, der []byte) []byte {
	t.Helper()
	resp, err := http.Post(server.Addr+"/v1/"+mount+"/ocsp", "application/ocsp-request", bytes.NewReader(der))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/ocsp-response" {
		t.Fatalf("POST %s/ocsp: %d %s", mount, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return body
}

// ocspGet sends it in the URL, base64 then URL-escaped (RFC 6960 A.1).
func ocspGet(t *testing.T, mount string, der []byte) []byte {
	t.Helper()
	escaped := url.PathEscape(base64.StdEncoding.EncodeToString(der))
	resp, err := http.Get(server.Addr + "/v1/" + mount + "/ocsp/" + escaped)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/ocsp/…: %d", mount, resp.StatusCode)
	}
	return body
}

func fetchCRL(t *testing.T, c *vaultHTTP, path string, issuer *x509.Certificate) *x509.RevocationList {
	t.Helper()
	r := c.raw(http.MethodGet, path, nil).expect(t, http.StatusOK)
	crl, err := x509.ParseRevocationList(r.Body)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		t.Fatalf("%s: signature: %v", path, err)
	}
	return crl
}

func lists(crl *x509.RevocationList, serial *big.Int) bool {
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(serial) == 0 {
			return true
		}
	}
	return false
}

// deltaBase is the Delta CRL Indicator's base CRL number, or -1.
func deltaBase(t *testing.T, crl *x509.RevocationList) int64 {
	t.Helper()
	for _, ext := range crl.Extensions {
		if ext.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 27}) {
			if !ext.Critical {
				t.Fatal("the Delta CRL Indicator must be critical")
			}
			var base *big.Int
			if _, err := asn1.Unmarshal(ext.Value, &base); err != nil {
				t.Fatal(err)
			}
			return base.Int64()
		}
	}
	return -1
}

func TestRevocation_OCSPAndDeltaCRLsReadWithGosParsers(t *testing.T) {
	c := rootClient(t)
	mount := fmt.Sprintf("revocation%d", time.Now().UnixNano())
	c.apiMount("pki", mount, "87600h").expect2xx(t)
	root := parseCertPEM(t, "root", c.apiWrite(mount+"/root/generate/internal", map[string]any{
		"common_name": "Revocation Root", "ttl": "8760h", "key_type": "ec", "key_bits": 384,
	}).expect(t, http.StatusOK).str(t, "certificate"))
	c.apiWrite(mount+"/roles/any", map[string]any{"allow_any_name": true}).expect2xx(t)
	issue := func(cn string) *x509.Certificate {
		r := c.apiWrite(mount+"/issue/any", map[string]any{"common_name": cn, "ttl": "1h"}).expect(t, http.StatusOK)
		return parseCertPEM(t, cn, r.str(t, "certificate"))
	}
	good, revoked := issue("good.example.com"), issue("revoked.example.com")
	rev := c.apiWrite(mount+"/revoke", map[string]any{"serial_number": colonHex(revoked.SerialNumber.Bytes())}).expect(t, http.StatusOK)
	revokedAt, err := rev.data()["revocation_time"].(json.Number).Int64()
	if err != nil {
		t.Fatal(err)
	}

	for _, send := range []func(*testing.T, string, []byte) []byte{ocspPost, ocspGet} {
		for _, tc := range []struct {
			cert   *x509.Certificate
			status int
		}{{good, ocsp.Good}, {revoked, ocsp.Revoked}} {
			req, err := ocsp.CreateRequest(tc.cert, root, &ocsp.RequestOptions{Hash: crypto.SHA256})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := ocsp.ParseResponseForCert(send(t, mount, req), tc.cert, root)
			if err != nil {
				t.Fatalf("%s: %v", tc.cert.Subject.CommonName, err)
			}
			if resp.Status != tc.status || resp.SerialNumber.Cmp(tc.cert.SerialNumber) != 0 {
				t.Fatalf("%s: status %d serial %x", tc.cert.Subject.CommonName, resp.Status, resp.SerialNumber)
			}
			if tc.status == ocsp.Revoked && resp.RevokedAt.Unix() != revokedAt {
				t.Fatalf("revoked at %v, the revoke call said %d", resp.RevokedAt, revokedAt)
			}
			if got := resp.NextUpdate.Sub(resp.ThisUpdate); got != 12*time.Hour {
				t.Fatalf("next update %v after this update, want ocsp_expiry 12h", got)
			}
		}
	}

	complete := fetchCRL(t, c, mount+"/crl", root)
	if !lists(complete, revoked.SerialNumber) || lists(complete, good.SerialNumber) {
		t.Fatalf("complete CRL entries: %v", complete.RevokedCertificateEntries)
	}
	if base := deltaBase(t, complete); base != -1 {
		t.Fatalf("the complete CRL carries a delta indicator (%d)", base)
	}

	// With delta CRLs, a revocation shows on the delta CRL at its next build.
	c.apiWrite(mount+"/config/crl", map[string]any{"auto_rebuild": true, "enable_delta": true}).expect2xx(t)
	later := issue("later.example.com")
	c.apiWrite(mount+"/revoke", map[string]any{"serial_number": colonHex(later.SerialNumber.Bytes())}).expect(t, http.StatusOK)
	c.raw(http.MethodGet, mount+"/crl/rotate-delta", nil).expect(t, http.StatusOK)
	complete = fetchCRL(t, c, mount+"/crl", root)
	delta := fetchCRL(t, c, mount+"/crl/delta", root)
	if lists(complete, later.SerialNumber) || !lists(delta, later.SerialNumber) {
		t.Fatalf("after rotate-delta: complete %v, delta %v", complete.RevokedCertificateEntries, delta.RevokedCertificateEntries)
	}
	if base := deltaBase(t, delta); base != complete.Number.Int64() || delta.Number.Cmp(complete.Number) <= 0 {
		t.Fatalf("delta CRL %v names base %d; complete CRL is %v", delta.Number, base, complete.Number)
	}
}
