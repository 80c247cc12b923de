//! TLS listener and TLS certificate auth: the listener requests a client
//! certificate without demanding one, and `auth/cert/login` accepts a chain
//! that verifies to a role's CA and meets its constraints.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use common::Server;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{json, Value};

struct Pki {
    ca_pem: String,
    server_cert: String,
    server_key: String,
    client_cert: String,
    client_key: String,
    other_ca_pem: String,
    other_client_cert: String,
    other_client_key: String,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("ca")
}

fn leaf(
    issuer: &CertifiedIssuer<'static, KeyPair>,
    cn: &str,
    sans: &[&str],
    eku: ExtendedKeyUsagePurpose,
) -> (String, String) {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .expect("params");
    params.distinguished_name.push(DnType::CommonName, cn);
    params.extended_key_usages = vec![eku];
    params.use_authority_key_identifier_extension = true;
    let cert = params.signed_by(&key, issuer).expect("leaf");
    (cert.pem(), key.serialize_pem())
}

fn make_pki() -> Pki {
    let ca = ca("test client CA");
    let other = ca_named_other();
    let (server_cert, server_key) = leaf(
        &ca,
        "localhost",
        &["localhost", "127.0.0.1"],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client_cert, client_key) = leaf(
        &ca,
        "cert-manager",
        &["issuer.cert-manager.svc"],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let (other_client_cert, other_client_key) =
        leaf(&other, "intruder", &[], ExtendedKeyUsagePurpose::ClientAuth);
    Pki {
        ca_pem: ca.pem(),
        server_cert,
        server_key,
        client_cert,
        client_key,
        other_ca_pem: other.pem(),
        other_client_cert,
        other_client_key,
    }
}

fn ca_named_other() -> CertifiedIssuer<'static, KeyPair> {
    ca("some other CA")
}

/// One HTTPS request over rustls, optionally with a client certificate.
fn tls_request(
    addr: &str,
    ca_pem: &str,
    client: Option<(&str, &str)>,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("ca pem")).expect("add root");
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    let config = match client {
        Some((cert, key)) => {
            let certs: Vec<CertificateDer<'static>> =
                CertificateDer::pem_slice_iter(cert.as_bytes())
                    .map(|c| c.expect("cert"))
                    .collect();
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key");
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
    let tcp = TcpStream::connect(addr).expect("connect");
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

fn start_tls_server(dir: &Path, pki: &Pki) -> Server {
    std::fs::write(dir.join("server.pem"), &pki.server_cert).expect("write");
    std::fs::write(dir.join("server-key.pem"), &pki.server_key).expect("write");
    let hcl = format!(
        "listener \"tcp\" {{\n  address = \"{{addr}}\"\n  tls_cert_file = \"{0}/server.pem\"\n  tls_key_file = \"{0}/server-key.pem\"\n}}\nstorage \"inmem\" {{}}\n",
        dir.display()
    );
    Server::with_config(dir, &hcl)
}

#[test]
fn cert_login_accepts_a_client_certificate_from_the_trusted_ca_only() {
    let pki = make_pki();
    let dir = common::temp_dir("cert-auth");
    let server = start_tls_server(&dir, &pki);
    let addr = server.addr.clone();
    let req = |client: Option<(&str, &str)>,
               method: &str,
               path: &str,
               token: Option<&str>,
               body: Option<Value>| {
        tls_request(&addr, &pki.ca_pem, client, method, path, token, body)
    };

    let (status, init) = req(
        None,
        "PUT",
        "sys/init",
        None,
        Some(json!({"secret_shares": 1, "secret_threshold": 1})),
    );
    assert_eq!(status, 200, "{init}");
    let root = init["root_token"].as_str().expect("root").to_string();
    let key = init["keys"][0].as_str().expect("key").to_string();
    assert_eq!(
        req(None, "PUT", "sys/unseal", None, Some(json!({"key": key}))).0,
        200
    );
    assert_eq!(
        req(
            None,
            "POST",
            "sys/auth/cert",
            Some(&root),
            Some(json!({"type": "cert"}))
        )
        .0,
        204
    );
    let (status, body) = req(
        None,
        "POST",
        "auth/cert/certs/cert-manager",
        Some(&root),
        Some(
            json!({"certificate": pki.ca_pem, "allowed_common_names": "cert-*", "token_policies": "cert-manager", "token_ttl": "1h", "display_name": "cm"}),
        ),
    );
    assert_eq!(status, 204, "{body}");
    let (_, role) = req(
        None,
        "GET",
        "auth/cert/certs/cert-manager",
        Some(&root),
        None,
    );
    assert_eq!(role["data"]["allowed_common_names"], json!(["cert-*"]));
    assert_eq!(role["data"]["token_ttl"], 3600);

    // No client certificate: the handshake still succeeds; the login says why it fails.
    let (status, body) = req(
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

    let client = Some((pki.client_cert.as_str(), pki.client_key.as_str()));
    let (status, body) = req(
        client,
        "POST",
        "auth/cert/login",
        None,
        Some(json!({"name": "cert-manager"})),
    );
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
    let (_, me) = req(None, "GET", "auth/token/lookup-self", Some(&token), None);
    assert_eq!(me["data"]["display_name"], "cert-cm");

    // Without a name every role is tried.
    assert_eq!(
        req(client, "POST", "auth/cert/login", None, Some(json!({}))).0,
        200
    );

    // A certificate from another CA is refused.
    let intruder = Some((
        pki.other_client_cert.as_str(),
        pki.other_client_key.as_str(),
    ));
    let (status, body) = req(intruder, "POST", "auth/cert/login", None, Some(json!({})));
    assert_eq!(status, 400);
    assert_eq!(
        body["errors"],
        json!(["invalid certificate or no client certificate supplied"])
    );

    // A trusted certificate outside the role's constraints is refused differently.
    req(
        None,
        "POST",
        "auth/cert/certs/strict",
        Some(&root),
        Some(json!({"certificate": pki.ca_pem, "allowed_dns_sans": "*.example.com"})),
    );
    let (status, body) = req(
        client,
        "POST",
        "auth/cert/login",
        None,
        Some(json!({"name": "strict"})),
    );
    assert_eq!(status, 400);
    assert_eq!(
        body["errors"],
        json!(["no chain matching all constraints could be found for this login certificate"])
    );

    let (_, list) = req(None, "LIST", "auth/cert/certs", Some(&root), None);
    assert_eq!(list["data"]["keys"], json!(["cert-manager", "strict"]));
    assert!(!pki.other_ca_pem.is_empty());
    let _ = std::fs::remove_dir_all(dir);
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
