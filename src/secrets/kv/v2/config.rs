//! `config`: the mount's defaults for every key (`max_versions`,
//! `cas_required`, `delete_version_after`).

use serde_json::{json, Map};

use super::{load_config, max_versions_field, KvV2Backend, SETTINGS};
use crate::handler;
use crate::logical::framework::Path;
use crate::logical::{GoDuration, Request, Response, Result};

pub(super) const PATHS: &[Path<KvV2Backend>] = &[Path::new("config")
    .fields(&[SETTINGS])
    .read(handler!(read))
    .update(handler!(write))];

async fn read(_b: &KvV2Backend, req: &mut Request) -> Result<Option<Response>> {
    let config = load_config(req).await?;
    let mut data = Map::new();
    data.insert("cas_required".into(), json!(config.cas_required));
    data.insert(
        "delete_version_after".into(),
        json!(GoDuration(config.delete_version_after).to_string()),
    );
    data.insert("max_versions".into(), json!(config.max_versions));
    Ok(Some(Response::data(data)))
}

async fn write(_b: &KvV2Backend, req: &mut Request) -> Result<Option<Response>> {
    let mut config = load_config(req).await?;
    if let Some(n) = max_versions_field(req)? {
        config.max_versions = n;
    }
    if let Some(b) = req.data.bool("cas_required")? {
        config.cas_required = b;
    }
    if let Some(secs) = req.data.duration("delete_version_after")? {
        config.delete_version_after = secs;
    }
    req.storage.put_json("config", &config).await?;
    Ok(None)
}
