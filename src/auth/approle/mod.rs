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
mod secret_id;

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use tokio::sync::Mutex;

use crate::core::keys::Hasher;
use crate::logical::{Backend, Error, Operation, PathSpec, Request, Response, Result};
use crate::storage::StorageView;

use Operation::{Delete, List, Read, Update};

/// The fields of `role/:role_name`.
const ROLE_FIELDS: &[&str] = &[
    "bind_secret_id",
    "bound_cidr_list",
    "secret_id_bound_cidrs",
    "policies",
    "secret_id_num_uses",
    "secret_id_ttl",
    "period",
    "role_id",
    "local_secret_ids",
    "token_bound_cidrs",
    "token_explicit_max_ttl",
    "token_max_ttl",
    "token_no_default_policy",
    "token_num_uses",
    "token_period",
    "token_policies",
    "token_type",
    "token_ttl",
];

const SECRET_ID_FIELDS: &[&str] = &[
    "metadata",
    "cidr_list",
    "token_bound_cidrs",
    "num_uses",
    "ttl",
];
const CUSTOM_SECRET_ID_FIELDS: &[&str] = &[
    "secret_id",
    "metadata",
    "cidr_list",
    "token_bound_cidrs",
    "num_uses",
    "ttl",
];
const RUD: &[Operation] = &[Read, Update, Delete];

static PATHS: [PathSpec; 23] = [
    PathSpec::new("login", &[Update])
        .fields(&["role_id", "secret_id"])
        .unauthenticated(),
    PathSpec::new("role", &[List]),
    PathSpec::new("role/:role_name", RUD)
        .fields(ROLE_FIELDS)
        .existence_check(),
    PathSpec::new("role/:role_name/local-secret-ids", &[Read]),
    PathSpec::new("role/:role_name/policies", RUD).fields(&["policies", "token_policies"]),
    PathSpec::new("role/:role_name/bound-cidr-list", RUD).fields(&["bound_cidr_list"]),
    PathSpec::new("role/:role_name/secret-id-bound-cidrs", RUD).fields(&["secret_id_bound_cidrs"]),
    PathSpec::new("role/:role_name/token-bound-cidrs", RUD).fields(&["token_bound_cidrs"]),
    PathSpec::new("role/:role_name/bind-secret-id", RUD).fields(&["bind_secret_id"]),
    PathSpec::new("role/:role_name/secret-id-num-uses", RUD).fields(&["secret_id_num_uses"]),
    PathSpec::new("role/:role_name/secret-id-ttl", RUD).fields(&["secret_id_ttl"]),
    PathSpec::new("role/:role_name/period", RUD).fields(&["period", "token_period"]),
    PathSpec::new("role/:role_name/token-num-uses", RUD).fields(&["token_num_uses"]),
    PathSpec::new("role/:role_name/token-ttl", RUD).fields(&["token_ttl"]),
    PathSpec::new("role/:role_name/token-max-ttl", RUD).fields(&["token_max_ttl"]),
    PathSpec::new("role/:role_name/role-id", &[Read, Update]).fields(&["role_id"]),
    PathSpec::new("role/:role_name/secret-id", &[Update, List]).fields(SECRET_ID_FIELDS),
    PathSpec::new("role/:role_name/secret-id/lookup", &[Update]).fields(&["secret_id"]),
    PathSpec::new("role/:role_name/secret-id/destroy", &[Update, Delete]).fields(&["secret_id"]),
    PathSpec::new("role/:role_name/secret-id-accessor/lookup", &[Update])
        .fields(&["secret_id_accessor"]),
    PathSpec::new(
        "role/:role_name/secret-id-accessor/destroy",
        &[Update, Delete],
    )
    .fields(&["secret_id_accessor"]),
    PathSpec::new("role/:role_name/custom-secret-id", &[Update]).fields(CUSTOM_SECRET_ID_FIELDS),
    PathSpec::new("tidy/secret-id", &[Update]),
];

/// Vault's `maxHmacInputLength`: names and secrets longer than this are refused.
const MAX_HMAC_INPUT: usize = 4096;
const SECRET_LOCK_STRIPES: usize = 64;
/// How often expired secret IDs are swept, as Vault's periodic function.
const PERIODIC_TIDY: Duration = Duration::from_secs(60);

/// The AppRole backend. Cheap to share: the state lives behind an `Arc` so
/// that a background tidy can outlive the request that started it.
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
    tidy_running: AtomicBool,
    /// Whether the once-a-minute tidy (Vault's periodic function) runs.
    periodic_tidy: AtomicBool,
}

