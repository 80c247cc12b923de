//! `sys/storage/raft/snapshot` (GET: a snapshot of the whole store, POST:
//! restore one) and `sys/storage/raft/snapshot-force` (restore without the
//! key check), as Vault serves them for integrated storage; here for every
//! store. As in Vault, `read` takes one and `update` restores one (no
//! sudo): grant them with care, a snapshot holds every record and a
//! restore replaces them all.

use super::SystemBackend;
use crate::handler;
use crate::logical::framework::{Answer, Path};
use crate::logical::{Error, Request, Response, Result, StreamedBody};

const MEDIA_TYPE: &str = "application/octet-stream";

pub(super) const PATHS: &[Path<SystemBackend>] = &[
    Path::new("storage/raft/snapshot")
        .raw_body(MEDIA_TYPE)
        .answers(Answer::Raw(MEDIA_TYPE))
        .read(handler!(save))
        .update(handler!(b, r => restore(b, r, false))),
    Path::new("storage/raft/snapshot-force")
        .raw_body(MEDIA_TYPE)
        .answers(Answer::Raw(MEDIA_TYPE))
        .update(handler!(b, r => restore(b, r, true))),
];

async fn save(b: &SystemBackend, _req: &mut Request) -> Result<Option<Response>> {
    let pieces = b.core()?.snapshot().await?;
    Ok(Some(Response {
        streamed: Some(StreamedBody::new(MEDIA_TYPE, pieces)),
        ..Default::default()
    }))
}

async fn restore(b: &SystemBackend, req: &mut Request, force: bool) -> Result<Option<Response>> {
    let file = req
        .raw_body
        .take()
        .filter(|body| !body.is_empty())
        .ok_or_else(|| Error::bad_request("invalid snapshot: the request body is empty"))?;
    b.core()?.restore_snapshot(&file, force).await?;
    Ok(None)
}
