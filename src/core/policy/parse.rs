//! Turning policy text (HCL, JSON, or base64 of either) into path rules.
//!
//! Both syntaxes are first lowered to the same shape, a list of
//! `(path pattern, [(key, value)])` stanzas with JSON values, so that the
//! rule semantics in [`super::rule`] are written once.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use serde_json::Value;

use super::error::{PolicyError, RuleError};
use super::rule::PathRule;
use crate::hcl1;

/// A parsed ACL policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Policy name as given by the caller (already lower-cased there).
    pub name: String,
    /// The policy text as stored and returned by `sys/policy/:name`: the
    /// decoded text when the input was base64, as Vault stores it.
    pub raw: String,
    rules: Vec<PathRule>,
}

impl Policy {
    /// Parses HCL, JSON, or base64 of either (Vault accepts all three).
    /// Name is lower-cased by caller.
    pub fn parse(name: &str, text: &str) -> Result<Policy, PolicyError> {
        let raw = decode_base64(text).unwrap_or_else(|| text.to_owned());
        let rules = stanzas(&raw)?
            .iter()
            .map(|stanza| {
                PathRule::from_fields(&stanza.path, &stanza.fields)
                    .map_err(|err| with_key_line(err, stanza, &raw))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Policy {
            name: name.to_owned(),
            raw,
            rules,
        })
    }

    /// The path rules in document order (duplicates are merged later, by [`super::Acl`]).
    pub fn rules(&self) -> &[PathRule] {
        &self.rules
    }

    /// True if some rule uses identity templating (`{{identity.entity.id}}`),
    /// filled per token from its entity.
    pub fn is_templated(&self) -> bool {
        self.rules.iter().any(|r| r.templated)
    }
}

/// Vault reports an unknown key inside a stanza with the line of its `=`:
/// from the HCL stanza when it knows it, else (JSON) found in the text.
fn with_key_line(err: PolicyError, stanza: &Stanza, text: &str) -> PolicyError {
    let PolicyError::Rule {
        path,
        reason: RuleError::InvalidKey(key),
    } = err
    else {
        return err;
    };
    if let Some(line) = stanza.key_line(&key) {
        return PolicyError::Rule {
            path,
            reason: RuleError::InvalidKeyOnLine(key, line),
        };
    }
    let start = text.find(&format!("{path:?}")).unwrap_or(0);
    let is_word_char = |c: char| c.is_alphanumeric() || c == '_';
    let found = text[start..]
        .match_indices(key.as_str())
        .map(|(i, _)| start + i)
        .find(|&at| {
            let before = text[..at]
                .chars()
                .next_back()
                .is_none_or(|c| !is_word_char(c));
            let rest = text[at + key.len()..].trim_start_matches(['"', ' ', '\t']);
            before && rest.starts_with(['=', ':', '{'])
        });
    let line = found.map_or(0, |at| text[..at].matches('\n').count() + 1);
    PolicyError::Rule {
        path,
        reason: RuleError::InvalidKeyOnLine(key, line),
    }
}

/// One `path "<pattern>" { ... }` stanza before interpretation.
#[derive(Debug, Clone, PartialEq)]
struct Stanza {
    path: String,
    fields: Vec<(String, Value)>,
    /// The line of each field's `=` (HCL only; empty for JSON).
    lines: Vec<usize>,
}

impl Stanza {
    fn key_line(&self, key: &str) -> Option<usize> {
        let at = self.fields.iter().position(|(k, _)| k == key)?;
        self.lines.get(at).copied()
    }
}

/// Vault tries `base64.StdEncoding` first and keeps the decoded text on success.
///
/// Go's decoder skips `\r` and `\n` (so wrapped `base64` output works) and
/// tolerates non-zero trailing bits; mirror both. Non-UTF-8 results are not
/// policy text, so the input is then used as-is.
fn decode_base64(text: &str) -> Option<String> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
    );
    let compact: String = text.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
    if compact.is_empty() {
        return None;
    }
    let bytes = LENIENT.decode(compact).ok()?;
    String::from_utf8(bytes).ok()
}

