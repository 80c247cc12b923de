//! The HTTP layer: `/v1/*` requests become logical requests for the core,
//! and the core's answers become Vault's responses. The handful of `sys/`
//! endpoints that Vault serves outside the logical layer (health, seal
//! status, init, leader) live in [`sys_raw`]; the web UI's files in [`ui`].

pub mod cluster;
mod json_limits;
mod metrics;
mod request;
mod response;
mod sys_raw;
mod ui;

pub use sys_raw::RAW_ROUTES;

use std::any::Any;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request as HttpRequest, State};
use axum::http::Method;
use axum::response::Response as HttpResponse;
use axum::Router;
use serde_json::Map;
use tower_http::catch_panic::CatchPanicLayer;

use crate::core::{Core, LogicalInput};
use crate::logical::{Connection, Error, Operation};

pub use json_limits::JsonLimits;
pub use request::BodyLimits;
pub use response::error_response;

/// The request decoder's pure functions, for the fuzz targets in `fuzz/`
/// (not an API: hidden from the docs, may change at any time).
#[doc(hidden)]
pub mod fuzzing {
    use axum::http::{HeaderMap, Method};
    use serde_json::{Map, Value};

    use crate::logical::{Error, Operation};

    pub fn query_data(query: Option<&str>) -> Map<String, Value> {
        super::request::query_data(query)
    }

