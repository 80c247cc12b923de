//! The mount table: which backend serves which path prefix, with its own
//! storage view and lease TTLs. Secrets engines mount at `<path>/`, auth
//! methods at `auth/<path>/`; routing is by longest prefix.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::logical::framework::LogicalBackend;
use crate::logical::{Error, MountTtls, Result};
use crate::storage::{Storage, StorageView};
use crate::util::ids::random_bytes;

/// Which table a mount lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MountClass {
    Secret,
    Auth,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MountConfig {
    pub default_lease_ttl: i64,
    pub max_lease_ttl: i64,
    pub force_no_cache: bool,
    #[serde(default)]
    pub listing_visibility: String,
    #[serde(default)]
    pub passthrough_request_headers: Vec<String>,
    #[serde(default)]
    pub allowed_response_headers: Vec<String>,
    #[serde(default)]
    pub audit_non_hmac_request_keys: Vec<String>,
    #[serde(default)]
    pub audit_non_hmac_response_keys: Vec<String>,
    /// Auth mounts only: `default-service`, `service`, `batch`, …
    #[serde(default)]
    pub token_type: String,
    /// Auth mounts only: user lockout settings (`user_lockout_config`).
    #[serde(default)]
    pub user_lockout: super::lockout::LockoutConfig,
}

/// One row of the mount table, as stored and as `sys/mounts` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MountEntry {
    pub class: MountClass,
    /// Path within its table, with a trailing `/` (`pki/`, `approle/`).
    pub path: String,
    #[serde(rename = "type")]
    pub backend_type: String,
    pub description: String,
    pub uuid: String,
    pub accessor: String,
    pub config: MountConfig,
    pub options: Option<BTreeMap<String, String>>,
    pub local: bool,
    pub seal_wrap: bool,
    pub external_entropy_access: bool,
    pub plugin_version: String,
}

impl MountEntry {
    pub fn new(class: MountClass, path: &str, backend_type: &str, description: &str) -> Self {
        let accessor_prefix = match class {
            MountClass::Secret => backend_type.to_string(),
            MountClass::Auth => format!("auth_{backend_type}"),
        };
        MountEntry {
            class,
            path: normalize_mount_path(path),
            backend_type: backend_type.to_string(),
            description: description.to_string(),
            uuid: crate::util::ids::uuid(),
            accessor: format!("{accessor_prefix}_{}", hex::encode(random_bytes(4))),
            config: MountConfig::default(),
            options: None,
            local: false,
            seal_wrap: false,
            external_entropy_access: false,
            plugin_version: String::new(),
        }
    }

    /// The full routing prefix (`pki/`, `auth/approle/`).
    pub fn route_prefix(&self) -> String {
        match self.class {
            MountClass::Secret => self.path.clone(),
            MountClass::Auth => format!("auth/{}", self.path),
        }
    }

    /// Effective TTLs: the mount's own, else the system's.
    pub fn ttls(&self, system: MountTtls) -> MountTtls {
        MountTtls {
            default_ttl: if self.config.default_lease_ttl > 0 {
                self.config.default_lease_ttl
            } else {
                system.default_ttl
            },
            max_ttl: if self.config.max_lease_ttl > 0 {
                self.config.max_lease_ttl
            } else {
                system.max_ttl
            },
        }
    }

    /// The mount object of `sys/mounts` and `sys/auth`.
    pub fn to_json(&self) -> Value {
        let mut config = json!({
            "default_lease_ttl": self.config.default_lease_ttl,
            "force_no_cache": self.config.force_no_cache,
            "max_lease_ttl": self.config.max_lease_ttl,
        });
        if let Some(map) = config.as_object_mut() {
            if self.class == MountClass::Auth {
                let token_type = if self.config.token_type.is_empty() {
                    "default-service"
                } else {
                    self.config.token_type.as_str()
                };
                map.insert("token_type".into(), json!(token_type));
            }
            if !self.config.listing_visibility.is_empty() {
                map.insert(
                    "listing_visibility".into(),
                    json!(self.config.listing_visibility),
                );
            }
            for (key, list) in [
                (
                    "passthrough_request_headers",
                    &self.config.passthrough_request_headers,
                ),
                (
                    "allowed_response_headers",
                    &self.config.allowed_response_headers,
                ),
                (
                    "audit_non_hmac_request_keys",
                    &self.config.audit_non_hmac_request_keys,
                ),
                (
                    "audit_non_hmac_response_keys",
                    &self.config.audit_non_hmac_response_keys,
                ),
            ] {
                if !list.is_empty() {
                    map.insert(key.into(), json!(list));
                }
            }
        }
        let mut mount = json!({
            "accessor": self.accessor,
            "config": config,
            "deprecation_status": "supported",
            "description": self.description,
            "external_entropy_access": self.external_entropy_access,
            "local": self.local,
            "options": self.options,
            "plugin_version": self.plugin_version,
            "running_plugin_version": format!("v{}+builtin.vault", crate::VAULT_VERSION),
            "running_sha256": "",
            "seal_wrap": self.seal_wrap,
            "type": self.backend_type,
            "uuid": self.uuid,
        });
        // Vault states the deprecation status of the plugins in its
        // catalog; `generic` is an alias of `kv`, not a catalog entry.
        if self.backend_type == "generic" {
            if let Some(map) = mount.as_object_mut() {
                map.remove("deprecation_status");
            }
        }
        mount
    }

