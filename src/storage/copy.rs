//! Whole-store walks: every key in order, a digest of the contents, and a
//! copy from one store to another (`operator migrate`). They read through
//! the [`Storage`] trait only, so they work between any two stores, and
//! move records as they are stored (barrier ciphertext stays ciphertext).

use aws_lc_rs::digest;

use super::{BatchOp, Storage, StorageError, StorageResult};

/// Writes per destination transaction while copying.
const COPY_BATCH: usize = 256;

/// The number of records and a SHA-256 over every key and value in key
/// order (each length-prefixed), equal for two stores exactly when they
/// hold the same records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contents {
    pub count: usize,
    pub sha256: String,
}

/// Every key of the store, sorted.
pub async fn all_keys<S: Storage + ?Sized>(store: &S) -> StorageResult<Vec<String>> {
    let mut keys = Vec::new();
    let mut folders = vec![String::new()];
    while let Some(folder) = folders.pop() {
        for child in store.list(&folder).await? {
            let full = format!("{folder}{child}");
            if child.ends_with('/') {
                folders.push(full);
            } else {
                keys.push(full);
            }
        }
    }
    keys.sort();
    Ok(keys)
}

fn missing(key: &str) -> StorageError {
    StorageError::Backend(format!("{key:?} vanished while it was read"))
}

pub async fn contents(store: &dyn Storage) -> StorageResult<Contents> {
    let keys = all_keys(store).await?;
    let mut hash = digest::Context::new(&digest::SHA256);
    for key in &keys {
        let value = store.get(key).await?.ok_or_else(|| missing(key))?;
        hash.update(&(key.len() as u64).to_be_bytes());
        hash.update(key.as_bytes());
        hash.update(&(value.len() as u64).to_be_bytes());
        hash.update(&value);
    }
    Ok(Contents {
        count: keys.len(),
        sha256: hex::encode(hash.finish().as_ref()),
    })
}

/// Copies every record of `from` into `to`, calling `copied` for each key.
pub async fn copy_all(
    from: &dyn Storage,
    to: &dyn Storage,
    mut copied: impl FnMut(&str),
) -> StorageResult<usize> {
    let keys = all_keys(from).await?;
    for chunk in keys.chunks(COPY_BATCH) {
        let mut ops = Vec::with_capacity(chunk.len());
        for key in chunk {
            let value = from.get(key).await?.ok_or_else(|| missing(key))?;
            ops.push(BatchOp::Put(key.clone(), value));
        }
        to.batch(ops).await?;
        chunk.iter().for_each(|key| copied(key));
    }
    Ok(keys.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;

    #[tokio::test]
    async fn a_copy_has_the_same_contents() {
        let from = MemoryStorage::default();
        for (key, value) in [("a", "1"), ("b/c", "2"), ("b/d/e", "3"), ("z", "")] {
            from.put(key, value.as_bytes().to_vec()).await.ok();
        }
        let to = MemoryStorage::default();
        let mut seen = Vec::new();
        let count = copy_all(&from, &to, |k| seen.push(k.to_string()))
            .await
            .ok();
        assert_eq!(count, Some(4));
        assert_eq!(seen, vec!["a", "b/c", "b/d/e", "z"]);
        let (a, b) = (contents(&from).await.ok(), contents(&to).await.ok());
        assert_eq!(a, b);
        assert_eq!(a.map(|c| c.count), Some(4));
        to.put("b/c", b"changed".to_vec()).await.ok();
        assert_ne!(contents(&to).await.ok(), b);
    }
}
