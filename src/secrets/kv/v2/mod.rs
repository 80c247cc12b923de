//! KV version 2 (Vault's versioned K/V, `vault-plugin-secrets-kv`):
//! `data/*path` (read a version, write with check-and-set, JSON merge
//! patch, soft-delete the latest), `metadata/*path`, `delete`, `undelete`,
//! `destroy`, `subkeys` and `config`. What it stores is in [`records`].

mod config;
mod data;
mod metadata;
mod records;
mod subkeys;
mod upgrade;
mod versions;

use serde_json::{Map, Value};
use tokio::sync::RwLock;

use self::records::{metadata_key, version_key, KeyMetadata, KvConfig, VersionMeta};
use crate::handler;
use crate::logical::framework::{Backend, Field, Path};
use crate::logical::{Error, Request, Response, Result};
use crate::storage::StorageView;

const LOCK_STRIPES: usize = 64;

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

#[async_trait::async_trait]
impl Backend for KvV2Backend {
    /// The paths of the versioned API, then every other path, which Vault
    /// answers with a pointer to the right one.
    const PATHS: &'static [&'static [Path<Self>]] = &[
        config::PATHS,
        data::PATHS,
        metadata::PATHS,
        versions::PATHS,
        subkeys::PATHS,
        OUTSIDE_THE_API,
    ];

    /// Data a version 1 mount left behind becomes versioned here, before
    /// the mount serves as version 2 (Vault's KV plugin upgrades on start).
    async fn initialize(&self, storage: &StorageView) -> Result<()> {
        upgrade::upgrade_version_1_data(storage).await
    }
}

/// Paths outside the versioned API answer a 404 with a warning that names
/// the `vault kv` command to use. Vault sends that answer as a raw body, so
/// parameters sent there draw no warning of their own: any are taken.
const fn outside_the_api(pattern: &'static str) -> Path<KvV2Backend> {
    Path::new(pattern)
        .arbitrary_fields()
        .read(handler!(_b, _r => invalid_path("get")))
        .list(handler!(_b, _r => invalid_path("list")))
        .update(handler!(_b, _r => invalid_path("put")))
        .patch(handler!(_b, _r => invalid_path("patch")))
        .delete(handler!(_b, _r => invalid_path("delete")))
}

const OUTSIDE_THE_API: &[Path<KvV2Backend>] = &[outside_the_api(""), outside_the_api("*path")];

async fn invalid_path(command: &str) -> Result<Option<Response>> {
    Ok(Some(not_found_warning(format!(
        "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Vault CLI, use 'vault kv {command}' for this operation."
    ))))
}

/// `data` and `metadata` without a key: only listing metadata is served.
/// Vault answers the rest before it looks at any parameter, with a raw
/// 404, so these paths take any (and draw no warning about them).
async fn root_of_mount(_b: &KvV2Backend, _req: &mut Request) -> Result<Option<Response>> {
    Ok(Some(not_found_warning(
        "Non-listing operations on the root of a K/V v2 mount are not supported.".into(),
    )))
}

/// Whether the key of a `data/` or `metadata/` write exists (create vs
/// update for the ACL).
async fn key_exists(_b: &KvV2Backend, req: &mut Request) -> Result<bool> {
    let path = path_param(req)?;
    Ok(req.storage.get(&metadata_key(&path)).await?.is_some())
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

/// A `TypeMap` field whose values are kept as sent (secret data, options):
/// absent (or null) → `None`, an object → it, else 400.
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

/// What a key's metadata and the mount's `config` both set.
const SETTINGS: &[Field] = &[
    Field::int("max_versions"),
    Field::bool("cas_required"),
    Field::duration("delete_version_after"),
];

/// A key's metadata, and the version a read asks for (`version`, else the
/// current one) with its bookkeeping; `None` if either does not exist.
async fn requested_version(
    req: &Request,
    path: &str,
) -> Result<Option<(KeyMetadata, u64, VersionMeta)>> {
    let Some(meta) = load_meta(req, path).await? else {
        return Ok(None);
    };
    let asked = req.data.int("version")?.unwrap_or(0);
    let version = if asked > 0 {
        asked as u64
    } else {
        meta.current_version
    };
    let Some(vm) = meta.versions.get(&version).cloned() else {
        return Ok(None);
    };
    Ok(Some((meta, version, vm)))
}

/// `max_versions` as Vault stores it: an int truncated to uint32.
fn max_versions_field(req: &Request) -> Result<Option<u32>> {
    Ok(req.data.int("max_versions")?.map(|n| n as u32))
}
