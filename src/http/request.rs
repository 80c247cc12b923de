//! Decoding an HTTP request into a logical one (Vault's `http/logical.go`):
//! method → operation, path normalization, token, and body/query → data.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method};
use serde_json::{Map, Value};

use super::json_limits::{JsonLimits, Refusal};
use crate::core::audit_headers::{self, AuditedHeader, HeaderTable, RequestHeaders};
use crate::logical::{
    parse_bool, parse_signed_duration_seconds, Error, Operation, WrapFormat, WrapRequest,
};

/// What a listener accepts in a request body (its `max_request_size` and
/// JSON limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    /// Bytes; `None` is no limit.
    pub max_request_size: Option<usize>,
    pub json: JsonLimits,
}

impl Default for BodyLimits {
    fn default() -> Self {
        BodyLimits {
            // Vault's default.
            max_request_size: Some(32 * 1024 * 1024),
            json: JsonLimits::default(),
        }
    }
}

/// The most parameters a form-encoded body may have: Go's `net/url`
/// refuses more, so Vault answers such a body "error parsing form data".
const MAX_FORM_PARAMETERS: usize = 10_000;

/// How much of a body the request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Its parameters.
    Data,
    /// Only whether Vault would refuse it: the request is refused anyway
    /// (no token for a path that needs one), but a body Vault would refuse
    /// first is refused the same way, without building it.
    Verdict,
}

/// `LIST` is a custom verb hvac sends.
pub fn operation_for(method: &Method, query: &Map<String, Value>) -> Result<Operation, Error> {
    match method.as_str() {
        "GET" => match query.get("list") {
            Some(Value::String(s)) => match parse_bool(s) {
                Some(true) => Ok(Operation::List),
                Some(false) => Ok(Operation::Read),
                None => Err(Error::InvalidRequest),
            },
            Some(_) => Err(Error::InvalidRequest),
            None => Ok(Operation::Read),
        },
        "LIST" => Ok(Operation::List),
        "POST" | "PUT" => Ok(Operation::Update),
        "PATCH" => Ok(Operation::Patch),
        "DELETE" => Ok(Operation::Delete),
        _ => Err(Error::MethodNotAllowed),
    }
}

/// The logical path: no `/v1/` prefix, `//` collapsed, no leading `/`; a
/// list path ends with `/`, any other path does not.
pub fn logical_path(raw: &str, op: Operation) -> String {
    let clean = !raw.starts_with('/') && !raw.ends_with('/') && !raw.contains("//");
    if clean && op != Operation::List {
        return raw.to_string();
    }
    let joined = raw
        .split('/')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("/");
    if op == Operation::List && !joined.is_empty() {
        format!("{joined}/")
    } else {
        joined
    }
}

/// The client token, as Vault finds it: a non-empty `X-Vault-Token` (its
/// first value), else the first `Authorization` value with the `Bearer `
/// scheme.
pub fn token(headers: &HeaderMap) -> Option<String> {
    let non_empty = |token: &str| {
        Some(token.trim())
            .filter(|t| !t.is_empty())
            .map(str::to_string)
    };
    headers
        .get("x-vault-token")
        .and_then(|v| v.to_str().ok())
        .and_then(non_empty)
        .or_else(|| {
            headers
                .get_all("authorization")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(|v| v.strip_prefix("Bearer "))
                .and_then(non_empty)
        })
}

