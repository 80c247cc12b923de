//! Encoding logical results as Vault's HTTP responses: the envelope, raw
//! bodies, 204s, and the one place where errors become status codes.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response as HttpResponse;
use serde_json::{json, Map, Value};

use crate::core::LogicalOutput;
use crate::logical::{envelope, Error, Response};
use crate::util::multierror::multierror;

/// A JSON response with Vault's headers.
pub fn json_response(status: StatusCode, body: &Value) -> HttpResponse {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    with_headers(status, Body::from(bytes), "application/json")
}

/// An empty response (204, or HEAD) that still says `application/json`.
pub fn empty_response(status: StatusCode) -> HttpResponse {
    with_headers(status, Body::empty(), "application/json")
}

/// A response with this body and content type, and Vault's headers.
pub(super) fn with_headers(status: StatusCode, body: Body, content_type: &str) -> HttpResponse {
    let mut response = HttpResponse::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    let content_type = match content_type {
        "" => None,
        // Nearly every answer: no need to check and copy the text.
        "application/json" => Some(HeaderValue::from_static("application/json")),
        other => Some(
            HeaderValue::from_str(other)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
        ),
    };
    if let Some(content_type) = content_type {
        headers.insert(header::CONTENT_TYPE, content_type);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A body sent as its pieces arrive; an error ends the response early
/// (the connection is cut, so the client sees an incomplete body).
struct Streamed(crate::logical::StreamedPieces);

impl axum::body::HttpBody for Streamed {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        self.0.poll_recv(cx).map(|piece| {
            piece.map(|piece| {
                piece
                    .map(http_body::Frame::data)
                    .map_err(std::io::Error::other)
            })
        })
    }
}

/// The only mapping from error kinds to HTTP statuses and bodies.
pub fn error_response(err: &Error) -> HttpResponse {
    let (status, body) = match err {
        Error::NonPrintablePath => {
            let mut response = HttpResponse::new(Body::empty());
            *response.status_mut() = StatusCode::BAD_REQUEST;
            return response;
        }
        Error::HeadTooLarge => {
            let mut response = HttpResponse::new(Body::empty());
            *response.status_mut() = StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
            return response;
        }
        Error::BadRequest(msg) => (StatusCode::BAD_REQUEST, json!({ "errors": [msg] })),
        Error::BadRequestWithData { message, data } => (
            StatusCode::BAD_REQUEST,
            json!({ "errors": [message], "data": data }),
        ),
        Error::InvalidRequest => (StatusCode::BAD_REQUEST, json!({ "errors": [] })),
        Error::PermissionDenied => (
            StatusCode::FORBIDDEN,
            json!({ "errors": ["permission denied"] }),
        ),
        Error::Forbidden(msg) => (StatusCode::FORBIDDEN, json!({ "errors": [msg] })),
        Error::AclDenied {
            invalid_token: false,
        } => (
            StatusCode::FORBIDDEN,
            json!({ "errors": [multierror(&["permission denied"])] }),
        ),
        Error::AclDenied {
            invalid_token: true,
        } => (
            StatusCode::FORBIDDEN,
            json!({ "errors": [multierror(&["permission denied", "invalid token"])] }),
        ),
        Error::NotFound => (StatusCode::NOT_FOUND, json!({ "errors": [] })),
        Error::UnsupportedPath => (
            StatusCode::NOT_FOUND,
            json!({ "errors": [multierror(&["unsupported path"])] }),
        ),
        Error::NoRoute(_) => (
            StatusCode::NOT_FOUND,
            json!({ "errors": [err.to_string()] }),
        ),
        Error::UnsupportedOperation => (
            StatusCode::METHOD_NOT_ALLOWED,
            json!({ "errors": [multierror(&["unsupported operation"])] }),
        ),
        Error::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, json!({ "errors": [] })),
        Error::PayloadTooLarge => (
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({ "errors": [err.to_string()] }),
        ),
        Error::UnsupportedMediaType => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            json!({ "errors": [err.to_string()] }),
        ),
        Error::Sealed => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "errors": ["Vault is sealed"] }),
        ),
        Error::NoActiveNode | Error::ReadOnly => {
            let mut response = json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({ "errors": [err.to_string()] }),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return response;
        }
        Error::StorageUnavailable(why) => {
            tracing::warn!(error = %why, "storage unavailable");
            let mut response = json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({ "errors": [multierror(&["storage unavailable, retry later"])] }),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return response;
        }
        Error::Internal(msg) => {
            tracing::error!(error = %msg, "internal error");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({ "errors": [multierror(&["internal error"])] }),
            )
        }
    };
    json_response(status, &body)
}

