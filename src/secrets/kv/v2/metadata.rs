//! `metadata/*path`: a key's metadata (its versions, `max_versions`,
//! `cas_required`, `delete_version_after`, `custom_metadata`), listing the
//! keys, and deleting a key with all its versions.

use crate::util::multierror::multierror;
use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::records::{metadata_key, version_key, KeyMetadata};
use super::{
    go_type, key_exists, load_config, load_meta, map_field, max_versions_field, path_param,
    root_of_mount, KvV2Backend, SETTINGS,
};
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, GoDuration, Request, Response, Result};
use crate::secrets::kv::timestamp_string;
use crate::storage::BatchOp;
use crate::util::gotime::now_nanos;

/// `custom_metadata` is a map whose values are checked here, with
/// Vault's own words.
const CUSTOM_METADATA: &[Field] = &[Field::raw("custom_metadata")];

pub(super) const PATHS: &[Path<KvV2Backend>] = &[
    // As `data`, the root takes any parameters; Vault's LIST of it alone
    // would check (and warn about) them.
    Path::new("metadata")
        .arbitrary_fields()
        .list(handler!(list))
        .read(handler!(root_of_mount))
        .update(handler!(root_of_mount))
        .patch(handler!(root_of_mount))
        .delete(handler!(root_of_mount)),
    Path::new("metadata/*path")
        .fields(&[SETTINGS, CUSTOM_METADATA])
        .existence_check(|b, r| Box::pin(key_exists(b, r)))
        .read(handler!(read))
        .list(handler!(list))
        .update(handler!(b, r => write(b, r, Write::Replace)))
        .patch(handler!(b, r => write(b, r, Write::Patch)))
        .delete(handler!(delete)),
];

async fn read(_b: &KvV2Backend, req: &mut Request) -> Result<Option<Response>> {
    let path = path_param(req)?;
    let Some(meta) = load_meta(req, &path).await? else {
        return Ok(None);
    };
    let versions: Map<String, Value> = meta
        .versions
        .iter()
        .map(|(v, vm)| {
            (
                v.to_string(),
                json!({
                    "created_time": timestamp_string(vm.created_time),
                    "deletion_time": timestamp_string(vm.deletion_time),
                    "destroyed": vm.destroyed,
                }),
            )
        })
        .collect();
    let mut data = Map::new();
    data.insert("cas_required".into(), json!(meta.cas_required));
    data.insert(
        "created_time".into(),
        json!(timestamp_string(meta.created_time)),
    );
    data.insert("current_version".into(), json!(meta.current_version));
    data.insert("custom_metadata".into(), meta.custom_metadata_json());
    data.insert(
        "delete_version_after".into(),
        json!(GoDuration(meta.delete_version_after).to_string()),
    );
    data.insert("max_versions".into(), json!(meta.max_versions));
    data.insert("oldest_version".into(), json!(meta.oldest_version));
    data.insert(
        "updated_time".into(),
        json!(timestamp_string(meta.updated_time)),
    );
    data.insert("versions".into(), Value::Object(versions));
    Ok(Some(Response::data(data)))
}

async fn list(_b: &KvV2Backend, req: &mut Request) -> Result<Option<Response>> {
    let prefix = match req.params.get("path") {
        Some(p) if !p.trim_end_matches('/').is_empty() => {
            format!("metadata/{}/", p.trim_end_matches('/'))
        }
        _ => "metadata/".to_string(),
    };
    let keys = req.storage.list(&prefix).await?;
    Ok(Some(Response::list(keys)))
}

/// How a metadata write treats what it does not name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Write {
    /// POST/PUT: a key's settings and all of its `custom_metadata`.
    Replace,
    /// PATCH: only what is sent; a null `custom_metadata` value removes
    /// that entry (a flat JSON merge patch).
    Patch,
}

