//! Challenge validation, in the background on tokio tasks (never on a
//! request's worker): http-01 (RFC 8555 §8.3), dns-01 (RFC 8555 §8.4) and
//! tls-alpn-01 (RFC 8737, DNS names only, as Vault), retried
//! as Vault retries (after 5, 10, 15, 20, 25 and 30 seconds; the seventh
//! failure makes the challenge and its authorization invalid).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::problem::{Kind, Problem};
use super::state::{self, Status};
use super::AcmeState;
use crate::storage::StorageView;

/// Failed attempts before a challenge is given up.
const MAX_ATTEMPTS: u32 = 7;
/// A valid authorization lasts this long.
const AUTHZ_LIFETIME: i64 = 15 * 24 * 3600;
const TIMEOUT: Duration = Duration::from_secs(10);
/// The longest http-01 body read.
const MAX_BODY: usize = 512;

/// What one validation needs to know.
pub struct Job {
    pub storage: StorageView,
    pub account: String,
    pub authz: String,
    pub kind: String,
    /// `token.thumbprint`.
    pub key_authorization: String,
    pub token: String,
    /// The name or IP, without a wildcard's `*.`.
    pub identifier: String,
    pub resolver: Option<SocketAddr>,
}

/// Starts validating in the background.
pub fn spawn(acme: Arc<AcmeState>, job: Job) {
    tokio::spawn(async move {
        let mut attempt = 0;
        loop {
            let outcome = attempt_once(&job).await;
            let done = record(&acme, &job, outcome, &mut attempt).await;
            match done {
                Ok(true) | Err(_) => break,
                Ok(false) => tokio::time::sleep(Duration::from_secs(5 * u64::from(attempt))).await,
            }
        }
    });
}

async fn attempt_once(job: &Job) -> Result<(), Problem> {
    match job.kind.as_str() {
        "http-01" => http_01(job).await,
        "dns-01" => dns_01(job).await,
        "tls-alpn-01" => tls_alpn_01(job).await,
        other => Err(Problem::internal(format!("no validator for {other}"))),
    }
}

/// Stores the outcome; `Ok(true)` once the challenge is final.
async fn record(
    acme: &AcmeState,
    job: &Job,
    outcome: Result<(), Problem>,
    attempt: &mut u32,
) -> Result<bool, Problem> {
    let _guard = acme.lock.lock().await;
    let mut authz = state::authorization(&job.storage, &job.account, &job.authz).await?;
    if authz.status != Status::Pending {
        return Ok(true);
    }
    let Some(challenge) = authz.challenges.iter_mut().find(|c| c.kind == job.kind) else {
        return Ok(true);
    };
    let done = match outcome {
        Ok(()) => {
            let now = state::now();
            challenge.status = Status::Valid;
            challenge.validated = Some(now);
            challenge.error = None;
            authz.status = Status::Valid;
            authz.expires = Some(now + AUTHZ_LIFETIME);
            true
        }
        Err(problem) => {
            *attempt += 1;
            challenge.attempts = *attempt;
            challenge.error = Some(problem.to_json());
            if *attempt >= MAX_ATTEMPTS {
                challenge.status = Status::Invalid;
                authz.status = Status::Invalid;
                true
            } else {
                false
            }
        }
    };
    state::put_authorization(&job.storage, &job.account, &authz).await?;
    Ok(done)
}

fn incorrect(detail: impl std::fmt::Display) -> Problem {
    Problem::new(Kind::IncorrectResponse, detail)
}

/// `GET http://<identifier>/.well-known/acme-challenge/<token>` on port
/// 80; the body, trimmed, must be the key authorization. Redirects are
/// followed up to 10 times; the status code is not looked at (as Vault).
async fn http_01(job: &Job) -> Result<(), Problem> {
    let host = match job.identifier.parse::<IpAddr>() {
        Ok(IpAddr::V6(ip)) => format!("[{ip}]"),
        _ => job.identifier.clone(),
    };
    let url = format!("http://{host}/.well-known/acme-challenge/{}", job.token);
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(Problem::internal)?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .no_proxy()
        .connect_timeout(TIMEOUT)
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::limited(10))
        .build()
        .map_err(Problem::internal)?;
    let mut resp = client
        .get(&url)
        .send()
        .await
        .map_err(|e| incorrect(format!("http-01 challenge failed to connect to {url}: {e}")))?;
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| incorrect(format!("http-01 challenge failed reading {url}: {e}")))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BODY {
            return Err(incorrect("http-01 challenge response too large"));
        }
    }
    let text = String::from_utf8_lossy(&body);
    if text.trim() == job.key_authorization {
        Ok(())
    } else {
        Err(incorrect(format!(
            "http-01 challenge response from {url} does not match the key authorization"
        )))
    }
}

