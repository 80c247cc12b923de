//! The claims of a login's token as the plugin reads them: a claim by name
//! or JSON pointer, and the role's `bound_claims` (exact or glob).

use serde_json::{json, Map, Value};

use crate::logical::glob_match;

/// The plugin's `getClaim`: a JSON pointer when the name starts with `/`,
/// else a top-level claim; a single-string `aud` becomes a list.
pub(super) fn get_claim(claims: &Value, name: &str) -> Option<Value> {
    let value = if name.starts_with('/') {
        claims.pointer(name)
    } else {
        claims.get(name)
    }
    .filter(|v| !v.is_null())
    .cloned()?;
    if name == "aud" {
        if let Value::String(s) = &value {
            return Some(json!([s]));
        }
    }
    Some(value)
}

/// A claim or bound value as the plugin compares them: numbers as their
/// integer text (Go's float64 → `json.Number` conversion).
#[derive(Debug, PartialEq)]
pub(super) enum Scalar {
    Str(String),
    Bool(bool),
    Num(String),
}

pub(super) fn normalize_list(value: &Value, from_claim: bool) -> Option<Vec<Option<Scalar>>> {
    let one = |v: &Value| match v {
        Value::String(s) => Some(Scalar::Str(s.clone())),
        Value::Bool(b) => Some(Scalar::Bool(*b)),
        Value::Number(n) if from_claim => Some(Scalar::Num(
            n.as_i64()
                .unwrap_or_else(|| n.as_f64().unwrap_or(0.0) as i64)
                .to_string(),
        )),
        Value::Number(n) => Some(Scalar::Num(n.to_string())),
        _ => None,
    };
    match value {
        Value::Array(items) => Some(items.iter().map(one).collect()),
        Value::String(_) | Value::Bool(_) | Value::Number(_) => Some(vec![one(value)]),
        _ => None,
    }
}

/// The plugin's `validateBoundClaims`.
pub(super) fn validate_bound_claims(
    claims_type: &str,
    bound: &Map<String, Value>,
    claims: &Value,
) -> Result<(), String> {
    let globs = claims_type == "glob";
    for (name, expected) in bound {
        let Some(actual) = get_claim(claims, name) else {
            return Err(format!("claim {name:?} is missing"));
        };
        let actual_vals = normalize_list(&actual, true).ok_or_else(|| {
            format!("received claim is not a string, bool, int or list: {actual}")
        })?;
        let expected_vals = normalize_list(expected, false)
            .ok_or_else(|| format!("bound claim is not a string, bool, int or list: {expected}"))?;
        let mut found = false;
        'outer: for exp in &expected_vals {
            for act in &actual_vals {
                let matched = if globs {
                    let Some(Scalar::Str(pattern)) = exp else {
                        return Err(format!("received claim is not a glob string: {expected}"));
                    };
                    matches!(act, Some(Scalar::Str(s)) if glob_match(pattern, s))
                } else {
                    exp.is_some() && act == exp
                };
                if matched {
                    found = true;
                    break 'outer;
                }
            }
        }
        if !found {
            return Err(format!(
                "claim {name:?} does not match any associated bound claim values"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_claims_match_strings_lists_numbers_and_globs() {
        let claims =
            json!({"groups": ["a", "b"], "n": 5, "email": "x@example.com", "nested": {"k": "v"}});
        let bound = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert!(validate_bound_claims("string", &bound(json!({"groups": "b"})), &claims).is_ok());
        assert!(
            validate_bound_claims("string", &bound(json!({"groups": ["z", "a"]})), &claims).is_ok()
        );
        assert!(validate_bound_claims("string", &bound(json!({"n": 5})), &claims).is_ok());
        assert!(
            validate_bound_claims("string", &bound(json!({"/nested/k": "v"})), &claims).is_ok()
        );
        assert_eq!(
            validate_bound_claims("string", &bound(json!({"groups": "c"})), &claims).err(),
            Some("claim \"groups\" does not match any associated bound claim values".into())
        );
        assert_eq!(
            validate_bound_claims("string", &bound(json!({"missing": "c"})), &claims).err(),
            Some("claim \"missing\" is missing".into())
        );
        assert!(
            validate_bound_claims("glob", &bound(json!({"email": "*@example.com"})), &claims)
                .is_ok()
        );
        assert!(validate_bound_claims(
            "string",
            &bound(json!({"email": "*@example.com"})),
            &claims
        )
        .is_err());
    }
}
