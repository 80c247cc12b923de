//! The tidy of secret IDs: expired ones, ones without an accessor index
//! and accessor indexes without a secret ID are removed, on request
//! (`tidy/secret-id`, in the background) and on every tick of the core's
//! periodic timer. One runs at a time.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::secret_id::{secret_key, AccessorEntry, SecretIdEntry};
use super::{AppRoleBackend, AppRolePath, Inner};
use crate::handler;
use crate::logical::{Request, Response, Result};
use crate::storage::{BatchOp, StorageView};
use crate::util::gotime::now_nanos;

pub(super) const PATHS: &[AppRolePath] =
    &[AppRolePath::new("tidy/secret-id").update(handler!(start))];

const TIDY_STARTED: &str =
    "Tidy operation successfully started. Any information from the operation will be printed to Vault's server logs.";

/// The one tidy that may run: taken with [`TidyRun::start`], given back
/// when dropped — when the tidy ends, fails or panics (a panicking task
/// drops its future), so a panic loses one round and never stops tidying.
pub(super) struct TidyRun(Arc<Inner>);

impl TidyRun {
    /// `None` while another tidy runs.
    pub(super) fn start(inner: &Arc<Inner>) -> Option<TidyRun> {
        let taken = inner.tidy_running.swap(true, Ordering::SeqCst);
        (!taken).then(|| TidyRun(inner.clone()))
    }

    async fn run(&self, storage: &StorageView) -> Result<usize> {
        self.0.tidy(storage).await
    }
}

impl Drop for TidyRun {
    fn drop(&mut self) {
        self.0.tidy_running.store(false, Ordering::SeqCst);
    }
}

/// One periodic round, run by the core in the mount's own task.
pub(super) async fn periodic(inner: &Arc<Inner>, storage: &StorageView) -> Result<()> {
    let Some(run) = TidyRun::start(inner) else {
        return Ok(());
    };
    let removed = run.run(storage).await?;
    tracing::debug!(removed, "approle: periodic tidy of secret IDs finished");
    Ok(())
}

/// `POST tidy/secret-id`: starts the tidy in the background → 202.
async fn start(b: &AppRoleBackend, req: &mut Request) -> Result<Option<Response>> {
    let Some(run) = TidyRun::start(&b.inner) else {
        return Ok(Some(
            Response::default().with_warning("Tidy operation already in progress."),
        ));
    };
    let storage = req.storage.clone();
    tokio::spawn(async move {
        match run.run(&storage).await {
            Ok(removed) => tracing::debug!(removed, "approle: tidied secret IDs"),
            Err(err) => tracing::error!(error = %err, "approle: error tidying secret IDs"),
        }
    });
    Ok(Some(
        Response {
            status: Some(202),
            ..Default::default()
        }
        .with_warning(TIDY_STARTED),
    ))
}

impl Inner {
    /// Removes expired secret IDs, secret IDs without an accessor index and
    /// accessor indexes without a secret ID. Returns how many entries went.
    pub(super) async fn tidy(&self, storage: &StorageView) -> Result<usize> {
        let now = now_nanos();
        let mut removed = 0;
        for bucket in storage.list("secret_id/").await? {
            let Some(bucket) = bucket.strip_suffix('/') else {
                continue;
            };
            for hmac in storage.list(&format!("secret_id/{bucket}/")).await? {
                if hmac.ends_with('/') {
                    continue;
                }
                let _guard = self.secret_lock(&hmac).lock().await;
                let key = secret_key(bucket, &hmac);
                let Some(entry) = storage.get_json::<SecretIdEntry>(&key).await? else {
                    continue;
                };
                let accessor_key = self.accessor_key(&entry.secret_id_accessor);
                let has_accessor = storage.get(&accessor_key).await?.is_some();
                if !has_accessor || entry.expired(now) {
                    storage
                        .batch(vec![BatchOp::Delete(accessor_key), BatchOp::Delete(key)])
                        .await?;
                    removed += 1;
                }
            }
        }
        for accessor_hash in storage.list("accessor/").await? {
            if accessor_hash.ends_with('/') {
                continue;
            }
            let key = format!("accessor/{accessor_hash}");
            let Some(index) = storage.get_json::<AccessorEntry>(&key).await? else {
                continue;
            };
            let _guard = self.secret_lock(&index.secret_id_hmac).lock().await;
            if storage
                .get(&secret_key(&index.bucket, &index.secret_id_hmac))
                .await?
                .is_none()
            {
                storage.delete(&key).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}
