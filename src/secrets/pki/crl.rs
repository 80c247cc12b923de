//! Revocation and CRLs: `revoke`, `revoke-with-key`, `issuer/:ref/revoke`,
//! per-issuer complete and delta CRLs (built with each issuer's key),
//! `crl/rotate[-delta]`, `config/crl` and the auto-rebuild schedule.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map};

use super::certs;
use super::config;
use super::der;
use super::private_key::PrivateKey;
use super::public_key;
use super::store::{self, IssuerSet, LoadedIssuer};
use super::x509::{self, CertInfo};
use super::PkiBackend;
use crate::logical::{Error, Operation, Request, Response, Result};
use crate::storage::{BatchOp, StorageView};

const CRL_PREFIX: &str = "crls/";
const DELTA_CRL_PREFIX: &str = "delta-crls/";
const CRL_NUMBER_PREFIX: &str = "crl-number/";
const CRL_STATE_PREFIX: &str = "crl-state/";

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

/// What the last builds of an issuer's CRLs were: a delta CRL names the
/// complete CRL it extends and lists what was revoked since, and
/// auto-rebuild watches the complete CRL's next update.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CrlState {
    complete_number: i64,
    complete_this_update: i64,
    complete_next_update: i64,
    delta_this_update: i64,
}

async fn crl_state(storage: &StorageView, issuer_id: &str) -> Result<Option<CrlState>> {
    Ok(storage
        .get_json(&format!("{CRL_STATE_PREFIX}{issuer_id}"))
        .await?)
}

/// Drops an issuer's CRLs and their state (the issuer is being deleted).
pub async fn forget(storage: &StorageView, issuer_id: &str) -> Result<()> {
    for prefix in [
        CRL_PREFIX,
        DELTA_CRL_PREFIX,
        CRL_STATE_PREFIX,
        CRL_NUMBER_PREFIX,
    ] {
        storage.delete(&format!("{prefix}{issuer_id}")).await?;
    }
    Ok(())
}

/// Builds and stores the complete and delta CRLs of every issuer holding a
/// key (CRLs, numbers and state in one transaction).
pub async fn rebuild_all(storage: &StorageView, set: &IssuerSet) -> Result<()> {
    let ops = crl_writes(storage, set, None).await?;
    storage.batch(ops).await?;
    Ok(())
}

/// The mount's revocations, as the CRLs of its issuers list them.
struct Revocations<'a> {
    entries: Vec<RevokedEntry>,
    set: &'a IssuerSet,
    default_id: String,
    /// `config/crl` `disable`: CRLs are still signed, but empty.
    disabled: bool,
}

impl<'a> Revocations<'a> {
    fn new(entries: Vec<RevokedEntry>, set: &'a IssuerSet, disabled: bool) -> Self {
        let default_id = set
            .default_issuer()
            .map(|i| i.entry.id.clone())
            .unwrap_or_default();
        Revocations {
            entries,
            set,
            default_id,
            disabled,
        }
    }

    /// What `issuer`'s CRLs list of what was revoked at or after `since`:
    /// its own revocations, and those of unknown issuers on the default
    /// issuer's.
    fn listed_on(&self, issuer: &LoadedIssuer, since: i64) -> Vec<&RevokedEntry> {
        if self.disabled {
            return Vec::new();
        }
        self.entries
            .iter()
            .filter(|r| r.revocation_time >= since)
            .filter(|r| {
                r.issuer_id == issuer.entry.id
                    || ((r.issuer_id.is_empty() || !self.set.issuers.contains_key(&r.issuer_id))
                        && issuer.entry.id == self.default_id)
            })
            .collect()
    }
}

