//! The PostgreSQL store, with Vault's `storage "postgresql"` table layout:
//! one row per key, split into `path` (the folder, with leading and
//! trailing `/`), `key` (the last segment) and `parent_path` (the folder's
//! folder), so a LIST reads one folder through the primary key and the
//! `parent_path` index. Batches are one SQL transaction; values arrive
//! barrier-encrypted like on every other store.
//!
//! Connections come from a deadpool pool of tokio-postgres clients. A
//! database that cannot be reached (refused, timed out, connection lost,
//! shutting down) is a [`StorageError::Unavailable`], which requests see as
//! a 503; every operation is bounded by [`OPERATION_TIMEOUT`].

mod ha;
mod layout;
mod notify;
mod tls;

pub use ha::PostgresHaLock;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};

use super::ha::HaLock;
use super::{BatchOp, Record, Storage, StorageError, StorageResult};
use ha::{Fence, FenceCheck};
use layout::{split_key, ListQuery, Table};

/// The longest any one storage operation may take before it is reported
/// as unavailable (connecting included).
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Rows per round trip while a snapshot is read.
const SNAPSHOT_PAGE: i32 = 512;
/// Records per INSERT while a snapshot is restored.
const RESTORE_CHUNK: usize = 2048;
/// A restore writes the whole store in one transaction: longer than one
/// operation may take.
const RESTORE_TIMEOUT: Duration = Duration::from_secs(600);
/// How often idle connections beyond `max_idle_connections` are closed.
const IDLE_TRIM_PERIOD: Duration = Duration::from_secs(30);

/// Vault's `storage "postgresql"` settings.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresSettings {
    pub connection_url: String,
    pub table: String,
    pub ha_table: String,
    /// Connections at most (Vault's default: 128).
    pub max_parallel: usize,
    /// Idle connections kept open (0: as many as were opened).
    pub max_idle_connections: usize,
    /// Do not create the tables when missing.
    pub skip_create_table: bool,
    /// Several nodes share the database, one active at a time.
    pub ha_enabled: bool,
    /// How long the active's lock lives without renewal (vaultlet's own
    /// setting: `ha_lock_ttl`).
    pub ha_lock_ttl: Duration,
}

impl PostgresSettings {
    pub const DEFAULT_TABLE: &'static str = "vault_kv_store";
    pub const DEFAULT_HA_TABLE: &'static str = "vault_ha_locks";
    pub const DEFAULT_MAX_PARALLEL: usize = 128;
    /// Short enough that a standby takes over within 2 s of the active's
    /// death (Vault's lock lives 15 s).
    pub const DEFAULT_HA_LOCK_TTL: Duration = Duration::from_millis(1500);

    pub fn new(connection_url: impl Into<String>) -> Self {
        PostgresSettings {
            connection_url: connection_url.into(),
            table: Self::DEFAULT_TABLE.into(),
            ha_table: Self::DEFAULT_HA_TABLE.into(),
            max_parallel: Self::DEFAULT_MAX_PARALLEL,
            max_idle_connections: 0,
            skip_create_table: false,
            ha_enabled: false,
            ha_lock_ttl: Self::DEFAULT_HA_LOCK_TTL,
        }
    }
}

/// The connection URL carries a password: never print it.
impl std::fmt::Debug for PostgresSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSettings")
            .field("connection_url", &"<redacted>")
            .field("table", &self.table)
            .field("ha_table", &self.ha_table)
            .field("max_parallel", &self.max_parallel)
            .field("max_idle_connections", &self.max_idle_connections)
            .field("skip_create_table", &self.skip_create_table)
            .field("ha_enabled", &self.ha_enabled)
            .field("ha_lock_ttl", &self.ha_lock_ttl)
            .finish()
    }
}

pub struct PostgresStorage {
    pool: Pool,
    table: Table,
    ha: Option<HaSettings>,
}

/// The HA side of a store with `ha_enabled`.
struct HaSettings {
    table: String,
    ttl: Duration,
    /// Checked by every write.
    check: FenceCheck,
    /// Where writes announce their keys and standbys listen.
    channel: String,
    /// How a standby opens its listening connection.
    listen: (
        tokio_postgres::Config,
        tokio_postgres_rustls::MakeRustlsConnect,
    ),
}

