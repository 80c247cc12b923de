//! `allowed_parameters`, `denied_parameters` and `required_parameters`
//! checks against raw request data (Vault's `AllowOperation` tail).

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::rule::Permissions;

/// Whether `data` satisfies the rule's parameter constraints.
///
/// Order and short-cuts follow Vault: required names first, then empty data
/// passes, then any denied match fails (a `"*"` key denies every non-empty
/// request), then every parameter must be allowed by name or by `"*"`.
pub(crate) fn parameters_allowed(perms: &Permissions, data: &Map<String, Value>) -> bool {
    let has_required = perms
        .required_parameters
        .iter()
        .all(|name| data.contains_key(name));
    if !has_required {
        return false;
    }
    if data.is_empty() {
        return true;
    }
    let denied = &perms.denied_parameters;
    if denied.contains_key("*") {
        return false;
    }
    let any_denied = data.iter().any(|(name, value)| {
        denied
            .get(&name.to_lowercase())
            .is_some_and(|list| value_in_denied_list(value, list))
    });
    if any_denied {
        return false;
    }
    let allowed = &perms.allowed_parameters;
    if allowed.is_empty() {
        return true;
    }
    let allow_any_name = allowed.contains_key("*");
    data.iter()
        .all(|(name, value)| match allowed.get(&name.to_lowercase()) {
            Some(list) => value_in_allowed_list(value, list),
            None => allow_any_name,
        })
}

/// An allowed list admits a value if it matches as a whole, or if every
/// element does: list values element-wise, strings split on commas because
/// the field may be a comma-separated list. (As in Vault, that makes `""`
/// acceptable to every list: it splits into no elements.)
fn value_in_allowed_list(value: &Value, list: &[Value]) -> bool {
    if list.is_empty() || matches_any(value, list) {
        return true;
    }
    match value {
        Value::Array(items) => items.iter().all(|v| matches_any(v, list)),
        Value::String(s) => comma_elements(s).all(|e| matches_any(&Value::from(e), list)),
        _ => false,
    }
}

/// A denied list rejects a value if it matches as a whole or if any
/// element (list item, or comma-separated piece of a string) does.
fn value_in_denied_list(value: &Value, list: &[Value]) -> bool {
    if list.is_empty() || matches_any(value, list) {
        return true;
    }
    match value {
        Value::Array(items) => items.iter().any(|v| matches_any(v, list)),
        Value::String(s) => comma_elements(s).any(|e| matches_any(&Value::from(e), list)),
        _ => false,
    }
}

/// `parseutil.ParseCommaStringSlice`: empty string → no elements, else
/// split on `,` and trim whitespace.
fn comma_elements(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(move |_| !s.is_empty())
}

fn matches_any(value: &Value, list: &[Value]) -> bool {
    list.iter().any(|pattern| value_matches(pattern, value))
}

/// Scalars compare as text, so the CLI's all-string requests match numeric
/// or boolean policy values; string patterns may glob. Null matches only
/// null; lists and objects must be equal.
fn value_matches(pattern: &Value, value: &Value) -> bool {
    match (scalar_text(pattern), scalar_text(value)) {
        (Some(p), Some(v)) => glob_match(&p, &v),
        _ => pattern == value,
    }
}

fn scalar_text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Owned(b.to_string())),
        _ => None,
    }
}

/// `strutil.GlobbedStringsMatch`: a leading and/or trailing `*` makes a
/// suffix, prefix or substring match; a lone `*` is literal.
pub(crate) fn glob_match(pattern: &str, value: &str) -> bool {
    if pattern.len() < 2 {
        return pattern == value;
    }
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        (Some(_), Some(_)) => value.contains(&pattern[1..pattern.len() - 1]),
        (Some(suffix), None) => value.ends_with(suffix),
        (None, Some(prefix)) => value.starts_with(prefix),
        (None, None) => pattern == value,
    }
}

#[cfg(test)]
mod tests {
    use super::super::rule::ParamMap;
    use super::*;
    use serde_json::json;

    fn perms(allowed: Value, denied: Value, required: &[&str]) -> Permissions {
        let to_map = |v: Value| -> ParamMap { serde_json::from_value(v).unwrap_or_default() };
        Permissions {
            allowed_parameters: to_map(allowed),
            denied_parameters: to_map(denied),
            required_parameters: required.iter().map(|s| s.to_string()).collect(),
            ..Permissions::default()
        }
    }

