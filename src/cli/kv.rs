//! The `k=v` argument builder of Vault's CLI (go-secure-stdlib kv-builder):
//! every value is a string; `k=@file` reads a file, `k=-` reads stdin,
//! `k=\@x` is a literal `@x`; a repeated key becomes an array; a bare `-`
//! merges a JSON object read from stdin and a bare `@file` one read from the
//! file. No argument at all yields `None` (sent as the JSON `null`).

use std::io::Read;

use serde_json::{Map, Value};

pub struct Builder<'a> {
    stdin: &'a mut dyn Read,
    stdin_used: bool,
    result: Option<Map<String, Value>>,
}

impl<'a> Builder<'a> {
    pub fn new(stdin: &'a mut dyn Read) -> Builder<'a> {
        Builder {
            stdin,
            stdin_used: false,
            result: None,
        }
    }

    pub fn add_all(&mut self, args: &[String]) -> Result<(), String> {
        for arg in args {
            self.add(arg)
                .map_err(|e| format!("invalid key/value pair {}: {e}", go_quote(arg)))?;
        }
        Ok(())
    }

    pub fn into_map(self) -> Option<Map<String, Value>> {
        self.result
    }

    fn read_stdin(&mut self) -> Result<String, String> {
        if self.stdin_used {
            return Err("stdin already consumed".to_string());
        }
        self.stdin_used = true;
        let mut buf = String::new();
        self.stdin
            .read_to_string(&mut buf)
            .map_err(|e| e.to_string())?;
        Ok(buf)
    }

    fn merge_json(&mut self, text: &str) -> Result<(), String> {
        let value: Value = serde_json::from_str(text.trim()).map_err(|e| e.to_string())?;
        match value {
            Value::Null => Ok(()),
            Value::Object(obj) => {
                let result = self.result.get_or_insert_with(Map::new);
                for (k, v) in obj {
                    result.insert(k, v);
                }
                Ok(())
            }
            other => Err(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_kind(&other)
            )),
        }
    }

    fn add(&mut self, raw: &str) -> Result<(), String> {
        if raw.is_empty() {
            return Ok(());
        }
        let Some((key, value)) = raw.split_once('=') else {
            if raw == "-" {
                let text = self.read_stdin()?;
                return self.merge_json(&text);
            }
            if let Some(file) = raw.strip_prefix('@') {
                let text = std::fs::read_to_string(file).map_err(|e| go_open_error(file, &e))?;
                return self.merge_json(&text);
            }
            return Err("format must be key=value".to_string());
        };
        let value = if let Some(file) = value.strip_prefix('@') {
            std::fs::read_to_string(file)
                .map_err(|e| format!("error reading file: {}", go_open_error(file, &e)))?
        } else if let Some(rest) = value.strip_prefix("\\@") {
            format!("@{rest}")
        } else if value == "-" {
            self.read_stdin()?
        } else {
            value.to_string()
        };
        let result = self.result.get_or_insert_with(Map::new);
        match result.get_mut(key) {
            Some(Value::Array(items)) => items.push(Value::String(value)),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, Value::String(value)]);
            }
            None => {
                result.insert(key.to_string(), Value::String(value));
            }
        }
        Ok(())
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        _ => "value",
    }
}

/// Go's `open FILE: no such file or directory`.
pub fn go_open_error(file: &str, e: &std::io::Error) -> String {
    let reason = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_lowercase(),
                None => s,
            }
        }
    };
    format!("open {file}: {reason}")
}

/// Go's `%q` for a plain string.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(args: &[&str], stdin: &str) -> Result<Option<Map<String, Value>>, String> {
        let mut input = stdin.as_bytes();
        let mut b = Builder::new(&mut input);
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        b.add_all(&args)?;
        Ok(b.into_map())
    }

    #[test]
    fn values_are_strings_and_repeated_keys_become_arrays() {
        let m = build(&["a=1", "b=true", "a=2", "a=3", "c=x=y"], "")
            .unwrap()
            .unwrap();
        assert_eq!(
            Value::Object(m),
            serde_json::json!({"a": ["1", "2", "3"], "b": "true", "c": "x=y"})
        );
    }

    #[test]
    fn no_args_is_none_and_stdin_forms_work() {
        assert!(build(&[], "").unwrap().is_none());
        let m = build(&["-", "z=1"], r#"{"x": 5, "y": ["a"]}"#)
            .unwrap()
            .unwrap();
        assert_eq!(
            Value::Object(m),
            serde_json::json!({"x": 5, "y": ["a"], "z": "1"})
        );
        let m = build(&["k=-"], "value\n").unwrap().unwrap();
        assert_eq!(m["k"], "value\n");
        let m = build(&["k=\\@x"], "").unwrap().unwrap();
        assert_eq!(m["k"], "@x");
    }

    #[test]
    fn malformed_pairs_are_vault_errors() {
        assert_eq!(
            build(&["foo"], "").unwrap_err(),
            "invalid key/value pair \"foo\": format must be key=value"
        );
        assert_eq!(
            build(&["a=-", "b=-"], "x").unwrap_err(),
            "invalid key/value pair \"b=-\": stdin already consumed"
        );
    }
}
