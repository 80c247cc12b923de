//! Output exactly as Vault's CLI prints it: Go's `%v` of decoded JSON,
//! `columnize` tables with `n/a` for empty cells, `kr/text` word wrapping,
//! Go's `encoding/json` (sorted map keys, HTML-safe escapes, two-space
//! indent) and a `ghodss/yaml`-style YAML.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::duration;

/// Vault's `maxLineLength`.
pub const MAX_LINE_LENGTH: usize = 78;
const HOPE_DELIM: &str = "♨";

/// A JSON value with Go's marshalling order: `Struct` keeps its field order
/// (a Go struct), `Json` objects are sorted (a Go map).
pub enum GoVal {
    Struct(Vec<(&'static str, GoVal)>),
    Json(Value),
}

// ---------------------------------------------------------------- JSON ---

fn go_string_escape(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn newline(out: &mut String, indent: bool, depth: usize) {
    if indent {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    }
}

fn write_json(v: &Value, indent: bool, depth: usize, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => go_string_escape(s, out),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, depth + 1);
                write_json(item, indent, depth + 1, out);
            }
            newline(out, indent, depth);
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<(&str, &Value)> =
                keys.into_iter().map(|k| (k.as_str(), &map[k])).collect();
            write_fields(
                fields.into_iter().map(|(k, v)| (k, Entry::J(v))),
                indent,
                depth,
                out,
            );
        }
    }
}

enum Entry<'a> {
    J(&'a Value),
    G(&'a GoVal),
}

fn write_fields<'a>(
    fields: impl Iterator<Item = (&'a str, Entry<'a>)>,
    indent: bool,
    depth: usize,
    out: &mut String,
) {
    let mut any = false;
    out.push('{');
    for (k, v) in fields {
        if any {
            out.push(',');
        }
        any = true;
        newline(out, indent, depth + 1);
        go_string_escape(k, out);
        out.push(':');
        if indent {
            out.push(' ');
        }
        match v {
            Entry::J(v) => write_json(v, indent, depth + 1, out),
            Entry::G(v) => write_go(v, indent, depth + 1, out),
        }
    }
    if any {
        newline(out, indent, depth);
    }
    out.push('}');
}

fn write_go(v: &GoVal, indent: bool, depth: usize, out: &mut String) {
    match v {
        GoVal::Json(v) => write_json(v, indent, depth, out),
        GoVal::Struct(fields) => write_fields(
            fields.iter().map(|(k, v)| (*k, Entry::G(v))),
            indent,
            depth,
            out,
        ),
    }
}

/// Go's `json.Marshal` (compact) or `json.MarshalIndent(v, "", "  ")`.
pub fn go_json(v: &Value, indent: bool) -> String {
    let mut out = String::new();
    write_json(v, indent, 0, &mut out);
    out
}

pub fn go_json_val(v: &GoVal, indent: bool) -> String {
    let mut out = String::new();
    write_go(v, indent, 0, &mut out);
    out
}

// ---------------------------------------------------------------- YAML ---

fn yaml_scalar_needs_quotes(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    let lower = s.to_lowercase();
    if matches!(
        lower.as_str(),
        "true"
            | "false"
            | "yes"
            | "no"
            | "on"
            | "off"
            | "y"
            | "n"
            | "null"
            | "~"
            | ".inf"
            | "-.inf"
            | ".nan"
    ) {
        return true;
    }
    if s.parse::<f64>().is_ok() || s.starts_with("0x") || s.starts_with("0o") {
        return true;
    }
    // YAML 1.1 timestamps (`2026-01-02…`).
    let b = s.as_bytes();
    if b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
    {
        return true;
    }
    let first = s.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        return true;
    }
    if s.starts_with(' ') || s.ends_with(' ') {
        return true;
    }
    s.contains(": ") || s.contains(" #") || s.ends_with(':') || s.chars().any(|c| c.is_control())
}

