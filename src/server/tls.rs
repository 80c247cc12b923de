//! The TLS side of the listener (rustls on aws-lc-rs): server certificates
//! reloadable on SIGHUP, ALPN h2/http1.1, and client certificates requested
//! without CA hints and accepted at the handshake, so Go clients send theirs
//! and `auth/cert` decides (Vault's `tls.RequestClientCert`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{aws_lc_rs, verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("error loading TLS certificate {path}: {message}")]
    Certificate { path: String, message: String },
    #[error("error loading TLS key {path}: {message}")]
    Key { path: String, message: String },
    #[error("invalid tls_min_version {0:?}: use tls12 or tls13")]
    MinVersion(String),
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The listener's TLS settings (Vault's `listener "tcp"` tls_* keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub min_version: Option<String>,
    pub client_ca_file: Option<PathBuf>,
    pub require_and_verify_client_cert: bool,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(aws_lc_rs::default_provider())
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |message: String| TlsError::Certificate {
        path: path.display().to_string(),
        message,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no certificate found".into()));
    }
    Ok(certs)
}

fn load_certified_key(settings: &TlsSettings) -> Result<Arc<CertifiedKey>, TlsError> {
    let certs = load_certs(&settings.cert_file)?;
    let key_err = |message: String| TlsError::Key {
        path: settings.key_file.display().to_string(),
        message,
    };
    let key =
        PrivateKeyDer::from_pem_file(&settings.key_file).map_err(|e| key_err(e.to_string()))?;
    let signing_key = provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| key_err(e.to_string()))?;
    Ok(Arc::new(CertifiedKey::new(certs, signing_key)))
}

/// The server certificate, swapped in place on reload.
#[derive(Debug)]
pub struct ReloadableCert {
    settings: TlsSettings,
    current: RwLock<Arc<CertifiedKey>>,
}

impl ReloadableCert {
    /// Re-reads the certificate and key files; on error the old pair stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = load_certified_key(&self.settings)?;
        match self.current.write() {
            Ok(mut guard) => *guard = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok(())
    }
}

impl ResolvesServerCert for ReloadableCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|guard| guard.clone())
    }
}

/// Requests a client certificate, sends no CA hints, accepts any chain the
/// client proves it holds the key for; verification is `auth/cert`'s job.
#[derive(Debug)]
struct RequestAnyClientCert {
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for RequestAnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Builds the rustls server configuration and the handle used to reload
/// its certificate.
pub fn server_config(
    settings: &TlsSettings,
) -> Result<(Arc<rustls::ServerConfig>, Arc<ReloadableCert>), TlsError> {
    let provider = provider();
    let versions: &[&rustls::SupportedProtocolVersion] = match settings.min_version.as_deref() {
        None | Some("") | Some("tls12") => &[&rustls::version::TLS13, &rustls::version::TLS12],
        Some("tls13") => &[&rustls::version::TLS13],
        Some(other) => return Err(TlsError::MinVersion(other.to_string())),
    };
    let verifier: Arc<dyn ClientCertVerifier> = if settings.require_and_verify_client_cert {
        let ca_file = settings.client_ca_file.as_ref().ok_or_else(|| {
            TlsError::Config("tls_require_and_verify_client_cert needs tls_client_ca_file".into())
        })?;
        let mut roots = RootCertStore::empty();
        for cert in load_certs(ca_file)? {
            roots
                .add(cert)
                .map_err(|e| TlsError::Config(e.to_string()))?;
        }
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| TlsError::Config(e.to_string()))?
    } else {
        Arc::new(RequestAnyClientCert {
            provider: provider.clone(),
        })
    };
    let cert = Arc::new(ReloadableCert {
        settings: settings.clone(),
        current: RwLock::new(load_certified_key(settings)?),
    });
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(cert.clone());
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((Arc::new(config), cert))
}

/// `-dev-tls`: a CA and a server certificate for 127.0.0.1/localhost in a
/// fresh directory. Returns the settings and the CA file's path.
pub fn generate_dev_tls(dir: &Path) -> Result<(TlsSettings, PathBuf), TlsError> {
    let err = |e: &dyn std::fmt::Display| {
        TlsError::Config(format!("generating dev TLS certificates: {e}"))
    };
    std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
    let ca_key = rcgen::KeyPair::generate().map_err(|e| err(&e))?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| err(&e))?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "vaultlet dev CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).map_err(|e| err(&e))?;

    let key = rcgen::KeyPair::generate().map_err(|e| err(&e))?;
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .map_err(|e| err(&e))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &ca).map_err(|e| err(&e))?;

    let ca_file = dir.join("vault-ca.pem");
    let settings = TlsSettings {
        cert_file: dir.join("vault-cert.pem"),
        key_file: dir.join("vault-key.pem"),
        min_version: None,
        client_ca_file: None,
        require_and_verify_client_cert: false,
    };
    std::fs::write(&ca_file, ca.pem()).map_err(|e| err(&e))?;
    std::fs::write(&settings.cert_file, cert.pem()).map_err(|e| err(&e))?;
    std::fs::write(&settings.key_file, key.serialize_pem()).map_err(|e| err(&e))?;
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(&settings.key_file, std::fs::Permissions::from_mode(0o600));
    Ok((settings, ca_file))
}
