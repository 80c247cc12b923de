//! `sys/capabilities`, `sys/capabilities-self` and
//! `sys/capabilities-accessor`: what a token may do on each path.

use serde_json::{json, Map};

use super::SystemBackend;
use crate::core::Core;
use crate::handler;
use crate::logical::framework::{Field, Path};
use crate::logical::TokenEntry;
use crate::logical::{Error, Request, Response, Result};

/// `path` is the older name of `paths`, read when `paths` names none.
const PATHS_ASKED: &[Field] = &[Field::list("path"), Field::list("paths")];
const TOKEN: &[Field] = &[Field::string("token")];
const ACCESSOR: &[Field] = &[Field::string("accessor")];

pub(super) const PATHS: &[Path<SystemBackend>] = &[
    Path::new("capabilities-self")
        .fields(&[PATHS_ASKED, TOKEN])
        .update(handler!(b, r => capabilities(b, r, Whose::Caller))),
    Path::new("capabilities")
        .fields(&[PATHS_ASKED, TOKEN])
        .update(handler!(b, r => capabilities(b, r, Whose::Token))),
    Path::new("capabilities-accessor")
        .fields(&[PATHS_ASKED, ACCESSOR])
        .update(handler!(b, r => capabilities(b, r, Whose::Accessor))),
];

/// Whose capabilities are asked for.
#[derive(Clone, Copy)]
enum Whose {
    /// The caller's own token.
    Caller,
    /// The token named by `token`.
    Token,
    /// The token found by `accessor`.
    Accessor,
}

async fn token(core: &Core, req: &Request, whose: Whose) -> Result<TokenEntry> {
    match whose {
        Whose::Token => {
            let token = req.data.str("token")?.unwrap_or_default();
            core.tokens
                .lookup(&token)
                .await?
                .ok_or_else(|| Error::bad_request("invalid token"))
        }
        Whose::Accessor => {
            let accessor = req.data.str("accessor")?.unwrap_or_default();
            core.tokens
                .lookup_accessor(&accessor)
                .await?
                .ok_or_else(|| Error::bad_request("invalid accessor"))
        }
        Whose::Caller => req.token.clone().ok_or(Error::AclDenied {
            invalid_token: true,
        }),
    }
}

async fn capabilities(
    b: &SystemBackend,
    req: &mut Request,
    whose: Whose,
) -> Result<Option<Response>> {
    let core = b.core()?;
    let mut paths = req.data.comma_list_or_empty("paths")?;
    if paths.is_empty() {
        paths = req.data.comma_list_or_empty("path")?;
    }
    if paths.is_empty() {
        return Err(Error::bad_request("paths must be supplied"));
    }
    let token = token(&core, req, whose).await?;
    let acl = core.token_acl(&token).await?;
    let mut data = Map::new();
    // Named as asked; a leading `/` does not change what the path is.
    for path in &paths {
        let caps = acl.capabilities(path.trim_start_matches('/'));
        data.insert(path.clone(), json!(caps));
    }
    if paths.len() == 1 {
        if let Some(caps) = data.values().next().cloned() {
            data.insert("capabilities".into(), caps);
        }
    }
    Ok(Some(Response::data(data)))
}
