//! The core: everything between a decoded HTTP request and a backend.
//! [`lifecycle`] opens the store, seals and unseals it and keeps the mount
//! table; [`pipeline`] takes one request through its stages (route,
//! authenticate, existence check, ACL, use count, call, post-process).
//! Backends never see tokens they were not meant to, and never format HTTP.

pub mod audit;
pub mod audit_headers;
pub mod catalog;
pub mod cluster_cert;
pub mod ha;
mod lifecycle;
pub mod lockout;
pub mod metrics;
pub mod mounts;
mod pipeline;
pub mod policy;
pub mod policy_store;
pub mod rekey;
pub mod remount;
pub mod root_generation;
mod scrape;
pub mod seal;
pub mod snapshot;
mod standby;
pub mod token;
pub mod ttl;
pub mod wrapping;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock, Weak};

use serde_json::{Map, Value};

use self::audit::AuditBroker;
use self::audit_headers::RequestHeaders;
use self::catalog::BackendContext;
use self::mounts::MountTable;
use self::policy_store::PolicyStore;
use self::seal::Seal;
use self::token::TokenStore;
use crate::logical::raw_route::RawRoute;
use crate::logical::{self, Result};
use crate::logical::{Connection, MountTtls, Operation, Response, WrapRequest};
use crate::secrets::identity::model::AuthMount;
use crate::secrets::identity::store::Grant;
use crate::secrets::identity::{AuthMounts, IdentityStore};
use crate::storage::{Storage, StorageView};

/// Vault's system default and max lease TTL: 768h (32 days).
pub const SYSTEM_TTL: i64 = 768 * 3600;

const HMAC_KEY: &str = "core/hmac-key";

/// A request as the HTTP layer hands it over.
pub struct LogicalInput {
    pub operation: Operation,
    /// Logical path (no `/v1/`); list operations end with `/`.
    pub path: String,
    /// The client's path ended in `/` (not a LIST, whose path always
    /// does): routing and the ACL see `path` without it, a
    /// [`Capture::Verbatim`](crate::logical::framework::Capture::Verbatim)
    /// capture gets it back.
    pub trailing_slash: bool,
    pub data: Map<String, Value>,
    /// A body the HTTP layer passed through undecoded (see `Request::raw_body`).
    pub raw_body: Option<bytes::Bytes>,
    pub token: Option<String>,
    pub connection: Connection,
    /// The configured audited headers the request carried (empty unless
    /// [`AuditBroker::wanted_headers`] asked for some).
    pub audited_headers: RequestHeaders,
    /// The response wrapping the client asked for.
    pub wrap: Option<WrapRequest>,
}

/// The core's answer, before it becomes an HTTP response.
pub struct LogicalOutput {
    pub request_id: String,
    pub mount_type: String,
    pub response: Response,
    /// The rendered `auth` object when a token was issued or renewed.
    pub auth: Option<Value>,
    /// Whether the handler returned nothing (→ 204).
    pub empty: bool,
    /// Set when the response was wrapped: the wrapping token's
    /// `wrap_info`, which is then all the client receives.
    pub wrap_info: Option<Value>,
}

/// Identity of this server, for health and seal status.
#[derive(Debug, Clone)]
pub struct ClusterInfo {
    pub name: String,
    pub id: String,
}

pub struct Core {
    pub storage: Arc<dyn Storage>,
    pub mounts: MountTable,
    pub tokens: TokenStore,
    pub policies: PolicyStore,
    /// Entities, aliases and groups (the `identity/` mount's data).
    pub identity: Arc<IdentityStore>,
    pub audit: AuditBroker,
    pub lockout: lockout::Lockout,
    /// What `sys/metrics` reports (shared with the backends that record).
    pub metrics: Arc<metrics::Metrics>,
    telemetry: OnceLock<metrics::Telemetry>,
    started: std::time::Instant,
    /// The costly gauges and when they were computed (`usage_gauge_period`).
    usage_gauges: std::sync::Mutex<Option<(std::time::Instant, Vec<metrics::Sample>)>>,
    /// Mount moves (`sys/remount`) and how they went.
    pub migrations: remount::Migrations,
    /// Read from the store at unseal (again after a snapshot restore).
    cluster: RwLock<Option<ClusterInfo>>,
    pub system_ttls: MountTtls,
    seal: Seal,
    /// Active/standby on a shared store (`ha_enabled`).
    ha: Option<ha::HaState>,
    /// A standby's read-only view of the store.
    standby: standby::StandbyView,
    backend_context: RwLock<Option<BackendContext>>,
    /// What the HTTP layer answers itself, as it declared it (for the
    /// OpenAPI document the system backend serves).
    raw_routes: OnceLock<&'static [RawRoute]>,
    initialized: AtomicBool,
    sealed: AtomicBool,
    /// Serialises the seal's state transitions (initialize, unseal, seal,
    /// keyring rotation): each reads the state, then writes it, and two at
    /// once would each act on what the other is changing.
    lifecycle: tokio::sync::Mutex<()>,
    /// The `sys/generate-root` attempt in progress, if any.
    root_generation: std::sync::Mutex<Option<root_generation::Attempt>>,
    /// The `sys/rekey` operation in progress, if any (held across each
    /// update, which reads and writes the seal).
    rekey: tokio::sync::Mutex<Option<rekey::Rekey>>,
    self_ref: Weak<Core>,
}

