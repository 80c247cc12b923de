//! KV version 2 (Vault's versioned K/V, `vault-plugin-secrets-kv`):
//! `data/*path` (read a version, write with check-and-set, JSON merge
//! patch, soft-delete the latest), `metadata/*path`, `delete`, `undelete`,
//! `destroy`, `subkeys` and `config`.
//!
//! Storage in the mount's view: `config`, `metadata/<path>` (the key's
//! metadata, so a LIST of `metadata/<dir>/` lists the keys) and
//! `versions/<sha256(path)>/<n>` (each version's data; hashed so that a key
//! and a key below it never share a prefix).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tokio::sync::RwLock;

use super::{keys_response, now_nanos, timestamp_string};
use crate::logical::{Backend, Error, GoDuration, Operation, PathSpec, Request, Response, Result};
use crate::storage::BatchOp;

use Operation::{Create, Delete, List, Patch, Read, Update};

const DATA_FIELDS: &[&str] = &["data", "options", "version"];
const METADATA_FIELDS: &[&str] = &[
    "max_versions",
    "cas_required",
    "delete_version_after",
    "custom_metadata",
];

static PATHS: &[PathSpec] = &[
    PathSpec::new("config", &[Read, Update]).fields(&[
        "max_versions",
        "cas_required",
        "delete_version_after",
    ]),
    PathSpec::new("data", &[Read, Update, Delete, Patch]),
    PathSpec::new("data/*path", &[Read, Update, Delete, Patch])
        .fields(DATA_FIELDS)
        .existence_check(),
    PathSpec::new("metadata", &[List, Read, Update, Delete, Patch]),
    PathSpec::new("metadata/*path", &[Read, List, Update, Delete, Patch])
        .fields(METADATA_FIELDS)
        .existence_check(),
    PathSpec::new("delete/*path", &[Update]).fields(&["versions"]),
    PathSpec::new("undelete/*path", &[Update]).fields(&["versions"]),
    PathSpec::new("destroy/*path", &[Update]).fields(&["versions"]),
    PathSpec::new("subkeys/*path", &[Read]).fields(&["version", "depth"]),
    PathSpec::new("", &[Read, List, Update, Delete, Patch]),
    PathSpec::new("*path", &[Read, List, Update, Delete, Patch]),
];

/// Vault keeps 10 versions unless the key or the mount says otherwise.
const DEFAULT_MAX_VERSIONS: u32 = 10;
const NANOS: i64 = 1_000_000_000;
const LOCK_STRIPES: usize = 64;

const ROOT_WARNING: &str =
    "Non-listing operations on the root of a K/V v2 mount are not supported.";

/// One version's bookkeeping (`VersionMetadata`). Times are Unix nanoseconds,
/// 0 meaning unset.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
struct VersionMeta {
    created_time: i64,
    deletion_time: i64,
    destroyed: bool,
}

impl VersionMeta {
    /// Soft-deleted: a deletion time that has passed.
    fn is_deleted(&self, now: i64) -> bool {
        self.deletion_time != 0 && self.deletion_time < now
    }
}

/// A key's metadata (`KeyMetadata`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
struct KeyMetadata {
    key: String,
    versions: BTreeMap<u64, VersionMeta>,
    current_version: u64,
    oldest_version: u64,
    created_time: i64,
    updated_time: i64,
    max_versions: u32,
    cas_required: bool,
    /// Seconds; 0 = unset.
    delete_version_after: i64,
    custom_metadata: BTreeMap<String, String>,
}

impl KeyMetadata {
    fn new(key: &str) -> Self {
        KeyMetadata {
            key: key.to_string(),
            ..Default::default()
        }
    }

    fn custom_metadata_json(&self) -> Value {
        if self.custom_metadata.is_empty() {
            Value::Null
        } else {
            json!(self.custom_metadata)
        }
    }

