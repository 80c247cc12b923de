//! TLS to PostgreSQL on rustls (aws-lc-rs), with libpq's `sslmode`
//! meanings: `disable`; `allow`/`prefer` and `require` encrypt without
//! authenticating the server (unless `sslrootcert` is given, which makes
//! `require` check the chain, as libpq does); `verify-ca` checks the chain;
//! `verify-full` checks the chain and the host name. `sslrootcert`,
//! `sslcert` and `sslkey` name PEM files. tokio-postgres itself only knows
//! `disable`/`prefer`/`require`, so these parameters are taken out of the
//! connection string here and turned into a rustls configuration.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{aws_lc_rs, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use tokio_postgres::config::SslMode;

/// How far the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Encryption only (libpq's `prefer`/`require` without a root file).
    None,
    /// The chain up to a trusted root (`verify-ca`).
    Chain,
    /// The chain and the host name (`verify-full`).
    Full,
}

/// A connection string with its TLS parameters taken out.
pub(super) struct Connection {
    pub config: tokio_postgres::Config,
    pub tls: tokio_postgres_rustls::MakeRustlsConnect,
}

const TLS_KEYS: [&str; 4] = ["sslmode", "sslrootcert", "sslcert", "sslkey"];

/// Parses a libpq connection string (URL or `key=value` form).
pub(super) fn connection(url: &str) -> Result<Connection, String> {
    let (rest, tls_params) = split_tls_params(url)?;
    let mut config =
        tokio_postgres::Config::from_str(&rest).map_err(|e| format!("connection_url: {e}"))?;
    let param = |key: &str| {
        tls_params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let root_file = param("sslrootcert").map(PathBuf::from);
    let (mode, check) = match param("sslmode").unwrap_or("prefer") {
        "disable" => (SslMode::Disable, Check::None),
        "allow" | "prefer" => (SslMode::Prefer, Check::None),
        "require" if root_file.is_some() => (SslMode::Require, Check::Chain),
        "require" => (SslMode::Require, Check::None),
        "verify-ca" => (SslMode::Require, Check::Chain),
        "verify-full" => (SslMode::Require, Check::Full),
        other => return Err(format!("connection_url: unknown sslmode {other:?}")),
    };
    config.ssl_mode(mode);
    let client_cert = match (param("sslcert"), param("sslkey")) {
        (Some(cert), Some(key)) => Some((PathBuf::from(cert), PathBuf::from(key))),
        (None, None) => None,
        _ => return Err("connection_url: sslcert and sslkey go together".into()),
    };
    let tls = client_config(check, root_file, client_cert)?;
    Ok(Connection {
        config,
        tls: tokio_postgres_rustls::MakeRustlsConnect::new(tls),
    })
}

/// Removes the TLS parameters from a URL's query or a `key=value` string.
fn split_tls_params(url: &str) -> Result<(String, Vec<(String, String)>), String> {
    let mut taken = Vec::new();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let mut parsed =
            url::Url::parse(url).map_err(|e| format!("connection_url is not a valid URL: {e}"))?;
        let mut kept = Vec::new();
        for (key, value) in parsed.query_pairs() {
            if TLS_KEYS.contains(&key.as_ref()) {
                taken.push((key.into_owned(), value.into_owned()));
            } else {
                kept.push((key.into_owned(), value.into_owned()));
            }
        }
        if kept.is_empty() {
            parsed.set_query(None);
        } else {
            parsed.query_pairs_mut().clear().extend_pairs(kept);
        }
        return Ok((parsed.to_string(), taken));
    }
    let mut kept = Vec::new();
    for word in url.split_whitespace() {
        match word.split_once('=') {
            Some((key, value)) if TLS_KEYS.contains(&key) => {
                taken.push((key.to_string(), value.to_string()));
            }
            _ => kept.push(word),
        }
    }
    Ok((kept.join(" "), taken))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(aws_lc_rs::default_provider())
}

fn client_config(
    check: Check,
    root_file: Option<PathBuf>,
    client_cert: Option<(PathBuf, PathBuf)>,
) -> Result<rustls::ClientConfig, String> {
    let provider = provider();
    let verifier: Arc<dyn ServerCertVerifier> = match check {
        Check::None => Arc::new(EncryptOnly(provider.clone())),
        Check::Chain | Check::Full => {
            let mut roots = rustls::RootCertStore::empty();
            match &root_file {
                Some(path) => {
                    let certs = CertificateDer::pem_file_iter(path)
                        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                        .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
                    roots.add_parsable_certificates(certs);
                }
                None => {
                    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
                }
            }
            if roots.is_empty() {
                return Err("sslrootcert: no trusted certificate found".into());
            }
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| format!("sslrootcert: {e}"))?;
            Arc::new(ChainVerifier {
                webpki,
                check_name: check == Check::Full,
            })
        }
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    match client_cert {
        None => Ok(builder.with_no_client_auth()),
        Some((cert_file, key_file)) => {
            let certs = CertificateDer::pem_file_iter(&cert_file)
                .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                .map_err(|e| format!("sslcert {}: {e}", cert_file.display()))?;
            let key = PrivateKeyDer::from_pem_file(&key_file)
                .map_err(|e| format!("sslkey {}: {e}", key_file.display()))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| format!("sslcert: {e}"))
        }
    }
}

/// libpq's `require`: the channel is encrypted, the certificate is not
/// checked, but the handshake signatures still are.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca` (chain only) and `verify-full` (chain and host name).
#[derive(Debug)]
struct ChainVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    check_name: bool,
}

impl ServerCertVerifier for ChainVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_leave_the_url() {
        let (rest, taken) = split_tls_params(
            "postgres://u:p@127.0.0.1:5432/db?sslmode=verify-full&sslrootcert=/ca.pem&connect_timeout=3",
        )
        .expect("parses");
        assert_eq!(rest, "postgres://u:p@127.0.0.1:5432/db?connect_timeout=3");
        assert_eq!(
            taken,
            vec![
                ("sslmode".to_string(), "verify-full".to_string()),
                ("sslrootcert".to_string(), "/ca.pem".to_string())
            ]
        );
        let (rest, taken) =
            split_tls_params("host=127.0.0.1 sslmode=disable user=u").expect("parses");
        assert_eq!(rest, "host=127.0.0.1 user=u");
        assert_eq!(taken.len(), 1);
    }

    #[test]
    fn sslmode_maps_to_what_tokio_postgres_knows() {
        let plain = connection("postgres://u@127.0.0.1/db?sslmode=disable").expect("parses");
        assert_eq!(plain.config.get_ssl_mode(), SslMode::Disable);
        let default = connection("postgres://u@127.0.0.1/db").expect("parses");
        assert_eq!(default.config.get_ssl_mode(), SslMode::Prefer);
        let required = connection("postgres://u@127.0.0.1/db?sslmode=require").expect("parses");
        assert_eq!(required.config.get_ssl_mode(), SslMode::Require);
        assert!(connection("postgres://u@127.0.0.1/db?sslmode=sometimes").is_err());
        assert!(
            connection("postgres://u@127.0.0.1/db?sslmode=verify-ca&sslrootcert=/nonexistent")
                .is_err()
        );
        assert!(connection("postgres://u@127.0.0.1/db?sslcert=/c.pem").is_err());
    }
}
