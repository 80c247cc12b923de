//! High availability on a shared store: one lock, held by the active node,
//! whose term grows by one each time the lock changes hands. The store
//! fences its own writes with it: a write commits only while the lock row
//! still names this node at the term it acquired, checked in the write's
//! own transaction, so a former active that was paused or cut off cannot
//! commit anything once another node took over.

use std::time::Duration;

use super::StorageResult;

/// The term of one tenure of the lock; a later tenure has a larger term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Term(pub i64);

/// Where a node is reached, as it advertises itself in the lock.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Advertisement {
    pub api_addr: String,
    pub cluster_addr: String,
}

/// The node that holds the lock, as the lock row names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// This process's identity (random per start).
    pub identity: String,
    pub advertisement: Advertisement,
    pub term: Term,
}

/// What changed in the shared store, as a standby learns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Notices flow (again): anything may have changed before.
    Listening,
    /// These keys were written by a committed transaction.
    Keys(Vec<String>),
    /// A committed transaction changed more than one notice can name.
    Everything,
    /// Notices stopped: nothing read before can be trusted until
    /// [`Change::Listening`].
    Lost,
    /// Every change committed before [`ChangeFeed::sync`] handed out this
    /// number came before this.
    Synced(u64),
}

/// The changes the active commits, in commit order, and a way to learn
/// that all committed so far have arrived.
pub struct ChangeFeed {
    pub changes: tokio::sync::mpsc::UnboundedReceiver<Change>,
    pub sync: SyncRequests,
}

/// Asks the store for a marker that arrives after every change committed
/// before the ask ([`Change::Synced`]).
pub struct SyncRequests {
    next: std::sync::atomic::AtomicU64,
    sender: tokio::sync::mpsc::UnboundedSender<u64>,
}

impl SyncRequests {
    pub fn new(sender: tokio::sync::mpsc::UnboundedSender<u64>) -> Self {
        SyncRequests {
            next: std::sync::atomic::AtomicU64::new(1),
            sender,
        }
    }

    /// The number of the marker to wait for (a later marker will do too).
    pub fn request(&self) -> u64 {
        let number = self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _ = self.sender.send(number);
        number
    }
}

/// The lock of a store shared by several nodes.
#[async_trait::async_trait]
pub trait HaLock: Send + Sync {
    /// Takes the lock when it is free or expired, advertising this node as
    /// `advertisement`. `Some(term)` once this node holds it; writes are
    /// allowed from then on.
    async fn acquire(&self, advertisement: &Advertisement) -> StorageResult<Option<Term>>;
    /// Extends the lock held at `term` by one lifetime; `false` when it was
    /// lost (writes are refused from then on).
    async fn renew(&self, term: Term) -> StorageResult<bool>;
    /// Gives the lock up now (writes are refused from then on).
    async fn release(&self, term: Term) -> StorageResult<()>;
    /// Refuses writes at once, without asking the store (the lock was not
    /// renewed in time).
    fn fence(&self);
    /// The current holder, while its lock is valid.
    async fn holder(&self) -> StorageResult<Option<Holder>>;
    /// This node's identity in the lock.
    fn identity(&self) -> &str;
    /// How long the lock lives without renewal.
    fn ttl(&self) -> Duration;
    /// The changes the active commits, as they commit (for the caches of a
    /// standby); to be called once.
    fn watch(&self) -> ChangeFeed;
}