/// Like HCL v1, input whose first non-blank character is `{` is JSON.
fn stanzas(text: &str) -> Result<Vec<Stanza>, PolicyError> {
    if text.trim_start().starts_with('{') {
        json_stanzas(text)
    } else {
        hcl_stanzas(text)
    }
}

// ---------------------------------------------------------------- JSON ----

/// `{"path": {"<pattern>": {...}}}`, also accepting HCL v1's list forms
/// (`"path": [{...}]`, `"<pattern>": [{...}]`).
fn json_stanzas(text: &str) -> Result<Vec<Stanza>, PolicyError> {
    let root: Value = serde_json::from_str(text).map_err(|e| PolicyError::Syntax(e.to_string()))?;
    let Value::Object(root) = root else {
        return Err(PolicyError::NoRootObject);
    };
    let invalid: Vec<(String, usize)> = root
        .keys()
        .filter(|key| !matches!(key.as_str(), "name" | "path"))
        .map(|key| (key.clone(), line_of(text, &format!("{key:?}"))))
        .collect();
    if !invalid.is_empty() {
        return Err(PolicyError::InvalidKeys(invalid));
    }
    let mut out = Vec::new();
    if let Some(value) = root.get("path") {
        collect_path_map(value, &mut out)?;
    }
    Ok(out)
}

/// Reads the value of a `path` key: an object of pattern → body, or a list of such objects.
fn collect_path_map(value: &Value, out: &mut Vec<Stanza>) -> Result<(), PolicyError> {
    match value {
        Value::Object(map) => map
            .iter()
            .try_for_each(|(path, body)| collect_path_body(path, body, out)),
        Value::Array(items) => items.iter().try_for_each(|v| collect_path_map(v, out)),
        _ => Err(PolicyError::MalformedPath(
            "\"path\" must map path patterns to objects".into(),
        )),
    }
}

/// Reads one pattern's body: an object of settings, or a list of them.
fn collect_path_body(path: &str, body: &Value, out: &mut Vec<Stanza>) -> Result<(), PolicyError> {
    match body {
        Value::Object(fields) => {
            out.push(Stanza {
                path: path.to_owned(),
                fields: fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                lines: Vec::new(),
            });
            Ok(())
        }
        Value::Array(items) => items
            .iter()
            .try_for_each(|v| collect_path_body(path, v, out)),
        _ => Err(PolicyError::MalformedPath(format!(
            "path {path:?} must be an object"
        ))),
    }
}

/// The 1-based line of the first occurrence of `needle` (0 if absent).
fn line_of(text: &str, needle: &str) -> usize {
    text.find(needle)
        .map_or(0, |at| text[..at].matches('\n').count() + 1)
}

// ----------------------------------------------------------------- HCL ----

