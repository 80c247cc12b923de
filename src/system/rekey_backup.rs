//! `sys/rekey/backup`: where Vault keeps the PGP-encrypted shares of a rekey
//! that asked for a backup. vaultlet hands shares out only unencrypted and
//! refuses `backup` without PGP keys as Vault does, so no backup is ever
//! made: reading finds none (Vault's answer for a store without one) and
//! deleting succeeds, as Vault's delete of an absent backup does.

use super::SystemBackend;
use crate::handler;
use crate::logical::framework::Path;
use crate::logical::{Error, Request, Response, Result};

pub(super) const PATHS: &[Path<SystemBackend>] = &[Path::new("rekey/backup")
    .read(handler!(read))
    .delete(handler!(delete))];

async fn read(_b: &SystemBackend, _req: &mut Request) -> Result<Option<Response>> {
    Err(Error::bad_request("no backed-up keys found"))
}

async fn delete(_b: &SystemBackend, _req: &mut Request) -> Result<Option<Response>> {
    Ok(None)
}
