//! One path stanza of a policy, and how stanzas for the same pattern merge.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use super::capability::{Capability, CapabilitySet};
use super::duration::parse_duration_second;
use super::error::{PolicyError, RuleError};

/// Parameter name (lower-cased) → permitted or forbidden values; an empty
/// list means "any value".
pub type ParamMap = BTreeMap<String, Vec<Value>>;

/// Keys Vault accepts inside a `path` stanza. Enterprise-only and
/// event-related ones are accepted so that policies written for Vault load,
/// but they have no effect here.
const VALID_KEYS: [&str; 11] = [
    "comment",
    "policy",
    "capabilities",
    "allowed_parameters",
    "denied_parameters",
    "required_parameters",
    "min_wrapping_ttl",
    "max_wrapping_ttl",
    "mfa_methods",
    "control_group",
    "subscribe_event_types",
];

/// How a rule's pattern is matched against request paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathKind {
    /// The pattern must equal the path.
    Exact,
    /// Pattern ended in `*` (stripped from [`PathRule::path`]); matches any path it prefixes.
    Prefix,
    /// Pattern has `+` segments (and possibly a trailing `*`, kept in [`PathRule::path`]).
    SegmentWildcard,
}

/// What a rule grants.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Permissions {
    pub capabilities: CapabilitySet,
    pub allowed_parameters: ParamMap,
    pub denied_parameters: ParamMap,
    /// Lower-cased names that must be present in the request data.
    pub required_parameters: Vec<String>,
    /// Positive wrapping TTL bounds. Any bound means only response-wrapped
    /// requests qualify, which this server never receives.
    pub min_wrapping_ttl: Option<Duration>,
    pub max_wrapping_ttl: Option<Duration>,
}

/// One `path "<pattern>" { ... }` stanza after validation.
#[derive(Debug, Clone, PartialEq)]
pub struct PathRule {
    /// Normalised pattern: leading `/` removed; for [`PathKind::Prefix`]
    /// without its trailing `*`.
    pub path: String,
    pub kind: PathKind,
    /// The pattern uses identity templating (`{{identity.entity.id}}`),
    /// filled from the token's entity when its ACL is built.
    pub templated: bool,
    pub permissions: Permissions,
}

impl PathRule {
    /// Validates one stanza, in the same order as Vault's `parsePaths`
    /// so that the same document fails with the same complaint.
    pub(crate) fn from_fields(
        key: &str,
        fields: &[(String, Value)],
    ) -> Result<PathRule, PolicyError> {
        let fail = |reason| PolicyError::rule(key, reason);
        let templated = has_templating(key).map_err(fail)?;
        if let Some((bad, _)) = fields
            .iter()
            .find(|(k, _)| !VALID_KEYS.contains(&k.as_str()))
        {
            return Err(fail(RuleError::InvalidKey(bad.clone())));
        }
        let path = key.strip_prefix('/').unwrap_or(key);
        if path.contains("+*") {
            return Err(PolicyError::rule(path, RuleError::InvalidWildcards));
        }
        let (path, kind) = classify(path);
        let permissions = permissions(fields).map_err(fail)?;
        Ok(PathRule {
            path,
            kind,
            templated,
            permissions,
        })
    }
}

/// Splits a pattern into its stored form and kind.
///
/// A `+` counts as a wildcard only as a whole segment start (`+`, `+/…`,
/// `…/+…`), exactly Vault's test; `*` is a glob only as the last character,
/// elsewhere it is literal text.
fn classify(path: &str) -> (String, PathKind) {
    let segment_wildcard = path == "+" || path.starts_with("+/") || path.contains("/+");
    if segment_wildcard {
        (path.to_owned(), PathKind::SegmentWildcard)
    } else if let Some(prefix) = path.strip_suffix('*') {
        (prefix.to_owned(), PathKind::Prefix)
    } else {
        (path.to_owned(), PathKind::Exact)
    }
}

/// Vault's template validity check: `{{`/`}}` must pair up.
fn has_templating(path: &str) -> Result<bool, RuleError> {
    let mut pieces = path.split("{{");
    let head = pieces.next().unwrap_or_default();
    if head.contains("}}") {
        return Err(RuleError::UnbalancedTemplating);
    }
    let mut templated = false;
    for piece in pieces {
        if piece.matches("}}").count() != 1 {
            return Err(RuleError::UnbalancedTemplating);
        }
        templated = true;
    }
    Ok(templated)
}

