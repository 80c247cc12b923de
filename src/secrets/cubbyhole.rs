//! The cubbyhole secrets engine (`cubbyhole/`, on every server): per-token
//! private key/value storage. Each token sees only its own entries, kept
//! under its hashed ID in the mount's storage; the token store destroys it
//! when the token is revoked or tidied after expiry, as Vault does.

use crate::logical::{Backend, Error, Operation, PathSpec, Request, Response, Result};
use crate::secrets::kv::{keys_response, list_prefix, read_entry};

use Operation::{Delete, List, Read, Update};

static PATHS: &[PathSpec] = &[
    PathSpec::new("", &[Read, List, Update, Delete]),
    PathSpec::new("*path", &[Read, List, Update, Delete]).existence_check(),
];

#[derive(Default)]
pub struct CubbyholeBackend;

impl CubbyholeBackend {
    pub fn new() -> Self {
        CubbyholeBackend
    }
}

/// The storage prefix of the requesting token's cubbyhole.
fn token_prefix(req: &Request) -> Result<String> {
    let token = req
        .token
        .as_ref()
        .filter(|t| !t.hashed_id.is_empty())
        .ok_or(Error::PermissionDenied)?;
    Ok(format!("{}/", token.hashed_id))
}

fn key_of(req: &Request) -> String {
    req.params
        .get("path")
        .map(|p| p.trim_end_matches('/').to_string())
        .unwrap_or_default()
}

#[async_trait::async_trait]
impl Backend for CubbyholeBackend {
    fn paths(&self) -> &'static [PathSpec] {
        PATHS
    }

    async fn exists(&self, req: &mut Request) -> Result<bool> {
        let key = key_of(req);
        let prefix = token_prefix(req)?;
        Ok(!key.is_empty() && req.storage.get(&format!("{prefix}{key}")).await?.is_some())
    }

    async fn handle(&self, req: &mut Request) -> Result<Option<Response>> {
        let prefix = token_prefix(req)?;
        let key = key_of(req);
        match req.operation {
            Operation::List => {
                let keys = req
                    .storage
                    .list(&format!("{prefix}{}", list_prefix(&key)))
                    .await?;
                Ok(Some(keys_response(keys)))
            }
            // Deleting the root of one's cubbyhole is a no-op, as in Vault.
            Operation::Delete if key.is_empty() => Ok(None),
            _ if key.is_empty() => Err(Error::bad_request("missing path")),
            Operation::Read => Ok(read_entry(&req.storage, &format!("{prefix}{key}"))
                .await?
                .map(Response::data)),
            Operation::Create | Operation::Update => {
                if req.data.raw().is_empty() {
                    return Err(Error::bad_request("missing data fields"));
                }
                req.storage
                    .put_json(&format!("{prefix}{key}"), req.data.raw())
                    .await?;
                Ok(None)
            }
            Operation::Delete => {
                req.storage.delete(&format!("{prefix}{key}")).await?;
                Ok(None)
            }
            Operation::Patch => Err(Error::UnsupportedOperation),
        }
    }
}
