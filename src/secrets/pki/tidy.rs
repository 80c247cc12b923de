//! `tidy` (202 Accepted, runs in the background) and `tidy-status`:
//! removes expired certificates and revocation entries past the safety
//! buffer.

use std::sync::Mutex;

use serde_json::{json, Map, Value};

use super::certs;
use super::x509::CertInfo;
use super::PkiBackend;
use crate::logical::{Error, Request, Response, Result};
use crate::storage::StorageView;

#[derive(Debug, Clone, Default)]
struct Status {
    state: String,
    started: i64,
    finished: i64,
    cert_store_deleted: u64,
    revoked_deleted: u64,
    error: String,
    params: Map<String, Value>,
}

#[derive(Default)]
pub struct TidyState {
    status: Mutex<Option<Status>>,
}

fn rfc3339(t: i64) -> String {
    super::profile::unix(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub async fn start(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let cert_store = req.data.bool_or("tidy_cert_store", false)?;
    let revoked = req.data.bool_or("tidy_revoked_certs", false)?;
    let assoc = req
        .data
        .bool_or("tidy_revoked_cert_issuer_associations", false)?;
    let expired_issuers = req.data.bool_or("tidy_expired_issuers", false)?;
    let safety = req.data.duration_or("safety_buffer", 72 * 3600)?;
    if !(cert_store || revoked || assoc || expired_issuers) {
        return Err(Error::bad_request("Manual tidy requested but no tidy operations were set. Enable at least one tidy operation to be run (tidy_cert_store / tidy_revoked_certs / tidy_revoked_cert_issuer_associations / tidy_expired_issuers / tidy_move_legacy_ca_bundle / tidy_revocation_queue / tidy_cross_cluster_revoked_certs / tidy_acme)."));
    }
    {
        let mut guard = backend
            .tidy
            .status
            .lock()
            .map_err(|_| Error::internal("tidy state poisoned"))?;
        if guard.as_ref().is_some_and(|s| s.state == "Running") {
            return Err(Error::bad_request("Tidy operation already in progress."));
        }
        let mut params = Map::new();
        params.insert("tidy_cert_store".into(), json!(cert_store));
        params.insert("tidy_revoked_certs".into(), json!(revoked));
        params.insert("tidy_revoked_cert_issuer_associations".into(), json!(assoc));
        params.insert("tidy_expired_issuers".into(), json!(expired_issuers));
        params.insert("safety_buffer".into(), json!(safety));
        *guard = Some(Status {
            state: "Running".into(),
            started: time::OffsetDateTime::now_utc().unix_timestamp(),
            params,
            ..Default::default()
        });
    }
    let result = run(&req.storage, cert_store, revoked || assoc, safety).await;
    if let Ok(mut guard) = backend.tidy.status.lock() {
        if let Some(status) = guard.as_mut() {
            status.finished = time::OffsetDateTime::now_utc().unix_timestamp();
            match result {
                Ok((certs_deleted, revoked_deleted)) => {
                    status.state = "Finished".into();
                    status.cert_store_deleted = certs_deleted;
                    status.revoked_deleted = revoked_deleted;
                }
                Err(e) => {
                    status.state = "Error".into();
                    status.error = e.to_string();
                }
            }
        }
    }
    Ok(Some(Response {
        status: Some(202),
        warnings: vec!["Tidy operation successfully started. Any information from the operation will be printed to Vault's server logs.".into()],
        ..Default::default()
    }))
}

/// Keys are scanned a page at a time (never the whole store in memory) and
/// deletions are committed in batches, so a large store costs one fsync per
/// page rather than one per certificate.
const TIDY_PAGE: usize = 5000;

async fn run(
    storage: &StorageView,
    cert_store: bool,
    revoked: bool,
    safety: i64,
) -> Result<(u64, u64)> {
    let cutoff = time::OffsetDateTime::now_utc().unix_timestamp() - safety;
    let (mut certs_deleted, mut revoked_deleted) = (0, 0);
    if cert_store {
        certs_deleted = sweep(storage, certs::CERT_PREFIX, |der| {
            CertInfo::not_after_of(der)
                .map(|t| t < cutoff)
                .unwrap_or(true)
        })
        .await?;
    }
    if revoked {
        revoked_deleted = sweep(storage, certs::REVOKED_PREFIX, |bytes| {
            use base64::Engine;
            serde_json::from_slice::<super::crl::RevokedEntry>(bytes)
                .ok()
                .and_then(|entry| {
                    base64::engine::general_purpose::STANDARD
                        .decode(&entry.certificate)
                        .ok()
                })
                .and_then(|d| CertInfo::not_after_of(&d))
                .map(|t| t < cutoff)
                .unwrap_or(false)
        })
        .await?;
    }
    Ok((certs_deleted, revoked_deleted))
}

/// Deletes every entry under `prefix` whose value `expired` says so.
async fn sweep(
    storage: &StorageView,
    prefix: &str,
    expired: impl Fn(&[u8]) -> bool,
) -> Result<u64> {
    let mut deleted = 0;
    let mut after = String::new();
    loop {
        let page = storage.list_page(prefix, &after, TIDY_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.clone();
        let mut ops = Vec::new();
        for key in &page {
            if key.ends_with('/') {
                continue;
            }
            let path = format!("{prefix}{key}");
            if let Some(value) = storage.get(&path).await? {
                if expired(&value) {
                    ops.push(crate::storage::BatchOp::Delete(path));
                }
            }
        }
        deleted += ops.len() as u64;
        if !ops.is_empty() {
            storage.batch(ops).await?;
        }
        if page.len() < TIDY_PAGE {
            break;
        }
    }
    Ok(deleted)
}

pub async fn status(backend: &PkiBackend, _req: &mut Request) -> Result<Option<Response>> {
    let status = backend
        .tidy
        .status
        .lock()
        .map_err(|_| Error::internal("tidy state poisoned"))?
        .clone();
    let mut data = Map::new();
    let s = status.unwrap_or(Status {
        state: "Inactive".into(),
        ..Default::default()
    });
    for (k, v) in &s.params {
        data.insert(k.clone(), v.clone());
    }
    data.insert("state".into(), json!(s.state));
    data.insert(
        "error".into(),
        if s.error.is_empty() {
            Value::Null
        } else {
            json!(s.error)
        },
    );
    data.insert(
        "time_started".into(),
        if s.started == 0 {
            Value::Null
        } else {
            json!(rfc3339(s.started))
        },
    );
    data.insert(
        "time_finished".into(),
        if s.finished == 0 {
            Value::Null
        } else {
            json!(rfc3339(s.finished))
        },
    );
    data.insert(
        "cert_store_deleted_count".into(),
        json!(s.cert_store_deleted),
    );
    data.insert(
        "revoked_cert_deleted_count".into(),
        json!(s.revoked_deleted),
    );
    data.insert("current_cert_store_count".into(), Value::Null);
    data.insert("current_revoked_cert_count".into(), Value::Null);
    data.insert("message".into(), Value::Null);
    data.insert(
        "internal_backend_uuid".into(),
        json!(backend_uuid(_req).await?),
    );
    // Vault's full field set: defaults once a tidy has run, null before.
    let ran = s.started != 0;
    let defaults = [
        ("issuer_safety_buffer", json!(31_536_000)),
        ("acme_account_safety_buffer", json!(2_592_000)),
        ("pause_duration", json!("0s")),
        ("tidy_acme", json!(false)),
        ("tidy_move_legacy_ca_bundle", json!(false)),
        ("tidy_expired_issuers", json!(false)),
        ("tidy_revoked_cert_issuer_associations", json!(false)),
        ("acme_account_deleted_count", json!(0)),
        ("acme_account_revoked_count", json!(0)),
        ("acme_orders_deleted_count", json!(0)),
        ("missing_issuer_cert_count", json!(0)),
        ("total_acme_account_count", json!(0)),
        ("safety_buffer", json!(259_200)),
        ("tidy_cert_store", json!(false)),
        ("tidy_invalid_certs", json!(false)),
        ("tidy_revoked_certs", json!(false)),
    ];
    for (key, default) in defaults {
        if !data.contains_key(key) {
            data.insert(key.into(), if ran { default } else { Value::Null });
        }
    }
    // The revoked-certificate buffer defaults to the general one.
    let revoked_buffer = match data.get("revoked_safety_buffer") {
        Some(v) if !v.is_null() => v.clone(),
        _ if ran => data.get("safety_buffer").cloned().unwrap_or(Value::Null),
        _ => Value::Null,
    };
    data.insert("revoked_safety_buffer".into(), revoked_buffer);
    if ran {
        data.insert(
            "last_auto_tidy_finished".into(),
            json!(rfc3339(s.finished.max(s.started))),
        );
    }
    Ok(Some(Response::data(data)))
}

/// A stable id of this mount's PKI instance (`internal_backend_uuid`).
async fn backend_uuid(req: &Request) -> Result<String> {
    const KEY: &str = "config/backend-uuid";
    if let Some(bytes) = req.storage.get(KEY).await? {
        return Ok(String::from_utf8_lossy(&bytes).into_owned());
    }
    let id = crate::core::keys::uuid();
    req.storage.put(KEY, id.clone().into_bytes()).await?;
    Ok(id)
}

pub async fn cancel(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let running = backend
        .tidy
        .status
        .lock()
        .map_err(|_| Error::internal("tidy state poisoned"))?
        .as_ref()
        .is_some_and(|s| s.state == "Running");
    if !running {
        return Err(Error::bad_request(
            "Tidy operation cannot be cancelled as none is currently running.",
        ));
    }
    status(backend, req).await
}
