//! The PKI mount's ACME server (RFC 8555) through the real binary, with a
//! small JWS client (ES256 on aws-lc-rs): wire details and refusals as RFC
//! 8555 problems. Each check runs against vaultlet and, when `bao` is
//! installed, against OpenBao the same way; where vaultlet deliberately
//! differs (a 400 where OpenBao answers 500), the test says so.
//! certbot's full flows are in tests/acme/.

mod common;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{Reply, Server};
use serde_json::{json, Value};

/// Which server a check runs against.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Vaultlet,
    OpenBao,
}

/// Runs `check` on vaultlet and, when installed, on OpenBao.
fn on_both(check: impl Fn(&Server, Kind)) {
    let s = Server::dev();
    check(&s, Kind::Vaultlet);
    s.stop();
    if let Some(bao) = Server::openbao_dev() {
        check(&bao, Kind::OpenBao);
        bao.stop();
    }
}

/// A PKI mount `pki` with a root, a role `web` for example.com names, and
/// ACME enabled the documented way (cluster path, tuning, config/acme).
fn acme_mount(s: &Server) {
    assert!(s.write("sys/mounts/pki", json!({"type": "pki"})).status < 300);
    let root = s.write(
        "pki/root/generate/internal",
        json!({"common_name": "acme root", "key_type": "ec", "ttl": "720h"}),
    );
    assert_eq!(root.status, 200, "{:?}", root.json);
    let role =
        json!({"allowed_domains": "example.com", "allow_subdomains": true, "key_type": "any"});
    assert!(s.write("pki/roles/web", role).status < 300);
    let cluster = json!({"path": s.url("pki").trim_end_matches('/')});
    assert!(s.write("pki/config/cluster", cluster).status < 300);
    let tune = json!({"allowed_response_headers": ["Location", "Replay-Nonce", "Link"]});
    assert!(s.write("sys/mounts/pki/tune", tune).status < 300);
    let enabled = s.write("pki/config/acme", json!({"enabled": true}));
    assert_eq!(enabled.status, 200, "{:?}", enabled.json);
}

/// An ACME client: one P-256 key, and its account once registered.
struct Client<'a> {
    s: &'a Server,
    /// The directory prefix (`pki/acme/`, `pki/roles/web/acme/`).
    prefix: String,
    key: EcdsaKeyPair,
    kid: Option<String>,
}

impl<'a> Client<'a> {
    fn new(s: &'a Server, prefix: &str) -> Client<'a> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("key generation");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
            .expect("key");
        Client {
            s,
            prefix: prefix.into(),
            key,
            kid: None,
        }
    }

    fn url(&self, endpoint: &str) -> String {
        self.s.url(&format!("{}{endpoint}", self.prefix))
    }

    fn jwk(&self) -> Value {
        let point = self.key.public_key().as_ref();
        json!({
            "crv": "P-256",
            "kty": "EC",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        })
    }

    fn nonce(&self) -> String {
        let r = self
            .s
            .send("HEAD", &format!("{}new-nonce", self.prefix), None, None);
        assert_eq!(r.status, 200);
        r.header("replay-nonce").expect("Replay-Nonce").to_string()
    }

    /// A JWS body for `url`: by `kid` once registered, else by `jwk`.
    fn jws(&self, url: &str, nonce: &str, payload: Option<&Value>) -> Vec<u8> {
        let mut header = json!({"alg": "ES256", "nonce": nonce, "url": url});
        match &self.kid {
            Some(kid) => header["kid"] = json!(kid),
            None => header["jwk"] = self.jwk(),
        }
        let protected = URL_SAFE_NO_PAD.encode(header.to_string());
        let payload = payload
            .map(|p| URL_SAFE_NO_PAD.encode(p.to_string()))
            .unwrap_or_default();
        let rng = SystemRandom::new();
        let signature = self
            .key
            .sign(&rng, format!("{protected}.{payload}").as_bytes())
            .expect("sign");
        let body = json!({
            "protected": protected,
            "payload": payload,
            "signature": URL_SAFE_NO_PAD.encode(signature.as_ref()),
        });
        body.to_string().into_bytes()
    }

    fn post_raw(&self, endpoint: &str, body: Vec<u8>) -> Reply {
        let path = format!("{}{endpoint}", self.prefix);
        let headers = [("Content-Type", "application/jose+json")];
        self.s
            .send_with_headers("POST", &path, None, &headers, Some(body))
    }

    fn post(&self, endpoint: &str, payload: Option<&Value>) -> Reply {
        let body = self.jws(&self.url(endpoint), &self.nonce(), payload);
        self.post_raw(endpoint, body)
    }

