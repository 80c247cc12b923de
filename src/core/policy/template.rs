//! Identity templating in policy paths (`{{identity.entity.id}}`), as
//! Vault's ACL templating documents it
//! (<https://developer.hashicorp.com/vault/docs/concepts/policies#templated-policies>):
//! each placeholder is replaced by a value of the token's entity; a path
//! with a placeholder that cannot be filled is left out of the ACL.

use std::collections::BTreeMap;

/// An alias of the entity on one auth mount, as templates see it.
#[derive(Debug, Clone, Default)]
pub struct AliasValues {
    pub id: String,
    pub name: String,
    pub metadata: BTreeMap<String, String>,
    pub custom_metadata: BTreeMap<String, String>,
}

/// A group the entity belongs to (directly or inherited).
#[derive(Debug, Clone, Default)]
pub struct GroupValues {
    pub id: String,
    pub name: String,
    pub metadata: BTreeMap<String, String>,
}

/// What a token's entity offers the templates of its policies.
#[derive(Debug, Clone, Default)]
pub struct IdentityValues {
    pub entity_id: String,
    pub entity_name: String,
    pub metadata: BTreeMap<String, String>,
    /// By mount accessor.
    pub aliases: BTreeMap<String, AliasValues>,
    pub groups: Vec<GroupValues>,
}

impl IdentityValues {
    /// The value of one placeholder (`identity.entity.name`, say).
    fn value(&self, key: &str) -> Option<&str> {
        let rest = key.strip_prefix("identity.")?;
        if let Some(entity) = rest.strip_prefix("entity.") {
            return match entity {
                "id" => Some(&self.entity_id),
                "name" => Some(&self.entity_name),
                _ => {
                    if let Some(k) = entity.strip_prefix("metadata.") {
                        return self.metadata.get(k).map(String::as_str);
                    }
                    let aliased = entity.strip_prefix("aliases.")?;
                    let (accessor, field) = aliased.split_once('.')?;
                    let alias = self.aliases.get(accessor)?;
                    match field {
                        "id" => Some(&alias.id),
                        "name" => Some(&alias.name),
                        _ => field
                            .strip_prefix("metadata.")
                            .and_then(|k| alias.metadata.get(k))
                            .or_else(|| {
                                field
                                    .strip_prefix("custom_metadata.")
                                    .and_then(|k| alias.custom_metadata.get(k))
                            })
                            .map(String::as_str),
                    }
                }
            };
        }
        let groups = rest.strip_prefix("groups.")?;
        let (by_id, rest) = if let Some(r) = groups.strip_prefix("ids.") {
            (true, r)
        } else {
            (false, groups.strip_prefix("names.")?)
        };
        let find = |selector: &str| {
            self.groups.iter().find(|g| {
                if by_id {
                    g.id == selector
                } else {
                    g.name == selector
                }
            })
        };
        if let Some((selector, key)) = rest.split_once(".metadata.") {
            return find(selector)?.metadata.get(key).map(String::as_str);
        }
        let (selector, field) = rest.rsplit_once('.')?;
        let group = find(selector)?;
        match field {
            "id" => Some(&group.id),
            "name" => Some(&group.name),
            _ => None,
        }
    }

    /// `path` with every placeholder filled, or `None` when one cannot be
    /// (unknown key, missing metadata, an alias or group the entity lacks)
    /// or when a value holds a wildcard: a user-chosen name or metadata
    /// value of `+` or `*` must not widen the rule to other users' paths
    /// (Vault and OpenBao refuse such renderings too).
    pub fn render(&self, path: &str) -> Option<String> {
        let mut out = String::with_capacity(path.len());
        let mut rest = path;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find("}}")?;
            let value = self.value(after[..end].trim())?;
            if value.is_empty() || value.contains(['+', '*']) {
                return None;
            }
            out.push_str(value);
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> IdentityValues {
        IdentityValues {
            entity_id: "e-1".into(),
            entity_name: "alice".into(),
            metadata: BTreeMap::from([("team".to_string(), "blue".to_string())]),
            aliases: BTreeMap::from([(
                "auth_userpass_1".to_string(),
                AliasValues {
                    id: "a-1".into(),
                    name: "bob".into(),
                    metadata: BTreeMap::from([("role".to_string(), "web".to_string())]),
                    custom_metadata: BTreeMap::new(),
                },
            )]),
            groups: vec![GroupValues {
                id: "g-1".into(),
                name: "ops".into(),
                metadata: BTreeMap::from([("site".to_string(), "x".to_string())]),
            }],
        }
    }

    #[test]
    fn placeholders_take_the_entitys_values() {
        let v = values();
        for (path, want) in [
            ("secret/{{identity.entity.id}}/*", "secret/e-1/*"),
            ("kv/{{ identity.entity.name }}", "kv/alice"),
            ("kv/{{identity.entity.metadata.team}}/x", "kv/blue/x"),
            (
                "a/{{identity.entity.aliases.auth_userpass_1.name}}",
                "a/bob",
            ),
            ("a/{{identity.entity.aliases.auth_userpass_1.id}}", "a/a-1"),
            (
                "a/{{identity.entity.aliases.auth_userpass_1.metadata.role}}",
                "a/web",
            ),
            ("g/{{identity.groups.ids.g-1.name}}", "g/ops"),
            ("g/{{identity.groups.names.ops.id}}", "g/g-1"),
            ("g/{{identity.groups.names.ops.metadata.site}}", "g/x"),
            ("plain/path", "plain/path"),
        ] {
            assert_eq!(v.render(path).as_deref(), Some(want), "{path}");
        }
    }

    #[test]
    fn a_placeholder_that_cannot_be_filled_drops_the_path() {
        let v = values();
        for path in [
            "kv/{{identity.entity.metadata.missing}}",
            "a/{{identity.entity.aliases.auth_other.name}}",
            "g/{{identity.groups.names.dev.id}}",
            "g/{{identity.groups.ids.g-2.name}}",
            "x/{{identity.entity.bogus}}",
            "x/{{something.else}}",
        ] {
            assert_eq!(v.render(path), None, "{path}");
        }
    }

    #[test]
    fn a_value_holding_a_wildcard_drops_the_path() {
        let mut v = values();
        for wildcard in ["+", "*", "a*", "x+y"] {
            v.metadata.insert("team".into(), wildcard.into());
            assert_eq!(
                v.render("kv/{{identity.entity.metadata.team}}/x"),
                None,
                "{wildcard}"
            );
        }
    }
}