impl Core {
    fn new(storage: Arc<dyn Storage>, seal: Seal, ha: Option<ha::HaState>) -> Arc<Core> {
        Arc::new_cyclic(|weak| Core {
            mounts: MountTable::new(storage.clone()),
            tokens: TokenStore::new(StorageView::new(storage.clone(), "sys/token/")),
            policies: PolicyStore::new(StorageView::new(storage.clone(), "sys/policy/")),
            identity: Arc::new(IdentityStore::new(weak.clone() as Weak<dyn AuthMounts>)),
            audit: AuditBroker::new(storage.clone()),
            lockout: lockout::Lockout::default(),
            metrics: Arc::default(),
            telemetry: OnceLock::new(),
            started: std::time::Instant::now(),
            usage_gauges: std::sync::Mutex::new(None),
            migrations: remount::Migrations::default(),
            storage,
            seal,
            ha,
            standby: standby::StandbyView::default(),
            cluster: RwLock::new(None),
            system_ttls: MountTtls {
                default_ttl: SYSTEM_TTL,
                max_ttl: SYSTEM_TTL,
            },
            backend_context: RwLock::new(None),
            raw_routes: OnceLock::new(),
            initialized: AtomicBool::new(false),
            sealed: AtomicBool::new(true),
            lifecycle: tokio::sync::Mutex::new(()),
            root_generation: std::sync::Mutex::new(None),
            rekey: tokio::sync::Mutex::new(None),
            self_ref: weak.clone(),
        })
    }

    pub fn is_initialized(&self) -> bool {
        self.initialized.load(Ordering::SeqCst)
    }

    pub fn is_sealed(&self) -> bool {
        self.sealed.load(Ordering::SeqCst)
    }

    /// The node's HA part, when the store is shared.
    pub fn ha(&self) -> Option<&ha::HaState> {
        self.ha.as_ref()
    }

    /// A standby of an HA cluster: unsealed, but not serving.
    pub fn is_standby(&self) -> bool {
        self.ha.as_ref().is_some_and(|ha| !ha.is_active()) && !self.barrier_sealed()
    }

    /// Whether the barrier is closed (`sealed` in the status endpoints; a
    /// standby is unsealed though it serves nothing).
    pub fn barrier_sealed(&self) -> bool {
        self.seal.barrier.is_sealed()
    }

    /// The cluster identity (known once unsealed).
    pub fn cluster(&self) -> Option<ClusterInfo> {
        self.cluster.read().ok().and_then(|c| c.clone())
    }

    /// Told once by the HTTP layer serving this core: the endpoints it
    /// answers itself (later calls change nothing).
    pub fn declare_raw_routes(&self, routes: &'static [RawRoute]) {
        let _ = self.raw_routes.set(routes);
    }

