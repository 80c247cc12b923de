//! `auth/cert/config`: the method's settings, stored and shown as Vault
//! does (vaultlet applies `enable_identity_alias_metadata`; the rest are
//! kept for clients only).

use serde_json::{json, Map, Value};

use super::CertBackend;
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Request, Response, Result};

const FLAGS: [&str; 2] = ["disable_binding", "enable_identity_alias_metadata"];
const SIZES: [&str; 2] = ["ocsp_cache_size", "role_cache_size"];

pub(super) const PATHS: &[Path<CertBackend>] = &[Path::new("config")
    .fields(&[&[
        Field::bool(FLAGS[0]),
        Field::bool(FLAGS[1]),
        Field::int(SIZES[0]),
        Field::int(SIZES[1]),
    ]])
    .read(handler!(read))
    .update(handler!(write))];

async fn read(_: &CertBackend, req: &mut Request) -> Result<Option<Response>> {
    let stored: Map<String, Value> = req.storage.get_json("config").await?.unwrap_or_default();
    let defaults = [
        (FLAGS[0], json!(false)),
        (FLAGS[1], json!(false)),
        (SIZES[0], json!(100)),
        (SIZES[1], json!(200)),
    ];
    let data = defaults
        .into_iter()
        .map(|(key, default)| {
            let value = stored.get(key).cloned().unwrap_or(default);
            (key.to_string(), value)
        })
        .collect();
    Ok(Some(Response::data(data)))
}

/// Whether logins give their alias the token's metadata (Vault's
/// `enable_identity_alias_metadata`).
pub(super) async fn alias_metadata_enabled(req: &Request) -> Result<bool> {
    let stored: Map<String, Value> = req.storage.get_json("config").await?.unwrap_or_default();
    Ok(stored
        .get(FLAGS[1])
        .and_then(Value::as_bool)
        .unwrap_or(false))
}

async fn write(_: &CertBackend, req: &mut Request) -> Result<Option<Response>> {
    let mut config: Map<String, Value> = req.storage.get_json("config").await?.unwrap_or_default();
    for flag in FLAGS {
        if let Some(v) = req.data.bool(flag)? {
            config.insert(flag.into(), json!(v));
        }
    }
    for size in SIZES {
        if let Some(v) = req.data.int(size)? {
            config.insert(size.into(), json!(v));
        }
    }
    req.storage.put_json("config", &config).await?;
    Ok(None)
}