/// A TXT record at `_acme-challenge.<identifier>` holding the base64url
/// SHA-256 of the key authorization, asked of `dns_resolver` when it is
/// set, else of the system's resolver.
async fn dns_01(job: &Job) -> Result<(), Problem> {
    use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
    use hickory_resolver::net::runtime::TokioRuntimeProvider;
    use hickory_resolver::proto::rr::RData;
    use hickory_resolver::Resolver;

    let expected = URL_SAFE_NO_PAD.encode(digest::digest(
        &digest::SHA256,
        job.key_authorization.as_bytes(),
    ));
    let builder = match job.resolver {
        Some(addr) => {
            let connections = [ConnectionConfig::udp(), ConnectionConfig::tcp()]
                .into_iter()
                .map(|mut c| {
                    c.port = addr.port();
                    c
                })
                .collect();
            let server = NameServerConfig::new(addr.ip(), true, connections);
            Resolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![server]),
                TokioRuntimeProvider::default(),
            )
        }
        None => Resolver::builder_tokio().map_err(Problem::internal)?,
    };
    let mut builder = builder;
    builder.options_mut().timeout = TIMEOUT;
    builder.options_mut().cache_size = 0;
    let resolver = builder.build().map_err(Problem::internal)?;
    let name = format!("_acme-challenge.{}.", job.identifier.trim_end_matches('.'));
    let lookup = tokio::time::timeout(Duration::from_secs(30), resolver.txt_lookup(name.as_str()))
        .await
        .map_err(|_| incorrect(format!("dns-01 lookup of {name} timed out")))?
        .map_err(|e| incorrect(format!("dns-01 lookup of {name} failed: {e}")))?;
    let found = lookup.answers().iter().any(|record| match &record.data {
        RData::TXT(txt) => {
            let joined: Vec<u8> = txt
                .txt_data
                .iter()
                .flat_map(|s| s.iter().copied())
                .collect();
            joined == expected.as_bytes()
        }
        _ => false,
    });
    if found {
        Ok(())
    } else {
        Err(incorrect(format!(
            "dns-01 challenge: no TXT record at {name} matches the key authorization"
        )))
    }
}

/// The ALPN protocol of tls-alpn-01 (RFC 8737 §6.2).
const ACME_TLS: &[u8] = b"acme-tls/1";
/// id-pe-acmeIdentifier (RFC 8737 §6.1).
const ACME_IDENTIFIER_OID: &str = "1.3.6.1.5.5.7.1.31";

/// A TLS handshake with `<identifier>:443` offering only `acme-tls/1`,
/// with the identifier as SNI and no session resumption; the one
/// certificate the server shows must prove the key authorization
/// ([`check_alpn_certificate`]).
async fn tls_alpn_01(job: &Job) -> Result<(), Problem> {
    use rustls::pki_types::ServerName;

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(AlpnVerifier(provider.clone()));
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(Problem::internal)?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![ACME_TLS.to_vec()];
    config.resumption = rustls::client::Resumption::disabled();
    let name = ServerName::try_from(job.identifier.clone())
        .map_err(|e| incorrect(format!("tls-alpn-01: invalid name {}: {e}", job.identifier)))?;
    let address = format!("{}:443", job.identifier);
    let handshake = async {
        let tcp = tokio::net::TcpStream::connect(&address)
            .await
            .map_err(|e| incorrect(format!("tls-alpn-01: failed to dial host {address}: {e}")))?;
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| incorrect(format!("tls-alpn-01: handshake with {address} failed: {e}")))
    };
    let stream = tokio::time::timeout(TIMEOUT, handshake)
        .await
        .map_err(|_| incorrect(format!("tls-alpn-01: handshake with {address} timed out")))??;
    let (_, session) = stream.get_ref();
    if session.alpn_protocol() != Some(ACME_TLS) {
        return Err(incorrect(
            "tls-alpn-01: server under test did not negotiate the acme-tls/1 protocol",
        ));
    }
    let certs = session.peer_certificates().unwrap_or_default();
    let [cert] = certs else {
        return Err(incorrect(format!(
            "tls-alpn-01: server under test returned {} certificates when we expected only one",
            certs.len()
        )));
    };
    check_alpn_certificate(cert, &job.identifier, &job.key_authorization)
        .map_err(|why| incorrect(format!("tls-alpn-01: server under test returned {why}")))
}

/// Takes any certificate (tls-alpn-01 judges it afterwards) but checks
/// the handshake signature with the certificate's own key, read without
/// webpki, which refuses the critical acmeIdentifier extension.
#[derive(Debug)]
struct AlpnVerifier(Arc<rustls::crypto::CryptoProvider>);

impl AlpnVerifier {
    fn check(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        let bad = || rustls::Error::InvalidCertificate(rustls::CertificateError::BadSignature);
        let (_, parsed) = x509_parser::parse_x509_certificate(cert).map_err(|_| bad())?;
        let key = &parsed.public_key().subject_public_key.data;
        let algorithms = &self.0.signature_verification_algorithms;
        let candidates = algorithms
            .mapping
            .iter()
            .find(|(scheme, _)| *scheme == dss.scheme)
            .map(|(_, algs)| *algs)
            .unwrap_or_default();
        candidates
            .iter()
            .any(|alg| alg.verify_signature(key, message, dss.signature()).is_ok())
            .then(rustls::client::danger::HandshakeSignatureValid::assertion)
            .ok_or_else(bad)
    }
}

