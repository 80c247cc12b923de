//! `batch_input`: a list of items, each answered on its own; one bad item
//! fails only itself, and the status tells whether any did.

use std::borrow::Cow;

use serde_json::{json, Map, Value};

use crate::logical::{Error, Request, Response, Result};

/// One item of a batch (or the request itself, when there is no batch).
pub type Item = Map<String, Value>;

/// A string field of an item (numbers as their text, as Vault's weak
/// decoding reads them).
pub fn text<'a>(item: &'a Item, key: &str) -> Cow<'a, str> {
    match item.get(key) {
        Some(Value::String(s)) => Cow::Borrowed(s),
        Some(Value::Number(n)) => Cow::Owned(n.to_string()),
        Some(Value::Bool(b)) => Cow::Owned(b.to_string()),
        _ => Cow::Borrowed(""),
    }
}

/// An integer field of an item (0 when absent).
pub fn int(item: &Item, key: &str) -> Result<i64> {
    match item.get(key) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| Error::BadRequest(format!("invalid {key}"))),
        Some(Value::String(s)) if s.is_empty() => Ok(0),
        Some(Value::String(s)) => s
            .parse()
            .map_err(|_| Error::BadRequest(format!("invalid {key}: {s}"))),
        Some(other) => Err(Error::BadRequest(format!("invalid {key}: {other}"))),
    }
}

/// The items of `batch_input`, or `None` when the request has none.
pub fn input(req: &Request) -> Result<Option<Vec<&Item>>> {
    let items = match req.data.raw().get("batch_input") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(Error::BadRequest(format!(
                "failed to parse batch input: source data must be an array or slice, got {}",
                go_kind(other)
            )))
        }
    };
    if items.is_empty() {
        return Err(Error::bad_request("missing batch input to process"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Object(map) => Ok(map),
            other => Err(Error::BadRequest(format!(
                "failed to parse batch input: '[{i}]' expected a map, got '{}'",
                go_kind(other)
            ))),
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

fn go_kind(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(_) => "float64",
        Value::Bool(_) => "bool",
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
        Value::Null => "invalid",
    }
}

/// The response to a batch: every result with the item's `reference`
/// (failed items with `error` and, as Vault shows them, `empty_fields` set
/// to `""`); 400 when any item failed, unless
/// `partial_failure_response_code` names another status for a batch where
/// some succeeded.
pub fn respond(
    items: &[&Item],
    results: Vec<Result<Map<String, Value>>>,
    partial_code: i64,
    empty_fields: &[&str],
) -> Option<Response> {
    let failed = results.iter().filter(|r| r.is_err()).count();
    let all = results.len();
    let rendered: Vec<Value> = results
        .into_iter()
        .zip(items)
        .map(|(result, item)| {
            let mut out = match result {
                Ok(map) => map,
                Err(err) => {
                    let mut m = Map::new();
                    for field in empty_fields {
                        m.insert((*field).into(), json!(""));
                    }
                    m.insert("error".into(), json!(err.to_string()));
                    m
                }
            };
            out.insert("reference".into(), json!(text(item, "reference")));
            Value::Object(out)
        })
        .collect();
    let mut data = Map::new();
    data.insert("batch_results".into(), Value::Array(rendered));
    let mut response = Response::data(data);
    if failed > 0 {
        let code = if failed < all && partial_code > 0 {
            partial_code as u16
        } else {
            400
        };
        response.status = Some(code);
    }
    Some(response)
}