/// The configured audited headers of a request. The token is never among
/// them, as in Vault: `X-Vault-Token` is left out, and so is a bearer token
/// from `Authorization` when that is where the token came from (the header
/// then stays, without that value).
pub fn audited_headers(headers: &HeaderMap, table: &HeaderTable) -> RequestHeaders {
    let token_from_bearer = headers
        .get("x-vault-token")
        .and_then(|v| v.to_str().ok())
        .is_none();
    let is_bearer = |name: &str, value: &[u8]| {
        token_from_bearer && name == "authorization" && value.starts_with(b"Bearer ")
    };
    let pairs = headers
        .iter()
        .filter(|(name, value)| {
            *name != "x-vault-token" && !is_bearer(name.as_str(), value.as_bytes())
        })
        .map(|(name, value)| {
            (
                name.as_str(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        });
    let mut picked = audit_headers::select(table, pairs);
    let had_bearer = headers
        .get_all("authorization")
        .iter()
        .any(|value| is_bearer("authorization", value.as_bytes()));
    if let (true, Some(settings)) = (had_bearer, table.get("authorization")) {
        picked
            .entry("authorization".into())
            .or_insert_with(|| AuditedHeader {
                hmac: settings.hmac,
                values: Vec::new(),
            });
    }
    picked
}

/// Query parameters as request data: one value → string, repeated → array.
pub fn query_data(query: Option<&str>) -> Map<String, Value> {
    let mut data = Map::new();
    let Some(query) = query else { return data };
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        insert_repeated(&mut data, key.into_owned(), value.into_owned());
    }
    data
}

fn insert_repeated(data: &mut Map<String, Value>, key: String, value: String) {
    match data.get_mut(&key) {
        Some(Value::Array(items)) => items.push(Value::String(value)),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, Value::String(value)]);
        }
        None => {
            data.insert(key, Value::String(value));
        }
    }
}

/// A write's body as the backend receives it.
pub enum Body {
    /// Parameters, from JSON or form encoding.
    Data(Map<String, Value>),
    /// An opaque payload (a DER OCSP request), for `Request::raw_body`.
    Raw(Bytes),
}

/// How a body is read, decided in this one place from its declared media
/// type and its first bytes.
#[derive(Debug, PartialEq, Eq)]
enum Encoding {
    Json,
    Form,
    /// `application/ocsp-request`: Vault hands the DER body to the backend
    /// undecoded (`http/logical.go`); every other type is read as JSON or
    /// form data.
    Opaque,
}

fn encoding(headers: &HeaderMap, trimmed: &[u8]) -> Encoding {
    let looks_like_json = matches!(trimmed.first(), Some(b'{') | Some(b'[')) || trimmed == b"null";
    let media_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .filter(|m| !m.is_empty());
    match media_type.as_deref() {
        Some("application/ocsp-request") => Encoding::Opaque,
        Some("application/x-www-form-urlencoded") if !looks_like_json => Encoding::Form,
        _ => Encoding::Json,
    }
}

/// A write's body: parameters, or an opaque payload passed through. With
/// [`Need::Verdict`] the parameters are checked but not built.
pub fn decode_body(
    headers: &HeaderMap,
    body: Bytes,
    limits: &JsonLimits,
    need: Need,
) -> Result<Body, Error> {
    if encoding(headers, body.trim_ascii()) == Encoding::Opaque {
        return Ok(Body::Raw(body));
    }
    body_data(headers, &body, limits, need).map(Body::Data)
}

/// The body as data. JSON whatever the content type (Go clients send none),
/// except a form-encoded body that does not look like JSON. An empty body
/// and the literal `null` (`vault write -force`) mean no data. JSON is
/// checked against `limits` before it is parsed.
pub fn body_data(
    headers: &HeaderMap,
    body: &[u8],
    limits: &JsonLimits,
    need: Need,
) -> Result<Map<String, Value>, Error> {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return Ok(Map::new());
    }
    if encoding(headers, trimmed) == Encoding::Form {
        if trimmed.iter().filter(|b| **b == b'&').count() >= MAX_FORM_PARAMETERS {
            return Err(Error::bad_request("error parsing form data"));
        }
        let mut data = Map::new();
        if need == Need::Data {
            for (key, value) in form_urlencoded::parse(trimmed) {
                insert_repeated(&mut data, key.into_owned(), value.into_owned());
            }
        }
        return Ok(data);
    }
    limits.check(trimmed).map_err(|refusal| match refusal {
        Refusal::Exceeded(exceeded) => Error::BadRequest(exceeded.to_string()),
        Refusal::Syntax(err) => parse_error(&err),
    })?;
    if need == Need::Verdict {
        // Valid JSON now; only its kind remains to judge.
        return match trimmed.first() {
            Some(b'{') | Some(b'n') => Ok(Map::new()),
            _ => Err(not_an_object()),
        };
    }
    match serde_json::from_slice::<Value>(trimmed) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(_) => Err(not_an_object()),
        Err(err) => Err(parse_error(&err)),
    }
}