async fn write(b: &KvV2Backend, req: &mut Request, how: Write) -> Result<Option<Response>> {
    let patch = how == Write::Patch;
    let path = path_param(req)?;
    let max_versions = max_versions_field(req)?;
    let cas_required = req.data.bool("cas_required")?;
    let dva = req.data.duration("delete_version_after")?;
    let custom = match map_field(req, "custom_metadata")? {
        Some(raw) => Some((parse_custom_metadata(&raw, patch)?, raw)),
        None => None,
    };
    if !patch
        && max_versions.is_none()
        && cas_required.is_none()
        && dva.is_none()
        && custom.is_none()
    {
        return Ok(None);
    }
    let config = load_config(req).await?;
    let mut warnings = Vec::new();
    if cas_required == Some(false) && config.cas_required {
        warnings.push(
            "\"cas_required\" set to false, but is mandated by backend config. This value will be ignored."
                .to_string(),
        );
    }
    let _guard = b.lock_for(&path).write().await;
    let mut meta = match load_meta(req, &path).await? {
        Some(meta) => meta,
        None if patch => return Err(Error::NotFound),
        None => {
            let now = now_nanos();
            KeyMetadata {
                created_time: now,
                updated_time: now,
                ..KeyMetadata::new(&path)
            }
        }
    };
    if let Some(n) = max_versions {
        meta.max_versions = n;
    }
    if let Some(b) = cas_required {
        meta.cas_required = b;
    }
    if let Some(secs) = dva {
        meta.delete_version_after = secs;
    }
    if let Some((parsed, raw)) = custom {
        if patch {
            for (key, value) in &raw {
                if value.is_null() {
                    meta.custom_metadata.remove(key);
                }
            }
            meta.custom_metadata.extend(parsed);
        } else {
            meta.custom_metadata = parsed;
        }
    }
    meta.updated_time = now_nanos();
    req.storage.put_json(&metadata_key(&path), &meta).await?;
    if warnings.is_empty() {
        Ok(None)
    } else {
        Ok(Some(Response {
            warnings,
            ..Default::default()
        }))
    }
}

async fn delete(b: &KvV2Backend, req: &mut Request) -> Result<Option<Response>> {
    let path = path_param(req)?;
    let _guard = b.lock_for(&path).write().await;
    let Some(meta) = load_meta(req, &path).await? else {
        return Ok(None);
    };
    let mut ops: Vec<BatchOp> = meta
        .versions
        .keys()
        .map(|v| BatchOp::Delete(version_key(&path, *v)))
        .collect();
    ops.push(BatchOp::Delete(metadata_key(&path)));
    req.storage.batch(ops).await?;
    Ok(None)
}

/// `custom_metadata` as Vault parses it: values weakly decoded to strings
/// (nulls dropped when patching), then size and printability limits.
fn parse_custom_metadata(
    raw: &Map<String, Value>,
    drop_nulls: bool,
) -> Result<BTreeMap<String, String>> {
    const PREFIX: &str = "custom_metadata validation failed";
    let mut out = BTreeMap::new();
    for (key, value) in raw {
        let text = match value {
            Value::Null if drop_nulls => continue,
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => if *b { "1" } else { "0" }.to_string(),
            other => {
                return Err(Error::BadRequest(format!(
                    "{PREFIX}: '' expected type 'string', got unconvertible type '{}'",
                    go_type(other)
                )))
            }
        };
        out.insert(key.clone(), text);
    }
    if out.len() > 64 {
        return Err(Error::BadRequest(format!(
            "{PREFIX}: payload must contain at most 64 keys, provided {}",
            out.len()
        )));
    }
    let mut errors = Vec::new();
    for (key, value) in &out {
        if key.is_empty() || key.len() > 128 {
            errors.push(format!(
                "{PREFIX}: length of key {key:?} is {} but must be 0 < len(key) <= 128",
                key.len()
            ));
        }
        if value.is_empty() || value.len() > 512 {
            errors.push(format!(
                "{PREFIX}: length of value for key {key:?} is {} but must be 0 < len(value) <= 512",
                value.len()
            ));
        }
        if key.chars().any(char::is_control) {
            errors.push(format!(
                "{PREFIX}: key {key:?} ({key}) contains unprintable characters"
            ));
        }
        if value.chars().any(char::is_control) {
            errors.push(format!(
                "{PREFIX}: value for key {key:?} contains unprintable characters"
            ));
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(Error::BadRequest(multierror(&errors)))
    }
}
