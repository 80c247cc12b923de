//! Keys: create, read, list, delete, `config`, `rotate` and `trim`.

use std::sync::Arc;

use super::ciphertext::b64decode;
use super::policy::{KeyType, NewKey, Policy};
use super::{key_name, TransitBackend, NAME};
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, Request, Response, Result};

const CREATE_FIELDS: &[Field] = &[
    Field::string("type"),
    Field::bool("derived"),
    Field::bool("convergent_encryption"),
    Field::bool("exportable"),
    Field::bool("allow_plaintext_backup"),
    Field::duration("auto_rotate_period"),
    Field::int("key_size"),
    Field::string("context"),
    Field::string("managed_key_name"),
    Field::string("managed_key_id"),
];
const CONFIG_FIELDS: &[Field] = &[
    Field::int("min_decryption_version"),
    Field::int("min_encryption_version"),
    Field::bool("deletion_allowed"),
    Field::bool("exportable"),
    Field::bool("allow_plaintext_backup"),
    Field::duration("auto_rotate_period"),
];

pub(super) const PATHS: &[Path<TransitBackend>] = &[
    Path::new("keys").list(handler!(list)),
    Path::new("keys/:name")
        .captures(NAME)
        .fields(&[CREATE_FIELDS])
        .read(handler!(read))
        .update(handler!(create))
        .delete(handler!(delete)),
    Path::new("keys/:name/config")
        .captures(NAME)
        .fields(&[CONFIG_FIELDS])
        .update(handler!(config)),
    Path::new("keys/:name/rotate")
        .captures(NAME)
        .fields(&[&[
            Field::string("managed_key_name"),
            Field::string("managed_key_id"),
        ]])
        .update(handler!(rotate)),
    Path::new("keys/:name/trim")
        .captures(NAME)
        .fields(&[&[Field::int("min_available_version")]])
        .update(handler!(trim)),
];

/// A key as a read shows it; `context` picks the public key of a derived
/// signing key (reads only).
fn read_response(policy: &Policy, context: &[u8]) -> Result<Option<Response>> {
    Ok(Some(Response::data(policy.to_data(context)?)))
}

async fn list(_: &TransitBackend, req: &mut Request) -> Result<Option<Response>> {
    Ok(Some(Response::list(
        req.storage.list_leaves("policy/").await?,
    )))
}

async fn read(b: &TransitBackend, req: &mut Request) -> Result<Option<Response>> {
    match b.load(&req.storage, &key_name(req)?).await? {
        Some(policy) => {
            let context = b64decode(&req.data.str("context")?.unwrap_or_default())?;
            read_response(&policy, &context)
        }
        None => Ok(None),
    }
}

/// Vault's auto-rotate bounds: 0 (off), or at least an hour.
fn check_rotate_period(period: i64) -> Result<()> {
    if period != 0 && period < 3600 {
        return Err(Error::bad_request(
            "auto rotate period must be 0 to disable or at least an hour",
        ));
    }
    Ok(())
}

/// `POST keys/:name`: creates the key; an existing key is left as it is.
async fn create(b: &TransitBackend, req: &mut Request) -> Result<Option<Response>> {
    let name = key_name(req)?;
    let data = &req.data;
    let key_type = KeyType::parse(&data.str("type")?.unwrap_or_else(|| "aes256-gcm96".into()))?;
    let auto_rotate_period = data.duration("auto_rotate_period")?.unwrap_or(0);
    check_rotate_period(auto_rotate_period)?;
    let new = NewKey {
        key_type,
        derived: data.bool("derived")?.unwrap_or(false),
        convergent_encryption: data.bool("convergent_encryption")?.unwrap_or(false),
        exportable: data.bool("exportable")?.unwrap_or(false),
        allow_plaintext_backup: data.bool("allow_plaintext_backup")?.unwrap_or(false),
        auto_rotate_period,
        key_size: data.int("key_size")?.unwrap_or(0).max(0) as usize,
    };
    let _guard = b.write_lock.lock().await;
    if let Some(existing) = b.load(&req.storage, &name).await? {
        return read_response(&existing, &[]);
    }
    let policy = b.save(&req.storage, Policy::create(&name, new)?).await?;
    read_response(&policy, &[])
}

async fn delete(b: &TransitBackend, req: &mut Request) -> Result<Option<Response>> {
    let name = key_name(req)?;
    let _guard = b.write_lock.lock().await;
    let Some(policy) = b.load(&req.storage, &name).await? else {
        return Ok(None);
    };
    if !policy.deletion_allowed {
        return Err(Error::BadRequest(format!(
            "error deleting policy {name}: deletion is not allowed for this key"
        )));
    }
    b.remove(&req.storage, &name).await?;
    Ok(None)
}