    /// An `externalAccountBinding` over this client's key, MACed with
    /// `key` (the `key` new-eab gave) under `kid`, for `url`; `payload`
    /// replaces the signed JWK when given.
    fn binding(&self, kid: &str, key: &str, url: &str, payload: Option<&str>) -> Value {
        let header = json!({"alg": "HS256", "kid": kid, "url": url});
        self.binding_with(&header, key, payload)
    }

    fn binding_with(&self, header: &Value, key: &str, payload: Option<&str>) -> Value {
        let protected = URL_SAFE_NO_PAD.encode(header.to_string());
        let jwk = self.jwk().to_string();
        let payload = URL_SAFE_NO_PAD.encode(payload.unwrap_or(&jwk));
        let secret = URL_SAFE_NO_PAD.decode(key).expect("eab key");
        let mac = aws_lc_rs::hmac::sign(
            &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret),
            format!("{protected}.{payload}").as_bytes(),
        );
        json!({
            "protected": protected,
            "payload": payload,
            "signature": URL_SAFE_NO_PAD.encode(mac.as_ref()),
        })
    }

    fn register(&mut self) -> Reply {
        let r = self.post("new-account", Some(&json!({"termsOfServiceAgreed": true})));
        assert_eq!(r.status, 201, "{:?}", r.json);
        self.kid = r.header("location").map(str::to_string);
        r
    }
}

/// A CSR for `names` (base64url DER, as `finalize` takes it).
fn csr(names: &[&str]) -> String {
    let key = rcgen::KeyPair::generate().expect("key");
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let params = rcgen::CertificateParams::new(names).expect("params");
    let request = params.serialize_request(&key).expect("csr");
    URL_SAFE_NO_PAD.encode(request.der())
}

/// The problem type of an answer, after checking it is a problem document.
fn problem(r: &Reply) -> String {
    assert_eq!(r.content_type, "application/problem+json", "{:?}", r.json);
    r.json["type"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("urn:ietf:params:acme:error:")
        .to_string()
}

#[test]
fn a_disabled_mount_answers_a_bare_404() {
    on_both(|s, _| {
        assert!(s.write("sys/mounts/pki", json!({"type": "pki"})).status < 300);
        let r = s.send("GET", "pki/acme/directory", None, None);
        assert_eq!(r.status, 404);
        assert!(r.raw.is_empty());
    });
}

#[test]
fn directory_and_nonces() {
    on_both(|s, _| {
        acme_mount(s);
        let base = s.url("pki/acme/");
        let dir = s.send("GET", "pki/acme/directory", None, None);
        assert_eq!(dir.status, 200);
        assert_eq!(
            dir.json,
            json!({
                "keyChange": format!("{base}key-change"),
                "meta": {"externalAccountRequired": false},
                "newAccount": format!("{base}new-account"),
                "newNonce": format!("{base}new-nonce"),
                "newOrder": format!("{base}new-order"),
                "revokeCert": format!("{base}revoke-cert"),
            })
        );
        let head = s.send("HEAD", "pki/acme/new-nonce", None, None);
        let get = s.send("GET", "pki/acme/new-nonce", None, None);
        assert_eq!((head.status, get.status), (200, 204));
        for r in [&head, &get] {
            assert_eq!(r.header("cache-control"), Some("no-store"));
            assert!(r.header("replay-nonce").is_some_and(|n| n.len() >= 22));
            let index = format!("<{base}directory>;rel=\"index\"");
            assert_eq!(r.header("link"), Some(index.as_str()));
        }
        for dir in [
            "issuer/default/acme",
            "roles/web/acme",
            "issuer/default/roles/web/acme",
        ] {
            let r = s.send("GET", &format!("pki/{dir}/directory"), None, None);
            assert_eq!(r.status, 200, "{dir}");
            let want = s.url(&format!("pki/{dir}/new-order"));
            assert_eq!(r.json["newOrder"], json!(want));
        }
    });
}

/// Vault lists `keyChange` in the directory and among the unauthenticated
/// paths but serves nothing there: a rollover gets 404 whatever it
/// carries, where an unknown PKI path without a token gets 403.
#[test]
fn key_change_is_advertised_but_not_served() {
    on_both(|s, _| {
        acme_mount(s);
        for dir in [
            "acme",
            "issuer/default/acme",
            "roles/web/acme",
            "issuer/default/roles/web/acme",
        ] {
            let jws = br#"{"protected":"e30","payload":"","signature":""}"#.to_vec();
            let r = s.send("POST", &format!("pki/{dir}/key-change"), None, Some(jws));
            assert_eq!(r.status, 404, "{dir}: {:?}", r.json);
        }
        let other = s.send("POST", "pki/acme/key-changes", None, Some(b"{}".to_vec()));
        assert_eq!(other.status, 403, "{:?}", other.json);
    });
}

/// Vault's mount-tuning rule: headers a backend sets reach the client only
/// when `allowed_response_headers` names them.
#[test]
fn an_untuned_mount_drops_the_acme_headers() {
    on_both(|s, _| {
        acme_mount(s);
        let tune = json!({"allowed_response_headers": ["Location"]});
        assert!(s.write("sys/mounts/pki/tune", tune).status < 300);
        let r = s.send("HEAD", "pki/acme/new-nonce", None, None);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("replay-nonce"), None);
        assert_eq!(r.header("link"), None);
    });
}

