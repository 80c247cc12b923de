//! TLS listener and TLS certificate auth: the listener requests a client
//! certificate without demanding one, and `auth/cert/login` accepts a chain
//! that verifies to a role's CA (as Go's crypto/x509 verifies, which Vault
//! uses) and meets its constraints, unless an uploaded CRL lists one of its
//! certificates.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;

use common::{Server, LISTEN};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CertifiedIssuer, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, RevokedCertParams,
    SerialNumber,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

type Issuer = CertifiedIssuer<'static, KeyPair>;

/// A certificate and its private key, both PEM.
struct Client {
    cert: String,
    key: String,
}

impl Client {
    /// The certificate followed by the intermediates the client presents.
    fn with_chain(&self, intermediates: &[&Issuer]) -> Client {
        let mut cert = self.cert.clone();
        for i in intermediates {
            cert.push_str(&i.pem());
        }
        Client {
            cert,
            key: self.key.clone(),
        }
    }
}

/// When a certificate is valid, relative to now.
#[derive(Clone, Copy)]
enum Validity {
    Current,
    Expired,
    NotYetValid,
}

fn window(params: &mut CertificateParams, validity: Validity) {
    let now = OffsetDateTime::now_utc();
    let day = Duration::days(1);
    (params.not_before, params.not_after) = match validity {
        Validity::Current => (now - day, now + day * 30),
        Validity::Expired => (now - day * 10, now - day),
        Validity::NotYetValid => (now + day, now + day * 10),
    };
}

fn ca_params(name: &str, constraint: BasicConstraints) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(constraint);
    params.distinguished_name.push(DnType::CommonName, name);
    params
}

fn ca(name: &str) -> Issuer {
    root_ca(name, BasicConstraints::Unconstrained)
}

fn root_ca(name: &str, constraint: BasicConstraints) -> Issuer {
    let params = ca_params(name, constraint);
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("ca")
}

fn sub_ca(name: &str, issuer: &Issuer, customize: impl FnOnce(&mut CertificateParams)) -> Issuer {
    let mut params = ca_params(name, BasicConstraints::Unconstrained);
    customize(&mut params);
    CertifiedIssuer::signed_by(params, KeyPair::generate().expect("key"), issuer).expect("sub ca")
}

fn leaf_params(cn: &str, sans: &[&str], eku: ExtendedKeyUsagePurpose) -> CertificateParams {
    let mut params = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .expect("params");
    params.distinguished_name.push(DnType::CommonName, cn);
    params.extended_key_usages = vec![eku];
    params.use_authority_key_identifier_extension = true;
    window(&mut params, Validity::Current);
    params
}

