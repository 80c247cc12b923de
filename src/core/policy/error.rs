//! Errors raised while parsing a policy document.
//!
//! The messages follow Vault's wording (`path "x": invalid capability "y"`)
//! because clients show them verbatim after `failed to parse policy: `, and
//! that prefix is added by the caller, not here.

/// Why a policy document was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    /// The text is neither valid HCL nor valid JSON.
    #[error("{0}")]
    Syntax(String),
    /// JSON input whose top level is not an object.
    #[error("does not contain a root object")]
    NoRootObject,
    /// Top-level keys other than `path` or `name`, with the lines Vault
    /// names (of their `=`; 0 for a block), in go-multierror's shape.
    #[error("{}", invalid_keys(.0))]
    InvalidKeys(Vec<(String, usize)>),
    /// A `path` entry that is not shaped like `path "<pattern>" { ... }`.
    #[error("invalid path stanza: {0}")]
    MalformedPath(String),
    /// A problem inside one `path` stanza. Vault prefixes the path twice
    /// for capability and legacy-policy errors (its own error already names
    /// the path), and clients see that text verbatim.
    #[error("path {path:?}: {}{reason}", if reason.names_path() { format!("path {path:?}: ") } else { String::new() })]
    Rule { path: String, reason: RuleError },
}

fn invalid_keys(keys: &[(String, usize)]) -> String {
    let messages: Vec<String> = keys
        .iter()
        .map(|(key, line)| format!("invalid key {key:?} on line {line}"))
        .collect();
    crate::util::multierror::multierror(&messages)
}

impl RuleError {
    /// Errors Vault builds with the path already in them.
    fn names_path(&self) -> bool {
        matches!(
            self,
            RuleError::InvalidCapability(_) | RuleError::InvalidPolicy(_)
        )
    }
}

/// A problem inside one `path "..." { ... }` stanza.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleError {
    #[error("invalid key {0:?}")]
    InvalidKey(String),
    /// Vault wraps this one in go-multierror with the key's line.
    #[error("1 error occurred:\n\t* invalid key {0:?} on line {1}\n\n")]
    InvalidKeyOnLine(String, usize),
    #[error("invalid capability {0:?}")]
    InvalidCapability(String),
    /// The legacy `policy = "..."` shorthand names no known level.
    #[error("invalid policy {0:?}")]
    InvalidPolicy(String),
    #[error("invalid use of wildcards ('+*' is forbidden)")]
    InvalidWildcards,
    #[error("failed to validate policy templating: unbalanced templating characters")]
    UnbalancedTemplating,
    /// A key holds a value of the wrong shape (e.g. a string where a list belongs).
    #[error("{key}: expected {expected}")]
    WrongType {
        key: &'static str,
        expected: &'static str,
    },
    #[error("error parsing {key}: {reason}")]
    Duration { key: &'static str, reason: String },
    #[error("max_wrapping_ttl cannot be less than min_wrapping_ttl")]
    WrappingTtlOrder,
}

impl PolicyError {
    /// Attaches a stanza's path to a [`RuleError`].
    pub(crate) fn rule(path: &str, reason: RuleError) -> Self {
        PolicyError::Rule {
            path: path.to_owned(),
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_vault_wording() {
        let err = PolicyError::rule("secret/*", RuleError::InvalidCapability("foo".into()));
        assert_eq!(
            err.to_string(),
            r#"path "secret/*": path "secret/*": invalid capability "foo""#
        );
        let err = PolicyError::rule("a/+*", RuleError::InvalidWildcards);
        assert_eq!(
            err.to_string(),
            r#"path "a/+*": invalid use of wildcards ('+*' is forbidden)"#
        );
        assert_eq!(
            PolicyError::InvalidKeys(vec![("a".into(), 1), ("b".into(), 0)]).to_string(),
            "2 errors occurred:\n\t* invalid key \"a\" on line 1\n\t* invalid key \"b\" on line 0\n\n"
        );
    }
}
