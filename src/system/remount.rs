//! `sys/remount` and `sys/remount/status/:migration_id`: moving a secrets
//! engine or an auth method to another path (`vault secrets move`,
//! `vault auth move`).

use serde_json::{json, Map};

use crate::core::Core;
use crate::logical::{Request, Response, Result};

pub async fn handle(core: &Core, req: &mut Request) -> Result<Option<Response>> {
    if let Some(id) = req.params.get("migration_id") {
        let Some(info) = core.migrations.get(id) else {
            return Ok(None);
        };
        let mut data = Map::new();
        data.insert("migration_id".into(), json!(id));
        data.insert("migration_info".into(), info.to_json());
        return Ok(Some(Response::data(data)));
    }
    let from = req.data.str("from")?.unwrap_or_default();
    let to = req.data.str("to")?.unwrap_or_default();
    let id = core.start_remount(&from, &to).await?;
    let mut data = Map::new();
    data.insert("migration_id".into(), json!(id));
    Ok(Some(Response::data(data).with_warning(
        "Mount move has been queued. Progress will be reported in Vault's server log, tagged with the returned migration_id",
    )))
}
