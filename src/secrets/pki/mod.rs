//! The PKI secrets engine: Vault's `pki` backend. Each concept module
//! declares its own paths (pattern, typed fields, one handler per
//! operation) and does the work; the backend is their concatenation.
//!
//! Concurrency: every change to issuers, keys, the default issuer, the
//! revocation list and the CRLs built from it takes the mount's one write
//! lock (`PkiBackend::write_lock`), so a revocation and a CRL rebuild (or a
//! rotation) never interleave; issuance reads an immutable snapshot of the
//! issuers and needs no lock.

mod acme;
mod ca;
mod ca_sign;
mod cert_info;
mod certs;
mod config;
mod crl;
mod crl_tools;
mod csr;
mod fetch;
mod import;
mod issue;
mod issuers;
mod keys;
mod names;
mod ocsp;
mod ocsp_request;
mod private_key;
mod profile;
mod public_key;
mod revoke;
mod roles;
mod store;
mod telemetry;
mod tidy;
mod tidy_config;
mod tidy_job;
mod x509;

/// The parsers of untrusted PKI input (CSRs, certificates, keys, raw DER),
/// for the fuzz targets in `fuzz/` (not an API: may change at any time).
#[doc(hidden)]
pub mod fuzzing {
    use crate::logical::Error;

    /// The `csr` parameter as `sign`/`sign-verbatim` decode and check it.
    pub fn csr_pem(text: &str) -> Result<bool, Error> {
        let csr = super::csr::parse_pem(text)?;
        check_csr(&csr)
    }

    /// A DER CSR as `parse_pem` hands it on.
    pub fn csr_der(bytes: &[u8]) -> Result<bool, String> {
        let csr = super::csr::parse_der(bytes)?;
        check_csr(&csr).map_err(|e| e.to_string())
    }

    fn check_csr(csr: &super::csr::Csr) -> Result<bool, Error> {
        let valid = csr.signature_valid();
        for (kind, bits) in [("any", 0), ("rsa", 2048), ("ec", 256), ("ed25519", 0)] {
            let _ = csr.check_key(kind, bits);
        }
        let _ = super::public_key::info(&csr.spki);
        Ok(valid)
    }

    /// PEM certificates (`certificate`, `pem_bundle`, revoke by cert).
    pub fn certificates_pem(text: &str) -> Result<usize, String> {
        let ders = super::cert_info::pem_certificates(text)?;
        for der in &ders {
            if let Ok(cert) = super::cert_info::CertInfo::parse(der) {
                let _ = cert.signed_by(&cert);
                let _ = cert.self_issued();
                let _ = cert.serial_string();
                let _ = super::public_key::info(&cert.spki);
            }
        }
        Ok(ders.len())
    }

    /// A private key (`pem_bundle` import, `revoke-with-key`).
    pub fn private_key_pem(text: &str) -> Result<(), String> {
        let key = super::private_key::PrivateKey::from_pem(text)?;
        let spki = key.spki()?;
        let _ = super::public_key::info(&spki);
        Ok(())
    }

    /// Walks DER with the hand-written TLV reader, depth first.
    pub fn der_walk(bytes: &[u8], depth: usize) -> usize {
        let mut rest = bytes;
        let mut count = 0;
        while let Some((tag, content, whole, next)) = super::der::read(rest) {
            assert!(whole.len() <= rest.len() && content.len() <= whole.len());
            assert_eq!(whole.len() + next.len(), rest.len());
            count += 1;
            if tag & 0x20 != 0 && depth < 32 {
                count += der_walk(content, depth + 1);
            }
            rest = next;
        }
        count
    }
}

use crate::util::der;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::core::metrics::Metrics;
use crate::logical::framework::{Backend, Path};
use crate::logical::{FieldData, Response, Result};
use crate::storage::{ReadCache, StorageView};
use crate::util::metric::Sample;
use store::IssuerSet;

