//! The mount's keys: listing (`keys`), generating and importing one
//! (`keys/generate/:exported`, `keys/import`), reading, renaming and
//! deleting one (`key/:key_ref`) and the default (`config/keys`).

use serde_json::{json, Map, Value};

use super::private_key::{self, PrivateKey};
use super::public_key;
use super::store::{self, KeyEntry};
use super::x509;
use super::PkiBackend;
use super::{list_with_info, requested_name};
use crate::handler;
use crate::logical::framework::{is_generic_name, Field, Path};
use crate::logical::{Error, Request, Response, Result};

const KEY_NAME: &[Field] = &[Field::string("key_name")];

pub(super) const PATHS: &[Path<PkiBackend>] = &[
    Path::new("keys").list(handler!(list_keys)),
    Path::new("keys/generate/:exported")
        .fields(&[
            KEY_NAME,
            &[
                Field::string("key_type"),
                Field::int("key_bits"),
                Field::string("managed_key_name"),
                Field::string("managed_key_id"),
            ],
        ])
        .update(handler!(generate_key)),
    Path::new("keys/import")
        .fields(&[KEY_NAME, &[Field::string("pem_bundle")]])
        .update(handler!(import_key)),
    Path::new("key/:key_ref")
        .fields(&[KEY_NAME, &[Field::string("key_ref")]])
        .read(handler!(read_key))
        .update(handler!(update_key))
        .delete(handler!(delete_key)),
    Path::new("config/keys")
        .fields(&[&[Field::string("default")]])
        .read(handler!(read_config))
        .update(handler!(write_config)),
];

async fn list_keys(_: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let all = store::list_keys(&req.storage).await?;
    let default = store::keys_config(&req.storage).await?.default;
    let mut info = Map::new();
    for k in &all {
        info.insert(
            k.id.clone(),
            json!({"key_name": k.name, "is_default": k.id == default}),
        );
    }
    let ids = all.iter().map(|k| k.id.clone()).collect();
    Ok(Some(list_with_info(ids, info)))
}

fn key_data(entry: &KeyEntry) -> Map<String, Value> {
    let mut d = Map::new();
    d.insert("key_id".into(), json!(entry.id));
    d.insert("key_name".into(), json!(entry.name));
    d.insert("key_type".into(), json!(entry.key_type));
    let ski = PrivateKey::from_pem(&entry.private_key)
        .ok()
        .and_then(|k| k.spki().ok())
        .and_then(|s| public_key::info(&s))
        .map(|i| x509::format_serial(&public_key::key_identifier(&i.key_bytes)))
        .unwrap_or_default();
    d.insert("subject_key_id".into(), json!(ski));
    d
}

/// The key `key_ref` names; unknown is a 400.
async fn require_key(req: &Request) -> Result<KeyEntry> {
    let reference = req.param("key_ref")?;
    store::resolve_key(&req.storage, reference)
        .await?
        .ok_or_else(|| {
            Error::bad_request(format!("unable to find PKI key for reference: {reference}"))
        })
}

async fn read_key(_: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let entry = require_key(req).await?;
    Ok(Some(Response::data(key_data(&entry))))
}

/// Renames a key (the only thing a write changes).
async fn update_key(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let _guard = backend.write_lock.lock().await;
    let mut entry = require_key(req).await?;
    let name = req.data.str_or("key_name", "")?;
    if !name.is_empty() && !is_generic_name(&name) {
        return Err(Error::bad_request(
            "new key name outside of valid character limits",
        ));
    }
    if name != entry.name {
        if !name.is_empty() {
            check_key_name(req, &name).await?;
        }
        entry.name = name;
        store::put_key(&req.storage, &entry).await?;
    }
    Ok(Some(Response::data(key_data(&entry))))
}

/// Deletes a key no issuer uses; an unknown key is already gone.
async fn delete_key(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let _guard = backend.write_lock.lock().await;
    let Some(entry) = store::resolve_key(&req.storage, req.param("key_ref")?).await? else {
        return Ok(None);
    };
    let in_use = store::list_issuer_entries(&req.storage)
        .await?
        .iter()
        .any(|i| i.key_id == entry.id);
    if in_use {
        return Err(Error::bad_request(format!(
            "Failed to Delete Key.  This key is in use by an issuer: {}",
            entry.id
        )));
    }
    req.storage
        .delete(&format!("{}{}", store::KEY_PREFIX, entry.id))
        .await?;
    backend.invalidate();
    Ok(None)
}

