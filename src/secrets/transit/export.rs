//! `export/:type/:name[/:version]` of exportable keys, and `backup/:name`
//! and `restore[/:name]` of keys that allow plaintext backups.
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::asymmetric;
use super::backup;
use super::ciphertext::b64encode;
use super::policy::{KeyType, Policy};
use super::{key_name, TransitBackend, NAME};
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, Request, Response, Result};
use crate::util::gotime::{now_nanos, rfc3339_nano};

pub(super) const PATHS: &[Path<TransitBackend>] = &[
    Path::new("export/:type/:name")
        .captures(NAME)
        .read(handler!(export)),
    Path::new("export/:type/:name/:version")
        .captures(NAME)
        .read(handler!(export)),
    Path::new("backup/:name")
        .captures(NAME)
        .read(handler!(backup_key)),
    Path::new("restore")
        .fields(&[&[Field::string("backup"), Field::bool("force")]])
        .update(handler!(restore)),
    Path::new("restore/:name")
        .captures(NAME)
        .fields(&[&[Field::string("backup"), Field::bool("force")]])
        .update(handler!(restore)),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum ExportType {
    Encryption,
    Signing,
    Hmac,
    Public,
}

/// One version's key as `export` shows it.
fn exported(policy: &Policy, kind: ExportType, version: i64) -> Result<String> {
    let entry = policy.version(version)?;
    let t = policy.key_type;
    Ok(match kind {
        ExportType::Hmac if t == KeyType::Hmac => b64encode(&entry.key),
        ExportType::Hmac => b64encode(&entry.hmac_key),
        ExportType::Encryption if t.is_rsa() => asymmetric::private_key_export(t, &entry.key)?,
        ExportType::Encryption => b64encode(&entry.key),
        ExportType::Public => {
            let shown = asymmetric::public_key(t, &entry.key)?.1;
            shown.trim_end().to_string()
        }
        ExportType::Signing => asymmetric::private_key_export(t, &entry.key)?,
    })
}

async fn export(b: &TransitBackend, req: &mut Request) -> Result<Option<Response>> {
    let kind = match req.param("type")? {
        "encryption-key" => ExportType::Encryption,
        "signing-key" => ExportType::Signing,
        "hmac-key" => ExportType::Hmac,
        "public-key" => ExportType::Public,
        other => return Err(Error::BadRequest(format!("invalid export type: {other}"))),
    };
    let Some(policy) = b.load(&req.storage, &key_name(req)?).await? else {
        return Ok(None);
    };
    if kind != ExportType::Public && !policy.exportable {
        return Err(Error::bad_request("private key material is not exportable"));
    }
    let t = policy.key_type;
    match kind {
        ExportType::Encryption if !t.supports_encryption() => {
            return Err(Error::bad_request("encryption not supported for the key"))
        }
        ExportType::Signing | ExportType::Public if !t.supports_signing() => {
            return Err(Error::bad_request("signing not supported for the key"))
        }
        _ => {}
    }
    let versions: Vec<i64> = match req.param("version") {
        Err(_) => policy
            .keys
            .keys()
            .copied()
            .filter(|v| *v >= policy.min_decryption_version)
            .collect(),
        Ok(text) => {
            let version = if text.is_empty() || text == "latest" {
                policy.latest_version
            } else {
                text.parse::<i64>()
                    .map_err(|_| Error::bad_request("could not parse version"))?
            };
            if version < policy.min_decryption_version || !policy.keys.contains_key(&version) {
                return Err(Error::bad_request(
                    "version does not exist or cannot be found",
                ));
            }
            vec![version]
        }
    };
    let mut keys = Map::new();
    for version in versions {
        keys.insert(
            version.to_string(),
            json!(exported(&policy, kind, version)?),
        );
    }
    let mut data = Map::new();
    data.insert("keys".into(), Value::Object(keys));
    data.insert("name".into(), json!(policy.name));
    data.insert("type".into(), json!(t.as_str()));
    Ok(Some(Response::data(data)))
}

async fn backup_key(b: &TransitBackend, req: &mut Request) -> Result<Option<Response>> {
    let _guard = b.write_lock.lock().await;
    let name = key_name(req)?;
    let Some(policy) = b.load(&req.storage, &name).await? else {
        return Err(Error::BadRequest(format!("key {name:?} not found")));
    };
    let mut policy = Arc::unwrap_or_clone(policy);
    if !policy.exportable {
        return Err(Error::bad_request("exporting is disallowed on the policy"));
    }
    if !policy.allow_plaintext_backup {
        return Err(Error::bad_request(
            "plaintext backup is disallowed on the policy",
        ));
    }
    let time = rfc3339_nano(now_nanos()).unwrap_or_default();
    let text = backup::export(&policy, &time)?;
    policy.backup_info = Some(json!({"time": time, "version": policy.latest_version}));
    b.save(&req.storage, policy).await?;
    Ok(Some(Response::data(
        json!({ "backup": text })
            .as_object()
            .cloned()
            .unwrap_or_default(),
    )))
}

async fn restore(b: &TransitBackend, req: &mut Request) -> Result<Option<Response>> {
    let text = req.data.str("backup")?.unwrap_or_default();
    if text.is_empty() {
        return Err(Error::bad_request("'backup' must be supplied"));
    }
    let force = req.data.bool("force")?.unwrap_or(false);
    let name = req.param("name").ok().map(str::to_string);
    let mut policy = backup::import(&text, name.as_deref())?;
    if !super::policy::is_key_name(&policy.name) {
        return Err(Error::bad_request(
            "failed to restore the policy: invalid key name",
        ));
    }
    let _guard = b.write_lock.lock().await;
    if !force && b.load(&req.storage, &policy.name).await?.is_some() {
        return Err(Error::BadRequest(format!(
            "key {:?} already exists",
            policy.name
        )));
    }
    policy.restore_info = Some(json!({
        "time": rfc3339_nano(now_nanos()).unwrap_or_default(),
        "version": policy.latest_version,
    }));
    b.save(&req.storage, policy).await?;
    Ok(None)
}
