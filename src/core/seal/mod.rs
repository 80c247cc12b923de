//! Sealing: the durable store is readable only once the root key is
//! recovered — from a threshold of Shamir shares of the unseal key typed by
//! operators, or from a static key the server is configured with
//! (auto-unseal). The root key decrypts the keyring the barrier uses.
//!
//! Physical layout (outside the barrier): `seal/config` (share counts, in
//! clear), `seal/root-key` (root key under the unseal/static key),
//! `seal/keyring` (keyring under the root key).

pub mod barrier;
pub mod shamir;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use self::barrier::{open_bytes, seal_bytes, Barrier, Keyring};
use crate::logical::{Error, Result};
use crate::storage::{BatchOp, Storage};
use crate::util::gotime::now_unix;
use crate::util::ids::random_bytes;

const CONFIG_KEY: &str = "seal/config";
const ROOT_KEY: &str = "seal/root-key";
const KEYRING_KEY: &str = "seal/keyring";

/// How the root key is protected.
#[derive(Clone)]
pub enum SealKind {
    /// Operators hold Shamir shares of the unseal key.
    Shamir,
    /// A key from the server configuration unseals automatically.
    Static { key: Vec<u8> },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SealConfig {
    #[serde(rename = "type")]
    pub kind: String,
    pub secret_shares: u8,
    pub secret_threshold: u8,
}

/// What `sys/init` hands out once.
pub struct InitKeys {
    pub shares: Vec<Vec<u8>>,
}

/// Unseal progress, as `sys/seal-status` reports it.
#[derive(Clone, Default)]
pub struct Progress {
    pub shares: Vec<Vec<u8>>,
    pub nonce: String,
}

/// Shares are key material: never printed, wiped when dropped.
impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("shares", &self.shares.len())
            .field("nonce", &self.nonce)
            .finish()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.shares.zeroize();
    }
}

pub struct Seal {
    physical: Arc<dyn Storage>,
    pub barrier: Arc<Barrier>,
    kind: SealKind,
    progress: Mutex<Progress>,
    /// Held while unsealed, for keyring rotation.
    root_key: Mutex<Option<Vec<u8>>>,
    cached: Mutex<Option<SealConfig>>,
}

fn internal(err: impl std::fmt::Display) -> Error {
    Error::Internal(err.to_string())
}

impl Seal {
    pub fn new(physical: Arc<dyn Storage>, kind: SealKind) -> Self {
        let barrier = Arc::new(Barrier::new(physical.clone()));
        Seal {
            physical,
            barrier,
            kind,
            progress: Mutex::new(Progress::default()),
            root_key: Mutex::new(None),
            cached: Mutex::new(None),
        }
    }

    pub fn is_static(&self) -> bool {
        matches!(self.kind, SealKind::Static { .. })
    }

    pub async fn config(&self) -> Result<Option<SealConfig>> {
        let config: Option<SealConfig> = match self.physical.get(CONFIG_KEY).await? {
            None => None,
            Some(bytes) => Some(
                serde_json::from_slice(&bytes)
                    .map_err(|e| internal(format!("corrupt seal configuration: {e}")))?,
            ),
        };
        if let Ok(mut cached) = self.cached.lock() {
            cached.clone_from(&config);
        }
        Ok(config)
    }

    /// The configuration as last read or written (for status endpoints,
    /// which must not wait on storage).
    pub fn cached_config(&self) -> Option<SealConfig> {
        self.cached.lock().ok().and_then(|c| c.clone())
    }

    pub fn progress(&self) -> Progress {
        self.progress.lock().map(|p| p.clone()).unwrap_or_default()
    }

    fn reset_progress(&self) {
        if let Ok(mut progress) = self.progress.lock() {
            *progress = Progress::default();
        }
    }

