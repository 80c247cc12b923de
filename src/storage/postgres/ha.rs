//! Vault's `ha_table` lock on PostgreSQL, with a term: one row (key
//! `core/lock`) names the holder and how long its claim lasts, judged by
//! the database's clock so that the nodes' clocks do not matter. The term
//! grows by one each time the lock changes hands and the row is never
//! deleted, so terms are never reused.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::Pool;

use super::layout::quote;
use super::{bounded, pool_error, sql_error};
use crate::storage::ha::{Advertisement, ChangeFeed, HaLock, Holder, Term};
use crate::storage::{StorageError, StorageResult};

/// The lock's key in the table, as Vault names its core lock.
const LOCK_KEY: &str = "core/lock";

/// Vault's `ha_table` layout plus the term.
pub(super) fn create_sql(table: &str) -> String {
    let t = quote(table);
    let pkey = quote(&format!("{table}_pkey"));
    format!(
        "CREATE TABLE IF NOT EXISTS {t} (
           ha_key      TEXT COLLATE \"C\" NOT NULL,
           ha_identity TEXT COLLATE \"C\" NOT NULL,
           ha_value    TEXT COLLATE \"C\",
           valid_until TIMESTAMP WITH TIME ZONE NOT NULL,
           CONSTRAINT {pkey} PRIMARY KEY (ha_key)
         );
         ALTER TABLE {t} ADD COLUMN IF NOT EXISTS term BIGINT NOT NULL DEFAULT 0;"
    )
}

/// The term this node writes under, if it holds the lock.
#[derive(Default)]
pub(super) struct Fence {
    term: Mutex<Option<Term>>,
}

impl Fence {
    pub(super) fn term(&self) -> Option<Term> {
        *self.term.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(&self, term: Option<Term>) {
        *self.term.lock().unwrap_or_else(|e| e.into_inner()) = term;
    }

    pub(super) fn clear(&self) {
        self.set(None);
    }
}

/// What a write transaction runs first: it finds the lock row only while
/// this node holds it at its term, and keeps the row from changing hands
/// until the write commits.
pub(super) struct FenceCheck {
    pub(super) sql: String,
    pub(super) identity: String,
    pub(super) fence: Arc<Fence>,
}

impl FenceCheck {
    pub(super) fn new(table: &str, identity: String, fence: Arc<Fence>) -> Self {
        FenceCheck {
            sql: format!(
                "SELECT 1 FROM {} WHERE ha_key = '{LOCK_KEY}' AND ha_identity = $1 AND term = $2 FOR SHARE",
                quote(table)
            ),
            identity,
            fence,
        }
    }
}

/// Where a standby listens for the active's changes.
pub(super) struct Listen {
    pub(super) config: tokio_postgres::Config,
    pub(super) tls: tokio_postgres_rustls::MakeRustlsConnect,
    pub(super) channel: String,
}

pub struct PostgresHaLock {
    pool: Pool,
    table: String,
    identity: String,
    ttl: Duration,
    fence: Arc<Fence>,
    listen: Listen,
}

impl PostgresHaLock {
    pub(super) fn new(
        pool: Pool,
        table: &str,
        check: &FenceCheck,
        ttl: Duration,
        listen: Listen,
    ) -> Self {
        PostgresHaLock {
            pool,
            table: quote(table),
            identity: check.identity.clone(),
            ttl,
            fence: check.fence.clone(),
            listen,
        }
    }

    async fn rows(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> StorageResult<Vec<tokio_postgres::Row>> {
        bounded(async {
            let client = self.pool.get().await.map_err(pool_error)?;
            let statement = client.prepare_cached(sql).await.map_err(sql_error)?;
            client.query(&statement, params).await.map_err(sql_error)
        })
        .await
    }

    fn ttl_seconds(&self) -> f64 {
        self.ttl.as_secs_f64()
    }
}

#[async_trait::async_trait]
impl HaLock for PostgresHaLock {
    async fn acquire(&self, advertisement: &Advertisement) -> StorageResult<Option<Term>> {
        let advertisement = serde_json::to_string(advertisement).unwrap_or_default();
        let t = &self.table;
        let sql = format!(
            "INSERT INTO {t} AS l (ha_key, ha_identity, ha_value, valid_until, term)
             VALUES ($1, $2, $3, now() + make_interval(secs => $4), 1)
             ON CONFLICT (ha_key) DO UPDATE SET ha_identity = excluded.ha_identity,
               ha_value = excluded.ha_value, valid_until = excluded.valid_until, term = l.term + 1
             WHERE l.valid_until < now()
             RETURNING term"
        );
        let rows = self
            .rows(
                &sql,
                &[
                    &LOCK_KEY,
                    &self.identity,
                    &advertisement,
                    &self.ttl_seconds(),
                ],
            )
            .await?;
        let term = rows.first().map(|row| Term(row.get::<_, i64>(0)));
        if term.is_some() {
            self.fence.set(term);
        }
        Ok(term)
    }

    async fn renew(&self, term: Term) -> StorageResult<bool> {
        let sql = format!(
            "UPDATE {} SET valid_until = now() + make_interval(secs => $4)
             WHERE ha_key = $1 AND ha_identity = $2 AND term = $3 RETURNING term",
            self.table
        );
        let renewed = self
            .rows(
                &sql,
                &[&LOCK_KEY, &self.identity, &term.0, &self.ttl_seconds()],
            )
            .await
            .map(|rows| !rows.is_empty());
        if matches!(renewed, Ok(false)) {
            self.fence.set(None);
        }
        renewed
    }

    async fn release(&self, term: Term) -> StorageResult<()> {
        self.fence.set(None);
        let sql = format!(
            "UPDATE {} SET valid_until = now() - interval '1 second'
             WHERE ha_key = $1 AND ha_identity = $2 AND term = $3",
            self.table
        );
        self.rows(&sql, &[&LOCK_KEY, &self.identity, &term.0])
            .await
            .map(drop)
    }

    fn fence(&self) {
        self.fence.set(None);
    }

    async fn holder(&self) -> StorageResult<Option<Holder>> {
        let sql = format!(
            "SELECT ha_identity, ha_value, term FROM {} WHERE ha_key = $1 AND valid_until > now()",
            self.table
        );
        let rows = self.rows(&sql, &[&LOCK_KEY]).await?;
        Ok(rows.first().map(|row| Holder {
            identity: row.get(0),
            advertisement: row
                .get::<_, Option<String>>(1)
                .and_then(|value| serde_json::from_str(&value).ok())
                .unwrap_or_default(),
            term: Term(row.get(2)),
        }))
    }

    fn identity(&self) -> &str {
        &self.identity
    }

    fn ttl(&self) -> Duration {
        self.ttl
    }

    fn watch(&self) -> ChangeFeed {
        super::notify::listen(
            self.listen.config.clone(),
            self.listen.tls.clone(),
            self.listen.channel.clone(),
        )
    }
}

/// The refusal of a write by a node that does not hold the lock.
pub(super) fn fenced() -> StorageError {
    StorageError::ReadOnly
}
