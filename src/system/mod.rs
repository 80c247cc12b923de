//! The `sys/` backend: mounts, auth methods, policies, capabilities and the
//! UI mount lookups. It manipulates the core itself, so it holds a weak
//! reference to it (the core owns the mount table that owns this backend).

mod audit_headers;
mod mounts;
pub mod openapi;
mod policies;
mod remount;

use std::sync::{Arc, Weak};

use serde_json::{json, Map, Value};

use crate::core::Core;
use crate::logical::{Backend, Error, Operation, PathSpec, Request, Response, Result};

use Operation::{Delete, List, Read, Update};

static PATHS: &[PathSpec] = &[
    PathSpec::new("mounts", &[Read]),
    PathSpec::new("mounts/*path", &[Read, Update, Delete]),
    PathSpec::new("auth", &[Read]),
    PathSpec::new("auth/*path", &[Read, Update, Delete]),
    PathSpec::new("remount", &[Update]).fields(&["from", "to"]),
    PathSpec::new("remount/status/:migration_id", &[Read]).fields(&["migration_id"]),
    PathSpec::new("policy", &[Read, List]),
    PathSpec::new("policy/:name", &[Read, Update, Delete]).fields(&["policy", "rules"]),
    PathSpec::new("policies/acl", &[List]),
    PathSpec::new("policies/acl/:name", &[Read, Update, Delete]).fields(&["policy"]),
    PathSpec::new("capabilities-self", &[Update]).fields(&["path", "paths", "token"]),
    PathSpec::new("capabilities", &[Update]).fields(&["path", "paths", "token"]),
    PathSpec::new("capabilities-accessor", &[Update]).fields(&["path", "paths", "accessor"]),
    PathSpec::new("internal/ui/mounts", &[Read]).unauthenticated(),
    PathSpec::new("internal/ui/mounts/*path", &[Read]).unauthenticated(),
    PathSpec::new("internal/specs/openapi", &[Read])
        .unauthenticated()
        .fields(&["generic_mount_paths"]),
    PathSpec::new("version-history", &[Read, List]),
    PathSpec::new("seal", &[Update]),
    PathSpec::new("audit", &[Read]),
    PathSpec::new("audit/*path", &[Update, Delete]).fields(&[
        "type",
        "description",
        "options",
        "local",
    ]),
    PathSpec::new("audit-hash/*path", &[Update]).fields(&["input"]),
    PathSpec::new("config/auditing/request-headers", &[Read]),
    PathSpec::new(
        "config/auditing/request-headers/*header",
        &[Read, Update, Delete],
    )
    .fields(&["hmac"]),
    PathSpec::new("rotate", &[Update]),
    PathSpec::new("key-status", &[Read]),
    PathSpec::new("locked-users", &[Read]),
    PathSpec::new(
        "locked-users/:mount_accessor/unlock/:alias_identifier",
        &[Update],
    ),
];

/// Vault's root-protected `sys/` paths (`PathsSpecial.Root` of its system
/// backend, with OpenBao's `rotate/keyring` and `rotate/root`), whether or
/// not vaultlet serves them: see
/// <https://developer.hashicorp.com/vault/docs/concepts/policies#root-protected-api-endpoints>.
static ROOT_PATHS: &[&str] = &[
    "auth/*",
    "remount",
    "audit",
    "audit/*",
    "raw",
    "raw/*",
    "replication/primary/secondary-token",
    "replication/performance/primary/secondary-token",
    "replication/dr/primary/secondary-token",
    "replication/reindex",
    "replication/dr/reindex",
    "replication/performance/reindex",
    "rotate",
    "rotate/keyring",
    "rotate/root",
    "config/cors",
    "config/auditing/*",
    "config/ui/headers/*",
    "plugins/catalog/*",
    "plugins/runtimes/catalog/*",
    "revoke-prefix/*",
    "revoke-force/*",
    "leases/revoke-prefix/*",
    "leases/revoke-force/*",
    "leases/lookup/*",
    "storage/raft/snapshot-auto/config/*",
    "leases",
    "internal/inspect/*",
    "seal",
    "step-down",
];

pub struct SystemBackend {
    core: Weak<Core>,
}

impl SystemBackend {
    pub fn new(core: Weak<Core>) -> Self {
        SystemBackend { core }
    }

    fn core(&self) -> Result<Arc<Core>> {
        self.core
            .upgrade()
            .ok_or_else(|| Error::internal("core is shutting down"))
    }
}