    fn storage_prefix(&self) -> String {
        match (self.class, self.backend_type.as_str()) {
            (_, "system") => "sys/system/".to_string(),
            (_, "token") => "sys/token-mount/".to_string(),
            (MountClass::Secret, _) => format!("logical/{}/", self.uuid),
            (MountClass::Auth, _) => format!("auth/{}/", self.uuid),
        }
    }
}

/// `pki`, `/pki/`, `pki//` → `pki/`.
pub fn normalize_mount_path(path: &str) -> String {
    let trimmed = path.trim_matches('/');
    let collapsed: Vec<&str> = trimmed.split('/').filter(|s| !s.is_empty()).collect();
    format!("{}/", collapsed.join("/"))
}

/// A live mount: its entry, its backend and its storage view.
#[derive(Clone)]
pub struct Mounted {
    pub entry: MountEntry,
    pub backend: Arc<dyn LogicalBackend>,
    pub storage: StorageView,
    pub prefix: String,
    /// `vault.route.<operation>.<mount>` for the requests it serves.
    pub route_timers: Arc<super::metrics::RouteTimers>,
    /// Held shared by every request the mount serves ([`Mounted::enter`])
    /// and exclusively by a move or an unmount, which so waits for the
    /// requests in flight. `true` once the mount has left its path.
    gate: Arc<tokio::sync::RwLock<bool>>,
    /// Out of routing while a move is under way (Vault's taint): requests
    /// find no route, while the stored table still lists the mount.
    tainted: bool,
}

/// Held by a request while the mount it was routed to serves it.
pub type MountPass = tokio::sync::OwnedRwLockReadGuard<bool>;

/// Held by a move or an unmount: no request is in flight on the mount.
pub type MountClosure = tokio::sync::OwnedRwLockWriteGuard<bool>;

impl Mounted {
    /// Enters the mount for one request; `None` if it left its path after
    /// the request was routed to it (the request then finds no route, and
    /// cannot write where the mount no longer is).
    pub async fn enter(&self) -> Option<MountPass> {
        let pass = self.gate.clone().read_owned().await;
        (!*pass).then_some(pass)
    }

    /// Waits until no request is in flight on the mount and lets none
    /// start; `None` if the mount already left its path. Set the guard to
    /// `true` when the mount leaves it.
    pub async fn close(&self) -> Option<MountClosure> {
        let closure = self.gate.clone().write_owned().await;
        (!*closure).then_some(closure)
    }
}

/// One mount of a routing table snapshot: a request holds it for its
/// whole course without copying the mount.
#[derive(Clone)]
pub struct MountRef {
    table: Arc<Vec<Mounted>>,
    index: usize,
}

impl std::ops::Deref for MountRef {
    type Target = Mounted;

    fn deref(&self) -> &Mounted {
        // `route` takes the index from this very table.
        &self.table[self.index]
    }
}

/// The routing table. Reads take a snapshot (an `Arc`), so routing never
/// waits on a mount change in progress.
pub struct MountTable {
    storage: Arc<dyn Storage>,
    mounts: RwLock<Arc<Vec<Mounted>>>,
    /// Serializes mount-table changes (read-modify-write of the stored table).
    change: tokio::sync::Mutex<()>,
}

const SECRET_TABLE_KEY: &str = "core/mounts";
const AUTH_TABLE_KEY: &str = "core/auth";