#[test]
fn accounts_are_created_once_per_key() {
    on_both(|s, _| {
        acme_mount(s);
        let mut c = Client::new(s, "pki/acme/");
        let lookup = json!({"onlyReturnExisting": true});
        let unknown = c.post("new-account", Some(&lookup));
        assert_eq!(
            (unknown.status, problem(&unknown).as_str()),
            (400, "accountDoesNotExist")
        );
        let created = c.register();
        assert_eq!(created.json["status"], "valid");
        let location = created.header("location").map(str::to_string);
        c.kid = None;
        let again = c.post("new-account", Some(&json!({})));
        assert_eq!(again.status, 200);
        assert_eq!(again.header("location").map(str::to_string), location);
        let existing = c.post("new-account", Some(&lookup));
        assert_eq!(existing.status, 200);

        c.kid = location;
        let with_kid = c.post("new-account", Some(&json!({})));
        assert_eq!(
            (with_kid.status, problem(&with_kid).as_str()),
            (400, "malformed")
        );
    });
}

#[test]
fn replayed_nonces_wrong_urls_and_bad_signatures_are_refused() {
    on_both(|s, kind| {
        acme_mount(s);
        let c = Client::new(s, "pki/acme/");
        let nonce = c.nonce();
        let body = c.jws(&c.url("new-account"), &nonce, Some(&json!({})));
        assert_eq!(c.post_raw("new-account", body.clone()).status, 201);
        let replayed = c.post_raw("new-account", body);
        assert_eq!(
            (replayed.status, problem(&replayed).as_str()),
            (400, "badNonce")
        );
        assert_eq!(
            replayed.json["detail"],
            "invalid or reused nonce: the client sent an unacceptable anti-replay nonce"
        );

        let elsewhere = c.jws(&c.url("new-order"), &c.nonce(), Some(&json!({})));
        let wrong_url = c.post_raw("new-account", elsewhere);
        assert_eq!(
            (wrong_url.status, problem(&wrong_url).as_str()),
            (401, "unauthorized")
        );

        let signed = c.jws(&c.url("new-account"), &c.nonce(), Some(&json!({})));
        let mut body: Value = serde_json::from_slice(&signed).expect("json");
        body["signature"] = json!(URL_SAFE_NO_PAD.encode([7u8; 64]));
        let forged = c.post_raw("new-account", body.to_string().into_bytes());
        match kind {
            Kind::Vaultlet => assert_eq!(
                (forged.status, problem(&forged).as_str()),
                (400, "malformed")
            ),
            // OpenBao passes go-jose's error through as serverInternal.
            Kind::OpenBao => assert!(forged.status >= 400, "{:?}", forged.json),
        }

        let neither = json!({"protected": URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256"}"#), "payload": "", "signature": ""});
        let r = c.post_raw("new-account", neither.to_string().into_bytes());
        assert_eq!((r.status, problem(&r).as_str()), (400, "malformed"));
    });
}

#[test]
fn orders_follow_the_role_and_authorizations_their_identifier() {
    on_both(|s, kind| {
        acme_mount(s);
        let mut c = Client::new(s, "pki/roles/web/acme/");
        c.register();
        let outside = json!({"identifiers": [{"type": "dns", "value": "www.evil.test"}]});
        let refused = c.post("new-order", Some(&outside));
        assert_eq!(
            (refused.status, problem(&refused).as_str()),
            (400, "rejectedIdentifier")
        );
        let email = json!({"identifiers": [{"type": "email", "value": "a@example.com"}]});
        let unsupported = c.post("new-order", Some(&email));
        assert_eq!(
            (unsupported.status, problem(&unsupported).as_str()),
            (400, "unsupportedIdentifier")
        );
        let dated = json!({"identifiers": [{"type": "dns", "value": "a.example.com"}], "notAfter": "2030-01-01T00:00:00Z"});
        let r = c.post("new-order", Some(&dated));
        assert_eq!((r.status, problem(&r).as_str()), (400, "malformed"));

        let names = json!({"identifiers": [
            {"type": "dns", "value": "*.example.com"},
            {"type": "dns", "value": "www.example.com"},
        ]});
        let order = c.post("new-order", Some(&names));
        assert_eq!(order.status, 201, "{:?}", order.json);
        assert_eq!(order.json["status"], "pending");
        if kind == Kind::Vaultlet {
            // Only the accepted order is counted.
            let scrape = s.send("GET", "sys/metrics?format=prometheus", None, None);
            let scrape = String::from_utf8_lossy(&scrape.raw).into_owned();
            let created =
                "vaultlet_pki_acme_orders_total{mount_point=\"pki/\",outcome=\"created\"} 1";
            assert!(scrape.lines().any(|l| l == created), "{scrape}");
            assert!(!scrape.contains("outcome=\"finalized\""), "{scrape}");
        }
        let location = order.header("location").expect("Location").to_string();
        assert!(location.starts_with(&c.url("order/")));
        let finalize = order.json["finalize"]
            .as_str()
            .expect("finalize")
            .to_string();
        let authz: Vec<String> = order.json["authorizations"]
            .as_array()
            .expect("authorizations")
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect();
        assert_eq!(authz.len(), 2);
        let mut seen = Vec::new();
        for url in &authz {
            let endpoint = url.trim_start_matches(&c.url(""));
            let a = c.post(endpoint, None);
            assert_eq!(a.status, 200, "{:?}", a.json);
            let types: Vec<&str> = a.json["challenges"]
                .as_array()
                .expect("challenges")
                .iter()
                .filter_map(|ch| ch["type"].as_str())
                .collect();
            seen.push((
                a.json["identifier"]["value"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                a.json["wildcard"].as_bool().unwrap_or(false),
                types.contains(&"http-01"),
                types.contains(&"dns-01"),
            ));
        }
        // Answering a challenge starts validation in the background: the
        // answer is `processing` at once (www.example.com is not served
        // here, so it stays that way while retries run).
        let www = authz
            .iter()
            .find(|url| {
                let a = c.post(url.trim_start_matches(&c.url("")), None);
                a.json["identifier"]["value"] == "www.example.com"
            })
            .expect("www authorization");
        let id = www.rsplit('/').next().expect("id");
        let answered = c.post(&format!("challenge/{id}/http-01"), Some(&json!({})));
        assert_eq!(answered.status, 200, "{:?}", answered.json);
        assert_eq!(answered.json["status"], "processing");
        let up = format!("<{www}>;rel=\"up\"");
        assert!(
            answered.header("link").is_some_and(|l| l.contains(&up)),
            "{:?}",
            answered.headers
        );
        let unknown = c.post(&format!("challenge/{id}/tls-alpn-02"), Some(&json!({})));
        assert_eq!(
            (unknown.status, problem(&unknown).as_str()),
            (400, "malformed")
        );
        seen.sort();
        assert_eq!(
            seen,
            vec![
                ("example.com".to_string(), true, false, true),
                ("www.example.com".to_string(), false, true, true),
            ]
        );

        let endpoint = finalize.trim_start_matches(&c.url(""));
        let garbage = c.post(endpoint, Some(&json!({"csr": "AAAA"})));
        assert_eq!(
            (garbage.status, problem(&garbage).as_str()),
            (400, "malformed")
        );
        let names = ["*.example.com", "www.example.com"];
        let early = c.post(endpoint, Some(&json!({"csr": csr(&names)})));
        assert_eq!(
            (early.status, problem(&early).as_str()),
            (403, "orderNotReady"),
            "{kind:?} {:?}",
            early.json
        );
    });
}

#[test]
fn unknown_and_deactivated_accounts_are_refused() {
    on_both(|s, _| {
        acme_mount(s);
        let mut ghost = Client::new(s, "pki/acme/");
        ghost.kid = Some(ghost.url("account/00000000-0000-0000-0000-000000000000"));
        let r = ghost.post("new-order", Some(&json!({"identifiers": []})));
        assert_eq!(
            (r.status, problem(&r).as_str()),
            (400, "accountDoesNotExist")
        );

        let mut c = Client::new(s, "pki/acme/");
        c.register();
        let kid = c.kid.clone().expect("kid");
        let id = kid.rsplit('/').next().expect("id").to_string();
        let off = c.post(
            &format!("account/{id}"),
            Some(&json!({"status": "deactivated"})),
        );
        assert_eq!(off.status, 200, "{:?}", off.json);
        assert_eq!(off.json["status"], "deactivated");
        let names = json!({"identifiers": [{"type": "dns", "value": "a.example.com"}]});
        let r = c.post("new-order", Some(&names));
        assert_eq!((r.status, problem(&r).as_str()), (401, "unauthorized"));
    });
}

#[test]
fn new_accounts_need_a_binding_when_the_policy_says_so() {
    on_both(|s, _| {
        acme_mount(s);
        let policy = json!({"eab_policy": "new-account-required"});
        assert_eq!(s.write("pki/config/acme", policy).status, 200);
        let dir = s.send("GET", "pki/acme/directory", None, None);
        assert_eq!(dir.json["meta"]["externalAccountRequired"], true);
        let c = Client::new(s, "pki/acme/");
        let r = c.post("new-account", Some(&json!({"termsOfServiceAgreed": true})));
        assert_eq!(
            (r.status, problem(&r).as_str()),
            (401, "externalAccountRequired")
        );
        assert_eq!(
            r.json["detail"],
            "the request must include a value for the 'externalAccountBinding' field"
        );
    });
}

/// A tls-alpn-01 responder (RFC 8737) on loopback port 443: it answers
/// every handshake offering `acme-tls/1` with one self-signed certificate
/// for `name` whose acmeIdentifier holds SHA-256 of `key_authorization`.
struct AlpnResponder {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AlpnResponder {
    fn start(name: &str, key_authorization: &str) -> AlpnResponder {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;

        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).expect("params");
        let sha =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key_authorization.as_bytes());
        params
            .custom_extensions
            .push(rcgen::CustomExtension::new_acme_identifier(sha.as_ref()));
        let cert = params.self_signed(&key).expect("certificate");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        // Not `with_single_cert`: it refuses the acmeIdentifier extension
        // (critical, unknown to webpki).
        let signing_key = provider
            .key_provider
            .load_private_key(rustls::pki_types::PrivateKeyDer::Pkcs8(
                key.serialize_der().into(),
            ))
            .expect("signing key");
        let certified = rustls::sign::CertifiedKey::new(vec![cert.der().clone()], signing_key);
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(OneCertificate(Arc::new(certified))));
        config.alpn_protocols = vec![b"acme-tls/1".to_vec()];
        let config = Arc::new(config);
        let listener =
            std::net::TcpListener::bind("127.0.0.1:443").expect("bind 127.0.0.1:443 (root)");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            for tcp in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut tcp) = tcp else { continue };
                let _ = tcp.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let Ok(mut conn) = rustls::ServerConnection::new(config.clone()) else {
                    continue;
                };
                while conn.is_handshaking() {
                    if conn.complete_io(&mut tcp).is_err() {
                        break;
                    }
                }
                let _ = conn.complete_io(&mut tcp);
            }
        });
        AlpnResponder {
            stop,
            thread: Some(thread),
        }
    }
}

