//! The barrier: every value the durable store holds is encrypted with
//! AES-256-GCM under the active key of a keyring (the key term travels
//! with each ciphertext, so older terms still decrypt after a rotation).
//! The storage key is bound as associated data, so ciphertexts cannot be
//! swapped between keys. While sealed, nothing can be read or written.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use serde::{Deserialize, Serialize};

use crate::storage::{BatchOp, Storage, StorageError, StorageResult};
use crate::util::ids::random_bytes;

/// Physical keys the seal keeps for itself, outside the barrier.
pub const SEAL_PREFIX: &str = "seal/";

/// The data keys, by term.
#[derive(Clone, Serialize, Deserialize)]
pub struct Keyring {
    pub active_term: u32,
    /// Term → (base64-free raw key bytes, install time as unix seconds).
    pub keys: BTreeMap<u32, (Vec<u8>, i64)>,
}

/// The data keys are wiped from memory when a keyring goes away (sealing,
/// rotation replacing the barrier's copy, clones made for `key-status`).
impl Drop for Keyring {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        for (key, _) in self.keys.values_mut() {
            key.zeroize();
        }
    }
}

impl Keyring {
    pub fn new(now: i64) -> Self {
        let mut keys = BTreeMap::new();
        keys.insert(1, (random_bytes(32), now));
        Keyring {
            active_term: 1,
            keys,
        }
    }

    /// Adds a new term and makes it active.
    pub fn rotate(&mut self, now: i64) -> u32 {
        let term = self.active_term + 1;
        self.keys.insert(term, (random_bytes(32), now));
        self.active_term = term;
        term
    }
}

/// Encrypts `plaintext` under `key`, binding `aad`: nonce || ciphertext+tag.
pub fn seal_bytes(key: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, String> {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| "bad key length")?);
    let nonce_bytes = random_bytes(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(&nonce_bytes).map_err(|_| "bad nonce")?;
    let mut buf = plaintext.to_vec();
    key.seal_in_place_append_tag(nonce, Aad::from(aad), &mut buf)
        .map_err(|_| "encryption failed")?;
    let mut out = nonce_bytes;
    out.extend(buf);
    Ok(out)
}

/// Reverses [`seal_bytes`]; fails on any tampering or a wrong key.
pub fn open_bytes(key: &[u8], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, String> {
    if sealed.len() < NONCE_LEN {
        return Err("ciphertext too short".into());
    }
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| "bad key length")?);
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| "bad nonce")?;
    let mut buf = ciphertext.to_vec();
    let plain = key
        .open_in_place(nonce, Aad::from(aad), &mut buf)
        .map_err(|_| "cipher: message authentication failed")?;
    Ok(plain.to_vec())
}

pub struct Barrier {
    physical: Arc<dyn Storage>,
    keyring: RwLock<Option<Keyring>>,
}

fn sealed() -> StorageError {
    StorageError::Backend("Vault is sealed".into())
}

impl Barrier {
    pub fn new(physical: Arc<dyn Storage>) -> Self {
        Barrier {
            physical,
            keyring: RwLock::new(None),
        }
    }

    pub fn is_sealed(&self) -> bool {
        self.keyring.read().map(|k| k.is_none()).unwrap_or(true)
    }

    pub fn unseal(&self, keyring: Keyring) {
        if let Ok(mut guard) = self.keyring.write() {
            *guard = Some(keyring);
        }
    }

    pub fn seal(&self) {
        if let Ok(mut guard) = self.keyring.write() {
            *guard = None;
        }
    }

    pub fn keyring(&self) -> Option<Keyring> {
        self.keyring.read().ok().and_then(|k| k.clone())
    }

    fn check_key(key: &str) -> StorageResult<()> {
        if key.starts_with(SEAL_PREFIX) {
            return Err(StorageError::InvalidKey(key.to_string()));
        }
        Ok(())
    }

    fn encrypt(&self, key: &str, value: &[u8]) -> StorageResult<Vec<u8>> {
        let guard = self.keyring.read().map_err(|_| sealed())?;
        let keyring = guard.as_ref().ok_or_else(sealed)?;
        let term = keyring.active_term;
        let data_key = keyring.keys.get(&term).ok_or_else(sealed)?;
        let mut out = term.to_be_bytes().to_vec();
        out.extend(seal_bytes(&data_key.0, key.as_bytes(), value).map_err(StorageError::Backend)?);
        Ok(out)
    }

