//! What a standby serves by itself: the paths that declare it
//! ([`PathInfo::on_standby`](crate::logical::framework::PathInfo)), from a
//! read-only view of the store loaded like the active's state. The view
//! follows the active through the store's change notices: each committed
//! write names its keys and the standby drops what it cached of them.
//! Before serving a request the standby waits for a sync marker it asked
//! the store for: notices arrive in commit order, so once the marker is
//! in, every write committed before the request arrived (a revocation
//! whose answer the client already has) has been applied. While notices
//! do not flow the view is dropped and every request goes to the active;
//! so does any request that turns out to need a write (the store refuses
//! it either way).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::lifecycle::Load;
use super::Core;
use crate::logical::{Error, Operation, Result};
use crate::storage::ha::{Change, SyncRequests};

/// How long a request waits for the view to catch up before it goes to
/// the active instead.
const SYNC_WAIT: Duration = Duration::from_secs(1);

/// The standby's view: whether notices flow and whether it is loaded, and
/// the last sync marker applied.
pub(super) struct StandbyView {
    listening: AtomicBool,
    loaded: AtomicBool,
    sync: OnceLock<SyncRequests>,
    applied: tokio::sync::watch::Sender<u64>,
}

impl Default for StandbyView {
    fn default() -> Self {
        StandbyView {
            listening: AtomicBool::new(false),
            loaded: AtomicBool::new(false),
            sync: OnceLock::new(),
            applied: tokio::sync::watch::Sender::new(0),
        }
    }
}

impl StandbyView {
    /// The core unloaded what the view held (sealing, a reload).
    pub(super) fn mark_unloaded(&self) {
        self.loaded.store(false, Ordering::SeqCst);
    }

    fn serving(&self) -> bool {
        self.listening.load(Ordering::SeqCst) && self.loaded.load(Ordering::SeqCst)
    }
}

/// Keys whose change reloads the whole view: the mount tables, audit
/// devices, keyring and everything else the core loads at unseal.
const CORE_PREFIXES: &[&str] = &["core/", "seal/"];
const POLICY_PREFIX: &str = "sys/policy/";
const TOKEN_PREFIX: &str = "sys/token/";

impl Core {
    /// Whether this standby serves `operation` on `path` itself (false on
    /// the active and on nodes without HA: they serve everything anyway).
    pub fn standby_serves(&self, path: &str, operation: Operation) -> bool {
        if !self.is_standby() || !self.standby.serving() {
            return false;
        }
        let Some((mounted, rest)) = self.mounts.route(path) else {
            return false;
        };
        mounted
            .backend
            .route(&rest)
            .is_some_and(|route| route.served_by_standby(operation))
    }

    /// Waits until every write committed before now is applied to the
    /// view; [`Error::ReadOnly`] (to the active) when that takes too long.
    pub(super) async fn standby_sync(&self) -> Result<()> {
        let Some(sync) = self.standby.sync.get() else {
            return Err(Error::ReadOnly);
        };
        let mut applied = self.standby.applied.subscribe();
        let number = sync.request();
        let caught_up = tokio::time::timeout(SYNC_WAIT, applied.wait_for(|&a| a >= number))
            .await
            .is_ok_and(|waited| waited.is_ok());
        if caught_up {
            Ok(())
        } else {
            Err(Error::ReadOnly)
        }
    }

    /// Follows the active's changes for the life of the server.
    pub(super) async fn follow_changes(self: Arc<Self>) {
        let Some(ha) = self.ha.as_ref() else {
            return;
        };
        let feed = ha.watch();
        let mut changes = feed.changes;
        let _ = self.standby.sync.set(feed.sync);
        while let Some(change) = changes.recv().await {
            match change {
                Change::Synced(number) => {
                    self.standby.applied.send_if_modified(|applied| {
                        let later = number > *applied;
                        if later {
                            *applied = number;
                        }
                        later
                    });
                }
                Change::Listening => {
                    self.standby.listening.store(true, Ordering::SeqCst);
                    self.drop_standby_view().await;
                    self.load_standby_view().await;
                }
                Change::Lost => {
                    self.standby.listening.store(false, Ordering::SeqCst);
                    self.drop_standby_view().await;
                }
                Change::Everything => {
                    self.drop_standby_view().await;
                    self.load_standby_view().await;
                }
                Change::Keys(keys) => self.invalidate(&keys).await,
            }
        }
    }

    /// Loads the view on a standby that has none and hears notices (again
    /// after each failed attempt, since the active may not have written
    /// what it needs yet).
    pub(super) async fn load_standby_view(&self) {
        let _transition = self.lifecycle.lock().await;
        let view = &self.standby;
        if !self.is_standby()
            || !view.listening.load(Ordering::SeqCst)
            || view.loaded.load(Ordering::SeqCst)
        {
            return;
        }
        match self.load(Load::ReadOnly).await {
            Ok(()) => {
                view.loaded.store(true, Ordering::SeqCst);
                tracing::info!("standby: serving its read-only view");
            }
            Err(err) => {
                tracing::debug!(%err, "standby: no read-only view yet");
                self.unload();
            }
        }
    }

    /// Forgets the view (the next request goes to the active until it is
    /// loaded again).
    pub(super) async fn drop_standby_view(&self) {
        let _transition = self.lifecycle.lock().await;
        self.forget_standby_view();
    }

    /// [`Core::drop_standby_view`] under the lifecycle lock already held.
    pub(super) fn forget_standby_view(&self) {
        if self.standby.loaded.load(Ordering::SeqCst) {
            self.unload();
        }
    }

    /// Drops what was cached of `keys` (full store keys). Also while the
    /// view is not (yet) loaded: a load in progress may have read a key
    /// before this change, so a core change loads it again once done.
    async fn invalidate(&self, keys: &[String]) {
        if !self.is_standby() {
            return;
        }
        if keys
            .iter()
            .any(|key| CORE_PREFIXES.iter().any(|p| key.starts_with(p)))
        {
            if keys.iter().any(|key| key.starts_with("seal/")) {
                if let Err(err) = self.seal.reload_keyring().await {
                    tracing::warn!(%err, "standby: could not read the new keyring");
                }
            }
            self.drop_standby_view().await;
            self.load_standby_view().await;
            return;
        }
        let mounts = self.mounts.snapshot();
        for key in keys {
            if key.starts_with(POLICY_PREFIX) {
                self.policies.invalidate();
            } else if key.starts_with(TOKEN_PREFIX) {
                self.tokens.forget_cached();
            } else if let Some((mounted, rest)) = mounts
                .iter()
                .find_map(|m| key.strip_prefix(m.storage.prefix()).map(|rest| (m, rest)))
            {
                mounted.backend.invalidate(rest);
            }
        }
    }
}