fn issue(issuer: &Issuer, params: CertificateParams) -> Client {
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, issuer).expect("leaf");
    Client {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

fn leaf(issuer: &Issuer, cn: &str, sans: &[&str], eku: ExtendedKeyUsagePurpose) -> Client {
    issue(issuer, leaf_params(cn, sans, eku))
}

fn client_leaf(issuer: &Issuer, cn: &str, validity: Validity) -> Client {
    let mut params = leaf_params(cn, &[], ExtendedKeyUsagePurpose::ClientAuth);
    window(&mut params, validity);
    issue(issuer, params)
}

/// A self-signed clientAuth certificate (not a CA), for roles that pin it.
fn self_signed_client(cn: &str, validity: Validity) -> Client {
    let key = KeyPair::generate().expect("key");
    let mut params = leaf_params(cn, &[], ExtendedKeyUsagePurpose::ClientAuth);
    params.use_authority_key_identifier_extension = false;
    window(&mut params, validity);
    let cert = params.self_signed(&key).expect("self-signed");
    Client {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

fn crl_listing(issuer: &Issuer, serials: &[&[u8]]) -> String {
    let now = OffsetDateTime::now_utc();
    let params = CertificateRevocationListParams {
        this_update: now - Duration::hours(1),
        next_update: now + Duration::days(1),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: serials
            .iter()
            .map(|serial| RevokedCertParams {
                serial_number: SerialNumber::from_slice(serial),
                revocation_time: now - Duration::hours(1),
                reason_code: None,
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    };
    params
        .signed_by(issuer)
        .expect("crl")
        .pem()
        .expect("crl pem")
}

/// A vaultlet serving HTTPS only, initialized and unsealed, with cert auth
/// enabled at `auth/cert`.
struct CertVault {
    server: Server,
    dir: PathBuf,
    server_ca: String,
    root_token: String,
}

impl CertVault {
    fn start(name: &str) -> CertVault {
        let server_ca = ca("listener CA");
        let listener = leaf(
            &server_ca,
            "localhost",
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let dir = common::temp_dir(name);
        std::fs::write(dir.join("server.pem"), &listener.cert).expect("write");
        std::fs::write(dir.join("server-key.pem"), &listener.key).expect("write");
        let hcl = format!(
            "listener \"tcp\" {{\n  address = \"{LISTEN}\"\n  tls_cert_file = \"{0}/server.pem\"\n  tls_key_file = \"{0}/server-key.pem\"\n}}\nstorage \"inmem\" {{}}\n",
            dir.display()
        );
        let server = Server::with_config(&dir, &hcl);
        let mut vault = CertVault {
            server,
            dir,
            server_ca: server_ca.pem(),
            root_token: String::new(),
        };
        let (status, init) = vault.request(
            None,
            "PUT",
            "sys/init",
            None,
            Some(json!({"secret_shares": 1, "secret_threshold": 1})),
        );
        assert_eq!(status, 200, "{init}");
        vault.root_token = init["root_token"].as_str().expect("root").to_string();
        let key = init["keys"][0].as_str().expect("key");
        let unseal = Some(json!({"key": key}));
        assert_eq!(
            vault.request(None, "PUT", "sys/unseal", None, unseal).0,
            200
        );
        let cert = Some(json!({"type": "cert"}));
        assert_eq!(vault.admin("POST", "sys/auth/cert", cert).0, 204);
        vault
    }

    /// One HTTPS request over rustls, optionally with a client certificate.
    fn request(
        &self,
        client: Option<&Client>,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(self.server_ca.as_bytes()) {
            roots.add(cert.expect("ca pem")).expect("add root");
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots);
        let config = match client {
            Some(client) => {
                let certs: Vec<CertificateDer<'static>> =
                    CertificateDer::pem_slice_iter(client.cert.as_bytes())
                        .map(|c| c.expect("cert"))
                        .collect();
                let key = PrivateKeyDer::from_pem_slice(client.key.as_bytes()).expect("key");
                builder
                    .with_client_auth_cert(certs, key)
                    .expect("client auth")
            }
            None => builder.with_no_client_auth(),
        };
        let conn = rustls::ClientConnection::new(
            Arc::new(config),
            ServerName::try_from("localhost").expect("name"),
        )
        .expect("connection");
        let tcp = TcpStream::connect(&self.server.addr).expect("connect");
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let token_header = token
            .map(|t| format!("X-Vault-Token: {t}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "{method} /v1/{path} HTTP/1.1\r\nHost: localhost\r\n{token_header}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        tls.write_all(request.as_bytes()).expect("write");
        let mut response = Vec::new();
        let _ = tls.read_to_end(&mut response);
        let text = String::from_utf8_lossy(&response).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let json = text
            .split("\r\n\r\n")
            .nth(1)
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        (status, json)
    }

    /// A request with the root token and no client certificate.
    fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.request(None, method, path, Some(&self.root_token), body)
    }

    /// A role trusting `certificate` (a CA or a pinned leaf).
    fn trust(&self, role: &str, certificate: &str) {
        let body = Some(json!({"certificate": certificate}));
        let (status, reply) = self.admin("POST", &format!("auth/cert/certs/{role}"), body);
        assert_eq!(status, 204, "{reply}");
    }

    /// `auth/cert/login` presenting `client`, naming `role` if given.
    fn login(&self, client: &Client, role: Option<&str>) -> (u16, Value) {
        let body = role.map_or(json!({}), |r| json!({"name": r}));
        self.request(Some(client), "POST", "auth/cert/login", None, Some(body))
    }

    /// The login's single error, asserting it is a 400.
    fn refusal(&self, client: &Client, role: Option<&str>) -> String {
        let (status, body) = self.login(client, role);
        assert_eq!(status, 400, "{body}");
        body["errors"][0].as_str().expect("error").to_string()
    }
}

impl Drop for CertVault {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const UNTRUSTED: &str = "invalid certificate or no client certificate supplied";
const NO_MATCH: &str =
    "no chain matching all constraints could be found for this login certificate";
const VALIDITY: &str = "failed to verify client's certificate: x509: certificate has expired or is not yet valid: current time ";

#[test]
fn cert_login_accepts_a_client_certificate_from_the_trusted_ca_only() {
    let vault = CertVault::start("cert-auth");
    let client_ca = ca("test client CA");
    let (status, body) = vault.admin(
        "POST",
        "auth/cert/certs/cert-manager",
        Some(
            json!({"certificate": client_ca.pem(), "allowed_common_names": "cert-*", "token_policies": "cert-manager", "token_ttl": "1h", "display_name": "cm"}),
        ),
    );
    assert_eq!(status, 204, "{body}");
    let (_, role) = vault.admin("GET", "auth/cert/certs/cert-manager", None);
    assert_eq!(role["data"]["allowed_common_names"], json!(["cert-*"]));
    assert_eq!(role["data"]["token_ttl"], 3600);

    // No client certificate: the handshake still succeeds; the login says why it fails.
    let (status, body) = vault.request(
        None,
        "POST",
        "auth/cert/login",
        None,
        Some(json!({"name": "cert-manager"})),
    );
    assert_eq!(status, 400);
    assert_eq!(
        body["errors"],
        json!(["client certificate must be supplied"])
    );

    let client = leaf(
        &client_ca,
        "cert-manager",
        &["issuer.cert-manager.svc"],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let (status, body) = vault.login(&client, Some("cert-manager"));
    assert_eq!(status, 200, "{body}");
    let auth = &body["auth"];
    assert_eq!(auth["policies"], json!(["cert-manager", "default"]));
    assert_eq!(auth["lease_duration"], 3600);
    assert_eq!(auth["metadata"]["cert_name"], "cert-manager");
    assert_eq!(auth["metadata"]["common_name"], "cert-manager");
    let serial = auth["metadata"]["serial_number"].as_str().unwrap_or("");
    assert!(
        !serial.is_empty() && serial.bytes().all(|b| b.is_ascii_digit()),
        "decimal serial: {serial}"
    );
    assert!(auth["metadata"]["authority_key_id"]
        .as_str()
        .is_some_and(|k| k.contains(':')));
    let token = auth["client_token"].as_str().expect("token").to_string();
    let (_, me) = vault.request(None, "GET", "auth/token/lookup-self", Some(&token), None);
    assert_eq!(me["data"]["display_name"], "cert-cm");

    // The entity's alias is the common name; it takes the login's metadata
    // only once `enable_identity_alias_metadata` is set.
    let entity = auth["entity_id"].as_str().expect("entity").to_string();
    let alias = |vault: &CertVault| {
        let (_, e) = vault.admin("GET", &format!("identity/entity/id/{entity}"), None);
        e["data"]["aliases"][0].clone()
    };
    assert_eq!(alias(&vault)["name"], "cert-manager");
    assert_eq!(alias(&vault)["metadata"], Value::Null);
    vault.admin(
        "POST",
        "auth/cert/config",
        Some(json!({"enable_identity_alias_metadata": true})),
    );
    let (status, body) = vault.login(&client, Some("cert-manager"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["auth"]["entity_id"], entity.as_str());
    assert_eq!(alias(&vault)["metadata"], body["auth"]["metadata"]);

    // Without a name every role is tried.
    assert_eq!(vault.login(&client, None).0, 200);

    // A certificate from another CA is refused.
    let intruder = leaf(
        &ca("some other CA"),
        "intruder",
        &[],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    assert_eq!(vault.refusal(&intruder, None), UNTRUSTED);

    // A trusted certificate outside the role's constraints is refused differently.
    vault.admin(
        "POST",
        "auth/cert/certs/strict",
        Some(json!({"certificate": client_ca.pem(), "allowed_dns_sans": "*.example.com"})),
    );
    assert_eq!(vault.refusal(&client, Some("strict")), NO_MATCH);

    let (_, list) = vault.admin("LIST", "auth/cert/certs", None);
    assert_eq!(list["data"]["keys"], json!(["cert-manager", "strict"]));
}

#[test]
fn a_role_without_display_name_shows_its_own_name() {
    let vault = CertVault::start("cert-display-name");
    let client_ca = ca("client CA");
    vault.trust("Web", &client_ca.pem());
    let (_, role) = vault.admin("GET", "auth/cert/certs/web", None);
    assert_eq!(role["data"]["display_name"], "web");

    let client = client_leaf(&client_ca, "web client", Validity::Current);
    let (status, body) = vault.login(&client, Some("web"));
    assert_eq!(status, 200, "{body}");
    let token = body["auth"]["client_token"].as_str().expect("token");
    let (_, me) = vault.request(None, "GET", "auth/token/lookup-self", Some(token), None);
    assert_eq!(me["data"]["display_name"], "cert-web");
}

/// The deprecated `bound_cidrs` binds the tokens as `token_bound_cidrs`
/// does: a login from outside is refused.
#[test]
fn a_roles_deprecated_bound_cidrs_bind_its_logins() {
    let vault = CertVault::start("cert-bound-cidrs");
    let client_ca = ca("client CA");
    let client = client_leaf(&client_ca, "web client", Validity::Current);
    for (cidrs, allowed) in [("10.0.0.0/8", false), ("127.0.0.0/8", true)] {
        let body = json!({"certificate": client_ca.pem(), "bound_cidrs": cidrs});
        let (status, reply) = vault.admin("POST", "auth/cert/certs/web", Some(body));
        assert_eq!(status, 204, "{reply}");
        let (_, role) = vault.admin("GET", "auth/cert/certs/web", None);
        assert_eq!(role["data"]["token_bound_cidrs"], json!([cidrs]));
        let (status, body) = vault.login(&client, Some("web"));
        match allowed {
            true => assert_eq!(status, 200, "{body}"),
            false => assert_eq!(
                (status, body["errors"][0].as_str()),
                (403, Some("permission denied"))
            ),
        }
    }
}

#[test]
fn a_pinned_leaf_logs_in_only_inside_its_validity_period() {
    let vault = CertVault::start("cert-pinned");
    for (role, validity, refusal) in [
        ("current", Validity::Current, None),
        ("expired", Validity::Expired, Some(" is after ")),
        ("future", Validity::NotYetValid, Some(" is before ")),
    ] {
        let pinned = self_signed_client(role, validity);
        vault.trust(role, &pinned.cert);
        match refusal {
            None => assert_eq!(vault.login(&pinned, Some(role)).0, 200),
            Some(when) => {
                let error = vault.refusal(&pinned, Some(role));
                assert!(
                    error.starts_with(VALIDITY) && error.contains(when),
                    "{role}: {error}"
                );
                // Whichever role is asked, or none (the text names the
                // current time, which may have ticked on since).
                let unnamed = vault.refusal(&pinned, None);
                assert!(
                    unnamed.starts_with(VALIDITY) && unnamed.contains(when),
                    "{role}: {unnamed}"
                );
            }
        }
    }

    // A pinned certificate must itself allow client authentication.
    let server_only = {
        let key = KeyPair::generate().expect("key");
        let params = leaf_params("server", &[], ExtendedKeyUsagePurpose::ServerAuth);
        params.self_signed(&key).expect("cert").pem()
    };
    let (status, body) = vault.admin(
        "POST",
        "auth/cert/certs/server-only",
        Some(json!({"certificate": server_only})),
    );
    assert_eq!(status, 400);
    assert_eq!(
        body["errors"],
        json!([
            "nonCA certificates should have TLS client authentication set as an extended key usage"
        ])
    );
}

#[test]
fn a_chain_is_checked_at_every_link_as_go_verifies_it() {
    let vault = CertVault::start("cert-chain");
    let root = ca("client root");
    vault.trust("root", &root.pem());
    let good = sub_ca("good intermediate", &root, |_| {});
    assert_eq!(
        vault
            .login(
                &client_leaf(&good, "c", Validity::Current).with_chain(&[&good]),
                None
            )
            .0,
        200
    );

    // The leaf: validity and usage.
    let expired = client_leaf(&root, "expired", Validity::Expired);
    assert!(vault.refusal(&expired, None).starts_with(VALIDITY));
    let future = client_leaf(&root, "future", Validity::NotYetValid);
    assert!(vault.refusal(&future, None).contains(" is before "));
    let server_only = leaf(&root, "web", &[], ExtendedKeyUsagePurpose::ServerAuth);
    assert_eq!(
        vault.refusal(&server_only, None),
        "failed to verify client's certificate: x509: certificate specifies an incompatible key usage"
    );

    // An intermediate: validity, usage, and its right to sign.
    let expired_ca = sub_ca("expired intermediate", &root, |p| {
        window(p, Validity::Expired)
    });
    let chain = client_leaf(&expired_ca, "c", Validity::Current).with_chain(&[&expired_ca]);
    assert!(vault.refusal(&chain, None).contains(" is after "));
    let server_ca = sub_ca("server-only intermediate", &root, |p| {
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth]
    });
    let chain = client_leaf(&server_ca, "c", Validity::Current).with_chain(&[&server_ca]);
    assert!(vault
        .refusal(&chain, None)
        .ends_with("incompatible key usage"));
    let no_cert_sign = sub_ca("digital signature only", &root, |p| {
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature]
    });
    let chain = client_leaf(&no_cert_sign, "c", Validity::Current).with_chain(&[&no_cert_sign]);
    assert_eq!(vault.refusal(&chain, None), UNTRUSTED);

    // A certificate from a CA nobody trusts.
    let stranger = client_leaf(&ca("stranger"), "c", Validity::Current);
    assert_eq!(vault.refusal(&stranger, None), UNTRUSTED);
}

#[test]
fn the_trusted_root_path_length_limits_the_intermediates() {
    let vault = CertVault::start("cert-pathlen");
    let root = root_ca("root with pathlen 0", BasicConstraints::Constrained(0));
    vault.trust("pathlen", &root.pem());
    let direct = client_leaf(&root, "direct", Validity::Current);
    assert_eq!(vault.login(&direct, Some("pathlen")).0, 200);

    let sub = sub_ca("sub CA", &root, |_| {});
    let deep = client_leaf(&sub, "deep", Validity::Current).with_chain(&[&sub]);
    assert_eq!(
        vault.refusal(&deep, Some("pathlen")),
        "failed to verify client's certificate: x509: too many intermediates for path length constraint"
    );

    // An expired trusted root refuses everything below it.
    let old_root = {
        let mut params = ca_params("expired root", BasicConstraints::Unconstrained);
        window(&mut params, Validity::Expired);
        CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("ca")
    };
    vault.trust("old", &old_root.pem());
    let client = client_leaf(&old_root, "c", Validity::Current);
    assert!(vault.refusal(&client, Some("old")).contains(" is after "));
}

#[test]
fn a_crl_refuses_the_chains_it_lists_until_deleted() {
    let vault = CertVault::start("cert-crl");
    let root = ca("client root");
    vault.trust("root", &root.pem());
    let revoked = {
        let mut params = leaf_params("revoked", &[], ExtendedKeyUsagePurpose::ClientAuth);
        params.serial_number = Some(SerialNumber::from_slice(&[0x0a, 0xbc]));
        issue(&root, params)
    };
    let kept = client_leaf(&root, "kept", Validity::Current);
    assert_eq!(vault.login(&revoked, None).0, 200);

    let crl = crl_listing(&root, &[&[0x0a, 0xbc]]);
    let (status, body) = vault.admin("PUT", "auth/cert/crls/Root-CRL", Some(json!({"crl": crl})));
    assert_eq!(status, 204, "{body}");
    let (status, body) = vault.admin("GET", "auth/cert/crls/root-crl", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!({"serials": {"2748": {}}}));
    let (_, list) = vault.admin("LIST", "auth/cert/crls", None);
    assert_eq!(list["data"]["keys"], json!(["root-crl"]));

    assert_eq!(vault.refusal(&revoked, Some("root")), NO_MATCH);
    assert_eq!(vault.refusal(&revoked, None), NO_MATCH);
    assert_eq!(vault.login(&kept, None).0, 200);

    // A listed intermediate refuses the leaves below it.
    let sub = sub_ca("revoked intermediate", &root, |p| {
        p.serial_number = Some(SerialNumber::from_slice(&[0x77]))
    });
    let below = client_leaf(&sub, "below", Validity::Current).with_chain(&[&sub]);
    assert_eq!(vault.login(&below, None).0, 200);
    let crl = crl_listing(&root, &[&[0x77]]);
    vault.admin(
        "PUT",
        "auth/cert/crls/intermediates",
        Some(json!({"crl": crl})),
    );
    assert_eq!(vault.refusal(&below, None), NO_MATCH);

    assert_eq!(
        vault.admin("DELETE", "auth/cert/crls/root-crl", None).0,
        204
    );
    assert_eq!(vault.login(&revoked, None).0, 200);
    for method in ["GET", "DELETE"] {
        let (status, body) = vault.admin(method, "auth/cert/crls/root-crl", None);
        assert_eq!(status, 400);
        assert_eq!(body["errors"], json!(["no such CRL root-crl"]));
    }
    let (status, body) = vault.admin("PUT", "auth/cert/crls/empty", Some(json!({})));
    assert_eq!(status, 400);
    assert_eq!(
        body["errors"],
        json!(["one of 'crl' or 'url' must be provided"])
    );
    let (status, body) = vault.admin("PUT", "auth/cert/crls/bad", Some(json!({"crl": "x"})));
    assert_eq!(status, 400);
    assert!(body["errors"][0]
        .as_str()
        .is_some_and(|e| e.starts_with("failed to parse CRL: ")));
}

#[test]
fn a_crl_listing_a_pinned_certificate_refuses_it() {
    let vault = CertVault::start("cert-crl-pinned");
    let pinned = {
        let key = KeyPair::generate().expect("key");
        let mut params = leaf_params("pinned", &[], ExtendedKeyUsagePurpose::ClientAuth);
        params.serial_number = Some(SerialNumber::from_slice(&[0x51]));
        Client {
            cert: params.self_signed(&key).expect("cert").pem(),
            key: key.serialize_pem(),
        }
    };
    vault.trust("pinned", &pinned.cert);
    assert_eq!(vault.login(&pinned, None).0, 200);
    let crl = crl_listing(&ca("any issuer"), &[&[0x51]]);
    vault.admin("PUT", "auth/cert/crls/pinned", Some(json!({"crl": crl})));
    assert_eq!(vault.refusal(&pinned, None), UNTRUSTED);
}

#[test]
fn cert_login_needs_tls() {
    let server = Server::dev();
    assert_eq!(
        server
            .write("sys/auth/cert", json!({"type": "cert"}))
            .status,
        204
    );
    let r = server.send("POST", "auth/cert/login", None, Some(b"{}".to_vec()));
    assert_eq!(r.status, 400);
    assert_eq!(r.errors(), ["tls connection required"]);
}
