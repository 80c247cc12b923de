//! CRLs: per-issuer complete and delta CRLs (built with each issuer's
//! key), how they are served (`crl`, `cert/crl`, `issuer/:ref/crl`, and
//! their PEM, DER and delta forms), `crl/rotate[-delta]`, `config/crl` and
//! the auto-rebuild schedule.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map};

use super::config::{self, CRL_CONFIG_FIELDS};
use super::der;
use super::private_key::PrivateKey;
use super::revoke::{revoked_entries, RevokedEntry};
use super::store::{IssuerSet, LoadedIssuer};
use super::PkiBackend;
use crate::handler;
use crate::logical::framework::{Answer, Path};
use crate::logical::{Error, Operation, Request, Response, Result};
use crate::storage::{BatchOp, StorageView};

const PKIX_CRL: &str = "application/pkix-crl";
const PEM_FILE: &str = "application/x-pem-file";

pub(super) const PATHS: &[Path<PkiBackend>] = &[
    // Literal routes for what `cert/:serial` would also answer.
    Path::new("cert/crl")
        .unauthenticated()
        .on_standby(&[Operation::Read])
        .read(handler!(b, r => fetch(b, r, Crl::Complete, Form::CertJson))),
    Path::new("cert/delta-crl")
        .unauthenticated()
        .on_standby(&[Operation::Read])
        .read(handler!(b, r => fetch(b, r, Crl::Delta, Form::CertJson))),
    Path::new("crl/rotate").read(handler!(b, r => rotate(b, r, Crl::Complete))),
    Path::new("crl/rotate-delta").read(handler!(b, r => rotate(b, r, Crl::Delta))),
    Path::new("crl/delta/pem")
        .unauthenticated()
        .on_standby(&[Operation::Read])
        .answers(Answer::Raw(PEM_FILE))
        .read(handler!(b, r => fetch(b, r, Crl::Delta, Form::Pem))),
    Path::new("crl/delta")
        .unauthenticated()
        .on_standby(&[Operation::Read])
        .answers(Answer::Raw(PKIX_CRL))
        .read(handler!(b, r => fetch(b, r, Crl::Delta, Form::Der))),
    Path::new("crl/pem")
        .unauthenticated()
        .on_standby(&[Operation::Read])
        .answers(Answer::Raw(PEM_FILE))
        .read(handler!(b, r => fetch(b, r, Crl::Complete, Form::Pem))),
    Path::new("crl")
        .unauthenticated()
        .on_standby(&[Operation::Read])
        .answers(Answer::Raw(PKIX_CRL))
        .read(handler!(b, r => fetch(b, r, Crl::Complete, Form::Der))),
    Path::new("issuer/:issuer_ref/crl/delta/pem")
        .unauthenticated()
        .on_standby(&[Operation::Read])
        .answers(Answer::Raw(PEM_FILE))
        .read(handler!(b, r => fetch(b, r, Crl::Delta, Form::IssuerPem))),
    Path::new("issuer/:issuer_ref/crl/delta/der")
        .unauthenticated()
        .on_standby(&[Operation::Read])
        .answers(Answer::Raw(PKIX_CRL))
        .read(handler!(b, r => fetch(b, r, Crl::Delta, Form::Der))),
    Path::new("issuer/:issuer_ref/crl/delta")
        .unauthenticated()
        .on_standby(&[Operation::Read])
        .read(handler!(b, r => fetch(b, r, Crl::Delta, Form::IssuerJson))),
    Path::new("issuer/:issuer_ref/crl/pem")
        .unauthenticated()
        .on_standby(&[Operation::Read])
        .answers(Answer::Raw(PEM_FILE))
        .read(handler!(b, r => fetch(b, r, Crl::Complete, Form::IssuerPem))),
    Path::new("issuer/:issuer_ref/crl/der")
        .unauthenticated()
        .on_standby(&[Operation::Read])
        .answers(Answer::Raw(PKIX_CRL))
        .read(handler!(b, r => fetch(b, r, Crl::Complete, Form::Der))),
    Path::new("issuer/:issuer_ref/crl")
        .unauthenticated()
        .on_standby(&[Operation::Read])
        .read(handler!(b, r => fetch(b, r, Crl::Complete, Form::IssuerJson))),
    Path::new("config/crl")
        .fields(&[CRL_CONFIG_FIELDS])
        .read(handler!(read_config))
        .update(handler!(write_config)),
];

const CRL_PREFIX: &str = "crls/";
const DELTA_CRL_PREFIX: &str = "delta-crls/";
const CRL_NUMBER_PREFIX: &str = "crl-number/";
const CRL_STATE_PREFIX: &str = "crl-state/";

/// What the last builds of an issuer's CRLs were: a delta CRL names the
/// complete CRL it extends and lists what was revoked since, and
/// auto-rebuild watches the complete CRL's next update.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CrlState {
    complete_number: i64,
    complete_this_update: i64,
    complete_next_update: i64,
    delta_this_update: i64,
    /// Absent from state written before it was recorded: the delta CRL
    /// was then last built with the complete one, so shares its next update.
    #[serde(default)]
    delta_next_update: Option<i64>,
}

async fn crl_state(storage: &StorageView, issuer_id: &str) -> Result<Option<CrlState>> {
    Ok(storage
        .get_json(&format!("{CRL_STATE_PREFIX}{issuer_id}"))
        .await?)
}

