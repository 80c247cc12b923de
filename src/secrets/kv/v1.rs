//! KV version 1 (Vault's passthrough backend): `*path` read, write, list and
//! delete, one JSON object per key, no versions. A read carries the mount's
//! default lease TTL as `lease_duration` (or the entry's own `ttl`/`lease`),
//! without a lease ID, as Vault's non-leased passthrough does.

use serde_json::{Map, Value};

use super::read_entry;
use crate::handler;
use crate::logical::framework::{Backend, Capture, Path};
use crate::logical::{parse_duration_seconds, Error, Lease, Request, Response, Result};

#[derive(Default)]
pub struct KvV1Backend;

impl KvV1Backend {
    pub fn new() -> Self {
        KvV1Backend
    }
}

/// A secret is whatever the caller writes: every path takes any data.
const fn entries(pattern: &'static str) -> Path<KvV1Backend> {
    Path::new(pattern)
        .arbitrary_fields()
        .read(handler!(read))
        .list(handler!(list))
        .update(handler!(write))
        .delete(handler!(delete))
}

impl Backend for KvV1Backend {
    const PATHS: &'static [&'static [Path<Self>]] = &[&[
        entries(""),
        entries("*path")
            .captures(KEY)
            .existence_check(|b, r| Box::pin(exists(b, r))),
    ]];
}

/// A key as the client wrote it: `foo/` is a folder, never `foo`'s entry.
const KEY: &[(&str, Capture)] = &[("path", Capture::Verbatim)];

/// The key a request addresses (`""` at the mount root, `dir` for a LIST
/// of `dir/`).
fn key_of(req: &Request) -> String {
    req.params.get("path").cloned().unwrap_or_default()
}

/// The LIST prefix for a request path: `""` or `dir/`.
pub(crate) fn list_prefix(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!("{key}/")
    }
}

/// The TTL a KV v1 read reports: the entry's `ttl` (or `lease`) when it
/// parses as a duration, else the mount's default lease TTL.
fn entry_ttl(data: &Map<String, Value>, default_ttl: i64) -> i64 {
    let raw = data.get("ttl").or_else(|| data.get("lease"));
    let parsed = match raw {
        Some(Value::String(s)) => parse_duration_seconds(s).ok(),
        Some(Value::Number(n)) => n.as_i64().filter(|s| *s >= 0),
        _ => None,
    };
    parsed.unwrap_or(default_ttl)
}

async fn exists(_b: &KvV1Backend, req: &mut Request) -> Result<bool> {
    let key = key_of(req);
    Ok(!key.is_empty() && req.storage.get(&key).await?.is_some())
}

async fn list(_b: &KvV1Backend, req: &mut Request) -> Result<Option<Response>> {
    let keys = req.storage.list(&list_prefix(&key_of(req))).await?;
    Ok(Some(Response::list(keys)))
}

async fn read(_b: &KvV1Backend, req: &mut Request) -> Result<Option<Response>> {
    let key = key_of(req);
    if key.is_empty() {
        return Ok(None);
    }
    let Some(data) = read_entry(&req.storage, &key).await? else {
        return Ok(None);
    };
    let ttl = entry_ttl(&data, req.ttls.default_ttl);
    let mut response = Response::data(data);
    response.lease = Some(Lease {
        id: String::new(),
        ttl,
        renewable: false,
    });
    Ok(Some(response))
}

async fn write(_b: &KvV1Backend, req: &mut Request) -> Result<Option<Response>> {
    let key = key_of(req);
    if key.is_empty() {
        return Err(Error::bad_request("missing path"));
    }
    if req.data.raw().is_empty() {
        return Err(Error::bad_request("missing data fields"));
    }
    req.storage.put_json(&key, req.data.raw()).await?;
    Ok(None)
}

async fn delete(_b: &KvV1Backend, req: &mut Request) -> Result<Option<Response>> {
    let key = key_of(req);
    if !key.is_empty() {
        req.storage.delete(&key).await?;
    }
    Ok(None)
}
