//! A reader for HCL version 1, the syntax Vault reads its server
//! configuration and ACL policies in (HashiCorp's `hcl` v1 module). HCL2
//! parsers refuse layouts HCL1 accepts and Vault users write, such as several
//! items of a block on one line:
//! `listener "tcp" { address = "127.0.0.1:8200" tls_disable = 1 }`.
//!
//! The grammar, as HCL1 has it:
//! - a body is a list of items, optionally separated by commas;
//! - an item is one or more keys (identifiers or quoted strings) followed by
//!   `= value`, or by an object `{ … }` directly (`path "x" { … }`);
//! - a value is a number, `true`/`false`, a quoted string, a heredoc
//!   (`<<EOF` … `EOF`, `<<-EOF` for an indented one), a list `[ … ]` (commas
//!   between elements, one after the last allowed) or an object `{ … }`;
//! - comments are `#` and `//` to the end of the line, and `/* … */`.
//!
//! Strings keep `${…}` as written: HCL1 interpolates nothing Vault reads.
//! Errors read as HCL1's do: `At line:column: message`.

mod lexer;
mod parser;

use serde_json::{Map, Value as Json};

pub use parser::parse;

/// How deeply objects and lists may nest. Configurations and policies need
/// a handful; the bound keeps the recursive parser far from the end of a
/// worker thread's stack whatever a client sends.
pub const MAX_NESTING: usize = 64;

/// A parsed HCL1 document or object body: its items in document order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Body {
    pub items: Vec<Item>,
}

/// `key "label" … = value` or `key "label" … { … }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The first key, then the labels.
    pub keys: Vec<String>,
    pub value: Value,
    /// Where the first key starts (1-based).
    pub line: usize,
    /// The line of its `=`; 0 for `keys { … }`. Vault names this line when
    /// it refuses a key, so its messages say "on line 0" for block items.
    pub assign_line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    List(Vec<Value>),
    Object(Body),
}

/// A syntax error at a position (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("At {line}:{column}: {message}")]
pub struct Error {
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// Whether the document nests deeper than [`MAX_NESTING`].
    pub too_deep: bool,
}

impl Item {
    /// The first key: what the item is (`listener`, `path`, `address`).
    pub fn key(&self) -> &str {
        &self.keys[0]
    }

    /// The keys after the first (`"tcp"` in `listener "tcp" { … }`).
    pub fn labels(&self) -> &[String] {
        &self.keys[1..]
    }

    /// The value with the labels turned into nested objects, as HCL1 decodes
    /// `factor "name" { … }` into `{"name": {…}}`.
    pub fn labelled_json(&self) -> Json {
        self.labels()
            .iter()
            .rev()
            .fold(self.value.to_json(), |inner, label| {
                let mut wrapper = Map::new();
                wrapper.insert(label.clone(), inner);
                Json::Object(wrapper)
            })
    }
}

impl Body {
    /// The items whose first key is `key`.
    pub fn items_named<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Item> + 'a {
        self.items.iter().filter(move |item| item.key() == key)
    }

    /// The value of the last `key = value` item with no labels.
    pub fn attribute<'a>(&'a self, key: &'a str) -> Option<&'a Value> {
        self.items_named(key)
            .filter(|item| item.labels().is_empty())
            .last()
            .map(|item| &item.value)
    }

    /// The body as a JSON object: an item's labels become nested keys, and
    /// objects under one key are merged (a later scalar replaces).
    pub fn to_json(&self) -> Json {
        let mut map = Map::new();
        for item in &self.items {
            merge(&mut map, item.key(), item.labelled_json());
        }
        Json::Object(map)
    }
}

fn merge(map: &mut Map<String, Json>, key: &str, value: Json) {
    match (map.get_mut(key), value) {
        (Some(Json::Object(existing)), Json::Object(more)) => {
            for (k, v) in more {
                merge(existing, &k, v);
            }
        }
        (_, value) => {
            map.insert(key.to_owned(), value);
        }
    }
}

impl Value {
    pub fn to_json(&self) -> Json {
        match self {
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => Json::Number(n.clone()),
            Value::String(s) => Json::String(s.clone()),
            Value::List(items) => Json::Array(items.iter().map(Value::to_json).collect()),
            Value::Object(body) => body.to_json(),
        }
    }

    /// A scalar as text (`1` → "1", `true` → "true"), as Vault's decoder
    /// turns scalars into the string fields of its configuration.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            Value::String(s) => Some(s.clone()),
            Value::List(_) | Value::Object(_) => None,
        }
    }

    pub fn as_object(&self) -> Option<&Body> {
        match self {
            Value::Object(body) => Some(body),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