    /// Creates the root key and keyring; returns the unseal key shares
    /// (none with a static seal). The barrier is left unsealed.
    pub async fn initialize(&self, shares: u8, threshold: u8) -> Result<InitKeys> {
        if self.config().await?.is_some() {
            return Err(Error::bad_request("Vault is already initialized"));
        }
        let (config, wrapping_key, keys) = match &self.kind {
            SealKind::Static { key } => {
                let config = SealConfig {
                    kind: "static".into(),
                    secret_shares: 0,
                    secret_threshold: 0,
                };
                (config, Zeroizing::new(key.clone()), Vec::new())
            }
            SealKind::Shamir => {
                if shares == 0 || threshold == 0 || threshold > shares {
                    return Err(Error::bad_request(
                        "invalid seal configuration: secret threshold must be between 1 and the number of shares",
                    ));
                }
                if threshold == 1 && shares > 1 {
                    return Err(Error::bad_request(
                        "invalid seal configuration: threshold must be greater than one for multiple shares",
                    ));
                }
                let (unseal_key, keys) = new_unseal_key(shares, threshold)?;
                let config = SealConfig {
                    kind: "shamir".into(),
                    secret_shares: shares,
                    secret_threshold: threshold,
                };
                (config, unseal_key, keys)
            }
        };
        let root_key = Zeroizing::new(random_bytes(32));
        let keyring = Keyring::new(now_unix());
        self.write_keyring(&root_key, &keyring).await?;
        let wrapped_root =
            seal_bytes(&wrapping_key, ROOT_KEY.as_bytes(), &root_key).map_err(internal)?;
        self.physical.put(ROOT_KEY, wrapped_root).await?;
        self.physical
            .put(CONFIG_KEY, serde_json::to_vec(&config)?)
            .await?;
        if let Ok(mut cached) = self.cached.lock() {
            *cached = Some(config);
        }
        self.barrier.unseal(keyring);
        self.remember_root_key(Some(root_key.to_vec()));
        Ok(InitKeys { shares: keys })
    }

    async fn write_keyring(&self, root_key: &[u8], keyring: &Keyring) -> Result<()> {
        let bytes = Zeroizing::new(serde_json::to_vec(keyring)?);
        let wrapped = seal_bytes(root_key, KEYRING_KEY.as_bytes(), &bytes).map_err(internal)?;
        self.physical.put(KEYRING_KEY, wrapped).await?;
        Ok(())
    }

    /// Opens the barrier with the unseal (or static) key.
    async fn open_with(&self, wrapping_key: &[u8]) -> Result<()> {
        let wrapped_root = self
            .physical
            .get(ROOT_KEY)
            .await?
            .ok_or_else(|| internal("root key missing"))?;
        let root_key = Zeroizing::new(
            open_bytes(wrapping_key, ROOT_KEY.as_bytes(), &wrapped_root)
                .map_err(|e| Error::BadRequest(format!("Error unsealing: {e}")))?,
        );
        let keyring = self.read_keyring(&root_key).await?;
        self.barrier.unseal(keyring);
        self.remember_root_key(Some(root_key.to_vec()));
        Ok(())
    }

    async fn read_keyring(&self, root_key: &[u8]) -> Result<Keyring> {
        let wrapped = self
            .physical
            .get(KEYRING_KEY)
            .await?
            .ok_or_else(|| internal("keyring missing"))?;
        let bytes = Zeroizing::new(
            open_bytes(root_key, KEYRING_KEY.as_bytes(), &wrapped)
                .map_err(|e| internal(format!("keyring does not decrypt: {e}")))?,
        );
        serde_json::from_slice(&bytes).map_err(|e| internal(format!("corrupt keyring: {e}")))
    }

    /// The root key, held while unsealed.
    fn held_root_key(&self) -> Result<Zeroizing<Vec<u8>>> {
        self.root_key
            .lock()
            .ok()
            .and_then(|k| k.clone())
            .map(Zeroizing::new)
            .ok_or(Error::Sealed)
    }

    /// Re-reads the keyring with the root key held since unsealing (a
    /// standby taking over: the former active may have rotated it).
    pub async fn reload_keyring(&self) -> Result<()> {
        let root_key = self.held_root_key()?;
        let keyring = self.read_keyring(&root_key).await?;
        self.barrier.unseal(keyring);
        Ok(())
    }