#[derive(Debug)]
struct OneCertificate(std::sync::Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for OneCertificate {
    fn resolve(
        &self,
        _: rustls::server::ClientHello<'_>,
    ) -> Option<std::sync::Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

impl Drop for AlpnResponder {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = std::net::TcpStream::connect("127.0.0.1:443");
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Client<'_> {
    /// RFC 7638 thumbprint of the account key (`jwk()` keeps the members
    /// in the canonical order).
    fn thumbprint(&self) -> String {
        let text = self.jwk().to_string();
        URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            text.as_bytes(),
        ))
    }

    /// The one authorization of an order for `name`: its endpoint and the
    /// token of its `kind` challenge.
    fn order_for(&self, name: &str, kind: &str) -> (String, String) {
        let names = json!({"identifiers": [{"type": "dns", "value": name}]});
        let order = self.post("new-order", Some(&names));
        assert_eq!(order.status, 201, "{:?}", order.json);
        let url = order.json["authorizations"][0]
            .as_str()
            .expect("authorization");
        let endpoint = url.trim_start_matches(&self.url("")).to_string();
        let authz = self.post(&endpoint, None);
        let token = authz.json["challenges"]
            .as_array()
            .expect("challenges")
            .iter()
            .find(|c| c["type"] == kind)
            .and_then(|c| c["token"].as_str())
            .unwrap_or_else(|| panic!("no {kind} in {:?}", authz.json))
            .to_string();
        (endpoint, token)
    }

    /// Polls an authorization until `done` holds for it (bounded).
    fn await_authz(&self, endpoint: &str, done: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        for _ in 0..300 {
            last = self.post(endpoint, None).json;
            if done(&last) {
                return last;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("authorization {endpoint} never got there: {last}");
    }
}

/// tls-alpn-01 (RFC 8737): the server dials port 443 of the name with
/// ALPN `acme-tls/1` and accepts the self-signed certificate that proves
/// the key authorization; a certificate for another key authorization
/// leaves the challenge unproven with an `incorrectResponse` error.
#[test]
fn tls_alpn_01_is_validated_on_port_443() {
    on_both(|s, kind| {
        acme_mount(s);
        let mut c = Client::new(s, "pki/acme/");
        c.register();
        let (authz, token) = c.order_for("localhost", "tls-alpn-01");
        let responder = AlpnResponder::start("localhost", &format!("{token}.{}", c.thumbprint()));
        let id = authz.rsplit('/').next().expect("id");
        let answered = c.post(&format!("challenge/{id}/tls-alpn-01"), Some(&json!({})));
        assert_eq!(answered.status, 200, "{:?}", answered.json);
        let valid = c.await_authz(&authz, |a| a["status"] != "pending");
        assert_eq!(valid["status"], "valid", "{valid:?}");

        if kind == Kind::Vaultlet {
            // A new order has a new token: the responder's certificate no
            // longer proves it. (OpenBao records the error only once its
            // retries are spent, about two minutes later.)
            let (authz, _) = c.order_for("localhost", "tls-alpn-01");
            let id = authz.rsplit('/').next().expect("id");
            c.post(&format!("challenge/{id}/tls-alpn-01"), Some(&json!({})));
            let failed = c.await_authz(&authz, |a| {
                a["challenges"]
                    .as_array()
                    .is_some_and(|cs| cs.iter().any(|c| c.get("error").is_some()))
            });
            assert_ne!(failed["status"], "valid");
            let challenge = failed["challenges"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["type"] == "tls-alpn-01"))
                .expect("challenge");
            assert_eq!(
                challenge["error"]["type"],
                "urn:ietf:params:acme:error:incorrectResponse"
            );
            let detail = challenge["error"]["detail"].as_str().unwrap_or_default();
            assert!(detail.contains("invalid key authorization"), "{detail}");
        }
        drop(responder);
    });
}

/// An EAB key from `new-eab` under `dir` (`acme`, `roles/web/acme`):
/// its id and key.
fn new_eab(s: &Server, dir: &str) -> (String, String) {
    let r = s.write(&format!("pki/{dir}/new-eab"), json!({}));
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.data("key_type"), "hs");
    assert_eq!(r.data("acme_directory"), &json!(format!("{dir}/directory")));
    let key = r.data("key").as_str().expect("key").to_string();
    assert!(key.starts_with("vault-eab-0-"), "{key}");
    assert_eq!(URL_SAFE_NO_PAD.decode(&key).map(|k| k.len()).ok(), Some(41));
    let id = r.data("id").as_str().expect("id").to_string();
    (id, key)
}

