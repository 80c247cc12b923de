//! `sys/mounts[/path]` and `sys/auth[/path]`: list, read, enable and
//! disable secrets engines and auth methods. A path ending in `/tune` is
//! the mount's tuning (see `tune`); `vault auth tune` tunes through
//! `sys/mounts/auth/<path>/tune`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::tune::{self, apply_config, check_ttl_order, options, Settings};
use super::SystemBackend;
use crate::core::mounts::{normalize_mount_path, MountClass, MountEntry};
use crate::core::Core;
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, FieldData, Request, Response, Result};

/// Enabling: `config` is a map of the settings `tune` takes one by one.
const ENABLE: &[Field] = &[
    Field::string("type"),
    Field::string("description"),
    Field::raw("config"),
    Field::map("options"),
    Field::bool("local"),
    Field::bool("seal_wrap"),
    Field::bool("external_entropy_access"),
    Field::string("plugin_version"),
];

pub(super) const PATHS: &[Path<SystemBackend>] = &[
    Path::new("mounts").read(handler!(b, _r => list(b, MountClass::Secret))),
    Path::new("mounts/*path/tune")
        .fields(&[tune::FIELDS])
        .read(handler!(b, r => read_tune(b, r, MountClass::Secret)))
        .update(handler!(b, r => write_tune(b, r, MountClass::Secret))),
    Path::new("mounts/*path")
        .fields(&[ENABLE])
        .read(handler!(b, r => read(b, r, MountClass::Secret)))
        .update(handler!(b, r => write(b, r, MountClass::Secret)))
        .delete(handler!(b, r => disable(b, r, MountClass::Secret))),
    Path::new("auth").read(handler!(b, _r => list(b, MountClass::Auth))),
    Path::new("auth/*path/tune")
        .fields(&[tune::FIELDS])
        .read(handler!(b, r => read_tune(b, r, MountClass::Auth)))
        .update(handler!(b, r => write_tune(b, r, MountClass::Auth))),
    Path::new("auth/*path")
        .fields(&[ENABLE])
        .read(handler!(b, r => read(b, r, MountClass::Auth)))
        .update(handler!(b, r => write(b, r, MountClass::Auth)))
        .delete(handler!(b, r => disable(b, r, MountClass::Auth))),
];

/// Mount paths that cannot be mounted over.
const PROTECTED: &[&str] = &["audit/", "auth/", "sys/", "cubbyhole/", "identity/"];

/// The mount whose tuning `sys/mounts/<path>/tune` addresses: `vault auth
/// tune` tunes auth methods through `sys/mounts/auth/<path>/tune`.
fn tuned(req: &Request, class: MountClass) -> Result<(MountClass, String)> {
    let path = req.param("path")?;
    Ok(match path.strip_prefix("auth/") {
        Some(auth_path) if class == MountClass::Secret => (MountClass::Auth, auth_path.to_string()),
        _ => (class, path.to_string()),
    })
}

async fn read_tune(
    b: &SystemBackend,
    req: &mut Request,
    class: MountClass,
) -> Result<Option<Response>> {
    let (class, path) = tuned(req, class)?;
    tune::read(&*b.core()?, class, &path)
}

async fn write_tune(
    b: &SystemBackend,
    req: &mut Request,
    class: MountClass,
) -> Result<Option<Response>> {
    let (class, path) = tuned(req, class)?;
    tune::write(&*b.core()?, class, &path, &req.data).await
}

async fn list(b: &SystemBackend, class: MountClass) -> Result<Option<Response>> {
    let data: Map<String, Value> = b
        .core()?
        .mounts
        .entries(class)
        .iter()
        .map(|e| (e.path.clone(), e.to_json()))
        .collect();
    Ok(Some(Response::data(data)))
}

async fn read(b: &SystemBackend, req: &mut Request, class: MountClass) -> Result<Option<Response>> {
    let entry = find(&*b.core()?, class, req.param("path")?)?;
    Ok(Some(Response::data(
        entry.to_json().as_object().cloned().unwrap_or_default(),
    )))
}

async fn write(
    b: &SystemBackend,
    req: &mut Request,
    class: MountClass,
) -> Result<Option<Response>> {
    let path = req.param("path")?.to_string();
    enable(&*b.core()?, class, &path, &req.data).await
}