/// The writes that rebuild every issuer's complete CRL, counting `also` as
/// revoked (a revocation being written in the same transaction). Each
/// complete CRL comes with an empty delta CRL on top of it, as Vault's do:
/// the numbers are consecutive, the delta's base is the complete one.
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
    let revoked = Revocations::new(revoked, set, cfg.disable);
    let now = time::OffsetDateTime::now_utc();
    let next = now + time::Duration::seconds(cfg.expiry_seconds());
    let mut ops = Vec::new();
    for issuer in set.issuers.values() {
        let Some(key) = &issuer.key else { continue };
        let mine = revoked.listed_on(issuer, i64::MIN);
        let number = last_number(storage, &issuer.entry.id).await? + 1;
        let complete = build_crl(issuer, key, &mine, number, None, now, next)?;
        let delta = build_crl(issuer, key, &[], number + 1, Some(number), now, next)?;
        let state = CrlState {
            complete_number: number,
            complete_this_update: now.unix_timestamp(),
            complete_next_update: next.unix_timestamp(),
            delta_this_update: now.unix_timestamp(),
        };
        let id = &issuer.entry.id;
        ops.push(BatchOp::Put(
            format!("{CRL_NUMBER_PREFIX}{id}"),
            serde_json::to_vec(&(number + 1))?,
        ));
        ops.push(BatchOp::Put(format!("{CRL_PREFIX}{id}"), complete));
        ops.push(BatchOp::Put(format!("{DELTA_CRL_PREFIX}{id}"), delta));
        ops.push(BatchOp::Put(
            format!("{CRL_STATE_PREFIX}{id}"),
            serde_json::to_vec(&state)?,
        ));
    }
    Ok(ops)
}

/// Rebuilds every issuer's delta CRL: what was revoked since its complete
/// CRL was built. An issuer without a complete CRL yet gets everything
/// rebuilt instead.
async fn rebuild_deltas(storage: &StorageView, set: &IssuerSet) -> Result<()> {
    let cfg = config::read_crl_config(storage).await?;
    let revoked = Revocations::new(revoked_entries(storage).await?, set, cfg.disable);
    let now = time::OffsetDateTime::now_utc();
    let next = now + time::Duration::seconds(cfg.expiry_seconds());
    let mut ops = Vec::new();
    for issuer in set.issuers.values() {
        let Some(key) = &issuer.key else { continue };
        let Some(mut state) = crl_state(storage, &issuer.entry.id).await? else {
            return rebuild_all(storage, set).await;
        };
        let mine = revoked.listed_on(issuer, state.complete_this_update);
        let number = last_number(storage, &issuer.entry.id).await? + 1;
        let delta = build_crl(
            issuer,
            key,
            &mine,
            number,
            Some(state.complete_number),
            now,
            next,
        )?;
        state.delta_this_update = now.unix_timestamp();
        let id = &issuer.entry.id;
        ops.push(BatchOp::Put(
            format!("{CRL_NUMBER_PREFIX}{id}"),
            serde_json::to_vec(&number)?,
        ));
        ops.push(BatchOp::Put(format!("{DELTA_CRL_PREFIX}{id}"), delta));
        ops.push(BatchOp::Put(
            format!("{CRL_STATE_PREFIX}{id}"),
            serde_json::to_vec(&state)?,
        ));
    }
    storage.batch(ops).await?;
    Ok(())
}

/// The last CRL number used by an issuer (complete and delta CRLs share
/// one sequence, as RFC 5280 §5.2.3 requires).
async fn last_number(storage: &StorageView, issuer_id: &str) -> Result<i64> {
    Ok(storage
        .get_json::<i64>(&format!("{CRL_NUMBER_PREFIX}{issuer_id}"))
        .await?
        .unwrap_or(0))
}

/// One signed CRL of stored revocations; `delta_base` makes it a delta CRL
/// on top of the complete CRL with that number.
fn build_crl(
    issuer: &LoadedIssuer,
    key: &PrivateKey,
    revoked: &[&RevokedEntry],
    number: i64,
    delta_base: Option<i64>,
    this_update: time::OffsetDateTime,
    next_update: time::OffsetDateTime,
) -> Result<Vec<u8>> {
    let entries: Vec<CrlEntry> = revoked
        .iter()
        .map(|r| CrlEntry {
            serial: hex::decode(r.serial_number.replace(':', "")).unwrap_or_default(),
            revoked_at: super::profile::unix(r.revocation_time),
            extensions: Vec::new(),
        })
        .collect();
    let extra: Vec<Vec<u8>> = delta_base.map(delta_indicator).into_iter().collect();
    sign_crl(
        issuer,
        key,
        &entries,
        number,
        &extra,
        this_update,
        next_update,
    )
}