    /// Auto-unseal with the static key, if this seal has one.
    pub async fn auto_unseal(&self) -> Result<bool> {
        let SealKind::Static { key } = &self.kind else {
            return Ok(false);
        };
        if self.config().await?.is_none() {
            return Ok(false);
        }
        self.open_with(key).await?;
        Ok(true)
    }

    /// One operator's share. Returns true once the barrier is open. A wrong
    /// set of shares resets progress, as in Vault.
    pub async fn submit_share(&self, encoded: &str) -> Result<bool> {
        let config = self
            .config()
            .await?
            .ok_or_else(|| Error::bad_request("Vault is not initialized"))?;
        let share = Zeroizing::new(decode_key(encoded)?);
        let collected = {
            let mut progress = self
                .progress
                .lock()
                .map_err(|_| internal("unseal progress lock"))?;
            if progress.shares.contains(&*share) {
                return Ok(false);
            }
            if progress.nonce.is_empty() {
                progress.nonce = crate::util::ids::uuid();
            }
            progress.shares.push(share.to_vec());
            if progress.shares.len() < config.secret_threshold as usize {
                return Ok(false);
            }
            Zeroizing::new(std::mem::take(&mut progress.shares))
        };
        self.reset_progress();
        let unseal_key = Zeroizing::new(
            combine_shares(&collected, config.secret_threshold).map_err(Error::BadRequest)?,
        );
        self.open_with(&unseal_key).await?;
        Ok(true)
    }

    /// Whether `unseal_key` is this seal's unseal key (it opens the stored
    /// root key); the barrier is left as it is.
    pub async fn verify_unseal_key(&self, unseal_key: &[u8]) -> Result<()> {
        let wrapped_root = self
            .physical
            .get(ROOT_KEY)
            .await?
            .ok_or_else(|| internal("root key missing"))?;
        open_bytes(unseal_key, ROOT_KEY.as_bytes(), &wrapped_root)
            .map(|mut root_key| root_key.zeroize())
            .map_err(|_| Error::bad_request("the key shares do not reconstruct the unseal key"))
    }

    /// Protects the held root key with a new unseal key and records the
    /// new share counts, in one atomic write: afterwards only the new
    /// shares unseal.
    pub async fn rekey(&self, new_unseal_key: &[u8], shares: u8, threshold: u8) -> Result<()> {
        let root_key = self.held_root_key()?;
        let wrapped_root =
            seal_bytes(new_unseal_key, ROOT_KEY.as_bytes(), &root_key).map_err(internal)?;
        let config = SealConfig {
            kind: "shamir".into(),
            secret_shares: shares,
            secret_threshold: threshold,
        };
        // A crash must never leave the new wrapping beside the old counts.
        self.physical
            .batch(vec![
                BatchOp::Put(ROOT_KEY.to_string(), wrapped_root),
                BatchOp::Put(CONFIG_KEY.to_string(), serde_json::to_vec(&config)?),
            ])
            .await?;
        if let Ok(mut cached) = self.cached.lock() {
            *cached = Some(config);
        }
        Ok(())
    }

    pub fn reset(&self) {
        self.reset_progress();
    }

    /// The store below the barrier.
    pub fn physical(&self) -> &Arc<dyn Storage> {
        &self.physical
    }

    /// Whether a snapshot carries the records this seal opens the store
    /// with (a dev-mode snapshot has none: its store is not encrypted).
    pub fn holds_seal_records(records: &BTreeMap<String, Vec<u8>>) -> bool {
        [CONFIG_KEY, ROOT_KEY, KEYRING_KEY]
            .iter()
            .all(|key| records.contains_key(*key))
    }

