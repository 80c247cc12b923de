//! The core: everything between a decoded HTTP request and a backend.
//! Token lookup → ACL check → mount router → backend → token issuance for
//! logins. Backends never see tokens they were not meant to, and never
//! format HTTP.

pub mod audit;
pub mod audit_headers;
pub mod catalog;
pub mod keys;
pub mod lockout;
pub mod mounts;
pub mod policy;
pub mod policy_store;
pub mod remount;
pub mod seal;
pub mod token;
pub mod ttl;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use serde_json::{Map, Value};

use self::audit::{AuditBroker, AuditRequest, AuditedResponse};
use self::audit_headers::RequestHeaders;
use self::catalog::BackendContext;
use self::keys::Hasher;
use self::mounts::{MountClass, MountEntry, MountTable, Mounted};
use self::policy::Capability;
use self::policy_store::PolicyStore;
use self::seal::{Seal, SealKind};
use self::token::{Creator, TokenEntry, TokenOrigin, TokenStore, REVOCATION_PENDING};
use crate::logical::framework::{Fields, LogicalBackend, Route};
use crate::logical::{
    special_path_matches, Auth, Connection, Error, FieldData, MountTtls, Operation, Request,
    Response, Result,
};
use crate::storage::{Storage, StorageView};

/// Vault's system default and max lease TTL: 768h (32 days).
pub const SYSTEM_TTL: i64 = 768 * 3600;

const HMAC_KEY: &str = "core/hmac-key";
const INIT_KEY: &str = "core/initialized";

/// A request as the HTTP layer hands it over.
pub struct LogicalInput {
    pub operation: Operation,
    /// Logical path (no `/v1/`); list operations end with `/`.
    pub path: String,
    pub data: Map<String, Value>,
    /// A body the HTTP layer passed through undecoded (see `Request::raw_body`).
    pub raw_body: Option<bytes::Bytes>,
    pub token: Option<String>,
    pub connection: Connection,
    /// The configured audited headers the request carried (empty unless
    /// [`AuditBroker::wanted_headers`] asked for some).
    pub audited_headers: RequestHeaders,
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
    pub audit: AuditBroker,
    pub lockout: lockout::Lockout,
    /// Mount moves (`sys/remount`) and how they went.
    pub migrations: remount::Migrations,
    cluster: OnceLock<ClusterInfo>,
    pub system_ttls: MountTtls,
    seal: Option<Seal>,
    backend_context: OnceLock<BackendContext>,
    initialized: AtomicBool,
    sealed: AtomicBool,
    /// Serialises the seal's state transitions (initialize, unseal, seal,
    /// keyring rotation): each reads the state, then writes it, and two at
    /// once would each act on what the other is changing.
    lifecycle: tokio::sync::Mutex<()>,
    self_ref: Weak<Core>,
}

impl Core {
    fn new(storage: Arc<dyn Storage>, seal: Option<Seal>) -> Arc<Core> {
        Arc::new_cyclic(|weak| Core {
            mounts: MountTable::new(storage.clone()),
            tokens: TokenStore::new(StorageView::new(storage.clone(), "sys/token/")),
            policies: PolicyStore::new(StorageView::new(storage.clone(), "sys/policy/")),
            audit: AuditBroker::new(storage.clone()),
            lockout: lockout::Lockout::default(),
            migrations: remount::Migrations::default(),
            storage,
            seal,
            cluster: OnceLock::new(),
            system_ttls: MountTtls {
                default_ttl: SYSTEM_TTL,
                max_ttl: SYSTEM_TTL,
            },
            backend_context: OnceLock::new(),
            initialized: AtomicBool::new(false),
            sealed: AtomicBool::new(true),
            lifecycle: tokio::sync::Mutex::new(()),
            self_ref: weak.clone(),
        })
    }

    /// A dev-mode core: in memory, no barrier, unsealed from the start.
    pub async fn open_dev(storage: Arc<dyn Storage>) -> Result<Arc<Core>> {
        let core = Core::new(storage, None);
        core.initialized.store(
            core.storage.get(INIT_KEY).await?.is_some(),
            Ordering::SeqCst,
        );
        core.post_unseal().await?;
        Ok(core)
    }

