//! `sys/seal`, `sys/rotate` and `sys/key-status`: sealing the barrier and
//! its keyring (dev mode's in-memory store has both, as Vault's); and
//! `sys/step-down`, the active giving up its role in an HA cluster.

use serde_json::{json, Map};

use super::SystemBackend;
use crate::handler;
use crate::logical::framework::Path;
use crate::logical::{Error, Request, Response, Result};

pub(super) const PATHS: &[Path<SystemBackend>] = &[
    Path::new("seal").update(handler!(seal)),
    Path::new("rotate").update(handler!(rotate)),
    Path::new("key-status").read(handler!(key_status)),
    Path::new("step-down").update(handler!(step_down)),
];

async fn seal(b: &SystemBackend, _req: &mut Request) -> Result<Option<Response>> {
    b.core()?.seal_now().await;
    Ok(None)
}

/// Gives the HA lock up: another node becomes active, this one a standby
/// (a server without HA has nothing to give up).
async fn step_down(b: &SystemBackend, _req: &mut Request) -> Result<Option<Response>> {
    if let Some(ha) = b.core()?.ha() {
        ha.request_step_down();
    }
    Ok(None)
}

async fn rotate(b: &SystemBackend, _req: &mut Request) -> Result<Option<Response>> {
    b.core()?.rotate_keyring().await?;
    Ok(None)
}

/// The active keyring term.
async fn key_status(b: &SystemBackend, _req: &mut Request) -> Result<Option<Response>> {
    let core = b.core()?;
    let (term, installed) = core
        .seal()
        .barrier
        .keyring()
        .and_then(|keyring| {
            keyring
                .keys
                .get(&keyring.active_term)
                .map(|(_, at)| (keyring.active_term, *at))
        })
        .ok_or(Error::Sealed)?;
    let mut data = Map::new();
    data.insert("term".into(), json!(term));
    data.insert(
        "install_time".into(),
        json!(crate::util::gotime::rfc3339(installed)),
    );
    data.insert("encryptions".into(), json!(0));
    Ok(Some(Response::data(data)))
}