    fn data(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn glob_forms() {
        assert!(glob_match("foo-*", "foo-bar"));
        assert!(!glob_match("foo-*", "xfoo-bar"));
        assert!(glob_match("*-bar", "foo-bar"));
        assert!(glob_match("*mid*", "a-mid-b"));
        assert!(!glob_match("*mid*", "a-mad-b"));
        assert!(glob_match("*", "*"));
        assert!(!glob_match("*", "anything"));
        assert!(glob_match("**", "anything"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
    }

    #[test]
    fn no_constraints_allow_everything() {
        let p = perms(json!({}), json!({}), &[]);
        assert!(parameters_allowed(&p, &data(json!({"a": 1}))));
        assert!(parameters_allowed(&p, &Map::new()));
    }

    #[test]
    fn allowed_names_and_values() {
        let p = perms(json!({"ttl": [], "role": ["web-*", "db"]}), json!({}), &[]);
        assert!(parameters_allowed(
            &p,
            &data(json!({"ttl": "1h", "role": "web-1"}))
        ));
        assert!(parameters_allowed(&p, &data(json!({"role": "db"}))));
        assert!(!parameters_allowed(&p, &data(json!({"role": "dba"}))));
        assert!(!parameters_allowed(&p, &data(json!({"other": "x"}))));
        // Keys are compared lower-cased.
        assert!(parameters_allowed(&p, &data(json!({"TTL": "1h"}))));
        // Empty data passes whatever the allowed list says.
        assert!(parameters_allowed(&p, &Map::new()));
    }

    #[test]
    fn allowed_star_admits_other_names() {
        let p = perms(json!({"*": [], "role": ["db"]}), json!({}), &[]);
        assert!(parameters_allowed(&p, &data(json!({"anything": 1}))));
        assert!(!parameters_allowed(&p, &data(json!({"role": "web"}))));
    }

    #[test]
    fn allowed_lists_and_comma_strings_match_element_wise() {
        let p = perms(json!({"alt_names": ["a.com", "*.b.com"]}), json!({}), &[]);
        assert!(parameters_allowed(
            &p,
            &data(json!({"alt_names": ["a.com", "x.b.com"]}))
        ));
        assert!(parameters_allowed(
            &p,
            &data(json!({"alt_names": "a.com, x.b.com"}))
        ));
        assert!(!parameters_allowed(
            &p,
            &data(json!({"alt_names": "a.com,evil.com"}))
        ));
        assert!(!parameters_allowed(
            &p,
            &data(json!({"alt_names": ["a.com", "evil.com"]}))
        ));
        // Vault quirk: the empty string splits into nothing and so passes.
        assert!(parameters_allowed(&p, &data(json!({"alt_names": ""}))));
    }

    #[test]
    fn scalars_compare_as_text() {
        let p = perms(json!({"n": [3600, true]}), json!({}), &[]);
        assert!(parameters_allowed(&p, &data(json!({"n": "3600"}))));
        assert!(parameters_allowed(&p, &data(json!({"n": 3600}))));
        assert!(parameters_allowed(&p, &data(json!({"n": "true"}))));
        assert!(!parameters_allowed(&p, &data(json!({"n": "60"}))));
        assert!(!parameters_allowed(&p, &data(json!({"n": null}))));
        assert!(!parameters_allowed(&p, &data(json!({"n": {"a": 1}}))));
    }

    #[test]
    fn denied_checks_come_first() {
        let p = perms(
            json!({"*": []}),
            json!({"secret": [], "mode": ["root*"]}),
            &[],
        );
        assert!(!parameters_allowed(&p, &data(json!({"secret": "x"}))));
        assert!(!parameters_allowed(&p, &data(json!({"SECRET": "x"}))));
        assert!(!parameters_allowed(&p, &data(json!({"mode": "rootish"}))));
        assert!(!parameters_allowed(&p, &data(json!({"mode": "user,root"}))));
        assert!(!parameters_allowed(
            &p,
            &data(json!({"mode": ["user", "root"]}))
        ));
        assert!(parameters_allowed(&p, &data(json!({"mode": "user"}))));
    }

    #[test]
    fn denied_star_blocks_any_data() {
        let p = perms(json!({}), json!({"*": []}), &[]);
        assert!(!parameters_allowed(&p, &data(json!({"a": 1}))));
        assert!(parameters_allowed(&p, &Map::new()));
    }

    #[test]
    fn required_parameters() {
        let p = perms(json!({}), json!({}), &["common_name"]);
        assert!(!parameters_allowed(&p, &Map::new()));
        assert!(!parameters_allowed(&p, &data(json!({"ttl": "1h"}))));
        assert!(parameters_allowed(&p, &data(json!({"common_name": "x"}))));
    }
}
