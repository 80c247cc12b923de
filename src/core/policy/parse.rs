//! Turning policy text (HCL, JSON, or base64 of either) into path rules.
//!
//! Both syntaxes are first lowered to the same shape, a list of
//! `(path pattern, [(key, value)])` stanzas with JSON values, so that the
//! rule semantics in [`super::rule`] are written once.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use hcl::{Block, Body, Expression, ObjectKey, Structure};
use serde_json::{Map, Value};

use super::error::{PolicyError, RuleError};
use super::rule::PathRule;

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
            .map(|stanza| PathRule::from_fields(&stanza.path, &stanza.fields))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| with_key_line(err, &raw))?;
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
    /// which this server cannot resolve, so those rules never match.
    pub fn is_templated(&self) -> bool {
        self.rules.iter().any(|r| r.templated)
    }
}

/// Vault reports an unknown key inside a stanza with the line it is on;
/// the parsed stanza no longer knows it, so find it in the text.
fn with_key_line(err: PolicyError, text: &str) -> PolicyError {
    let PolicyError::Rule {
        path,
        reason: RuleError::InvalidKey(key),
    } = err
    else {
        return err;
    };
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
    let mut out = Vec::new();
    for (key, value) in root {
        match key.as_str() {
            "name" => {}
            "path" => collect_path_map(&value, &mut out)?,
            _ => return Err(PolicyError::InvalidKey(key)),
        }
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

// ----------------------------------------------------------------- HCL ----

/// `path "<pattern>" { ... }` blocks, plus the attribute form `path = { "<pattern>" = {...} }`.
fn hcl_stanzas(text: &str) -> Result<Vec<Stanza>, PolicyError> {
    check_hcl_nesting(text)?;
    // HCL1 layouts HCL2 refuses are read once laid out HCL2's way; the
    // error reported is the one for the text as written.
    let body = hcl::parse(text)
        .or_else(|err| {
            super::hcl1::relayout(text)
                .and_then(|laid_out| hcl::parse(&laid_out).ok())
                .ok_or(err)
        })
        .map_err(hcl_syntax_error)?;
    let mut out = Vec::new();
    for structure in body.into_inner() {
        match structure {
            Structure::Block(block) if block.identifier.as_str() == "path" => {
                out.push(block_stanza(block)?);
            }
            Structure::Attribute(attr) if attr.key.as_str() == "path" => {
                let value = expr_to_json(attr.expr).map_err(PolicyError::MalformedPath)?;
                collect_path_map(&value, &mut out)?;
            }
            Structure::Attribute(attr) if attr.key.as_str() == "name" => {}
            Structure::Block(block) => {
                return Err(PolicyError::InvalidKey(block.identifier.to_string()))
            }
            Structure::Attribute(attr) => {
                return Err(PolicyError::InvalidKey(attr.key.to_string()))
            }
        }
    }
    Ok(out)
}

/// How deep HCL may nest: brackets, braces, parentheses, template
/// interpolations and blocks, plus the operators chained within each level.
/// Policies need a handful; the bound keeps hcl-edit's recursive-descent
/// parser (and the recursive drop of what it builds) far from the end of a
/// 2 MiB tokio worker stack.
const MAX_HCL_NESTING: usize = 64;

/// Refuses HCL that nests deeper than [`MAX_HCL_NESTING`], before the
/// parser sees it (found by the deep-input tests: a policy of a few thousand `[` or `!`
/// overflowed the stack and aborted the server). A lexical scan: strings,
/// escapes, `${`/`%{` interpolations, comments and heredocs are followed
/// closely enough that only absurd documents are refused.
fn check_hcl_nesting(text: &str) -> Result<(), PolicyError> {
    let too_deep = || {
        PolicyError::Syntax(format!(
            "policy nests more than {MAX_HCL_NESTING} levels deep (brackets, blocks or chained operators)"
        ))
    };
    // Open constructs: b'(' b'[' b'{', b'"' (string), b'$' (interpolation).
    let mut stack: Vec<u8> = Vec::new();
    // Operators chained in the current expression, per open construct
    // (index 0: top level).
    let mut ops: Vec<usize> = vec![0];
    let mut total_ops = 0usize;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let next = bytes.get(i + 1).copied();
        if stack.last() == Some(&b'"') {
            match (b, next) {
                (b'\\', _) => i += 1,
                (b'"', _) => {
                    stack.pop();
                    total_ops -= ops.pop().unwrap_or(0);
                }
                (b'$' | b'%', Some(b'{')) => {
                    stack.push(b'$');
                    ops.push(0);
                    i += 1;
                }
                _ => {}
            }
            i += 1;
            if stack.len() + total_ops > MAX_HCL_NESTING {
                return Err(too_deep());
            }
            continue;
        }
        match (b, next) {
            (b'#', _) | (b'/', Some(b'/')) => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            (b'/', Some(b'*')) => {
                i = text[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |at| i + 2 + at + 2);
                continue;
            }
            (b'<', Some(b'<')) => {
                // A heredoc: skip to the line holding only its marker.
                let start = i + 2 + usize::from(bytes.get(i + 2) == Some(&b'-'));
                let marker: String = text[start..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !marker.is_empty() {
                    let body = text[start..]
                        .find('\n')
                        .map_or(bytes.len(), |at| start + at + 1);
                    let mut end = bytes.len();
                    let mut at = body;
                    while at < bytes.len() {
                        let line_end = text[at..].find('\n').map_or(bytes.len(), |e| at + e);
                        if text[at..line_end].trim() == marker {
                            end = line_end;
                            break;
                        }
                        at = line_end + 1;
                    }
                    i = end;
                    continue;
                }
                bump(&mut ops, &mut total_ops);
            }
            (b'"', _) => {
                stack.push(b'"');
                ops.push(0);
            }
            (b'(' | b'[' | b'{', _) => {
                stack.push(b);
                ops.push(0);
            }
            (b')' | b']' | b'}', _) if stack.pop().is_some() => {
                total_ops -= ops.pop().unwrap_or(0);
            }
            (b')' | b']' | b'}', _) => {}
            (b'\n' | b',', _) if stack.last() != Some(&b'(') => {
                // A new attribute or element: a new expression.
                if let Some(level) = ops.last_mut() {
                    total_ops -= *level;
                    *level = 0;
                }
            }
            (b'!' | b'-' | b'+' | b'*' | b'/' | b'%' | b'?' | b'<' | b'>' | b'&' | b'|', _) => {
                bump(&mut ops, &mut total_ops);
            }
            _ => {}
        }
        i += 1;
        if stack.len() + total_ops > MAX_HCL_NESTING {
            return Err(too_deep());
        }
    }
    Ok(())
}

fn bump(ops: &mut [usize], total: &mut usize) {
    if let Some(level) = ops.last_mut() {
        *level += 1;
        *total += 1;
    }
}

/// Shortens hcl-rs' multi-line diagnostics to HCL v1's `At line:col: message`.
fn hcl_syntax_error(err: hcl::Error) -> PolicyError {
    match err {
        hcl::Error::Parse(e) => PolicyError::Syntax(format!(
            "At {}:{}: {}",
            e.location().line(),
            e.location().column(),
            e.message()
        )),
        other => PolicyError::Syntax(other.to_string()),
    }
}

/// A `path "<pattern>" { ... }` block; exactly one label is required.
fn block_stanza(block: Block) -> Result<Stanza, PolicyError> {
    let [label] = block.labels.as_slice() else {
        return Err(PolicyError::MalformedPath(format!(
            "expected path \"<pattern>\" {{ ... }}, found {} labels",
            block.labels.len()
        )));
    };
    let path = label.as_str().to_owned();
    let fields = body_fields(block.body)
        .map_err(|reason| PolicyError::MalformedPath(format!("path {path:?}: {reason}")))?;
    Ok(Stanza { path, fields })
}

/// The attributes and nested blocks of a body as ordered key/value pairs.
fn body_fields(body: Body) -> Result<Vec<(String, Value)>, String> {
    body.into_inner()
        .into_iter()
        .map(|structure| match structure {
            Structure::Attribute(attr) => Ok((attr.key.to_string(), expr_to_json(attr.expr)?)),
            Structure::Block(block) => {
                let key = block.identifier.to_string();
                Ok((key, block_to_json(block)?))
            }
        })
        .collect()
}

/// A nested block such as `allowed_parameters { foo = [] }` or
/// `factor "name" { ... }` as an object, labels becoming nested keys.
fn block_to_json(block: Block) -> Result<Value, String> {
    let mut value = Value::Object(body_fields(block.body)?.into_iter().collect());
    for label in block.labels.iter().rev() {
        let mut wrapper = Map::new();
        wrapper.insert(label.as_str().to_owned(), value);
        value = Value::Object(wrapper);
    }
    Ok(value)
}

/// Literal HCL expressions as JSON. Template strings keep their raw text
/// (HCL v1 has no interpolation, so `"${x}"` is just text to Vault).
fn expr_to_json(expr: Expression) -> Result<Value, String> {
    Ok(match expr {
        Expression::Null => Value::Null,
        Expression::Bool(b) => Value::Bool(b),
        Expression::Number(n) => number_to_json(&n),
        Expression::String(s) => Value::String(s),
        Expression::TemplateExpr(t) => Value::String(t.to_string()),
        Expression::Array(items) => Value::Array(
            items
                .into_iter()
                .map(expr_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Expression::Object(object) => {
            let mut map = Map::new();
            for (key, value) in object {
                map.insert(object_key(key)?, expr_to_json(value)?);
            }
            Value::Object(map)
        }
        Expression::Parenthesis(inner) => expr_to_json(*inner)?,
        other => return Err(format!("unsupported expression {other}")),
    })
}

fn object_key(key: ObjectKey) -> Result<String, String> {
    match key {
        ObjectKey::Identifier(ident) => Ok(ident.to_string()),
        ObjectKey::Expression(expr) => match expr_to_json(expr)? {
            Value::String(s) => Ok(s),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(format!("unsupported object key {other}")),
        },
        other => Err(format!("unsupported object key {other:?}")),
    }
}

fn number_to_json(n: &hcl::Number) -> Value {
    if let Some(i) = n.as_i64() {
        Value::from(i)
    } else if let Some(u) = n.as_u64() {
        Value::from(u)
    } else {
        n.as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number)
    }
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
    fn hcl_attribute_form_and_nested_blocks() {
        let text = r#"
path = { "x/*" = { capabilities = ["read"] } }
path "y" {
  allowed_parameters { foo = [1, true, "b*"] }
  comment = "hello ${world}"
}
"#;
        let s = stanzas(text).unwrap();
        assert_eq!(s[0].path, "x/*");
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
            stanzas("paths \"x\" {}"),
            Err(PolicyError::InvalidKey("paths".into()))
        );
        assert!(matches!(
            stanzas("path {}"),
            Err(PolicyError::MalformedPath(_))
        ));
        assert!(matches!(
            stanzas("path \"a\" \"b\" {}"),
            Err(PolicyError::MalformedPath(_))
        ));
        assert!(matches!(
            stanzas("path \"a\" { capabilities = [read] }"),
            Err(PolicyError::MalformedPath(_))
        ));
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
            Err(PolicyError::InvalidKey("paths".into()))
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
