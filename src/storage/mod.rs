//! Physical storage: a flat, ordered key/value space. Backends never see it
//! directly; each gets a [`StorageView`] confined to its own prefix.

mod cache;
pub mod copy;
pub mod ha;
mod memory;
pub mod postgres;
mod read_only;
mod redb_store;
pub mod snapshot;

pub use cache::{Generation, ReadCache};
pub use memory::MemoryStorage;
pub use postgres::{PostgresHaLock, PostgresSettings, PostgresStorage};
pub use read_only::WriteAttempts;
pub use redb_store::RedbStorage;

use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage backend: {0}")]
    Backend(String),
    /// The store cannot be reached now (a networked store's connection is
    /// down or timed out); a retry may succeed.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage key {0:?} is not valid")]
    InvalidKey(String),
    /// A write on a node that may not write: a standby, or a former active
    /// fenced off the shared store. The active may take the request.
    #[error("cannot write to readonly storage")]
    ReadOnly,
}

pub type StorageResult<T> = Result<T, StorageError>;

/// One stored record: its key and its value as stored.
pub type Record = (String, Vec<u8>);

/// One write of an atomic batch.
#[derive(Debug, Clone)]
pub enum BatchOp {
    Put(String, Vec<u8>),
    Delete(String),
}

/// The narrow interface every store implements (memory, redb, and later a
/// networked store). Keys are `/`-separated paths.
#[async_trait::async_trait]
pub trait Storage: Send + Sync {
    async fn get(&self, key: &str) -> StorageResult<Option<Vec<u8>>>;
    async fn put(&self, key: &str, value: Vec<u8>) -> StorageResult<()> {
        self.batch(vec![BatchOp::Put(key.to_string(), value)]).await
    }
    async fn delete(&self, key: &str) -> StorageResult<()> {
        self.batch(vec![BatchOp::Delete(key.to_string())]).await
    }
    /// The direct children of `prefix`, Vault-style: leaf names, and
    /// sub-folder names with a trailing `/`, sorted, each once.
    async fn list(&self, prefix: &str) -> StorageResult<Vec<String>>;
    /// One page of [`Storage::list`]: the children strictly after `after`,
    /// at most `limit` of them (0 = no limit), as Vault's `ListPage`. Stores
    /// override this to seek instead of listing everything.
    async fn list_page(
        &self,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> StorageResult<Vec<String>> {
        let mut keys = self.list(prefix).await?;
        keys.retain(|k| k.as_str() > after);
        if limit > 0 {
            keys.truncate(limit);
        }
        Ok(keys)
    }
    /// Applies all writes at once, durably, or none of them.
    async fn batch(&self, ops: Vec<BatchOp>) -> StorageResult<()>;
    /// Sends every record into `into` as the store stood at one moment,
    /// while writes go on (a point-in-time read); stops early, without an
    /// error, once the receiver is gone.
    async fn snapshot(&self, into: tokio::sync::mpsc::Sender<Record>) -> StorageResult<()>;
    /// Makes `records` the whole content of the store in one atomic step
    /// (a snapshot restore): every other key is deleted. Callers stop
    /// their own writes first; stores override this to do it in place.
    async fn replace_all(&self, records: BTreeMap<String, Vec<u8>>) -> StorageResult<()> {
        let mut ops: Vec<BatchOp> = copy::all_keys(self)
            .await?
            .into_iter()
            .filter(|key| !records.contains_key(key))
            .map(BatchOp::Delete)
            .collect();
        ops.extend(records.into_iter().map(|(k, v)| BatchOp::Put(k, v)));
        self.batch(ops).await
    }
    /// A name for `sys/seal-status` `storage_type`.
    fn kind(&self) -> &'static str;
    /// Whether every write is refused (a standby's view).
    fn is_read_only(&self) -> bool {
        false
    }
}

/// Collapses full keys under `prefix` into Vault's list answer.
pub(crate) fn children<'a>(prefix: &str, keys: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for key in keys {
        let Some(rest) = key.strip_prefix(prefix) else {
            continue;
        };
        let child = match rest.find('/') {
            Some(i) => &rest[..=i],
            None => rest,
        };
        if child.is_empty() || out.last().is_some_and(|last| last == child) {
            continue;
        }
        out.push(child.to_string());
    }
    out.sort();
    out.dedup();
    out
}

/// [`children`] over keys fed in ascending order, streaming: skips children
/// up to and including `after`, stops after `limit` (0 = no limit). Children
/// of one folder are contiguous in key order, so deduplication is local.
pub(crate) struct Pager<'p> {
    prefix: &'p str,
    after: &'p str,
    limit: usize,
    out: Vec<String>,
}

impl<'p> Pager<'p> {
    pub(crate) fn new(prefix: &'p str, after: &'p str, limit: usize) -> Self {
        Pager {
            prefix,
            after,
            limit,
            out: Vec::new(),
        }
    }

    /// Takes the next key; `false` once the page is complete or the keys
    /// have left the prefix.
    pub(crate) fn push(&mut self, key: &str) -> bool {
        let Some(rest) = key.strip_prefix(self.prefix) else {
            return false;
        };
        let child = match rest.find('/') {
            Some(i) => &rest[..=i],
            None => rest,
        };
        if child.is_empty()
            || child <= self.after
            || self.out.last().is_some_and(|last| last == child)
        {
            return true;
        }
        if self.limit > 0 && self.out.len() == self.limit {
            return false;
        }
        self.out.push(child.to_string());
        true
    }

    pub(crate) fn into_keys(self) -> Vec<String> {
        self.out
    }
}

