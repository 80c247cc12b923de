//! A store seen read-only: what a standby hands the backends when it
//! serves a request by itself. Writes are refused before they reach the
//! shared store (which would refuse them too: a standby holds no lock
//! term) and recorded, so the core knows the request needs the active
//! whatever the handler made of the error.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use std::collections::BTreeMap;

use super::{BatchOp, Record, Storage, StorageError, StorageResult};

/// Whether anything tried to write during one request.
#[derive(Default, Clone)]
pub struct WriteAttempts(Arc<AtomicBool>);

impl WriteAttempts {
    pub fn happened(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    pub(super) fn guard(&self, inner: Arc<dyn Storage>) -> Arc<dyn Storage> {
        Arc::new(ReadOnly {
            inner,
            attempts: self.clone(),
        })
    }
}

struct ReadOnly {
    inner: Arc<dyn Storage>,
    attempts: WriteAttempts,
}

#[async_trait::async_trait]
impl Storage for ReadOnly {
    async fn get(&self, key: &str) -> StorageResult<Option<Vec<u8>>> {
        self.inner.get(key).await
    }

    async fn list(&self, prefix: &str) -> StorageResult<Vec<String>> {
        self.inner.list(prefix).await
    }

    async fn list_page(
        &self,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> StorageResult<Vec<String>> {
        self.inner.list_page(prefix, after, limit).await
    }

    async fn batch(&self, _ops: Vec<BatchOp>) -> StorageResult<()> {
        self.attempts.0.store(true, Ordering::SeqCst);
        Err(StorageError::ReadOnly)
    }

    async fn snapshot(&self, into: tokio::sync::mpsc::Sender<Record>) -> StorageResult<()> {
        self.inner.snapshot(into).await
    }

    async fn replace_all(&self, _records: BTreeMap<String, Vec<u8>>) -> StorageResult<()> {
        self.attempts.0.store(true, Ordering::SeqCst);
        Err(StorageError::ReadOnly)
    }

    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn is_read_only(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{MemoryStorage, StorageView};

    #[tokio::test]
    async fn a_read_only_view_reads_refuses_writes_and_records_them() {
        let store: Arc<dyn Storage> = Arc::new(MemoryStorage::default());
        let view = StorageView::new(store, "logical/a/");
        view.put("k", b"1".to_vec()).await.unwrap();
        let attempts = WriteAttempts::default();
        let read_only = view.read_only(&attempts);
        assert!(read_only.is_read_only() && !view.is_read_only());
        assert_eq!(read_only.get("k").await.unwrap(), Some(b"1".to_vec()));
        assert!(!attempts.happened());
        assert!(matches!(
            read_only.put("k", b"2".to_vec()).await,
            Err(StorageError::ReadOnly)
        ));
        assert!(matches!(
            read_only.delete("k").await,
            Err(StorageError::ReadOnly)
        ));
        assert!(attempts.happened());
        assert_eq!(view.get("k").await.unwrap(), Some(b"1".to_vec()));
    }
}