    /// Vault's check before a restore: the snapshot's keyring must open
    /// with the root key this node holds, or the store would be unreadable
    /// after the restore (`snapshot-force` skips it).
    pub fn verify_snapshot(&self, records: &BTreeMap<String, Vec<u8>>) -> Result<()> {
        let root_key = self.held_root_key()?;
        let opens = records
            .get(KEYRING_KEY)
            .and_then(|wrapped| open_bytes(&root_key, KEYRING_KEY.as_bytes(), wrapped).ok())
            .map(Zeroizing::new)
            .is_some();
        if opens {
            return Ok(());
        }
        let keys = if self.is_static() {
            "a different autoseal key"
        } else {
            "a different set of unseal keys"
        };
        Err(Error::BadRequest(format!(
            "could not verify hash file, possibly the snapshot is using {keys}; use the snapshot-force API to bypass this check"
        )))
    }

    /// Closes the barrier while a snapshot replaces the store (requests in
    /// flight can no longer write), keeping the root key to reopen it.
    pub fn close_for_restore(&self) {
        self.reset_progress();
        self.barrier.seal();
    }

    /// Reopens the barrier on the restored store: with the root key held
    /// (a snapshot of this cluster), else with the static key. `false`:
    /// the store stays sealed until the snapshot's own unseal keys come.
    pub async fn reopen_after_restore(&self) -> Result<bool> {
        self.config().await?;
        if let Ok(root_key) = self.held_root_key() {
            if let Ok(keyring) = self.read_keyring(&root_key).await {
                self.barrier.unseal(keyring);
                return Ok(true);
            }
        }
        self.remember_root_key(None);
        match &self.kind {
            SealKind::Static { key } => Ok(self.open_with(key).await.is_ok()),
            SealKind::Shamir => Ok(false),
        }
    }

    pub fn seal(&self) {
        self.reset_progress();
        self.remember_root_key(None);
        self.barrier.seal();
    }

    /// `sys/rotate`: a new keyring term for new writes.
    pub async fn rotate(&self) -> Result<u32> {
        let root_key = self.held_root_key()?;
        let mut keyring = self.barrier.keyring().ok_or(Error::Sealed)?;
        let term = keyring.rotate(now_unix());
        self.write_keyring(&root_key, &keyring).await?;
        self.barrier.unseal(keyring);
        Ok(term)
    }

    fn remember_root_key(&self, root_key: Option<Vec<u8>>) {
        if let Ok(mut slot) = self.root_key.lock() {
            if let Some(old) = slot.as_mut() {
                old.zeroize();
            }
            *slot = root_key;
        }
    }
}

/// An unseal key and the shares handed out for it.
pub(crate) type KeyAndShares = (Zeroizing<Vec<u8>>, Vec<Vec<u8>>);

/// A fresh unseal key and its shares (the key itself when there is one
/// share, as in Vault).
pub(crate) fn new_unseal_key(shares: u8, threshold: u8) -> Result<KeyAndShares> {
    let unseal_key = Zeroizing::new(random_bytes(32));
    let keys = if shares == 1 {
        vec![unseal_key.to_vec()]
    } else {
        shamir::split(&unseal_key, shares, threshold)
            .map_err(|e| Error::BadRequest(e.to_string()))?
    };
    Ok((unseal_key, keys))
}

/// The unseal key a threshold of shares stands for (a single share is the
/// key itself).
pub(crate) fn combine_shares(
    shares: &[Vec<u8>],
    threshold: u8,
) -> std::result::Result<Vec<u8>, String> {
    if threshold == 1 {
        return shares
            .first()
            .cloned()
            .ok_or_else(|| "no key shares".to_string());
    }
    shamir::combine(shares).map_err(|e| e.to_string())
}

/// Unseal keys arrive hex- or base64-encoded.
pub(crate) fn decode_key(encoded: &str) -> Result<Vec<u8>> {
    let encoded = encoded.trim();
    hex::decode(encoded)
        .ok()
        .or_else(|| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
        })
        .filter(|k| !k.is_empty())
        .ok_or_else(|| Error::bad_request("'key' must be a valid hex or base64 string"))
}