/// Reads the settings of a stanza. A `deny` short-circuits, as in Vault:
/// later settings are neither read nor validated.
fn permissions(fields: &[(String, Value)]) -> Result<Permissions, RuleError> {
    let capabilities = capabilities(fields)?;
    if capabilities.is_deny() {
        return Ok(Permissions {
            capabilities,
            ..Permissions::default()
        });
    }
    let min_wrapping_ttl = duration_field(fields, "min_wrapping_ttl")?;
    let max_wrapping_ttl = duration_field(fields, "max_wrapping_ttl")?;
    if let (Some(min), Some(max)) = (min_wrapping_ttl, max_wrapping_ttl) {
        if max < min {
            return Err(RuleError::WrappingTtlOrder);
        }
    }
    Ok(Permissions {
        capabilities,
        allowed_parameters: param_map(fields, "allowed_parameters")?,
        denied_parameters: param_map(fields, "denied_parameters")?,
        required_parameters: required_parameters(fields)?,
        min_wrapping_ttl,
        max_wrapping_ttl,
    })
}

/// Last non-null value of `key` (later duplicates win, like decoding a map).
fn field<'a>(fields: &'a [(String, Value)], key: &str) -> Option<&'a Value> {
    fields
        .iter()
        .rev()
        .find(|(k, v)| k == key && !v.is_null())
        .map(|(_, v)| v)
}

/// `capabilities`, extended by the legacy `policy` shorthand (which, for
/// `deny`, replaces the list), in Vault's order so the same invalid entry is
/// reported.
fn capabilities(fields: &[(String, Value)]) -> Result<CapabilitySet, RuleError> {
    let mut names: Vec<String> = match field(fields, "capabilities") {
        None => Vec::new(),
        Some(value) => {
            string_list(value).ok_or_else(|| wrong_type("capabilities", "a list of strings"))?
        }
    };
    match field(fields, "policy") {
        None => {}
        Some(Value::String(level)) => {
            let expanded = legacy_policy(level)?;
            if expanded.contains(&Capability::Deny) {
                names.clear();
            }
            names.extend(expanded.iter().map(|c| c.as_str().to_owned()));
        }
        Some(_) => return Err(wrong_type("policy", "a string")),
    }
    let mut set = CapabilitySet::empty();
    for name in names {
        match name.parse::<Capability>() {
            Ok(Capability::Deny) => return Ok(CapabilitySet::deny()),
            Ok(cap) => set.insert(cap),
            Err(_) => return Err(RuleError::InvalidCapability(name)),
        }
    }
    Ok(set)
}

/// Expansion of the pre-0.5 `policy = "read|write|sudo|deny"` levels.
fn legacy_policy(level: &str) -> Result<&'static [Capability], RuleError> {
    use Capability::*;
    match level {
        "deny" => Ok(&[Deny]),
        "read" => Ok(&[Read, List]),
        "write" => Ok(&[Create, Read, Update, Delete, List]),
        "sudo" => Ok(&[Create, Read, Update, Delete, List, Sudo]),
        other => Err(RuleError::InvalidPolicy(other.to_owned())),
    }
}

/// `allowed_parameters` / `denied_parameters`: object of name → list of values.
fn param_map(fields: &[(String, Value)], key: &'static str) -> Result<ParamMap, RuleError> {
    let Some(value) = field(fields, key) else {
        return Ok(ParamMap::new());
    };
    let expected = "an object mapping parameter names to lists of values";
    let Value::Object(object) = value else {
        return Err(wrong_type(key, expected));
    };
    object
        .iter()
        .map(|(name, values)| match values {
            Value::Array(list) => Ok((name.to_lowercase(), list.clone())),
            Value::Null => Ok((name.to_lowercase(), Vec::new())),
            _ => Err(wrong_type(key, expected)),
        })
        .collect()
}

fn required_parameters(fields: &[(String, Value)]) -> Result<Vec<String>, RuleError> {
    let Some(value) = field(fields, "required_parameters") else {
        return Ok(Vec::new());
    };
    let names =
        string_list(value).ok_or_else(|| wrong_type("required_parameters", "a list of strings"))?;
    Ok(names.into_iter().map(|n| n.to_lowercase()).collect())
}

fn duration_field(
    fields: &[(String, Value)],
    key: &'static str,
) -> Result<Option<Duration>, RuleError> {
    field(fields, key).map_or(Ok(None), |value| {
        parse_duration_second(value).map_err(|reason| RuleError::Duration { key, reason })
    })
}

fn string_list(value: &Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect()
}

fn wrong_type(key: &'static str, expected: &'static str) -> RuleError {
    RuleError::WrongType { key, expected }
}

