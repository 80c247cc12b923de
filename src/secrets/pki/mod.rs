//! The PKI secrets engine: Vault's `pki` backend. This module holds the path
//! table and dispatch; the work lives in the submodules.
//!
//! Concurrency: every change to issuers, keys, the default issuer, the
//! revocation list and the CRLs built from it takes the mount's one write
//! lock (`PkiBackend::write_lock`), so a revocation and a CRL rebuild (or a
//! rotation) never interleave; issuance reads an immutable snapshot of the
//! issuers and needs no lock.

mod ca;
mod certs;
mod config;
mod crl;
mod crl_tools;
mod csr;
mod der;
mod fetch;
mod issue;
mod manage;
mod names;
mod ocsp;
mod private_key;
mod profile;
mod public_key;
mod roles;
mod store;
mod tidy;
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
        let ders = super::x509::pem_certificates(text)?;
        for der in &ders {
            if let Ok(cert) = super::x509::CertInfo::parse(der) {
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

use std::sync::Arc;

use crate::logical::{Backend, Error, Operation, PathSpec, Request, Response, Result};
use crate::storage::{ReadCache, StorageView};
use store::IssuerSet;

const R: &[Operation] = &[Operation::Read];
const U: &[Operation] = &[Operation::Update];
const L: &[Operation] = &[Operation::List];
const D: &[Operation] = &[Operation::Delete];
const RU: &[Operation] = &[Operation::Read, Operation::Update];
const RUPD: &[Operation] = &[
    Operation::Read,
    Operation::Update,
    Operation::Patch,
    Operation::Delete,
];
const RUD: &[Operation] = &[Operation::Read, Operation::Update, Operation::Delete];

const SUBJECT_FIELDS: &[&str] = &[
    "common_name",
    "alt_names",
    "ip_sans",
    "uri_sans",
    "other_sans",
    "ttl",
    "not_after",
    "not_before_duration",
    "format",
    "private_key_format",
    "key_type",
    "key_bits",
    "signature_bits",
    "use_pss",
    "max_path_length",
    "exclude_cn_from_sans",
    "permitted_dns_domains",
    "excluded_dns_domains",
    "ou",
    "organization",
    "country",
    "locality",
    "province",
    "street_address",
    "postal_code",
    "serial_number",
    "issuer_name",
    "key_name",
    "key_ref",
    "managed_key_name",
    "managed_key_id",
    "add_basic_constraints",
    "key_usage",
    "exported",
];
const SIGN_INTERMEDIATE_FIELDS: &[&str] = &[
    "csr",
    "common_name",
    "alt_names",
    "ip_sans",
    "uri_sans",
    "other_sans",
    "ttl",
    "not_after",
    "not_before_duration",
    "format",
    "max_path_length",
    "exclude_cn_from_sans",
    "use_csr_values",
    "permitted_dns_domains",
    "excluded_dns_domains",
    "ou",
    "organization",
    "country",
    "locality",
    "province",
    "street_address",
    "postal_code",
    "serial_number",
    "signature_bits",
    "skid",
    "use_pss",
    "enforce_leaf_not_after_behavior",
    "key_usage",
    "issuer_ref",
];
const ISSUE_FIELDS: &[&str] = &[
    "common_name",
    "alt_names",
    "ip_sans",
    "uri_sans",
    "other_sans",
    "ttl",
    "not_after",
    "format",
    "private_key_format",
    "exclude_cn_from_sans",
    "remove_roots_from_chain",
    "user_ids",
    "serial_number",
    "csr",
    "role",
    "issuer_ref",
    "cert_metadata",
];
const VERBATIM_FIELDS: &[&str] = &[
    "csr",
    "key_usage",
    "ext_key_usage",
    "ext_key_usage_oids",
    "ttl",
    "not_after",
    "format",
    "signature_bits",
    "use_pss",
    "remove_roots_from_chain",
    "user_ids",
    "basic_constraints_valid_for_non_ca",
    "enforce_leaf_not_after_behavior",
    "role",
    "issuer_ref",
    "not_before_duration",
];
const ISSUER_FIELDS: &[&str] = &[
    "issuer_name",
    "leaf_not_after_behavior",
    "manual_chain",
    "usage",
    "revocation_signature_algorithm",
    "issuing_certificates",
    "crl_distribution_points",
    "delta_crl_distribution_points",
    "ocsp_servers",
    "enable_aia_url_templating",
    "issuer_ref",
];
const URL_FIELDS: &[&str] = &[
    "issuing_certificates",
    "crl_distribution_points",
    "delta_crl_distribution_points",
    "ocsp_servers",
    "enable_templating",
];
const CRL_FIELDS: &[&str] = &[
    "expiry",
    "disable",
    "ocsp_disable",
    "ocsp_expiry",
    "auto_rebuild",
    "auto_rebuild_grace_period",
    "enable_delta",
    "delta_rebuild_interval",
    "cross_cluster_revocation",
    "unified_crl",
    "unified_crl_on_existing_paths",
    "max_crl_entries",
];
/// The tidy operations and their buffers, which `tidy` and
/// `config/auto-tidy` share (the latter with its schedule fields first).
macro_rules! tidy_fields {
    ($($extra:literal),*) => {
        &[
            $($extra,)*
            "tidy_cert_store",
            "tidy_revoked_certs",
            "tidy_revoked_cert_issuer_associations",
            "tidy_expired_issuers",
            "tidy_move_legacy_ca_bundle",
            "tidy_revocation_queue",
            "tidy_cross_cluster_revoked_certs",
            "tidy_acme",
            "tidy_cert_metadata",
            "tidy_cmpv2_nonce_store",
            "safety_buffer",
            "issuer_safety_buffer",
            "pause_duration",
            "revocation_queue_safety_buffer",
            "acme_account_safety_buffer",
        ]
    };
}
const TIDY_FIELDS: &[&str] = tidy_fields!();
const AUTO_TIDY_FIELDS: &[&str] = tidy_fields!(
    "enabled",
    "interval_duration",
    "min_startup_backoff_duration",
    "max_startup_backoff_duration",
    "maintain_stored_certificate_counts",
    "publish_stored_certificate_count_metrics"
);

static PATHS: &[PathSpec] = &[
    // CA generation and signing.
    PathSpec::new("root/generate/:exported", U).fields(SUBJECT_FIELDS),
    PathSpec::new("issuers/generate/root/:exported", U).fields(SUBJECT_FIELDS),
    PathSpec::new("root/rotate/:exported", U).fields(SUBJECT_FIELDS),
    PathSpec::new("root/sign-intermediate", U).fields(SIGN_INTERMEDIATE_FIELDS),
    PathSpec::new("issuer/:issuer_ref/sign-intermediate", U).fields(SIGN_INTERMEDIATE_FIELDS),
    PathSpec::new("root/sign-self-issued", U).fields(&[
        "certificate",
        "require_matching_certificate_algorithms",
        "issuer_ref",
    ]),
    PathSpec::new("issuer/:issuer_ref/sign-self-issued", U).fields(&[
        "certificate",
        "require_matching_certificate_algorithms",
        "issuer_ref",
    ]),
    PathSpec::new("root/replace", U).fields(&["default"]),
    PathSpec::new("root", D),
    PathSpec::new("intermediate/generate/:exported", U).fields(SUBJECT_FIELDS),
    PathSpec::new("intermediate/cross-sign", U).fields(SUBJECT_FIELDS),
    PathSpec::new("issuers/generate/intermediate/:exported", U).fields(SUBJECT_FIELDS),
    PathSpec::new("intermediate/set-signed", U).fields(&["certificate"]),
    PathSpec::new("config/ca", U).fields(&["pem_bundle"]),
    PathSpec::new("issuers/import/bundle", U).fields(&["pem_bundle"]),
    PathSpec::new("issuers/import/cert", U).fields(&["pem_bundle"]),
    // Roles.
    PathSpec::new("roles", L),
    PathSpec::new("roles/:name", RUPD).fields(roles::ROLE_FIELDS),
    // Issuance.
    PathSpec::new("issue/:role", U).fields(ISSUE_FIELDS),
    PathSpec::new("issuer/:issuer_ref/issue/:role", U).fields(ISSUE_FIELDS),
    PathSpec::new("sign/:role", U).fields(ISSUE_FIELDS),
    PathSpec::new("issuer/:issuer_ref/sign/:role", U).fields(ISSUE_FIELDS),
    PathSpec::new("sign-verbatim", U).fields(VERBATIM_FIELDS),
    PathSpec::new("sign-verbatim/:role", U).fields(VERBATIM_FIELDS),
    PathSpec::new("issuer/:issuer_ref/sign-verbatim", U).fields(VERBATIM_FIELDS),
    PathSpec::new("issuer/:issuer_ref/sign-verbatim/:role", U).fields(VERBATIM_FIELDS),
    // Revocation.
    PathSpec::new("revoke", U).fields(&["serial_number", "certificate"]),
    PathSpec::new("revoke-with-key", U).fields(&["serial_number", "certificate", "private_key"]),
    PathSpec::new("certs", L).fields(&["after", "limit"]),
    PathSpec::new("certs/revoked", L).fields(&["after", "limit"]),
    // Unauthenticated fetches.
    PathSpec::new("cert/ca_chain", R).unauthenticated(),
    PathSpec::new("cert/ca", R).unauthenticated(),
    PathSpec::new("cert/crl", R).unauthenticated(),
    PathSpec::new("cert/delta-crl", R).unauthenticated(),
    PathSpec::new("cert/:serial/raw/pem", R).unauthenticated(),
    PathSpec::new("cert/:serial/raw", R).unauthenticated(),
    PathSpec::new("cert/:serial", R).unauthenticated(),
    PathSpec::new("ca/pem", R).unauthenticated(),
    PathSpec::new("ca", R).unauthenticated(),
    PathSpec::new("ca_chain", R).unauthenticated(),
    PathSpec::new("crl/rotate", R),
    PathSpec::new("crl/rotate-delta", R),
    PathSpec::new("crl/delta/pem", R).unauthenticated(),
    PathSpec::new("crl/delta", R).unauthenticated(),
    PathSpec::new("crl/pem", R).unauthenticated(),
    PathSpec::new("crl", R).unauthenticated(),
    PathSpec::new("issuers", L).unauthenticated(),
    PathSpec::new("issuer/:issuer_ref/json", R).unauthenticated(),
    PathSpec::new("issuer/:issuer_ref/pem", R).unauthenticated(),
    PathSpec::new("issuer/:issuer_ref/der", R).unauthenticated(),
    PathSpec::new("issuer/:issuer_ref/crl/delta/pem", R).unauthenticated(),
    PathSpec::new("issuer/:issuer_ref/crl/delta/der", R).unauthenticated(),
    PathSpec::new("issuer/:issuer_ref/crl/delta", R).unauthenticated(),
    PathSpec::new("issuer/:issuer_ref/crl/pem", R).unauthenticated(),
    PathSpec::new("issuer/:issuer_ref/crl/der", R).unauthenticated(),
    PathSpec::new("issuer/:issuer_ref/crl", R).unauthenticated(),
    PathSpec::new("issuer/:issuer_ref/revoke", U),
    PathSpec::new("issuer/:issuer_ref/resign-crls", U).fields(&[
        "crl_number",
        "delta_crl_base_number",
        "next_update",
        "crls",
        "format",
    ]),
    PathSpec::new("issuer/:issuer_ref/sign-revocation-list", U).fields(&[
        "crl_number",
        "delta_crl_base_number",
        "next_update",
        "format",
        "revoked_certs",
        "extensions",
    ]),
    PathSpec::new("issuer/:issuer_ref", RUPD).fields(ISSUER_FIELDS),
    // OCSP: DER in (a POST body or base64 in the path), DER out.
    PathSpec::new("ocsp", U).unauthenticated(),
    PathSpec::new("ocsp/*req", R).unauthenticated(),
    PathSpec::new("unified-ocsp", U).unauthenticated(),
    PathSpec::new("unified-ocsp/*req", R).unauthenticated(),
    // Keys.
    PathSpec::new("keys", L),
    PathSpec::new("keys/generate/:exported", U).fields(&[
        "key_name",
        "key_type",
        "key_bits",
        "managed_key_name",
        "managed_key_id",
    ]),
    PathSpec::new("keys/import", U).fields(&["key_name", "pem_bundle"]),
    PathSpec::new("key/:key_ref", RUD).fields(&["key_name", "key_ref"]),
    // Configuration.
    PathSpec::new("config/urls", RU).fields(URL_FIELDS),
    PathSpec::new("config/crl", RU).fields(CRL_FIELDS),
    PathSpec::new("config/issuers", RU).fields(&["default", "default_follows_latest_issuer"]),
    PathSpec::new("config/keys", RU).fields(&["default"]),
    PathSpec::new("config/auto-tidy", RU).fields(AUTO_TIDY_FIELDS),
    PathSpec::new("config/cluster", RU).fields(&["path", "aia_path"]),
    // Maintenance.
    PathSpec::new("tidy", U).fields(TIDY_FIELDS),
    PathSpec::new("tidy-status", R),
    PathSpec::new("tidy-cancel", U),
];

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
    tidy: Arc<tidy::TidyState>,
}

impl Default for PkiBackend {
    fn default() -> Self {
        PkiBackend {
            cache: Arc::new(ReadCache::new(1)),
            roles: ReadCache::new(MAX_CACHED_ROLES),
            urls: ReadCache::new(1),
            write_lock: Arc::default(),
            tidy: Arc::default(),
        }
    }
}

impl PkiBackend {
    pub fn new() -> Self {
        Self::default()
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
    fn paths(&self) -> &'static [PathSpec] {
        PATHS
    }

    /// As Vault's PKI engine: deleting the CA and signing a self-issued CA
    /// certificate (the issuer-specific form is not protected in Vault).
    fn root_paths(&self) -> &'static [&'static str] {
        &["root", "root/sign-self-issued"]
    }

    async fn periodic(&self, storage: &StorageView) -> Result<()> {
        crl::periodic(self, storage).await?;
        tidy::periodic(self, storage).await
    }

    async fn handle(&self, req: &mut Request) -> Result<Option<Response>> {
        // Role names are Vault's `\w(([\w-.]+)?\w)?`: a path naming any
        // other role matches none of Vault's patterns.
        let role = match req.route {
            "roles/:name" => req.params.get("name"),
            _ => req.params.get("role"),
        };
        if role.is_some_and(|name| !crate::logical::framework::is_generic_name(name)) {
            return Err(Error::UnsupportedPath);
        }
        let op = req.operation;
        match req.route {
            "root/generate/:exported"
            | "issuers/generate/root/:exported"
            | "root/rotate/:exported" => ca::generate_root(self, req).await,
            "root/sign-intermediate" | "issuer/:issuer_ref/sign-intermediate" => {
                ca::sign_intermediate(self, req).await
            }
            "root/sign-self-issued" | "issuer/:issuer_ref/sign-self-issued" => {
                ca::sign_self_issued(self, req).await
            }
            "root/replace" => manage::replace_root(self, req).await,
            "root" => manage::delete_root(self, req).await,
            "intermediate/generate/:exported"
            | "issuers/generate/intermediate/:exported"
            | "intermediate/cross-sign" => ca::generate_intermediate(self, req).await,
            "intermediate/set-signed" => ca::import(self, req, "certificate", false).await,
            "config/ca" | "issuers/import/bundle" => {
                ca::import(self, req, "pem_bundle", true).await
            }
            "issuers/import/cert" => ca::import(self, req, "pem_bundle", false).await,
            "roles" => manage::list_roles(req).await,
            "roles/:name" => manage::role(self, req).await,
            "issue/:role" | "issuer/:issuer_ref/issue/:role" => {
                issue::issue(self, req, false).await
            }
            "sign/:role" | "issuer/:issuer_ref/sign/:role" => issue::issue(self, req, true).await,
            "sign-verbatim"
            | "sign-verbatim/:role"
            | "issuer/:issuer_ref/sign-verbatim"
            | "issuer/:issuer_ref/sign-verbatim/:role" => issue::sign_verbatim(self, req).await,
            "revoke" => crl::revoke(self, req, false).await,
            "revoke-with-key" => crl::revoke(self, req, true).await,
            "certs" => certs::list(req, certs::CERT_PREFIX).await,
            "certs/revoked" => certs::list(req, certs::REVOKED_PREFIX).await,
            "cert/ca_chain"
            | "cert/ca"
            | "cert/crl"
            | "cert/delta-crl"
            | "cert/:serial/raw/pem"
            | "cert/:serial/raw"
            | "cert/:serial"
            | "ca/pem"
            | "ca"
            | "ca_chain" => fetch::fetch(self, req).await,
            "crl/rotate" | "crl/rotate-delta" => crl::rotate(self, req).await,
            "crl/delta/pem"
            | "crl/delta"
            | "crl/pem"
            | "crl"
            | "issuer/:issuer_ref/crl/delta/pem"
            | "issuer/:issuer_ref/crl/delta/der"
            | "issuer/:issuer_ref/crl/delta"
            | "issuer/:issuer_ref/crl/pem"
            | "issuer/:issuer_ref/crl/der"
            | "issuer/:issuer_ref/crl" => crl::fetch(self, req).await,
            "issuers" => manage::list_issuers(self, req).await,
            "issuer/:issuer_ref/json" | "issuer/:issuer_ref/pem" | "issuer/:issuer_ref/der" => {
                fetch::issuer_cert(self, req).await
            }
            "issuer/:issuer_ref/revoke" => crl::revoke_issuer(self, req).await,
            "issuer/:issuer_ref/resign-crls" => crl_tools::resign(self, req).await,
            "issuer/:issuer_ref/sign-revocation-list" => crl_tools::sign_list(self, req).await,
            "ocsp" | "ocsp/*req" | "unified-ocsp" | "unified-ocsp/*req" => {
                ocsp::respond(self, req).await
            }
            "issuer/:issuer_ref" => match op {
                Operation::Read => manage::read_issuer(self, req).await,
                Operation::Delete => manage::delete_issuer(self, req).await,
                _ => manage::update_issuer(self, req).await,
            },
            "keys" => manage::list_keys(req).await,
            "keys/generate/:exported" => manage::generate_key(self, req).await,
            "keys/import" => manage::import_key(self, req).await,
            "key/:key_ref" => manage::key(self, req).await,
            "config/urls" => manage::config_urls(self, req).await,
            "config/crl" => crl::config(self, req).await,
            "config/issuers" => manage::config_issuers(self, req).await,
            "config/keys" => manage::config_keys(self, req).await,
            "config/auto-tidy" => tidy::config(self, req).await,
            "config/cluster" => manage::config_cluster(req).await,
            "tidy" => tidy::start(self, req).await,
            "tidy-status" => tidy::status(self, req).await,
            "tidy-cancel" => tidy::cancel(self, req).await,
            _ => Err(Error::UnsupportedPath),
        }
    }
}