/// Sys routes whose `data` keys Vault also copies to the top level.
fn is_injected(path: &str) -> bool {
    const EXACT: &[&str] = &[
        "sys/auth",
        "sys/mounts",
        "sys/policy",
        "sys/capabilities",
        "sys/capabilities-self",
        "sys/capabilities-accessor",
        "sys/remount",
        "sys/rotate",
        "sys/key-status",
        "sys/ha-status",
        "sys/config/cors",
        "sys/config/auditing/request-headers",
        "sys/wrapping/wrap",
    ];
    const PREFIX: &[&str] = &[
        "sys/auth/",
        "sys/mounts/",
        "sys/policy/",
        "sys/audit",
        "sys/config/auditing/request-headers/",
    ];
    let path = path.trim_end_matches('/');
    EXACT.contains(&path) || PREFIX.iter().any(|p| path.starts_with(p)) || path == "sys/audit"
}

/// Renders a successful logical result.
pub fn success_response(path: &str, output: LogicalOutput) -> HttpResponse {
    if let Some(wrap_info) = &output.wrap_info {
        // A wrapped answer carries nothing but the wrapping token.
        let wrapped = Response::default();
        let body = envelope::render(envelope::Parts {
            request_id: "",
            response: &wrapped,
            auth: None,
            wrap_info: Some(wrap_info),
            mount_type: "",
        });
        return json_response(StatusCode::OK, &body);
    }
    let LogicalOutput {
        request_id,
        mount_type,
        mut response,
        auth,
        empty,
        ..
    } = output;
    let extra = std::mem::take(&mut response.headers);
    let mut http = success_body(path, response, auth, empty, &request_id, &mount_type);
    for (name, value) in extra {
        if let Ok(value) = HeaderValue::from_str(&value) {
            http.headers_mut().append(name, value);
        }
    }
    http
}

fn success_body(
    path: &str,
    mut response: Response,
    auth: Option<Value>,
    empty: bool,
    request_id: &str,
    mount_type: &str,
) -> HttpResponse {
    if let Some(pieces) = response.streamed.take().and_then(|s| {
        let content_type = s.content_type;
        s.take().map(|p| (content_type, p))
    }) {
        let (content_type, pieces) = pieces;
        return with_headers(StatusCode::OK, Body::new(Streamed(pieces)), content_type);
    }
    if let Some(raw) = response.raw.take() {
        // An empty raw body keeps the status its backend chose (204 for
        // "nothing here", 200 for a HEAD answer, 404 for a hidden path).
        let status = StatusCode::from_u16(raw.status).unwrap_or(StatusCode::OK);
        let mut http = with_headers(status, Body::from(raw.body), &raw.content_type);
        if let Some(value) = raw
            .cache_control
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            http.headers_mut().insert(header::CACHE_CONTROL, value);
        }
        return http;
    }
    if empty && auth.is_none() {
        return empty_response(StatusCode::NO_CONTENT);
    }
    let status = response
        .status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let parts = envelope::Parts {
        request_id,
        response: &response,
        auth: auth.as_ref(),
        wrap_info: None,
        mount_type,
    };
    if !is_injected(path) {
        let body = Body::from(envelope::to_json_bytes(parts));
        return with_headers(status, body, "application/json");
    }
    let mut body = envelope::render(parts);
    if let Value::Object(top) = &mut body {
        if let Some(Value::Object(data)) = top.get("data").cloned() {
            let mut merged: Map<String, Value> = data;
            merged.append(top);
            *top = merged;
        }
    }
    json_response(status, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injected_routes_are_the_legacy_sys_ones() {
        assert!(is_injected("sys/mounts"));
        assert!(is_injected("sys/policy/default"));
        assert!(!is_injected("sys/policies/acl/default"));
        assert!(!is_injected("pki/roles"));
    }
}
