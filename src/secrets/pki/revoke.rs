//! Revocation: of a certificate (`revoke`, or `revoke-with-key` with proof
//! of its key) and of an issuer (`issuer/:issuer_ref/revoke`); the
//! revocation entries the CRLs and OCSP answer from.

use crate::util::gotime::rfc3339;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map};

use super::cert_info::{self, CertInfo};
use super::certs;
use super::config;
use super::crl::{crl_writes, rebuild_all};
use super::private_key::PrivateKey;
use super::public_key;
use super::store;
use super::PkiBackend;
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, Request, Response, Result};
use crate::storage::{BatchOp, StorageView};

/// The certificate to revoke: by serial, or the PEM itself.
const CERTIFICATE_FIELDS: &[Field] =
    &[Field::string("serial_number"), Field::string("certificate")];

pub(super) const PATHS: &[Path<PkiBackend>] = &[
    Path::new("revoke")
        .fields(&[CERTIFICATE_FIELDS])
        .update(handler!(b, r => revoke(b, r, Proof::None))),
    Path::new("revoke-with-key")
        .fields(&[CERTIFICATE_FIELDS, &[Field::string("private_key")]])
        .update(handler!(b, r => revoke(b, r, Proof::PrivateKey))),
    Path::new("issuer/:issuer_ref/revoke").update(handler!(revoke_issuer)),
];

/// What a revocation request must prove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proof {
    None,
    /// `private_key`, the certificate's own.
    PrivateKey,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevokedEntry {
    pub serial_number: String,
    pub revocation_time: i64,
    pub issuer_id: String,
    /// Base64 DER of the revoked certificate.
    pub certificate: String,
}

pub async fn revoked_entry(storage: &StorageView, serial: &str) -> Result<Option<RevokedEntry>> {
    let key = certs::storage_serial(serial);
    if key.is_empty() || key.contains('/') {
        return Ok(None);
    }
    Ok(storage
        .get_json(&format!("{}{key}", certs::REVOKED_PREFIX))
        .await?)
}

pub(super) fn revocation_response(entry: &RevokedEntry) -> Response {
    let mut data = Map::new();
    data.insert("revocation_time".into(), json!(entry.revocation_time));
    data.insert(
        "revocation_time_rfc3339".into(),
        json!(rfc3339(entry.revocation_time)),
    );
    data.insert("state".into(), json!("revoked"));
    Response::data(data)
}

