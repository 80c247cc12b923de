//! Route patterns inside a backend: literal segments, `:name` for exactly
//! one segment, and a final `*name` for the rest of the path. Also Vault's
//! special-path patterns (`PathsSpecial`), which mark root-protected paths
//! whether or not a route serves them.

use std::collections::HashMap;

use super::framework::Capture;

/// A route pattern: literal segments, `:name` for one segment and a final
/// `*name` for the rest of the path, with optional rules for what a capture
/// may hold.
#[derive(Debug, Clone, Copy)]
pub struct Pattern {
    text: &'static str,
    rules: &'static [(&'static str, Capture)],
}

impl Pattern {
    pub const fn new(text: &'static str) -> Pattern {
        Pattern { text, rules: &[] }
    }

    pub const fn with_rules(self, rules: &'static [(&'static str, Capture)]) -> Pattern {
        Pattern {
            text: self.text,
            rules,
        }
    }

    pub fn as_str(&self) -> &'static str {
        self.text
    }

    /// The captures in order: name, and whether it takes the rest of the path.
    pub fn captures(&self) -> impl Iterator<Item = (&'static str, bool)> {
        self.text.split('/').filter_map(|segment| {
            segment
                .strip_prefix(':')
                .map(|name| (name, false))
                .or_else(|| segment.strip_prefix('*').map(|name| (name, true)))
        })
    }

    fn rule(&self, name: &str) -> Capture {
        self.rules
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(Capture::Segment, |(_, rule)| *rule)
    }

    /// The final `*name` capture, when its rule is [`Capture::Verbatim`].
    pub fn verbatim_tail(&self) -> Option<&'static str> {
        let name = self.text.rsplit('/').next()?.strip_prefix('*')?;
        (self.rule(name) == Capture::Verbatim).then_some(name)
    }

    /// Matches a mount-relative path (without trailing `/`), returning the
    /// captured parameters. A `*name` capture takes the rest of the path,
    /// up to the literal segments that follow it, if any (`mounts/*path/tune`
    /// is Vault's `mounts/(?P<path>.+?)/tune$`).
    pub fn matches(&self, path: &str) -> Option<HashMap<&'static str, String>> {
        let mut params = HashMap::new();
        let mut rest = path;
        let mut segments = self.text.split('/').peekable();
        while let Some(segment) = segments.next() {
            if let Some(name) = segment.strip_prefix('*') {
                let suffix: Vec<&str> = segments.collect();
                let captured = if suffix.is_empty() {
                    rest
                } else {
                    rest.strip_suffix(&suffix.join("/"))?.strip_suffix('/')?
                };
                if captured.is_empty() {
                    return None;
                }
                params.insert(name, captured.to_string());
                return Some(params);
            }
            let (head, tail) = match rest.split_once('/') {
                Some((head, tail)) => (head, Some(tail)),
                None => (rest, None),
            };
            if let Some(name) = segment.strip_prefix(':') {
                if !self.rule(name).allows(head) {
                    return None;
                }
                params.insert(name, head.to_string());
            } else if segment != head {
                return None;
            }
            match (tail, segments.peek()) {
                (None, None) => return Some(params),
                (Some(tail), Some(_)) => rest = tail,
                _ => return None,
            }
        }
        None
    }
}

