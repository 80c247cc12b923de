//! `sys/internal/ui/mounts[/path]`: the mounts a client may see, and the
//! one mount serving a path (used by `vault kv` to detect the KV version).
//! Served without a token; a token, when sent, shows more.

use serde_json::{json, Map, Value};

use super::SystemBackend;
use crate::core::mounts::MountClass;
use crate::handler;
use crate::logical::framework::Path;
use crate::logical::{Error, Request, Response, Result};

pub(super) const PATHS: &[Path<SystemBackend>] = &[
    Path::new("internal/ui/mounts")
        .unauthenticated()
        .read(handler!(visible_mounts)),
    Path::new("internal/ui/mounts/*path")
        .unauthenticated()
        .read(handler!(mount_of_path)),
];

/// Every mount whose listing is `unauth`, and those the token's policies
/// reach into.
async fn visible_mounts(b: &SystemBackend, req: &mut Request) -> Result<Option<Response>> {
    let core = b.core()?;
    let acl = match &req.token {
        Some(token) => Some(core.token_acl(token).await?),
        None => None,
    };
    let mut secret = Map::new();
    let mut auth = Map::new();
    for mounted in core.mounts.snapshot().iter() {
        let visible = mounted.entry.config.listing_visibility == "unauth"
            || acl
                .as_ref()
                .is_some_and(|acl| acl.has_any_under(&mounted.prefix));
        if !visible {
            continue;
        }
        let target = if mounted.entry.class == MountClass::Auth {
            &mut auth
        } else {
            &mut secret
        };
        target.insert(mounted.entry.path.clone(), mounted.entry.to_json());
    }
    let mut data = Map::new();
    data.insert("auth".into(), Value::Object(auth));
    data.insert("secret".into(), Value::Object(secret));
    Ok(Some(Response::data(data)))
}

/// The mount serving `path`, if the token's policies reach into it.
async fn mount_of_path(b: &SystemBackend, req: &mut Request) -> Result<Option<Response>> {
    let core = b.core()?;
    let path = req.param("path")?.to_string();
    let denied = || {
        Error::Forbidden(format!(
            "preflight capability check returned 403, please ensure client's policies grant access to path \"{path}/\""
        ))
    };
    let token = req.token.as_ref().ok_or_else(denied)?;
    let acl = core.token_acl(token).await?;
    let (mounted, _) = core
        .mounts
        .route(path.trim_start_matches('/'))
        .ok_or_else(denied)?;
    if !acl.has_any_under(&mounted.prefix) {
        return Err(denied());
    }
    let mut data = mounted
        .entry
        .to_json()
        .as_object()
        .cloned()
        .unwrap_or_default();
    data.insert("path".into(), json!(mounted.prefix));
    Ok(Some(Response::data(data)))
}