    /// A durable core behind the barrier. It starts sealed, unless the seal
    /// is static and the store initialized (auto-unseal).
    pub async fn open_sealed(physical: Arc<dyn Storage>, kind: SealKind) -> Result<Arc<Core>> {
        let seal = Seal::new(physical, kind);
        let storage: Arc<dyn Storage> = seal.barrier.clone();
        let initialized = seal.config().await?.is_some();
        let core = Core::new(storage, Some(seal));
        core.initialized.store(initialized, Ordering::SeqCst);
        if let Some(seal) = &core.seal {
            if seal.auto_unseal().await? {
                core.post_unseal().await?;
            }
        }
        Ok(core)
    }

    /// Loads what lives behind the barrier: the hash key, cluster identity,
    /// mount table and policies.
    async fn post_unseal(&self) -> Result<()> {
        let storage = &self.storage;
        let hmac_key = match storage.get(HMAC_KEY).await? {
            Some(key) => key,
            None => {
                let key = keys::random_bytes(32);
                storage.put(HMAC_KEY, key.clone()).await?;
                key
            }
        };
        let hasher = Hasher::new(&hmac_key);
        self.tokens.set_hasher(hasher.clone());
        let _ = self.backend_context.set(BackendContext { hasher });
        let cluster = match storage.get("core/cluster").await? {
            Some(bytes) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let (name, id) = text.split_once('\n').unwrap_or(("vault-cluster", ""));
                ClusterInfo {
                    name: name.to_string(),
                    id: id.to_string(),
                }
            }
            None => {
                let id = keys::uuid();
                let name = format!("vault-cluster-{}", &id[..8]);
                storage
                    .put("core/cluster", format!("{name}\n{id}").into_bytes())
                    .await?;
                ClusterInfo { name, id }
            }
        };
        let _ = self.cluster.set(cluster);
        let stored_mounts = MountTable::load_stored(storage).await?;
        let entries = if stored_mounts.is_empty() {
            default_mounts()
        } else {
            stored_mounts
        };
        for entry in entries {
            let backend = self.initialized_backend(&entry).await?;
            self.mounts.install(entry, backend);
        }
        // `cubbyhole/` and `identity/` exist on every Vault server: mount
        // (and so persist) them on a fresh store or one that predates them.
        for entry in builtin_secret_mounts() {
            if self.mounts.find(entry.class, &entry.path).is_none() {
                self.mount(entry).await?;
            }
        }
        if let Some(cubbyhole) = self.mounts.find(MountClass::Secret, "cubbyhole/") {
            self.tokens.set_cubbyholes(cubbyhole.storage);
        }
        self.policies.ensure_default().await?;
        self.audit.load().await?;
        self.sealed.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// Builds the backend for a mount entry.
    fn build_backend(&self, entry: &MountEntry) -> Result<Arc<dyn LogicalBackend>> {
        match entry.backend_type.as_str() {
            "system" => Ok(Arc::new(crate::system::SystemBackend::new(
                self.self_ref.clone(),
            ))),
            "token" => Ok(Arc::new(crate::auth::token::TokenBackend::new(
                self.self_ref.clone(),
            ))),
            _ => {
                let ctx = self.backend_context.get().ok_or(Error::Sealed)?;
                catalog::build(entry, ctx)
            }
        }
    }

    /// Builds the backend of a mount and runs its `initialize` on the
    /// mount's storage, before the mount serves anything.
    async fn initialized_backend(&self, entry: &MountEntry) -> Result<Arc<dyn LogicalBackend>> {
        let backend = self.build_backend(entry)?;
        backend.initialize(&self.mounts.view_for(entry)).await?;
        Ok(backend)
    }

    pub fn is_initialized(&self) -> bool {
        self.initialized.load(Ordering::SeqCst)
    }