    fn decrypt(&self, key: &str, stored: &[u8]) -> StorageResult<Vec<u8>> {
        let guard = self.keyring.read().map_err(|_| sealed())?;
        let keyring = guard.as_ref().ok_or_else(sealed)?;
        let corrupt =
            |why: &str| StorageError::Backend(format!("corrupt or tampered record {key:?}: {why}"));
        let (term, sealed_bytes) = stored
            .split_at_checked(4)
            .ok_or_else(|| corrupt("too short"))?;
        let term = u32::from_be_bytes([term[0], term[1], term[2], term[3]]);
        let data_key = keyring
            .keys
            .get(&term)
            .ok_or_else(|| corrupt("unknown key term"))?;
        open_bytes(&data_key.0, key.as_bytes(), sealed_bytes).map_err(|e| corrupt(&e))
    }
}

#[async_trait::async_trait]
impl Storage for Barrier {
    async fn get(&self, key: &str) -> StorageResult<Option<Vec<u8>>> {
        Self::check_key(key)?;
        if self.is_sealed() {
            return Err(sealed());
        }
        match self.physical.get(key).await? {
            None => Ok(None),
            Some(stored) => self.decrypt(key, &stored).map(Some),
        }
    }

    async fn list(&self, prefix: &str) -> StorageResult<Vec<String>> {
        if self.is_sealed() {
            return Err(sealed());
        }
        let mut keys = self.physical.list(prefix).await?;
        if prefix.is_empty() {
            keys.retain(|k| k != SEAL_PREFIX);
        }
        Ok(keys)
    }

    async fn list_page(
        &self,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> StorageResult<Vec<String>> {
        if self.is_sealed() {
            return Err(sealed());
        }
        let mut keys = self.physical.list_page(prefix, after, limit).await?;
        if prefix.is_empty() {
            keys.retain(|k| k != SEAL_PREFIX);
        }
        Ok(keys)
    }

    async fn batch(&self, ops: Vec<BatchOp>) -> StorageResult<()> {
        let ops = ops
            .into_iter()
            .map(|op| match op {
                BatchOp::Put(k, v) => {
                    Self::check_key(&k)?;
                    let encrypted = self.encrypt(&k, &v)?;
                    Ok(BatchOp::Put(k, encrypted))
                }
                BatchOp::Delete(k) => {
                    Self::check_key(&k)?;
                    if self.is_sealed() {
                        return Err(sealed());
                    }
                    Ok(BatchOp::Delete(k))
                }
            })
            .collect::<StorageResult<Vec<_>>>()?;
        self.physical.batch(ops).await
    }

    /// The physical store's records as stored (ciphertext, the seal's
    /// records included): a snapshot is restored below the barrier.
    async fn snapshot(
        &self,
        into: tokio::sync::mpsc::Sender<crate::storage::Record>,
    ) -> StorageResult<()> {
        self.physical.snapshot(into).await
    }

    async fn replace_all(
        &self,
        records: std::collections::BTreeMap<String, Vec<u8>>,
    ) -> StorageResult<()> {
        self.physical.replace_all(records).await
    }

    fn kind(&self) -> &'static str {
        self.physical.kind()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;

    #[tokio::test]
    async fn values_are_encrypted_at_rest_and_bound_to_their_key() {
        let physical: Arc<dyn Storage> = Arc::new(MemoryStorage::default());
        let barrier = Barrier::new(physical.clone());
        assert!(
            barrier.get("a").await.is_err(),
            "sealed barrier refuses reads"
        );
        barrier.unseal(Keyring::new(0));
        barrier
            .put("a", b"secret value".to_vec())
            .await
            .expect("put");
        let raw = physical.get("a").await.expect("get").expect("stored");
        assert!(!raw.windows(6).any(|w| w == b"secret"));
        assert_eq!(
            barrier.get("a").await.expect("get"),
            Some(b"secret value".to_vec())
        );
        // Moving a ciphertext to another key is detected.
        physical.put("b", raw).await.expect("put");
        assert!(barrier.get("b").await.is_err());
    }

    #[tokio::test]
    async fn old_terms_still_decrypt_after_rotation() {
        let physical: Arc<dyn Storage> = Arc::new(MemoryStorage::default());
        let barrier = Barrier::new(physical);
        let mut keyring = Keyring::new(0);
        barrier.unseal(keyring.clone());
        barrier.put("old", b"1".to_vec()).await.expect("put");
        keyring.rotate(1);
        barrier.unseal(keyring);
        barrier.put("new", b"2".to_vec()).await.expect("put");
        assert_eq!(barrier.get("old").await.expect("get"), Some(b"1".to_vec()));
        assert_eq!(barrier.get("new").await.expect("get"), Some(b"2".to_vec()));
    }
}