/// One revoked certificate on a CRL.
pub struct CrlEntry {
    /// Big-endian magnitude of the serial number.
    pub serial: Vec<u8>,
    pub revoked_at: time::OffsetDateTime,
    /// DER `Extension`s of the entry.
    pub extensions: Vec<Vec<u8>>,
}

/// The Delta CRL Indicator extension, critical (RFC 5280 §5.2.4).
pub fn delta_indicator(base: i64) -> Vec<u8> {
    der::seq(&[
        der::oid(&[2, 5, 29, 27]),
        der::boolean(true),
        der::octet_string(&der::int(base)),
    ])
}

/// Signs an X.509 v2 CRL as Go's `x509.CreateRevocationList` lays it out:
/// the issuer's AKI and the CRL number, then `extra` extensions.
pub fn sign_crl(
    issuer: &LoadedIssuer,
    key: &PrivateKey,
    entries: &[CrlEntry],
    number: i64,
    extra: &[Vec<u8>],
    this_update: time::OffsetDateTime,
    next_update: time::OffsetDateTime,
) -> Result<Vec<u8>> {
    let hash = key.revocation_signing(&issuer.entry.revocation_signature_algorithm);
    let sig_alg = key.signature_algorithm(hash);
    let mut parts = vec![
        der::int(1),
        sig_alg.clone(),
        issuer.cert.subject.clone(),
        der::time(this_update),
        der::time(next_update),
    ];
    if !entries.is_empty() {
        let list: Vec<Vec<u8>> = entries
            .iter()
            .map(|e| {
                let mut fields = vec![der::uint(&e.serial), der::time(e.revoked_at)];
                if !e.extensions.is_empty() {
                    fields.push(der::seq(&e.extensions));
                }
                der::seq(&fields)
            })
            .collect();
        parts.push(der::seq(&list));
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
    exts.extend(extra.iter().cloned());
    parts.push(der::explicit(0, &der::seq(&exts)));
    let tbs = der::seq(&parts);
    let sig = key.sign(hash, &tbs).map_err(Error::internal)?;
    Ok(der::seq(&[tbs, sig_alg, der::bit_string(&sig)]))
}

/// The stored complete or delta CRL of `issuer`, built on first use.
async fn crl_of(
    backend: &PkiBackend,
    storage: &StorageView,
    set: &IssuerSet,
    issuer: &LoadedIssuer,
    delta: bool,
) -> Result<Option<Vec<u8>>> {
    let prefix = if delta { DELTA_CRL_PREFIX } else { CRL_PREFIX };
    let key = format!("{prefix}{}", issuer.entry.id);
    if let Some(crl) = storage.get(&key).await? {
        return Ok(Some(crl));
    }
    if issuer.key.is_none() {
        return Ok(None);
    }
    let _guard = backend.write_lock.lock().await;
    if storage.get(&key).await?.is_none() {
        rebuild_all(storage, set).await?;
    }
    Ok(storage.get(&key).await?)
}

/// `crl`, `crl/pem`, `cert/crl`, `issuer/:ref/crl[/pem|/der]` and their
/// delta forms (`crl/delta`, `cert/delta-crl`, `issuer/:ref/crl/delta…`).
pub async fn fetch(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let set = backend.issuers(&req.storage).await?;
    let delta =
        req.route.contains("delta") || req.params.get("serial").is_some_and(|s| s == "delta-crl");
    let issuer = match req.params.get("issuer_ref") {
        Some(r) => set.resolve(r).ok_or_else(|| {
            Error::bad_request(format!("unable to find PKI issuer for reference: {r}"))
        })?,
        None => match set.default_issuer() {
            Some(i) => i,
            None => return Ok(Some(Response::raw(204, "application/pkix-crl", Vec::new()))),
        },
    };
    let Some(crl) = crl_of(backend, &req.storage, &set, &issuer, delta).await? else {
        return Ok(Some(Response::raw(204, "application/pkix-crl", Vec::new())));
    };
    let pem_text = der::pem_encode("X509 CRL", &crl);
    match req.route {
        "crl" | "crl/delta" | "issuer/:issuer_ref/crl/der" | "issuer/:issuer_ref/crl/delta/der" => {
            Ok(Some(Response::raw(200, "application/pkix-crl", crl)))
        }
        "crl/pem" | "crl/delta/pem" => Ok(Some(Response::raw(
            200,
            "application/x-pem-file",
            pem_text.into_bytes(),
        ))),
        // The issuer forms keep pem.EncodeToMemory's trailing newline.
        "issuer/:issuer_ref/crl/pem" | "issuer/:issuer_ref/crl/delta/pem" => {
            Ok(Some(Response::raw(
                200,
                "application/x-pem-file",
                format!("{pem_text}\n").into_bytes(),
            )))
        }
        "issuer/:issuer_ref/crl" | "issuer/:issuer_ref/crl/delta" => {
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

/// `crl/rotate` (complete and delta CRLs) and `crl/rotate-delta`.
pub async fn rotate(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let set = backend.issuers(&req.storage).await?;
    let mut warnings = Vec::new();
    let _guard = backend.write_lock.lock().await;
    if req.route == "crl/rotate-delta" {
        if config::read_crl_config(&req.storage).await?.enable_delta {
            rebuild_deltas(&req.storage, &set).await?;
        } else {
            warnings.push(
                "requested rebuild of delta CRL when delta CRL is not enabled; this is a no-op"
                    .to_string(),
            );
        }
    } else {
        rebuild_all(&req.storage, &set).await?;
    }
    let mut data = Map::new();
    data.insert("success".into(), json!(true));
    let mut resp = Response::data(data);
    resp.warnings = warnings;
    Ok(Some(resp))
}

/// Vault's CRL auto-rebuild, run from the backend's periodic upkeep: with
/// `auto_rebuild` the complete CRLs are rebuilt once they are within
/// `auto_rebuild_grace_period` of their next update (revocations alone do
/// not rebuild them), and with `enable_delta` the delta CRLs every
/// `delta_rebuild_interval` when something was revoked since the last one.
pub async fn periodic(backend: &PkiBackend, storage: &StorageView) -> Result<()> {
    let cfg = config::read_crl_config(storage).await?;
    if !cfg.auto_rebuild {
        return Ok(());
    }
    let set = backend.issuers(storage).await?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let _guard = backend.write_lock.lock().await;
    let mut oldest_delta = i64::MAX;
    for issuer in set.issuers.values().filter(|i| i.key.is_some()) {
        match crl_state(storage, &issuer.entry.id).await? {
            Some(state) if now < state.complete_next_update - cfg.grace_seconds() => {
                oldest_delta = oldest_delta.min(state.delta_this_update);
            }
            _ => return rebuild_all(storage, &set).await,
        }
    }
    if cfg.enable_delta
        && oldest_delta != i64::MAX
        && now - oldest_delta >= cfg.delta_interval_seconds()
        && revoked_entries(storage)
            .await?
            .iter()
            .any(|r| r.revocation_time >= oldest_delta)
    {
        rebuild_deltas(storage, &set).await?;
    }
    Ok(())
}

/// `config/crl` read and write. A write that changes what the CRLs hold
/// or how they are built (`disable`, leaving `auto_rebuild`, toggling
/// `enable_delta`) rebuilds them.
pub async fn config(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let mut cfg = config::read_crl_config(&req.storage).await?;
    if req.operation == Operation::Read {
        return Ok(Some(Response::data(cfg.data())));
    }
    let _guard = backend.write_lock.lock().await;
    let old = cfg.clone();
    cfg.merge(&req.data)?;
    req.storage.put_json(config::CONFIG_CRL, &cfg).await?;
    if old.disable != cfg.disable
        || (old.auto_rebuild && !cfg.auto_rebuild)
        || old.enable_delta != cfg.enable_delta
    {
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
    super::manage::read_issuer(backend, req).await
}
