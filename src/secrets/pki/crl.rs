//! Revocation and CRLs: `revoke`, `revoke-with-key`, `issuer/:ref/revoke`,
//! per-issuer CRLs (built with each issuer's key), `crl/rotate` and
//! `config/crl`.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map};

use super::certs;
use super::config::{self, CrlConfig};
use super::der;
use super::issuers::{self, IssuerSet, LoadedIssuer};
use super::keys::{self, PrivateKey};
use super::x509::{self, CertInfo};
use super::PkiBackend;
use crate::logical::{Error, Operation, Request, Response, Result};
use crate::storage::{BatchOp, StorageView};

const CRL_PREFIX: &str = "crls/";
const CRL_NUMBER_PREFIX: &str = "crl-number/";

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

fn rfc3339(t: i64) -> String {
    super::profile::unix(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn revocation_response(entry: &RevokedEntry) -> Response {
    let mut data = Map::new();
    data.insert("revocation_time".into(), json!(entry.revocation_time));
    data.insert(
        "revocation_time_rfc3339".into(),
        json!(rfc3339(entry.revocation_time)),
    );
    data.insert("state".into(), json!("revoked"));
    Response::data(data)
}

/// `revoke` and `revoke-with-key`.
pub async fn revoke(
    backend: &PkiBackend,
    req: &mut Request,
    with_key: bool,
) -> Result<Option<Response>> {
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
        let der_bytes = x509::pem_certificates(&pem_text)
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
    if with_key {
        let key_text = req.data.str_or("private_key", "")?;
        if key_text.is_empty() {
            return Err(Error::bad_request("private_key must be provided"));
        }
        let key = PrivateKey::from_pem(&key_text)
            .map_err(|e| Error::bad_request(format!("failed to parse private key: {e}")))?;
        let key_bytes =
            keys::public_key_info(&key.spki().map_err(Error::internal)?).map(|i| i.key_bytes);
        let cert_bytes = keys::public_key_info(&cert.spki).map(|i| i.key_bytes);
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
    let cfg = config::read_crl_config(&req.storage).await?;
    if !cfg.auto_rebuild {
        ops.extend(crl_writes(&req.storage, &set, Some(&entry)).await?);
    }
    req.storage.batch(ops).await?;
    Ok(Some(revocation_response(&entry)))
}

/// All revoked entries.
async fn revoked_entries(storage: &StorageView) -> Result<Vec<RevokedEntry>> {
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

/// Builds and stores the CRL of every issuer holding a key (CRLs and
/// their numbers in one transaction).
pub async fn rebuild_all(storage: &StorageView, set: &IssuerSet) -> Result<()> {
    let ops = crl_writes(storage, set, None).await?;
    storage.batch(ops).await?;
    Ok(())
}

/// The writes that rebuild every issuer's CRL, counting `also` as revoked
/// (a revocation being written in the same transaction).
async fn crl_writes(
    storage: &StorageView,
    set: &IssuerSet,
    also: Option<&RevokedEntry>,
) -> Result<Vec<BatchOp>> {
    let cfg = config::read_crl_config(storage).await?;
    let mut revoked = revoked_entries(storage).await?;
    if let Some(entry) = also {
        revoked.retain(|r| r.serial_number != entry.serial_number);
        revoked.push(entry.clone());
    }
    let mut ops = Vec::new();
    let default_id = set
        .default_issuer()
        .map(|i| i.entry.id.clone())
        .unwrap_or_default();
    for issuer in set.issuers.values() {
        if issuer.key.is_none() {
            continue;
        }
        let mine: Vec<&RevokedEntry> = if cfg.disable {
            vec![]
        } else {
            revoked
                .iter()
                .filter(|r| {
                    r.issuer_id == issuer.entry.id
                        || ((r.issuer_id.is_empty() || !set.issuers.contains_key(&r.issuer_id))
                            && issuer.entry.id == default_id)
                })
                .collect()
        };
        let (number_write, crl) = build_crl(storage, issuer, &mine, &cfg).await?;
        ops.push(number_write);
        ops.push(BatchOp::Put(
            format!("{CRL_PREFIX}{}", issuer.entry.id),
            crl,
        ));
    }
    Ok(ops)
}

async fn build_crl(
    storage: &StorageView,
    issuer: &LoadedIssuer,
    revoked: &[&RevokedEntry],
    cfg: &CrlConfig,
) -> Result<(BatchOp, Vec<u8>)> {
    let key = issuer
        .key
        .clone()
        .ok_or_else(|| Error::internal("issuer without key"))?;
    let number_key = format!("{CRL_NUMBER_PREFIX}{}", issuer.entry.id);
    let number: i64 = storage.get_json::<i64>(&number_key).await?.unwrap_or(0) + 1;
    let number_write = BatchOp::Put(number_key, serde_json::to_vec(&number)?);
    let now = time::OffsetDateTime::now_utc();
    let next = now + time::Duration::seconds(cfg.expiry_seconds());
    let hash = key.hash_for(0);
    let sig_alg = key.signature_algorithm(hash);
    let mut parts = vec![
        der::int(1),
        sig_alg.clone(),
        issuer.cert.subject.clone(),
        der::time(now),
        der::time(next),
    ];
    if !revoked.is_empty() {
        let entries: Vec<Vec<u8>> = revoked
            .iter()
            .map(|r| {
                let serial = hex::decode(r.serial_number.replace(':', "")).unwrap_or_default();
                der::seq(&[
                    der::uint(&serial),
                    der::time(super::profile::unix(r.revocation_time)),
                ])
            })
            .collect();
        parts.push(der::seq(&entries));
    }
    let mut exts = Vec::new();
    if let Some(ski) = &issuer.cert.subject_key_id {
        exts.push(der::seq(&[
            der::oid(&[2, 5, 29, 35]),
            der::octet_string(&der::seq(&[der::implicit_primitive(0, ski)])),
        ]));
    }
    exts.push(der::seq(&[
        der::oid(&[2, 5, 29, 20]),
        der::octet_string(&der::int(number)),
    ]));
    parts.push(der::explicit(0, &der::seq(&exts)));
    let tbs = der::seq(&parts);
    let sig = key.sign(hash, &tbs).map_err(Error::internal)?;
    Ok((
        number_write,
        der::seq(&[tbs, sig_alg, der::bit_string(&sig)]),
    ))
}

/// The stored CRL of `issuer`, built on first use.
async fn crl_of(
    backend: &PkiBackend,
    storage: &StorageView,
    set: &IssuerSet,
    issuer: &LoadedIssuer,
) -> Result<Option<Vec<u8>>> {
    let key = format!("{CRL_PREFIX}{}", issuer.entry.id);
    if let Some(crl) = storage.get(&key).await? {
        return Ok(Some(crl));
    }
    if issuer.key.is_none() {
        return Ok(None);
    }
    let _guard = backend.write_lock.lock().await;
    rebuild_all(storage, set).await?;
    Ok(storage.get(&key).await?)
}

/// `crl`, `crl/pem`, `cert/crl`, `issuer/:ref/crl[/pem|/der]` (and delta
/// variants, which are empty: delta CRLs are not enabled).
pub async fn fetch(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let set = backend.issuers(&req.storage).await?;
    if req.route.contains("delta") || req.params.get("serial").is_some_and(|s| s == "delta-crl") {
        return Ok(Some(Response::raw(204, "application/pkix-crl", Vec::new())));
    }
    let issuer = match req.params.get("issuer_ref") {
        Some(r) => set.resolve(r).ok_or_else(|| {
            Error::bad_request(format!("unable to find PKI issuer for reference: {r}"))
        })?,
        None => match set.default_issuer() {
            Some(i) => i,
            None => return Ok(Some(Response::raw(204, "application/pkix-crl", Vec::new()))),
        },
    };
    let Some(crl) = crl_of(backend, &req.storage, &set, &issuer).await? else {
        return Ok(Some(Response::raw(204, "application/pkix-crl", Vec::new())));
    };
    let pem_text = keys::pem_encode("X509 CRL", &crl);
    match req.route {
        "crl" | "issuer/:issuer_ref/crl/der" => {
            Ok(Some(Response::raw(200, "application/pkix-crl", crl)))
        }
        "crl/pem" => Ok(Some(Response::raw(
            200,
            "application/x-pem-file",
            pem_text.into_bytes(),
        ))),
        // The issuer forms keep pem.EncodeToMemory's trailing newline.
        "issuer/:issuer_ref/crl/pem" => Ok(Some(Response::raw(
            200,
            "application/x-pem-file",
            format!("{pem_text}\n").into_bytes(),
        ))),
        "issuer/:issuer_ref/crl" => {
            let mut data = Map::new();
            data.insert("crl".into(), json!(format!("{pem_text}\n")));
            Ok(Some(Response::data(data)))
        }
        _ => {
            let mut data = Map::new();
            data.insert("certificate".into(), json!(pem_text));
            data.insert("revocation_time".into(), json!(0));
            data.insert("revocation_time_rfc3339".into(), json!(""));
            Ok(Some(Response::data(data)))
        }
    }
}

/// `crl/rotate`.
pub async fn rotate(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let set = backend.issuers(&req.storage).await?;
    let _guard = backend.write_lock.lock().await;
    rebuild_all(&req.storage, &set).await?;
    let mut data = Map::new();
    data.insert("success".into(), json!(true));
    Ok(Some(Response::data(data)))
}

/// `config/crl` read and write.
pub async fn config(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let mut cfg = config::read_crl_config(&req.storage).await?;
    if req.operation == Operation::Read {
        return Ok(Some(Response::data(cfg.data())));
    }
    let _guard = backend.write_lock.lock().await;
    let was_disabled = cfg.disable;
    cfg.merge(&req.data)?;
    req.storage.put_json(config::CONFIG_CRL, &cfg).await?;
    if was_disabled != cfg.disable {
        let set = backend.issuers(&req.storage).await?;
        rebuild_all(&req.storage, &set).await?;
    }
    Ok(Some(Response::data(cfg.data())))
}

/// `issuer/:ref/revoke`: marks an issuer revoked and lists it on the CRLs
/// of its parents.
pub async fn revoke_issuer(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
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
        issuers::put_issuer(&req.storage, &entry).await?;
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
    super::manage::read_issuer(backend, req).await
}