impl Permissions {
    /// Folds another stanza for the same pattern into this one, as Vault's
    /// `NewACL` does: capabilities are unioned, an explicit deny absorbs
    /// everything, parameter maps are combined (an empty value list wins
    /// because it already means "any value"), and the tighter wrapping TTL
    /// is kept.
    pub(crate) fn merge(&mut self, other: &Permissions) {
        if self.capabilities.is_deny() {
            return;
        }
        if other.capabilities.is_deny() {
            *self = Permissions {
                capabilities: CapabilitySet::deny(),
                ..Permissions::default()
            };
            return;
        }
        self.capabilities = self.capabilities.union(other.capabilities);
        self.min_wrapping_ttl = tighter(self.min_wrapping_ttl, other.min_wrapping_ttl);
        self.max_wrapping_ttl = tighter(self.max_wrapping_ttl, other.max_wrapping_ttl);
        merge_params(&mut self.allowed_parameters, &other.allowed_parameters);
        merge_params(&mut self.denied_parameters, &other.denied_parameters);
        for name in &other.required_parameters {
            if !self.required_parameters.contains(name) {
                self.required_parameters.push(name.clone());
            }
        }
    }
}

/// The smaller of two optional bounds, ignoring unset ones.
fn tighter(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn merge_params(into: &mut ParamMap, from: &ParamMap) {
    for (name, values) in from {
        match into.get_mut(name) {
            Some(existing) if existing.is_empty() => {}
            Some(existing) if values.is_empty() => existing.clear(),
            Some(existing) => existing.extend(values.iter().cloned()),
            None => {
                into.insert(name.clone(), values.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(key: &str, fields: Value) -> Result<PathRule, PolicyError> {
        let Value::Object(map) = fields else {
            panic!("fields must be an object")
        };
        let fields: Vec<_> = map.into_iter().collect();
        PathRule::from_fields(key, &fields)
    }

    fn caps(r: &PathRule) -> Vec<&'static str> {
        r.permissions
            .capabilities
            .iter()
            .map(Capability::as_str)
            .collect()
    }

    #[test]
    fn classifies_patterns() {
        assert_eq!(classify("a/b"), ("a/b".into(), PathKind::Exact));
        assert_eq!(classify("a/b*"), ("a/b".into(), PathKind::Prefix));
        assert_eq!(classify("*"), ("".into(), PathKind::Prefix));
        assert_eq!(
            classify("a/+/c"),
            ("a/+/c".into(), PathKind::SegmentWildcard)
        );
        assert_eq!(classify("+/c*"), ("+/c*".into(), PathKind::SegmentWildcard));
        assert_eq!(classify("+"), ("+".into(), PathKind::SegmentWildcard));
        // Literal characters, not wildcards.
        assert_eq!(classify("a*/b"), ("a*/b".into(), PathKind::Exact));
        assert_eq!(classify("a+b/c"), ("a+b/c".into(), PathKind::Exact));
    }

    #[test]
    fn strips_one_leading_slash() {
        let r = rule("/secret/*", json!({"capabilities": ["read"]})).unwrap();
        assert_eq!((r.path.as_str(), r.kind), ("secret/", PathKind::Prefix));
    }

    #[test]
    fn legacy_policy_levels() {
        let r = |p| rule("x", json!({ "policy": p })).map(|r| caps(&r));
        assert_eq!(r("read").unwrap(), ["read", "list"]);
        assert_eq!(
            r("write").unwrap(),
            ["create", "read", "update", "delete", "list"]
        );
        assert_eq!(
            r("sudo").unwrap(),
            ["create", "read", "update", "delete", "list", "sudo"]
        );
        assert_eq!(r("deny").unwrap(), ["deny"]);
        assert_eq!(
            r("admin").unwrap_err().to_string(),
            r#"path "x": path "x": invalid policy "admin""#
        );
        let both = rule("x", json!({"policy": "read", "capabilities": ["update"]})).unwrap();
        assert_eq!(caps(&both), ["read", "update", "list"]);
        let denied = rule("x", json!({"policy": "deny", "capabilities": ["bogus"]})).unwrap();
        assert_eq!(caps(&denied), ["deny"]);
    }

    #[test]
    fn deny_overrides_and_short_circuits() {
        let r = rule(
            "x",
            json!({"capabilities": ["read", "deny", "bogus"], "allowed_parameters": 7}),
        )
        .unwrap();
        assert_eq!(caps(&r), ["deny"]);
        assert_eq!(r.permissions.allowed_parameters, ParamMap::new());
    }

    #[test]
    fn rejects_bad_stanzas() {
        let err = |key: &str, fields| rule(key, fields).unwrap_err().to_string();
        assert_eq!(
            err("x", json!({"capabilities": ["reed"]})),
            r#"path "x": path "x": invalid capability "reed""#
        );
        assert_eq!(
            err("x", json!({"capability": ["read"]})),
            r#"path "x": invalid key "capability""#
        );
        assert_eq!(
            err("a/+*", json!({})),
            r#"path "a/+*": invalid use of wildcards ('+*' is forbidden)"#
        );
        assert!(err("x", json!({"capabilities": "read"})).contains("capabilities: expected"));
        assert!(
            err("x", json!({"allowed_parameters": ["a"]})).contains("allowed_parameters: expected")
        );
        assert!(err("x", json!({"allowed_parameters": {"a": "b"}})).contains("allowed_parameters"));
        assert!(err("x", json!({"required_parameters": [1]})).contains("required_parameters"));
        assert!(err("x", json!({"min_wrapping_ttl": "soon"}))
            .contains("error parsing min_wrapping_ttl"));
        assert!(err(
            "x",
            json!({"min_wrapping_ttl": "1h", "max_wrapping_ttl": "1m"})
        )
        .contains("cannot be less than"));
        assert!(err("a/{{identity.entity.id", json!({})).contains("unbalanced templating"));
        assert!(err("a/}}x{{", json!({})).contains("unbalanced templating"));
    }

    #[test]
    fn accepts_ignored_keys() {
        let r = rule(
            "x",
            json!({
                "capabilities": ["read", "patch", "subscribe", "recover"],
                "comment": "c",
                "mfa_methods": ["m"],
                "control_group": {"factor": {"f": {}}},
                "subscribe_event_types": ["*"],
                "min_wrapping_ttl": "1m",
                "max_wrapping_ttl": 3600
            }),
        )
        .unwrap();
        assert_eq!(caps(&r), ["read", "patch", "subscribe", "recover"]);
        assert_eq!(
            r.permissions.min_wrapping_ttl,
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            r.permissions.max_wrapping_ttl,
            Some(Duration::from_secs(3600))
        );
    }

    #[test]
    fn parameters_are_lower_cased() {
        let r = rule(
            "x",
            json!({
                "capabilities": ["update"],
                "allowed_parameters": {"Foo": ["a"], "*": []},
                "denied_parameters": {"BAR": null},
                "required_parameters": ["Baz"]
            }),
        )
        .unwrap();
        let p = &r.permissions;
        assert_eq!(
            p.allowed_parameters.keys().collect::<Vec<_>>(),
            ["*", "foo"]
        );
        assert_eq!(p.denied_parameters.get("bar"), Some(&vec![]));
        assert_eq!(p.required_parameters, ["baz"]);
    }

    #[test]
    fn templated_paths_are_flagged() {
        let r = rule(
            "identity/entity/id/{{identity.entity.id}}",
            json!({"capabilities": ["read"]}),
        )
        .unwrap();
        assert!(r.templated);
        assert!(!rule("a/b", json!({})).unwrap().templated);
    }

    #[test]
    fn merge_follows_vault() {
        let perms = |v: Value| rule("x", v).unwrap().permissions;
        let mut a = perms(json!({
            "capabilities": ["read"],
            "allowed_parameters": {"a": ["1"], "b": []},
            "required_parameters": ["r1"],
            "max_wrapping_ttl": "1h"
        }));
        a.merge(&perms(json!({
            "capabilities": ["update"],
            "allowed_parameters": {"a": ["2"], "b": ["x"], "c": []},
            "denied_parameters": {"d": []},
            "required_parameters": ["r1", "r2"],
            "max_wrapping_ttl": "10m"
        })));
        assert!(
            a.capabilities.contains(Capability::Read)
                && a.capabilities.contains(Capability::Update)
        );
        assert_eq!(a.allowed_parameters["a"], vec![json!("1"), json!("2")]);
        assert!(a.allowed_parameters["b"].is_empty());
        assert!(a.allowed_parameters["c"].is_empty());
        assert!(a.denied_parameters.contains_key("d"));
        assert_eq!(a.required_parameters, ["r1", "r2"]);
        assert_eq!(a.max_wrapping_ttl, Some(Duration::from_secs(600)));

        let mut emptied =
            perms(json!({"capabilities": ["read"], "allowed_parameters": {"a": ["1"]}}));
        emptied.merge(&perms(
            json!({"capabilities": ["read"], "allowed_parameters": {"a": []}}),
        ));
        assert!(emptied.allowed_parameters["a"].is_empty());

        let deny = perms(json!({"capabilities": ["deny"]}));
        let mut b = perms(json!({"capabilities": ["read", "sudo"]}));
        b.merge(&deny);
        assert_eq!(b, deny);
        b.merge(&perms(json!({"capabilities": ["read"]})));
        assert_eq!(b, deny);
    }
}
