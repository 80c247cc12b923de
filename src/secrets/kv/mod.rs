//! The KV secrets engine (`type = "kv"`): version 1 (`options.version` `"1"`
//! or absent) is a plain key/value store, version 2 (`"2"`, the dev server's
//! `secret/`) keeps versions with metadata, check-and-set and soft deletes.
//! The cubbyhole engine reuses the version 1 storage helpers.

mod v1;
mod v2;

use crate::util::gotime::rfc3339_nano;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::logical::framework::LogicalBackend;
use crate::logical::{Error, Result};
use crate::storage::StorageView;

pub(crate) use v1::list_prefix;
pub use v1::KvV1Backend;
pub use v2::KvV2Backend;

/// Builds the KV backend the mount options ask for. Vault's factory accepts
/// `"1"`, `""` (or no version) and `"2"`; anything else builds nothing.
pub fn new_backend(options: Option<&BTreeMap<String, String>>) -> Result<Arc<dyn LogicalBackend>> {
    match options.and_then(|o| o.get("version")).map(String::as_str) {
        None | Some("" | "1") => Ok(Arc::new(KvV1Backend::new())),
        Some("2") => Ok(Arc::new(KvV2Backend::new())),
        Some(_) => Err(Error::bad_request(
            "nil backend of type \"kv\" returned from factory",
        )),
    }
}

/// The KV version a mount's options select (absent or `""` → 1).
fn version_of(options: Option<&BTreeMap<String, String>>) -> i64 {
    options
        .and_then(|o| o.get("version"))
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|v| *v > 0)
        .unwrap_or(1)
}

/// Checks a `sys/mounts/<kv mount>/tune` of `options.version` as Vault's
/// system backend does (only 1 or 2, never a downgrade). Returns the
/// warning Vault answers when the mount is upgraded from version 1 to 2;
/// the version 2 backend then upgrades the data when it starts.
pub fn check_version_tune(
    current: Option<&BTreeMap<String, String>>,
    requested: Option<&str>,
) -> Result<Option<String>> {
    let Some(requested) = requested else {
        return Ok(None);
    };
    let trimmed = requested.trim();
    let new = if trimmed.is_empty() {
        0
    } else {
        trimmed.parse::<i64>().map_err(|_| {
            Error::BadRequest(format!(
                "unable to parse options: strconv.ParseInt: parsing {requested:?}: invalid syntax"
            ))
        })?
    };
    if !(1..=2).contains(&new) {
        return Err(Error::BadRequest(format!(
            "invalid version provided: {new}"
        )));
    }
    let old = version_of(current);
    if new < old {
        return Err(Error::BadRequest(format!(
            "cannot downgrade mount from version {old}"
        )));
    }
    Ok((new > old).then(|| {
        format!(
            "Upgrading mount from version {old} to version {new}. This mount will be unavailable for a brief period and will resume service shortly."
        )
    }))
}

/// Reads an unversioned entry (a JSON object).
pub(crate) async fn read_entry(
    storage: &StorageView,
    key: &str,
) -> Result<Option<Map<String, Value>>> {
    Ok(storage.get_json(key).await?)
}

/// A time as Vault's KV engine prints it (`ptypesTimestampToString`):
/// Go's `RFC3339Nano`, `""` for no time.
pub(crate) fn timestamp_string(nanos: i64) -> String {
    rfc3339_nano(nanos).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_factory_follows_the_version_option() {
        let opts = |v: &str| BTreeMap::from([("version".to_string(), v.to_string())]);
        assert!(new_backend(None).is_ok());
        assert!(new_backend(Some(&opts("1"))).is_ok());
        assert!(new_backend(Some(&opts("2"))).is_ok());
        assert!(new_backend(Some(&opts("3"))).is_err());
    }

    #[test]
    fn version_tunes_only_upgrade() {
        let opts = |v: &str| BTreeMap::from([("version".to_string(), v.to_string())]);
        assert!(matches!(check_version_tune(None, None), Ok(None)));
        assert!(matches!(check_version_tune(None, Some("1")), Ok(None)));
        assert!(matches!(check_version_tune(None, Some("2")), Ok(Some(_))));
        assert!(matches!(
            check_version_tune(Some(&opts("2")), Some("2")),
            Ok(None)
        ));
        let err = |r: Result<Option<String>>| r.err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            err(check_version_tune(Some(&opts("2")), Some("1"))),
            "cannot downgrade mount from version 2"
        );
        assert_eq!(
            err(check_version_tune(None, Some("3"))),
            "invalid version provided: 3"
        );
        assert_eq!(
            err(check_version_tune(None, Some(""))),
            "invalid version provided: 0"
        );
    }
}
