//! The HTTP layer: `/v1/*` requests become logical requests for the core,
//! and the core's answers become Vault's responses. The handful of `sys/`
//! endpoints that Vault serves outside the logical layer (health, seal
//! status, init, leader) live in [`sys_raw`].

mod request;
mod response;
mod sys_raw;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request as HttpRequest, State};
use axum::http::Method;
use axum::response::Response as HttpResponse;
use axum::Router;

use crate::core::{Core, LogicalInput};
use crate::logical::{Connection, Error, Operation};

pub use request::MAX_REQUEST_SIZE;
pub use response::error_response;

/// Everything a request handler needs.
#[derive(Clone)]
pub struct AppState {
    pub core: Arc<Core>,
}

/// The application router. Every path goes to one handler, because Vault
/// routing depends on mounts that change at run time.
pub fn router(state: AppState) -> Router {
    Router::new().fallback(handle).with_state(state)
}

async fn handle(State(state): State<AppState>, req: HttpRequest) -> HttpResponse {
    match dispatch(&state, req).await {
        Ok(response) => response,
        Err(err) => error_response(&err),
    }
}

async fn dispatch(state: &AppState, req: HttpRequest) -> Result<HttpResponse, Error> {
    let (parts, body) = req.into_parts();
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
    let connection = parts
        .extensions
        .get::<Connection>()
        .cloned()
        .unwrap_or_default();
    let query = request::query_data(parts.uri.query());
    let bare_path = raw_path.trim_matches('/');

    if sys_raw::serves(bare_path) {
        return sys_raw::handle(state, &parts.method, bare_path, &query, body).await;
    }
    if parts.method == Method::HEAD {
        return Err(Error::MethodNotAllowed);
    }

    let operation = request::operation_for(&parts.method, &query)?;
    let data = match operation {
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
            let bytes = read_body(body).await?;
            request::body_data(&parts.headers, &bytes)?
        }
        _ => {
            let mut query = query;
            query.remove("list");
            query
        }
    };
    let path = request::logical_path(&raw_path, operation);
    let input = LogicalInput {
        operation,
        path: path.clone(),
        data,
        token: request::token(&parts.headers),
        connection,
    };
    let output = state.core.handle(input).await?;
    Ok(response::success_response(&path, output))
}

/// Reads the whole body, refusing more than Vault's 32 MiB.
pub(crate) async fn read_body(body: Body) -> Result<axum::body::Bytes, Error> {
    axum::body::to_bytes(body, MAX_REQUEST_SIZE)
        .await
        .map_err(|_| Error::PayloadTooLarge)
}

fn percent_decode(path: &str) -> Result<String, Error> {
    percent_encoding_decode(path).ok_or_else(|| Error::bad_request("invalid URL path encoding"))
}

/// Decodes `%XX` escapes; the result must be UTF-8.
fn percent_encoding_decode(input: &str) -> Option<String> {
    if !input.contains('%') {
        return Some(input.to_string());
    }
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
    String::from_utf8(out).ok()
}