/// `POST keys/:name/config`: the version window and the key's flags.
async fn config(b: &TransitBackend, req: &mut Request) -> Result<Option<Response>> {
    let _guard = b.write_lock.lock().await;
    let name = key_name(req)?;
    let Some(policy) = b.load(&req.storage, &name).await? else {
        return Err(Error::BadRequest(format!(
            "no existing key named {name} could be found"
        )));
    };
    let mut policy = Arc::unwrap_or_clone(policy);
    let data = &req.data;
    if let Some(min) = data.int("min_decryption_version")? {
        if min > 0 && min > policy.latest_version {
            return Err(Error::BadRequest(format!(
                "cannot set min decryption version of {min}, latest key version is {}",
                policy.latest_version
            )));
        }
        if min > 0 && min < policy.min_available_version {
            return Err(Error::BadRequest(format!(
                "cannot set min decryption version of {min}, it is less than the min available version {}",
                policy.min_available_version
            )));
        }
        policy.min_decryption_version = min.max(1);
    }
    if let Some(min) = data.int("min_encryption_version")? {
        if min < 0 {
            return Err(Error::bad_request(
                "min encryption version cannot be negative",
            ));
        }
        if min > policy.latest_version {
            return Err(Error::BadRequest(format!(
                "cannot set min encryption version of {min}, latest key version is {}",
                policy.latest_version
            )));
        }
        policy.min_encryption_version = min;
    }
    if policy.min_encryption_version > 0
        && policy.min_encryption_version < policy.min_decryption_version
    {
        return Err(Error::BadRequest(format!(
            "cannot set min encryption/decryption values; min encryption version of {} must be greater than or equal to min decryption version of {}",
            policy.min_encryption_version, policy.min_decryption_version
        )));
    }
    if let Some(allowed) = data.bool("deletion_allowed")? {
        policy.deletion_allowed = allowed;
    }
    if let Some(exportable) = data.bool("exportable")? {
        if policy.exportable && !exportable {
            return Err(Error::bad_request(
                "cannot disable exportability on a key that is already exportable",
            ));
        }
        policy.exportable = exportable;
    }
    if let Some(allow) = data.bool("allow_plaintext_backup")? {
        if policy.allow_plaintext_backup && !allow {
            return Err(Error::bad_request(
                "cannot disable plaintext backup on a key that already allows it",
            ));
        }
        policy.allow_plaintext_backup = allow;
    }
    if let Some(period) = data.duration("auto_rotate_period")? {
        check_rotate_period(period)?;
        policy.auto_rotate_period = period;
    }
    let policy = b.save(&req.storage, policy).await?;
    read_response(&policy, &[])
}

async fn rotate(b: &TransitBackend, req: &mut Request) -> Result<Option<Response>> {
    let _guard = b.write_lock.lock().await;
    let mut policy = Arc::unwrap_or_clone(b.load_existing(req, "key not found").await?);
    policy.rotate()?;
    let policy = b.save(&req.storage, policy).await?;
    read_response(&policy, &[])
}

/// `POST keys/:name/trim`: drops the versions below `min_available_version`
/// for good; none may still be allowed to decrypt or encrypt.
async fn trim(b: &TransitBackend, req: &mut Request) -> Result<Option<Response>> {
    let _guard = b.write_lock.lock().await;
    let mut policy = Arc::unwrap_or_clone(b.load_existing(req, "invalid key name").await?);
    let min = req
        .data
        .int("min_available_version")?
        .ok_or_else(|| Error::bad_request("missing min_available_version"))?;
    if min <= 0 {
        return Err(Error::bad_request(
            "minimum available version should be positive",
        ));
    }
    if policy.min_encryption_version == 0 {
        return Err(Error::bad_request(
            "minimum available version cannot be set when minimum encryption version is not set",
        ));
    }
    if min < policy.min_available_version {
        return Err(Error::bad_request(
            "minimum available version cannot be decremented",
        ));
    }
    if min > policy.min_decryption_version {
        return Err(Error::bad_request(
            "minimum available version should not be greater than minimum decryption version",
        ));
    }
    if policy.min_encryption_version > 0 && min > policy.min_encryption_version {
        return Err(Error::bad_request(
            "minimum available version should not be greater than minimum encryption version",
        ));
    }
    policy.keys.retain(|version, _| *version >= min);
    policy.min_available_version = min;
    let policy = b.save(&req.storage, policy).await?;
    read_response(&policy, &[])
}
