//! Named signing keys (`oidc/key/:name`, `oidc/key/:name/rotate`): each
//! holds a current and a next key pair; rotation retires the current one,
//! whose public half stays in the JWKS until its verification TTL passes.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::roles::{self, Role};
use super::signing::{self, SigningKey};
use crate::handler;
use crate::logical::framework::{Capture, Field, Path};
use crate::logical::{Error, Request, Response, Result};
use crate::secrets::identity::IdentityBackend;
use crate::storage::StorageView;
use crate::util::gotime::now_unix;

const FOLDER: &str = "oidc/key/";
pub const DEFAULT_KEY: &str = "default";
const DAY: i64 = 24 * 3600;

const KEY_FIELDS: &[Field] = &[
    Field::string("name"),
    Field::duration("rotation_period"),
    Field::duration("verification_ttl"),
    Field::string("algorithm"),
    Field::list("allowed_client_ids"),
];

pub(super) const PATHS: &[Path<IdentityBackend>] = &[
    Path::new("oidc/key").list(handler!(list)),
    Path::new("oidc/key/:name/rotate")
        .captures(&[("name", Capture::Name)])
        .fields(&[&[Field::string("name"), Field::duration("verification_ttl")]])
        .update(handler!(rotate)),
    Path::new("oidc/key/:name")
        .captures(&[("name", Capture::Name)])
        .fields(&[KEY_FIELDS])
        .read(handler!(read))
        .update(handler!(write))
        .delete(handler!(delete)),
];

/// A public key that no longer signs, kept for verification until `expires`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RetiredKey {
    pub jwk: Value,
    /// Unix seconds.
    pub expires: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NamedKey {
    pub algorithm: String,
    pub rotation_period: i64,
    pub verification_ttl: i64,
    pub allowed_client_ids: Vec<String>,
    /// Unix seconds of the next scheduled rotation.
    pub next_rotation: i64,
    pub signing: SigningKey,
    pub next: SigningKey,
    pub retired: Vec<RetiredKey>,
}

impl NamedKey {
    fn new(algorithm: &str, now: i64) -> Result<NamedKey> {
        Ok(NamedKey {
            algorithm: algorithm.to_string(),
            rotation_period: DAY,
            verification_ttl: DAY,
            allowed_client_ids: Vec::new(),
            next_rotation: now + DAY,
            signing: SigningKey::generate(algorithm)?,
            next: SigningKey::generate(algorithm)?,
            retired: Vec::new(),
        })
    }

    /// Retires the signing key for `verification_ttl` seconds; the next
    /// key signs from now on and a new next key is made.
    fn rotate(&mut self, verification_ttl: i64, now: i64) -> Result<()> {
        let mut retire = vec![self.signing.public_jwk()?];
        if self.next.algorithm != self.algorithm {
            // The algorithm changed: the pending key no longer fits either.
            retire.push(self.next.public_jwk()?);
            self.next = SigningKey::generate(&self.algorithm)?;
        }
        self.retired
            .extend(retire.into_iter().map(|jwk| RetiredKey {
                jwk,
                expires: now + verification_ttl,
            }));
        let fresh = SigningKey::generate(&self.algorithm)?;
        self.signing = std::mem::replace(&mut self.next, fresh);
        self.next_rotation = now + self.rotation_period;
        Ok(())
    }

    /// The public keys that verify this key's tokens now.
    pub fn jwks(&self, now: i64) -> Result<Vec<Value>> {
        let mut keys = vec![self.signing.public_jwk()?, self.next.public_jwk()?];
        keys.extend(
            self.retired
                .iter()
                .filter(|r| r.expires > now)
                .map(|r| r.jwk.clone()),
        );
        Ok(keys)
    }

    /// Does this key sign tokens for `client_id`?
    pub fn allows_client(&self, client_id: &str) -> bool {
        self.allowed_client_ids
            .iter()
            .any(|id| id == "*" || id == client_id)
    }
}

