//! Active/standby on a shared store. Every node of the cluster unseals on
//! its own; the one holding the store's lock is active and serves, the
//! others are standbys that keep their barrier open and load nothing else
//! until they win the lock. The active renews the lock every third of its
//! lifetime and steps down (back to standby, no background work) as soon
//! as a renewal fails or the lifetime passes without one; standbys try for
//! the lock every tenth of it. The store fences writes on the lock, so a
//! former active that has not noticed yet cannot commit anything.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::cluster_cert::ClusterCert;
use super::Core;
use crate::storage::ha::{Advertisement, HaLock, Holder, Term};

/// This node's part in the cluster.
pub struct HaState {
    lock: Arc<dyn HaLock>,
    /// Set once the listener is bound, before the election starts.
    advertisement: OnceLock<Advertisement>,
    tenure: Mutex<Option<Tenure>>,
    /// Set by `sys/step-down`; the election task gives the lock up.
    step_down: tokio::sync::Notify,
    /// What nodes show each other on the cluster port (read from the
    /// barrier once it is open).
    cluster_cert: Mutex<Option<Arc<ClusterCert>>>,
    /// On the active: the standbys that echoed lately, by cluster address.
    echoes: Mutex<HashMap<String, Echo>>,
    /// The term of the lock this node last held (0: never), for metrics.
    last_term: AtomicI64,
    /// How many times this node became the active, for metrics.
    pub leadership_acquired: crate::util::metric::Counter,
}

/// How often a standby tells the active it is there (Vault's echo).
pub const ECHO_INTERVAL: Duration = Duration::from_secs(2);

/// A standby not heard from for this long is no longer listed.
const ECHO_FORGOTTEN: Duration = Duration::from_secs(30);

/// A node of the cluster as a standby describes itself in its echo.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeInfo {
    pub hostname: String,
    pub api_address: String,
    pub cluster_address: String,
    pub version: String,
}

#[derive(Debug, Clone)]
struct Echo {
    node: NodeInfo,
    at: OffsetDateTime,
}

/// One node of `sys/ha-status`: `last_echo` is `None` for the active.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaNode {
    pub node: NodeInfo,
    pub active_node: bool,
    pub last_echo: Option<OffsetDateTime>,
}

/// This node's time as the active.
#[derive(Clone, Copy)]
struct Tenure {
    since: OffsetDateTime,
}

/// What `sys/leader` reports.
pub struct LeaderStatus {
    pub is_self: bool,
    pub leader_address: String,
    pub leader_cluster_address: String,
    /// When this node became active (only on the active).
    pub active_time: Option<OffsetDateTime>,
}

impl HaState {
    pub fn new(lock: Arc<dyn HaLock>) -> Self {
        HaState {
            lock,
            advertisement: OnceLock::new(),
            tenure: Mutex::new(None),
            step_down: tokio::sync::Notify::new(),
            cluster_cert: Mutex::new(None),
            echoes: Mutex::new(HashMap::new()),
            last_term: AtomicI64::new(0),
            leadership_acquired: Default::default(),
        }
    }

    /// The term of the lock this node last held (0 if it never held it).
    pub fn last_term(&self) -> i64 {
        self.last_term.load(Ordering::Relaxed)
    }

    /// Where this node is reached (once; later calls change nothing).
    pub fn advertise(&self, advertisement: Advertisement) {
        let _ = self.advertisement.set(advertisement);
    }

    fn advertisement(&self) -> Advertisement {
        self.advertisement.get().cloned().unwrap_or_default()
    }

