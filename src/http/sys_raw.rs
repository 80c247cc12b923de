//! The `sys/` endpoints Vault answers in its HTTP layer, without the
//! response envelope: health, seal status, init and leader.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use axum::response::Response as HttpResponse;
use base64::Engine;
use serde_json::{json, Map, Value};

use super::response::{empty_response, json_response};
use super::AppState;
use crate::core::rekey::RekeyRequest;
use crate::logical::framework::Field;
use crate::logical::raw_route::{RawAnswer, RawOperation, RawParam, RawRoute};
use crate::logical::{Error, FieldData};
use crate::util::gotime::{now_unix, rfc3339_of};

use RawAnswer::{Error as Refusal, Json};

/// The paths answered here, as the OpenAPI document describes them.
pub const RAW_ROUTES: &[RawRoute] = &[
    RawRoute {
        path: "sys/health",
        read: Some(RawOperation {
            params: HEALTH_QUERY,
            answers: &[
                health_answer(200, "initialized, unsealed and active"),
                Refusal(400),
                health_answer(429, "unsealed and standby"),
                health_answer(472, "disaster recovery secondary"),
                health_answer(473, "performance standby"),
                health_answer(501, "not initialized"),
                health_answer(503, "sealed"),
            ],
        }),
        head: true,
        write: None,
        delete: None,
    },
    RawRoute {
        path: "sys/seal-status",
        read: Some(RawOperation {
            params: &[],
            answers: &[seal_status_answer(200, "the seal status")],
        }),
        head: false,
        write: None,
        delete: None,
    },
    RawRoute {
        path: "sys/init",
        read: Some(RawOperation {
            params: &[],
            answers: &[object_answer(200, "initialization status")],
        }),
        head: false,
        write: Some(RawOperation {
            params: &[
                RawParam::new(Field::int("secret_shares")),
                RawParam::new(Field::int("secret_threshold")),
                RawParam::new(Field::int("stored_shares")),
                RawParam::new(Field::strings("pgp_keys")),
                RawParam::new(Field::string("root_token_pgp_key")),
                RawParam::new(Field::int("recovery_shares")),
                RawParam::new(Field::int("recovery_threshold")),
                RawParam::new(Field::strings("recovery_pgp_keys")),
            ],
            answers: &[
                object_answer(200, "the root token and key shares"),
                Refusal(400),
            ],
        }),
        delete: None,
    },
    RawRoute {
        path: "sys/leader",
        read: Some(RawOperation {
            params: &[],
            answers: &[object_answer(200, "the leader status")],
        }),
        head: false,
        write: None,
        delete: None,
    },
    RawRoute {
        path: "sys/unseal",
        read: None,
        head: false,
        write: Some(RawOperation {
            params: &[
                RawParam::new(Field::string("key")),
                RawParam::new(Field::bool("reset")),
                RawParam::new(Field::bool("migrate")),
            ],
            answers: &[
                seal_status_answer(200, "the seal status after this share"),
                Refusal(400),
            ],
        }),
        delete: None,
    },
    RawRoute {
        path: "sys/generate-root/attempt",
        read: Some(RawOperation {
            params: &[],
            answers: &[object_answer(200, "the root generation's progress")],
        }),
        head: false,
        write: Some(RawOperation {
            params: &[
                RawParam::new(Field::string("otp")),
                RawParam::new(Field::string("pgp_key")),
            ],
            answers: &[
                object_answer(200, "the new attempt, with the server's one-time pad"),
                Refusal(400),
            ],
        }),
        delete: Some(RawOperation {
            params: &[],
            answers: &[RawAnswer::Empty {
                status: 204,
                description: "the attempt is cancelled",
            }],
        }),
    },
    RawRoute {
        path: "sys/generate-root/update",
        read: None,
        head: false,
        write: Some(RawOperation {
            params: &[
                RawParam::new(Field::string("key")),
                RawParam::new(Field::string("nonce")),
            ],
            answers: &[
                object_answer(200, "the progress, and the encoded token once complete"),
                Refusal(400),
            ],
        }),
        delete: None,
    },
    RawRoute {
        path: "sys/rekey/init",
        read: Some(RawOperation {
            params: &[],
            answers: &[object_answer(200, "the rekey's configuration and progress")],
        }),
        head: false,
        write: Some(RawOperation {
            params: &[
                RawParam::new(Field::int("secret_shares")),
                RawParam::new(Field::int("secret_threshold")),
                RawParam::new(Field::strings("pgp_keys")),
                RawParam::new(Field::bool("backup")),
                RawParam::new(Field::bool("require_verification")),
            ],
            answers: &[object_answer(200, "the new rekey"), Refusal(400)],
        }),
        delete: Some(RawOperation {
            params: &[],
            answers: &[RawAnswer::Empty {
                status: 204,
                description: "the rekey is cancelled",
            }],
        }),
    },
    RawRoute {
        path: "sys/rekey/update",
        read: None,
        head: false,
        write: Some(RawOperation {
            params: KEY_AND_NONCE,
            answers: &[
                object_answer(200, "the progress, and the new key shares once complete"),
                Refusal(400),
            ],
        }),
        delete: None,
    },
    RawRoute {
        path: "sys/rekey/verify",
        read: Some(RawOperation {
            params: &[],
            answers: &[
                object_answer(200, "the verification's progress"),
                Refusal(400),
            ],
        }),
        head: false,
        write: Some(RawOperation {
            params: KEY_AND_NONCE,
            answers: &[
                object_answer(
                    200,
                    "the progress, and completion once the new shares are proven",
                ),
                Refusal(400),
            ],
        }),
        delete: Some(RawOperation {
            params: &[],
            answers: &[
                object_answer(200, "the restarted verification, with a new nonce"),
                Refusal(400),
            ],
        }),
    },
];