fn yaml_string(s: &str, depth: usize, out: &mut String) {
    if s.contains('\n') {
        let chomp = if s.ends_with('\n') { "|" } else { "|-" };
        out.push_str(chomp);
        for line in s.trim_end_matches('\n').split('\n') {
            out.push('\n');
            if !line.is_empty() {
                for _ in 0..depth {
                    out.push_str("  ");
                }
                out.push_str(line);
            }
        }
    } else if yaml_scalar_needs_quotes(s) {
        let mut q = String::new();
        go_string_escape(s, &mut q);
        out.push_str(
            &q.replace("\\u003c", "<")
                .replace("\\u003e", ">")
                .replace("\\u0026", "&"),
        );
    } else {
        // go-yaml folds plain scalars at a space once past column 80.
        let indent = "  ".repeat(depth);
        let mut column = out.len() - out.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let chars: Vec<char> = s.chars().collect();
        for (i, c) in chars.iter().enumerate() {
            let prev_space = i > 0 && chars[i - 1] == ' ';
            let next_space = chars.get(i + 1) == Some(&' ');
            if *c == ' ' && column > 80 && !prev_space && !next_space && i + 1 < chars.len() {
                out.push('\n');
                out.push_str(&indent);
                column = indent.len();
                continue;
            }
            out.push(*c);
            column += 1;
        }
    }
}

fn write_yaml(v: &Value, depth: usize, out: &mut String) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                    for _ in 0..depth {
                        out.push_str("  ");
                    }
                }
                yaml_string(k, depth, out);
                out.push(':');
                let child = &map[k];
                match child {
                    Value::Object(m) if !m.is_empty() => {
                        out.push('\n');
                        for _ in 0..depth + 1 {
                            out.push_str("  ");
                        }
                        write_yaml(child, depth + 1, out);
                    }
                    Value::Array(a) if !a.is_empty() => {
                        out.push('\n');
                        for _ in 0..depth {
                            out.push_str("  ");
                        }
                        write_yaml(child, depth, out);
                    }
                    _ => {
                        out.push(' ');
                        write_yaml(child, depth + 1, out);
                    }
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                    for _ in 0..depth {
                        out.push_str("  ");
                    }
                }
                out.push_str("- ");
                write_yaml(item, depth + 1, out);
            }
        }
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => yaml_string(s, depth, out),
    }
}

/// `ghodss/yaml.Marshal`, trimmed as Vault's YAML formatter does.
pub fn yaml(v: &Value) -> String {
    let mut out = String::new();
    write_yaml(v, 0, &mut out);
    out.trim().to_string()
}

// ------------------------------------------------------------- Go's %v ---

/// Go's `fmt.Sprintf("%v", x)` of a value decoded with `UseNumber`.
pub fn go_v(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(go_v).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{k}:{}", go_v(&map[k])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// Go's `%q` of a `[]string`: `["a" "b"]`.
pub fn go_q_list(v: &Value) -> String {
    let items: Vec<String> = v
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| super::kv::go_quote(s.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    format!("[{}]", items.join(" "))
}

/// Vault's `looksLikeDuration`.
pub fn looks_like_duration(k: &str) -> bool {
    k == "period"
        || k.ends_with("_period")
        || k == "ttl"
        || k.ends_with("_ttl")
        || k == "duration"
        || k.ends_with("_duration")
        || k == "lease_max"
        || k == "ttl_max"
}

/// Vault's `humanDurationInt`: integers become durations, anything else
/// stays as it is.
pub fn human_duration_value(v: &Value) -> String {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => duration::human(i),
            None => go_v(v),
        },
        _ => go_v(v),
    }
}

// -------------------------------------------------------------- tables ---

