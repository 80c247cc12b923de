//! The words of the document that are not facts of the route table: path
//! descriptions, operation summaries, parameter and field descriptions, and
//! what a field's documentation adds to its type (default, allowed values,
//! deprecation). They live in `api-spec/descriptions.json`, keyed by the
//! path as the committed document shows it (each mount type at its default
//! path), and are built into the binary.
//!
//! [`Prose`] remembers which entries the document used: an entry never used
//! describes something that no longer exists. It also notes documentation a
//! field's declared type does not admit (a default of the wrong type).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

use super::schema::fits;
use crate::logical::framework::FieldKind;
use crate::logical::{Error, Result};

static DESCRIPTIONS: &str = include_str!("../../../api-spec/descriptions.json");

/// What `api-spec/descriptions.json` says about one path.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathProse {
    description: Option<String>,
    /// Per OpenAPI method (`get`, `post`, ...).
    #[serde(default)]
    summary: BTreeMap<String, String>,
    /// Path parameters.
    #[serde(default)]
    parameters: BTreeMap<String, String>,
    #[serde(default)]
    fields: BTreeMap<String, FieldProse>,
}

/// What the documentation adds to a field's declared type.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldProse {
    pub description: Option<String>,
    pub default: Option<Value>,
    #[serde(rename = "enum")]
    pub allowed: Option<Vec<Value>>,
    #[serde(default)]
    pub deprecated: bool,
}

type Entries = BTreeMap<String, PathProse>;

fn entries() -> Result<&'static Entries> {
    static ENTRIES: OnceLock<std::result::Result<Entries, String>> = OnceLock::new();
    ENTRIES
        .get_or_init(|| serde_json::from_str(DESCRIPTIONS).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Error::internal(format!("api-spec/descriptions.json: {e}")))
}

/// The prose, and which of it a document has used so far.
pub struct Prose {
    entries: &'static Entries,
    used: RefCell<BTreeSet<String>>,
    misfits: RefCell<BTreeSet<String>>,
}

impl Prose {
    pub fn load() -> Result<Prose> {
        Ok(Prose {
            entries: entries()?,
            used: RefCell::default(),
            misfits: RefCell::default(),
        })
    }

    fn path(&self, path: &str) -> Option<&'static PathProse> {
        self.entries.get(path)
    }

    fn note(&self, found: bool, key: impl FnOnce() -> String) -> bool {
        if found {
            self.used.borrow_mut().insert(key());
        }
        found
    }

    pub fn description(&self, path: &str) -> Option<&'static str> {
        let text = self.path(path)?.description.as_deref();
        self.note(text.is_some(), || path.to_string());
        text
    }

    pub fn summary(&self, path: &str, method: &str) -> Option<&'static str> {
        let text = self.path(path)?.summary.get(method).map(String::as_str);
        self.note(text.is_some(), || format!("{path} summary.{method}"));
        text
    }

    pub fn parameter(&self, path: &str, name: &str) -> Option<&'static str> {
        let text = self.path(path)?.parameters.get(name).map(String::as_str);
        self.note(text.is_some(), || format!("{path} parameters.{name}"));
        text
    }

    /// A field's documentation, checked against its declared kind.
    pub fn field(&self, path: &str, name: &str, kind: FieldKind) -> Option<&'static FieldProse> {
        let field = self.path(path)?.fields.get(name);
        self.note(field.is_some(), || format!("{path} fields.{name}"));
        if let Some(field) = field {
            let values = field.default.iter().chain(field.allowed.iter().flatten());
            if let Some(value) = values.into_iter().find(|v| !fits(kind, v)) {
                self.misfits
                    .borrow_mut()
                    .insert(format!("{path} fields.{name}: {value} is no {kind:?}"));
            }
        }
        field
    }

    /// Every entry no document built with this [`Prose`] has used, and
    /// every documented value a declared type does not admit.
    pub fn problems(&self) -> Vec<String> {
        let used = self.used.borrow();
        let mut problems: Vec<String> = self.misfits.borrow().iter().cloned().collect();
        for (path, prose) in self.entries {
            let keys = prose
                .description
                .iter()
                .map(|_| path.clone())
                .chain(prose.summary.keys().map(|m| format!("{path} summary.{m}")))
                .chain(
                    prose
                        .parameters
                        .keys()
                        .map(|p| format!("{path} parameters.{p}")),
                )
                .chain(prose.fields.keys().map(|f| format!("{path} fields.{f}")));
            problems.extend(keys.filter(|key| !used.contains(key)));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_never_used_or_contradicting_a_declared_kind_is_reported() {
        let prose = Prose::load().expect("descriptions.json parses");
        assert!(prose.description("/auth/token/create").is_some());
        assert!(prose.description("/no/such/path").is_none());
        // Documented with a default of 0: no boolean.
        let field = prose.field("/auth/token/renew", "increment", FieldKind::Bool);
        assert!(field.is_some());
        let problems = prose.problems();
        assert!(problems.contains(&"/auth/token/renew fields.increment: 0 is no Bool".into()));
        assert!(problems.contains(&"/auth/token/create fields.ttl".into()));
        assert!(!problems.contains(&"/auth/token/create".into()));
        assert!(!problems.contains(&"/auth/token/renew fields.increment".into()));
    }
}
