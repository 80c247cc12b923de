//! The cubbyhole secrets engine (`cubbyhole/`, on every server): per-token
//! private key/value storage. Each token sees only its own entries, kept
//! under its hashed ID in the mount's storage; the token store destroys it
//! when the token is revoked or tidied after expiry, as Vault does.

use crate::core::wrapping::is_wrapping_token;
use crate::handler;
use crate::logical::framework::{Backend, Capture, Path};
use crate::logical::{Error, Request, Response, Result};
use crate::secrets::kv::{list_prefix, read_entry};

#[derive(Default)]
pub struct CubbyholeBackend;

impl CubbyholeBackend {
    pub fn new() -> Self {
        CubbyholeBackend
    }
}

/// Secrets are whatever the caller writes: every path takes any data.
const fn entries(pattern: &'static str) -> Path<CubbyholeBackend> {
    Path::new(pattern)
        .arbitrary_fields()
        .read(handler!(read))
        .list(handler!(list))
        .update(handler!(write))
        .delete(handler!(delete))
}

impl Backend for CubbyholeBackend {
    const PATHS: &'static [&'static [Path<Self>]] = &[&[
        entries(""),
        entries("*path")
            .captures(KEY)
            .existence_check(|b, r| Box::pin(exists(b, r))),
    ]];
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

/// A key as the client wrote it: `foo/` is a folder, never `foo`'s entry.
const KEY: &[(&str, Capture)] = &[("path", Capture::Verbatim)];

/// The key a request addresses (`""` at the mount root, `dir` for a LIST
/// of `dir/`).
fn key_of(req: &Request) -> String {
    req.params.get("path").cloned().unwrap_or_default()
}

/// The storage key of a request's entry; the root of a cubbyhole holds none.
fn entry_key(req: &Request) -> Result<String> {
    let prefix = token_prefix(req)?;
    let key = key_of(req);
    if key.is_empty() {
        return Err(Error::bad_request("missing path"));
    }
    Ok(format!("{prefix}{key}"))
}

async fn exists(_b: &CubbyholeBackend, req: &mut Request) -> Result<bool> {
    let key = key_of(req);
    let prefix = token_prefix(req)?;
    Ok(!key.is_empty() && req.storage.get(&format!("{prefix}{key}")).await?.is_some())
}

async fn list(_b: &CubbyholeBackend, req: &mut Request) -> Result<Option<Response>> {
    let prefix = token_prefix(req)?;
    let keys = req
        .storage
        .list(&format!("{prefix}{}", list_prefix(&key_of(req))))
        .await?;
    Ok(Some(Response::list(keys)))
}

async fn read(_b: &CubbyholeBackend, req: &mut Request) -> Result<Option<Response>> {
    let key = entry_key(req)?;
    let response = read_entry(&req.storage, &key).await?.map(Response::data);
    // A wrapping token reading its response directly skips unwrap's checks.
    let wrapping = req.token.as_ref().is_some_and(is_wrapping_token);
    Ok(match response {
        Some(response) if wrapping && key_of(req) == "response" => Some(response.with_warning(
            "Reading from 'cubbyhole/response' is deprecated. Please use sys/wrapping/unwrap to unwrap responses, as it provides additional security checks and other benefits.",
        )),
        other => other,
    })
}

async fn write(_b: &CubbyholeBackend, req: &mut Request) -> Result<Option<Response>> {
    let key = entry_key(req)?;
    if req.data.raw().is_empty() {
        return Err(Error::bad_request("missing data fields"));
    }
    req.storage.put_json(&key, req.data.raw()).await?;
    Ok(None)
}

/// Deleting the root of one's cubbyhole is a no-op, as in Vault.
async fn delete(_b: &CubbyholeBackend, req: &mut Request) -> Result<Option<Response>> {
    token_prefix(req)?;
    if key_of(req).is_empty() {
        return Ok(None);
    }
    let key = entry_key(req)?;
    req.storage.delete(&key).await?;
    Ok(None)
}