fn storage_key(name: &str) -> String {
    format!("{FOLDER}{name}")
}

/// A stored key; Vault's `default` key comes into being on first use.
pub async fn load(storage: &StorageView, name: &str) -> Result<Option<NamedKey>> {
    if let Some(key) = storage.get_json(&storage_key(name)).await? {
        return Ok(Some(key));
    }
    if name != DEFAULT_KEY {
        return Ok(None);
    }
    let mut key = NamedKey::new("RS256", now_unix())?;
    key.allowed_client_ids = vec!["*".to_string()];
    save(storage, DEFAULT_KEY, &key).await?;
    Ok(Some(key))
}

async fn save(storage: &StorageView, name: &str, key: &NamedKey) -> Result<()> {
    storage.put_json(&storage_key(name), key).await?;
    Ok(())
}

pub async fn names(storage: &StorageView) -> Result<Vec<String>> {
    load(storage, DEFAULT_KEY).await?;
    Ok(storage.list_leaves(FOLDER).await?)
}

async fn list(b: &IdentityBackend, req: &mut Request) -> Result<Option<Response>> {
    let _guard = b.oidc_lock.lock().await;
    Ok(Some(Response::list(names(&req.storage).await?)))
}

async fn read(b: &IdentityBackend, req: &mut Request) -> Result<Option<Response>> {
    let _guard = b.oidc_lock.lock().await;
    let Some(key) = load(&req.storage, req.param("name")?).await? else {
        return Ok(None);
    };
    let data = json!({
        "algorithm": key.algorithm,
        "allowed_client_ids": key.allowed_client_ids,
        "rotation_period": key.rotation_period,
        "verification_ttl": key.verification_ttl,
    });
    Ok(Some(Response::data(
        data.as_object().cloned().unwrap_or_default(),
    )))
}

async fn write(b: &IdentityBackend, req: &mut Request) -> Result<Option<Response>> {
    let _guard = b.oidc_lock.lock().await;
    let name = req.param("name")?.to_string();
    let now = now_unix();
    let algorithm = req.data.str("algorithm")?;
    if let Some(alg) = algorithm.as_deref() {
        if !signing::is_supported(alg) {
            return Err(Error::BadRequest(format!(
                "unknown signing algorithm {alg:?}"
            )));
        }
    }
    let existing = load(&req.storage, &name).await?;
    let mut key = match existing.clone() {
        Some(key) => key,
        None => NamedKey::new(algorithm.as_deref().unwrap_or("RS256"), now)?,
    };
    if let Some(period) = req.data.duration("rotation_period")? {
        if period < 60 {
            return Err(Error::bad_request(
                "rotation_period must be at least one minute",
            ));
        }
        if period != key.rotation_period {
            key.rotation_period = period;
            key.next_rotation = now + period;
        }
    }
    if let Some(ttl) = req.data.duration("verification_ttl")? {
        key.verification_ttl = ttl;
    }
    if key.verification_ttl > 10 * key.rotation_period {
        return Err(Error::bad_request(
            "verification_ttl cannot be longer than 10x rotation_period",
        ));
    }
    if let Some(ids) = req.data.comma_list("allowed_client_ids")? {
        key.allowed_client_ids = ids;
    }
    if existing.is_some() {
        let longest = roles::referencing(&req.storage, &name)
            .await?
            .into_iter()
            .any(|(_, role)| role.ttl > key.verification_ttl);
        if longest {
            return Err(Error::BadRequest(format!(
                "unable to update key {name:?} because it is currently referenced by one or \
                 more roles with a token ttl greater than {} seconds",
                key.verification_ttl
            )));
        }
        if let Some(alg) = algorithm.filter(|a| *a != key.algorithm) {
            key.algorithm = alg;
            key.rotate(key.verification_ttl, now)?;
        }
    }
    save(&req.storage, &name, &key).await?;
    Ok(None)
}

