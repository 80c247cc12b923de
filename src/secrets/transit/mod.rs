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
mod go_rsa;
mod keys;
mod policy;
mod rsa_pss;
mod sign;
mod utility;

use std::sync::Arc;

use tokio::sync::Mutex;

use crate::logical::framework::{Backend, Capture, Path};
use crate::logical::{Error, Request, Result};
use crate::storage::{ReadCache, StorageView};
use policy::Policy;

/// Key names are Vault's generic names.
const NAME: &[(&str, Capture)] = &[("name", Capture::Name)];

/// More cached keys than this and the cache starts over.
const MAX_CACHED_KEYS: usize = 1024;

pub struct TransitBackend {
    /// Serializes changes to keys (create, rotate, config, delete).
    write_lock: Mutex<()>,
    /// Keys as decoded from storage, with their parsed key pairs: every
    /// encrypt or sign reads its key, and decoding it (and, for ECDSA,
    /// validating the private key) costs as much as the operation itself.
    /// Every write of a key goes through [`TransitBackend::save`] or
    /// [`TransitBackend::remove`], which keep the cache in step.
    keys: ReadCache<String, Arc<Policy>>,
}

impl Default for TransitBackend {
    fn default() -> Self {
        TransitBackend {
            write_lock: Mutex::new(()),
            keys: ReadCache::new(MAX_CACHED_KEYS),
        }
    }
}

impl TransitBackend {
    pub fn new() -> Self {
        TransitBackend::default()
    }

    /// A key, from the cache or storage (unknown names are not cached).
    async fn load(&self, storage: &StorageView, name: &str) -> Result<Option<Arc<Policy>>> {
        let load = || async {
            Ok(storage
                .get_json::<Policy>(&policy_key(name))
                .await?
                .map(Arc::new))
        };
        self.keys.get_or_load_some(name, load).await
    }

    /// Writes a key and keeps it cached.
    async fn save(&self, storage: &StorageView, policy: Policy) -> Result<Arc<Policy>> {
        storage
            .put(&policy_key(&policy.name), serde_json::to_vec(&policy)?)
            .await?;
        let policy = Arc::new(policy);
        self.keys.store(policy.name.clone(), policy.clone());
        Ok(policy)
    }

    /// Deletes a key and drops it from the cache.
    async fn remove(&self, storage: &StorageView, name: &str) -> Result<()> {
        storage.delete(&policy_key(name)).await?;
        self.keys.forget(name);
        Ok(())
    }

    /// The route's key, or Vault's 400 with `missing` as its text.
    async fn load_existing(&self, req: &Request, missing: &str) -> Result<Arc<Policy>> {
        let name = key_name(req)?;
        self.load(&req.storage, &name)
            .await?
            .ok_or_else(|| Error::bad_request(missing))
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

    /// Keys are cached by name; a write elsewhere caches nothing.
    fn invalidate(&self, key: &str) {
        if let Some(name) = key.strip_prefix("policy/") {
            self.keys.forget(name);
        }
    }

    /// Keys with an `auto_rotate_period` get a new version once the
    /// latest is that old (Vault's periodic function does the same).
    async fn periodic(&self, storage: &StorageView) -> Result<()> {
        let _guard = self.write_lock.lock().await;
        for name in storage.list_leaves("policy/").await? {
            let Some(policy) = self.load(storage, &name).await? else {
                continue;
            };
            if policy.due_for_rotation() {
                let mut policy = Arc::unwrap_or_clone(policy);
                policy.rotate()?;
                self.save(storage, policy).await?;
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