    /// The version metadata block of data reads and writes.
    fn version_json(&self, version: u64, vm: &VersionMeta) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert(
            "created_time".into(),
            json!(timestamp_string(vm.created_time)),
        );
        out.insert("custom_metadata".into(), self.custom_metadata_json());
        out.insert(
            "deletion_time".into(),
            json!(timestamp_string(vm.deletion_time)),
        );
        out.insert("destroyed".into(), json!(vm.destroyed));
        out.insert("version".into(), json!(version));
        out
    }

    /// `AddVersion`: appends a version and slides the window of kept
    /// versions. Returns the new version number and the versions dropped.
    fn add_version(&mut self, vm: VersionMeta, config_max: u32) -> (u64, Vec<u64>) {
        self.current_version += 1;
        self.updated_time = vm.created_time;
        if self.created_time == 0 {
            self.created_time = vm.created_time;
        }
        self.versions.insert(self.current_version, vm);
        let max = match self.max_versions.max(config_max) {
            0 => DEFAULT_MAX_VERSIONS,
            n => n,
        };
        let mut dropped = Vec::new();
        if self.current_version - self.oldest_version >= u64::from(max) {
            let last_dropped = self.current_version - u64::from(max);
            let gone: Vec<u64> = self
                .versions
                .range(..=last_dropped)
                .map(|(v, _)| *v)
                .collect();
            for v in gone {
                self.versions.remove(&v);
                dropped.push(v);
            }
            self.oldest_version = last_dropped + 1;
        }
        (self.current_version, dropped)
    }
}

/// The mount's `config`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
struct KvConfig {
    max_versions: u32,
    cas_required: bool,
    delete_version_after: i64,
}

/// The records of a version 1 entry upgraded to version 2 (version 1 of its
/// key, created now).
pub(super) fn upgraded_entry(
    key: &str,
    data: &Map<String, Value>,
    now: i64,
) -> Result<Vec<BatchOp>> {
    let mut meta = KeyMetadata::new(key);
    meta.add_version(
        VersionMeta {
            created_time: now,
            ..Default::default()
        },
        0,
    );
    meta.oldest_version = 1;
    Ok(vec![
        BatchOp::Put(version_key(key, 1), serde_json::to_vec(data)?),
        BatchOp::Put(metadata_key(key), serde_json::to_vec(&meta)?),
    ])
}

/// `deletionTime`: creation plus the smaller non-zero of the mount's and
/// the key's `delete_version_after`; 0 when neither is set.
fn deletion_time(created: i64, mount_secs: i64, meta_secs: i64) -> i64 {
    let pick = match (mount_secs, meta_secs) {
        (0, 0) => return 0,
        (0, m) => m,
        (c, 0) => c,
        (c, m) => c.min(m),
    };
    created.saturating_add(pick.saturating_mul(NANOS))
}

fn metadata_key(path: &str) -> String {
    format!("metadata/{path}")
}

fn path_hash(path: &str) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, path.as_bytes()).as_ref())
}

fn version_key(path: &str, version: u64) -> String {
    format!("versions/{}/{version}", path_hash(path))
}

pub struct KvV2Backend {
    /// Per-key locks (striped), so read-modify-write of a key's metadata
    /// (check-and-set) is atomic.
    locks: Vec<RwLock<()>>,
}

impl Default for KvV2Backend {
    fn default() -> Self {
        Self::new()
    }
}

impl KvV2Backend {
    pub fn new() -> Self {
        KvV2Backend {
            locks: (0..LOCK_STRIPES).map(|_| RwLock::new(())).collect(),
        }
    }

    fn lock_for(&self, path: &str) -> &RwLock<()> {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, path.as_bytes());
        let index = usize::from(digest.as_ref()[0]) % LOCK_STRIPES;
        &self.locks[index]
    }
}

async fn load_meta(req: &Request, path: &str) -> Result<Option<KeyMetadata>> {
    Ok(req.storage.get_json(&metadata_key(path)).await?)
}

async fn load_config(req: &Request) -> Result<KvConfig> {
    Ok(req.storage.get_json("config").await?.unwrap_or_default())
}

async fn load_version_data(req: &Request, path: &str, version: u64) -> Result<Map<String, Value>> {
    req.storage
        .get_json::<Map<String, Value>>(&version_key(path, version))
        .await?
        .ok_or_else(|| Error::internal("could not find version data"))
}

fn path_param(req: &Request) -> Result<String> {
    Ok(req.param("path")?.trim_end_matches('/').to_string())
}

/// A 404 that still carries data, as Vault's `RespondWithStatusCode`.
fn not_found_with(data: Map<String, Value>) -> Response {
    Response {
        data: Some(data),
        status: Some(404),
        ..Default::default()
    }
}

/// A 404 carrying only a warning (Vault's answers for paths that are not
/// part of the versioned API).
fn not_found_warning(warning: String) -> Response {
    Response {
        warnings: vec![warning],
        status: Some(404),
        ..Default::default()
    }
}