    pub fn body_data(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, Error> {
        let limits = super::JsonLimits::default();
        super::request::body_data(headers, body, &limits, super::request::Need::Data)
    }

    pub fn operation_for(method: &Method, query: &Map<String, Value>) -> Result<Operation, Error> {
        super::request::operation_for(method, query)
    }

    pub fn logical_path(raw: &str, op: Operation) -> String {
        super::request::logical_path(raw, op)
    }

    pub fn token(headers: &HeaderMap) -> Option<String> {
        super::request::token(headers)
    }

    pub fn percent_decode(path: &str) -> Result<String, Error> {
        super::percent_decode(path)
    }
}

/// Everything a request handler needs.
#[derive(Clone)]
pub struct AppState {
    pub core: Arc<Core>,
    /// The listener's body limits.
    pub limits: BodyLimits,
    /// The listener's `telemetry { unauthenticated_metrics_access }`:
    /// `sys/metrics` is served here, without a token.
    pub unauthenticated_metrics: bool,
    /// `ui = true` (or dev mode): the web UI is served at `/ui/`.
    pub ui: bool,
    /// The cluster port's TLS (shared by this node's listeners).
    pub cluster: Arc<cluster::ClusterTls>,
    /// This is the cluster port: requests come from other nodes, on
    /// behalf of the client they name.
    pub cluster_port: bool,
}

/// The application router. Every path goes to one handler, because Vault
/// routing depends on mounts that change at run time. A request that hits
/// a bug (a panic) gets Vault's 500 instead of a dropped connection, and
/// the server goes on serving the others. The core learns which endpoints
/// this layer answers itself, for the OpenAPI document.
pub fn router(state: AppState) -> Router {
    state.core.declare_raw_routes(RAW_ROUTES);
    Router::new()
        .fallback(handle)
        .with_state(state)
        .layer(catch_panics())
}

type PanicAnswer = fn(Box<dyn Any + Send>) -> HttpResponse;

fn catch_panics() -> CatchPanicLayer<PanicAnswer> {
    CatchPanicLayer::custom(|_panic| {
        error_response(&Error::Internal("request handler panicked".into()))
    })
}

async fn handle(State(state): State<AppState>, req: HttpRequest) -> HttpResponse {
    // What the request log needs, taken only when it is on.
    let logged = tracing::enabled!(tracing::Level::DEBUG).then(|| {
        (
            std::time::Instant::now(),
            req.method().clone(),
            req.uri().clone(),
        )
    });
    let response = match dispatch(&state, req).await {
        Ok(response) => response,
        Err(err) => error_response(&err),
    };
    if let Some((started, method, uri)) = logged {
        log_request(&state, started, &method, &uri, response.status());
    }
    response
}

/// One debug line per request: the mount it reached (never the full
/// path, which may carry a token or an accessor), the operation, the
/// status and the latency.
fn log_request(
    state: &AppState,
    started: std::time::Instant,
    method: &Method,
    uri: &axum::http::Uri,
    status: axum::http::StatusCode,
) {
    let path = uri.path().strip_prefix("/v1/").unwrap_or("");
    let path = percent_decode(path).unwrap_or_default();
    let mount = state
        .core
        .mounts
        .route(&path)
        .map(|(mounted, _)| mounted.prefix.clone())
        .unwrap_or_default();
    let query = request::query_data(uri.query());
    let operation = request::operation_for(method, &query)
        .map(|op| op.as_str())
        .unwrap_or(method.as_str());
    tracing::debug!(
        mount = %mount,
        operation = %operation,
        status = status.as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
}

/// The error a request body yields when the client is too slow to send it
/// (the listener's body read timeout); answered with a 400, as Vault does.
#[derive(Debug, thiserror::Error)]
#[error("timed out reading the request body")]
pub struct BodyReadTimeout;

/// The most bytes a request head may take: Go's `MaxHeaderBytes` and the
/// 4 KiB its server reads beyond it.
pub const MAX_HEAD_BYTES: usize = (1 << 20) + 4096;

/// The size of a request head as it came on the wire (request line and
/// `Name: value\r\n` lines).
fn head_size(parts: &axum::http::request::Parts) -> usize {
    let line = parts.method.as_str().len() + displayed_len(&parts.uri) + 12;
    parts.headers.iter().fold(line, |size, (name, value)| {
        size + name.as_str().len() + value.len() + 4
    })
}

/// The length of what `value` displays, without building the string.
fn displayed_len(value: &impl std::fmt::Display) -> usize {
    struct Counter(usize);
    impl std::fmt::Write for Counter {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0 += s.len();
            Ok(())
        }
    }
    let mut counter = Counter(0);
    let _ = std::fmt::Write::write_fmt(&mut counter, format_args!("{value}"));
    counter.0
}

async fn dispatch(state: &AppState, req: HttpRequest) -> Result<HttpResponse, Error> {
    let (parts, body) = req.into_parts();
    if head_size(&parts) > MAX_HEAD_BYTES {
        return Err(Error::HeadTooLarge);
    }
    if !printable(parts.uri.path()) {
        return Err(Error::NonPrintablePath);
    }
    if state.cluster_port && parts.uri.path() == cluster::ECHO_PATH && parts.method == Method::POST
    {
        return cluster::hear_echo(state, body).await;
    }
    if let Some(page) = ui::serve(state.ui, parts.uri.path()) {
        return Ok(page);
    }
    let Some(raw_path) = parts.uri.path().strip_prefix("/v1/") else {
        return Err(Error::NotFound);
    };
    let raw_path = percent_decode(raw_path)?;
    if let Some(ns) = parts
        .headers
        .get("x-vault-namespace")
        .and_then(|v| v.to_str().ok())
    {
        let ns = ns.trim().trim_matches('/');
        if !ns.is_empty() && ns != "root" {
            return Err(Error::BadRequest(format!(
                "namespaces are not supported by vaultlet (X-Vault-Namespace: {ns:?})"
            )));
        }
    }
    let wrap = request::wrap_request(&parts.headers)?;
    let connection = parts
        .extensions
        .get::<Connection>()
        .cloned()
        .unwrap_or_default();
    let connection = cluster::requester(state.cluster_port, &parts.headers, connection)?;
    let mut query = request::query_data(parts.uri.query());
    let bare_path = raw_path.trim_matches('/');
    if bare_path == metrics::PATH {
        if state.unauthenticated_metrics {
            return metrics::serve_unauthenticated(state, &parts, &query).await;
        }
        metrics::format_from_accept(&parts.headers, &mut query);
    }

    // The body of a request a standby tries itself, kept to send it on
    // to the active if it turns out to need a write.
    let mut kept_body = None;
    let mut body = body;
    if state.core.is_standby() && !sys_raw::served_by_standby(bare_path) {
        // What reaches a standby on the cluster port is not sent on again:
        // the sender's idea of the active is out of date.
        if state.cluster_port {
            return Err(Error::NoActiveNode);
        }
        let served = standby_operation(&parts.method, &query).is_some_and(|op| {
            state
                .core
                .standby_serves(&request::logical_path(&raw_path, op), op)
        });
        if !served {
            return cluster::forward(state, &parts, body, &connection).await;
        }
        let bytes = read_body(body, &state.limits).await?;
        body = Body::from(bytes.clone());
        kept_body = Some(bytes);
    }
    if sys_raw::serves(bare_path) {
        return sys_raw::handle(state, &parts.method, bare_path, &query, body).await;
    }
    let operation = if parts.method == Method::HEAD {
        Operation::Header
    } else {
        request::operation_for(&parts.method, &query)?
    };
    if matches!(operation, Operation::Update | Operation::Patch) && raw_path.ends_with('/') {
        return Err(Error::bad_request("cannot write to a path ending in '/'"));
    }
    let path = request::logical_path(&raw_path, operation);
    let token = request::token(&parts.headers);
    let (data, raw_body) = match operation {
        Operation::Update if is_snapshot_restore(&path) => {
            // A snapshot is the body as it is, whatever its declared type,
            // and may be larger than any other request: a caller allowed
            // to restore may send up to MAX_SNAPSHOT_BYTES.
            let mut limits = state.limits;
            if state
                .core
                .may_restore_snapshot(token.as_deref(), &path)
                .await
            {
                limits.max_request_size = Some(MAX_SNAPSHOT_BYTES);
            }
            (Map::new(), Some(read_body(body, &limits).await?))
        }
        Operation::Update | Operation::Patch => {
            if operation == Operation::Patch {
                let content_type = parts
                    .headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !content_type.starts_with("application/merge-patch+json") {
                    return Err(Error::UnsupportedMediaType);
                }
            }
            let bytes = read_body(body, &state.limits).await?;
            // Without a token, a path that needs one is refused whatever
            // the body holds: only what Vault would refuse first (before
            // authenticating) is looked at, and nothing is built.
            let need = if token.is_none() && state.core.refuses_without_token(&path) {
                request::Need::Verdict
            } else {
                request::Need::Data
            };
            match request::decode_body(&parts.headers, bytes, &state.limits.json, need)? {
                request::Body::Data(data) => (data, None),
                request::Body::Raw(raw) => (Map::new(), Some(raw)),
            }
        }
        _ => {
            let mut query = query;
            query.remove("list");
            (query, None)
        }
    };
    let audited_headers = match state.core.audit.wanted_headers() {
        Some(table) => request::audited_headers(&parts.headers, &table),
        None => Default::default(),
    };
    let input = LogicalInput {
        operation,
        path: path.clone(),
        trailing_slash: operation != Operation::List && !path.is_empty() && raw_path.ends_with('/'),
        data,
        raw_body,
        token,
        connection: connection.clone(),
        audited_headers,
        wrap,
    };
    match (state.core.handle(input).await, kept_body) {
        (Err(Error::ReadOnly), Some(bytes)) => {
            cluster::forward(state, &parts, Body::from(bytes), &connection).await
        }
        (output, _) => Ok(response::success_response(&path, output?)),
    }
}

/// The operation a request to a standby asks for, if it is one a standby
/// may serve at all (its errors are left to the active).
fn standby_operation(method: &Method, query: &Map<String, serde_json::Value>) -> Option<Operation> {
    if method == Method::HEAD {
        return Some(Operation::Header);
    }
    request::operation_for(method, query).ok()
}

/// The largest snapshot a restore reads (it is held in memory whole, to
/// be verified before anything is written).
pub const MAX_SNAPSHOT_BYTES: usize = 1 << 30;

fn is_snapshot_restore(path: &str) -> bool {
    use crate::core::snapshot::{FORCE_RESTORE_PATH, RESTORE_PATH};
    path == RESTORE_PATH || path == FORCE_RESTORE_PATH
}

/// Reads the whole body, refusing more than the listener's
/// `max_request_size`. A client too slow to send it (the listener's body
/// read timeout) or a connection that breaks midway is a 400, as in Vault;
/// only the size limit is a 413.
pub(crate) async fn read_body(body: Body, limits: &BodyLimits) -> Result<axum::body::Bytes, Error> {
    axum::body::to_bytes(body, limits.max_request_size.unwrap_or(usize::MAX))
        .await
        .map_err(|err| {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
            while let Some(e) = source {
                if e.is::<BodyReadTimeout>() {
                    return Error::bad_request(format!("failed to read the request body: {e}"));
                }
                if e.to_string().contains("length limit exceeded") {
                    return Error::PayloadTooLarge;
                }
                source = e.source();
            }
            Error::bad_request(format!("failed to read the request body: {err}"))
        })
}

/// Vault refuses a path with a character Go's `unicode.IsPrint` rejects
/// (controls, format characters, separators other than the space, private
/// use, unassigned code points) before anything else looks at it. Escapes
/// that are not UTF-8 decode to U+FFFD, as in Go, which is printable.
fn printable(raw_path: &str) -> bool {
    use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};
    // Most paths: ASCII from the space to `~` (all printable), no escapes.
    if raw_path
        .bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b'%')
    {
        return true;
    }
    let decoded = decode_escapes(raw_path).unwrap_or_else(|| raw_path.as_bytes().to_vec());
    String::from_utf8_lossy(&decoded).chars().all(|c| {
        c == ' '
            || !matches!(
                c.general_category_group(),
                GeneralCategoryGroup::Separator | GeneralCategoryGroup::Other
            )
    })
}

fn percent_decode(path: &str) -> Result<String, Error> {
    if !path.contains('%') {
        return Ok(path.to_string());
    }
    percent_encoding_decode(path).ok_or_else(|| Error::bad_request("invalid URL path encoding"))
}

/// Decodes `%XX` escapes; the result must be UTF-8.
fn percent_encoding_decode(input: &str) -> Option<String> {
    String::from_utf8(decode_escapes(input)?).ok()
}

/// The bytes `%XX` escapes stand for; `None` for a malformed escape.
fn decode_escapes(input: &str) -> Option<Vec<u8>> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = input.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panicking_handler_answers_vaults_500_and_the_router_serves_on() {
        let app = Router::new()
            .fallback(|| async {
                if true {
                    panic!("a bug");
                }
                ""
            })
            .layer(catch_panics());
        for _ in 0..2 {
            let request = HttpRequest::builder()
                .uri("/v1/sys/health")
                .body(Body::empty())
                .expect("request");
            let response = app.clone().oneshot(request).await.expect("a response");
            assert_eq!(response.status(), 500);
            let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .expect("body");
            let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
            assert_eq!(
                json["errors"][0],
                "1 error occurred:\n\t* internal error\n\n"
            );
        }
    }
}
