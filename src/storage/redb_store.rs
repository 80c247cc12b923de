//! The durable embedded store, on redb. Writes go through one writer thread
//! that commits every batch waiting at that moment in a single transaction
//! (group commit): concurrent writers share one fsync, and each caller is
//! answered only after its own data is durable.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableTable, TableDefinition};
use tokio::sync::{mpsc, oneshot};

use super::{children, BatchOp, Pager, Record, Storage, StorageError, StorageResult};

const KV: TableDefinition<&str, &[u8]> = TableDefinition::new("kv");
/// redb's page cache (its default, 1 GiB, would let a large LIST or tidy
/// grow the process far past what a small server should use).
const CACHE_BYTES: usize = 64 * 1024 * 1024;
/// How many waiting batches one transaction may take.
const MAX_GROUP: usize = 256;

type Pending = (Vec<BatchOp>, oneshot::Sender<StorageResult<()>>);

pub struct RedbStorage {
    db: Arc<Database>,
    /// Dropped first on shutdown so the writer thread drains and exits.
    writer: Option<mpsc::UnboundedSender<Pending>>,
    writer_thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for RedbStorage {
    /// Waits for the writer to finish, so the file is closed when we return
    /// (a restart in the same process can open it again).
    fn drop(&mut self) {
        self.writer.take();
        if let Some(thread) = self.writer_thread.take() {
            let _ = thread.join();
        }
    }
}

fn backend_err(err: impl std::fmt::Display) -> StorageError {
    StorageError::Backend(err.to_string())
}

impl RedbStorage {
    /// Opens (or creates) the database file `dir/vaultlet.redb`.
    pub fn open(dir: &Path) -> StorageResult<Self> {
        std::fs::create_dir_all(dir).map_err(|e| backend_err(format!("{}: {e}", dir.display())))?;
        restrict_permissions(dir, 0o700);
        let file = dir.join("vaultlet.redb");
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(&file)
            .map_err(|e| backend_err(format!("{}: {e}", file.display())))?;
        restrict_permissions(&file, 0o600);
        // Create the table only on first open: a write transaction here
        // would cost every restart an fsync.
        let exists = db.begin_read().map_err(backend_err)?.open_table(KV).is_ok();
        if !exists {
            let txn = db.begin_write().map_err(backend_err)?;
            txn.open_table(KV).map_err(backend_err)?;
            txn.commit().map_err(backend_err)?;
        }
        let db = Arc::new(db);
        let (writer, queue) = mpsc::unbounded_channel();
        let writer_db = db.clone();
        let writer_thread = std::thread::Builder::new()
            .name("redb-writer".into())
            .spawn(move || write_loop(&writer_db, queue))
            .map_err(backend_err)?;
        Ok(RedbStorage {
            db,
            writer: Some(writer),
            writer_thread: Some(writer_thread),
        })
    }
}

fn restrict_permissions(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    if let Err(err) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
        tracing::warn!(path = %path.display(), %err, "could not restrict permissions");
    }
}

fn write_loop(db: &Database, mut queue: mpsc::UnboundedReceiver<Pending>) {
    while let Some(first) = queue.blocking_recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let result = commit_group(db, group.iter().map(|(ops, _)| ops));
        for (_, reply) in group {
            let answer = match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(StorageError::Backend(e.clone())),
            };
            let _ = reply.send(answer);
        }
    }
}

fn commit_group<'a>(
    db: &Database,
    batches: impl Iterator<Item = &'a Vec<BatchOp>>,
) -> Result<(), String> {
    let txn = db.begin_write().map_err(|e| e.to_string())?;
    {
        let mut table = txn.open_table(KV).map_err(|e| e.to_string())?;
        for op in batches.flatten() {
            match op {
                BatchOp::Put(k, v) => {
                    table
                        .insert(k.as_str(), v.as_slice())
                        .map_err(|e| e.to_string())?;
                }
                BatchOp::Delete(k) => {
                    table.remove(k.as_str()).map_err(|e| e.to_string())?;
                }
            }
        }
    }
    txn.commit().map_err(|e| e.to_string())
}

#[async_trait::async_trait]
impl Storage for RedbStorage {
    async fn get(&self, key: &str) -> StorageResult<Option<Vec<u8>>> {
        let txn = self.db.begin_read().map_err(backend_err)?;
        let table = txn.open_table(KV).map_err(backend_err)?;
        let value = table.get(key).map_err(backend_err)?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    async fn list(&self, prefix: &str) -> StorageResult<Vec<String>> {
        let txn = self.db.begin_read().map_err(backend_err)?;
        let table = txn.open_table(KV).map_err(backend_err)?;
        let mut keys = Vec::new();
        for entry in table.range(prefix..).map_err(backend_err)? {
            let (key, _) = entry.map_err(backend_err)?;
            let key = key.value();
            if !key.starts_with(prefix) {
                break;
            }
            keys.push(key.to_string());
        }
        Ok(children(prefix, keys.iter().map(String::as_str)))
    }

    async fn list_page(
        &self,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> StorageResult<Vec<String>> {
        let txn = self.db.begin_read().map_err(backend_err)?;
        let table = txn.open_table(KV).map_err(backend_err)?;
        let start = format!("{prefix}{after}");
        let mut page = Pager::new(prefix, after, limit);
        for entry in table.range(start.as_str()..).map_err(backend_err)? {
            let (key, _) = entry.map_err(backend_err)?;
            if !page.push(key.value()) {
                break;
            }
        }
        Ok(page.into_keys())
    }

    async fn batch(&self, ops: Vec<BatchOp>) -> StorageResult<()> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .as_ref()
            .ok_or_else(|| backend_err("storage writer stopped"))?
            .send((ops, reply))
            .map_err(|_| backend_err("storage writer stopped"))?;
        answer
            .await
            .map_err(|_| backend_err("storage writer stopped"))?
    }

    /// One read transaction (redb's MVCC view), walked on a blocking
    /// thread; the channel's bound keeps it in step with the reader.
    async fn snapshot(&self, into: tokio::sync::mpsc::Sender<Record>) -> StorageResult<()> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let txn = db.begin_read().map_err(backend_err)?;
            let table = txn.open_table(KV).map_err(backend_err)?;
            for entry in table.iter().map_err(backend_err)? {
                let (key, value) = entry.map_err(backend_err)?;
                let record = (key.value().to_string(), value.value().to_vec());
                if into.blocking_send(record).is_err() {
                    break;
                }
            }
            Ok(())
        })
        .await
        .map_err(backend_err)?
    }

    fn kind(&self) -> &'static str {
        "redb"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn data_survives_reopening() {
        let dir = std::env::temp_dir().join(format!("vaultlet-redb-{}", uuid::Uuid::new_v4()));
        {
            let store = RedbStorage::open(&dir).expect("open");
            store.put("a/b", b"1".to_vec()).await.expect("put");
            store.put("a/c/d", b"2".to_vec()).await.expect("put");
        }
        let store = RedbStorage::open(&dir).expect("reopen");
        assert_eq!(store.get("a/b").await.expect("get"), Some(b"1".to_vec()));
        assert_eq!(store.list("a/").await.expect("list"), vec!["b", "c/"]);
        let _ = std::fs::remove_dir_all(dir);
    }
}
