//! Weakly typed request parameters, as Vault's `sdk/framework` reads them.
//!
//! The CLI sends every value as a JSON string (`"require_cn":"false"`,
//! `"ttl":"720h"`) while hvac and the Go client send native JSON types, so
//! every getter accepts both. A value that cannot be converted is a 400 with
//! Vault's `Field validation failed` text.

use serde_json::{Map, Value};

use super::duration::{self, parse_duration_seconds, parse_signed_duration_seconds, DurationError};
use super::framework::{Field, FieldKind, Fields};
use super::Error;

/// Request parameters with typed, weakly converting getters. Every getter
/// returns `Ok(None)` when the field is absent (or JSON `null`).
///
/// On a path that declares its fields, [`FieldData::validate`] converts
/// every declared field the request carries once, before the handler runs;
/// the getters then hand out those values, and a getter asking for a field
/// the path does not declare (or as another type) is a bug, answered 500.
#[derive(Debug, Clone, Default)]
pub struct FieldData {
    raw: Map<String, Value>,
    /// The path's declaration, once validated.
    schema: Option<Fields>,
    /// The declared fields the request carries, converted (a path
    /// declares a few dozen at most: a list is quicker than a hash map).
    typed: Vec<(&'static str, Typed)>,
}

/// A declared field's value, converted.
#[derive(Debug, Clone)]
enum Typed {
    Str(String),
    /// A string field sent as a JSON string: read from the request as it
    /// is, not copied.
    SentStr,
    Bool(bool),
    Int(i64),
    Seconds(i64),
    List(Vec<String>),
    Map(Map<String, Value>),
}

fn conversion_error(name: &str, value: &Value, reason: impl std::fmt::Display) -> Error {
    let shown = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Error::BadRequest(format!(
        "Field validation failed: error converting input {shown} for field {name:?}: {reason}"
    ))
}

impl FieldData {
    pub fn new(raw: Map<String, Value>) -> Self {
        FieldData {
            raw,
            schema: None,
            typed: Vec::new(),
        }
    }

    pub(super) fn set_schema(&mut self, fields: Fields) {
        self.schema = Some(fields);
        self.typed.clear();
    }

    /// Converts one declared field, if the request carries it.
    pub(super) fn check(&mut self, field: &'static Field) -> Result<(), Error> {
        let name = field.name;
        let typed = match field.kind {
            FieldKind::String => match self.value(name) {
                Some(Value::String(_)) => Some(Typed::SentStr),
                _ => self.convert_str(name)?.map(Typed::Str),
            },
            FieldKind::Bool => self.convert_bool(name)?.map(Typed::Bool),
            FieldKind::Int => self.convert_int(name)?.map(Typed::Int),
            FieldKind::Duration => self.convert_duration(name)?.map(Typed::Seconds),
            FieldKind::SignedDuration => self.convert_signed_duration(name)?.map(Typed::Seconds),
            FieldKind::CommaStringSlice => self.convert_comma_list(name)?.map(Typed::List),
            FieldKind::StringSlice => self.convert_string_list(name)?.map(Typed::List),
            FieldKind::Map => self.convert_string_map(name)?.map(Typed::Map),
            FieldKind::Raw => None,
        };
        if let Some(typed) = typed {
            self.typed.retain(|(known, _)| *known != name);
            self.typed.push((name, typed));
        }
        Ok(())
    }

    /// The converted value of a declared field; `Err` when the path does
    /// not declare `name` as one of `kinds` (a handler bug).
    fn declared(&self, name: &str, kinds: &[FieldKind]) -> Result<Option<Option<&Typed>>, Error> {
        let Some(schema) = self.schema else {
            return Ok(None);
        };
        if let Fields::Arbitrary = schema {
            return Ok(None);
        }
        match schema.get(name) {
            Some(field) if kinds.contains(&field.kind) => Ok(Some(
                self.typed
                    .iter()
                    .find(|(known, _)| *known == name)
                    .map(|(_, typed)| typed),
            )),
            Some(field) => Err(Error::internal(format!(
                "field {name:?} is declared as {:?} but read as {kinds:?}",
                field.kind
            ))),
            None => Err(Error::internal(format!(
                "field {name:?} is not declared by this path"
            ))),
        }
    }

    /// `TypeString`: strings as they are, numbers and booleans stringified.
    pub fn str(&self, name: &str) -> Result<Option<String>, Error> {
        match self.declared(name, &[FieldKind::String])? {
            Some(Some(Typed::Str(s))) => Ok(Some(s.clone())),
            Some(Some(Typed::SentStr)) => self.convert_str(name),
            Some(_) => Ok(None),
            None => self.convert_str(name),
        }
    }

