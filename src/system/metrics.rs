//! `sys/metrics`: the server's telemetry, as Prometheus text
//! (`?format=prometheus`) or Vault's JSON, unwrapped. A listener with
//! `telemetry { unauthenticated_metrics_access = true }` serves it itself,
//! without a token; here it is an ordinary path (token, ACL, audit).

use super::SystemBackend;
use crate::core::metrics::{refusal, render, Format};
use crate::handler;
use crate::logical::framework::{Answer, Field, Path};
use crate::logical::{Request, Response, Result};

pub(super) const PATHS: &[Path<SystemBackend>] = &[Path::new("metrics")
    .fields(&[&[Field::string("format")]])
    .answers(Answer::Raw("text/plain"))
    .read(handler!(metrics))];

async fn metrics(b: &SystemBackend, req: &mut Request) -> Result<Option<Response>> {
    let core = b.core()?;
    let format = req.data.str("format")?;
    let rendered = match Format::from_request(format.as_deref(), None) {
        Ok(format) => render(&core.metrics_snapshot().await, format, &core.telemetry()),
        Err(err) => refusal(&err),
    };
    Ok(Some(Response::raw(
        rendered.status,
        rendered.content_type,
        rendered.body,
    )))
}