impl AppRoleBackend {
    pub fn new(hasher: Hasher) -> Self {
        AppRoleBackend {
            inner: Arc::new(Inner {
                hasher,
                role_lock: Mutex::new(()),
                secret_locks: (0..SECRET_LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
                tidy_running: AtomicBool::new(false),
                periodic_tidy: AtomicBool::new(false),
            }),
        }
    }
}

impl AppRoleBackend {
    /// Starts, on the first request (the first time the mount's storage is
    /// known), the tidy Vault runs every minute. It stops once the backend
    /// is dropped (the mount disabled).
    fn ensure_periodic_tidy(&self, storage: &StorageView) {
        if self.inner.periodic_tidy.swap(true, Ordering::SeqCst) {
            return;
        }
        let backend = Arc::downgrade(&self.inner);
        let storage = storage.clone();
        tokio::spawn(async move {
            let mut every_minute = tokio::time::interval(PERIODIC_TIDY);
            every_minute.tick().await;
            loop {
                every_minute.tick().await;
                let Some(inner) = backend.upgrade() else {
                    break;
                };
                if inner.tidy_running.swap(true, Ordering::SeqCst) {
                    continue;
                }
                if let Err(err) = inner.tidy(&storage).await {
                    tracing::warn!(error = %err, "approle: periodic tidy of secret IDs failed");
                }
                inner.tidy_running.store(false, Ordering::SeqCst);
            }
        });
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
    fn paths(&self) -> &'static [PathSpec] {
        &PATHS
    }

    /// Failed logins count against the role ID (Vault's lockout alias).
    fn lockout_alias(&self, req: &Request) -> Option<String> {
        if req.route != "login" {
            return None;
        }
        req.data
            .str("role_id")
            .ok()
            .flatten()
            .filter(|id| !id.is_empty())
    }

    async fn handle(&self, req: &mut Request) -> Result<Option<Response>> {
        self.ensure_periodic_tidy(&req.storage);
        let b = &*self.inner;
        match (req.route, req.operation) {
            ("login", _) => b.login(req).await,
            ("role", List) => b.list_roles(req).await,
            ("role/:role_name", Read) => b.read_role(req).await,
            ("role/:role_name", Delete) => b.delete_role(req).await,
            ("role/:role_name", _) => b.write_role(req).await,
            ("role/:role_name/role-id", Read) => b.read_role_id(req).await,
            ("role/:role_name/role-id", _) => b.write_role_id(req).await,
            ("role/:role_name/local-secret-ids", _) => b.read_local_secret_ids(req).await,
            ("role/:role_name/secret-id", List) => b.list_secret_ids(req).await,
            ("role/:role_name/secret-id", _) => {
                let secret_id = crate::core::keys::uuid();
                b.issue_secret_id(req, secret_id).await
            }
            ("role/:role_name/custom-secret-id", _) => {
                let secret_id = req.data.str_or("secret_id", "")?;
                b.issue_secret_id(req, secret_id).await
            }
            ("role/:role_name/secret-id/lookup", _) => b.lookup_secret_id(req).await,
            ("role/:role_name/secret-id/destroy", _) => b.destroy_secret_id(req).await,
            ("role/:role_name/secret-id-accessor/lookup", _) => b.lookup_accessor(req).await,
            ("role/:role_name/secret-id-accessor/destroy", _) => b.destroy_accessor(req).await,
            ("tidy/secret-id", _) => Ok(Some(self.start_tidy(req))),
            (route, op) => match role::RoleField::for_route(route) {
                Some(field) => match op {
                    Read => b.read_role_field(req, field).await,
                    Delete => b.delete_role_field(req, field).await,
                    _ => b.update_role_field(req, field).await,
                },
                None => Err(Error::UnsupportedPath),
            },
        }
    }

    async fn exists(&self, req: &mut Request) -> Result<bool> {
        let Ok(name) = role_name(req) else {
            return Ok(false);
        };
        Ok(self.inner.role(req, &name).await?.is_some())
    }
}

/// The request's role name, validated against Vault's
/// `GenericNameRegex` (`\w(([\w-.]+)?\w)?`) and lower-cased. A name the
/// pattern rejects is a path Vault does not serve.
fn role_name(req: &Request) -> Result<String> {
    let name = req.param("role_name")?;
    if !valid_role_name(name) {
        return Err(Error::UnsupportedPath);
    }
    if name.len() > MAX_HMAC_INPUT {
        return Err(Error::BadRequest(format!(
            "role_name is longer than maximum of {MAX_HMAC_INPUT} bytes"
        )));
    }
    Ok(name.to_lowercase())
}

fn valid_role_name(name: &str) -> bool {
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let bytes = name.as_bytes();
    match bytes {
        [] => false,
        [only] => word(*only),
        [first, middle @ .., last] => {
            word(*first)
                && word(*last)
                && middle.iter().all(|c| word(*c) || *c == b'-' || *c == b'.')
        }
    }
}

/// Unix time in nanoseconds.
fn now_nanos() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64
}

/// A time as Go's `time.Time` marshals it (RFC 3339 with trimmed
/// nanoseconds); 0 is Go's zero time.
fn rfc3339_nanos(nanos: i64) -> String {
    if nanos == 0 {
        return "0001-01-01T00:00:00Z".to_string();
    }
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)) else {
        return "0001-01-01T00:00:00Z".to_string();
    };
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let frac = t.nanosecond();
    if frac != 0 {
        let digits = format!("{frac:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('Z');
    out
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