    /// `TypeBool`: JSON booleans, or a string or number that Go's
    /// `strconv.ParseBool` reads (`"true"`, `"f"`, `1`, `0`); `""` is false.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, Error> {
        match self.declared(name, &[FieldKind::Bool])? {
            Some(Some(Typed::Bool(b))) => Ok(Some(*b)),
            Some(_) => Ok(None),
            None => self.convert_bool(name),
        }
    }

    /// `TypeInt`: JSON integers or numeric strings.
    pub fn int(&self, name: &str) -> Result<Option<i64>, Error> {
        match self.declared(name, &[FieldKind::Int])? {
            Some(Some(Typed::Int(n))) => Ok(Some(*n)),
            Some(_) => Ok(None),
            None => self.convert_int(name),
        }
    }

    /// `TypeDurationSecond`: seconds as number or string, Go durations, `Nd`.
    pub fn duration(&self, name: &str) -> Result<Option<i64>, Error> {
        match self.declared(name, &[FieldKind::Duration])? {
            Some(Some(Typed::Seconds(n))) => Ok(Some(*n)),
            Some(_) => Ok(None),
            None => self.convert_duration(name),
        }
    }

    /// `TypeSignedDurationSecond`: as [`FieldData::duration`], but a
    /// negative value is returned for the handler to judge.
    pub fn signed_duration(&self, name: &str) -> Result<Option<i64>, Error> {
        match self.declared(name, &[FieldKind::SignedDuration])? {
            Some(Some(Typed::Seconds(n))) => Ok(Some(*n)),
            Some(_) => Ok(None),
            None => self.convert_signed_duration(name),
        }
    }

    /// `TypeCommaStringSlice`: a JSON array or a comma-separated string;
    /// items are trimmed and empty items dropped.
    pub fn comma_list(&self, name: &str) -> Result<Option<Vec<String>>, Error> {
        match self.declared(name, &[FieldKind::CommaStringSlice])? {
            Some(Some(Typed::List(items))) => Ok(Some(items.clone())),
            Some(_) => Ok(None),
            None => self.convert_comma_list(name),
        }
    }

    /// `TypeStringSlice`: a JSON array of strings, or one string (not split).
    pub fn string_list(&self, name: &str) -> Result<Option<Vec<String>>, Error> {
        match self.declared(name, &[FieldKind::StringSlice])? {
            Some(Some(Typed::List(items))) => Ok(Some(items.clone())),
            Some(_) => Ok(None),
            None => self.convert_string_list(name),
        }
    }

    /// `TypeMap` / `TypeKVPairs` read as string → string: a JSON object
    /// (non-string values stringified), or `k=v,k2=v2`.
    pub fn string_map(&self, name: &str) -> Result<Option<Map<String, Value>>, Error> {
        match self.declared(name, &[FieldKind::Map])? {
            Some(Some(Typed::Map(map))) => Ok(Some(map.clone())),
            Some(_) => Ok(None),
            None => self.convert_string_map(name),
        }
    }

    /// `TypeSignedDurationSecond`: as `TypeDurationSecond`, sign kept.
    fn convert_signed_duration(&self, name: &str) -> Result<Option<i64>, Error> {
        let Some(value) = self.value(name) else {
            return Ok(None);
        };
        let parsed = match value {
            Value::Number(n) => match n.as_i64() {
                Some(secs) => parse_signed_duration_seconds(&secs.to_string()),
                None => Err(DurationError::MissingUnit(n.to_string())),
            },
            Value::String(s) => parse_signed_duration_seconds(s),
            other => {
                return Err(conversion_error(
                    name,
                    other,
                    "could not parse duration from input",
                ))
            }
        };
        parsed
            .map(Some)
            .map_err(|e| conversion_error(name, value, e))
    }

    pub fn raw(&self) -> &Map<String, Value> {
        &self.raw
    }

    pub fn contains(&self, name: &str) -> bool {
        self.value(name).is_some()
    }

    fn value(&self, name: &str) -> Option<&Value> {
        self.raw.get(name).filter(|v| !v.is_null())
    }

    /// `TypeString`: strings as they are, numbers and booleans stringified.
    fn convert_str(&self, name: &str) -> Result<Option<String>, Error> {
        let Some(value) = self.value(name) else {
            return Ok(None);
        };
        match value {
            Value::String(s) => Ok(Some(s.clone())),
            Value::Number(n) => Ok(Some(n.to_string())),
            Value::Bool(b) => Ok(Some(b.to_string())),
            other => Err(conversion_error(name, other, "expected a string")),
        }
    }

    /// A string field with a default when absent.
    pub fn str_or(&self, name: &str, default: &str) -> Result<String, Error> {
        Ok(self.str(name)?.unwrap_or_else(|| default.to_string()))
    }