    pub fn is_sealed(&self) -> bool {
        self.sealed.load(Ordering::SeqCst)
    }

    /// The cluster identity (known once unsealed).
    pub fn cluster(&self) -> Option<&ClusterInfo> {
        self.cluster.get()
    }

    /// The seal, for durable stores (`None` in dev mode).
    pub fn seal(&self) -> Option<&Seal> {
        self.seal.as_ref()
    }

    /// Initializes the store: creates the root key and keyring (durable
    /// stores), mints the root token and, with a Shamir seal, seals again
    /// as Vault does. Returns the unseal key shares and the root token.
    pub async fn initialize(
        &self,
        shares: u8,
        threshold: u8,
        root_token_id: Option<String>,
    ) -> Result<(Vec<Vec<u8>>, String)> {
        let _transition = self.lifecycle.lock().await;
        if self.is_initialized() {
            return Err(Error::bad_request("Vault is already initialized"));
        }
        let keys = match &self.seal {
            Some(seal) => {
                let keys = seal.initialize(shares, threshold).await?.shares;
                self.post_unseal().await?;
                keys
            }
            None => Vec::new(),
        };
        // A chosen root token id (dev mode) is made like `token create`.
        let (display_name, path) = match root_token_id {
            Some(_) => ("token", "auth/token/create"),
            None => ("root", "auth/token/root"),
        };
        let auth = Auth {
            policies: vec!["root".into()],
            display_name: display_name.into(),
            token_id: root_token_id,
            orphan: true,
            no_default_policy: true,
            ..Default::default()
        };
        let origin = TokenOrigin {
            path,
            creator: Creator::Initialization,
            mount_ttls: self.system_ttls,
            entity_id: None,
        };
        let (entry, _) = self.tokens.create(&auth, origin).await?;
        self.storage.put(INIT_KEY, b"1".to_vec()).await?;
        self.initialized.store(true, Ordering::SeqCst);
        if self.seal.as_ref().is_some_and(|s| !s.is_static()) {
            self.seal_locked();
        }
        Ok((keys, entry.id))
    }

    /// Submits one unseal key share; unseals when the threshold is reached.
    pub async fn unseal(&self, key: &str) -> Result<()> {
        let seal = self
            .seal
            .as_ref()
            .ok_or_else(|| Error::bad_request("the dev store is never sealed"))?;
        let _transition = self.lifecycle.lock().await;
        if !self.is_sealed() {
            return Ok(());
        }
        if seal.submit_share(key).await? {
            self.post_unseal().await?;
        }
        Ok(())
    }

    /// Seals the barrier: every request but the unauthenticated status
    /// endpoints gets 503 until unsealed again.
    pub async fn seal_now(&self) {
        let _transition = self.lifecycle.lock().await;
        self.seal_locked();
    }

    /// `sys/rotate`: a new keyring term (durable stores only).
    pub async fn rotate_keyring(&self) -> Result<u32> {
        let _transition = self.lifecycle.lock().await;
        let seal = self
            .seal
            .as_ref()
            .ok_or_else(|| Error::bad_request("the in-memory dev store has no keyring"))?;
        seal.rotate().await
    }

    fn seal_locked(&self) {
        if let Some(seal) = &self.seal {
            self.sealed.store(true, Ordering::SeqCst);
            seal.seal();
            self.mounts.clear();
            self.policies.invalidate();
            self.audit.clear();
        }
    }

