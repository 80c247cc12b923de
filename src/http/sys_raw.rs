//! The `sys/` endpoints Vault answers in its HTTP layer, without the
//! response envelope: health, seal status, init and leader.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use axum::response::Response as HttpResponse;
use base64::Engine;
use serde_json::{json, Map, Value};

use super::response::{empty_response, json_response};
use super::AppState;
use crate::core::token::now_unix;
use crate::logical::{Error, FieldData};

/// The paths answered here, with the HTTP methods each accepts (the OpenAPI
/// coverage test checks `api-spec/openapi.yaml` against this list).
pub const RAW_ROUTES: &[(&str, &[&str])] = &[
    ("sys/health", &["GET", "HEAD"]),
    ("sys/seal-status", &["GET"]),
    ("sys/init", &["GET", "PUT", "POST"]),
    ("sys/leader", &["GET"]),
    ("sys/unseal", &["PUT", "POST"]),
];

pub fn serves(path: &str) -> bool {
    RAW_ROUTES.iter().any(|(p, _)| *p == path)
}

pub async fn handle(
    state: &AppState,
    method: &Method,
    path: &str,
    query: &Map<String, Value>,
    body: Body,
) -> Result<HttpResponse, Error> {
    match (path, method.as_str()) {
        ("sys/health", "GET" | "HEAD") => health(state, method, query),
        ("sys/seal-status", "GET") => Ok(json_response(StatusCode::OK, &seal_status(state))),
        ("sys/init", "GET") => Ok(json_response(
            StatusCode::OK,
            &json!({ "initialized": state.core.is_initialized() }),
        )),
        ("sys/init", "PUT" | "POST") => init(state, body).await,
        ("sys/unseal", "PUT" | "POST") => unseal(state, body).await,
        ("sys/leader", "GET") => Ok(json_response(StatusCode::OK, &leader())),
        _ => Err(Error::MethodNotAllowed),
    }
}

