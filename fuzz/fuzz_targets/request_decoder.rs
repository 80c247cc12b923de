//! The HTTP request decoder: method → operation, path normalization and
//! percent-decoding, token headers, query string and body → request data
//! (JSON, form encoding, `null`), then every weakly typed getter of
//! `FieldData` on every key. Properties: no panic, every error is a 4xx.
#![no_main]

use arbitrary::Arbitrary;
use axum::http::{HeaderMap, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use vaultlet::http::error_response;
use vaultlet::http::fuzzing as decode;
use vaultlet::logical::{Error, FieldData, Operation};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    method: u8,
    content_type: u8,
    token_header: u8,
    token: &'a str,
    path: &'a str,
    query: &'a str,
    body: &'a [u8],
}

const METHODS: [&str; 8] = ["GET", "LIST", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
const CONTENT_TYPES: [&str; 5] = [
    "",
    "application/json",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-8",
    "application/merge-patch+json",
];
/// Field names the backends read, plus whatever keys the input has.
const NAMES: [&str; 8] = ["ttl", "csr", "common_name", "alt_names", "list", "policies", "", "format"];

fn client_error(err: &Error) {
    let status = error_response(err).status();
    assert!(
        status.is_client_error(),
        "decoder error became a {status}: {err:?}"
    );
}

fn exercise(data: &FieldData, name: &str) {
    for result in [
        data.str(name).map(drop),
        data.bool(name).map(drop),
        data.int(name).map(drop),
        data.duration(name).map(drop),
        data.comma_list(name).map(drop),
        data.string_list(name).map(drop),
        data.string_map(name).map(drop),
    ] {
        if let Err(err) = result {
            client_error(&err);
        }
    }
    if let Ok(Some(secs)) = data.duration(name) {
        assert!(secs >= 0, "negative duration {secs} for {name}");
    }
    if let Ok(Some(items)) = data.comma_list(name) {
        assert!(items.iter().all(|i| !i.is_empty() && i.trim() == i));
    }
}

fuzz_target!(|input: Input<'_>| {
    let method = METHODS[input.method as usize % METHODS.len()];
    let method = Method::from_bytes(method.as_bytes()).expect("method");

    let mut headers = HeaderMap::new();
    let ct = CONTENT_TYPES[input.content_type as usize % CONTENT_TYPES.len()];
    if !ct.is_empty() {
        headers.insert("content-type", HeaderValue::from_static(ct));
    }
    if let Ok(value) = HeaderValue::from_str(input.token) {
        let name = if input.token_header & 1 == 0 { "x-vault-token" } else { "authorization" };
        headers.insert(name, value);
        if let Some(token) = decode::token(&headers) {
            assert_eq!(token.trim(), token);
        }
    }

    // Path: percent-decoding, then normalization for every operation.
    match decode::percent_decode(input.path) {
        Ok(raw) => {
            if !input.path.contains('%') {
                assert_eq!(raw, input.path);
            }
            for op in [Operation::Read, Operation::List, Operation::Update] {
                let path = decode::logical_path(&raw, op);
                assert!(!path.starts_with('/') && !path.contains("//"), "{path:?}");
                if op == Operation::List {
                    assert!(path.is_empty() || path.ends_with('/'));
                } else {
                    assert!(!path.ends_with('/'));
                }
            }
        }
        Err(err) => client_error(&err),
    }

    // Query string: strings or arrays of strings only.
    let query = decode::query_data(Some(input.query));
    for value in query.values() {
        match value {
            Value::String(_) => {}
            Value::Array(items) => assert!(items.len() >= 2 && items.iter().all(Value::is_string)),
            other => panic!("query value {other:?}"),
        }
    }
    match decode::operation_for(&method, &query) {
        Ok(_) => {}
        Err(Error::MethodNotAllowed) => {}
        Err(err) => client_error(&err),
    }

    // Body (and query, as reads see it) through every getter.
    let body = match decode::body_data(&headers, input.body) {
        Ok(map) => Some(map),
        Err(err) => {
            client_error(&err);
            None
        }
    };
    for map in [Some(query), body].into_iter().flatten() {
        let keys: Vec<String> = map.keys().take(16).cloned().collect();
        let data = FieldData::new(map);
        for name in keys.iter().map(String::as_str).chain(NAMES) {
            exercise(&data, name);
        }
    }
});