/// When an issuer's complete and delta CRLs were built and are due again
/// (seconds since the epoch), and their sizes in bytes; `None` before its
/// first build.
pub(super) async fn freshness(
    storage: &StorageView,
    issuer_id: &str,
) -> Result<Option<CrlFreshness>> {
    let Some(state) = crl_state(storage, issuer_id).await? else {
        return Ok(None);
    };
    let size = |prefix: &'static str| async move {
        Ok::<_, crate::logical::Error>(
            storage
                .get(&format!("{prefix}{issuer_id}"))
                .await?
                .map_or(0, |crl| crl.len()),
        )
    };
    Ok(Some(CrlFreshness {
        complete: CrlTimes {
            this_update: state.complete_this_update,
            next_update: state.complete_next_update,
            size: size(CRL_PREFIX).await?,
        },
        delta: CrlTimes {
            this_update: state.delta_this_update,
            next_update: state
                .delta_next_update
                .unwrap_or(state.complete_next_update),
            size: size(DELTA_CRL_PREFIX).await?,
        },
    }))
}

/// See [`freshness`].
pub(super) struct CrlFreshness {
    pub complete: CrlTimes,
    pub delta: CrlTimes,
}

/// One CRL's build time, next update (seconds since the epoch) and size.
pub(super) struct CrlTimes {
    pub this_update: i64,
    pub next_update: i64,
    pub size: usize,
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
pub(super) async fn crl_writes(
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
            delta_next_update: Some(next.unix_timestamp()),
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
        state.delta_next_update = Some(next.unix_timestamp());
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
    which: Crl,
) -> Result<Option<Vec<u8>>> {
    let prefix = match which {
        Crl::Complete => CRL_PREFIX,
        Crl::Delta => DELTA_CRL_PREFIX,
    };
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

/// Which of an issuer's CRLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Crl {
    Complete,
    /// What was revoked since the complete CRL was built.
    Delta,
}

/// How a CRL is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Form {
    /// Raw DER (`crl`, `issuer/:ref/crl/der`).
    Der,
    /// Raw PEM (`crl/pem`).
    Pem,
    /// Raw PEM with `pem.EncodeToMemory`'s trailing newline
    /// (`issuer/:ref/crl/pem`).
    IssuerPem,
    /// `data.crl`, PEM with the trailing newline (`issuer/:ref/crl`).
    IssuerJson,
    /// As a certificate is read (`cert/crl`): `data.certificate`, PEM.
    CertJson,
}

/// A CRL of the issuer the path names, else of the default issuer.
pub(super) async fn fetch(
    backend: &PkiBackend,
    req: &mut Request,
    which: Crl,
    form: Form,
) -> Result<Option<Response>> {
    let set = backend.issuers(&req.storage).await?;
    let issuer = match req.params.get("issuer_ref") {
        Some(r) => set.resolve(r).ok_or_else(|| {
            Error::bad_request(format!("unable to find PKI issuer for reference: {r}"))
        })?,
        None => match set.default_issuer() {
            Some(i) => i,
            None => return Ok(Some(Response::raw(204, PKIX_CRL, Vec::new()))),
        },
    };
    let Some(crl) = crl_of(backend, &req.storage, &set, &issuer, which).await? else {
        return Ok(Some(Response::raw(204, PKIX_CRL, Vec::new())));
    };
    let pem_text = der::pem_encode("X509 CRL", &crl);
    let response = match form {
        Form::Der => Response::raw(200, PKIX_CRL, crl),
        Form::Pem => Response::raw(200, PEM_FILE, pem_text.into_bytes()),
        Form::IssuerPem => Response::raw(200, PEM_FILE, format!("{pem_text}\n").into_bytes()),
        Form::IssuerJson => {
            let mut data = Map::new();
            data.insert("crl".into(), json!(format!("{pem_text}\n")));
            Response::data(data)
        }
        Form::CertJson => {
            let mut data = Map::new();
            data.insert("certificate".into(), json!(pem_text));
            data.insert("revocation_time".into(), json!(0));
            data.insert("revocation_time_rfc3339".into(), json!(""));
            Response::data(data)
        }
    };
    Ok(Some(response))
}

/// `crl/rotate` (complete and delta CRLs) and `crl/rotate-delta`.
async fn rotate(backend: &PkiBackend, req: &mut Request, which: Crl) -> Result<Option<Response>> {
    let set = backend.issuers(&req.storage).await?;
    let mut warnings = Vec::new();
    let _guard = backend.write_lock.lock().await;
    match which {
        Crl::Delta if config::read_crl_config(&req.storage).await?.enable_delta => {
            rebuild_deltas(&req.storage, &set).await?;
        }
        Crl::Delta => warnings.push(
            "requested rebuild of delta CRL when delta CRL is not enabled; this is a no-op"
                .to_string(),
        ),
        Crl::Complete => rebuild_all(&req.storage, &set).await?,
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

async fn read_config(_: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let cfg = config::read_crl_config(&req.storage).await?;
    Ok(Some(Response::data(cfg.data())))
}

/// A write that changes what the CRLs hold or how they are built
/// (`disable`, leaving `auto_rebuild`, toggling `enable_delta`) rebuilds
/// them.
async fn write_config(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let _guard = backend.write_lock.lock().await;
    let mut cfg = config::read_crl_config(&req.storage).await?;
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