/// The mount's issuers, parsed once and kept until something changes them;
/// shared with background tidy.
type IssuerCache = Arc<ReadCache<(), Arc<IssuerSet>>>;

async fn cached_issuers(cache: &IssuerCache, storage: &StorageView) -> Result<Arc<IssuerSet>> {
    cache
        .get_or_load(&(), || async {
            Ok(Arc::new(IssuerSet::load(storage).await?))
        })
        .await
}

/// More cached roles than this and the cache starts over.
const MAX_CACHED_ROLES: usize = 1024;

pub struct PkiBackend {
    cache: IssuerCache,
    /// Roles and the global AIA URLs, read on every issuance; dropped
    /// whenever a role or `config/urls` is written through this backend.
    roles: ReadCache<String, Arc<roles::Role>>,
    urls: ReadCache<(), Arc<store::IssuerUrls>>,
    /// Serialises issuer/key/CRL mutations.
    write_lock: Arc<tokio::sync::Mutex<()>>,
    tidy: Arc<tidy_job::TidyState>,
    /// Where issuance, revocation and OCSP are counted.
    metrics: Arc<Metrics>,
    /// ACME nonces and the lock over orders and authorizations.
    acme: Arc<acme::AcmeState>,
}

impl Default for PkiBackend {
    fn default() -> Self {
        Self::new(Arc::default())
    }
}

impl PkiBackend {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        PkiBackend {
            cache: Arc::new(ReadCache::new(1)),
            roles: ReadCache::new(MAX_CACHED_ROLES),
            urls: ReadCache::new(1),
            write_lock: Arc::default(),
            tidy: Arc::default(),
            metrics,
            acme: Arc::default(),
        }
    }

    /// The mount's issuers, parsed once and kept until something changes.
    async fn issuers(&self, storage: &StorageView) -> Result<Arc<IssuerSet>> {
        cached_issuers(&self.cache, storage).await
    }

    /// A role, from the cache or storage (unknown roles are not cached).
    async fn role(&self, storage: &StorageView, name: &str) -> Result<Option<Arc<roles::Role>>> {
        let load = || async { Ok(roles::get_role(storage, name).await?.map(Arc::new)) };
        self.roles.get_or_load_some(name, load).await
    }

    /// The global `config/urls`, from the cache or storage.
    async fn global_urls(&self, storage: &StorageView) -> Result<Arc<store::IssuerUrls>> {
        let load = || async { Ok(Arc::new(config::read_urls(storage).await?)) };
        self.urls.get_or_load(&(), load).await
    }

    /// Drops cached roles and URLs after a role or `config/urls` write.
    fn invalidate_config(&self) {
        self.roles.clear();
        self.urls.clear();
    }

    /// Drops the cached issuers after a change.
    fn invalidate(&self) {
        self.cache.clear();
    }
}

