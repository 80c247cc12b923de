//! `sys/locked-users` and its `unlock`: the aliases user lockout has
//! locked, by auth mount, and lifting a lock early.

use serde_json::{json, Map, Value};

use super::SystemBackend;
use crate::handler;
use crate::logical::framework::Path;
use crate::logical::{Request, Response, Result};

pub(super) const PATHS: &[Path<SystemBackend>] = &[
    Path::new("locked-users").read(handler!(locked_users)),
    Path::new("locked-users/:mount_accessor/unlock/:alias_identifier").update(handler!(unlock)),
];

async fn locked_users(b: &SystemBackend, _req: &mut Request) -> Result<Option<Response>> {
    let locked = b.core()?.lockout.locked();
    let total: usize = locked.iter().map(|(_, aliases)| aliases.len()).sum();
    let mounts: Vec<Value> = locked
        .iter()
        .map(|(accessor, aliases)| {
            json!({ "mount_accessor": accessor, "counts": aliases.len(), "alias_identifiers": aliases })
        })
        .collect();
    let mut data = Map::new();
    data.insert(
        "by_namespace".into(),
        json!([{ "namespace_id": "root", "namespace_path": "", "counts": total, "mount_accessors": mounts }]),
    );
    data.insert("total".into(), json!(total));
    Ok(Some(Response::data(data)))
}

async fn unlock(b: &SystemBackend, req: &mut Request) -> Result<Option<Response>> {
    b.core()?
        .lockout
        .unlock(req.param("mount_accessor")?, req.param("alias_identifier")?);
    Ok(None)
}
