//! What KV version 2 stores in the mount's view: `config` (the mount's
//! settings), `metadata/<path>` (a key's metadata, so that a LIST of
//! `metadata/<dir>/` lists the keys) and `versions/<sha256(path)>/<n>`
//! (each version's data; hashed so that a key and a key below it never
//! share a prefix).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::super::timestamp_string;

/// Vault keeps 10 versions unless the key or the mount says otherwise.
const DEFAULT_MAX_VERSIONS: u32 = 10;
const NANOS: i64 = 1_000_000_000;

/// One version's bookkeeping (`VersionMetadata`). Times are Unix nanoseconds,
/// 0 meaning unset.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct VersionMeta {
    pub(super) created_time: i64,
    pub(super) deletion_time: i64,
    pub(super) destroyed: bool,
}

impl VersionMeta {
    /// Soft-deleted: a deletion time that has passed.
    pub(super) fn is_deleted(&self, now: i64) -> bool {
        self.deletion_time != 0 && self.deletion_time < now
    }
}

/// A key's metadata (`KeyMetadata`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct KeyMetadata {
    pub(super) key: String,
    pub(super) versions: BTreeMap<u64, VersionMeta>,
    pub(super) current_version: u64,
    pub(super) oldest_version: u64,
    pub(super) created_time: i64,
    pub(super) updated_time: i64,
    pub(super) max_versions: u32,
    pub(super) cas_required: bool,
    /// Seconds; 0 = unset.
    pub(super) delete_version_after: i64,
    pub(super) custom_metadata: BTreeMap<String, String>,
}

impl KeyMetadata {
    pub(super) fn new(key: &str) -> Self {
        KeyMetadata {
            key: key.to_string(),
            ..Default::default()
        }
    }

    pub(super) fn custom_metadata_json(&self) -> Value {
        if self.custom_metadata.is_empty() {
            Value::Null
        } else {
            json!(self.custom_metadata)
        }
    }

    /// The version metadata block of data reads and writes.
    pub(super) fn version_json(&self, version: u64, vm: &VersionMeta) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert(
            "created_time".into(),
            json!(timestamp_string(vm.created_time)),
        );
        out.insert("custom_metadata".into(), self.custom_metadata_json());
        out.insert(
            "deletion_time".into(),
            json!(timestamp_string(vm.deletion_time)),
        );
        out.insert("destroyed".into(), json!(vm.destroyed));
        out.insert("version".into(), json!(version));
        out
    }

    /// `AddVersion`: appends a version and slides the window of kept
    /// versions. Returns the new version number and the versions dropped.
    pub(super) fn add_version(&mut self, vm: VersionMeta, config_max: u32) -> (u64, Vec<u64>) {
        self.current_version += 1;
        self.updated_time = vm.created_time;
        if self.created_time == 0 {
            self.created_time = vm.created_time;
        }
        self.versions.insert(self.current_version, vm);
        let max = match self.max_versions.max(config_max) {
            0 => DEFAULT_MAX_VERSIONS,
            n => n,
        };
        let mut dropped = Vec::new();
        if self.current_version - self.oldest_version >= u64::from(max) {
            let last_dropped = self.current_version - u64::from(max);
            let gone: Vec<u64> = self
                .versions
                .range(..=last_dropped)
                .map(|(v, _)| *v)
                .collect();
            for v in gone {
                self.versions.remove(&v);
                dropped.push(v);
            }
            self.oldest_version = last_dropped + 1;
        }
        (self.current_version, dropped)
    }
}

/// The mount's `config`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct KvConfig {
    pub(super) max_versions: u32,
    pub(super) cas_required: bool,
    pub(super) delete_version_after: i64,
}

/// `deletionTime`: creation plus the smaller non-zero of the mount's and
/// the key's `delete_version_after`; 0 when neither is set.
pub(super) fn deletion_time(created: i64, mount_secs: i64, meta_secs: i64) -> i64 {
    let pick = match (mount_secs, meta_secs) {
        (0, 0) => return 0,
        (0, m) => m,
        (c, 0) => c,
        (c, m) => c.min(m),
    };
    created.saturating_add(pick.saturating_mul(NANOS))
}

pub(super) fn metadata_key(path: &str) -> String {
    format!("metadata/{path}")
}

fn path_hash(path: &str) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, path.as_bytes()).as_ref())
}

pub(super) fn version_key(path: &str, version: u64) -> String {
    format!("versions/{}/{version}", path_hash(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_window_slides_as_vaults() {
        let mut meta = KeyMetadata::new("k");
        for _ in 0..4 {
            meta.add_version(VersionMeta::default(), 0);
        }
        assert_eq!(meta.oldest_version, 0);
        meta.max_versions = 2;
        let (v, dropped) = meta.add_version(VersionMeta::default(), 0);
        assert_eq!(v, 5);
        assert_eq!(dropped, vec![1, 2, 3]);
        assert_eq!(meta.oldest_version, 4);
        assert_eq!(
            meta.versions.keys().copied().collect::<Vec<_>>(),
            vec![4, 5]
        );
    }

    #[test]
    fn ten_versions_are_kept_by_default() {
        let mut meta = KeyMetadata::new("k");
        for _ in 0..12 {
            meta.add_version(VersionMeta::default(), 0);
        }
        assert_eq!(meta.versions.len(), 10);
        assert_eq!(meta.versions.keys().next(), Some(&3));
    }

    #[test]
    fn deletion_time_takes_the_smaller_setting() {
        assert_eq!(deletion_time(5, 0, 0), 0);
        assert_eq!(deletion_time(0, 10, 0), 10 * NANOS);
        assert_eq!(deletion_time(0, 0, 20), 20 * NANOS);
        assert_eq!(deletion_time(0, 30, 20), 20 * NANOS);
    }
}