async fn delete(b: &IdentityBackend, req: &mut Request) -> Result<Option<Response>> {
    let _guard = b.oidc_lock.lock().await;
    let name = req.param("name")?.to_string();
    if name == DEFAULT_KEY {
        return Err(Error::BadRequest(format!(
            "deletion of key {name:?} not allowed"
        )));
    }
    let users: Vec<String> = roles::referencing(&req.storage, &name)
        .await?
        .into_iter()
        .map(|(role, _)| role)
        .collect();
    if !users.is_empty() {
        return Err(Error::BadRequest(format!(
            "unable to delete key {name:?} because it is currently referenced by these roles: {}",
            users.join(", ")
        )));
    }
    req.storage.delete(&storage_key(&name)).await?;
    Ok(None)
}

async fn rotate(b: &IdentityBackend, req: &mut Request) -> Result<Option<Response>> {
    let _guard = b.oidc_lock.lock().await;
    let name = req.param("name")?.to_string();
    let Some(mut key) = load(&req.storage, &name).await? else {
        return Err(Error::BadRequest(format!("no named key found at {name:?}")));
    };
    let ttl = req
        .data
        .duration("verification_ttl")?
        .unwrap_or(key.verification_ttl);
    key.rotate(ttl, now_unix())?;
    save(&req.storage, &name, &key).await?;
    Ok(None)
}

/// The periodic tick: rotates every key whose time has come and drops
/// retired keys past their verification TTL.
pub async fn rotate_due(b: &IdentityBackend, storage: &StorageView) -> Result<()> {
    let _guard = b.oidc_lock.lock().await;
    let now = now_unix();
    for name in storage.list_leaves(FOLDER).await? {
        let Some(mut key) = load(storage, &name).await? else {
            continue;
        };
        let before = key.retired.len();
        key.retired.retain(|r| r.expires > now);
        let due = now >= key.next_rotation;
        if due {
            key.rotate(key.verification_ttl, now)?;
        }
        if due || key.retired.len() != before {
            save(storage, &name, &key).await?;
        }
    }
    Ok(())
}

/// The JWKS of `.well-known/keys`: the keys of every named key a role
/// uses, as Vault publishes them.
pub async fn published(storage: &StorageView) -> Result<Vec<Value>> {
    let now = now_unix();
    let mut used: Vec<String> = roles::all(storage)
        .await?
        .into_iter()
        .map(|(_, role): (String, Role)| role.key)
        .collect();
    used.sort();
    used.dedup();
    let mut keys = Vec::new();
    for name in used {
        if let Some(key) = storage.get_json::<NamedKey>(&storage_key(&name)).await? {
            keys.extend(key.jwks(now)?);
        }
    }
    Ok(keys)
}

/// Seconds until the soonest rotation of any named key (`None` without
/// keys): how long a relying party may cache the JWKS, as Vault tells it.
pub async fn seconds_to_next_rotation(storage: &StorageView) -> Result<Option<i64>> {
    let now = now_unix();
    let mut soonest: Option<i64> = None;
    for name in storage.list_leaves(FOLDER).await? {
        if let Some(key) = storage.get_json::<NamedKey>(&storage_key(&name)).await? {
            soonest = Some(soonest.map_or(key.next_rotation, |s| s.min(key.next_rotation)));
        }
    }
    Ok(soonest.map(|at| at - now).filter(|left| *left > 0))
}

/// Every public key of every named key (what `introspect` checks against).
pub async fn all_public(storage: &StorageView) -> Result<Vec<Value>> {
    let now = now_unix();
    let mut keys = Vec::new();
    for name in storage.list_leaves(FOLDER).await? {
        if let Some(key) = storage.get_json::<NamedKey>(&storage_key(&name)).await? {
            keys.extend(key.jwks(now)?);
        }
    }
    Ok(keys)
}

/// `{"keys": [...]}`.
pub fn jwks_document(keys: Vec<Value>) -> Map<String, Value> {
    let mut doc = Map::new();
    doc.insert("keys".into(), Value::Array(keys));
    doc
}