/// `sys/health`: status codes overridable by query, as Vault's.
fn health(
    state: &AppState,
    method: &Method,
    query: &Map<String, Value>,
) -> Result<HttpResponse, Error> {
    let params = FieldData::new(query.clone());
    let code = |name: &str, default: i64| -> Result<u16, Error> {
        let code = params
            .int(name)
            .map_err(|_| Error::InvalidRequest)?
            .unwrap_or(default);
        u16::try_from(code)
            .ok()
            .filter(|c| (100..=999).contains(c))
            .ok_or(Error::InvalidRequest)
    };
    let active = code("activecode", 200)?;
    let uninit = code("uninitcode", 501)?;
    let sealed_code = code("sealedcode", 503)?;
    // Validated for the Go client's overrides even though we are never standby.
    for (name, default) in [
        ("standbycode", 429),
        ("drsecondarycode", 472),
        ("performancestandbycode", 473),
        ("removedcode", 530),
        ("haunhealthycode", 474),
    ] {
        code(name, default)?;
    }
    let initialized = state.core.is_initialized();
    let sealed = state.core.is_sealed();
    let status = if !initialized {
        uninit
    } else if sealed {
        sealed_code
    } else {
        active
    };
    // Go sends an informational 1xx (other than 101) as an interim response
    // followed by 200; the client's final status is 200, so answer that.
    let status = match status {
        100..=199 if status != 101 => 200,
        _ => status,
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    if method == Method::HEAD {
        return Ok(empty_response(status));
    }
    let mut body = json!({
        "initialized": initialized,
        "sealed": sealed,
        "standby": sealed,
        "performance_standby": false,
        "replication_performance_mode": "disabled",
        "replication_dr_mode": "disabled",
        "server_time_utc": now_unix(),
        "version": crate::VAULT_VERSION,
        "enterprise": false,
        "echo_duration_ms": 0,
        "clock_skew_ms": 0,
    });
    insert_cluster(state, &mut body);
    Ok(json_response(status, &body))
}

/// Cluster identity, shown only while unsealed.
async fn body_data(state: &AppState, body: Body) -> Result<Map<String, Value>, Error> {
    let bytes = super::read_body(body, &state.limits).await?;
    let need = super::request::Need::Data;
    super::request::body_data(&Default::default(), &bytes, &state.limits.json, need)
}

fn insert_cluster(state: &AppState, body: &mut Value) {
    if state.core.is_sealed() {
        return;
    }
    if let (Some(cluster), Some(map)) = (state.core.cluster(), body.as_object_mut()) {
        map.insert("cluster_name".into(), json!(cluster.name));
        map.insert("cluster_id".into(), json!(cluster.id));
    }
}

fn seal_status(state: &AppState) -> Value {
    let core = &state.core;
    let (kind, threshold, shares, progress, nonce) = match core.seal() {
        None => ("shamir".to_string(), 1, 1, 0, String::new()),
        Some(seal) => {
            let config = seal.cached_config();
            let progress = seal.progress();
            match config {
                Some(c) => (
                    c.kind,
                    c.secret_threshold,
                    c.secret_shares,
                    progress.shares.len(),
                    progress.nonce.clone(),
                ),
                None => ("shamir".to_string(), 0, 0, 0, String::new()),
            }
        }
    };
    let mut body = json!({
        "type": kind,
        "initialized": core.is_initialized(),
        "sealed": core.is_sealed(),
        "t": threshold,
        "n": shares,
        "progress": progress,
        "nonce": nonce,
        "version": crate::VAULT_VERSION,
        "build_date": "",
        "migration": false,
        "recovery_seal": core.seal().is_some_and(|s| s.is_static()),
        "storage_type": core.storage.kind(),
    });
    insert_cluster(state, &mut body);
    body
}

fn leader() -> Value {
    json!({
        "ha_enabled": false,
        "is_self": false,
        "active_time": "0001-01-01T00:00:00Z",
        "leader_address": "",
        "leader_cluster_address": "",
        "performance_standby": false,
        "performance_standby_last_remote_wal": 0,
    })
}

/// `PUT sys/init`: creates the keys of a fresh durable store and mints the
/// root token once. With a Shamir seal the server stays sealed afterwards.
async fn init(state: &AppState, body: Body) -> Result<HttpResponse, Error> {
    let data = FieldData::new(body_data(state, body).await?);
    let shares = data.int_or("secret_shares", 0)?;
    let threshold = data.int_or("secret_threshold", 0)?;
    let static_seal = state.core.seal().is_some_and(|s| s.is_static());
    let (shares, threshold) = if static_seal {
        (0, 0)
    } else {
        let fit = |n: i64| {
            u8::try_from(n).map_err(|_| {
                Error::bad_request("secret_shares and secret_threshold must be between 1 and 255")
            })
        };
        (fit(shares)?, fit(threshold)?)
    };
    let (keys, root_token) = state.core.initialize(shares, threshold, None).await?;
    let hex_keys: Vec<String> = keys.iter().map(hex::encode).collect();
    let b64_keys: Vec<String> = keys
        .iter()
        .map(|k| base64::engine::general_purpose::STANDARD.encode(k))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "keys": hex_keys, "keys_base64": b64_keys, "root_token": root_token }),
    ))
}

/// `PUT sys/unseal`: one key share per call (or `reset`); answers with the
/// seal status.
async fn unseal(state: &AppState, body: Body) -> Result<HttpResponse, Error> {
    let data = FieldData::new(body_data(state, body).await?);
    let seal = state.core.seal().ok_or_else(|| {
        Error::bad_request("the in-memory dev store cannot be sealed or unsealed")
    })?;
    if !state.core.is_initialized() {
        return Err(Error::bad_request("Vault is not initialized"));
    }
    if data.bool_or("reset", false)? {
        seal.reset();
    } else {
        let key = data.str("key")?.unwrap_or_default();
        if key.is_empty() {
            return Err(Error::bad_request(
                "'key' must be specified in request body as JSON, or 'reset' set to true",
            ));
        }
        state.core.unseal(&key).await?;
    }
    Ok(json_response(StatusCode::OK, &seal_status(state)))
}
