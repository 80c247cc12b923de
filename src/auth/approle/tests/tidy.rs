//! The tidy of secret IDs: on request, on the core's periodic tick, one at
//! a time, and never stopped for good by a round that panics.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use super::Harness;
use crate::auth::approle::secret_id::AccessorEntry;
use crate::auth::approle::tidy::TidyRun;
use crate::auth::approle::AppRoleBackend;
use crate::logical::framework::Backend;
use crate::logical::Operation::{List, Update};
use crate::storage::{BatchOp, MemoryStorage, Storage, StorageResult, StorageView};
use crate::util::keyed_hash::Hasher;

/// An accessor index whose secret ID does not exist: what a tidy removes.
async fn plant_orphan_accessor(storage: &StorageView, name: &str) {
    let orphan = AccessorEntry {
        secret_id_hmac: "00".into(),
        bucket: "gone".into(),
    };
    storage
        .put_json(&format!("accessor/{name}"), &orphan)
        .await
        .expect("planted");
}

#[tokio::test]
async fn tidy_removes_expired_secret_ids_in_the_background() {
    let h = Harness::new().await;
    assert!(h.no_content(Update, "role/t", json!({})).await);
    let _short = h.secret_id("t", json!({"ttl": 1})).await;
    let _long = h.secret_id("t", json!({})).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let started = h
        .call(Update, "tidy/secret-id", Value::Null)
        .await
        .expect("tidy starts");
    assert_eq!(started.response.status, Some(202));
    assert_eq!(started.response.warnings.len(), 1);
    for _ in 0..50 {
        if h.storage()
            .list("accessor/")
            .await
            .unwrap_or_default()
            .len()
            == 1
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        h.data(List, "role/t/secret-id", json!({})).await["keys"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn the_cores_periodic_tick_tidies() {
    let h = Harness::new().await;
    plant_orphan_accessor(&h.storage(), "orphan").await;
    h.core.run_periodic().await;
    assert_eq!(h.storage().list("accessor/").await.ok(), Some(Vec::new()));
}

fn backend_on(storage: Arc<dyn Storage>) -> (AppRoleBackend, StorageView) {
    (
        AppRoleBackend::new(Hasher::new(b"test-key")),
        StorageView::new(storage, "auth/approle-test/"),
    )
}

#[tokio::test]
async fn one_tidy_runs_at_a_time() {
    let (backend, storage) = backend_on(Arc::new(MemoryStorage::default()));
    plant_orphan_accessor(&storage, "orphan").await;
    let running = TidyRun::start(&backend.inner).expect("no tidy runs yet");
    assert!(TidyRun::start(&backend.inner).is_none());
    assert!(backend.periodic(&storage).await.is_ok());
    assert_eq!(
        storage.list("accessor/").await.ok().map(|k| k.len()),
        Some(1)
    );
    drop(running);
    assert!(backend.periodic(&storage).await.is_ok());
    assert_eq!(storage.list("accessor/").await.ok(), Some(Vec::new()));
}

/// Storage whose listing of secret IDs panics while `fail` is set.
struct PanicsOnList {
    inner: MemoryStorage,
    fail: AtomicBool,
}

#[async_trait::async_trait]
impl Storage for PanicsOnList {
    async fn get(&self, key: &str) -> StorageResult<Option<Vec<u8>>> {
        self.inner.get(key).await
    }
    async fn list(&self, prefix: &str) -> StorageResult<Vec<String>> {
        if prefix.ends_with("secret_id/") && self.fail.load(Ordering::SeqCst) {
            panic!("storage failure while listing secret IDs");
        }
        self.inner.list(prefix).await
    }
    async fn batch(&self, ops: Vec<BatchOp>) -> StorageResult<()> {
        self.inner.batch(ops).await
    }
    async fn snapshot(
        &self,
        into: tokio::sync::mpsc::Sender<crate::storage::Record>,
    ) -> StorageResult<()> {
        self.inner.snapshot(into).await
    }
    fn kind(&self) -> &'static str {
        "panics-on-list"
    }
}

/// A round that panics (in its own task, as the core runs it) gives the
/// tidy back: the next round runs.
#[tokio::test]
async fn a_panicking_tidy_loses_its_round_only() {
    let failing = Arc::new(PanicsOnList {
        inner: MemoryStorage::default(),
        fail: AtomicBool::new(true),
    });
    let (backend, storage) = backend_on(failing.clone());
    let backend = Arc::new(backend);
    plant_orphan_accessor(&storage, "orphan").await;
    let round = {
        let (backend, storage) = (backend.clone(), storage.clone());
        tokio::spawn(async move { backend.periodic(&storage).await })
    };
    assert!(round.await.is_err_and(|e| e.is_panic()));
    assert!(!backend.inner.tidy_running.load(Ordering::SeqCst));
    failing.fail.store(false, Ordering::SeqCst);
    assert!(backend.periodic(&storage).await.is_ok());
    assert_eq!(storage.list("accessor/").await.ok(), Some(Vec::new()));
}
