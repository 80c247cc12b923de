//! `sys/config/auditing/request-headers[/:header]`: which request headers
//! audit records include, and whether they are HMAC'd.

use serde_json::{json, Map, Value};

use super::SystemBackend;
use crate::core::audit_headers::HeaderSettings;
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Error, Request, Response, Result};

const HEADER: &[Field] = &[Field::bool("hmac")];

pub(super) const PATHS: &[Path<SystemBackend>] = &[
    Path::new("config/auditing/request-headers").read(handler!(list)),
    Path::new("config/auditing/request-headers/*header")
        .fields(&[HEADER])
        .read(handler!(read))
        .update(handler!(write))
        .delete(handler!(delete)),
];

async fn list(b: &SystemBackend, _req: &mut Request) -> Result<Option<Response>> {
    let table: Map<String, Value> = b
        .core()?
        .audit
        .headers
        .table()
        .iter()
        .map(|(name, settings)| (name.clone(), json!(settings)))
        .collect();
    let mut data = Map::new();
    data.insert("headers".into(), Value::Object(table));
    Ok(Some(Response::data(data)))
}

async fn read(b: &SystemBackend, req: &mut Request) -> Result<Option<Response>> {
    let name = req.param("header")?.to_string();
    let settings = b
        .core()?
        .audit
        .headers
        .get(&name)
        .ok_or_else(|| Error::bad_request("Could not find header in config"))?;
    let mut data = Map::new();
    // Named as the request named it; matched without regard to case.
    data.insert(name, json!(settings));
    Ok(Some(Response::data(data)))
}

async fn write(b: &SystemBackend, req: &mut Request) -> Result<Option<Response>> {
    let hmac = req.data.bool_or("hmac", false)?;
    b.core()?
        .audit
        .headers
        .set(req.param("header")?, HeaderSettings { hmac })
        .await?;
    Ok(None)
}

async fn delete(b: &SystemBackend, req: &mut Request) -> Result<Option<Response>> {
    b.core()?.audit.headers.remove(req.param("header")?).await?;
    Ok(None)
}
