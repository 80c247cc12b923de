//! The core's lifecycle: opening the store, initialization, sealing and
//! unsealing (serialised by the lifecycle lock), the mount table's
//! backends, and the periodic tick that drives every backend's upkeep.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::catalog;
use super::cluster_cert::ClusterCert;
use super::ha::HaState;
use super::mounts::{MountClass, MountEntry, MountTable};
use super::seal::{Seal, SealKind};
use super::token::{Creator, TokenOrigin};
use super::{catalog::BackendContext, ClusterInfo, Core, HMAC_KEY};
use crate::logical::framework::LogicalBackend;
use crate::logical::{Auth, Error, Result};
use crate::storage::Storage;
use crate::util::ids;
use crate::util::keyed_hash::Hasher;

/// A dev-mode core with what its banner shows: the one unseal key share
/// and the root token.
pub struct DevCore {
    pub core: Arc<Core>,
    pub unseal_key: Vec<u8>,
    pub root_token: String,
}

/// What [`Core::load`] loads for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Load {
    /// Serving everything: the active, or a node without HA.
    Serving,
    /// A standby's read-only view.
    ReadOnly,
}

impl Core {
    /// A dev-mode core, as `vault server -dev` makes one: the store behind
    /// a barrier whose root key one Shamir share unseals, initialized (with
    /// `root_token_id` as the root token's id, if given) and unsealed with
    /// that share at once. The share is real: it seals and unseals the
    /// server, and authorises root generation and rekeys.
    pub async fn open_dev(
        physical: Arc<dyn Storage>,
        root_token_id: Option<String>,
    ) -> Result<DevCore> {
        let core = Core::open_sealed(physical, SealKind::Shamir, None).await?;
        let (mut keys, root_token) = core.initialize(1, 1, root_token_id).await?;
        let unseal_key = keys
            .pop()
            .ok_or_else(|| Error::internal("initialization made no unseal key"))?;
        core.unseal(&hex::encode(&unseal_key)).await?;
        Ok(DevCore {
            core,
            unseal_key,
            root_token,
        })
    }

    /// A durable core behind the barrier. It starts sealed, unless the seal
    /// is static and the store initialized (auto-unseal). With `ha`, an
    /// unsealed core is a standby until it wins the lock ([`Core::run_ha`]).
    pub async fn open_sealed(
        physical: Arc<dyn Storage>,
        kind: SealKind,
        ha: Option<HaState>,
    ) -> Result<Arc<Core>> {
        let seal = Seal::new(physical, kind);
        let storage: Arc<dyn Storage> = seal.barrier.clone();
        let initialized = seal.config().await?.is_some();
        let core = Core::new(storage, seal, ha);
        core.initialized.store(initialized, Ordering::SeqCst);
        if core.seal.auto_unseal().await? && core.may_serve() {
            core.post_unseal().await?;
        }
        Ok(core)
    }

    /// Whether an unsealed core serves: always without HA, only on the
    /// active with it.
    pub(super) fn may_serve(&self) -> bool {
        self.ha.as_ref().is_none_or(HaState::is_active)
    }

    /// Loads what lives behind the barrier: the hash key, cluster identity,
    /// mount table and policies.
    pub(super) async fn post_unseal(&self) -> Result<()> {
        self.load(Load::Serving).await
    }

