//! Vault's JSON response envelope (`logical.HTTPResponse`). The HTTP layer
//! sends it; response wrapping stores it in the wrapping token's cubbyhole,
//! so that unwrapping gives back the very body the client would have had.

use base64::Engine;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::Response;

/// The envelope's fields, in Vault's order.
#[derive(Serialize)]
struct Envelope<'a> {
    request_id: &'a str,
    lease_id: &'a str,
    renewable: bool,
    lease_duration: i64,
    data: Option<Value>,
    wrap_info: Option<&'a Value>,
    warnings: Option<&'a [String]>,
    auth: Option<&'a Value>,
    mount_type: &'a str,
}

/// What a response says, as the envelope shows it.
pub struct Parts<'a> {
    pub request_id: &'a str,
    pub response: &'a Response,
    pub auth: Option<&'a Value>,
    pub wrap_info: Option<&'a Value>,
    pub mount_type: &'a str,
}

/// Keys of a raw (non-JSON) response inside a wrapped envelope's `data`.
pub const RAW_STATUS: &str = "http_status_code";
pub const RAW_BODY: &str = "http_raw_body";
pub const RAW_CONTENT_TYPE: &str = "http_content_type";

/// The envelope, with `data`'s keys sorted as Go's encoder sorts them. A
/// raw response (a PEM, a CRL) travels in `data` as Vault keeps it: status,
/// content type and the body in base64.
pub fn render(parts: Parts<'_>) -> Value {
    let response = parts.response;
    let mut data = match &response.raw {
        Some(raw) => {
            let mut map = Map::new();
            map.insert(RAW_STATUS.into(), json!(raw.status));
            map.insert(RAW_CONTENT_TYPE.into(), json!(raw.content_type));
            map.insert(
                RAW_BODY.into(),
                json!(base64::engine::general_purpose::STANDARD.encode(&raw.body)),
            );
            Some(Value::Object(map))
        }
        None => response.data.clone().map(Value::Object),
    };
    if let Some(data) = data.as_mut() {
        sort_keys(data);
    }
    let (lease_id, lease_duration, renewable) = match &response.lease {
        Some(lease) => (lease.id.as_str(), lease.ttl, lease.renewable),
        None => ("", 0, false),
    };
    let envelope = Envelope {
        request_id: parts.request_id,
        lease_id,
        renewable,
        lease_duration,
        data,
        wrap_info: parts.wrap_info,
        warnings: (!response.warnings.is_empty()).then_some(response.warnings.as_slice()),
        auth: parts.auth,
        mount_type: parts.mount_type,
    };
    serde_json::to_value(&envelope).unwrap_or_else(|_| json!({}))
}

/// Go's JSON encoding sorts map keys; ours must too.
pub fn sort_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.sort_keys();
            map.values_mut().for_each(sort_keys);
        }
        Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

/// The raw response a wrapped envelope carries, if it carries one:
/// `(status, content type, body)`.
pub fn raw_of(envelope: &Value) -> Option<(u16, String, Vec<u8>)> {
    let data = envelope.get("data")?.as_object()?;
    let status = data.get(RAW_STATUS)?.as_u64()?;
    let content_type = data
        .get(RAW_CONTENT_TYPE)
        .and_then(Value::as_str)
        .unwrap_or("application/json")
        .to_string();
    let body = data
        .get(RAW_BODY)
        .and_then(Value::as_str)
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .unwrap_or_default();
    Some((u16::try_from(status).unwrap_or(200), content_type, body))
}
