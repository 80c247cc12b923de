//! The AppRole auth method (Vault's `builtin/credential/approle`): roles
//! with a `role_id`, secret IDs issued against them, and a login that trades
//! the pair for a token.
//!
//! Storage layout inside the mount's view (no secret is stored in clear):
//! * `role/<name>` — the role ([`role::RoleEntry`]), names lower-cased;
//! * `role_id/<hash(role_id)>` — index from a role ID to its role name;
//! * `secret_id/<bucket>/<hash(secret_id)>` — a secret ID's properties, where
//!   `bucket` is a keyed hash of the role's name and its per-role salt, so a
//!   deleted and re-created role never sees an old role's secret IDs;
//! * `accessor/<hash(accessor)>` — index from a secret ID accessor to its
//!   secret ID entry.
//!
//! Every hash is the core's keyed HMAC ([`Hasher`]) in its own domain.

mod login;
mod role;
mod role_fields;
mod secret_id;
mod tidy;

use std::str::FromStr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use ipnet::IpNet;
use tokio::sync::Mutex;

use crate::logical::framework::{Backend, Capture, Path};
use crate::logical::{Error, Request, Result};
use crate::storage::StorageView;
use crate::util::keyed_hash::Hasher;

/// Role names are Vault's generic names (`\w(([\w-.]+)?\w)?`); a path
/// with another name is one Vault does not serve.
const ROLE_NAME: &[(&str, Capture)] = &[("role_name", Capture::Name)];

/// A path of this backend, named so that handlers written as closures know
/// the backend's type (`b.inner`).
type AppRolePath = Path<AppRoleBackend>;

/// Vault's `maxHmacInputLength`: names and secrets longer than this are refused.
const MAX_HMAC_INPUT: usize = 4096;
const SECRET_LOCK_STRIPES: usize = 64;

/// The AppRole backend. Cheap to share: the state lives behind an `Arc` so
/// that a tidy started by `tidy/secret-id` can outlive its request.
pub struct AppRoleBackend {
    inner: Arc<Inner>,
}

struct Inner {
    hasher: Hasher,
    /// Serializes role writes (role_id uniqueness, secret ID flush on delete)
    /// and secret ID issuance against them.
    role_lock: Mutex<()>,
    /// Striped by secret ID hash: a use count is read, checked and written
    /// back under its stripe, so N logins consume exactly N uses.
    secret_locks: Vec<Mutex<()>>,
    /// Set while a tidy runs (see [`tidy::TidyRun`]).
    tidy_running: AtomicBool,
}

impl AppRoleBackend {
    pub fn new(hasher: Hasher) -> Self {
        AppRoleBackend {
            inner: Arc::new(Inner {
                hasher,
                role_lock: Mutex::new(()),
                secret_locks: (0..SECRET_LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
                tidy_running: AtomicBool::new(false),
            }),
        }
    }
}

impl Inner {
    fn secret_lock(&self, secret_hmac: &str) -> &Mutex<()> {
        let index =
            u8::from_str_radix(secret_hmac.get(..2).unwrap_or("0"), 16).unwrap_or(0) as usize;
        &self.secret_locks[index % SECRET_LOCK_STRIPES]
    }
}

#[async_trait::async_trait]
impl Backend for AppRoleBackend {
    const PATHS: &'static [&'static [AppRolePath]] = &[
        login::PATHS,
        role::PATHS,
        role_fields::PATHS,
        secret_id::PATHS,
        tidy::PATHS,
    ];

    /// Failed logins count against the role ID (Vault's lockout alias; the
    /// core asks only on unauthenticated paths, here `login`).
    fn lockout_alias(&self, req: &Request) -> Option<String> {
        req.data
            .str("role_id")
            .ok()
            .flatten()
            .filter(|id| !id.is_empty())
    }

    /// Vault's periodic function: expired secret IDs are swept on every
    /// tick of the core's timer, unless a tidy is already running.
    async fn periodic(&self, storage: &StorageView) -> Result<()> {
        tidy::periodic(&self.inner, storage).await
    }
}

/// The request's role name, lower-cased (the route has checked that it is
/// a generic name).
fn role_name(req: &Request) -> Result<String> {
    let name = req.param("role_name")?;
    if name.len() > MAX_HMAC_INPUT {
        return Err(Error::BadRequest(format!(
            "role_name is longer than maximum of {MAX_HMAC_INPUT} bytes"
        )));
    }
    Ok(name.to_lowercase())
}

/// Parses CIDR blocks as Go's `net.ParseCIDR` does (a prefix is required;
/// host bits may be set). Errors name the first bad block.
fn parse_cidr_blocks(blocks: &[String]) -> std::result::Result<Vec<IpNet>, String> {
    blocks
        .iter()
        .map(|b| IpNet::from_str(b.trim()).map_err(|_| format!("invalid CIDR address: {b}")))
        .collect()
}

/// Vault's `verifyCIDRRoleSecretIDSubset`: every block of the secret ID must
/// lie within some block of the role (no role blocks = no restriction).
fn verify_cidr_subset(secret_blocks: &[String], role_blocks: &[String]) -> Result<()> {
    if secret_blocks.is_empty() || role_blocks.is_empty() {
        return Ok(());
    }
    let role_nets: Vec<IpNet> = role_blocks
        .iter()
        .filter_map(|b| crate::auth::token_fields::addr_to_net(b.trim()))
        .collect();
    let subset = secret_blocks.iter().all(|b| {
        crate::auth::token_fields::addr_to_net(b.trim())
            .is_some_and(|net| role_nets.iter().any(|role| role.contains(&net)))
    });
    if subset {
        return Ok(());
    }
    Err(Error::BadRequest(format!(
        "failed to verify subset relationship between CIDR blocks on the role {} and CIDR blocks on the secret ID {}",
        go_quoted_list(role_blocks),
        go_quoted_list(secret_blocks)
    )))
}

/// A string slice as Go's `%q` prints it: `["a" "b"]`.
fn go_quoted_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    format!("[{}]", quoted.join(" "))
}

#[cfg(test)]
mod tests;
