//! `tidy` (202 Accepted, runs in the background), `tidy-status`,
//! `tidy-cancel` and `config/auto-tidy`: removes expired certificates,
//! revocation entries and issuers past their safety buffers, and
//! re-associates revoked certificates with their issuers. Auto-tidy runs
//! the stored configuration from the backend's periodic upkeep. What a tidy
//! does is configured in `tidy_config`, and done in `tidy_job`.

use crate::util::gotime::rfc3339;
use serde_json::{json, Value};

use super::tidy_config::{
    read_auto_tidy, TidyConfig, ANY_TIDY, AUTO_TIDY_CONFIG, OPERATION_FIELDS, SCHEDULE_FIELDS,
};
use super::tidy_job::{launch, Status};
use super::PkiBackend;
use crate::handler;
use crate::logical::framework::Path;
use crate::logical::{Error, Request, Response, Result};
use crate::storage::StorageView;

pub(super) const PATHS: &[Path<PkiBackend>] = &[
    Path::new("config/auto-tidy")
        .fields(&[SCHEDULE_FIELDS, OPERATION_FIELDS])
        .read(handler!(read_config))
        .update(handler!(write_config)),
    Path::new("tidy")
        .fields(&[OPERATION_FIELDS])
        .update(handler!(start)),
    Path::new("tidy-status").read(handler!(status)),
    Path::new("tidy-cancel").update(handler!(cancel)),
];

/// When the last tidy (manual or automatic) ran: auto-tidy's interval
/// counts from there.
pub(super) const AUTO_TIDY_LAST_RUN: &str = "config/auto-tidy-last-run";

pub(super) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

async fn last_auto_tidy(storage: &StorageView) -> Result<Option<i64>> {
    Ok(storage.get_json(AUTO_TIDY_LAST_RUN).await?)
}

async fn read_config(_: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let cfg = read_auto_tidy(&req.storage).await?;
    Ok(Some(Response::data(cfg.auto_data())))
}

/// Turning auto-tidy on starts its interval from now, as Vault does.
async fn write_config(_: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let mut cfg = read_auto_tidy(&req.storage).await?;
    let was_enabled = cfg.enabled;
    cfg.merge_auto(&req.data)?;
    req.storage.put_json(AUTO_TIDY_CONFIG, &cfg).await?;
    if cfg.enabled && !was_enabled {
        req.storage.put_json(AUTO_TIDY_LAST_RUN, &now()).await?;
    }
    Ok(Some(Response::data(cfg.auto_data())))
}

/// `tidy`: validates, then runs in the background and answers 202.
async fn start(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let mut cfg = TidyConfig::default();
    cfg.merge_operations(&req.data)?;
    if !cfg.any_enabled() {
        return Err(Error::bad_request(format!("Manual tidy requested but no tidy operations were set. Enable at least one tidy operation to be run ({ANY_TIDY}).")));
    }
    if !launch(backend, &req.storage, cfg)? {
        // Vault answers 200 with only this warning.
        return Ok(Some(Response {
            warnings: vec!["Tidy operation already in progress.".into()],
            ..Default::default()
        }));
    }
    // A manual tidy restarts the auto-tidy interval.
    req.storage.put_json(AUTO_TIDY_LAST_RUN, &now()).await?;
    Ok(Some(Response {
        status: Some(202),
        warnings: vec!["Tidy operation successfully started. Any information from the operation will be printed to Vault's server logs.".into()],
        ..Default::default()
    }))
}

/// Auto-tidy, from the backend's periodic upkeep: once the interval has
/// passed since the last run (manual or automatic) and the startup backoff
/// is over, the stored configuration runs as a tidy operation.
pub async fn periodic(backend: &PkiBackend, storage: &StorageView) -> Result<()> {
    let cfg = read_auto_tidy(storage).await?;
    if !cfg.enabled || cfg.interval_duration <= 0 {
        return Ok(());
    }
    let last = last_auto_tidy(storage).await?.unwrap_or(0);
    if now() < last + cfg.interval_duration || !backend.tidy.past_startup_backoff(&cfg) {
        return Ok(());
    }
    if launch(backend, storage, cfg)? {
        storage.put_json(AUTO_TIDY_LAST_RUN, &now()).await?;
    }
    Ok(())
}