    /// One tick of background upkeep (Vault's rollback manager): every
    /// mounted backend's `periodic`, each in its own task, so that a failing
    /// or panicking backend loses its own round and no other (nothing runs
    /// while sealed).
    pub async fn run_periodic(&self) {
        if self.is_sealed() {
            return;
        }
        let rounds: Vec<_> = self
            .mounts
            .snapshot()
            .iter()
            .map(|mounted| {
                let mounted = mounted.clone();
                let prefix = mounted.prefix.clone();
                let task =
                    tokio::spawn(async move { mounted.backend.periodic(&mounted.storage).await });
                (prefix, task)
            })
            .collect();
        for (mount, task) in rounds {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => tracing::warn!(%mount, %err, "periodic upkeep failed"),
                Err(_) => tracing::error!(%mount, "periodic upkeep panicked"),
            }
        }
    }

    /// Dev mode's `secret/`: KV version `version` ("2" as Vault's
    /// `server -dev`, "1" for `-dev-kv-v1`).
    pub async fn mount_dev_kv(&self, version: &str) -> Result<()> {
        let mut entry = MountEntry::new(
            MountClass::Secret,
            "secret",
            "kv",
            "key/value secret storage",
        );
        entry.options = Some(std::collections::BTreeMap::from([(
            "version".to_string(),
            version.to_string(),
        )]));
        self.mount(entry).await
    }

    /// Rebuilds the backend of a mount from its entry as it is now (after
    /// its options changed, as Vault reloads a tuned backend) and runs the
    /// new backend's `initialize`, while no request is in flight on the
    /// mount.
    pub async fn rebuild_mount(&self, class: MountClass, path: &str) -> Result<()> {
        let missing = || Error::BadRequest(format!("no mount at {path}"));
        let mounted = self.mounts.find(class, path).ok_or_else(missing)?;
        let Some(_closure) = mounted.close().await else {
            return Err(missing());
        };
        // The entry as it is once nothing else is under way on the mount.
        let entry = self.mounts.find(class, path).ok_or_else(missing)?.entry;
        let backend = self.initialized_backend(&entry).await?;
        self.mounts.install(entry, backend);
        Ok(())
    }

    /// Unmounts a backend and deletes its data; disabling an auth method
    /// also revokes every token it issued, as Vault does. Requests in
    /// flight on the mount finish first, so none writes into data being
    /// deleted.
    pub async fn unmount(&self, class: MountClass, path: &str) -> Result<()> {
        let Some(mounted) = self.mounts.find(class, path) else {
            return Ok(());
        };
        let Some(mut closure) = mounted.close().await else {
            return Ok(());
        };
        self.mounts.unmount(class, path).await?;
        *closure = true;
        if class == MountClass::Auth {
            self.tokens.revoke_by_path_prefix(&mounted.prefix).await?;
        }
        Ok(())
    }

    /// Mounts a new backend of `backend_type` at `path`.
    pub async fn mount(&self, entry: MountEntry) -> Result<()> {
        let backend = self.initialized_backend(&entry).await?;
        self.mounts.mount(entry, backend).await
    }

    /// Runs one request through the pipeline, recording it on the audit
    /// devices (if any) before and after.
    pub async fn handle(&self, mut input: LogicalInput) -> Result<LogicalOutput> {
        if self.is_sealed() {
            return Err(Error::Sealed);
        }
        // `.` and `..` reach here only escaped (`%2e%2e`); no backend has
        // a use for them and storage keys may not contain them.
        if input.path.split('/').any(|s| s == "." || s == "..") {
            return Err(Error::bad_request("relative paths not supported"));
        }
        let request_id = keys::uuid();
        if !self.audit.is_enabled() {
            return self.route_request(input, request_id).await;
        }
        let token = match input.token.as_deref() {
            Some(t) if !t.is_empty() => self.tokens.lookup(t).await.ok().flatten(),
            _ => None,
        };
        let (path, data, connection, client_token) = (
            input.path.clone(),
            input.data.clone(),
            input.connection.clone(),
            input.token.clone(),
        );
        let headers = std::mem::take(&mut input.audited_headers);
        let audit_req = AuditRequest {
            id: &request_id,
            operation: input.operation,
            path: &path,
            data: &data,
            client_token: client_token.as_deref(),
            token: token.as_ref(),
            connection: &connection,
            headers: &headers,
        };
        self.audit.log_request(&audit_req, None)?;
        let result = self.route_request(input, request_id.clone()).await;
        match &result {
            Ok(out) => self.audit.log_response(
                &audit_req,
                &out.mount_type,
                Some(AuditedResponse {
                    data: &out.response.data,
                    auth: &out.auth,
                    warnings: &out.response.warnings,
                }),
                None,
            )?,
            Err(err) => self
                .audit
                .log_response(&audit_req, "", None, Some(&err.to_string()))?,
        }
        result
    }

    /// Token lookup → ACL check → routing → backend → token issuance.
    async fn route_request(
        &self,
        input: LogicalInput,
        request_id: String,
    ) -> Result<LogicalOutput> {
        let full_path = input.path.clone();
        let Some((mounted, rel_path)) = self.mounts.route(&full_path) else {
            return Err(self.no_route(&input).await);
        };
        // Held until the request is done: a move or an unmount of the
        // mount waits for it.
        let Some(_pass) = mounted.enter().await else {
            return Err(self.no_route(&input).await);
        };
        let route = mounted.backend.route(&rel_path);
        let unauthenticated = route.as_ref().is_some_and(|r| r.info.unauthenticated);

        let token = if unauthenticated {
            // Unauthenticated paths ignore a bad token but may use a good one.
            match input.token.as_deref() {
                Some(t) if !t.is_empty() => self.tokens.lookup(t).await.ok().flatten(),
                _ => None,
            }
        } else {
            let token = self.authenticate(input.token.as_deref()).await?;
            if !token.allows_address(input.connection.remote_addr.map(|a| a.ip())) {
                return Err(Error::AclDenied {
                    invalid_token: true,
                });
            }
            Some(token)
        };

        let mut req = Request {
            id: request_id.clone(),
            operation: input.operation,
            path: rel_path,
            mount_point: mounted.prefix.clone(),
            route: route.as_ref().map_or("", |r| r.info.pattern.as_str()),
            params: route.as_ref().map(|r| r.params.clone()).unwrap_or_default(),
            data: FieldData::new(input.data),
            raw_body: input.raw_body,
            token,
            sudo_granted: false,
            connection: input.connection,
            storage: mounted.storage.clone(),
            ttls: mounted.entry.ttls(self.system_ttls),
        };

        if let Some(route) = route.as_ref().filter(|r| r.has_existence_check) {
            if req.operation == Operation::Update
                && !mounted.backend.exists(route, &mut req).await?
            {
                req.operation = Operation::Create;
            }
        }

        if let Some(token) = req.token.as_ref().filter(|_| !unauthenticated) {
            let acl = self.policies.acl(&token.policies).await?;
            let decision = acl.allow(&full_path, capability_for(req.operation), req.data.raw());
            let needs_sudo = special_path_matches(mounted.backend.root_paths(), &req.path);
            if !decision.allowed || (needs_sudo && !decision.sudo) {
                return Err(Error::AclDenied {
                    invalid_token: false,
                });
            }
            req.sudo_granted = decision.sudo;
        }

        let Some(route) = route else {
            return Err(Error::UnsupportedPath);
        };
        if !route.supports(req.operation) {
            return Err(Error::UnsupportedOperation);
        }
        // What the request sees is the count after this use; the last use
        // shows -1 and revokes the token once the request is done.
        let mut used_up = None;
        if let Some(token) = req.token.as_mut().filter(|_| !unauthenticated) {
            token.num_uses = self.tokens.use_token(token).await?;
            if token.num_uses == REVOCATION_PENDING {
                used_up = Some(token.clone());
            }
        }
        let result = self
            .call_backend(
                &mounted,
                &route,
                &mut req,
                unauthenticated,
                request_id,
                &full_path,
            )
            .await;
        if let Some(token) = used_up {
            self.tokens.revoke_tree(&token).await?;
        }
        result
    }

    /// Lockout → backend → response checks → token issuance.
    async fn call_backend(
        &self,
        mounted: &Mounted,
        route: &Route,
        req: &mut Request,
        unauthenticated: bool,
        request_id: String,
        full_path: &str,
    ) -> Result<LogicalOutput> {
        // User lockout applies to the unauthenticated paths of auth mounts.
        let lockout_alias = (mounted.entry.class == MountClass::Auth && unauthenticated)
            .then(|| mounted.backend.lockout_alias(req))
            .flatten();
        let lockout_config = mounted.entry.config.user_lockout;
        let accessor = &mounted.entry.accessor;
        if let Some(alias) = &lockout_alias {
            if self.lockout.is_locked(accessor, alias, &lockout_config) {
                return Err(Error::PermissionDenied);
            }
        }

        let operation = req.operation;
        let result = match req.data.validate(route.info.fields) {
            Ok(()) => mounted.backend.handle(route, req).await,
            Err(err) => Err(err),
        };
        if let Some(alias) = &lockout_alias {
            match &result {
                Ok(Some(response)) if response.auth.is_some() => {
                    self.lockout.record_success(accessor, alias)
                }
                Err(
                    Error::BadRequest(_)
                    | Error::BadRequestWithData { .. }
                    | Error::PermissionDenied,
                ) => self
                    .lockout
                    .record_failure(accessor, alias, &lockout_config),
                _ => {}
            }
        }
        let result = result?;
        let mut output = LogicalOutput {
            request_id,
            mount_type: mounted.entry.backend_type.clone(),
            empty: result.is_none(),
            response: result.unwrap_or_default(),
            auth: None,
        };
        if output.empty && matches!(operation, Operation::Read | Operation::List) {
            return Err(Error::NotFound);
        }
        if operation == Operation::List
            && output.response.warnings.is_empty()
            && !has_keys(&output.response)
        {
            return Err(Error::NotFound);
        }
        if !output.empty {
            warn_unknown_fields(&route.info.fields, &route.params, req, &mut output.response);
        }
        if let Some(renewed) = output.response.renewed_auth.take() {
            output.auth = Some(renewed);
        }
        if let Some(auth) = output.response.auth.take() {
            // A grant bound to CIDRs is refused outright from elsewhere.
            let probe = TokenEntry {
                bound_cidrs: auth.bound_cidrs.clone(),
                ..Default::default()
            };
            if !probe.allows_address(req.connection.remote_addr.map(|a| a.ip())) {
                return Err(Error::PermissionDenied);
            }
            let rendered = self
                .issue_token(&auth, mounted, full_path, req.token.as_ref())
                .await?;
            output.response.warnings.extend(rendered.1);
            output.auth = Some(rendered.0);
            output.empty = false;
        }
        Ok(output)
    }

    /// Turns a backend's auth grant into a token and Vault's `auth` object.
    async fn issue_token(
        &self,
        auth: &Auth,
        mounted: &Mounted,
        path: &str,
        parent: Option<&TokenEntry>,
    ) -> Result<(Value, Vec<String>)> {
        let mut auth = auth.clone();
        let source = mounted.entry.path.replace('/', "-");
        auth.display_name = format!("{source}{}", auth.display_name)
            .trim_end_matches('-')
            .to_string();
        // One entity per (auth mount, alias), as Vault's identity store
        // would create on first login.
        let entity_id = auth
            .alias_name
            .as_deref()
            .map(|alias| keys::derived_uuid(&[&mounted.entry.accessor, alias]));
        // Only the token store mints tokens for a caller; every other grant
        // is a login, which can never be root.
        let creator = match parent {
            Some(parent) if mounted.entry.backend_type == "token" => Creator::Parent(parent),
            _ => Creator::Login,
        };
        let origin = TokenOrigin {
            path,
            creator,
            mount_ttls: mounted.entry.ttls(self.system_ttls),
            entity_id,
        };
        let (entry, warnings) = self.tokens.create(&auth, origin).await?;
        let lease = entry.ttl_remaining(token::now_unix());
        Ok((entry.auth_json(lease), warnings))
    }

    /// Whether a request to `path` without a token is refused whatever it
    /// carries: the path is not one of a mount's unauthenticated paths.
    pub fn refuses_without_token(&self, path: &str) -> bool {
        self.mounts.route(path).is_none_or(|(mounted, rel_path)| {
            !mounted
                .backend
                .route(&rel_path)
                .is_some_and(|r| r.info.unauthenticated)
        })
    }

    /// Resolves the request token; anything not live is a 403.
    pub async fn authenticate(&self, token: Option<&str>) -> Result<TokenEntry> {
        match token {
            Some(t) if !t.is_empty() => self.tokens.lookup(t).await?.ok_or(Error::AclDenied {
                invalid_token: true,
            }),
            _ => Err(Error::AclDenied {
                invalid_token: false,
            }),
        }
    }

    /// A path no mount serves: 403 unless the token could reach it, as
    /// Vault checks the ACL before routing.
    async fn no_route(&self, input: &LogicalInput) -> Error {
        let token = match self.authenticate(input.token.as_deref()).await {
            Ok(token) => token,
            Err(err) => return err,
        };
        match self.policies.acl(&token.policies).await {
            Ok(acl)
                if acl
                    .allow(&input.path, capability_for(input.operation), &input.data)
                    .allowed =>
            {
                Error::NoRoute(input.path.clone())
            }
            Ok(_) => Error::AclDenied {
                invalid_token: false,
            },
            Err(err) => err,
        }
    }
}