impl PostgresStorage {
    /// Builds the pool and, unless told not to, creates the tables. Fails
    /// with [`StorageError::Unavailable`] while the database cannot be
    /// reached, so the caller can retry.
    pub async fn open(settings: &PostgresSettings) -> StorageResult<Self> {
        let tls::Connection { mut config, tls } =
            tls::connection(&settings.connection_url).map_err(StorageError::Backend)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        // A peer that vanished without closing the connection is noticed by
        // the kernel instead of hanging a request.
        config.keepalives_idle(Duration::from_secs(5));
        config.tcp_user_timeout(OPERATION_TIMEOUT);
        let listen = (config.clone(), tls.clone());
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(settings.max_parallel.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(OPERATION_TIMEOUT))
            .create_timeout(Some(OPERATION_TIMEOUT))
            .recycle_timeout(Some(OPERATION_TIMEOUT))
            .build()
            .map_err(|e| StorageError::Backend(e.to_string()))?;
        let table = Table::new(&settings.table).map_err(StorageError::Backend)?;
        let ha = settings.ha_enabled.then(|| HaSettings {
            table: settings.ha_table.clone(),
            ttl: settings.ha_lock_ttl,
            check: FenceCheck::new(
                &settings.ha_table,
                crate::util::ids::uuid(),
                Arc::new(Fence::default()),
            ),
            channel: notify::channel(&settings.table),
            listen,
        });
        let store = PostgresStorage { pool, table, ha };
        if !settings.skip_create_table {
            store.create_table().await?;
        }
        if settings.max_idle_connections > 0 {
            tokio::spawn(trim_idle(store.pool.clone(), settings.max_idle_connections));
        }
        Ok(store)
    }

    /// The lock this node competes for, when `ha_enabled`.
    pub fn ha_lock(&self) -> Option<Arc<dyn HaLock>> {
        let ha = self.ha.as_ref()?;
        Some(Arc::new(PostgresHaLock::new(
            self.pool.clone(),
            &ha.table,
            &ha.check,
            ha.ttl,
            ha::Listen {
                config: ha.listen.0.clone(),
                tls: ha.listen.1.clone(),
                channel: ha.channel.clone(),
            },
        )))
    }

    /// The channel this store's writes notify, with `ha_enabled`; a
    /// standby's listening connection shows it as its `application_name`.
    pub fn changes_channel(&self) -> Option<&str> {
        self.ha.as_ref().map(|ha| ha.channel.as_str())
    }

    async fn create_table(&self) -> StorageResult<()> {
        let mut sql = self.table.create_sql();
        if let Some(ha) = &self.ha {
            sql.push('\n');
            sql.push_str(&ha::create_sql(&ha.table));
        }
        bounded(async {
            let client = self.pool.get().await.map_err(pool_error)?;
            // Several nodes may start at once: creating the same table
            // concurrently can fail on the catalog's unique index, so one
            // advisory lock serialises the creation.
            let sql = format!(
                "SELECT pg_advisory_lock(hashtext('vaultlet create table'));\n{sql}\nSELECT pg_advisory_unlock(hashtext('vaultlet create table'));"
            );
            let created = client.batch_execute(&sql).await.map_err(sql_error);
            if created.is_err() {
                let _ = client
                    .batch_execute("SELECT pg_advisory_unlock_all()")
                    .await;
            }
            created
        })
        .await
    }
}

/// Closes idle connections beyond `keep` now and then (Go's
/// `SetMaxIdleConns`, which Vault's `max_idle_connections` sets).
async fn trim_idle(pool: Pool, keep: usize) {
    let mut interval = tokio::time::interval(IDLE_TRIM_PERIOD);
    loop {
        interval.tick().await;
        if pool.is_closed() {
            return;
        }
        let mut kept = 0;
        pool.retain(|_, _| {
            kept += 1;
            kept <= keep
        });
    }
}

