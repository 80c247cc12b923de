//! `data/*path`: read a version, write the next one (with check-and-set),
//! patch the latest (JSON merge patch) and soft-delete the latest.

use serde_json::{Map, Value};

use super::records::{
    deletion_time, metadata_key, version_key, KeyMetadata, KvConfig, VersionMeta,
};
use super::{
    key_exists, load_config, load_meta, load_version_data, map_field, not_found_with, path_param,
    requested_version, root_of_mount, KvV2Backend,
};
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, Request, Response, Result};
use crate::storage::BatchOp;
use crate::util::gotime::now_nanos;

/// Vault's `data/` fields: the secret and the write options are maps whose
/// values are kept as sent.
const FIELDS: &[Field] = &[
    Field::raw("data"),
    Field::raw("options"),
    Field::int("version"),
];

pub(super) const PATHS: &[Path<KvV2Backend>] = &[
    Path::new("data")
        .arbitrary_fields()
        .read(handler!(root_of_mount))
        .update(handler!(root_of_mount))
        .patch(handler!(root_of_mount))
        .delete(handler!(root_of_mount)),
    Path::new("data/*path")
        .fields(&[FIELDS])
        .existence_check(|b, r| Box::pin(key_exists(b, r)))
        .read(handler!(read))
        .update(handler!(write))
        .patch(handler!(patch))
        .delete(handler!(delete_latest)),
];

async fn read(b: &KvV2Backend, req: &mut Request) -> Result<Option<Response>> {
    let path = path_param(req)?;
    let _guard = b.lock_for(&path).read().await;
    let Some((meta, version, vm)) = requested_version(req, &path).await? else {
        return Ok(None);
    };
    let mut data = Map::new();
    data.insert("data".into(), Value::Null);
    data.insert(
        "metadata".into(),
        Value::Object(meta.version_json(version, &vm)),
    );
    if vm.is_deleted(now_nanos()) || vm.destroyed {
        return Ok(Some(not_found_with(data)));
    }
    let stored = load_version_data(req, &path, version).await?;
    data.insert("data".into(), Value::Object(stored));
    Ok(Some(Response::data(data)))
}

async fn write(b: &KvV2Backend, req: &mut Request) -> Result<Option<Response>> {
    let path = path_param(req)?;
    let config = load_config(req).await?;
    let Some(data) = map_field(req, "data")? else {
        return Err(Error::bad_request("no data provided"));
    };
    let _guard = b.lock_for(&path).write().await;
    let mut meta = load_meta(req, &path)
        .await?
        .unwrap_or_else(|| KeyMetadata::new(&path));
    check_and_set(req, &config, &meta)?;
    let response = store_version(req, &path, &mut meta, &config, &data).await?;
    Ok(Some(response))
}

async fn patch(b: &KvV2Backend, req: &mut Request) -> Result<Option<Response>> {
    let path = path_param(req)?;
    if !req.data.contains("data") {
        return Err(Error::bad_request("no data provided"));
    }
    let patch = map_field(req, "data")?.unwrap_or_default();
    let _guard = b.lock_for(&path).write().await;
    let Some(mut meta) = load_meta(req, &path).await? else {
        return Err(Error::NotFound);
    };
    let config = load_config(req).await?;
    check_and_set(req, &config, &meta)?;
    let current = meta.current_version;
    let Some(vm) = meta.versions.get(&current).cloned() else {
        return Err(Error::NotFound);
    };
    if vm.is_deleted(now_nanos()) || vm.destroyed {
        return Ok(Some(not_found_with(meta.version_json(current, &vm))));
    }
    let mut merged = Value::Object(load_version_data(req, &path, current).await?);
    merge_patch(&mut merged, &Value::Object(patch));
    let merged = match merged {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let response = store_version(req, &path, &mut meta, &config, &merged).await?;
    Ok(Some(response))
}

/// `DELETE data/:path`: soft-deletes the latest version.
async fn delete_latest(b: &KvV2Backend, req: &mut Request) -> Result<Option<Response>> {
    let path = path_param(req)?;
    let _guard = b.lock_for(&path).write().await;
    let Some(mut meta) = load_meta(req, &path).await? else {
        return Ok(None);
    };
    let now = now_nanos();
    let current = meta.current_version;
    let Some(vm) = meta.versions.get_mut(&current) else {
        return Ok(None);
    };
    if vm.destroyed || vm.is_deleted(now) {
        return Ok(None);
    }
    vm.deletion_time = now;
    req.storage.put_json(&metadata_key(&path), &meta).await?;
    Ok(None)
}

/// Stores `data` as the key's next version, returning Vault's write answer.
async fn store_version(
    req: &Request,
    path: &str,
    meta: &mut KeyMetadata,
    config: &KvConfig,
    data: &Map<String, Value>,
) -> Result<Response> {
    let created = now_nanos();
    let vm = VersionMeta {
        created_time: created,
        deletion_time: deletion_time(
            created,
            config.delete_version_after,
            meta.delete_version_after,
        ),
        destroyed: false,
    };
    let (version, dropped) = meta.add_version(vm.clone(), config.max_versions);
    let mut ops = vec![
        BatchOp::Put(version_key(path, version), serde_json::to_vec(data)?),
        BatchOp::Put(metadata_key(path), serde_json::to_vec(&*meta)?),
    ];
    ops.extend(
        dropped
            .into_iter()
            .map(|v| BatchOp::Delete(version_key(path, v))),
    );
    req.storage.batch(ops).await?;
    Ok(Response::data(meta.version_json(version, &vm)))
}

/// `validateCheckAndSetOption`.
fn check_and_set(req: &Request, config: &KvConfig, meta: &KeyMetadata) -> Result<()> {
    let options = map_field(req, "options")?;
    match options.as_ref().and_then(|o| o.get("cas")) {
        Some(cas) => {
            let parsed = match cas {
                Value::Number(n) => n
                    .as_i64()
                    .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
                Value::String(s) if s.is_empty() => Some(0),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                Value::Bool(b) => Some(i64::from(*b)),
                Value::Null => Some(0),
                _ => None,
            }
            .ok_or_else(|| Error::bad_request("error parsing check-and-set parameter"))?;
            if parsed as u64 != meta.current_version {
                return Err(Error::bad_request(
                    "check-and-set parameter did not match the current version",
                ));
            }
            Ok(())
        }
        None if config.cas_required || meta.cas_required => Err(Error::bad_request(
            "check-and-set parameter required for this call",
        )),
        None => Ok(()),
    }
}

/// RFC 7386 JSON merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut target = json!({"a": "1", "n": {"x": 1, "y": [1, 2]}});
        merge_patch(&mut target, &json!({"a": null, "n": {"x": null, "z": 3}}));
        assert_eq!(target, json!({"n": {"y": [1, 2], "z": 3}}));
    }
}