/// `columnize.Format` with Vault's config (glue of four spaces, `n/a` for
/// empty cells).
pub fn columnize(lines: &[String], delim: &str) -> String {
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| {
            l.split(delim)
                .map(|e| {
                    let e = e.trim();
                    if e.is_empty() {
                        "n/a".to_string()
                    } else {
                        e.to_string()
                    }
                })
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = Vec::new();
    for row in &rows {
        for (i, e) in row.iter().enumerate() {
            let w = e.chars().count();
            if widths.len() <= i {
                widths.push(w);
            } else if widths[i] < w {
                widths[i] = w;
            }
        }
    }
    let mut out = String::new();
    for row in &rows {
        for (i, e) in row.iter().enumerate() {
            if i == row.len() - 1 {
                out.push_str(e);
            } else {
                out.push_str(e);
                for _ in e.chars().count()..widths[i] {
                    out.push(' ');
                }
                out.push_str("    ");
            }
        }
        out.push('\n');
    }
    if out.ends_with('\n') {
        out.pop();
    }
    out
}

/// Vault's `tableOutput`: the first row is the header, underlined.
pub fn table(list: &[String], delim: &str) -> String {
    if list.is_empty() {
        return String::new();
    }
    let underline: Vec<String> = list[0]
        .split(delim)
        .map(|h| "-".repeat(h.trim().len()))
        .collect();
    let mut rows = Vec::with_capacity(list.len() + 1);
    rows.push(list[0].clone());
    rows.push(underline.join(delim));
    rows.extend(list[1..].iter().cloned());
    columnize(&rows, delim)
}

/// A Key/Value table from `(key, value)` rows.
pub fn kv_table(rows: &[(String, String)]) -> String {
    let mut lines = vec![format!("Key{HOPE_DELIM}Value")];
    for (k, v) in rows {
        lines.push(format!("{k} {HOPE_DELIM} {v}"));
    }
    table(&lines, HOPE_DELIM)
}

/// A multi-column table; cells joined by the hope delimiter.
pub fn multi_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut lines = vec![header.join(HOPE_DELIM)];
    for r in rows {
        lines.push(r.join(HOPE_DELIM));
    }
    table(&lines, HOPE_DELIM)
}