/// `path "<pattern>" { ... }` items, read as Vault reads them: only `path`
/// and `name` may stand at the top, the pattern is the first label (a
/// `path` with none is the pattern "path"), and the body is the item's
/// object.
fn hcl_stanzas(text: &str) -> Result<Vec<Stanza>, PolicyError> {
    let body = hcl1::parse(text).map_err(|err| PolicyError::Syntax(err.to_string()))?;
    let invalid: Vec<(String, usize)> = body
        .items
        .iter()
        .filter(|item| !matches!(item.key(), "name" | "path"))
        .map(|item| (item.key().to_owned(), item.assign_line))
        .collect();
    if !invalid.is_empty() {
        return Err(PolicyError::InvalidKeys(invalid));
    }
    body.items_named("path")
        .map(|item| {
            let path = item.labels().first().map_or("path", String::as_str);
            let hcl1::Value::Object(settings) = &item.value else {
                return Err(PolicyError::MalformedPath(format!(
                    "expected path \"<pattern>\" {{ ... }} for {path:?}"
                )));
            };
            Ok(Stanza {
                path: path.to_owned(),
                fields: settings
                    .items
                    .iter()
                    .map(|field| (field.key().to_owned(), field.labelled_json()))
                    .collect(),
                lines: settings
                    .items
                    .iter()
                    .map(|field| field.assign_line)
                    .collect(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stanza_paths(text: &str) -> Vec<String> {
        stanzas(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .into_iter()
            .map(|s| s.path)
            .collect()
    }

    #[test]
    fn hcl_blocks_in_order_with_duplicates() {
        let text = "path \"a\" {}\npath \"b\" { capabilities = [\"read\"] }\npath \"a\" { policy = \"read\" }\n";
        assert_eq!(stanza_paths(text), ["a", "b", "a"]);
    }

    #[test]
    fn hcl_single_line_block_from_guide() {
        let s = stanzas(r#"path "pki/root/sign-intermediate" {capabilities=["create","update"]}"#)
            .unwrap();
        assert_eq!(
            s[0].fields,
            vec![("capabilities".to_owned(), json!(["create", "update"]))]
        );
    }

    #[test]
    fn hcl_path_without_label_and_nested_blocks() {
        // As in Vault: a `path` item without a label is the pattern "path",
        // and a second label is not read.
        let text = r#"
path = { "x/*" = { capabilities = ["read"] } }
path "y" "ignored" {
  allowed_parameters { foo = [1, true, "b*"] }
  comment = "hello ${world}"
}
"#;
        let s = stanzas(text).unwrap();
        assert_eq!(s[0].path, "path");
        assert_eq!(s[0].fields[0].0, "x/*");
        assert_eq!(s[1].path, "y");
        assert_eq!(
            s[1].fields[0],
            (
                "allowed_parameters".to_owned(),
                json!({"foo": [1, true, "b*"]})
            )
        );
        assert_eq!(
            s[1].fields[1],
            ("comment".to_owned(), json!("hello ${world}"))
        );
    }

    #[test]
    fn hcl_errors() {
        assert!(
            matches!(stanzas("path \"x\" {"), Err(PolicyError::Syntax(m)) if m.starts_with("At 1:"))
        );
        assert_eq!(
            stanzas("paths \"x\" {}\nextra = 1"),
            Err(PolicyError::InvalidKeys(vec![
                ("paths".into(), 0),
                ("extra".into(), 2)
            ]))
        );
        assert!(matches!(
            stanzas("path = \"x\""),
            Err(PolicyError::MalformedPath(_))
        ));
        assert_eq!(
            stanzas("path \"a\" { capabilities = [read] }"),
            Err(PolicyError::Syntax(
                "At 1:28: unexpected token while parsing list: IDENT".into()
            ))
        );
        assert_eq!(stanzas("name = \"x\"\n# nothing else\n"), Ok(vec![]));
        assert_eq!(stanzas(""), Ok(vec![]));
    }

    #[test]
    fn json_forms() {
        assert_eq!(
            stanza_paths(r#"{"name": "n", "path": {"a": {"policy": "read"}, "b": [{}, {}]}}"#),
            ["a", "b", "b"]
        );
        assert_eq!(
            stanza_paths(r#"  {"path": [{"a": {}}, {"c": {}}]}"#),
            ["a", "c"]
        );
        assert_eq!(
            stanzas(r#"{"paths": {}}"#),
            Err(PolicyError::InvalidKeys(vec![("paths".into(), 1)]))
        );
        assert!(matches!(
            stanzas(r#"{"path": "x"}"#),
            Err(PolicyError::MalformedPath(_))
        ));
        assert!(matches!(
            stanzas(r#"{"path": {"x": 1}}"#),
            Err(PolicyError::MalformedPath(_))
        ));
        assert!(matches!(stanzas("{nope"), Err(PolicyError::Syntax(_))));
    }

    #[test]
    fn base64_detection() {
        let hcl = "path \"a\" { capabilities = [\"read\"] }";
        let b64 = base64::engine::general_purpose::STANDARD.encode(hcl);
        assert_eq!(decode_base64(&b64).as_deref(), Some(hcl));
        let wrapped = format!("{}\n{}\n", &b64[..20], &b64[20..]);
        assert_eq!(decode_base64(&wrapped).as_deref(), Some(hcl));
        assert_eq!(decode_base64(hcl), None);
        assert_eq!(decode_base64(""), None);
        // Valid base64 of non-UTF-8 bytes is not policy text.
        assert_eq!(decode_base64("//79"), None);
    }
}