fn not_an_object() -> Error {
    Error::bad_request("failed to parse JSON input: the body must be a JSON object")
}

fn parse_error(err: &serde_json::Error) -> Error {
    Error::BadRequest(format!("failed to parse JSON input: {err}"))
}

/// The response wrapping a request asks for: `X-Vault-Wrap-TTL` (seconds
/// or a Go duration; empty or 0 asks for none) and `X-Vault-Wrap-Format`
/// (`jwt`, else the plain token), read as Vault's handler reads them.
pub fn wrap_request(headers: &HeaderMap) -> Result<Option<WrapRequest>, Error> {
    let Some(ttl) = headers.get("x-vault-wrap-ttl") else {
        return Ok(None);
    };
    let ttl = String::from_utf8_lossy(ttl.as_bytes());
    let invalid = |why: &dyn std::fmt::Display| {
        Error::BadRequest(format!("error parsing X-Vault-Wrap-TTL header: {why}"))
    };
    let ttl = parse_signed_duration_seconds(ttl.trim()).map_err(|e| invalid(&e))?;
    if ttl < 0 {
        return Err(invalid(&"requested wrap ttl cannot be negative"));
    }
    if ttl == 0 {
        return Ok(None);
    }
    let format = match headers.get("x-vault-wrap-format").map(|v| v.as_bytes()) {
        Some(b"jwt") => WrapFormat::Jwt,
        _ => WrapFormat::Token,
    };
    Ok(Some(WrapRequest { ttl, format }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_with_list_true_is_a_list() {
        let q = query_data(Some("list=true"));
        assert_eq!(operation_for(&Method::GET, &q).ok(), Some(Operation::List));
        let q = query_data(Some("list=nope"));
        assert!(operation_for(&Method::GET, &q).is_err());
    }

    #[test]
    fn paths_are_normalized_like_vault() {
        assert_eq!(
            logical_path("sys//mounts/pki/", Operation::Update),
            "sys/mounts/pki"
        );
        assert_eq!(logical_path("pki/roles", Operation::List), "pki/roles/");
    }

    fn body_data(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, Error> {
        super::body_data(headers, body, &JsonLimits::default(), Need::Data)
    }

    fn decode_body(headers: &HeaderMap, body: Bytes) -> Result<Body, Error> {
        super::decode_body(headers, body, &JsonLimits::default(), Need::Data)
    }

    #[test]
    fn null_and_empty_bodies_are_no_data() {
        let h = HeaderMap::new();
        assert!(body_data(&h, b"null")
            .map(|m| m.is_empty())
            .unwrap_or(false));
        assert!(body_data(&h, b"  ").map(|m| m.is_empty()).unwrap_or(false));
        assert!(body_data(&h, b"[1]").is_err());
        assert!(body_data(&h, b"{bad").is_err());
    }

    fn passes_raw(content_type: Option<&'static str>, body: &'static [u8]) -> bool {
        let mut headers = HeaderMap::new();
        if let Some(ct) = content_type {
            headers.insert("content-type", axum::http::HeaderValue::from_static(ct));
        }
        matches!(
            decode_body(&headers, Bytes::from_static(body)),
            Ok(Body::Raw(b)) if b == body
        )
    }

    #[test]
    fn only_an_ocsp_request_body_passes_through_raw() {
        let der: &[u8] = b"\x30\x03\x0a\x01\x20";
        assert!(passes_raw(Some("application/ocsp-request"), der));
        assert!(passes_raw(Some("Application/OCSP-Request; x=1"), der));
        assert!(!passes_raw(None, der));
        assert!(!passes_raw(Some("application/json"), der));
        assert!(!passes_raw(Some("application/merge-patch+json"), der));
        assert!(!passes_raw(
            Some("application/x-www-form-urlencoded"),
            b"a=b"
        ));
        assert!(!passes_raw(Some("text/plain"), der));
        assert!(!passes_raw(Some("application/octet-stream"), der));
        // Whatever does not pass through is decoded as before.
        assert!(decode_body(&HeaderMap::new(), Bytes::from_static(der)).is_err());
    }

    #[test]
    fn a_verdict_refuses_what_parsing_would_and_builds_nothing() {
        let verdict = |body: &[u8]| {
            super::body_data(
                &HeaderMap::new(),
                body,
                &JsonLimits::default(),
                Need::Verdict,
            )
            .map_err(|e| e.to_string())
        };
        assert_eq!(verdict(br#"{"a":1}"#), Ok(Map::new()));
        assert_eq!(verdict(b"null"), Ok(Map::new()));
        for body in [&b"[1]"[..], b"\"a\"", b"{bad", b"{} x"] {
            assert_eq!(
                verdict(body),
                body_data(&HeaderMap::new(), body).map_err(|e| e.to_string())
            );
        }
    }

    #[test]
    fn a_form_body_has_at_most_ten_thousand_parameters() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            axum::http::HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let form = |n: usize| vec!["k=v"; n].join("&");
        assert!(body_data(&headers, form(10_000).as_bytes()).is_ok());
        let refused = body_data(&headers, form(10_001).as_bytes()).map_err(|e| e.to_string());
        assert_eq!(refused, Err("error parsing form data".to_string()));
    }

    #[test]
    fn an_empty_vault_token_header_falls_back_to_bearer() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut headers = HeaderMap::new();
            for (name, value) in pairs {
                headers.append(*name, axum::http::HeaderValue::from_static(value));
            }
            headers
        };
        let bearer = ("authorization", "Bearer b");
        assert_eq!(
            token(&headers(&[("x-vault-token", "t"), bearer])).as_deref(),
            Some("t")
        );
        assert_eq!(
            token(&headers(&[("x-vault-token", ""), bearer])).as_deref(),
            Some("b")
        );
        assert_eq!(
            token(&headers(&[("x-vault-token", "  "), bearer])).as_deref(),
            Some("b")
        );
        assert_eq!(
            token(&headers(&[("authorization", "Basic x"), bearer])).as_deref(),
            Some("b")
        );
        assert_eq!(token(&headers(&[("authorization", "bearer b")])), None);
        assert_eq!(token(&headers(&[("x-vault-token", "")])), None);
    }

    #[test]
    fn audited_headers_never_hold_the_token() {
        use crate::core::audit_headers::HeaderSettings;
        let table = HeaderTable::from(
            ["x-vault-token", "authorization", "x-foo"]
                .map(|name| (name.to_string(), HeaderSettings { hmac: false })),
        );
        let mut headers = HeaderMap::new();
        headers.insert("x-foo", "a".parse().expect("value"));
        headers.insert("authorization", "Bearer secret".parse().expect("value"));
        let picked = audited_headers(&headers, &table);
        assert_eq!(picked["x-foo"].values, ["a"]);
        assert!(picked["authorization"].values.is_empty());

        headers.insert("x-vault-token", "secret".parse().expect("value"));
        let picked = audited_headers(&headers, &table);
        assert!(!picked.contains_key("x-vault-token"));
        // The token came from X-Vault-Token: Authorization is another
        // header, recorded as sent.
        assert_eq!(picked["authorization"].values, ["Bearer secret"]);
    }

    #[test]
    fn repeated_query_keys_become_arrays() {
        let q = query_data(Some("a=1&a=2&b=3"));
        assert_eq!(q.get("a"), Some(&serde_json::json!(["1", "2"])));
        assert_eq!(q.get("b"), Some(&serde_json::json!("3")));
    }
}
