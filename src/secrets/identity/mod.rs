//! The identity store (`identity/`, on every server): entities and their
//! aliases on auth mounts, internal groups, and lookups. Logins attach to
//! entities through [`IdentityStore::login`]; the policies of an entity
//! and of its groups join its tokens' own. Identity tokens (`oidc/`) are
//! not available. See
//! <https://developer.hashicorp.com/vault/api-docs/secret/identity>.

mod aliases;
mod entities;
mod groups;
mod lookup;
mod merge;
pub mod model;
pub mod store;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{Map, Value};

pub use self::store::{AuthMounts, IdentityStore};
use crate::handler;
use crate::logical::framework::{Backend, Path};
use crate::logical::{Error, Request, Response, Result};

const NOT_AVAILABLE: &str = "identity tokens are not available in vaultlet";

pub struct IdentityBackend {
    store: Arc<IdentityStore>,
}

impl IdentityBackend {
    pub fn new(store: Arc<IdentityStore>) -> Self {
        IdentityBackend { store }
    }
}

/// Whatever the request, the same refusal; its parameters are not looked at.
const fn refused(pattern: &'static str) -> Path<IdentityBackend> {
    Path::new(pattern)
        .arbitrary_fields()
        .read(handler!(not_available))
        .list(handler!(not_available))
        .update(handler!(not_available))
        .delete(handler!(not_available))
}

const OIDC: &[Path<IdentityBackend>] = &[refused("oidc"), refused("oidc/*path")];

impl Backend for IdentityBackend {
    const PATHS: &'static [&'static [Path<Self>]] = &[
        entities::PATHS,
        aliases::PATHS,
        groups::PATHS,
        lookup::PATHS,
        OIDC,
    ];
}

async fn not_available(_b: &IdentityBackend, _req: &mut Request) -> Result<Option<Response>> {
    Err(Error::bad_request(NOT_AVAILABLE))
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