#[test]
fn eab_keys_are_minted_per_directory_listed_until_used_and_deleted() {
    on_both(|s, _| {
        acme_mount(s);
        let (web, _) = new_eab(s, "roles/web/acme");
        let (default, _) = new_eab(s, "acme");
        new_eab(s, "issuer/default/roles/web/acme");
        new_eab(s, "issuer/default/acme");
        let listed = s.list("pki/eab");
        assert_eq!(listed.status, 200);
        let keys = listed.data("keys").as_array().expect("keys").len();
        assert_eq!(keys, 4);
        let info = &listed.data("key_info")[&web];
        assert_eq!(info["acme_directory"], "roles/web/acme/directory");
        assert_eq!(info["key_type"], "hs");
        assert!(info["created_on"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')));
        assert!(info.get("key").is_none());

        let gone = s.delete(&format!("pki/eab/{default}"));
        assert_eq!(gone.status, 200, "{:?}", gone.json);
        assert!(gone.warnings().is_empty());
        let again = s.delete(&format!("pki/eab/{default}"));
        assert_eq!(again.status, 200);
        assert_eq!(
            again.warnings(),
            vec![format!("No key id found with id: {default}")]
        );
        assert_eq!(s.delete("pki/eab/not-a-uuid").status, 404);
        let unauthenticated = s.send("POST", "pki/acme/new-eab", None, Some(b"{}".to_vec()));
        assert_eq!(unauthenticated.status, 403);
    });
}

#[test]
fn bindings_are_checked_on_new_account_and_spent_once() {
    on_both(|s, kind| {
        acme_mount(s);
        let policy = json!({"eab_policy": "always-required"});
        assert_eq!(s.write("pki/config/acme", policy).status, 200);
        let (id, key) = new_eab(s, "roles/web/acme");
        let (other_dir, other_dir_key) = new_eab(s, "acme");
        let mut c = Client::new(s, "pki/roles/web/acme/");
        let url = c.url("new-account");
        let account = |binding: Value| {
            c.post(
                "new-account",
                Some(&json!({"termsOfServiceAgreed": true, "externalAccountBinding": binding})),
            )
        };
        let refused = |r: &Reply, status: u16, kind: &str, detail: &str| {
            assert_eq!(
                (r.status, problem(r).as_str()),
                (status, kind),
                "{:?}",
                r.json
            );
            assert_eq!(r.json["detail"], detail);
        };

        let r = account(c.binding(&other_dir, &other_dir_key, &url, None));
        let unverified = "the client lacks sufficient authorization: failed to verify eab";
        refused(&r, 401, "unauthorized", unverified);
        let unknown = "00000000-0000-0000-0000-000000000000";
        refused(
            &account(c.binding(unknown, &key, &url, None)),
            401,
            "unauthorized",
            unverified,
        );
        let r = account(c.binding(&id, &key, &url, Some(r#"{"kty":"EC"}"#)));
        let mismatch =
            "eab payload does not match outer JWK key: the request message was malformed";
        refused(&r, 400, "malformed", mismatch);
        let elsewhere = c.url("new-order");
        let r = account(c.binding(&id, &key, &elsewhere, None));
        let wrong_url = format!("invalid value for 'url' in eab 'protected': got '{elsewhere}' expected '{url}': the client lacks sufficient authorization");
        refused(&r, 401, "unauthorized", &wrong_url);
        let with_nonce = json!({"alg": "HS256", "kid": id, "url": url, "nonce": c.nonce()});
        let r = account(c.binding_with(&with_nonce, &key, None));
        let nonce =
            "nonce should not be provided in eab 'protected': the request message was malformed";
        refused(&r, 400, "malformed", nonce);
        let signed_by_es256 = json!({"alg": "ES256", "kid": id, "url": url});
        let r = account(c.binding_with(&signed_by_es256, &key, None));
        assert_eq!((r.status, problem(&r).as_str()), (400, "malformed"));
        let wrong_mac = account(c.binding(&id, &other_dir_key, &url, None));
        match kind {
            Kind::Vaultlet => refused(&wrong_mac, 401, "unauthorized", unverified),
            // OpenBao passes go-jose's MAC error through as serverInternal.
            Kind::OpenBao => assert!(wrong_mac.status >= 400, "{:?}", wrong_mac.json),
        }

        let created = account(c.binding(&id, &key, &url, None));
        assert_eq!(created.status, 201, "{:?}", created.json);
        assert_eq!(
            created.json["externalAccountBinding"],
            c.binding(&id, &key, &url, None)
        );
        c.kid = created.header("location").map(str::to_string);
        let names = json!({"identifiers": [{"type": "dns", "value": "a.example.com"}]});
        assert_eq!(c.post("new-order", Some(&names)).status, 201);
        let keys = s.list("pki/eab");
        assert!(!keys.json.to_string().contains(&id), "{:?}", keys.json);

        let d = Client::new(s, "pki/roles/web/acme/");
        let reused = d.post(
            "new-account",
            Some(&json!({"externalAccountBinding": d.binding(&id, &key, &url, None)})),
        );
        refused(&reused, 401, "unauthorized", unverified);

        // An account made before the policy asked for bindings is refused
        // once it is `always-required`, and kept under
        // `new-account-required`.
        let policy = json!({"eab_policy": "not-required"});
        assert_eq!(s.write("pki/config/acme", policy).status, 200);
        let mut unbound = Client::new(s, "pki/roles/web/acme/");
        unbound.register();
        let policy = json!({"eab_policy": "new-account-required"});
        assert_eq!(s.write("pki/config/acme", policy).status, 200);
        assert_eq!(unbound.post("new-order", Some(&names)).status, 201);
        let policy = json!({"eab_policy": "always-required"});
        assert_eq!(s.write("pki/config/acme", policy).status, 200);
        let r = unbound.post("new-order", Some(&names));
        assert_eq!(
            (r.status, problem(&r).as_str()),
            (401, "externalAccountRequired")
        );
        assert_eq!(c.post("new-order", Some(&names)).status, 201);
    });
}

/// `config/acme` checks, with the messages OpenBao gives; vaultlet answers
/// 400 where OpenBao answers 500.
#[test]
fn config_acme_refuses_what_cannot_work() {
    on_both(|s, kind| {
        assert!(s.write("sys/mounts/pki", json!({"type": "pki"})).status < 300);
        let bad_status = if kind == Kind::Vaultlet { 400 } else { 500 };
        let r = s.write("pki/config/acme", json!({"enabled": true}));
        assert_eq!(r.status, bad_status);
        assert!(r.errors()[0]
            .contains("ACME feature requires local cluster 'path' field configuration to be set"));
        let cluster = json!({"path": s.url("pki").trim_end_matches('/')});
        assert!(s.write("pki/config/cluster", cluster).status < 300);
        for (resolver, message) in [
            ("localhost", "address localhost: missing port in address"),
            (
                "localhost:53",
                "expected IPv4/IPv6 address, likely got hostname",
            ),
        ] {
            let r = s.write("pki/config/acme", json!({"dns_resolver": resolver}));
            assert_eq!(r.status, bad_status, "{resolver}");
            assert!(r.errors()[0].contains(message), "{:?}", r.errors());
        }
        let r = s.write(
            "pki/config/acme",
            json!({"default_directory_policy": "bogus"}),
        );
        assert_eq!(r.status, bad_status);
        let r = s.write(
            "pki/config/acme",
            json!({"enabled": true, "dns_resolver": "127.0.0.1:53"}),
        );
        assert_eq!(r.status, 200);
        let read = s.read("pki/config/acme");
        assert_eq!(read.data("enabled"), &json!(true));
        assert_eq!(read.data("dns_resolver"), &json!("127.0.0.1:53"));
        assert_eq!(
            read.data("default_directory_policy"),
            &json!("sign-verbatim")
        );
    });
}

/// Runs `pki/tidy` with `body` and waits for it to finish; its status.
fn tidy(s: &Server, body: Value) -> Value {
    let r = s.write("pki/tidy", body);
    assert_eq!(r.status, 202, "{:?}", r.json);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let status = s.read("pki/tidy-status").json["data"].clone();
        if status["state"] == json!("Finished") {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "tidy did not finish: {status:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The ACME counters of a tidy status; `total_acme_account_count` (Vault:
/// accounts iterated over) only for vaultlet, as OpenBao 2.7.2 reports 0.
fn acme_counts(status: &Value, kind: Kind) -> [Value; 4] {
    let mut counts = [
        "acme_account_revoked_count",
        "acme_account_deleted_count",
        "acme_orders_deleted_count",
        "total_acme_account_count",
    ]
    .map(|k| status[k].clone());
    if kind == Kind::OpenBao {
        counts[3] = Value::Null;
    }
    counts
}

/// `tidy_acme` with Vault's lifetimes: a valid account with no orders is
/// revoked once `acme_account_safety_buffer` old, a revoked or deactivated
/// one deleted a buffer after its status changed; an account with a
/// pending (unexpired) order stays, and so does its order.
#[test]
fn tidy_acme_revokes_then_deletes_idle_accounts() {
    on_both(|s, kind| {
        acme_mount(s);
        let mut idle = Client::new(s, "pki/acme/");
        idle.register();
        let mut busy = Client::new(s, "pki/acme/");
        busy.register();
        let names = json!({"identifiers": [{"type": "dns", "value": "a.example.com"}]});
        assert_eq!(busy.post("new-order", Some(&names)).status, 201);
        let mut gone = Client::new(s, "pki/acme/");
        gone.register();
        let kid = gone.kid.clone().expect("kid");
        let id = kid.rsplit('/').next().expect("id").to_string();
        let off = gone.post(
            &format!("account/{id}"),
            Some(&json!({"status": "deactivated"})),
        );
        assert_eq!(off.status, 200, "{:?}", off.json);

        let buffers =
            json!({"tidy_acme": true, "acme_account_safety_buffer": "1s", "safety_buffer": "1s"});
        std::thread::sleep(std::time::Duration::from_millis(2100));
        let first = tidy(s, buffers.clone());
        assert_eq!(
            acme_counts(&first, kind),
            [
                json!(1),
                json!(1),
                json!(0),
                if kind == Kind::Vaultlet {
                    json!(3)
                } else {
                    Value::Null
                }
            ],
            "{kind:?} {first:?}"
        );
        let r = idle.post("new-order", Some(&names));
        assert_eq!(
            (r.status, problem(&r).as_str()),
            (401, "unauthorized"),
            "{kind:?}: a revoked account is refused"
        );
        assert_eq!(busy.post("new-order", Some(&names)).status, 201);

        std::thread::sleep(std::time::Duration::from_millis(2100));
        let second = tidy(s, buffers);
        assert_eq!(
            acme_counts(&second, kind),
            [
                json!(0),
                json!(1),
                json!(0),
                if kind == Kind::Vaultlet {
                    json!(2)
                } else {
                    Value::Null
                }
            ],
            "{kind:?} {second:?}"
        );
        let r = idle.post("new-order", Some(&names));
        assert_eq!(
            (r.status, problem(&r).as_str()),
            (400, "accountDoesNotExist"),
            "{kind:?}: a deleted account is unknown"
        );
    });
}
