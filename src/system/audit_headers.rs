//! `sys/config/auditing/request-headers[/:header]`: which request headers
//! audit records include, and whether they are HMAC'd.

use serde_json::{json, Map, Value};

use crate::core::audit_headers::HeaderSettings;
use crate::core::Core;
use crate::logical::{Error, Operation, Request, Response, Result};

pub async fn handle(core: &Core, req: &mut Request) -> Result<Option<Response>> {
    let headers = &core.audit.headers;
    let Some(name) = req.params.get("header").cloned() else {
        let table: Map<String, Value> = headers
            .table()
            .iter()
            .map(|(name, settings)| (name.clone(), json!(settings)))
            .collect();
        let mut data = Map::new();
        data.insert("headers".into(), Value::Object(table));
        return Ok(Some(Response::data(data)));
    };
    match req.operation {
        Operation::Read => {
            let settings = headers
                .get(&name)
                .ok_or_else(|| Error::bad_request("Could not find header in config"))?;
            let mut data = Map::new();
            // Named as the request named it; matched without regard to case.
            data.insert(name, json!(settings));
            Ok(Some(Response::data(data)))
        }
        Operation::Create | Operation::Update => {
            let hmac = req.data.bool_or("hmac", false)?;
            headers.set(&name, HeaderSettings { hmac }).await?;
            Ok(None)
        }
        Operation::Delete => {
            headers.remove(&name).await?;
            Ok(None)
        }
        _ => Err(Error::UnsupportedOperation),
    }
}
