//! The in-memory store of dev mode.

use std::collections::BTreeMap;
use std::sync::RwLock;

use super::{children, BatchOp, Pager, Record, Storage, StorageError, StorageResult};

#[derive(Default)]
pub struct MemoryStorage {
    entries: RwLock<BTreeMap<String, Vec<u8>>>,
}

fn poisoned() -> StorageError {
    StorageError::Backend("memory store lock poisoned".into())
}

#[async_trait::async_trait]
impl Storage for MemoryStorage {
    async fn get(&self, key: &str) -> StorageResult<Option<Vec<u8>>> {
        Ok(self
            .entries
            .read()
            .map_err(|_| poisoned())?
            .get(key)
            .cloned())
    }

    async fn list(&self, prefix: &str) -> StorageResult<Vec<String>> {
        let entries = self.entries.read().map_err(|_| poisoned())?;
        let keys = entries
            .range(prefix.to_string()..)
            .map(|(k, _)| k.as_str())
            .take_while(|k| k.starts_with(prefix));
        Ok(children(prefix, keys))
    }

    async fn list_page(
        &self,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> StorageResult<Vec<String>> {
        let entries = self.entries.read().map_err(|_| poisoned())?;
        let start = format!("{prefix}{after}");
        let mut page = Pager::new(prefix, after, limit);
        for (key, _) in entries.range(start..) {
            if !page.push(key) {
                break;
            }
        }
        Ok(page.into_keys())
    }

    async fn batch(&self, ops: Vec<BatchOp>) -> StorageResult<()> {
        let mut entries = self.entries.write().map_err(|_| poisoned())?;
        for op in ops {
            match op {
                BatchOp::Put(k, v) => {
                    entries.insert(k, v);
                }
                BatchOp::Delete(k) => {
                    entries.remove(&k);
                }
            }
        }
        Ok(())
    }

    /// A copy of the map taken under the read lock, then sent.
    async fn snapshot(&self, into: tokio::sync::mpsc::Sender<Record>) -> StorageResult<()> {
        let copy = self.entries.read().map_err(|_| poisoned())?.clone();
        for record in copy {
            if into.send(record).await.is_err() {
                break;
            }
        }
        Ok(())
    }

    async fn replace_all(&self, records: BTreeMap<String, Vec<u8>>) -> StorageResult<()> {
        *self.entries.write().map_err(|_| poisoned())? = records;
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "inmem"
    }
}