    /// [`Core::post_unseal`], or with [`Load::ReadOnly`] a standby's view:
    /// nothing is created or upgraded (the active does that) and what is
    /// missing leaves the view unloaded.
    pub(super) async fn load(&self, how: Load) -> Result<()> {
        let writes = how == Load::Serving;
        let storage = &self.storage;
        let hmac_key = match storage.get(HMAC_KEY).await? {
            Some(key) => key,
            None if !writes => return Err(Error::ReadOnly),
            None => {
                let key = ids::random_bytes(32);
                storage.put(HMAC_KEY, key.clone()).await?;
                key
            }
        };
        let hasher = Hasher::new(&hmac_key);
        self.tokens.set_hasher(hasher.clone());
        if let Ok(mut context) = self.backend_context.write() {
            *context = Some(BackendContext {
                hasher,
                metrics: self.metrics.clone(),
                identity: self.identity.clone(),
            });
        }
        let cluster = match self.stored_cluster().await? {
            Some(cluster) => cluster,
            None if !writes => return Err(Error::ReadOnly),
            None => {
                let id = ids::uuid();
                let name = format!("vault-cluster-{}", &id[..8]);
                storage
                    .put(CLUSTER_KEY, format!("{name}\n{id}").into_bytes())
                    .await?;
                ClusterInfo { name, id }
            }
        };
        if let Ok(mut slot) = self.cluster.write() {
            *slot = Some(cluster);
        }
        let stored_mounts = MountTable::load_stored(storage).await?;
        let entries = if !stored_mounts.is_empty() {
            stored_mounts
        } else if writes {
            default_mounts()
        } else {
            return Err(Error::ReadOnly);
        };
        for entry in entries {
            // As Vault's, a backend's initialization runs on the active.
            let backend = if writes {
                self.initialized_backend(&entry).await?
            } else {
                self.build_backend(&entry)?
            };
            self.mounts.install(entry, backend);
        }
        // `cubbyhole/` and `identity/` exist on every Vault server: mount
        // (and so persist) them on a fresh store or one that predates them.
        for entry in builtin_secret_mounts() {
            if writes && self.mounts.find(entry.class, &entry.path).is_none() {
                self.mount(entry).await?;
            }
        }
        if let Some(cubbyhole) = self.mounts.find(MountClass::Secret, "cubbyhole/") {
            self.tokens.set_cubbyholes(cubbyhole.storage);
        }
        if let Some(identity) = self.mounts.find(MountClass::Secret, "identity/") {
            self.identity.set_storage(identity.storage);
        }
        if writes {
            self.policies.ensure_default().await?;
        }
        self.audit.load().await?;
        if let Some(ha) = &self.ha {
            let cert = if writes {
                ClusterCert::load_or_create(storage.as_ref()).await?
            } else {
                ClusterCert::load(storage.as_ref())
                    .await?
                    .ok_or(Error::ReadOnly)?
            };
            ha.set_cluster_cert(Some(cert));
        }
        self.sealed.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// The cluster identity as stored, if it was made yet.
    pub(super) async fn stored_cluster(&self) -> Result<Option<ClusterInfo>> {
        Ok(self.storage.get(CLUSTER_KEY).await?.map(|bytes| {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let (name, id) = text.split_once('\n').unwrap_or(("vault-cluster", ""));
            ClusterInfo {
                name: name.to_string(),
                id: id.to_string(),
            }
        }))
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
                let ctx = self
                    .backend_context
                    .read()
                    .ok()
                    .and_then(|c| c.clone())
                    .ok_or(Error::Sealed)?;
                catalog::build(entry, &ctx)
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
        let keys = self.seal.initialize(shares, threshold).await?.shares;
        self.post_unseal().await?;
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
        self.initialized.store(true, Ordering::SeqCst);
        if !self.seal.is_static() {
            self.seal_locked();
        }
        Ok((keys, entry.id))
    }

    /// Submits one unseal key share; unseals when the threshold is reached.
    pub async fn unseal(&self, key: &str) -> Result<()> {
        let _transition = self.lifecycle.lock().await;
        if !self.is_sealed() {
            return Ok(());
        }
        if self.seal.submit_share(key).await? && self.may_serve() {
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

    /// `sys/rotate`: a new keyring term.
    pub async fn rotate_keyring(&self) -> Result<u32> {
        let _transition = self.lifecycle.lock().await;
        self.seal.rotate().await
    }

    pub(super) fn seal_locked(&self) {
        self.cancel_root_generation();
        if let Some(ha) = &self.ha {
            ha.resign();
            ha.forget_cluster_cert();
        }
        self.unload();
        self.seal.seal();
    }

    /// Stops serving and forgets what was loaded from the store.
    pub(super) fn unload(&self) {
        self.cancel_root_generation();
        self.drop_rekey();
        self.sealed.store(true, Ordering::SeqCst);
        self.mounts.clear();
        self.policies.invalidate();
        self.audit.clear();
        self.tokens.forget_cached();
        self.standby.mark_unloaded();
    }

    /// One tick of background upkeep (Vault's rollback manager): every
    /// mounted backend's `periodic`, each in its own task, so that a failing
    /// or panicking backend loses its own round and no other (nothing runs
    /// while sealed).
    pub async fn run_periodic(&self) {
        if self.is_sealed() || self.is_standby() {
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
}

/// Where the cluster's name and id are stored.
const CLUSTER_KEY: &str = "core/cluster";

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
