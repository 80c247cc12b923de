// Package acme runs golang.org/x/crypto/acme, the ACME client
// cert-manager's ACME issuer is built on (cert-manager carries a fork of
// it), through the flow that issuer drives: account, order, http-01
// challenge served by the test on loopback port 80, finalize, certificate
// fetch, and the kubernetes.io/tls Secret it would write (tls.crt, tls.key,
// ca.crt), checked against the mount's CA.
package acme

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/acme"
)

// enableACME makes pki/ an ACME server the way Vault documents it:
// a root, config/cluster path, the mount tuning and config/acme.
func enableACME(t *testing.T, s *devServer) {
	s.api(t, "POST", "sys/mounts/pki", map[string]any{"type": "pki"})
	s.api(t, "POST", "pki/root/generate/internal",
		map[string]any{"common_name": "ACME conformance root", "key_type": "ec", "ttl": "720h"})
	s.api(t, "POST", "pki/config/cluster", map[string]any{"path": s.addr + "/v1/pki"})
	s.api(t, "POST", "sys/mounts/pki/tune", map[string]any{
		"allowed_response_headers":    []string{"Last-Modified", "Location", "Replay-Nonce", "Link"},
		"passthrough_request_headers": []string{"If-Modified-Since"},
	})
	s.api(t, "POST", "pki/config/acme", map[string]any{"enabled": true})
}

// http01Server answers http-01 challenges on 127.0.0.1:80 as the pod
// cert-manager's solver starts does.
type http01Server struct {
	mu        sync.Mutex
	responses map[string]string
	srv       *http.Server
}

func startHTTP01(t *testing.T) *http01Server {
	ln, err := net.Listen("tcp", "127.0.0.1:80")
	if err != nil {
		t.Fatalf("http-01 needs loopback port 80 (run as root): %v", err)
	}
	h := &http01Server{responses: map[string]string{}}
	h.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = h.srv.Serve(ln) }()
	t.Cleanup(func() { _ = h.srv.Close() })
	return h
}

func (h *http01Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	body, ok := h.responses[r.URL.Path]
	h.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	_, _ = w.Write([]byte(body))
}

func (h *http01Server) present(path, body string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.responses[path] = body
}

func TestOrderToSecretVerifiesAgainstTheMountCA(t *testing.T) {
	s := startDevServer(t)
	enableACME(t, s)
	solver := startHTTP01(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	accountKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	client := &acme.Client{
		Key:          accountKey,
		DirectoryURL: s.addr + "/v1/pki/acme/directory",
		HTTPClient:   httpsClient(s.ca),
		UserAgent:    "cert-manager-conformance",
	}
	dir, err := client.Discover(ctx)
	if err != nil {
		t.Fatalf("%s: directory: %v", s, err)
	}
	if dir.OrderURL != s.addr+"/v1/pki/acme/new-order" || dir.ExternalAccountRequired {
		t.Fatalf("%s: directory %+v", s, dir)
	}
	account, err := client.Register(ctx, &acme.Account{}, acme.AcceptTOS)
	if err != nil {
		t.Fatalf("%s: register: %v", s, err)
	}
	if account.Status != acme.StatusValid || account.URI == "" {
		t.Fatalf("%s: account %+v", s, account)
	}
	if _, err := client.Register(ctx, &acme.Account{}, acme.AcceptTOS); !errors.Is(err, acme.ErrAccountAlreadyExists) {
		t.Fatalf("%s: registering the same key again: %v, want ErrAccountAlreadyExists", s, err)
	}

	order, err := client.AuthorizeOrder(ctx, acme.DomainIDs("localhost"))
	if err != nil {
		t.Fatalf("%s: new order: %v", s, err)
	}
	if order.Status != acme.StatusPending || len(order.AuthzURLs) != 1 {
		t.Fatalf("%s: order %+v", s, order)
	}
	for _, u := range order.AuthzURLs {
		authz, err := client.GetAuthorization(ctx, u)
		if err != nil {
			t.Fatalf("%s: authorization: %v", s, err)
		}
		if authz.Identifier.Value != "localhost" {
			t.Fatalf("%s: authorization for %+v", s, authz.Identifier)
		}
		var challenge *acme.Challenge
		for _, c := range authz.Challenges {
			if c.Type == "http-01" {
				challenge = c
			}
		}
		if challenge == nil {
			t.Fatalf("%s: no http-01 challenge in %+v", s, authz.Challenges)
		}
		response, err := client.HTTP01ChallengeResponse(challenge.Token)
		if err != nil {
			t.Fatal(err)
		}
		solver.present(client.HTTP01ChallengePath(challenge.Token), response)
		if _, err := client.Accept(ctx, challenge); err != nil {
			t.Fatalf("%s: accept: %v", s, err)
		}
		if _, err := client.WaitAuthorization(ctx, u); err != nil {
			t.Fatalf("%s: authorization not valid: %v", s, err)
		}
	}
	order, err = client.WaitOrder(ctx, order.URI)
	if err != nil || order.Status != acme.StatusReady {
		t.Fatalf("%s: order not ready: %+v %v", s, order, err)
	}

	certKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"},
	}, certKey)
	if err != nil {
		t.Fatal(err)
	}
	chain, certURL, err := client.CreateOrderCert(ctx, order.FinalizeURL, csr, true)
	if err != nil {
		t.Fatalf("%s: finalize: %v", s, err)
	}
	fetched, err := client.FetchCert(ctx, certURL, true)
	if err != nil {
		t.Fatalf("%s: fetch: %v", s, err)
	}
	if len(fetched) != len(chain) || string(fetched[0]) != string(chain[0]) {
		t.Fatalf("%s: fetched chain differs from the finalize answer", s)
	}

	secret := secretData(t, chain, certKey, s.api(t, "GET", "pki/cert/ca", nil))
	verifySecret(t, s, secret)
}

// secretData is what cert-manager writes into the certificate's Secret:
// the chain, the private key (SEC 1 PEM for an ECDSA key) and the CA.
func secretData(t *testing.T, chain [][]byte, key *ecdsa.PrivateKey, ca map[string]any) map[string][]byte {
	var tlsCrt []byte
	for _, der := range chain {
		tlsCrt = append(tlsCrt, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := ca["data"].(map[string]any)
	caPEM, _ := data["certificate"].(string)
	if caPEM == "" {
		t.Fatalf("pki/cert/ca: no certificate in %v", ca)
	}
	return map[string][]byte{
		"tls.crt": tlsCrt,
		"tls.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		"ca.crt":  []byte(caPEM),
	}
}

// verifySecret checks the keypair matches and the leaf chains to ca.crt for
// the ordered name.
func verifySecret(t *testing.T, s *devServer, secret map[string][]byte) {
	pair, err := tls.X509KeyPair(secret["tls.crt"], secret["tls.key"])
	if err != nil {
		t.Fatalf("%s: tls.crt and tls.key are not a pair: %v", s, err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(secret["ca.crt"]) {
		t.Fatalf("%s: ca.crt holds no certificate", s)
	}
	intermediates := x509.NewCertPool()
	for _, der := range pair.Certificate[1:] {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		intermediates.AddCert(c)
	}
	_, err = leaf.Verify(x509.VerifyOptions{
		DNSName:       "localhost",
		Roots:         roots,
		Intermediates: intermediates,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		t.Fatalf("%s: the issued certificate does not verify against the mount's CA: %v", s, err)
	}
}