/// A key share and the operation's nonce.
const KEY_AND_NONCE: &[RawParam] = &[
    RawParam::new(Field::string("key")),
    RawParam::new(Field::string("nonce")),
];

/// `sys/health`'s query: the status answered in each state is overridable,
/// as in Vault.
const HEALTH_QUERY: &[RawParam] = &[
    RawParam::new(Field::bool("standbyok")),
    RawParam::new(Field::bool("perfstandbyok")),
    RawParam::int("activecode", 200),
    RawParam::int("standbycode", 429),
    RawParam::int("drsecondarycode", 472),
    RawParam::int("performancestandbycode", 473),
    RawParam::int("sealedcode", 503),
    RawParam::int("uninitcode", 501),
    RawParam::int("removedcode", 530),
    RawParam::int("haunhealthycode", 474),
];

const fn health_answer(status: u16, description: &'static str) -> RawAnswer {
    Json {
        status,
        description,
        schema: "HealthResponse",
    }
}

const fn seal_status_answer(status: u16, description: &'static str) -> RawAnswer {
    Json {
        status,
        description,
        schema: "SealStatusResponse",
    }
}

const fn object_answer(status: u16, description: &'static str) -> RawAnswer {
    Json {
        status,
        description,
        schema: "Object",
    }
}

pub fn serves(path: &str) -> bool {
    RAW_ROUTES.iter().any(|route| route.path == path)
}

/// What a standby answers itself, as Vault's standbys do; everything else
/// is forwarded to the active node.
pub fn served_by_standby(path: &str) -> bool {
    matches!(
        path,
        "sys/health" | "sys/seal-status" | "sys/leader" | "sys/init" | "sys/unseal"
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
        ("sys/unseal", "PUT" | "POST") => unseal(state, body).await,
        ("sys/leader", "GET") => Ok(json_response(StatusCode::OK, &leader(state).await)),
        ("sys/generate-root/attempt", "GET") => {
            let status = state.core.root_generation_status().await?;
            Ok(json_response(
                StatusCode::OK,
                &serde_json::to_value(status)?,
            ))
        }
        ("sys/generate-root/attempt", "PUT" | "POST") => {
            let data = FieldData::new(body_data(state, body).await?);
            let otp = data.str("otp")?.unwrap_or_default();
            let pgp_key = data.str("pgp_key")?.unwrap_or_default();
            let status = state.core.start_root_generation(&otp, &pgp_key).await?;
            Ok(json_response(
                StatusCode::OK,
                &serde_json::to_value(status)?,
            ))
        }
        ("sys/generate-root/attempt", "DELETE") => {
            state.core.cancel_root_generation();
            Ok(empty_response(StatusCode::NO_CONTENT))
        }
        ("sys/generate-root/update", "PUT" | "POST") => {
            let (key, nonce) = key_and_nonce(state, body).await?;
            ok_json(state.core.update_root_generation(&key, &nonce).await?)
        }
        ("sys/rekey/init", "GET") => ok_json(state.core.rekey_status().await?),
        ("sys/rekey/init", "PUT" | "POST") => {
            let data = FieldData::new(body_data(state, body).await?);
            let request = RekeyRequest {
                secret_shares: data.int_or("secret_shares", 0)?,
                secret_threshold: data.int_or("secret_threshold", 0)?,
                require_verification: data.bool_or("require_verification", false)?,
                pgp_keys: data.comma_list_or_empty("pgp_keys")?,
                backup: data.bool_or("backup", false)?,
            };
            ok_json(state.core.start_rekey(request).await?)
        }
        ("sys/rekey/init", "DELETE") => {
            state.core.cancel_rekey().await;
            Ok(empty_response(StatusCode::NO_CONTENT))
        }
        ("sys/rekey/update", "PUT" | "POST") => {
            let (key, nonce) = key_and_nonce(state, body).await?;
            ok_json(state.core.update_rekey(&key, &nonce).await?)
        }
        ("sys/rekey/verify", "GET") => ok_json(state.core.rekey_verify_status().await?),
        ("sys/rekey/verify", "PUT" | "POST") => {
            let (key, nonce) = key_and_nonce(state, body).await?;
            ok_json(state.core.verify_rekey(&key, &nonce).await?)
        }
        ("sys/rekey/verify", "DELETE") => ok_json(state.core.restart_rekey_verification().await?),
        _ => Err(Error::MethodNotAllowed),
    }
}