    /// `TypeBool`: JSON booleans, or a string or number that Go's
    /// `strconv.ParseBool` reads (`"true"`, `"f"`, `1`, `0`); `""` is false.
    fn convert_bool(&self, name: &str) -> Result<Option<bool>, Error> {
        let Some(value) = self.value(name) else {
            return Ok(None);
        };
        let text = match value {
            Value::Bool(b) => return Ok(Some(*b)),
            Value::String(s) if s.is_empty() => return Ok(Some(false)),
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => {
                return Err(conversion_error(
                    name,
                    other,
                    "expected type 'bool', got an unconvertible type",
                ))
            }
        };
        parse_bool(&text).map(Some).ok_or_else(|| {
            conversion_error(
                name,
                value,
                "cannot parse value as 'bool': strconv.ParseBool: invalid syntax",
            )
        })
    }

    pub fn bool_or(&self, name: &str, default: bool) -> Result<bool, Error> {
        Ok(self.bool(name)?.unwrap_or(default))
    }

    /// `TypeInt`: JSON integers or numeric strings.
    fn convert_int(&self, name: &str) -> Result<Option<i64>, Error> {
        let Some(value) = self.value(name) else {
            return Ok(None);
        };
        let parsed = match value {
            Value::Number(n) => n.as_i64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .map(|f| f as i64)
            }),
            Value::String(s) if s.trim().is_empty() => Some(0),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            Value::Bool(b) => Some(i64::from(*b)),
            _ => None,
        };
        parsed
            .map(Some)
            .ok_or_else(|| conversion_error(name, value, "expected an integer"))
    }

    pub fn int_or(&self, name: &str, default: i64) -> Result<i64, Error> {
        Ok(self.int(name)?.unwrap_or(default))
    }

    /// `TypeDurationSecond`: seconds as number or string, Go durations, `Nd`.
    fn convert_duration(&self, name: &str) -> Result<Option<i64>, Error> {
        let Some(value) = self.value(name) else {
            return Ok(None);
        };
        let parsed = match value {
            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(secs), _) => duration::checked_seconds(secs),
                (None, Some(_)) => Err(DurationError::Overflow),
                // Go reads a JSON number as its text: `1.5` has no unit.
                (None, None) => Err(DurationError::MissingUnit(n.to_string())),
            },
            Value::String(s) => parse_duration_seconds(s),
            other => {
                return Err(conversion_error(
                    name,
                    other,
                    "could not parse duration from input",
                ))
            }
        };
        parsed
            .map(Some)
            .map_err(|e| conversion_error(name, value, e))
    }

    pub fn duration_or(&self, name: &str, default: i64) -> Result<i64, Error> {
        Ok(self.duration(name)?.unwrap_or(default))
    }

    /// `TypeCommaStringSlice`: a JSON array or a comma-separated string;
    /// items are trimmed and empty items dropped.
    fn convert_comma_list(&self, name: &str) -> Result<Option<Vec<String>>, Error> {
        let Some(value) = self.value(name) else {
            return Ok(None);
        };
        let items = match value {
            Value::String(s) => s.split(',').map(str::to_string).collect::<Vec<_>>(),
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::String(s) => out.extend(s.split(',').map(str::to_string)),
                        Value::Number(n) => out.push(n.to_string()),
                        Value::Bool(b) => out.push(b.to_string()),
                        other => {
                            return Err(conversion_error(name, other, "expected a list of strings"))
                        }
                    }
                }
                out
            }
            Value::Number(n) => vec![n.to_string()],
            other => return Err(conversion_error(name, other, "expected a list of strings")),
        };
        Ok(Some(
            items
                .into_iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        ))
    }

    pub fn comma_list_or_empty(&self, name: &str) -> Result<Vec<String>, Error> {
        Ok(self.comma_list(name)?.unwrap_or_default())
    }

    /// `TypeStringSlice`: a JSON array of strings, or one string (not split).
    fn convert_string_list(&self, name: &str) -> Result<Option<Vec<String>>, Error> {
        let Some(value) = self.value(name) else {
            return Ok(None);
        };
        match value {
            Value::String(s) if s.is_empty() => Ok(Some(Vec::new())),
            Value::String(s) => Ok(Some(vec![s.clone()])),
            Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    other => Err(conversion_error(name, other, "expected a list of strings")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            other => Err(conversion_error(name, other, "expected a list of strings")),
        }
    }

    /// `TypeMap` / `TypeKVPairs` read as string → string: a JSON object
    /// (non-string values stringified), or `k=v,k2=v2`.
    fn convert_string_map(&self, name: &str) -> Result<Option<Map<String, Value>>, Error> {
        let Some(value) = self.value(name) else {
            return Ok(None);
        };
        match value {
            Value::Object(map) => Ok(Some(
                map.iter()
                    .map(|(k, v)| {
                        let v = match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (k.clone(), Value::String(v))
                    })
                    .collect(),
            )),
            Value::String(s) if s.trim().is_empty() => Ok(Some(Map::new())),
            Value::String(s) => {
                let mut map = Map::new();
                for pair in s.split(',') {
                    let (k, v) = pair
                        .split_once('=')
                        .ok_or_else(|| conversion_error(name, value, "expected key=value pairs"))?;
                    map.insert(k.trim().to_string(), Value::String(v.trim().to_string()));
                }
                Ok(Some(map))
            }
            other => Err(conversion_error(name, other, "expected a map")),
        }
    }
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn data(v: Value) -> FieldData {
        FieldData::new(v.as_object().cloned().unwrap_or_default())
    }

    #[test]
    fn booleans_come_as_json_or_go_strings() {
        let d = data(json!({"a": true, "b": "false", "c": "1", "d": "t", "e": "maybe", "f": 0}));
        assert_eq!(d.bool("a").ok().flatten(), Some(true));
        assert_eq!(d.bool("b").ok().flatten(), Some(false));
        assert_eq!(d.bool("c").ok().flatten(), Some(true));
        assert_eq!(d.bool("d").ok().flatten(), Some(true));
        assert!(d.bool("e").is_err());
        assert_eq!(d.bool("f").ok().flatten(), Some(false));
        assert_eq!(d.bool("missing").ok().flatten(), None);
    }

    /// A number is read as its text, as Go reads a `json.Number`.
    #[test]
    fn only_the_numbers_one_and_zero_are_booleans() {
        let d =
            data(json!({"one": 1, "zero": 0, "two": 2, "minus": -1, "float": 1.0, "empty": ""}));
        assert_eq!(d.bool("one").ok().flatten(), Some(true));
        assert_eq!(d.bool("zero").ok().flatten(), Some(false));
        assert_eq!(d.bool("empty").ok().flatten(), Some(false));
        for bad in ["two", "minus", "float"] {
            let err = d.bool(bad).expect_err(bad).to_string();
            assert!(err.contains("strconv.ParseBool: invalid syntax"), "{err}");
        }
    }

    #[test]
    fn integers_come_as_numbers_or_strings() {
        let d = data(json!({"a": 5, "b": "7", "c": "x", "d": 3.0}));
        assert_eq!(d.int("a").ok().flatten(), Some(5));
        assert_eq!(d.int("b").ok().flatten(), Some(7));
        assert!(d.int("c").is_err());
        assert_eq!(d.int("d").ok().flatten(), Some(3));
    }

    #[test]
    fn durations_accept_seconds_go_strings_and_days() {
        let d = data(json!({"a": 3600, "b": "1h", "c": "2160h0m0s", "d": "30d", "e": "abc"}));
        assert_eq!(d.duration("a").ok().flatten(), Some(3600));
        assert_eq!(d.duration("b").ok().flatten(), Some(3600));
        assert_eq!(d.duration("c").ok().flatten(), Some(7_776_000));
        assert_eq!(d.duration("d").ok().flatten(), Some(2_592_000));
        let err = d
            .duration("e")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.starts_with("Field validation failed: error converting input abc for field \"e\"")
        );
    }

    #[test]
    fn comma_lists_come_as_strings_or_arrays() {
        let d = data(json!({"a": "x, y,,z", "b": ["p", "q,r"], "c": ""}));
        assert_eq!(
            d.comma_list_or_empty("a").ok(),
            Some(vec!["x".into(), "y".into(), "z".into()])
        );
        assert_eq!(
            d.comma_list_or_empty("b").ok(),
            Some(vec!["p".into(), "q".into(), "r".into()])
        );
        assert_eq!(d.comma_list_or_empty("c").ok(), Some(Vec::<String>::new()));
    }

    #[test]
    fn null_is_absent() {
        let d = data(json!({"a": null}));
        assert_eq!(d.str("a").ok().flatten(), None);
        assert!(!d.contains("a"));
    }

    proptest! {
        #[test]
        fn stringified_integers_read_back(n in any::<i64>()) {
            let d = data(json!({"n": n.to_string()}));
            prop_assert_eq!(d.int("n").ok().flatten(), Some(n));
        }

        #[test]
        fn stringified_bools_read_back(b in any::<bool>()) {
            let d = data(json!({"b": b.to_string()}));
            prop_assert_eq!(d.bool("b").ok().flatten(), Some(b));
        }

        #[test]
        fn getters_never_panic(s in "\\PC{0,16}") {
            let d = data(json!({"x": s}));
            let _ = (d.bool("x"), d.int("x"), d.duration("x"), d.comma_list("x"), d.string_map("x"));
        }
    }
}