/// `tidy-status`: the last (or running) operation, in Vault's field set.
async fn status(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let snapshot = backend.tidy.snapshot()?;
    let last_auto = last_auto_tidy(&req.storage).await?;
    let mut data = match &snapshot {
        Some(s) => s.config.operations_data(),
        None => {
            let mut m = TidyConfig::default().operations_data();
            for value in m.values_mut() {
                *value = Value::Null;
            }
            m
        }
    };
    let null_or = |present: bool, value: Value| if present { value } else { Value::Null };
    let state = snapshot
        .as_ref()
        .map(|s| s.state.name())
        .unwrap_or("Inactive");
    data.insert("state".into(), json!(state));
    let s = snapshot.as_ref();
    data.insert(
        "error".into(),
        null_or(
            s.is_some_and(|s| !s.error.is_empty()),
            json!(s.map(|s| s.error.clone())),
        ),
    );
    data.insert(
        "message".into(),
        null_or(
            s.is_some_and(|s| !s.message.is_empty()),
            json!(s.map(|s| s.message.clone())),
        ),
    );
    data.insert(
        "time_started".into(),
        null_or(s.is_some(), json!(s.map(|s| rfc3339(s.started)))),
    );
    data.insert(
        "time_finished".into(),
        null_or(
            s.is_some_and(|s| s.finished != 0),
            json!(s.map(|s| rfc3339(s.finished))),
        ),
    );
    let count = |f: fn(&Status) -> u64| null_or(s.is_some(), json!(s.map(f).unwrap_or(0)));
    data.insert(
        "cert_store_deleted_count".into(),
        count(|s| s.cert_store_deleted),
    );
    data.insert(
        "revoked_cert_deleted_count".into(),
        count(|s| s.revoked_deleted),
    );
    data.insert(
        "missing_issuer_cert_count".into(),
        count(|s| s.missing_issuer_certs),
    );
    for zero in [
        "revocation_queue_deleted_count",
        "cross_revoked_cert_deleted_count",
        "cert_metadata_deleted_count",
        "cmpv2_nonce_deleted_count",
    ] {
        data.insert(zero.into(), count(|_| 0));
    }
    data.insert(
        "acme_account_deleted_count".into(),
        count(|s| s.acme.accounts_deleted),
    );
    data.insert(
        "acme_account_revoked_count".into(),
        count(|s| s.acme.accounts_revoked),
    );
    data.insert(
        "acme_orders_deleted_count".into(),
        count(|s| s.acme.orders_deleted),
    );
    data.insert(
        "total_acme_account_count".into(),
        count(|s| s.acme.accounts_seen),
    );
    data.insert("current_cert_store_count".into(), Value::Null);
    data.insert("current_revoked_cert_count".into(), Value::Null);
    // Go's zero time when no tidy has run yet, as HashiCorp's status shows.
    data.insert(
        "last_auto_tidy_finished".into(),
        json!(last_auto.map_or_else(|| "0001-01-01T00:00:00Z".to_string(), rfc3339)),
    );
    data.insert(
        "internal_backend_uuid".into(),
        json!(backend_uuid(&req.storage).await?),
    );
    Ok(Some(Response::data(data)))
}

/// A stable id of this mount's PKI instance (`internal_backend_uuid`).
pub(super) async fn backend_uuid(storage: &StorageView) -> Result<String> {
    const KEY: &str = "config/backend-uuid";
    if let Some(bytes) = storage.get(KEY).await? {
        return Ok(String::from_utf8_lossy(&bytes).into_owned());
    }
    let id = crate::util::ids::uuid();
    storage.put(KEY, id.clone().into_bytes()).await?;
    Ok(id)
}

/// `tidy-cancel`: asks the running operation to stop at its next entry.
async fn cancel(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    if !backend.tidy.cancel() {
        return Ok(Some(Response {
            warnings: vec![
                "Tidy operation cannot be cancelled as none is currently running.".into(),
            ],
            ..Default::default()
        }));
    }
    status(backend, req).await
}