fn ok_json(body: impl serde::Serialize) -> Result<HttpResponse, Error> {
    Ok(json_response(StatusCode::OK, &serde_json::to_value(body)?))
}

/// A share and nonce (`sys/generate-root/update`, `sys/rekey/update`,
/// `sys/rekey/verify`); the share is required.
async fn key_and_nonce(state: &AppState, body: Body) -> Result<(String, String), Error> {
    let data = FieldData::new(body_data(state, body).await?);
    let key = data.str("key")?.unwrap_or_default();
    if key.is_empty() {
        return Err(Error::bad_request(
            "'key' must be specified in request body as JSON",
        ));
    }
    Ok((key, data.str("nonce")?.unwrap_or_default()))
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
    // Every override is checked, for the Go client's sake.
    let mut codes = std::collections::HashMap::new();
    for param in HEALTH_QUERY {
        if let Some(default) = param.default {
            codes.insert(param.field.name, code(param.field.name, default)?);
        }
    }
    let code_for = |name: &str| {
        codes
            .get(name)
            .copied()
            .ok_or_else(|| Error::internal(format!("sys/health declares no {name}")))
    };
    let initialized = state.core.is_initialized();
    let sealed = state.core.barrier_sealed();
    let standby = state.core.is_sealed() || state.core.is_standby();
    let standby_ok = params
        .bool("standbyok")
        .map_err(|_| Error::InvalidRequest)?
        .unwrap_or(false);
    let status = if !initialized {
        code_for("uninitcode")?
    } else if sealed {
        code_for("sealedcode")?
    } else if standby && !standby_ok {
        code_for("standbycode")?
    } else {
        code_for("activecode")?
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
        "standby": standby,
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
    if state.core.barrier_sealed() {
        return;
    }
    if let (Some(cluster), Some(map)) = (state.core.cluster(), body.as_object_mut()) {
        map.insert("cluster_name".into(), json!(cluster.name));
        map.insert("cluster_id".into(), json!(cluster.id));
    }
}

fn seal_status(state: &AppState) -> Value {
    let core = &state.core;
    let seal = core.seal();
    let progress = seal.progress();
    let (kind, threshold, shares, progress, nonce) = match seal.cached_config() {
        Some(c) => (
            c.kind,
            c.secret_threshold,
            c.secret_shares,
            progress.shares.len(),
            progress.nonce.clone(),
        ),
        None => ("shamir".to_string(), 0, 0, 0, String::new()),
    };
    let mut body = json!({
        "type": kind,
        "initialized": core.is_initialized(),
        "sealed": core.barrier_sealed(),
        "t": threshold,
        "n": shares,
        "progress": progress,
        "nonce": nonce,
        "version": crate::VAULT_VERSION,
        "build_date": "",
        "migration": false,
        "recovery_seal": seal.is_static(),
        "storage_type": core.storage.kind(),
    });
    insert_cluster(state, &mut body);
    body
}

/// `sys/leader`: the active node as this node knows it.
async fn leader(state: &AppState) -> Value {
    let (ha_enabled, leader) = match state.core.ha() {
        Some(ha) => (true, ha.leader().await),
        None => (false, None),
    };
    let leader = leader.unwrap_or(crate::core::ha::LeaderStatus {
        is_self: false,
        leader_address: String::new(),
        leader_cluster_address: String::new(),
        active_time: None,
    });
    json!({
        "ha_enabled": ha_enabled,
        "is_self": leader.is_self,
        "active_time": leader
            .active_time
            .map_or_else(|| "0001-01-01T00:00:00Z".to_string(), rfc3339_of),
        "leader_address": leader.leader_address,
        "leader_cluster_address": leader.leader_cluster_address,
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
    let static_seal = state.core.seal().is_static();
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
    let seal = state.core.seal();
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
