//! Vault's JSON response envelope (`logical.HTTPResponse`). The HTTP layer
//! sends it; response wrapping stores it in the wrapping token's cubbyhole,
//! so that unwrapping gives back the very body the client would have had.

use base64::Engine;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::Response;

/// The envelope's fields, in Vault's order.
#[derive(Serialize)]
struct Envelope<'a, D> {
    request_id: &'a str,
    lease_id: &'a str,
    renewable: bool,
    lease_duration: i64,
    data: Option<D>,
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
    serde_json::to_value(envelope(&parts, data)).unwrap_or_else(|_| json!({}))
}

/// The envelope of a JSON (not raw) response as bytes: what [`render`]
/// then `serde_json::to_vec` give, written straight from the response
/// without copying its data into another tree.
pub fn to_json_bytes(parts: Parts<'_>) -> Vec<u8> {
    let data = parts.response.data.as_ref().map(SortedMap);
    serde_json::to_vec(&envelope(&parts, data)).unwrap_or_else(|_| b"{}".to_vec())
}

fn envelope<'a, D>(parts: &Parts<'a>, data: Option<D>) -> Envelope<'a, D> {
    let response = parts.response;
    let (lease_id, lease_duration, renewable) = match &response.lease {
        Some(lease) => (lease.id.as_str(), lease.ttl, lease.renewable),
        None => ("", 0, false),
    };
    Envelope {
        request_id: parts.request_id,
        lease_id,
        renewable,
        lease_duration,
        data,
        wrap_info: parts.wrap_info,
        warnings: (!response.warnings.is_empty()).then_some(response.warnings.as_slice()),
        auth: parts.auth,
        mount_type: parts.mount_type,
    }
}

/// A JSON value written with every object's keys sorted, as [`sort_keys`]
/// leaves it, without changing (or copying) the value.
struct Sorted<'a>(&'a Value);

impl Serialize for Sorted<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => SortedMap(map).serialize(serializer),
            Value::Array(items) => serializer.collect_seq(items.iter().map(Sorted)),
            other => other.serialize(serializer),
        }
    }
}

struct SortedMap<'a>(&'a Map<String, Value>);

impl Serialize for SortedMap<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let entries = self.0.iter().map(|(key, value)| (key, Sorted(value)));
        // Most maps a backend builds are small and already in order.
        if self.0.keys().is_sorted() {
            return serializer.collect_map(entries);
        }
        let mut sorted: Vec<_> = entries.collect();
        sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
        serializer.collect_map(sorted)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logical::Lease;

    #[test]
    fn bytes_written_directly_are_the_rendered_envelopes() {
        let data = json!({
            "zeta": {"b": [ {"y": 1, "x": 2.5}, "s" ], "a": null},
            "alpha": "\u{1}\"quoted\"",
            "mid": {"only": true},
            "n": -7,
        });
        let auth = json!({"client_token": "t", "policies": ["b", "a"]});
        let sorted = {
            let mut d = data.clone();
            sort_keys(&mut d);
            d
        };
        let cases = [
            Response::data(data.as_object().cloned().unwrap_or_default()),
            Response::data(sorted.as_object().cloned().unwrap_or_default()),
            Response {
                warnings: vec!["w".into()],
                lease: Some(Lease {
                    id: "l".into(),
                    ttl: 60,
                    renewable: true,
                }),
                ..Response::default()
            },
            Response::default(),
        ];
        for response in &cases {
            for auth in [None, Some(&auth)] {
                let parts = || Parts {
                    request_id: "id",
                    response,
                    auth,
                    wrap_info: None,
                    mount_type: "kv",
                };
                let rendered = serde_json::to_vec(&render(parts())).unwrap_or_default();
                assert_eq!(
                    String::from_utf8_lossy(&to_json_bytes(parts())),
                    String::from_utf8_lossy(&rendered)
                );
            }
        }
    }
}
