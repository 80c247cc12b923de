//! `sys/metrics` at the HTTP layer: a listener with
//! `telemetry { unauthenticated_metrics_access = true }` serves it here,
//! without a token, audit or seal check (as Vault does); otherwise the
//! request goes to the system backend like any other, with an `Accept`
//! header for Prometheus text read as `format=prometheus`.

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response as HttpResponse;
use serde_json::{Map, Value};

use super::response::with_headers;
use super::AppState;
use crate::core::metrics::{refusal, render, Format};
use crate::logical::Error;

pub const PATH: &str = "sys/metrics";

fn accept(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok())
}

fn format_param(query: &Map<String, Value>) -> Option<&str> {
    query.get("format").and_then(Value::as_str)
}

/// An `Accept` header asking for Prometheus or OpenMetrics text stands
/// for `format=prometheus` when the query names no format.
pub fn format_from_accept(headers: &HeaderMap, query: &mut Map<String, Value>) {
    if format_param(query).is_none()
        && Format::from_request(None, accept(headers)) == Ok(Format::Prometheus)
    {
        query.insert("format".into(), Value::from("prometheus"));
    }
}

pub async fn serve_unauthenticated(
    state: &AppState,
    parts: &Parts,
    query: &Map<String, Value>,
) -> Result<HttpResponse, Error> {
    if parts.method != Method::GET {
        return Err(Error::MethodNotAllowed);
    }
    let core = &state.core;
    let rendered = match Format::from_request(format_param(query), accept(&parts.headers)) {
        Ok(format) => render(&core.metrics_snapshot().await, format, &core.telemetry()),
        Err(err) => refusal(&err),
    };
    Ok(with_headers(
        StatusCode::from_u16(rendered.status).unwrap_or(StatusCode::OK),
        Body::from(rendered.body),
        rendered.content_type,
    ))
}
