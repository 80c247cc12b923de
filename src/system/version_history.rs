//! `sys/version-history`: the versions this server has run (just this one).

use serde_json::{json, Map, Value};

use super::SystemBackend;
use crate::handler;
use crate::logical::framework::Path;
use crate::logical::{Request, Response, Result};

pub(super) const PATHS: &[Path<SystemBackend>] = &[Path::new("version-history")
    .read(handler!(version_history))
    .list(handler!(version_history))];

async fn version_history(_b: &SystemBackend, _req: &mut Request) -> Result<Option<Response>> {
    let version = crate::VAULT_VERSION;
    let mut data = Map::new();
    data.insert("keys".into(), json!([version]));
    data.insert(
        "key_info".into(),
        json!({ version: { "build_date": "", "previous_version": Value::Null, "timestamp_installed": "" } }),
    );
    Ok(Some(Response::data(data)))
}
