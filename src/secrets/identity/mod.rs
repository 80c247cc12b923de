//! The identity store (`identity/`, on every server): entities and their
//! aliases on auth mounts, internal groups, external groups with their
//! aliases, and lookups. Logins attach to
//! entities through [`IdentityStore::login`]; the policies of an entity
//! and of its groups join its tokens' own; identity tokens (`oidc/`) are
//! signed for entities. See
//! <https://developer.hashicorp.com/vault/api-docs/secret/identity>.

mod aliases;
mod entities;
mod group_aliases;
mod groups;
mod lookup;
mod merge;
pub mod model;
mod oidc;
pub mod store;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{Map, Value};

pub use self::store::{AuthMounts, IdentityStore};
use crate::logical::framework::{Backend, Path};
use crate::logical::Result;
use crate::storage::StorageView;

pub struct IdentityBackend {
    store: Arc<IdentityStore>,
    /// Held while reading and then changing identity token keys and roles.
    oidc_lock: tokio::sync::Mutex<()>,
}

impl IdentityBackend {
    pub fn new(store: Arc<IdentityStore>) -> Self {
        IdentityBackend {
            store,
            oidc_lock: tokio::sync::Mutex::new(()),
        }
    }
}

#[async_trait::async_trait]
impl Backend for IdentityBackend {
    const PATHS: &'static [&'static [Path<Self>]] = &[
        entities::PATHS,
        aliases::PATHS,
        groups::PATHS,
        group_aliases::PATHS,
        lookup::PATHS,
        oidc::KEY_PATHS,
        oidc::ROLE_PATHS,
        oidc::TOKEN_PATHS,
    ];

    async fn periodic(&self, storage: &StorageView) -> Result<()> {
        oidc::periodic(self, storage).await
    }
}

/// Which entity or group a path names: through its body (`id`, else
/// `name`), its `:id` or its `:name`.
#[derive(Clone, Copy)]
enum Target {
    Body,
    Id,
    Name,
}

/// Policy names as Vault keeps an entity's or a group's: trimmed, empty
/// ones dropped, each once, sorted.
fn policy_list(items: &[String]) -> Vec<String> {
    let set: BTreeSet<String> = items
        .iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    set.into_iter().collect()
}

/// A `TypeKVPairs` value as strings (numbers and booleans as their text).
fn string_pairs(map: &Map<String, Value>) -> BTreeMap<String, String> {
    map.iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), v)
        })
        .collect()
}