/// Whether `path` (mount-relative, as routed) is one of Vault's special
/// paths (`logical.Paths`): a pattern ending in `*` covers every path that
/// starts with the rest of it, a `+` segment stands for any one segment,
/// and any other pattern covers exactly its own path.
pub fn special_path_matches(patterns: &[&str], path: &str) -> bool {
    patterns.iter().any(|pattern| {
        let (stem, is_prefix) = match pattern.strip_suffix('*') {
            Some(stem) => (stem, true),
            None => (*pattern, false),
        };
        if !stem.contains('+') {
            return if is_prefix {
                path.starts_with(stem)
            } else {
                path == stem
            };
        }
        let stem_segments: Vec<&str> = stem.split('/').collect();
        let path_segments: Vec<&str> = path.split('/').collect();
        let comparable = if is_prefix {
            path_segments.len() >= stem_segments.len()
        } else {
            path_segments.len() == stem_segments.len()
        };
        comparable
            && stem_segments
                .iter()
                .zip(&path_segments)
                .enumerate()
                .all(|(i, (want, got))| match *want {
                    "+" => !got.is_empty(),
                    // The last segment of a prefix pattern is itself a prefix.
                    want if is_prefix && i == stem_segments.len() - 1 => got.starts_with(want),
                    want => want == *got,
                })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_verbatim_tail_capture_keeps_the_trailing_slash() {
        let kv = Pattern::new("*path").with_rules(&[("path", Capture::Verbatim)]);
        assert_eq!(kv.verbatim_tail(), Some("path"));
        assert_eq!(Pattern::new("*path").verbatim_tail(), None);
        let inner = Pattern::new("mounts/*path/tune").with_rules(&[("path", Capture::Verbatim)]);
        assert_eq!(inner.verbatim_tail(), None);
        assert_eq!(Pattern::new("roles/:name").verbatim_tail(), None);
    }

    #[test]
    fn literal_and_captures() {
        let spec = Pattern::new("issuer/:issuer_ref/sign/:role");
        let params = spec.matches("issuer/default/sign/web").unwrap_or_default();
        assert_eq!(
            params.get("issuer_ref").map(String::as_str),
            Some("default")
        );
        assert_eq!(params.get("role").map(String::as_str), Some("web"));
        assert!(spec.matches("issuer/default/sign").is_none());
        assert!(spec.matches("issuer//sign/web").is_none());
        assert!(spec.matches("issuer/default/sign/web/x").is_none());
    }

    #[test]
    fn rest_capture_takes_the_remainder() {
        let spec = Pattern::new("ocsp/*request");
        assert_eq!(
            spec.matches("ocsp/a/b")
                .and_then(|p| p.get("request").cloned()),
            Some("a/b".to_string())
        );
        assert!(spec.matches("ocsp").is_none());
    }

    #[test]
    fn a_rest_capture_may_be_followed_by_literals() {
        let tune = Pattern::new("mounts/*path/tune");
        let path = |p: &str| tune.matches(p).and_then(|m| m.get("path").cloned());
        assert_eq!(path("mounts/pki/tune").as_deref(), Some("pki"));
        assert_eq!(path("mounts/a/b/tune").as_deref(), Some("a/b"));
        assert_eq!(path("mounts/tune"), None);
        assert_eq!(path("mounts/pki"), None);
        assert_eq!(path("mounts/pki/tuned"), None);
    }

    #[test]
    fn special_paths_as_vault_matches_them() {
        let root = [
            "auth/*",
            "rotate",
            "issuer/+/sign-self-issued",
            "accessors*",
        ];
        assert!(special_path_matches(&root, "auth/approle"));
        assert!(special_path_matches(&root, "auth/approle/tune"));
        assert!(!special_path_matches(&root, "auth"));
        assert!(special_path_matches(&root, "rotate"));
        assert!(!special_path_matches(&root, "rotate/keyring"));
        assert!(special_path_matches(
            &root,
            "issuer/default/sign-self-issued"
        ));
        assert!(!special_path_matches(&root, "issuer//sign-self-issued"));
        assert!(!special_path_matches(&root, "issuer/a/b/sign-self-issued"));
        assert!(special_path_matches(&root, "accessors/"));
        assert!(special_path_matches(&["issuer/+/x*"], "issuer/a/xyz/more"));
        assert!(!special_path_matches(&["issuer/+/x*"], "issuer/a/y"));
    }

    #[test]
    fn a_literal_pattern_matches_only_itself() {
        let spec = Pattern::new("roles");
        assert!(spec.matches("roles").is_some());
        assert!(spec.matches("roles/x").is_none());
        assert!(spec.matches("role").is_none());
    }
}
