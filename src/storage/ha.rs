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
}
