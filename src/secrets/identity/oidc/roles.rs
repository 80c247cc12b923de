//! Roles (`oidc/role/:name`): which key signs a role's tokens, for which
//! client ID (the `aud` claim), for how long, with which extra claims.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::keys;
use super::template;
use crate::handler;
use crate::logical::framework::{Capture, Field, Path};
use crate::logical::{Error, Request, Response, Result};
use crate::secrets::identity::IdentityBackend;
use crate::storage::StorageView;
use crate::util::ids;

const FOLDER: &str = "oidc/role/";
const DEFAULT_TTL: i64 = 24 * 3600;

const ROLE_FIELDS: &[Field] = &[
    Field::string("name"),
    Field::string("key"),
    Field::string("template"),
    Field::string("client_id"),
    Field::duration("ttl"),
];

pub(super) const PATHS: &[Path<IdentityBackend>] = &[
    Path::new("oidc/role").list(handler!(list)),
    Path::new("oidc/role/:name")
        .captures(&[("name", Capture::Name)])
        .fields(&[ROLE_FIELDS])
        .read(handler!(read))
        .update(handler!(write))
        .delete(handler!(delete)),
];

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Role {
    pub key: String,
    /// The claim template, decoded (it may be sent base64-encoded).
    pub template: String,
    pub client_id: String,
    /// Seconds a token lives.
    pub ttl: i64,
}

fn storage_key(name: &str) -> String {
    format!("{FOLDER}{name}")
}

pub async fn load(storage: &StorageView, name: &str) -> Result<Option<Role>> {
    Ok(storage.get_json(&storage_key(name)).await?)
}

/// Every role with its name.
pub async fn all(storage: &StorageView) -> Result<Vec<(String, Role)>> {
    let mut out = Vec::new();
    for name in storage.list_leaves(FOLDER).await? {
        if let Some(role) = load(storage, &name).await? {
            out.push((name, role));
        }
    }
    Ok(out)
}

/// The roles that sign with the key `key`.
pub async fn referencing(storage: &StorageView, key: &str) -> Result<Vec<(String, Role)>> {
    let mut roles = all(storage).await?;
    roles.retain(|(_, role)| role.key == key);
    Ok(roles)
}

async fn list(b: &IdentityBackend, req: &mut Request) -> Result<Option<Response>> {
    let _guard = b.oidc_lock.lock().await;
    Ok(Some(Response::list(req.storage.list_leaves(FOLDER).await?)))
}

async fn read(b: &IdentityBackend, req: &mut Request) -> Result<Option<Response>> {
    let _guard = b.oidc_lock.lock().await;
    let Some(role) = load(&req.storage, req.param("name")?).await? else {
        return Ok(None);
    };
    let data = json!({
        "client_id": role.client_id,
        "key": role.key,
        "template": role.template,
        "ttl": role.ttl,
    });
    Ok(Some(Response::data(
        data.as_object().cloned().unwrap_or_default(),
    )))
}

/// A template sent base64-encoded is kept decoded, as Vault keeps it.
fn decoded_template(text: String) -> String {
    STANDARD
        .decode(text.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or(text)
}

async fn write(b: &IdentityBackend, req: &mut Request) -> Result<Option<Response>> {
    let _guard = b.oidc_lock.lock().await;
    let name = req.param("name")?.to_string();
    let existing = load(&req.storage, &name).await?;
    let mut role = existing.clone().unwrap_or_else(|| Role {
        client_id: ids::random_base62(26),
        ttl: DEFAULT_TTL,
        ..Default::default()
    });
    if let Some(key) = req.data.str("key")? {
        role.key = key;
    }
    if role.key.is_empty() {
        return Err(Error::bad_request("the key parameter is required"));
    }
    if let Some(text) = req.data.str("template")? {
        role.template = decoded_template(text);
    }
    template::validate(&role.template)?;
    if let Some(ttl) = req.data.duration("ttl")? {
        role.ttl = ttl;
    }
    if let Some(client_id) = req.data.str("client_id")?.filter(|c| !c.is_empty()) {
        role.client_id = client_id;
    }
    let Some(key) = keys::load(&req.storage, &role.key).await? else {
        return Err(Error::BadRequest(format!("cannot find key {:?}", role.key)));
    };
    if role.ttl > key.verification_ttl {
        return Err(Error::bad_request(
            "a role's token ttl cannot be longer than the verification_ttl of the key it references",
        ));
    }
    req.storage.put_json(&storage_key(&name), &role).await?;
    Ok(None)
}

async fn delete(b: &IdentityBackend, req: &mut Request) -> Result<Option<Response>> {
    let _guard = b.oidc_lock.lock().await;
    req.storage.delete(&storage_key(req.param("name")?)).await?;
    Ok(None)
}
