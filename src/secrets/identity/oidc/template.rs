//! The claim templates of identity token roles: a JSON document whose
//! `{{...}}` directives become JSON values of the token's entity, as
//! Vault's identity token templates document
//! (<https://developer.hashicorp.com/vault/docs/secrets/identity/identity-token#token-contents-and-templates>).

use serde_json::{json, Map, Value};

use crate::logical::{parse_duration_seconds, Error, Result};
use crate::secrets::identity::store::Grant;

/// Claims Vault sets itself; a template may not hold them at its top level.
const RESERVED: [&str; 10] = [
    "iat",
    "aud",
    "exp",
    "iss",
    "sub",
    "namespace",
    "nonce",
    "auth_time",
    "at_hash",
    "c_hash",
];

const NO_VALUE: &str =
    "error parsing template: no value could be found for one of the template directives";
const NO_GROUPS: &str =
    "error parsing template: string contains groups template directives but no groups were provided";

/// Renders one directive: `Ok(None)` for a directive Vault does not know.
fn directive(key: &str, grant: Option<&Grant>, now: i64) -> Result<Option<Value>> {
    if let Some(time) = key.strip_prefix("time.now") {
        let offset = if time.is_empty() {
            0
        } else if let Some(d) = time.strip_prefix(".plus.") {
            parse_duration_seconds(d).map_err(|_| Error::bad_request(NO_VALUE))?
        } else if let Some(d) = time.strip_prefix(".minus.") {
            -parse_duration_seconds(d).map_err(|_| Error::bad_request(NO_VALUE))?
        } else {
            return Ok(None);
        };
        return Ok(Some(json!(now + offset)));
    }
    if key.starts_with("identity.groups.") {
        return Err(Error::bad_request(NO_GROUPS));
    }
    let Some(entity_key) = key.strip_prefix("identity.entity.") else {
        return Ok(None);
    };
    let entity = grant.map(|g| &g.entity);
    let text = |s: Option<&String>| json!(s.cloned().unwrap_or_default());
    let value = match entity_key {
        "id" => text(entity.map(|e| &e.id)),
        "name" => text(entity.map(|e| &e.name)),
        "metadata" => json!(entity.map(|e| e.metadata.clone()).unwrap_or_default()),
        "groups.ids" | "groups.names" => {
            let groups = grant.map(|g| g.groups.as_slice()).unwrap_or_default();
            let items: Vec<&String> = groups
                .iter()
                .map(|g| {
                    if entity_key == "groups.ids" {
                        &g.id
                    } else {
                        &g.name
                    }
                })
                .collect();
            if items.is_empty() {
                Value::Null
            } else {
                json!(items)
            }
        }
        _ => {
            if let Some(k) = entity_key.strip_prefix("metadata.") {
                text(entity.and_then(|e| e.metadata.get(k)))
            } else if let Some(aliased) = entity_key.strip_prefix("aliases.") {
                let Some((accessor, field)) = aliased.split_once('.') else {
                    return Ok(None);
                };
                let alias = entity.and_then(|e| e.alias_on(accessor));
                let custom = alias
                    .and_then(|a| a.custom_metadata.clone())
                    .unwrap_or_default();
                match field {
                    "id" => text(alias.map(|a| &a.id)),
                    "name" => text(alias.map(|a| &a.name)),
                    "metadata" => json!(alias.map(|a| a.metadata.clone()).unwrap_or_default()),
                    "custom_metadata" => json!(custom),
                    _ => {
                        if let Some(k) = field.strip_prefix("metadata.") {
                            text(alias.and_then(|a| a.metadata.get(k)))
                        } else if let Some(k) = field.strip_prefix("custom_metadata.") {
                            text(custom.get(k))
                        } else {
                            return Ok(None);
                        }
                    }
                }
            } else {
                return Ok(None);
            }
        }
    };
    Ok(Some(value))
}

/// The template's claims for `grant`'s entity (`None`: the empty entity a
/// role's template is checked with), at `now` (Unix seconds).
pub fn render(template: &str, grant: Option<&Grant>, now: i64) -> Result<Map<String, Value>> {
    if template.trim().is_empty() {
        return Ok(Map::new());
    }
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(Error::bad_request(NO_VALUE));
        };
        match directive(after[..end].trim(), grant, now)? {
            Some(value) => out.push_str(&value.to_string()),
            None => return Err(Error::bad_request(NO_VALUE)),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    let parsed: Value = serde_json::from_str(&out)
        .map_err(|e| Error::BadRequest(format!("error parsing template JSON: {e}")))?;
    match parsed {
        Value::Object(claims) => Ok(claims),
        _ => Err(Error::bad_request(
            "error parsing template JSON: the template is not a JSON object",
        )),
    }
}

/// Checks a role's template as Vault does when the role is written: it
/// must render to a JSON object without reserved top-level claims.
pub fn validate(template: &str) -> Result<()> {
    let claims = render(template, None, 0)?;
    for key in claims.keys() {
        if RESERVED.contains(&key.as_str()) {
            return Err(Error::BadRequest(format!(
                "top level key {key:?} not allowed. Restricted keys: {}",
                RESERVED.join(", ")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::identity::model::{Alias, Entity, Group};
    use std::collections::BTreeMap;

    fn grant() -> Grant {
        Grant {
            entity: Entity {
                id: "e-1".into(),
                name: "alice".into(),
                metadata: BTreeMap::from([("team".into(), "blue".into())]),
                aliases: vec![Alias {
                    id: "a-1".into(),
                    mount_accessor: "auth_userpass_1".into(),
                    name: "bob".into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
            groups: vec![Group {
                id: "g-1".into(),
                name: "ops".into(),
                ..Default::default()
            }],
        }
    }

    #[test]
    fn directives_become_json_values() {
        let tpl = r#"{"n": {{identity.entity.name}}, "m": {{identity.entity.metadata}},
            "t": {{identity.entity.metadata.team}}, "x": {{identity.entity.metadata.none}},
            "g": {{identity.entity.groups.names}}, "gi": {{ identity.entity.groups.ids }},
            "a": {{identity.entity.aliases.auth_userpass_1.name}},
            "at": {{time.now}}, "later": {{time.now.plus.1h}}}"#;
        let claims = render(tpl, Some(&grant()), 100).expect("render");
        assert_eq!(
            Value::Object(claims),
            json!({"n": "alice", "m": {"team": "blue"}, "t": "blue", "x": "",
                   "g": ["ops"], "gi": ["g-1"], "a": "bob", "at": 100, "later": 3700})
        );
    }

    #[test]
    fn bad_templates_are_refused_with_vaults_texts() {
        assert!(validate("").is_ok());
        assert!(validate(r#"{"groups": {{identity.entity.groups.names}}}"#).is_ok());
        let err = |t: &str| validate(t).unwrap_err().to_string();
        assert!(err("not json").starts_with("error parsing template JSON: "));
        assert_eq!(
            err(r#"{"sub": "x"}"#),
            "top level key \"sub\" not allowed. Restricted keys: iat, aud, exp, iss, sub, \
             namespace, nonce, auth_time, at_hash, c_hash"
        );
        assert_eq!(err(r#"{"a": {{identity.entity.bogus}}}"#), NO_VALUE);
        assert_eq!(err(r#"{"a": {{identity.groups.names.x.id}}}"#), NO_GROUPS);
    }
}
