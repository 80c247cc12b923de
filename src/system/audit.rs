//! `sys/audit`, `sys/audit/*path` and `sys/audit-hash/*path`: the audit
//! devices, and the hash a device gives a value.

use serde_json::{json, Map};

use super::SystemBackend;
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Request, Response, Result};

const ENABLE: &[Field] = &[
    Field::string("type"),
    Field::string("description"),
    Field::map("options"),
    Field::bool("local"),
];
const HASH: &[Field] = &[Field::string("input")];

pub(super) const PATHS: &[Path<SystemBackend>] = &[
    Path::new("audit").read(handler!(list)),
    Path::new("audit/*path")
        .fields(&[ENABLE])
        .update(handler!(enable))
        .delete(handler!(disable)),
    Path::new("audit-hash/*path")
        .fields(&[HASH])
        .update(handler!(hash)),
];

async fn list(b: &SystemBackend, _req: &mut Request) -> Result<Option<Response>> {
    let data = b
        .core()?
        .audit
        .list()
        .iter()
        .map(|d| (d.path.clone(), d.to_json()))
        .collect();
    Ok(Some(Response::data(data)))
}

async fn enable(b: &SystemBackend, req: &mut Request) -> Result<Option<Response>> {
    let core = b.core()?;
    let kind = req.data.str("type")?.unwrap_or_default();
    let description = req.data.str("description")?.unwrap_or_default();
    let options = req
        .data
        .string_map("options")?
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
        .collect();
    let local = req.data.bool_or("local", false)?;
    core.audit
        .enable(req.param("path")?, &kind, description, options, local)
        .await?;
    Ok(None)
}

async fn disable(b: &SystemBackend, req: &mut Request) -> Result<Option<Response>> {
    b.core()?.audit.disable(req.param("path")?).await?;
    Ok(None)
}

async fn hash(b: &SystemBackend, req: &mut Request) -> Result<Option<Response>> {
    let input = req.data.str("input")?.unwrap_or_default();
    let mut data = Map::new();
    data.insert(
        "hash".into(),
        json!(b.core()?.audit.hash(req.param("path")?, &input)?),
    );
    Ok(Some(Response::data(data)))
}