/// Runs one storage operation under [`OPERATION_TIMEOUT`].
async fn bounded<T>(op: impl std::future::Future<Output = StorageResult<T>>) -> StorageResult<T> {
    tokio::time::timeout(OPERATION_TIMEOUT, op)
        .await
        .unwrap_or_else(|_| {
            Err(StorageError::Unavailable(format!(
                "PostgreSQL did not answer within {}s",
                OPERATION_TIMEOUT.as_secs()
            )))
        })
}

fn pool_error(err: deadpool_postgres::PoolError) -> StorageError {
    match err {
        deadpool_postgres::PoolError::Backend(err) => sql_error(err),
        other => StorageError::Unavailable(format!("PostgreSQL: {other}")),
    }
}

/// Sorts a database error: connection trouble and a server that is
/// shutting down or overloaded make the store unavailable (a retry may
/// work); anything else is a failure of the store.
fn sql_error(err: tokio_postgres::Error) -> StorageError {
    let transient = match err.code() {
        None => true,
        Some(code) => {
            let code = code.code();
            code.starts_with("08") // connection exception
                || code.starts_with("53") // insufficient resources
                || code.starts_with("57P") // admin/crash shutdown, cannot connect now
                || code == "40001" // serialization failure
                || code == "40P01" // deadlock detected
        }
    };
    let text = match err.as_db_error() {
        Some(db) => format!("PostgreSQL: {}: {}", db.code().code(), db.message()),
        None => {
            let mut text = format!("PostgreSQL: {err}");
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                text.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            text
        }
    };
    if transient {
        StorageError::Unavailable(text)
    } else {
        StorageError::Backend(text)
    }
}

#[async_trait::async_trait]
impl Storage for PostgresStorage {
    async fn get(&self, key: &str) -> StorageResult<Option<Vec<u8>>> {
        let (path, key, _) = split_key(key);
        bounded(async {
            let client = self.pool.get().await.map_err(pool_error)?;
            let statement = client
                .prepare_cached(&self.table.get_sql())
                .await
                .map_err(sql_error)?;
            let row = client
                .query_opt(&statement, &[&path, &key])
                .await
                .map_err(sql_error)?;
            Ok(row.map(|row| row.get::<_, Vec<u8>>(0)))
        })
        .await
    }

    async fn list(&self, prefix: &str) -> StorageResult<Vec<String>> {
        self.list_page(prefix, "", 0).await
    }