async fn disable(
    b: &SystemBackend,
    req: &mut Request,
    class: MountClass,
) -> Result<Option<Response>> {
    let path = req.param("path")?.to_string();
    if class == MountClass::Secret && is_builtin_secret(&path) {
        return Err(Error::BadRequest(format!(
            "cannot unmount {:?}",
            normalize_mount_path(&path)
        )));
    }
    if class == MountClass::Auth && normalize_mount_path(&path) == "token/" {
        return Err(Error::bad_request(
            "token credential backend cannot be disabled",
        ));
    }
    b.core()?.unmount(class, &path).await?;
    Ok(None)
}

fn is_builtin_secret(path: &str) -> bool {
    matches!(
        normalize_mount_path(path).as_str(),
        "sys/" | "cubbyhole/" | "identity/"
    )
}

/// The entry of the mount at `path`, or Vault's 400 naming it.
pub(super) fn find(core: &Core, class: MountClass, path: &str) -> Result<MountEntry> {
    core.mounts
        .find(class, path)
        .map(|m| m.entry)
        .ok_or_else(|| {
            let kind = match class {
                MountClass::Secret => "secret engine mount",
                MountClass::Auth => "auth mount",
            };
            Error::BadRequest(format!("No {kind} at {}", normalize_mount_path(path)))
        })
}

/// `POST sys/mounts/:path` and `POST sys/auth/:path`.
async fn enable(
    core: &Core,
    class: MountClass,
    path: &str,
    data: &FieldData,
) -> Result<Option<Response>> {
    let mount_path = normalize_mount_path(path);
    if mount_path == "/" {
        return Err(Error::bad_request("backend path must be specified"));
    }
    let backend_type = data.str("type")?.unwrap_or_default();
    if backend_type.is_empty() {
        return Err(Error::bad_request(
            "backend type must be specified as a string",
        ));
    }
    if class == MountClass::Secret && PROTECTED.iter().any(|p| mount_path.starts_with(p)) {
        return Err(Error::BadRequest(format!("cannot mount {mount_path:?}")));
    }
    if class == MountClass::Auth && mount_path == "token/" {
        return Err(Error::bad_request(
            "token credential backend cannot be instantiated",
        ));
    }
    let mut options = options(data)?;
    let backend_type = match class {
        MountClass::Secret => kv_alias(&backend_type, &mut options)?,
        MountClass::Auth => backend_type,
    };
    let description = data.str("description")?.unwrap_or_default();
    let mut entry = MountEntry::new(class, &mount_path, &backend_type, &description);
    if let Some(config) = config_object(data)? {
        apply_config(&mut entry, &config, Settings::Enable)?;
    }
    entry.options = options;
    entry.local = data.bool_or("local", false)?;
    entry.seal_wrap = data.bool_or("seal_wrap", false)?;
    entry.external_entropy_access = data.bool_or("external_entropy_access", false)?;
    entry.plugin_version = data.str("plugin_version")?.unwrap_or_default();
    check_ttl_order(&entry)?;
    core.mount(entry).await?;
    Ok(None)
}

/// Vault's KV aliases: `kv-v1` and `kv-v2` are `kv` of that version; no
/// other secrets engine takes a `version` option (`generic`, the old name
/// of KV version 1, included).
fn kv_alias(backend_type: &str, options: &mut Option<BTreeMap<String, String>>) -> Result<String> {
    let version = match backend_type {
        "kv" => return Ok(backend_type.into()),
        "kv-v1" => "1",
        "kv-v2" => "2",
        _ => {
            if options
                .as_ref()
                .and_then(|o| o.get("version"))
                .is_some_and(|v| !v.is_empty())
            {
                return Err(Error::BadRequest(format!(
                    "secrets engine {backend_type:?} does not allow setting a version"
                )));
            }
            return Ok(backend_type.into());
        }
    };
    options
        .get_or_insert_with(BTreeMap::new)
        .insert("version".into(), version.into());
    Ok("kv".into())
}

/// The `config` map of an enable, read as the settings it holds.
fn config_object(data: &FieldData) -> Result<Option<FieldData>> {
    match data.raw().get("config") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(FieldData::new(map.clone()))),
        Some(_) => Err(Error::bad_request(
            "Field validation failed: error converting input for field \"config\": expected a map",
        )),
    }
}
