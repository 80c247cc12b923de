//! Snapshots of the whole store, as Vault's `sys/storage/raft/snapshot`
//! offers them for integrated storage, here for every store: taken from
//! one point-in-time read of the physical store while the server goes on
//! serving, and restored by sealing, replacing every record in one atomic
//! step and unsealing again (see [`crate::storage::snapshot`] for the file).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::seal::Seal;
use super::Core;
use crate::logical::{Error, Result};
use crate::storage::snapshot::{self, Encoder, Header};
use crate::storage::{Record, Storage};

/// The paths that restore a snapshot (`snapshot-force` without the key check).
pub const RESTORE_PATH: &str = "sys/storage/raft/snapshot";
pub const FORCE_RESTORE_PATH: &str = "sys/storage/raft/snapshot-force";

/// Records in flight between the store's reader and the response.
const RECORDS_IN_FLIGHT: usize = 256;
/// Encoded pieces in flight to the client.
const PIECES_IN_FLIGHT: usize = 16;

/// A snapshot file as it is written: its pieces, or the error that cut it
/// short (the client then holds a file without its checksum, which no
/// restore accepts).
pub type SnapshotStream = mpsc::Receiver<std::result::Result<Bytes, String>>;

impl Core {
    /// The store below the barrier.
    fn physical(&self) -> Arc<dyn Storage> {
        self.seal().physical().clone()
    }

    /// Starts a snapshot. The store's first answer is awaited here, so a
    /// store that cannot be read is an error response, not a cut file.
    pub async fn snapshot(&self) -> Result<SnapshotStream> {
        let physical = self.physical();
        let header = Header {
            storage_type: physical.kind().to_string(),
            created_at: crate::util::gotime::rfc3339(crate::util::gotime::now_unix()),
            version: env!("CARGO_PKG_VERSION").to_string(),
        };
        let (records_in, mut records) = mpsc::channel::<Record>(RECORDS_IN_FLIGHT);
        let reader = tokio::spawn(async move { physical.snapshot(records_in).await });
        // The channel closes when the reader is done: then (an empty store,
        // or a failure before the first record) its result is known now.
        let first = records.recv().await;
        let reader = match first {
            Some(_) => Some(reader),
            None => {
                reader.await.map_err(|e| Error::internal(e.to_string()))??;
                None
            }
        };
        let (pieces_in, pieces) = mpsc::channel(PIECES_IN_FLIGHT);
        tokio::spawn(async move {
            let (mut encoder, start) = Encoder::start(&header);
            if pieces_in.send(Ok(Bytes::from(start))).await.is_err() {
                return;
            }
            let mut next = first;
            while let Some((key, value)) = next {
                let piece = Bytes::from(encoder.record(&key, &value));
                if pieces_in.send(Ok(piece)).await.is_err() {
                    return;
                }
                next = records.recv().await;
            }
            let read = match reader {
                Some(reader) => reader.await.map_err(|e| e.to_string()),
                None => Ok(Ok(())),
            };
            let last = match read {
                Ok(Ok(())) => Ok(Bytes::from(encoder.finish())),
                Ok(Err(err)) => Err(err.to_string()),
                Err(err) => Err(err),
            };
            if let Err(why) = &last {
                tracing::warn!(error = %why, "snapshot cut short");
            }
            let _ = pieces_in.send(last).await;
        });
        Ok(pieces)
    }

    /// Restores a snapshot: the file is verified whole, then (unless
    /// `force`) its keyring must open with this node's root key; the
    /// barrier closes, every record is replaced in one atomic write, and
    /// the store is loaded again (a failed write changes nothing). A snapshot of another cluster's keys
    /// (`force`) leaves the node sealed until its own keys unseal it.
    pub async fn restore_snapshot(&self, file: &[u8], force: bool) -> Result<()> {
        let snapshot = snapshot::decode(file)
            .map_err(|e| Error::BadRequest(format!("invalid snapshot: {e}")))?;
        let records = snapshot.records;
        let _transition = self.lifecycle.lock().await;
        if self.is_sealed() {
            return Err(Error::Sealed);
        }
        let seal = self.seal();
        if !Seal::holds_seal_records(&records) {
            return Err(Error::bad_request("invalid snapshot: it holds no keyring"));
        }
        if !force {
            seal.verify_snapshot(&records)?;
        }
        tracing::info!(
            records = records.len(),
            taken = %snapshot.header.created_at,
            from = %snapshot.header.storage_type,
            force,
            "restoring a snapshot"
        );
        // New requests get 503 and, with the barrier closed, requests in
        // flight can no longer write, while the store is replaced.
        self.sealed.store(true, Ordering::SeqCst);
        let keyring = seal.barrier.keyring();
        seal.close_for_restore();
        if let Err(err) = self.physical().replace_all(records).await {
            // Atomic: the store is as it was, and so is all that was
            // loaded from it; serve on without reading anything.
            if let Some(keyring) = keyring {
                seal.barrier.unseal(keyring);
            }
            self.sealed.store(false, Ordering::SeqCst);
            tracing::warn!(error = %err, "snapshot not restored; the store is unchanged");
            return Err(err.into());
        }
        self.unload();
        let reopened = seal.reopen_after_restore().await?;
        let initialized = seal.config().await?.is_some();
        self.initialized.store(initialized, Ordering::SeqCst);
        if !reopened {
            tracing::warn!("the restored snapshot needs its own unseal keys: sealed");
            self.seal_locked();
        } else if self.may_serve() {
            self.post_unseal().await?;
        }
        Ok(())
    }

    /// Whether `token` may restore a snapshot (`update` on the path, as in
    /// Vault): asked before a snapshot's body, larger than any other
    /// request's, is read. The pipeline decides again afterwards.
    pub async fn may_restore_snapshot(&self, token: Option<&str>, path: &str) -> bool {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return false;
        };
        let Ok(Some(entry)) = self.tokens.lookup(token).await else {
            return false;
        };
        let Ok(acl) = self.token_acl(&entry).await else {
            return false;
        };
        let caps = acl.capabilities(path);
        caps.iter().any(|c| c == "root" || c == "update")
    }
}