impl rustls::client::danger::ServerCertVerifier for AlpnVerifier {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.check(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.check(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// RFC 8737 §3: a self-signed certificate whose only subject alternative
/// name is `name` (case-insensitive) and which carries exactly one
/// critical acmeIdentifier extension holding SHA-256 of the key
/// authorization; no other critical extension it does not know.
fn check_alpn_certificate(der: &[u8], name: &str, key_authorization: &str) -> Result<(), String> {
    use x509_parser::extensions::{GeneralName, ParsedExtension};

    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| format!("an unparsable certificate: {e}"))?;
    if cert.subject().as_raw() != cert.issuer().as_raw() || cert.verify_signature(None).is_err() {
        return Err("a non-self-signed certificate".into());
    }
    let names: Vec<&GeneralName> = cert
        .extensions()
        .iter()
        .filter_map(|ext| match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => Some(san.general_names.iter()),
            _ => None,
        })
        .flatten()
        .collect();
    match names.as_slice() {
        [GeneralName::DNSName(dns)] if dns.eq_ignore_ascii_case(name) => {}
        [GeneralName::DNSName(other)] => {
            return Err(format!("a certificate with unexpected identifier: {other}"))
        }
        _ => return Err("a certificate with incorrect SANs".into()),
    }
    let expected = digest::digest(&digest::SHA256, key_authorization.as_bytes());
    let mut found = false;
    for ext in cert.extensions() {
        if ext.oid.to_id_string() == ACME_IDENTIFIER_OID {
            if found {
                return Err("a certificate with multiple acmeIdentifier extensions".into());
            }
            found = true;
            if !ext.critical {
                return Err(
                    "a certificate with an acmeIdentifier extension marked non-critical".into(),
                );
            }
            // DER OCTET STRING of the 32-byte digest.
            let value = ext.value;
            if value.len() != 34 || value[..2] != [0x04, 0x20] || &value[2..] != expected.as_ref() {
                return Err("a certificate with an invalid key authorization".into());
            }
        } else if ext.critical
            && matches!(
                ext.parsed_extension(),
                ParsedExtension::UnsupportedExtension { .. }
            )
        {
            return Err(format!(
                "a certificate with additional unknown critical extensions ({})",
                ext.oid.to_id_string()
            ));
        }
    }
    if !found {
        return Err("a certificate without the required acmeIdentifier extension".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_AUTHORIZATION: &str = "token.thumbprint";

    fn certificate(names: &[&str], ext: Option<rcgen::CustomExtension>) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().expect("key");
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = rcgen::CertificateParams::new(names).expect("params");
        params.custom_extensions.extend(ext);
        params
            .self_signed(&key)
            .expect("certificate")
            .der()
            .to_vec()
    }

    fn acme_identifier(text: &str) -> rcgen::CustomExtension {
        let sha = digest::digest(&digest::SHA256, text.as_bytes());
        rcgen::CustomExtension::new_acme_identifier(sha.as_ref())
    }

    #[test]
    fn the_right_certificate_proves_the_key_authorization() {
        let der = certificate(&["web.example"], Some(acme_identifier(KEY_AUTHORIZATION)));
        assert_eq!(
            check_alpn_certificate(&der, "WEB.example", KEY_AUTHORIZATION),
            Ok(())
        );
    }

    #[test]
    fn wrong_certificates_are_refused() {
        let check = |der: Vec<u8>| check_alpn_certificate(&der, "web.example", KEY_AUTHORIZATION);
        let wrong_digest = certificate(&["web.example"], Some(acme_identifier("other")));
        assert!(check(wrong_digest).is_err_and(|e| e.contains("invalid key authorization")));
        let missing = certificate(&["web.example"], None);
        assert!(check(missing).is_err_and(|e| e.contains("without the required")));
        let two_names = certificate(
            &["web.example", "www.example"],
            Some(acme_identifier(KEY_AUTHORIZATION)),
        );
        assert!(check(two_names).is_err_and(|e| e.contains("incorrect SANs")));
        let other_name = certificate(&["evil.example"], Some(acme_identifier(KEY_AUTHORIZATION)));
        assert!(check(other_name).is_err_and(|e| e.contains("unexpected identifier")));
        let mut lax = acme_identifier(KEY_AUTHORIZATION);
        lax.set_criticality(false);
        let non_critical = certificate(&["web.example"], Some(lax));
        assert!(check(non_critical).is_err_and(|e| e.contains("non-critical")));
        assert!(check(b"junk".to_vec()).is_err());
    }
}
