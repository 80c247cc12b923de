//! The `sys/` endpoints Vault answers in its HTTP layer, without the
//! response envelope: health, seal status, init and leader.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use axum::response::Response as HttpResponse;
use serde_json::{json, Map, Value};

use super::response::{empty_response, json_response};
use super::AppState;
use crate::core::token::now_unix;
use crate::logical::{Error, FieldData};

pub fn serves(path: &str) -> bool {
    matches!(
        path,
        "sys/health" | "sys/seal-status" | "sys/init" | "sys/leader"
    )
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
            .map_err(|_| Error::BadRequest(format!("unable to parse {name} parameter")))?
            .unwrap_or(default);
        u16::try_from(code)
            .ok()
            .filter(|c| (100..=999).contains(c))
            .ok_or_else(|| Error::BadRequest(format!("unable to parse {name} parameter")))
    };
    let active = code("activecode", 200)?;
    let uninit = code("uninitcode", 501)?;
    // Validated for the Go client's overrides even though we are never standby.
    for (name, default) in [
        ("standbycode", 429),
        ("drsecondarycode", 472),
        ("performancestandbycode", 473),
        ("sealedcode", 503),
        ("removedcode", 530),
        ("haunhealthycode", 474),
    ] {
        code(name, default)?;
    }
    let initialized = state.core.is_initialized();
    let status = if initialized { active } else { uninit };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    if method == Method::HEAD {
        return Ok(empty_response(status));
    }
    let mut body = json!({
        "initialized": initialized,
        "sealed": false,
        "standby": false,
        "performance_standby": false,
        "replication_performance_mode": "disabled",
        "replication_dr_mode": "disabled",
        "server_time_utc": now_unix(),
        "version": crate::VAULT_VERSION,
        "enterprise": false,
        "echo_duration_ms": 0,
        "clock_skew_ms": 0,
    });
    if initialized {
        if let Some(map) = body.as_object_mut() {
            map.insert("cluster_name".into(), json!(state.core.cluster.name));
            map.insert("cluster_id".into(), json!(state.core.cluster.id));
        }
    }
    Ok(json_response(status, &body))
}

fn seal_status(state: &AppState) -> Value {
    let core = &state.core;
    let mut body = json!({
        "type": "shamir",
        "initialized": core.is_initialized(),
        "sealed": false,
        "t": 1,
        "n": 1,
        "progress": 0,
        "nonce": "",
        "version": crate::VAULT_VERSION,
        "build_date": "",
        "migration": false,
        "recovery_seal": false,
        "storage_type": core.storage.kind(),
    });
    if core.is_initialized() {
        if let Some(map) = body.as_object_mut() {
            map.insert("cluster_name".into(), json!(core.cluster.name));
            map.insert("cluster_id".into(), json!(core.cluster.id));
        }
    }
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

/// `PUT sys/init` on a fresh durable store: mints the root token once.
/// (Key shares arrive with sealing; until then `keys` are empty.)
async fn init(state: &AppState, body: Body) -> Result<HttpResponse, Error> {
    let bytes = super::read_body(body).await?;
    // Parsed for validation only: share counts matter once sealing exists.
    super::request::body_data(&Default::default(), &bytes)?;
    let root_token = state.core.initialize(None).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "keys": [], "keys_base64": [], "root_token": root_token }),
    ))
}