/// The `key_name` a request gives a new key (`""` when absent): a valid
/// name not used by another key.
pub(super) async fn requested_key_name(req: &Request) -> Result<String> {
    let Some(name) = requested_name(&req.data, "key_name")? else {
        return Ok(String::new());
    };
    check_key_name(req, &name).await?;
    Ok(name)
}

/// Checks a key name a request sets: not `default`, valid, unused.
pub(super) async fn check_key_name(req: &Request, name: &str) -> Result<()> {
    if name == "default" {
        return Err(Error::bad_request(
            "reserved keyword 'default' can not be used as key name",
        ));
    }
    if !is_generic_name(name) {
        return Err(Error::bad_request("key name contained invalid characters"));
    }
    if store::list_keys(&req.storage)
        .await?
        .iter()
        .any(|k| k.name == name)
    {
        return Err(Error::bad_request("key name already in use"));
    }
    Ok(())
}

/// A new key of the request's `key_type` and `key_bits` (Vault's defaults
/// when absent), not stored yet.
pub(super) async fn generate(req: &Request, name: String) -> Result<(PrivateKey, KeyEntry)> {
    let (kt, bits) = private_key::generation_params(
        &req.data.str_or("key_type", "rsa")?,
        req.data.int_or("key_bits", 0)?,
    )
    .map_err(Error::bad_request)?;
    let key = tokio::task::spawn_blocking(move || PrivateKey::generate(kt, bits))
        .await
        .map_err(Error::internal)?
        .map_err(Error::internal)?;
    let entry = KeyEntry {
        id: store::new_id(),
        name,
        key_type: kt.as_str().into(),
        private_key: key.to_pem().map_err(Error::internal)?,
    };
    Ok((key, entry))
}

async fn generate_key(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let kind = req.param("exported")?.to_string();
    if kind != "internal" && kind != "exported" {
        return Err(Error::bad_request(format!(
            "the \"{kind}\" path parameter must be \"internal\", \"exported\" or \"kms\""
        )));
    }
    let _guard = backend.write_lock.lock().await;
    let name = requested_key_name(req).await?;
    let (_, entry) = generate(req, name).await?;
    store::put_key(&req.storage, &entry).await?;
    backend.invalidate();
    let mut d = Map::new();
    d.insert("key_id".into(), json!(entry.id));
    d.insert("key_name".into(), json!(entry.name));
    d.insert("key_type".into(), json!(entry.key_type));
    if kind == "exported" {
        d.insert("private_key".into(), json!(entry.private_key));
    }
    Ok(Some(Response::data(d)))
}

async fn import_key(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let _guard = backend.write_lock.lock().await;
    let name = requested_key_name(req).await?;
    let text = req.data.str_or("pem_bundle", "")?;
    if text.matches("-----BEGIN ").count() > 1 {
        return Err(Error::bad_request(
            "only a single key can be present within the pem_bundle for importing",
        ));
    }
    let key = PrivateKey::from_pem(&text)
        .map_err(|e| Error::bad_request(format!("error parsing key: {e}")))?;
    let spki = key.spki().map_err(Error::internal)?;
    let bytes = public_key::info(&spki).map(|i| i.key_bytes);
    for existing in store::list_keys(&req.storage).await? {
        let other = PrivateKey::from_pem(&existing.private_key)
            .ok()
            .and_then(|k| k.spki().ok())
            .and_then(|s| public_key::info(&s))
            .map(|i| i.key_bytes);
        if other.is_some() && other == bytes {
            return Ok(Some(Response::data(key_data(&existing))));
        }
    }
    let entry = KeyEntry {
        id: store::new_id(),
        name,
        key_type: key.key_type().as_str().into(),
        private_key: key.to_pem().map_err(Error::internal)?,
    };
    store::put_key(&req.storage, &entry).await?;
    backend.invalidate();
    Ok(Some(Response::data(key_data(&entry))))
}

async fn read_config(_: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    config_response(req).await
}

async fn write_config(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let _guard = backend.write_lock.lock().await;
    if let Some(r) = req.data.str("default")? {
        let key = store::resolve_key(&req.storage, &r).await?.ok_or_else(|| {
            Error::bad_request(format!("unable to find PKI key for reference: {r}"))
        })?;
        req.storage
            .put_json(store::CONFIG_KEYS, &store::KeysConfig { default: key.id })
            .await?;
    }
    config_response(req).await
}

async fn config_response(req: &Request) -> Result<Option<Response>> {
    let cfg = store::keys_config(&req.storage).await?;
    let mut d = Map::new();
    d.insert("default".into(), json!(cfg.default));
    Ok(Some(Response::data(d)))
}
