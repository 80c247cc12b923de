//! `sys/remount` and `sys/remount/status/:migration_id`: moving a secrets
//! engine or an auth method to another path (`vault secrets move`,
//! `vault auth move`).

use serde_json::{json, Map};

use super::SystemBackend;
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::{Request, Response, Result};

const MOVE: &[Field] = &[Field::string("from"), Field::string("to")];
const STATUS: &[Field] = &[Field::string("migration_id")];

pub(super) const PATHS: &[Path<SystemBackend>] = &[
    Path::new("remount")
        .fields(&[MOVE])
        .update(handler!(remount)),
    Path::new("remount/status/:migration_id")
        .fields(&[STATUS])
        .read(handler!(status)),
];

async fn remount(b: &SystemBackend, req: &mut Request) -> Result<Option<Response>> {
    let from = req.data.str("from")?.unwrap_or_default();
    let to = req.data.str("to")?.unwrap_or_default();
    let id = b.core()?.start_remount(&from, &to).await?;
    let mut data = Map::new();
    data.insert("migration_id".into(), json!(id));
    Ok(Some(Response::data(data).with_warning(
        "Mount move has been queued. Progress will be reported in Vault's server log, tagged with the returned migration_id",
    )))
}

async fn status(b: &SystemBackend, req: &mut Request) -> Result<Option<Response>> {
    let id = req.param("migration_id")?;
    let Some(info) = b.core()?.migrations.get(id) else {
        return Ok(None);
    };
    let mut data = Map::new();
    data.insert("migration_id".into(), json!(id));
    data.insert("migration_info".into(), info.to_json());
    Ok(Some(Response::data(data)))
}