/// The mounts of a fresh store.
fn default_mounts() -> Vec<MountEntry> {
    let mut sys = MountEntry::new(
        MountClass::Secret,
        "sys",
        "system",
        "system endpoints used for control, policy and debugging",
    );
    sys.config.passthrough_request_headers = vec!["Accept".into()];
    sys.seal_wrap = true;
    vec![
        sys,
        MountEntry::new(
            MountClass::Auth,
            "token",
            "token",
            "token based credentials",
        ),
    ]
}

/// The secrets engines every Vault server has besides `sys/`.
fn builtin_secret_mounts() -> Vec<MountEntry> {
    let mut cubbyhole = MountEntry::new(
        MountClass::Secret,
        "cubbyhole",
        "cubbyhole",
        "per-token private secret storage",
    );
    cubbyhole.local = true;
    let mut identity =
        MountEntry::new(MountClass::Secret, "identity", "identity", "identity store");
    identity.config.passthrough_request_headers = vec!["Authorization".into()];
    vec![cubbyhole, identity]
}

/// The ACL capability an operation needs.
pub fn capability_for(op: Operation) -> Capability {
    match op {
        Operation::Read => Capability::Read,
        Operation::List => Capability::List,
        Operation::Create => Capability::Create,
        Operation::Update => Capability::Update,
        Operation::Patch => Capability::Patch,
        Operation::Delete => Capability::Delete,
    }
}