    fn tenure(&self) -> Option<Tenure> {
        *self.tenure.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_tenure(&self, tenure: Option<Tenure>) {
        *self.tenure.lock().unwrap_or_else(|e| e.into_inner()) = tenure;
    }

    /// The cluster certificates, once read from the barrier.
    pub fn cluster_cert(&self) -> Option<Arc<ClusterCert>> {
        self.cluster_cert
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(super) fn set_cluster_cert(&self, cert: Option<ClusterCert>) {
        *self.cluster_cert.lock().unwrap_or_else(|e| e.into_inner()) = cert.map(Arc::new);
    }

    /// The active's committed changes, as they commit.
    pub(super) fn watch(&self) -> crate::storage::ha::ChangeFeed {
        self.lock.watch()
    }

    pub fn is_active(&self) -> bool {
        self.tenure().is_some()
    }

    /// The active node as this node knows it: itself, or the lock's holder.
    pub async fn leader(&self) -> Option<LeaderStatus> {
        if let Some(tenure) = self.tenure() {
            let advertisement = self.advertisement();
            return Some(LeaderStatus {
                is_self: true,
                leader_address: advertisement.api_addr,
                leader_cluster_address: advertisement.cluster_addr,
                active_time: Some(tenure.since),
            });
        }
        let holder: Holder = self.lock.holder().await.ok().flatten()?;
        Some(LeaderStatus {
            is_self: holder.identity == self.lock.identity(),
            leader_address: holder.advertisement.api_addr,
            leader_cluster_address: holder.advertisement.cluster_addr,
            active_time: None,
        })
    }

    /// This node, as it describes itself to the others.
    pub fn node_info(&self) -> NodeInfo {
        let advertisement = self.advertisement();
        NodeInfo {
            hostname: hostname(),
            api_address: advertisement.api_addr,
            cluster_address: advertisement.cluster_addr,
            version: crate::VAULT_VERSION.to_string(),
        }
    }

    /// A standby's echo, heard by the active.
    pub fn record_echo(&self, node: NodeInfo) {
        let echo = Echo {
            node,
            at: OffsetDateTime::now_utc(),
        };
        let mut echoes = self.echoes.lock().unwrap_or_else(|e| e.into_inner());
        echoes.insert(echo.node.cluster_address.clone(), echo);
    }

    /// The nodes `sys/ha-status` lists: this one (the active) first, then
    /// the standbys heard from lately, by cluster address.
    pub fn nodes(&self) -> Vec<HaNode> {
        let now = OffsetDateTime::now_utc();
        let mut echoes = self.echoes.lock().unwrap_or_else(|e| e.into_inner());
        echoes.retain(|_, echo| now - echo.at < ECHO_FORGOTTEN);
        let mut standbys: Vec<HaNode> = echoes
            .values()
            .map(|echo| HaNode {
                node: echo.node.clone(),
                active_node: false,
                last_echo: Some(echo.at),
            })
            .collect();
        standbys.sort_by(|a, b| a.node.cluster_address.cmp(&b.node.cluster_address));
        let mut nodes = vec![HaNode {
            node: self.node_info(),
            active_node: self.is_active(),
            last_echo: None,
        }];
        nodes.extend(standbys);
        nodes
    }

    /// Asks the active to give the lock up (`sys/step-down`); nothing on
    /// a standby.
    pub fn request_step_down(&self) {
        if self.is_active() {
            self.step_down.notify_one();
        }
    }

    /// Stops acting as the active at once (sealing): writes are refused
    /// and the election task gives the lock up.
    pub(super) fn resign(&self) {
        self.lock.fence();
        self.set_tenure(None);
        self.echoes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Forgets what was read from the barrier (sealing).
    pub(super) fn forget_cluster_cert(&self) {
        self.set_cluster_cert(None);
    }
}

/// This machine's name, as the kernel knows it (Go's `os.Hostname`).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

impl Core {
    /// The election: runs for the life of the server on a core with HA.
    pub async fn run_ha(self: Arc<Self>) {
        let Some(ha) = self.ha.as_ref() else {
            return;
        };
        tokio::spawn(self.clone().follow_changes());
        let ttl = ha.lock.ttl();
        let retry = ttl / 10;
        // After a step-down the others get the first chance.
        let mut rest = Duration::ZERO;
        loop {
            tokio::time::sleep(retry + rest).await;
            rest = Duration::ZERO;
            if !self.ready_to_lead().await {
                continue;
            }
            let Ok(Some(term)) = ha.lock.acquire(&ha.advertisement()).await else {
                continue;
            };
            let won = Instant::now();
            if let Err(err) = self.become_active().await {
                tracing::error!(%err, "could not take the active role");
                let _ = ha.lock.release(term).await;
                self.become_standby().await;
                continue;
            }
            ha.last_term.store(term.0, Ordering::Relaxed);
            ha.leadership_acquired.inc();
            tracing::info!(term = term.0, "active: holding the HA lock");
            let stepped_down = self.hold(ha, term, won).await;
            self.become_standby().await;
            if stepped_down {
                let _ = ha.lock.release(term).await;
                rest = ttl;
                tracing::info!(term = term.0, "stepped down");
            } else {
                tracing::warn!(term = term.0, "lost the HA lock: standby");
            }
        }
    }

    /// Renews the lock until it is lost or given up; true when given up.
    async fn hold(&self, ha: &HaState, term: Term, acquired: Instant) -> bool {
        let ttl = ha.lock.ttl();
        let mut valid_until = acquired + ttl;
        loop {
            tokio::select! {
                () = tokio::time::sleep(ttl / 3) => {}
                () = ha.step_down.notified() => return true,
            }
            if !ha.is_active() {
                // Sealed meanwhile.
                return true;
            }
            let sent = Instant::now();
            let left = valid_until.saturating_duration_since(sent);
            match tokio::time::timeout(left, ha.lock.renew(term)).await {
                Ok(Ok(true)) => valid_until = sent + ttl,
                Ok(Ok(false)) => return false,
                Ok(Err(err)) => tracing::warn!(%err, "could not renew the HA lock"),
                Err(_) => {}
            }
            if Instant::now() >= valid_until {
                ha.lock.fence();
                return false;
            }
        }
    }

    /// Whether this node may compete for the lock: its barrier is open, or
    /// the store is not initialized yet (initialization needs the lock).
    async fn ready_to_lead(&self) -> bool {
        let seal = &self.seal;
        if seal.barrier.is_sealed() {
            // Another node may have initialized the store since.
            match seal.config().await {
                Ok(config) => self
                    .initialized
                    .store(config.is_some(), std::sync::atomic::Ordering::SeqCst),
                Err(_) => return false,
            }
            if seal.is_static() && self.is_initialized() {
                let _transition = self.lifecycle.lock().await;
                if seal.barrier.is_sealed() && seal.auto_unseal().await.is_err() {
                    return false;
                }
            }
        }
        if seal.barrier.is_sealed() {
            return !self.is_initialized();
        }
        // A standby reports the cluster's identity too (`sys/health`).
        if self.cluster().is_none() {
            if let Ok(Some(cluster)) = self.stored_cluster().await {
                if let Ok(mut slot) = self.cluster.write() {
                    *slot = Some(cluster);
                }
            }
        }
        // And forwards to the active over the cluster port.
        self.cluster_cert().await;
        // And serves what it may from its read-only view.
        self.load_standby_view().await;
        true
    }

    /// The cluster certificates, read from the barrier the first time
    /// (`None` while sealed, or before any active node made them).
    pub async fn cluster_cert(&self) -> Option<Arc<ClusterCert>> {
        let ha = self.ha.as_ref()?;
        if let Some(cert) = ha.cluster_cert() {
            return Some(cert);
        }
        if self.barrier_sealed() {
            return None;
        }
        let cert = ClusterCert::load(self.storage.as_ref()).await.ok()??;
        ha.set_cluster_cert(Some(cert));
        ha.cluster_cert()
    }

    /// Loads what the active serves, then takes the role (until then the
    /// node still answers as a standby).
    async fn become_active(&self) -> crate::logical::Result<()> {
        let _transition = self.lifecycle.lock().await;
        // The standby's read-only view gives way to the active's state.
        self.forget_standby_view();
        let barrier_open = !self.seal.barrier.is_sealed();
        // Initialized through this node meanwhile: already serving.
        if barrier_open && self.is_initialized() && self.is_sealed() {
            self.seal.reload_keyring().await?;
            self.post_unseal().await?;
        }
        if let Some(ha) = &self.ha {
            ha.set_tenure(Some(Tenure {
                since: OffsetDateTime::now_utc(),
            }));
        }
        Ok(())
    }

    /// Back to standby: nothing loaded from the store is kept (the next
    /// active may change it), the barrier stays open.
    async fn become_standby(&self) {
        let _transition = self.lifecycle.lock().await;
        if let Some(ha) = &self.ha {
            ha.resign();
        }
        self.unload();
    }
}