/// The rows of Vault's `TableFormatter.OutputSecret`.
pub fn secret_rows(secret: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let lease_duration = secret
        .get("lease_duration")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if lease_duration > 0 {
        let lease_id = secret.get("lease_id").and_then(Value::as_str).unwrap_or("");
        if !lease_id.is_empty() {
            out.push(("lease_id".into(), lease_id.to_string()));
            out.push(("lease_duration".into(), duration::human(lease_duration)));
            let renewable = secret
                .get("renewable")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            out.push(("lease_renewable".into(), renewable.to_string()));
        } else {
            out.push(("refresh_interval".into(), duration::human(lease_duration)));
        }
    }
    if let Some(auth) = secret.get("auth").filter(|a| a.is_object()) {
        let s = |k: &str| {
            auth.get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        out.push(("token".into(), s("client_token")));
        out.push(("token_accessor".into(), s("accessor")));
        let ld = auth
            .get("lease_duration")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        out.push((
            "token_duration".into(),
            if ld == 0 {
                "∞".to_string()
            } else {
                duration::human(ld)
            },
        ));
        let renewable = auth
            .get("renewable")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        out.push(("token_renewable".into(), renewable.to_string()));
        let list = |k: &str| go_q_list(auth.get(k).unwrap_or(&Value::Null));
        out.push(("token_policies".into(), list("token_policies")));
        out.push(("identity_policies".into(), list("identity_policies")));
        out.push(("policies".into(), list("policies")));
        if let Some(meta) = auth.get("metadata").and_then(Value::as_object) {
            for (k, v) in meta {
                out.push((format!("token_meta_{k}"), go_v(v)));
            }
        }
    }
    if let Some(wrap) = secret.get("wrap_info").filter(|w| w.is_object()) {
        let s = |k: &str| go_v(wrap.get(k).unwrap_or(&Value::Null));
        out.push(("wrapping_token:".into(), s("token")));
        out.push(("wrapping_accessor:".into(), s("accessor")));
        out.push((
            "wrapping_token_ttl:".into(),
            human_duration_value(wrap.get("ttl").unwrap_or(&Value::Null)),
        ));
        out.push((
            "wrapping_token_creation_time:".into(),
            go_time_string(&s("creation_time")),
        ));
        out.push(("wrapping_token_creation_path:".into(), s("creation_path")));
        let wrapped = s("wrapped_accessor");
        if !wrapped.is_empty() && wrap.get("wrapped_accessor").is_some_and(|v| !v.is_null()) {
            out.push(("wrapped_accessor:".into(), wrapped));
        }
    }
    if let Some(data) = secret.get("data").and_then(Value::as_object) {
        out.extend(map_rows(data));
    }
    out
}

/// Sorted `k`/`%v` rows, TTL-looking integers as durations.
pub fn map_rows(data: &Map<String, Value>) -> Vec<(String, String)> {
    let mut keys: Vec<&String> = data.keys().collect();
    keys.sort();
    keys.into_iter()
        .map(|k| {
            let v = &data[k];
            let shown = if looks_like_duration(k) {
                human_duration_value(v)
            } else {
                go_v(v)
            };
            (k.clone(), shown)
        })
        .collect()
}

/// `api.Secret` as Go marshals it.
pub fn secret_struct(secret: &Value) -> GoVal {
    let get = |k: &str| secret.get(k).cloned().unwrap_or(Value::Null);
    let str_or_empty = |k: &str| match get(k) {
        Value::Null => Value::String(String::new()),
        v => v,
    };
    let mut fields = vec![
        ("request_id", GoVal::Json(str_or_empty("request_id"))),
        ("lease_id", GoVal::Json(str_or_empty("lease_id"))),
        (
            "lease_duration",
            GoVal::Json(match get("lease_duration") {
                Value::Null => Value::from(0),
                v => v,
            }),
        ),
        (
            "renewable",
            GoVal::Json(match get("renewable") {
                Value::Null => Value::Bool(false),
                v => v,
            }),
        ),
        (
            "data",
            GoVal::Json(match get("data") {
                Value::Object(m) => Value::Object(m),
                _ => Value::Null,
            }),
        ),
        (
            "warnings",
            GoVal::Json(match get("warnings") {
                Value::Array(a) => Value::Array(a),
                _ => Value::Null,
            }),
        ),
    ];
    if let Value::Object(auth) = get("auth") {
        let a = |k: &str| auth.get(k).cloned().unwrap_or(Value::Null);
        let s = |k: &str| match a(k) {
            Value::String(s) => Value::String(s),
            _ => Value::String(String::new()),
        };
        let list = |k: &str| match a(k) {
            Value::Array(l) => Value::Array(l),
            _ => Value::Null,
        };
        fields.push((
            "auth",
            GoVal::Struct(vec![
                ("client_token", GoVal::Json(s("client_token"))),
                ("accessor", GoVal::Json(s("accessor"))),
                ("policies", GoVal::Json(list("policies"))),
                ("token_policies", GoVal::Json(list("token_policies"))),
                ("identity_policies", GoVal::Json(list("identity_policies"))),
                (
                    "metadata",
                    GoVal::Json(match a("metadata") {
                        Value::Object(m) => Value::Object(m),
                        _ => Value::Null,
                    }),
                ),
                (
                    "orphan",
                    GoVal::Json(Value::Bool(a("orphan").as_bool().unwrap_or(false))),
                ),
                ("entity_id", GoVal::Json(s("entity_id"))),
                (
                    "lease_duration",
                    GoVal::Json(Value::from(a("lease_duration").as_i64().unwrap_or(0))),
                ),
                (
                    "renewable",
                    GoVal::Json(Value::Bool(a("renewable").as_bool().unwrap_or(false))),
                ),
                ("mfa_requirement", GoVal::Json(a("mfa_requirement"))),
            ]),
        ));
    }
    if let Value::Object(w) = get("wrap_info") {
        // `api.SecretWrapInfo`: every field, in its order.
        let field =
            |k: &str, zero: Value| w.get(k).filter(|v| !v.is_null()).cloned().unwrap_or(zero);
        let info = [
            "token",
            "accessor",
            "ttl",
            "creation_time",
            "creation_path",
            "wrapped_accessor",
        ]
        .map(|k| {
            let zero = match k {
                "ttl" => Value::from(0),
                "creation_time" => Value::from("0001-01-01T00:00:00Z"),
                _ => Value::from(""),
            };
            (k, GoVal::Json(field(k, zero)))
        });
        fields.push(("wrap_info", GoVal::Struct(info.into())));
    }
    if let Value::String(mt) = get("mount_type") {
        if !mt.is_empty() {
            fields.push(("mount_type", GoVal::Json(Value::String(mt))));
        }
    }
    GoVal::Struct(fields)
}

/// The struct marshalled, then re-read as a plain value (for YAML, whose
/// ghodss conversion sorts keys anyway).
pub fn secret_value(secret: &Value) -> Value {
    serde_json::from_str(&go_json_val(&secret_struct(secret), false)).unwrap_or(Value::Null)
}

// ------------------------------------------------------------ wrapping ---

/// `kr/text.Wrap`: minimum-raggedness line breaking on single spaces.
pub fn wrap(s: &str, lim: usize) -> String {
    let flat = s.trim().replace('\n', " ");
    let words: Vec<&str> = flat.split(' ').collect();
    let n = words.len();
    let lengths: Vec<usize> = words.iter().map(|w| w.len()).collect();
    // length(i, j): words i..=j joined by single spaces.
    let span = |i: usize, j: usize| -> usize { lengths[i..=j].iter().sum::<usize>() + (j - i) };
    const PENALTY: i64 = 100_000;
    let mut cost = vec![i64::MAX; n];
    let mut brk = vec![n; n];
    for i in (0..n).rev() {
        if span(i, n - 1) <= lim || i == n - 1 {
            cost[i] = 0;
            brk[i] = n;
        } else {
            for j in i + 1..n {
                let len = span(i, j - 1);
                let d = lim as i64 - len as i64;
                let mut c = d * d + cost[j];
                if len > lim {
                    c += PENALTY;
                }
                if c < cost[i] {
                    cost[i] = c;
                    brk[i] = j;
                }
            }
        }
    }
    let mut lines = Vec::new();
    let mut i = 0;
    while i < n {
        lines.push(words[i..brk[i]].join(" "));
        i = brk[i];
    }
    lines.join("\n")
}

/// Vault's `wrapAtLengthWithPadding`.
pub fn wrap_padded(s: &str, pad: usize) -> String {
    let wrapped = wrap(s, MAX_LINE_LENGTH - pad);
    let prefix = " ".repeat(pad);
    wrapped
        .split('\n')
        .map(|l| format!("{prefix}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// An RFC 3339 time as Go's `time.Time.String()` prints it in UTC
/// (`2006-01-02 15:04:05.999999999 +0000 UTC`); unparsable text as is.
pub fn go_time_string(rfc3339: &str) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(rfc3339, &Rfc3339)
        .ok()
        .and_then(|t| i64::try_from(t.unix_timestamp_nanos()).ok())
        .and_then(crate::util::gotime::rfc3339_nano)
        .map(|utc| {
            format!(
                "{} +0000 UTC",
                utc.trim_end_matches('Z').replacen('T', " ", 1)
            )
        })
        .unwrap_or_else(|| rfc3339.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_v_prints_lists_and_maps_like_go() {
        assert_eq!(go_v(&json!(["a", "b"])), "[a b]");
        assert_eq!(go_v(&json!({"b": 1, "a": [true]})), "map[a:[true] b:1]");
        assert_eq!(go_v(&json!(null)), "<nil>");
    }

    #[test]
    fn kv_table_matches_vault() {
        let t = kv_table(&[
            ("role_id".into(), "abc".into()),
            ("key_name".into(), "".into()),
        ]);
        assert_eq!(
            t,
            "Key         Value\n---         -----\nrole_id     abc\nkey_name    n/a"
        );
    }

    #[test]
    fn warnings_wrap_like_kr_text() {
        let w = "* This mount hasn't configured any authority information access (AIA) fields; this may make it harder for systems to find missing certificates in the chain or to validate revocation status of certificates. Consider updating /config/urls or the newly generated issuer with this information.";
        assert_eq!(
            wrap_padded(w, 2),
            "  * This mount hasn't configured any authority information access (AIA)\n  fields; this may make it harder for systems to find missing certificates\n  in the chain or to validate revocation status of certificates. Consider\n  updating /config/urls or the newly generated issuer with this information."
        );
    }

    #[test]
    fn go_json_sorts_maps_and_escapes_html() {
        assert_eq!(
            go_json(&json!({"b": "<x>", "a": [1]}), false),
            r#"{"a":[1],"b":"\u003cx\u003e"}"#
        );
        assert_eq!(go_json(&json!({"a": {}}), true), "{\n  \"a\": {}\n}");
    }
}
