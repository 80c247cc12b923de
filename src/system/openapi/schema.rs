//! A field's JSON Schema, from its declared kind (Vault's weak typing is
//! said once, in the document's description) and its documentation.

use serde_json::{json, Map, Value};

use super::prose::FieldProse;
use crate::logical::framework::FieldKind;

/// The schema of a field of `kind`.
pub fn field_schema(kind: FieldKind, prose: Option<&FieldProse>) -> Map<String, Value> {
    let mut schema = match kind {
        FieldKind::String => object(json!({"type": "string"})),
        FieldKind::Bool => object(json!({"type": "boolean"})),
        FieldKind::Int => object(json!({"type": "integer"})),
        FieldKind::Duration | FieldKind::SignedDuration => object(json!({
            "type": ["integer", "string"],
            "x-vaultlet-format": "duration",
        })),
        FieldKind::CommaStringSlice | FieldKind::StringSlice => {
            object(json!({"type": "array", "items": {"type": "string"}}))
        }
        FieldKind::Map => object(json!({"type": "object"})),
        // Structured input the handler reads itself: any JSON value.
        FieldKind::Raw => Map::new(),
    };
    let Some(prose) = prose else {
        return schema;
    };
    if let Some(default) = prose.default.as_ref().filter(|v| fits(kind, v)) {
        schema.insert("default".into(), default.clone());
    }
    if let Some(allowed) = prose
        .allowed
        .as_ref()
        .filter(|values| values.iter().all(|v| fits(kind, v)))
    {
        schema.insert("enum".into(), Value::from(allowed.clone()));
    }
    if prose.deprecated {
        schema.insert("deprecated".into(), Value::Bool(true));
    }
    schema
}

/// Whether a documented value (a default, an allowed value) is one the
/// schema of `kind` admits.
pub fn fits(kind: FieldKind, value: &Value) -> bool {
    match kind {
        FieldKind::String => value.is_string(),
        FieldKind::Bool => value.is_boolean(),
        FieldKind::Int => value.is_i64() || value.is_u64(),
        FieldKind::Duration | FieldKind::SignedDuration => {
            value.is_i64() || value.is_u64() || value.is_string()
        }
        FieldKind::CommaStringSlice | FieldKind::StringSlice => value
            .as_array()
            .is_some_and(|items| items.iter().all(Value::is_string)),
        FieldKind::Map => value.is_object(),
        FieldKind::Raw => true,
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prose(default: Value, allowed: Option<Vec<Value>>) -> FieldProse {
        FieldProse {
            description: Some("ignored here".into()),
            default: Some(default),
            allowed,
            deprecated: false,
        }
    }

    #[test]
    fn kinds_map_to_vault_weakly_typed_schemas() {
        let schema = |kind| Value::Object(field_schema(kind, None));
        assert_eq!(schema(FieldKind::String), json!({"type": "string"}));
        assert_eq!(schema(FieldKind::Bool), json!({"type": "boolean"}));
        assert_eq!(schema(FieldKind::Int), json!({"type": "integer"}));
        for kind in [FieldKind::Duration, FieldKind::SignedDuration] {
            assert_eq!(
                schema(kind),
                json!({"type": ["integer", "string"], "x-vaultlet-format": "duration"})
            );
        }
        for kind in [FieldKind::CommaStringSlice, FieldKind::StringSlice] {
            assert_eq!(
                schema(kind),
                json!({"type": "array", "items": {"type": "string"}})
            );
        }
        assert_eq!(schema(FieldKind::Map), json!({"type": "object"}));
        assert_eq!(schema(FieldKind::Raw), json!({}));
    }

    #[test]
    fn documentation_is_kept_only_where_the_type_admits_it() {
        let typed = field_schema(FieldKind::Bool, Some(&prose(json!(true), None)));
        assert_eq!(typed.get("default"), Some(&json!(true)));
        // A string schema cannot default to a boolean.
        let string = field_schema(FieldKind::String, Some(&prose(json!(true), None)));
        assert_eq!(string.get("default"), None);
        let allowed = Some(vec![json!("pem"), json!("der")]);
        let format = field_schema(FieldKind::String, Some(&prose(json!("pem"), allowed)));
        assert_eq!(format.get("enum"), Some(&json!(["pem", "der"])));
        assert_eq!(format.get("description"), None, "the caller places it");
    }
}