#[async_trait::async_trait]
impl Backend for PkiBackend {
    /// The first matching path serves a request: `cert/crl` and
    /// `cert/delta-crl` (in `crl`) come before `cert/:serial` (in `fetch`);
    /// no other two patterns overlap (see the tests).
    const PATHS: &'static [&'static [Path<Self>]] = &[
        acme::DEFAULT_PATHS,
        acme::ISSUER_PATHS,
        acme::ROLE_PATHS,
        acme::ISSUER_ROLE_PATHS,
        acme::config::PATHS,
        acme::eab::PATHS,
        ca::PATHS,
        ca_sign::PATHS,
        import::PATHS,
        roles::PATHS,
        issue::PATHS,
        revoke::PATHS,
        certs::PATHS,
        crl::PATHS,
        fetch::PATHS,
        issuers::PATHS,
        crl_tools::PATHS,
        ocsp::PATHS,
        keys::PATHS,
        config::PATHS,
        tidy::PATHS,
    ];

    /// As Vault's PKI engine: deleting the CA and signing a self-issued CA
    /// certificate (the issuer-specific form is not protected in Vault).
    const ROOT_PATHS: &'static [&'static str] = &["root", "root/sign-self-issued"];
    const UNROUTED_UNAUTHENTICATED: &'static [&'static str] = acme::UNSERVED;

    /// Stored certificates and revocations are never cached; a role is
    /// dropped by name; anything else may feed the issuers or the URLs.
    fn invalidate(&self, key: &str) {
        if key.starts_with(certs::CERT_PREFIX) || key.starts_with(certs::REVOKED_PREFIX) {
            return;
        }
        if let Some(name) = key.strip_prefix(roles::ROLE_PREFIX) {
            self.roles.forget(name);
            return;
        }
        self.invalidate_config();
        self.invalidate();
    }

    async fn periodic(&self, storage: &StorageView) -> Result<()> {
        crl::periodic(self, storage).await?;
        tidy::periodic(self, storage).await
    }

    async fn gauges(&self, mount_point: &str, storage: &StorageView) -> Result<Vec<Sample>> {
        telemetry::gauges(self, mount_point, storage).await
    }

    async fn usage_gauges(&self, mount_point: &str, storage: &StorageView) -> Result<Vec<Sample>> {
        telemetry::usage_gauges(mount_point, storage).await
    }
}

/// A name field as Vault reads it: absent → `None`; present, even as
/// `null`, → its text (`null` reads as `""`, which no name may be).
fn requested_name(d: &FieldData, field: &str) -> Result<Option<String>> {
    match d.raw().get(field) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(String::new())),
        Some(_) => d.str(field),
    }
}

/// A LIST answer with Vault's `key_info`: details by key.
fn list_with_info(keys: Vec<String>, info: Map<String, Value>) -> Response {
    let mut response = Response::list(keys);
    if let Some(data) = response.data.as_mut() {
        data.insert("key_info".into(), Value::Object(info));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logical::framework::LogicalBackend;

    /// Every path is reachable: a path that fits its pattern is served by
    /// it, not by one listed earlier.
    #[test]
    fn no_path_is_shadowed_by_an_earlier_one() {
        let backend = PkiBackend::default();
        for (info, _) in backend.describe() {
            let pattern = info.pattern.as_str();
            let sample: Vec<&str> = pattern
                .split('/')
                .map(|segment| match segment.chars().next() {
                    // Fits every capture rule (names and UUIDs).
                    Some(':') => "0a1b2c3d-0000-0000-0000-000000000000",
                    Some('*') => "some/rest",
                    _ => segment,
                })
                .collect();
            let sample = sample.join("/");
            let served_by = backend.route(&sample).map(|r| r.info.pattern.as_str());
            assert_eq!(served_by, Some(pattern), "{sample}");
        }
    }

    /// Standbys serve issuance from a role, fetches and OCSP themselves,
    /// and nothing that changes the mount.
    #[test]
    fn standbys_serve_issuance_fetches_and_ocsp_only() {
        use crate::logical::Operation;
        let backend = PkiBackend::default();
        let mut served = Vec::new();
        for (info, _) in backend.describe() {
            let pattern = info.pattern.as_str();
            for op in info.on_standby {
                let fetch = *op == Operation::Read && info.unauthenticated;
                let issuance = *op == Operation::Update
                    && (pattern.ends_with("issue/:role") || pattern.ends_with("sign/:role"));
                let ocsp = *op == Operation::Update && pattern.ends_with("ocsp");
                assert!(fetch || issuance || ocsp, "{pattern} {op:?}");
                served.push(pattern);
            }
        }
        for pattern in [
            "issue/:role",
            "sign/:role",
            "ca/pem",
            "crl",
            "ocsp",
            "cert/:serial",
        ] {
            assert!(served.contains(&pattern), "{pattern}");
        }
        assert!(!served.contains(&"roles/:name") && !served.contains(&"crl/rotate"));
    }
}
