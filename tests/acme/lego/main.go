// Command lego-acme drives lego's ACME library (github.com/go-acme/lego/v5:
// its registrar, certifier, challenge solvers and the exec DNS provider, as
// lego's own command line and Traefik use them) against one ACME directory.
// State (account key and registration, certificate and key) lives in -state.
//
// Usage:
//
//	lego-acme -server URL -state DIR [flags] register|obtain|renew|revoke|keyrollover
package main

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/certcrypto"
	"github.com/go-acme/lego/v5/certificate"
	"github.com/go-acme/lego/v5/challenge/dns01"
	"github.com/go-acme/lego/v5/challenge/http01"
	"github.com/go-acme/lego/v5/challenge/tlsalpn01"
	"github.com/go-acme/lego/v5/lego"
	"github.com/go-acme/lego/v5/providers/dns/exec"
	"github.com/go-acme/lego/v5/registration"
)

type domains []string

func (d *domains) String() string     { return strings.Join(*d, ",") }
func (d *domains) Set(v string) error { *d = append(*d, v); return nil }

type options struct {
	server, state               string
	http, tls, dns, dnsResolver string
	eabKID, eabHMAC             string
	domains                     domains
}

// user is lego's registration.User, kept on disk between runs.
type user struct {
	key          crypto.Signer
	Registration *acme.ExtendedAccount `json:"registration"`
}

func (u *user) GetEmail() string                       { return "" }
func (u *user) GetRegistration() *acme.ExtendedAccount { return u.Registration }
func (u *user) GetPrivateKey() crypto.Signer           { return u.key }

func main() {
	var o options
	flag.StringVar(&o.server, "server", "", "ACME directory URL")
	flag.StringVar(&o.state, "state", "", "directory for the account and certificate")
	flag.StringVar(&o.http, "http", "", "solve http-01 with lego's server on this host:port")
	flag.StringVar(&o.tls, "tls", "", "solve tls-alpn-01 with lego's server on this host:port")
	flag.StringVar(&o.dns, "dns", "", "solve dns-01 with this lego DNS provider (exec)")
	flag.StringVar(&o.dnsResolver, "dns-resolver", "", "nameserver (host:port) for lego's DNS lookups")
	flag.StringVar(&o.eabKID, "eab-kid", "", "external account binding key ID")
	flag.StringVar(&o.eabHMAC, "eab-hmac", "", "external account binding key (base64url)")
	flag.Var(&o.domains, "d", "a name for the certificate (repeatable)")
	flag.Parse()
	if flag.NArg() != 1 || o.server == "" || o.state == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(context.Background(), o, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "lego-acme:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, command string) error {
	u, err := loadUser(o.state)
	if err != nil {
		return err
	}
	config := lego.NewConfig(u)
	config.CADirURL = o.server
	client, err := lego.NewClient(config)
	if err != nil {
		return err
	}
	switch command {
	case "register":
		if o.eabKID != "" {
			u.Registration, err = client.Registration.RegisterWithExternalAccountBinding(ctx,
				registration.RegisterEABOptions{TermsOfServiceAgreed: true, Kid: o.eabKID, HmacEncoded: o.eabHMAC})
		} else {
			u.Registration, err = client.Registration.Register(ctx, registration.RegisterOptions{TermsOfServiceAgreed: true})
		}
		if err != nil {
			return err
		}
		return saveUser(o.state, u)
	case "obtain":
		if err := setupChallenges(client, o); err != nil {
			return err
		}
		res, err := client.Certificate.Obtain(ctx, certificate.ObtainRequest{
			Domains: o.domains, Bundle: true, KeyType: certcrypto.EC256,
		})
		if err != nil {
			return err
		}
		return saveCertificate(o.state, res)
	case "renew":
		if err := setupChallenges(client, o); err != nil {
			return err
		}
		current, err := loadCertificate(o.state)
		if err != nil {
			return err
		}
		res, err := client.Certificate.Renew(ctx, *current, &certificate.RenewOptions{
			Bundle: true, KeyType: certcrypto.EC256,
		})
		if err != nil {
			return err
		}
		return saveCertificate(o.state, res)
	case "revoke":
		current, err := loadCertificate(o.state)
		if err != nil {
			return err
		}
		return client.Certificate.Revoke(ctx, current.Certificate)
	case "keyrollover":
		newKey, err := certcrypto.GeneratePrivateKey(certcrypto.EC256)
		if err != nil {
			return err
		}
		if err := client.Registration.KeyRollover(ctx, newKey); err != nil {
			return err
		}
		u.key = newKey
		return saveUser(o.state, u)
	}
	return fmt.Errorf("unknown command %q", command)
}

func setupChallenges(client *lego.Client, o options) error {
	if o.http != "" {
		err := client.Challenge.SetHTTP01Provider(http01.NewProviderServerWithOptions(http01.Options{
			Network: "tcp", Address: o.http,
		}))
		if err != nil {
			return err
		}
	}
	if o.tls != "" {
		host, port, ok := strings.Cut(o.tls, ":")
		if !ok {
			return fmt.Errorf("-tls wants host:port, got %q", o.tls)
		}
		if err := client.Challenge.SetTLSALPN01Provider(tlsalpn01.NewProviderServer(host, port)); err != nil {
			return err
		}
	}
	if o.dns != "" {
		if o.dns != "exec" {
			return fmt.Errorf("only the exec DNS provider is built in, not %q", o.dns)
		}
		provider, err := exec.NewDNSProvider()
		if err != nil {
			return err
		}
		dnsOptions := dns01.NewOptions()
		if o.dnsResolver != "" {
			dnsOptions.RecursiveNameservers = []string{o.dnsResolver}
		}
		dns01.SetDefaultClient(dns01.NewClient(dnsOptions))
		// As `lego --dns.propagation.wait 1s`: the lab zone has no
		// authoritative servers to poll, so wait instead of checking.
		if err := client.Challenge.SetDNS01Provider(provider, dns01.PropagationWait(time.Second, true)); err != nil {
			return err
		}
	}
	return nil
}

func loadUser(dir string) (*user, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	u := &user{}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "account.key"))
	if errors.Is(err, os.ErrNotExist) {
		u.key, err = certcrypto.GeneratePrivateKey(certcrypto.EC256)
		if err != nil {
			return nil, err
		}
		return u, nil
	}
	if err != nil {
		return nil, err
	}
	if u.key, err = certcrypto.ParsePEMPrivateKey(keyPEM); err != nil {
		return nil, err
	}
	account, err := os.ReadFile(filepath.Join(dir, "account.json"))
	if err != nil {
		return nil, err
	}
	return u, json.Unmarshal(account, u)
}

func saveUser(dir string, u *user) error {
	account, err := json.Marshal(u)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "account.json"), account, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "account.key"), certcrypto.PEMEncode(u.key), 0o600)
}

func saveCertificate(dir string, res *certificate.Resource) error {
	meta, err := json.Marshal(res)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"certificate.json": meta,
		"cert.pem":         res.Certificate,
		"key.pem":          res.PrivateKey,
		"issuer.pem":       res.IssuerCertificate,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func loadCertificate(dir string) (*certificate.Resource, error) {
	res := &certificate.Resource{}
	meta, err := os.ReadFile(filepath.Join(dir, "certificate.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(meta, res); err != nil {
		return nil, err
	}
	if res.Certificate, err = os.ReadFile(filepath.Join(dir, "cert.pem")); err != nil {
		return nil, err
	}
	if res.PrivateKey, err = os.ReadFile(filepath.Join(dir, "key.pem")); err != nil {
		return nil, err
	}
	return res, nil
}
