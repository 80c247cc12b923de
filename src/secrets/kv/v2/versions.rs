//! `delete/*path`, `undelete/*path` and `destroy/*path`: soft-delete,
//! restore or destroy the listed versions of a key.

use super::records::{deletion_time, metadata_key, version_key};
use super::{load_config, load_meta, path_param, KvV2Backend};
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, Request, Response, Result};
use crate::storage::BatchOp;
use crate::util::gotime::now_nanos;

/// Vault's `TypeCommaIntSlice`: read as a list, then as integers.
const FIELDS: &[Field] = &[Field::list("versions")];

pub(super) const PATHS: &[Path<KvV2Backend>] = &[
    Path::new("delete/*path")
        .fields(&[FIELDS])
        .update(handler!(b, r => change(b, r, Change::Delete))),
    Path::new("undelete/*path")
        .fields(&[FIELDS])
        .update(handler!(b, r => change(b, r, Change::Undelete))),
    Path::new("destroy/*path")
        .fields(&[FIELDS])
        .update(handler!(b, r => change(b, r, Change::Destroy))),
];

/// What happens to each listed version.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Change {
    /// Soft-deleted now (unless destroyed or already deleted).
    Delete,
    /// Deletion undone (unless destroyed); the deletion time becomes the
    /// one `delete_version_after` sets.
    Undelete,
    /// The data is removed for good.
    Destroy,
}

/// `versions`: every item an integer.
fn versions_field(req: &Request) -> Result<Vec<u64>> {
    let items = req.data.comma_list("versions")?.unwrap_or_default();
    items
        .iter()
        .map(|item| {
            item.parse::<i64>().map(|v| v as u64).map_err(|_| {
                Error::BadRequest(format!(
                    "Field validation failed: error converting input {item} for field \"versions\": expected a list of integers"
                ))
            })
        })
        .collect()
}

async fn change(b: &KvV2Backend, req: &mut Request, change: Change) -> Result<Option<Response>> {
    let path = path_param(req)?;
    let versions = versions_field(req)?;
    if versions.is_empty() {
        return Err(Error::bad_request(if change == Change::Destroy {
            "no version number provided"
        } else {
            "No version number provided"
        }));
    }
    let config = load_config(req).await?;
    let _guard = b.lock_for(&path).write().await;
    let Some(mut meta) = load_meta(req, &path).await? else {
        return Ok(None);
    };
    let now = now_nanos();
    let meta_dva = meta.delete_version_after;
    let mut ops = Vec::new();
    for version in versions {
        let Some(vm) = meta.versions.get_mut(&version) else {
            continue;
        };
        match change {
            Change::Delete => {
                if vm.destroyed || vm.is_deleted(now) {
                    continue;
                }
                vm.deletion_time = now;
            }
            Change::Undelete => {
                if vm.destroyed {
                    continue;
                }
                vm.deletion_time = deletion_time(now, config.delete_version_after, meta_dva);
            }
            Change::Destroy => {
                vm.destroyed = true;
                ops.push(BatchOp::Delete(version_key(&path, version)));
            }
        }
    }
    ops.push(BatchOp::Put(
        metadata_key(&path),
        serde_json::to_vec(&meta)?,
    ));
    req.storage.batch(ops).await?;
    Ok(None)
}
