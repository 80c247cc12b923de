//! A KV mount tuned from version 1 to 2 keeps its entries where version 1
//! wrote them until the version 2 backend starts on them: then each entry
//! becomes version 1 of its key, as Vault's KV plugin upgrades its data.
//! See <https://developer.hashicorp.com/vault/docs/secrets/kv/kv-v2/upgrade>.

use serde_json::{Map, Value};

use super::records::{metadata_key, version_key, KeyMetadata, VersionMeta};
use crate::logical::Result;
use crate::secrets::kv::read_entry;
use crate::storage::{BatchOp, StorageView};
use crate::util::gotime::now_nanos;

/// Marks a mount whose data is in the version 2 layout. Its value is not a
/// JSON object, which is all a version 1 write stores, so a version 1
/// entry of the same name is never taken for the mark.
const LAYOUT_KEY: &str = "layout";
const VERSIONED: &[u8] = b"versioned";

/// What version 2 itself keeps at the root of its storage.
const OWN_ENTRIES: &[&str] = &["config", "metadata/", "versions/"];

/// Makes the mount's data versioned, once: a mount not yet marked holds
/// version 1 entries if anything lies outside the version 2 layout (one
/// that holds nothing else is new, or was made before the mark existed).
pub(super) async fn upgrade_version_1_data(storage: &StorageView) -> Result<()> {
    if storage.get(LAYOUT_KEY).await?.as_deref() == Some(VERSIONED) {
        return Ok(());
    }
    let root = storage.list("").await?;
    let mut ops = if root.iter().any(|e| !OWN_ENTRIES.contains(&e.as_str())) {
        upgrade_ops(storage).await?
    } else {
        Vec::new()
    };
    ops.push(BatchOp::Put(LAYOUT_KEY.into(), VERSIONED.to_vec()));
    storage.batch(ops).await?;
    Ok(())
}

/// Every version 1 entry rewritten as version 1 of its key, in one atomic
/// batch (old keys deleted first, so a version 1 key named like a version
/// 2 record cannot collide).
async fn upgrade_ops(storage: &StorageView) -> Result<Vec<BatchOp>> {
    let mut leaves = Vec::new();
    let mut stack = vec![String::new()];
    while let Some(dir) = stack.pop() {
        for child in storage.list(&dir).await? {
            let key = format!("{dir}{child}");
            if child.ends_with('/') {
                stack.push(key);
            } else {
                leaves.push(key);
            }
        }
    }
    let mut entries = Vec::with_capacity(leaves.len());
    for key in &leaves {
        if let Some(data) = read_entry(storage, key).await? {
            entries.push((key.clone(), data));
        }
    }
    let mut ops: Vec<BatchOp> = leaves.into_iter().map(BatchOp::Delete).collect();
    let now = now_nanos();
    for (key, data) in entries {
        ops.extend(upgraded_entry(&key, &data, now)?);
    }
    Ok(ops)
}

/// The records of a version 1 entry upgraded to version 2 (version 1 of its
/// key, created now).
fn upgraded_entry(key: &str, data: &Map<String, Value>, now: i64) -> Result<Vec<BatchOp>> {
    let mut meta = KeyMetadata::new(key);
    meta.add_version(
        VersionMeta {
            created_time: now,
            ..Default::default()
        },
        0,
    );
    meta.oldest_version = 1;
    Ok(vec![
        BatchOp::Put(version_key(key, 1), serde_json::to_vec(data)?),
        BatchOp::Put(metadata_key(key), serde_json::to_vec(&meta)?),
    ])
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::storage::MemoryStorage;

    fn storage() -> StorageView {
        StorageView::new(Arc::new(MemoryStorage::default()), "mount/")
    }

    async fn keys(storage: &StorageView) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![String::new()];
        while let Some(dir) = stack.pop() {
            for child in storage.list(&dir).await.expect("list") {
                let key = format!("{dir}{child}");
                if child.ends_with('/') {
                    stack.push(key);
                } else {
                    out.push(key);
                }
            }
        }
        out.sort();
        out
    }

    async fn metadata(storage: &StorageView, key: &str) -> Option<KeyMetadata> {
        storage
            .get_json(&metadata_key(key))
            .await
            .expect("metadata")
    }

    #[tokio::test]
    async fn version_1_entries_become_version_1_of_their_keys_once() {
        let storage = storage();
        for key in ["app", "dir/db", "config", "layout"] {
            storage
                .put_json(key, &json!({ "from": key }))
                .await
                .expect("put");
        }
        upgrade_version_1_data(&storage).await.expect("upgrade");
        for key in ["app", "dir/db", "config", "layout"] {
            let meta = metadata(&storage, key).await.expect(key);
            assert_eq!((meta.current_version, meta.oldest_version), (1, 1));
            let data: Option<Map<String, Value>> = storage
                .get_json(&version_key(key, 1))
                .await
                .expect("version");
            assert_eq!(data, json!({ "from": key }).as_object().cloned());
        }
        assert_eq!(
            storage.get(LAYOUT_KEY).await.expect("mark").as_deref(),
            Some(VERSIONED)
        );
        let upgraded = keys(&storage).await;
        // Started again (an unseal), nothing changes.
        upgrade_version_1_data(&storage).await.expect("again");
        assert_eq!(keys(&storage).await, upgraded);
    }

    /// A mount made before the mark existed holds only version 2 records;
    /// an entry written at the root after the mark is never upgraded.
    #[tokio::test]
    async fn version_2_data_is_left_as_it_is() {
        let storage = storage();
        let meta = KeyMetadata::new("app");
        storage
            .put_json(&metadata_key("app"), &meta)
            .await
            .expect("put");
        storage
            .put_json(&version_key("app", 1), &json!({"a": 1}))
            .await
            .expect("put");
        storage
            .put_json("config", &json!({"max_versions": 3}))
            .await
            .expect("put");
        let before = keys(&storage).await;
        upgrade_version_1_data(&storage).await.expect("upgrade");
        let mut expected = before.clone();
        expected.push(LAYOUT_KEY.to_string());
        expected.sort();
        assert_eq!(keys(&storage).await, expected);

        storage
            .put_json("stray", &json!({"x": 1}))
            .await
            .expect("put");
        upgrade_version_1_data(&storage).await.expect("again");
        assert!(metadata(&storage, "stray").await.is_none());
    }
}