fn has_keys(response: &Response) -> bool {
    response
        .data
        .as_ref()
        .and_then(|d| d.get("keys"))
        .and_then(Value::as_array)
        .is_some_and(|keys| !keys.is_empty())
}

/// Vault's warning for parameters the path does not know.
fn warn_unknown_fields(
    fields: &Fields,
    params: &std::collections::HashMap<&'static str, String>,
    req: &Request,
    response: &mut Response,
) {
    let mut unknown: Vec<&str> = req
        .data
        .raw()
        .keys()
        .map(String::as_str)
        .filter(|k| !fields.knows(k) && !params.contains_key(k))
        .collect();
    if unknown.is_empty() {
        return;
    }
    unknown.sort_unstable();
    response.warnings.push(format!(
        "Endpoint ignored these unrecognized parameters: [{}]",
        unknown.join(" ")
    ));
}

#[cfg(test)]
mod tests {
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
            data: data.as_object().cloned().unwrap_or_default(),
            raw_body: None,
            token: Some(token.into()),
            connection: Connection::default(),
            audited_headers: RequestHeaders::default(),
        })
        .await
        .expect(path)
    }

    #[tokio::test]
    async fn revoking_a_token_destroys_its_cubbyhole_and_no_other() {
        let core = Core::open_dev(Arc::new(MemoryStorage::default()))
            .await
            .expect("core");
        core.initialize(1, 1, Some("root".into()))
            .await
            .expect("init");
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