#[async_trait::async_trait]
impl Backend for SystemBackend {
    fn paths(&self) -> &'static [PathSpec] {
        PATHS
    }

    fn root_paths(&self) -> &'static [&'static str] {
        ROOT_PATHS
    }

    async fn handle(&self, req: &mut Request) -> Result<Option<Response>> {
        let core = self.core()?;
        match req.route {
            "mounts" | "mounts/*path" | "auth" | "auth/*path" => mounts::handle(&core, req).await,
            "remount" | "remount/status/:migration_id" => remount::handle(&core, req).await,
            "internal/ui/mounts" | "internal/ui/mounts/*path" => {
                mounts::ui_mounts(&core, req).await
            }
            "internal/specs/openapi" => openapi::handle(&core, req).await,
            "policy" | "policy/:name" | "policies/acl" | "policies/acl/:name" => {
                policies::handle(&core, req).await
            }
            "capabilities-self" | "capabilities" | "capabilities-accessor" => {
                capabilities(&core, req).await
            }
            "version-history" => Ok(Some(version_history())),
            "seal" => {
                if core.seal().is_none() {
                    return Err(Error::bad_request(
                        "the in-memory dev store cannot be sealed",
                    ));
                }
                core.seal_now().await;
                Ok(None)
            }
            "rotate" => {
                core.rotate_keyring().await?;
                Ok(None)
            }
            "key-status" => key_status(&core),
            "locked-users" => Ok(Some(locked_users(&core))),
            "locked-users/:mount_accessor/unlock/:alias_identifier" => {
                core.lockout
                    .unlock(req.param("mount_accessor")?, req.param("alias_identifier")?);
                Ok(None)
            }
            "audit" | "audit/*path" | "audit-hash/*path" => audit(&core, req).await,
            "config/auditing/request-headers" | "config/auditing/request-headers/*header" => {
                audit_headers::handle(&core, req).await
            }
            _ => Err(Error::UnsupportedPath),
        }
    }
}

/// `sys/capabilities*`: what a token may do on each path.
async fn capabilities(core: &Core, req: &mut Request) -> Result<Option<Response>> {
    let mut paths = req.data.comma_list_or_empty("paths")?;
    if let Some(path) = req.data.str("path")? {
        paths.push(path);
    }
    if paths.is_empty() {
        return Err(Error::bad_request("no paths provided"));
    }
    let token = match req.route {
        "capabilities" => {
            let token = req.data.str("token")?.unwrap_or_default();
            core.tokens
                .lookup(&token)
                .await?
                .ok_or_else(|| Error::bad_request("invalid token"))?
        }
        "capabilities-accessor" => {
            let accessor = req.data.str("accessor")?.unwrap_or_default();
            core.tokens
                .lookup_accessor(&accessor)
                .await?
                .ok_or_else(|| Error::bad_request("invalid accessor"))?
        }
        _ => req.token.clone().ok_or(Error::AclDenied {
            invalid_token: true,
        })?,
    };
    let acl = core.policies.acl(&token.policies).await?;
    let mut data = Map::new();
    for path in &paths {
        let path = path.trim_start_matches('/');
        data.insert(path.to_string(), json!(acl.capabilities(path)));
    }
    if paths.len() == 1 {
        if let Some(caps) = data.values().next().cloned() {
            data.insert("capabilities".into(), caps);
        }
    }
    Ok(Some(Response::data(data)))
}

/// `sys/audit`, `sys/audit/:path`, `sys/audit-hash/:path`.
async fn audit(core: &Core, req: &mut Request) -> Result<Option<Response>> {
    match (req.route, req.operation) {
        ("audit", _) => {
            let data = core
                .audit
                .list()
                .iter()
                .map(|d| (d.path.clone(), d.to_json()))
                .collect();
            Ok(Some(Response::data(data)))
        }
        ("audit/*path", Operation::Delete) => {
            core.audit.disable(req.param("path")?).await?;
            Ok(None)
        }
        ("audit/*path", _) => {
            let kind = req.data.str("type")?.unwrap_or_default();
            let description = req.data.str("description")?.unwrap_or_default();
            let options = req
                .data
                .string_map("options")?
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
                .collect();
            let local = req.data.bool_or("local", false)?;
            core.audit
                .enable(req.param("path")?, &kind, description, options, local)
                .await?;
            Ok(None)
        }
        _ => {
            let input = req.data.str("input")?.unwrap_or_default();
            let mut data = Map::new();
            data.insert(
                "hash".into(),
                json!(core.audit.hash(req.param("path")?, &input)?),
            );
            Ok(Some(Response::data(data)))
        }
    }
}

/// `sys/locked-users`: aliases currently locked out, by auth mount.
fn locked_users(core: &Core) -> Response {
    let locked = core.lockout.locked();
    let total: usize = locked.iter().map(|(_, aliases)| aliases.len()).sum();
    let mounts: Vec<Value> = locked
        .iter()
        .map(|(accessor, aliases)| {
            json!({ "mount_accessor": accessor, "counts": aliases.len(), "alias_identifiers": aliases })
        })
        .collect();
    let mut data = Map::new();
    data.insert(
        "by_namespace".into(),
        json!([{ "namespace_id": "root", "namespace_path": "", "counts": total, "mount_accessors": mounts }]),
    );
    data.insert("total".into(), json!(total));
    Response::data(data)
}

/// `sys/key-status`: the active keyring term.
fn key_status(core: &Core) -> Result<Option<Response>> {
    let (term, installed) = core
        .seal()
        .and_then(|seal| seal.barrier.keyring())
        .and_then(|keyring| {
            keyring
                .keys
                .get(&keyring.active_term)
                .map(|(_, at)| (keyring.active_term, *at))
        })
        .unwrap_or((1, 0));
    let mut data = Map::new();
    data.insert("term".into(), json!(term));
    data.insert(
        "install_time".into(),
        json!(crate::core::token::rfc3339(installed)),
    );
    data.insert("encryptions".into(), json!(0));
    Ok(Some(Response::data(data)))
}

fn version_history() -> Response {
    let version = crate::VAULT_VERSION;
    let mut data = Map::new();
    data.insert("keys".into(), json!([version]));
    data.insert(
        "key_info".into(),
        json!({ version: { "build_date": "", "previous_version": Value::Null, "timestamp_installed": "" } }),
    );
    Response::data(data)
}
