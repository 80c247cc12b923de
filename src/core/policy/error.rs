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
    /// A top-level key other than `path` or `name`.
    #[error("invalid key {0:?}")]
    InvalidKey(String),
    /// A `path` entry that is not shaped like `path "<pattern>" { ... }`.
    #[error("invalid path stanza: {0}")]
    MalformedPath(String),
    /// A problem inside one `path` stanza.
    #[error("path {path:?}: {reason}")]
    Rule { path: String, reason: RuleError },
}

/// A problem inside one `path "..." { ... }` stanza.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleError {
    #[error("invalid key {0:?}")]
    InvalidKey(String),
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
            r#"path "secret/*": invalid capability "foo""#
        );
        let err = PolicyError::rule("a/+*", RuleError::InvalidWildcards);
        assert_eq!(
            err.to_string(),
            r#"path "a/+*": invalid use of wildcards ('+*' is forbidden)"#
        );
        assert_eq!(
            PolicyError::InvalidKey("paths".into()).to_string(),
            r#"invalid key "paths""#
        );
    }
}