impl MountTable {
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        MountTable {
            storage,
            mounts: RwLock::new(Arc::new(Vec::new())),
            change: tokio::sync::Mutex::new(()),
        }
    }

    pub fn snapshot(&self) -> Arc<Vec<Mounted>> {
        match self.mounts.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn replace(&self, mounts: Vec<Mounted>) {
        let mounts = Arc::new(mounts);
        match self.mounts.write() {
            Ok(mut guard) => *guard = mounts,
            Err(poisoned) => *poisoned.into_inner() = mounts,
        }
    }

    /// The mount serving `path` (longest prefix), and the path within it.
    pub fn route(&self, path: &str) -> Option<(MountRef, String)> {
        let table = self.snapshot();
        let (index, mounted) = table
            .iter()
            .enumerate()
            .filter(|(_, m)| !m.tainted)
            .filter(|(_, m)| {
                path.starts_with(&m.prefix) || m.prefix.strip_suffix('/') == Some(path)
            })
            .max_by_key(|(_, m)| m.prefix.len())?;
        let rest = path.get(mounted.prefix.len()..).unwrap_or("").to_string();
        Some((MountRef { table, index }, rest))
    }

    pub fn find(&self, class: MountClass, path: &str) -> Option<Mounted> {
        let path = normalize_mount_path(path);
        self.snapshot()
            .iter()
            .find(|m| m.entry.class == class && m.entry.path == path)
            .cloned()
    }

    pub fn entries(&self, class: MountClass) -> Vec<MountEntry> {
        let mut entries: Vec<MountEntry> = self
            .snapshot()
            .iter()
            .filter(|m| m.entry.class == class)
            .map(|m| m.entry.clone())
            .collect();
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        entries
    }

    /// The storage view a mount of `entry` reads and writes.
    pub fn view_for(&self, entry: &MountEntry) -> StorageView {
        StorageView::new(self.storage.clone(), entry.storage_prefix())
    }

    fn mounted(&self, entry: MountEntry, backend: Arc<dyn LogicalBackend>) -> Mounted {
        let storage = self.view_for(&entry);
        let prefix = entry.route_prefix();
        Mounted {
            entry,
            backend,
            storage,
            prefix,
            route_timers: Arc::default(),
            gate: Arc::default(),
            tainted: false,
        }
    }

    /// The mount that a new mount at the routing prefix `prefix` collides
    /// with (the same path, one above or one below), and whether the paths
    /// are the same.
    fn collision(&self, prefix: &str) -> Option<(Mounted, bool)> {
        colliding(&self.snapshot(), prefix).map(|m| (m.clone(), m.prefix == prefix))
    }

    /// The routing prefix of the mount a new mount at `prefix` would
    /// collide with (`sys/remount`'s destination check).
    pub fn conflict(&self, prefix: &str) -> Option<String> {
        self.collision(prefix).map(|(m, _)| m.prefix)
    }

    /// Forgets every mount (sealing).
    pub fn clear(&self) {
        self.replace(Vec::new());
    }

    /// Adds a mount (without persisting): used at startup for stored and
    /// built-in mounts, and to swap the backend of a mount (which keeps
    /// its requests in flight and its place in a move).
    pub fn install(&self, entry: MountEntry, backend: Arc<dyn LogicalBackend>) {
        let mut mounts = (*self.snapshot()).clone();
        let mut mounted = self.mounted(entry, backend);
        if let Some(pos) = mounts.iter().position(|m| m.prefix == mounted.prefix) {
            let replaced = mounts.remove(pos);
            if replaced.entry.uuid == mounted.entry.uuid {
                mounted.gate = replaced.gate;
                mounted.route_timers = replaced.route_timers;
                mounted.tainted = replaced.tainted;
            }
        }
        mounts.push(mounted);
        self.replace(mounts);
    }

    /// Mounts a new backend, refusing paths that overlap an existing mount.
    pub async fn mount(&self, entry: MountEntry, backend: Arc<dyn LogicalBackend>) -> Result<()> {
        let _guard = self.change.lock().await;
        match self.collision(&entry.route_prefix()) {
            Some((existing, true)) => Err(Error::BadRequest(format!(
                "path is already in use at {}",
                existing.entry.path
            ))),
            Some((existing, false)) => Err(Error::BadRequest(format!(
                "existing mount at {}",
                existing.entry.path
            ))),
            None => {
                self.install(entry, backend);
                self.persist().await
            }
        }
    }

    /// Takes the mount at `path` out of routing for a move (Vault's taint:
    /// requests find no route, while the stored table still lists it) and
    /// returns it.
    pub async fn taint(&self, class: MountClass, path: &str) -> Result<Mounted> {
        self.set_taint(class, &normalize_mount_path(path), true)
            .await
            .ok_or_else(|| Error::BadRequest(format!("no matching mount at {path:?}")))
    }

    /// Routes to a mount again after a move that failed.
    pub async fn untaint(&self, mounted: &Mounted) {
        self.set_taint(mounted.entry.class, &mounted.entry.path, false)
            .await;
    }

    async fn set_taint(&self, class: MountClass, path: &str, tainted: bool) -> Option<Mounted> {
        let _guard = self.change.lock().await;
        let mut mounts = (*self.snapshot()).clone();
        let mounted = mounts
            .iter_mut()
            .find(|m| m.entry.class == class && m.entry.path == path)?;
        mounted.tainted = tainted;
        let found = mounted.clone();
        self.replace(mounts);
        Some(found)
    }

    /// Moves a mount to `path` in its table: the same entry (accessor,
    /// UUID, configuration as it is now), backend and storage, routed at
    /// the new path, and the table persisted.
    pub async fn relocate(&self, mounted: &Mounted, path: &str) -> Result<()> {
        let _guard = self.change.lock().await;
        let mut mounts = (*self.snapshot()).clone();
        let Some(pos) = mounts
            .iter()
            .position(|m| m.entry.uuid == mounted.entry.uuid)
        else {
            return Err(Error::BadRequest(format!(
                "mount {:?} is gone",
                mounted.prefix
            )));
        };
        let mut entry = mounts.remove(pos).entry;
        entry.path = normalize_mount_path(path);
        let prefix = entry.route_prefix();
        if let Some(existing) = colliding(&mounts, &prefix) {
            return Err(Error::BadRequest(format!(
                "path already in use at {:?}",
                existing.prefix
            )));
        }
        // The storage view is keyed by the UUID: the data stays where it is.
        mounts.push(self.mounted(entry, mounted.backend.clone()));
        self.replace(mounts);
        self.persist().await
    }

    /// Removes a mount and all data stored under it. Unknown paths are a no-op.
    pub async fn unmount(&self, class: MountClass, path: &str) -> Result<()> {
        let _guard = self.change.lock().await;
        let path = normalize_mount_path(path);
        let mut mounts = (*self.snapshot()).clone();
        let Some(pos) = mounts
            .iter()
            .position(|m| m.entry.class == class && m.entry.path == path)
        else {
            return Ok(());
        };
        let removed = mounts.remove(pos);
        self.replace(mounts);
        self.persist().await?;
        delete_tree(&removed.storage, "").await
    }

    /// Applies `change` to a mount's entry and persists the table.
    pub async fn update_entry(
        &self,
        class: MountClass,
        path: &str,
        change: impl FnOnce(&mut MountEntry),
    ) -> Result<()> {
        let _guard = self.change.lock().await;
        let path = normalize_mount_path(path);
        let mut mounts = (*self.snapshot()).clone();
        let Some(mounted) = mounts
            .iter_mut()
            .find(|m| m.entry.class == class && m.entry.path == path)
        else {
            return Err(Error::BadRequest(format!("no mount at {path}")));
        };
        change(&mut mounted.entry);
        self.replace(mounts);
        self.persist().await
    }

    /// Writes both tables to storage.
    async fn persist(&self) -> Result<()> {
        for (class, key) in [
            (MountClass::Secret, SECRET_TABLE_KEY),
            (MountClass::Auth, AUTH_TABLE_KEY),
        ] {
            let entries = self.entries(class);
            self.storage.put(key, serde_json::to_vec(&entries)?).await?;
        }
        Ok(())
    }

    /// The stored tables (empty on a fresh store).
    pub async fn load_stored(storage: &Arc<dyn Storage>) -> Result<Vec<MountEntry>> {
        let mut out = Vec::new();
        for key in [SECRET_TABLE_KEY, AUTH_TABLE_KEY] {
            if let Some(bytes) = storage.get(key).await? {
                let entries: Vec<MountEntry> = serde_json::from_slice(&bytes)
                    .map_err(|e| Error::Internal(format!("corrupt mount table {key}: {e}")))?;
                out.extend(entries);
            }
        }
        Ok(out)
    }
}

/// The mount among `mounts` that one at the routing prefix `prefix` would
/// collide with: the same path, one above or one below it.
fn colliding<'a>(mounts: &'a [Mounted], prefix: &str) -> Option<&'a Mounted> {
    mounts
        .iter()
        .find(|m| prefix.starts_with(&m.prefix) || m.prefix.starts_with(prefix))
}

/// Deletes every key under `prefix` of a view, depth first.
pub async fn delete_tree(view: &StorageView, prefix: &str) -> Result<()> {
    let mut stack = vec![prefix.to_string()];
    while let Some(dir) = stack.pop() {
        for child in view.list(&dir).await? {
            let key = format!("{dir}{child}");
            if child.ends_with('/') {
                stack.push(key);
            } else {
                view.delete(&key).await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_paths_are_normalized() {
        assert_eq!(normalize_mount_path("pki"), "pki/");
        assert_eq!(normalize_mount_path("/a//b/"), "a/b/");
    }
}