    /// The endpoints the HTTP layer answers itself (none until declared).
    pub fn raw_routes(&self) -> &'static [RawRoute] {
        self.raw_routes.get().copied().unwrap_or_default()
    }

    /// Told once by the server: its `telemetry` stanza (later calls
    /// change nothing).
    pub fn configure_telemetry(&self, telemetry: metrics::Telemetry) {
        let _ = self.telemetry.set(telemetry);
    }

    /// The telemetry configuration (no `telemetry` stanza until told).
    pub fn telemetry(&self) -> metrics::Telemetry {
        self.telemetry.get().cloned().unwrap_or_default()
    }

    /// The policies a token's entity brings (its own and its groups'),
    /// looked up at each use as Vault does: empty without an entity.
    pub async fn identity_policies(&self, token: &logical::TokenEntry) -> Result<Vec<String>> {
        Ok(self
            .entity_grant(token)
            .await?
            .map(|grant| grant.policies())
            .unwrap_or_default())
    }

    async fn entity_grant(&self, token: &logical::TokenEntry) -> Result<Option<Grant>> {
        if token.entity_id.is_empty() {
            return Ok(None);
        }
        self.identity.grant(&token.entity_id).await
    }

    /// The ACL a token is judged by: its own policies and its entity's,
    /// with templated paths filled from the entity.
    pub async fn token_acl(&self, token: &logical::TokenEntry) -> Result<Arc<policy::Acl>> {
        let Some(grant) = self.entity_grant(token).await? else {
            return self.policies.acl(&token.policies).await;
        };
        let mut policies = token.policies.clone();
        policies.extend(grant.policies());
        let values = template_values(&grant);
        self.policies
            .acl_with_identity(&policies, Some(&values))
            .await
    }

    /// The seal: the barrier's root key and the unseal key that opens it.
    pub fn seal(&self) -> &Seal {
        &self.seal
    }
}

/// What an entity offers policy templates.
fn template_values(grant: &Grant) -> policy::IdentityValues {
    let entity = &grant.entity;
    policy::IdentityValues {
        entity_id: entity.id.clone(),
        entity_name: entity.name.clone(),
        metadata: entity.metadata.clone(),
        aliases: entity
            .aliases
            .iter()
            .map(|a| {
                let values = policy::AliasValues {
                    id: a.id.clone(),
                    name: a.name.clone(),
                    metadata: a.metadata.clone(),
                    custom_metadata: a.custom_metadata.clone().unwrap_or_default(),
                };
                (a.mount_accessor.clone(), values)
            })
            .collect(),
        groups: grant
            .groups
            .iter()
            .map(|g| policy::GroupValues {
                id: g.id.clone(),
                name: g.name.clone(),
                metadata: g.metadata.clone(),
            })
            .collect(),
    }
}

impl AuthMounts for Core {
    fn auth_mount(&self, accessor: &str) -> Option<AuthMount> {
        self.mounts
            .entries(mounts::MountClass::Auth)
            .into_iter()
            .find(|e| e.accessor == accessor)
            .map(|e| AuthMount {
                path: e.route_prefix(),
                accessor: e.accessor,
                mount_type: e.backend_type,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::mounts::MountClass;
    use super::*;
    use crate::storage::MemoryStorage;
    use serde_json::json;

    async fn call(core: &Core, operation: Operation, path: &str, token: &str) -> LogicalOutput {
        let data = if path.starts_with("cubbyhole/") {
            json!({"value": "private"})
        } else {
            json!({})
        };
        core.handle(LogicalInput {
            operation,
            path: path.into(),
            trailing_slash: false,
            data: data.as_object().cloned().unwrap_or_default(),
            raw_body: None,
            token: Some(token.into()),
            connection: Connection::default(),
            audited_headers: RequestHeaders::default(),
            wrap: None,
        })
        .await
        .expect(path)
    }

    #[tokio::test]
    async fn revoking_a_token_destroys_its_cubbyhole_and_no_other() {
        let core = Core::open_dev(Arc::new(MemoryStorage::default()), Some("root".into()))
            .await
            .expect("core")
            .core;
        let child = |out: LogicalOutput| {
            out.auth
                .and_then(|a| a["client_token"].as_str().map(str::to_string))
                .expect("token")
        };
        let short = child(call(&core, Operation::Update, "auth/token/create", "root").await);
        let kept = child(call(&core, Operation::Update, "auth/token/create", "root").await);
        call(&core, Operation::Update, "cubbyhole/note", &short).await;
        call(&core, Operation::Update, "cubbyhole/note", &kept).await;
        let cubbyholes = core
            .mounts
            .find(MountClass::Secret, "cubbyhole/")
            .expect("cubbyhole mount")
            .storage;
        assert_eq!(cubbyholes.list("").await.expect("list").len(), 2);

        call(&core, Operation::Update, "auth/token/revoke-self", &short).await;
        assert_eq!(cubbyholes.list("").await.expect("list").len(), 1);
        let read = call(&core, Operation::Read, "cubbyhole/note", &kept).await;
        assert_eq!(read.response.data.expect("data")["value"], "private");
    }
}