async fn revoke(backend: &PkiBackend, req: &mut Request, proof: Proof) -> Result<Option<Response>> {
    let serial = req.data.str_or("serial_number", "")?;
    let pem_text = req.data.str_or("certificate", "")?;
    if !serial.is_empty() && !pem_text.is_empty() {
        return Err(Error::bad_request(
            "Must provide either the certificate or the serial to revoke; not both.",
        ));
    }
    if serial.is_empty() && pem_text.is_empty() {
        return Err(Error::bad_request(
            "The serial number or certificate to revoke must be provided.",
        ));
    }
    let set = backend.issuers(&req.storage).await?;
    let cert = if !pem_text.is_empty() {
        let der_bytes = cert_info::pem_certificates(&pem_text)
            .ok()
            .and_then(|c| c.into_iter().next())
            .ok_or_else(|| {
                Error::bad_request("certificate could not be parsed: no PEM certificate found")
            })?;
        let cert = CertInfo::parse(&der_bytes).map_err(Error::bad_request)?;
        let stored = certs::load(&req.storage, &cert.serial_string()).await?;
        if stored.as_deref() != Some(cert.der.as_slice())
            && !set.issuers.values().any(|i| cert.signed_by(&i.cert))
        {
            return Err(Error::bad_request("unable to verify signature on presented cert from any present issuer in this mount; certificates from previous CAs will need to have their issuing CA and key re-imported if revocation is necessary"));
        }
        cert
    } else {
        let der_bytes = certs::load(&req.storage, &serial).await?.ok_or_else(|| {
            Error::bad_request(format!("certificate with serial {serial} not found."))
        })?;
        CertInfo::parse(&der_bytes).map_err(Error::internal)?
    };
    if proof == Proof::PrivateKey {
        let key_text = req.data.str_or("private_key", "")?;
        if key_text.is_empty() {
            return Err(Error::bad_request("private_key must be provided"));
        }
        let key = PrivateKey::from_pem(&key_text)
            .map_err(|e| Error::bad_request(format!("failed to parse private key: {e}")))?;
        let key_bytes =
            public_key::info(&key.spki().map_err(Error::internal)?).map(|i| i.key_bytes);
        let cert_bytes = public_key::info(&cert.spki).map(|i| i.key_bytes);
        if key_bytes.is_none() || key_bytes != cert_bytes {
            return Err(Error::bad_request(
                "failed to validate private key match on certificate: public key mismatch",
            ));
        }
    }
    if let Some(issuer) = set.find_by_cert(&cert.der) {
        return Err(Error::bad_request(format!(
            "adding issuer (id: {}) to its own CRL is not allowed",
            issuer.entry.id
        )));
    }
    let _guard = backend.write_lock.lock().await;
    if let Some(existing) = revoked_entry(&req.storage, &cert.serial_string()).await? {
        return Ok(Some(revocation_response(&existing)));
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if cert.not_after < now {
        let mut resp = Response::data(Map::new());
        resp.warnings.push(format!(
            "certificate with serial {} has already expired; refusing to add to CRL",
            cert.serial_string()
        ));
        resp.data = None;
        return Ok(Some(resp));
    }
    let entry = record_revocation(&req.storage, &set, &cert, now).await?;
    backend.metrics.pki_revoked.with(&[&req.mount_point]).inc();
    Ok(Some(revocation_response(&entry)))
}

/// Writes the revocation of `cert` (not yet revoked, not expired) and,
/// unless the CRL is rebuilt automatically, the CRLs that list it, in one
/// transaction. The caller holds the mount's write lock.
pub(super) async fn record_revocation(
    storage: &StorageView,
    set: &store::IssuerSet,
    cert: &CertInfo,
    now: i64,
) -> Result<RevokedEntry> {
    let issuer_id = set
        .issuers
        .values()
        .find(|i| cert.signed_by(&i.cert))
        .map(|i| i.entry.id.clone())
        .unwrap_or_default();
    let entry = RevokedEntry {
        serial_number: cert.serial_string(),
        revocation_time: now,
        issuer_id,
        certificate: base64::engine::general_purpose::STANDARD.encode(&cert.der),
    };
    // The entry and the CRLs that list it land in one transaction: a crash
    // can never leave a revoked certificate missing from a stored CRL (a
    // retried revoke answers from the entry alone).
    let mut ops = vec![BatchOp::Put(
        format!(
            "{}{}",
            certs::REVOKED_PREFIX,
            certs::storage_serial(&entry.serial_number)
        ),
        serde_json::to_vec(&entry)?,
    )];
    let cfg = config::read_crl_config(storage).await?;
    if !cfg.auto_rebuild {
        ops.extend(crl_writes(storage, set, Some(&entry)).await?);
    }
    storage.batch(ops).await?;
    Ok(entry)
}

/// All revoked entries.
pub(super) async fn revoked_entries(storage: &StorageView) -> Result<Vec<RevokedEntry>> {
    let mut out = Vec::new();
    for key in storage.list(certs::REVOKED_PREFIX).await? {
        if let Some(e) = storage
            .get_json::<RevokedEntry>(&format!("{}{key}", certs::REVOKED_PREFIX))
            .await?
        {
            out.push(e);
        }
    }
    Ok(out)
}

/// `issuer/:ref/revoke`: marks an issuer revoked and lists it on the CRLs
/// of its parents.
async fn revoke_issuer(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let set = backend.issuers(&req.storage).await?;
    let reference = req.param("issuer_ref")?.to_string();
    let issuer = set.require(&reference)?;
    let _guard = backend.write_lock.lock().await;
    if !issuer.entry.revoked {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut entry = issuer.entry.clone();
        entry.revoked = true;
        entry.revocation_time = now;
        entry.usage = entry
            .usage
            .split(',')
            .filter(|u| *u != "issuing-certificates" && *u != "crl-signing" && *u != "ocsp-signing")
            .collect::<Vec<_>>()
            .join(",");
        store::put_issuer(&req.storage, &entry).await?;
        if !issuer.cert.self_issued() {
            let parent = set
                .issuers
                .values()
                .find(|p| issuer.cert.signed_by(&p.cert))
                .map(|p| p.entry.id.clone());
            let revoked = RevokedEntry {
                serial_number: issuer.cert.serial_string(),
                revocation_time: now,
                issuer_id: parent.unwrap_or_default(),
                certificate: base64::engine::general_purpose::STANDARD.encode(&issuer.cert.der),
            };
            req.storage
                .put_json(
                    &format!(
                        "{}{}",
                        certs::REVOKED_PREFIX,
                        certs::storage_serial(&revoked.serial_number)
                    ),
                    &revoked,
                )
                .await?;
        }
        backend.invalidate();
        let set = backend.issuers(&req.storage).await?;
        rebuild_all(&req.storage, &set).await?;
    }
    drop(_guard);
    super::issuers::read_issuer(backend, req).await
}
