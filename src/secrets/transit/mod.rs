//! The transit secrets engine (Vault's `builtin/logical/transit`):
//! named keys that never leave the server unless made exportable, and
//! encryption, signing, HMAC, hashing and randomness as a service.
//!
//! Storage layout inside the mount's view: `policy/<name>` holds a key and
//! all of its versions ([`policy::Policy`]).

mod asymmetric;
mod backup;
mod batch;
mod cipher;
mod ciphertext;
mod export;
mod keys;
mod policy;
mod sign;
mod utility;

use tokio::sync::Mutex;

use crate::logical::framework::{Backend, Capture, Path};
use crate::logical::{Error, Request, Result};
use crate::storage::StorageView;
use policy::Policy;

/// Key names are Vault's generic names.
const NAME: &[(&str, Capture)] = &[("name", Capture::Name)];

#[derive(Default)]
pub struct TransitBackend {
    /// Serializes changes to keys (create, rotate, config, delete).
    write_lock: Mutex<()>,
}

impl TransitBackend {
    pub fn new() -> Self {
        TransitBackend::default()
    }
}

#[async_trait::async_trait]
impl Backend for TransitBackend {
    const PATHS: &'static [&'static [Path<Self>]] = &[
        keys::PATHS,
        cipher::PATHS,
        sign::PATHS,
        export::PATHS,
        utility::PATHS,
    ];

    /// Keys with an `auto_rotate_period` get a new version once the
    /// latest is that old (Vault's periodic function does the same).
    async fn periodic(&self, storage: &StorageView) -> Result<()> {
        let _guard = self.write_lock.lock().await;
        for name in storage.list_leaves("policy/").await? {
            let key = policy_key(&name);
            let Some(mut policy) = storage.get_json::<Policy>(&key).await? else {
                continue;
            };
            if policy.due_for_rotation() {
                policy.rotate()?;
                storage.put(&key, serde_json::to_vec(&policy)?).await?;
            }
        }
        Ok(())
    }
}

fn policy_key(name: &str) -> String {
    format!("policy/{name}")
}

/// The route's key name.
fn key_name(req: &Request) -> Result<String> {
    Ok(req.param("name")?.to_string())
}

async fn load(req: &Request, name: &str) -> Result<Option<Policy>> {
    Ok(req.storage.get_json::<Policy>(&policy_key(name)).await?)
}

async fn save(req: &Request, policy: &Policy) -> Result<()> {
    req.storage
        .put(&policy_key(&policy.name), serde_json::to_vec(policy)?)
        .await?;
    Ok(())
}

/// The route's key, or Vault's 400 `encryption key not found`.
async fn load_existing(req: &Request, missing: &str) -> Result<Policy> {
    let name = key_name(req)?;
    load(req, &name)
        .await?
        .ok_or_else(|| Error::bad_request(missing))
}