    async fn list_page(
        &self,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> StorageResult<Vec<String>> {
        let query = ListQuery::new(prefix, after, limit);
        bounded(async {
            let client = self.pool.get().await.map_err(pool_error)?;
            let statement = client
                .prepare_cached(&self.table.list_sql())
                .await
                .map_err(sql_error)?;
            let rows = client
                .query(&statement, &query.params())
                .await
                .map_err(sql_error)?;
            Ok(rows.iter().map(|row| row.get::<_, String>(0)).collect())
        })
        .await
    }

    async fn batch(&self, ops: Vec<BatchOp>) -> StorageResult<()> {
        if ops.is_empty() {
            return Ok(());
        }
        bounded(async {
            let mut client = self.pool.get().await.map_err(pool_error)?;
            let put = client
                .prepare_cached(&self.table.put_sql())
                .await
                .map_err(sql_error)?;
            let delete = client
                .prepare_cached(&self.table.delete_sql())
                .await
                .map_err(sql_error)?;
            let txn = client.transaction().await.map_err(sql_error)?;
            self.fence_and_notify(&txn, || notify::payload(&ops))
                .await?;
            for op in &ops {
                match op {
                    BatchOp::Put(full, value) => {
                        let (path, key, parent) = split_key(full);
                        txn.execute(&put, &[&parent, &path, &key, value])
                            .await
                            .map_err(sql_error)?;
                    }
                    BatchOp::Delete(full) => {
                        let (path, key, _) = split_key(full);
                        txn.execute(&delete, &[&path, &key])
                            .await
                            .map_err(sql_error)?;
                    }
                }
            }
            txn.commit().await.map_err(sql_error)
        })
        .await
    }

    /// One `REPEATABLE READ READ ONLY` transaction (one view of the table
    /// for its whole length), read through a portal a page at a time.
    async fn snapshot(&self, into: tokio::sync::mpsc::Sender<Record>) -> StorageResult<()> {
        let mut client = bounded(async { self.pool.get().await.map_err(pool_error) }).await?;
        let txn = bounded(async {
            client
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await
                .map_err(sql_error)
        })
        .await?;
        let portal = bounded(async {
            txn.bind(&self.table.snapshot_sql(), &[])
                .await
                .map_err(sql_error)
        })
        .await?;
        loop {
            let rows = bounded(async {
                txn.query_portal(&portal, SNAPSHOT_PAGE)
                    .await
                    .map_err(sql_error)
            })
            .await?;
            if rows.is_empty() {
                return Ok(());
            }
            for row in rows {
                let (path, key) = (row.get::<_, String>(0), row.get::<_, String>(1));
                let full = format!("{}{key}", path.strip_prefix('/').unwrap_or(&path));
                if into.send((full, row.get::<_, Vec<u8>>(2))).await.is_err() {
                    return Ok(());
                }
            }
        }
    }

    /// One transaction (fenced like every write): the table emptied, then
    /// the records inserted a few thousand per statement.
    async fn replace_all(&self, records: BTreeMap<String, Vec<u8>>) -> StorageResult<()> {
        let work = async {
            let mut client = self.pool.get().await.map_err(pool_error)?;
            let txn = client.transaction().await.map_err(sql_error)?;
            self.fence_and_notify(&txn, notify::everything).await?;
            txn.batch_execute(&self.table.delete_all_sql())
                .await
                .map_err(sql_error)?;
            let insert = txn
                .prepare(&self.table.insert_many_sql())
                .await
                .map_err(sql_error)?;
            let records: Vec<_> = records.into_iter().collect();
            for chunk in records.chunks(RESTORE_CHUNK) {
                let mut columns: [Vec<String>; 3] = Default::default();
                let mut values = Vec::with_capacity(chunk.len());
                for (full, value) in chunk {
                    let (path, key, parent) = split_key(full);
                    columns[0].push(parent);
                    columns[1].push(path);
                    columns[2].push(key);
                    values.push(value.as_slice());
                }
                let [parents, paths, keys] = &columns;
                txn.execute(&insert, &[parents, paths, keys, &values])
                    .await
                    .map_err(sql_error)?;
            }
            txn.commit().await.map_err(sql_error)
        };
        tokio::time::timeout(RESTORE_TIMEOUT, work)
            .await
            .unwrap_or_else(|_| {
                Err(StorageError::Unavailable(format!(
                    "PostgreSQL did not finish the restore within {}s",
                    RESTORE_TIMEOUT.as_secs()
                )))
            })
    }

    fn kind(&self) -> &'static str {
        "postgresql"
    }
}

impl PostgresStorage {
    /// With HA: in the write's own transaction, that this node still holds
    /// the lock with the term it won it at (`FOR SHARE` keeps the row as
    /// it is until the commit), so a former active cannot write.
    /// With HA: refuses the transaction unless this node still holds the
    /// lock's term, and queues the notice (`changes`) that standbys
    /// receive when, and only if, the transaction commits.
    async fn fence_and_notify(
        &self,
        txn: &deadpool_postgres::Transaction<'_>,
        changes: impl FnOnce() -> String,
    ) -> StorageResult<()> {
        let Some(ha) = &self.ha else {
            return Ok(());
        };
        let check = &ha.check;
        let term = check.fence.term().ok_or_else(ha::fenced)?;
        let statement = txn.prepare_cached(&check.sql).await.map_err(sql_error)?;
        let held = txn
            .query_opt(&statement, &[&check.identity, &term.0])
            .await
            .map_err(sql_error)?;
        if held.is_none() {
            check.fence.clear();
            return Err(ha::fenced());
        }
        let notice = txn
            .prepare_cached("SELECT pg_notify($1, $2)")
            .await
            .map_err(sql_error)?;
        txn.execute(&notice, &[&ha.channel, &changes()])
            .await
            .map_err(sql_error)?;
        Ok(())
    }
}