fn invalid_path_warning(op: Operation) -> String {
    let sub = match op {
        Operation::Create | Operation::Update => "put",
        Operation::Read => "get",
        Operation::List => "list",
        Operation::Delete => "delete",
        Operation::Patch => "patch",
    };
    format!(
        "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Vault CLI, use 'vault kv {sub}' for this operation."
    )
}

/// Go's name for a JSON value's type, for conversion errors.
fn go_type(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "string",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "json.Number",
        Value::Bool(_) => "bool",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
        Value::Null => "<nil>",
    }
}

/// A `TypeMap` field: absent (or null) → `None`, an object → it, else 400.
fn map_field(req: &Request, name: &str) -> Result<Option<Map<String, Value>>> {
    match req.data.raw().get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map.clone())),
        Some(other) => Err(Error::BadRequest(format!(
            "error converting input for field {name:?}: '' expected type 'map[string]interface {{}}', got unconvertible type '{}'",
            go_type(other)
        ))),
    }
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

/// `versions` (`TypeCommaIntSlice`).
fn versions_field(req: &Request) -> Result<Vec<u64>> {
    let items = req.data.comma_list("versions")?.unwrap_or_default();
    items
        .iter()
        .map(|item| {
            item.parse::<i64>().map(|v| v as u64).map_err(|_| {
                Error::BadRequest(format!(
                    "Field validation failed: error converting input {item} for field \"versions\": expected a list of integers"
                ))
            })
        })
        .collect()
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

/// go-multierror's text.
fn multierror(errors: &[String]) -> String {
    let noun = if errors.len() == 1 { "error" } else { "errors" };
    let mut out = format!("{} {noun} occurred:\n", errors.len());
    for e in errors {
        out.push_str(&format!("\t* {e}\n"));
    }
    out.push('\n');
    out
}

/// `max_versions` as Vault stores it: an int truncated to uint32.
fn max_versions_field(req: &Request) -> Result<Option<u32>> {
    Ok(req.data.int("max_versions")?.map(|n| n as u32))
}

/// The key's subkeys: every leaf (and every map beyond `depth`) is null.
fn subkeys(data: &Map<String, Value>, depth: i64, level: i64) -> Map<String, Value> {
    data.iter()
        .map(|(key, value)| {
            let sub = match value {
                Value::Object(map) if depth == 0 || level < depth => {
                    Value::Object(subkeys(map, depth, level + 1))
                }
                _ => Value::Null,
            };
            (key.clone(), sub)
        })
        .collect()
}

impl KvV2Backend {
    async fn read_data(&self, req: &mut Request) -> Result<Option<Response>> {
        let path = path_param(req)?;
        let _guard = self.lock_for(&path).read().await;
        let Some(meta) = load_meta(req, &path).await? else {
            return Ok(None);
        };
        let asked = req.data.int("version")?.unwrap_or(0);
        let version = if asked > 0 {
            asked as u64
        } else {
            meta.current_version
        };
        let Some(vm) = meta.versions.get(&version) else {
            return Ok(None);
        };
        let mut data = Map::new();
        data.insert("data".into(), Value::Null);
        data.insert(
            "metadata".into(),
            Value::Object(meta.version_json(version, vm)),
        );
        if vm.is_deleted(now_nanos()) || vm.destroyed {
            return Ok(Some(not_found_with(data)));
        }
        let stored = load_version_data(req, &path, version).await?;
        data.insert("data".into(), Value::Object(stored));
        Ok(Some(Response::data(data)))
    }

    /// Stores `data` as the key's next version, returning Vault's write answer.
    async fn store_version(
        &self,
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

    async fn write_data(&self, req: &mut Request) -> Result<Option<Response>> {
        let path = path_param(req)?;
        let config = load_config(req).await?;
        let Some(data) = map_field(req, "data")? else {
            return Err(Error::bad_request("no data provided"));
        };
        let _guard = self.lock_for(&path).write().await;
        let mut meta = load_meta(req, &path)
            .await?
            .unwrap_or_else(|| KeyMetadata::new(&path));
        check_and_set(req, &config, &meta)?;
        let response = self
            .store_version(req, &path, &mut meta, &config, &data)
            .await?;
        Ok(Some(response))
    }

    async fn patch_data(&self, req: &mut Request) -> Result<Option<Response>> {
        let path = path_param(req)?;
        if !req.data.contains("data") {
            return Err(Error::bad_request("no data provided"));
        }
        let patch = map_field(req, "data")?.unwrap_or_default();
        let _guard = self.lock_for(&path).write().await;
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
        let response = self
            .store_version(req, &path, &mut meta, &config, &merged)
            .await?;
        Ok(Some(response))
    }

    /// `DELETE data/:path`: soft-deletes the latest version.
    async fn delete_latest(&self, req: &mut Request) -> Result<Option<Response>> {
        let path = path_param(req)?;
        let _guard = self.lock_for(&path).write().await;
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

    /// `delete/`, `undelete/` and `destroy/` with a `versions` list.
    async fn change_versions(&self, req: &mut Request, action: &str) -> Result<Option<Response>> {
        let path = path_param(req)?;
        let versions = versions_field(req)?;
        if versions.is_empty() {
            return Err(Error::bad_request(if action == "destroy" {
                "no version number provided"
            } else {
                "No version number provided"
            }));
        }
        let config = load_config(req).await?;
        let _guard = self.lock_for(&path).write().await;
        let Some(mut meta) = load_meta(req, &path).await? else {
            return Ok(None);
        };
        let now = now_nanos();
        let meta_dva = meta.delete_version_after;
        let mut ops = Vec::new();
        for version in versions {
            let Some(vm) = meta.versions.get_mut(&version) else {
                continue;
            };
            match action {
                "delete" => {
                    if vm.destroyed || vm.is_deleted(now) {
                        continue;
                    }
                    vm.deletion_time = now;
                }
                "undelete" => {
                    if vm.destroyed {
                        continue;
                    }
                    vm.deletion_time = deletion_time(now, config.delete_version_after, meta_dva);
                }
                _ => {
                    vm.destroyed = true;
                    ops.push(BatchOp::Delete(version_key(&path, version)));
                }
            }
        }
        ops.push(BatchOp::Put(
            metadata_key(&path),
            serde_json::to_vec(&meta)?,
        ));
        req.storage.batch(ops).await?;
        Ok(None)
    }

    async fn read_metadata(&self, req: &mut Request) -> Result<Option<Response>> {
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

    async fn list_metadata(&self, req: &mut Request) -> Result<Option<Response>> {
        let prefix = match req.params.get("path") {
            Some(p) if !p.trim_end_matches('/').is_empty() => {
                format!("metadata/{}/", p.trim_end_matches('/'))
            }
            _ => "metadata/".to_string(),
        };
        let keys = req.storage.list(&prefix).await?;
        Ok(Some(keys_response(keys)))
    }

    async fn write_metadata(&self, req: &mut Request, patch: bool) -> Result<Option<Response>> {
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
        let _guard = self.lock_for(&path).write().await;
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
                // A flat merge patch: null removes a key, anything else sets it.
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

    async fn delete_metadata(&self, req: &mut Request) -> Result<Option<Response>> {
        let path = path_param(req)?;
        let _guard = self.lock_for(&path).write().await;
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

    async fn read_subkeys(&self, req: &mut Request) -> Result<Option<Response>> {
        let path = path_param(req)?;
        let depth = req.data.int("depth")?.unwrap_or(0);
        if depth < 0 {
            return Err(Error::bad_request("depth must be a non-negative integer"));
        }
        let _guard = self.lock_for(&path).read().await;
        let Some(meta) = load_meta(req, &path).await? else {
            return Ok(None);
        };
        let asked = req.data.int("version")?.unwrap_or(0);
        let version = if asked > 0 {
            asked as u64
        } else {
            meta.current_version
        };
        let Some(vm) = meta.versions.get(&version) else {
            return Ok(None);
        };
        let mut data = Map::new();
        data.insert(
            "metadata".into(),
            Value::Object(meta.version_json(version, vm)),
        );
        data.insert("subkeys".into(), Value::Null);
        if vm.is_deleted(now_nanos()) || vm.destroyed {
            return Ok(Some(not_found_with(data)));
        }
        let stored = load_version_data(req, &path, version).await?;
        data.insert("subkeys".into(), Value::Object(subkeys(&stored, depth, 1)));
        Ok(Some(Response::data(data)))
    }

    async fn config(&self, req: &mut Request) -> Result<Option<Response>> {
        let mut config = load_config(req).await?;
        if req.operation == Read {
            let mut data = Map::new();
            data.insert("cas_required".into(), json!(config.cas_required));
            data.insert(
                "delete_version_after".into(),
                json!(GoDuration(config.delete_version_after).to_string()),
            );
            data.insert("max_versions".into(), json!(config.max_versions));
            return Ok(Some(Response::data(data)));
        }
        if let Some(n) = max_versions_field(req)? {
            config.max_versions = n;
        }
        if let Some(b) = req.data.bool("cas_required")? {
            config.cas_required = b;
        }
        if let Some(secs) = req.data.duration("delete_version_after")? {
            config.delete_version_after = secs;
        }
        req.storage.put_json("config", &config).await?;
        Ok(None)
    }
}

#[async_trait::async_trait]
impl Backend for KvV2Backend {
    fn paths(&self) -> &'static [PathSpec] {
        PATHS
    }

    async fn exists(&self, req: &mut Request) -> Result<bool> {
        let path = path_param(req)?;
        Ok(req.storage.get(&metadata_key(&path)).await?.is_some())
    }

    async fn handle(&self, req: &mut Request) -> Result<Option<Response>> {
        match (req.route, req.operation) {
            ("config", _) => self.config(req).await,
            ("data", _) | ("metadata", Read | Update | Create | Delete | Patch) => {
                Ok(Some(not_found_warning(ROOT_WARNING.to_string())))
            }
            ("metadata", List) | ("metadata/*path", List) => self.list_metadata(req).await,
            ("data/*path", Read) => self.read_data(req).await,
            ("data/*path", Create | Update) => self.write_data(req).await,
            ("data/*path", Patch) => self.patch_data(req).await,
            ("data/*path", Delete) => self.delete_latest(req).await,
            ("metadata/*path", Read) => self.read_metadata(req).await,
            ("metadata/*path", Create | Update) => self.write_metadata(req, false).await,
            ("metadata/*path", Patch) => self.write_metadata(req, true).await,
            ("metadata/*path", Delete) => self.delete_metadata(req).await,
            ("delete/*path", _) => self.change_versions(req, "delete").await,
            ("undelete/*path", _) => self.change_versions(req, "undelete").await,
            ("destroy/*path", _) => self.change_versions(req, "destroy").await,
            ("subkeys/*path", _) => self.read_subkeys(req).await,
            ("" | "*path", op) => Ok(Some(not_found_warning(invalid_path_warning(op)))),
            _ => Err(Error::UnsupportedOperation),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_window_slides_as_vaults() {
        let mut meta = KeyMetadata::new("k");
        for _ in 0..4 {
            meta.add_version(VersionMeta::default(), 0);
        }
        assert_eq!(meta.oldest_version, 0);
        meta.max_versions = 2;
        let (v, dropped) = meta.add_version(VersionMeta::default(), 0);
        assert_eq!(v, 5);
        assert_eq!(dropped, vec![1, 2, 3]);
        assert_eq!(meta.oldest_version, 4);
        assert_eq!(
            meta.versions.keys().copied().collect::<Vec<_>>(),
            vec![4, 5]
        );
    }

    #[test]
    fn ten_versions_are_kept_by_default() {
        let mut meta = KeyMetadata::new("k");
        for _ in 0..12 {
            meta.add_version(VersionMeta::default(), 0);
        }
        assert_eq!(meta.versions.len(), 10);
        assert_eq!(meta.versions.keys().next(), Some(&3));
    }

    #[test]
    fn deletion_time_takes_the_smaller_setting() {
        assert_eq!(deletion_time(5, 0, 0), 0);
        assert_eq!(deletion_time(0, 10, 0), 10 * NANOS);
        assert_eq!(deletion_time(0, 0, 20), 20 * NANOS);
        assert_eq!(deletion_time(0, 30, 20), 20 * NANOS);
    }

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut target = json!({"a": "1", "n": {"x": 1, "y": [1, 2]}});
        merge_patch(&mut target, &json!({"a": null, "n": {"x": null, "z": 3}}));
        assert_eq!(target, json!({"n": {"y": [1, 2], "z": 3}}));
    }

    #[test]
    fn subkeys_null_the_leaves_down_to_depth() {
        let data = json!({"a": 1, "n": {"y": [1], "z": {"q": 1}}});
        let map = data.as_object().cloned().unwrap_or_default();
        assert_eq!(
            Value::Object(subkeys(&map, 0, 1)),
            json!({"a": null, "n": {"y": null, "z": {"q": null}}})
        );
        assert_eq!(
            Value::Object(subkeys(&map, 1, 1)),
            json!({"a": null, "n": null})
        );
    }
}