#[cfg(test)]
fn children_page<'a>(
    prefix: &str,
    after: &str,
    limit: usize,
    keys: impl Iterator<Item = &'a str>,
) -> Vec<String> {
    let mut page = Pager::new(prefix, after, limit);
    for key in keys {
        if !page.push(key) {
            break;
        }
    }
    page.into_keys()
}

/// A view of the store confined to one prefix (a mount's `logical/<uuid>/`).
/// Every key a backend uses is joined under the prefix, so no key can reach
/// another mount's data.
#[derive(Clone)]
pub struct StorageView {
    inner: Arc<dyn Storage>,
    prefix: String,
}

impl StorageView {
    pub fn new(inner: Arc<dyn Storage>, prefix: impl Into<String>) -> Self {
        StorageView {
            inner,
            prefix: prefix.into(),
        }
    }

    fn key(&self, key: &str) -> StorageResult<String> {
        if key.split('/').any(|segment| segment == "..") {
            return Err(StorageError::InvalidKey(key.to_string()));
        }
        Ok(format!("{}{}", self.prefix, key))
    }

    pub async fn get(&self, key: &str) -> StorageResult<Option<Vec<u8>>> {
        self.inner.get(&self.key(key)?).await
    }

    pub async fn put(&self, key: &str, value: Vec<u8>) -> StorageResult<()> {
        self.inner.put(&self.key(key)?, value).await
    }

    pub async fn delete(&self, key: &str) -> StorageResult<()> {
        self.inner.delete(&self.key(key)?).await
    }

    pub async fn list(&self, prefix: &str) -> StorageResult<Vec<String>> {
        self.inner.list(&self.key(prefix)?).await
    }

    /// The leaf keys directly under `prefix` (sub-folders left out).
    pub async fn list_leaves(&self, prefix: &str) -> StorageResult<Vec<String>> {
        let mut keys = self.list(prefix).await?;
        keys.retain(|k| !k.ends_with('/'));
        Ok(keys)
    }

    pub async fn list_page(
        &self,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> StorageResult<Vec<String>> {
        self.inner.list_page(&self.key(prefix)?, after, limit).await
    }

    pub async fn batch(&self, ops: Vec<BatchOp>) -> StorageResult<()> {
        let ops = ops
            .into_iter()
            .map(|op| match op {
                BatchOp::Put(k, v) => Ok(BatchOp::Put(self.key(&k)?, v)),
                BatchOp::Delete(k) => Ok(BatchOp::Delete(self.key(&k)?)),
            })
            .collect::<StorageResult<Vec<_>>>()?;
        self.inner.batch(ops).await
    }

    /// Reads and decodes a JSON value.
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> StorageResult<Option<T>> {
        match self.get(key).await? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| StorageError::Backend(format!("corrupt record {key:?}: {e}"))),
        }
    }

    /// Encodes and writes a JSON value.
    pub async fn put_json<T: serde::Serialize>(&self, key: &str, value: &T) -> StorageResult<()> {
        let bytes = serde_json::to_vec(value).map_err(|e| StorageError::Backend(e.to_string()))?;
        self.put(key, bytes).await
    }

    pub fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    /// Where the view's keys live in the store.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The same view, refusing every write and counting the attempts in
    /// `attempts` (a standby serving a request by itself).
    pub fn read_only(&self, attempts: &WriteAttempts) -> StorageView {
        StorageView {
            inner: attempts.guard(self.inner.clone()),
            prefix: self.prefix.clone(),
        }
    }

    /// Whether writes through this view are refused (the handler may send
    /// a request that must write to the active before doing any work).
    pub fn is_read_only(&self) -> bool {
        self.inner.is_read_only()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_lists_leaves_and_folders_once() {
        let keys = ["a/x", "a/y/1", "a/y/2", "a/z", "b/q"];
        assert_eq!(children("a/", keys.iter().copied()), vec!["x", "y/", "z"]);
    }

    #[test]
    fn children_page_seeks_and_limits() {
        let keys = ["a/x", "a/y/1", "a/y/2", "a/z", "b/q"];
        assert_eq!(
            children_page("a/", "", 2, keys.iter().copied()),
            vec!["x", "y/"]
        );
        assert_eq!(
            children_page("a/", "x", 0, keys.iter().copied()),
            vec!["y/", "z"]
        );
        assert_eq!(
            children_page("a/", "y/", 5, keys.iter().copied()),
            vec!["z"]
        );
    }

    #[tokio::test]
    async fn list_page_agrees_with_list() {
        let store = MemoryStorage::default();
        for k in ["p/1", "p/2", "p/3/x", "p/4", "q/1"] {
            store.put(k, b"v".to_vec()).await.ok();
        }
        assert_eq!(
            store.list_page("p/", "2", 2).await.ok(),
            Some(vec!["3/".to_string(), "4".to_string()])
        );
        assert_eq!(
            store.list_page("p/", "", 0).await.ok(),
            store.list("p/").await.ok()
        );
    }

    #[tokio::test]
    async fn a_view_cannot_escape_its_prefix() {
        let store: Arc<dyn Storage> = Arc::new(MemoryStorage::default());
        let a = StorageView::new(store.clone(), "logical/a/");
        let b = StorageView::new(store.clone(), "logical/b/");
        a.put("k", b"1".to_vec()).await.ok();
        assert_eq!(b.get("k").await.ok().flatten(), None);
        assert!(b.get("../a/k").await.is_err());
        assert_eq!(a.list("").await.ok(), Some(vec!["k".to_string()]));
    }
}
