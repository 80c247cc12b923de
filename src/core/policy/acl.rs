//! The merged view of a token's policies and the per-request decision
//! (Vault's `vault/acl.go`).

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use super::capability::Capability;
use super::params::parameters_allowed;
use super::parse::Policy;
use super::rule::{PathKind, PathRule, Permissions};
use super::template::IdentityValues;

/// Outcome of [`Acl::allow`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AclDecision {
    /// The operation may proceed.
    pub allowed: bool,
    /// The matched rule grants `sudo`, needed on root-protected paths.
    /// Reported even when the operation itself is denied, as Vault does.
    pub sudo: bool,
    /// The token holds the `root` policy.
    pub root: bool,
}

impl AclDecision {
    const ROOT: AclDecision = AclDecision {
        allowed: true,
        sudo: true,
        root: true,
    };
}

/// The union of a token's policies, indexed for lookup.
#[derive(Debug, Clone, Default)]
pub struct Acl {
    root: bool,
    templated: bool,
    exact: BTreeMap<String, Permissions>,
    /// Keyed by the pattern without its trailing `*`.
    prefix: BTreeMap<String, Permissions>,
    /// Keyed by the full pattern (trailing `*` included).
    segment: BTreeMap<String, SegmentRule>,
}

/// A pattern with `+` segments, pre-split for matching and ranking.
#[derive(Debug, Clone)]
struct SegmentRule {
    /// Pattern without a trailing `*`, used for ranking.
    stem: String,
    parts: Vec<String>,
    is_prefix: bool,
    /// Byte offset of the first `+` in the pattern (Vault ranks on this).
    first_wildcard: usize,
    wildcards: usize,
    permissions: Permissions,
}

/// A non-exact rule that matched a path, with what Vault ranks it by.
struct Candidate<'a> {
    first_wildcard: usize,
    is_prefix: bool,
    wildcards: usize,
    stem: &'a str,
    permissions: &'a Permissions,
}

impl Candidate<'_> {
    /// Greater key = higher priority: a later first wildcard, not a prefix
    /// glob, fewer `+` segments, a longer pattern, then the
    /// lexicographically greater pattern (Vault's tie-breaker).
    fn rank(&self) -> (usize, bool, Reverse<usize>, usize, &str) {
        (
            self.first_wildcard,
            !self.is_prefix,
            Reverse(self.wildcards),
            self.stem.len(),
            self.stem,
        )
    }
}

impl Acl {
    /// Merge the given policies (union of capabilities for identical path
    /// patterns, deny wins, parameter maps merged). `root` is a flag: if any
    /// policy named "root" is among the token's policies the caller passes
    /// root=true and everything is allowed.
    ///
    /// A policy object named `root` also turns the flag on, as in Vault.
    /// Templated rules are left out (see [`Acl::with_identity`]).
    pub fn new(policies: &[&Policy], root: bool) -> Acl {
        Acl::with_identity(policies, root, None)
    }

    /// As [`Acl::new`], with templated rules filled from the token's
    /// entity; a rule whose placeholders cannot all be filled (or any
    /// templated rule, without an entity) is left out, as in Vault.
    pub fn with_identity(
        policies: &[&Policy],
        root: bool,
        identity: Option<&IdentityValues>,
    ) -> Acl {
        let mut acl = Acl {
            root: root || policies.iter().any(|p| p.name == "root"),
            templated: policies.iter().any(|p| p.is_templated()),
            ..Acl::default()
        };
        for rule in policies.iter().flat_map(|p| p.rules()) {
            if !rule.templated {
                acl.insert(rule);
                continue;
            }
            if let Some(path) = identity.and_then(|values| values.render(&rule.path)) {
                acl.insert(&PathRule {
                    path,
                    templated: false,
                    ..rule.clone()
                });
            }
        }
        acl
    }

    /// Whether some policy of this ACL has templated rules (their result
    /// depends on the token's entity).
    pub fn is_templated(&self) -> bool {
        self.templated
    }

    /// True if the token holds the root policy.
    pub fn is_root(&self) -> bool {
        self.root
    }

    fn insert(&mut self, rule: &PathRule) {
        let perms = &rule.permissions;
        match rule.kind {
            PathKind::Exact => merge_into(&mut self.exact, &rule.path, perms),
            PathKind::Prefix => merge_into(&mut self.prefix, &rule.path, perms),
            PathKind::SegmentWildcard => match self.segment.get_mut(&rule.path) {
                Some(existing) => existing.permissions.merge(perms),
                None => {
                    let compiled = SegmentRule::new(&rule.path, perms.clone());
                    self.segment.insert(rule.path.clone(), compiled);
                }
            },
        }
    }

    /// Decide one request. `path` is the full logical path (e.g.
    /// "pki/root/sign-intermediate"; list operations end with '/'), `op` one
    /// of Read, List, Create, Update, Patch, Delete (as Capability), `data`
    /// the raw request parameters for allowed/denied/required_parameters
    /// checks.
    ///
    /// As in Vault, parameter constraints apply to read (query parameters),
    /// create, update, patch and recover; never to list or delete. A rule
    /// with a wrapping TTL allows only a request whose response is wrapped
    /// (see [`Acl::allow_wrapped`]).
    pub fn allow(&self, path: &str, op: Capability, data: &Map<String, Value>) -> AclDecision {
        self.allow_wrapped(path, op, data, None)
    }

    /// [`Acl::allow`] for a request asking its response be wrapped for
    /// `wrap_ttl` seconds: a rule's `min_wrapping_ttl` and
    /// `max_wrapping_ttl` bound that TTL and refuse unwrapped requests.
    pub fn allow_wrapped(
        &self,
        path: &str,
        op: Capability,
        data: &Map<String, Value>,
        wrap_ttl: Option<i64>,
    ) -> AclDecision {
        if self.root {
            return AclDecision::ROOT;
        }
        let path = path.trim_start_matches('/');
        let Some(perms) = self.lookup(path, op == Capability::List) else {
            return AclDecision::default();
        };
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        let wrapping_allowed = perms
            .min_wrapping_ttl
            .is_none_or(|min| wrap_ttl.is_some_and(|ttl| ttl >= secs(min)))
            && perms
                .max_wrapping_ttl
                .is_none_or(|max| wrap_ttl.is_some_and(|ttl| ttl <= secs(max)));
        let allowed = grants_operation(perms, op)
            && wrapping_allowed
            && (!checks_parameters(op) || parameters_allowed(perms, data));
        AclDecision {
            allowed,
            sudo: perms.capabilities.contains(Capability::Sudo),
            root: false,
        }
    }

    /// Capabilities the token has on a path, as Vault's sys/capabilities
    /// returns them: sorted strings, ["root"] for root, ["deny"] when none.
    ///
    /// The rule is found as for a list request (Vault does the same), so
    /// `secret/` also consults a rule for `secret`.
    pub fn capabilities(&self, path: &str) -> Vec<String> {
        if self.root {
            return vec!["root".to_owned()];
        }
        let path = path.trim_start_matches('/');
        let caps = self
            .lookup(path, true)
            .map(|p| p.capabilities)
            .unwrap_or_default();
        if caps.is_deny() || caps.is_empty() {
            return vec![Capability::Deny.as_str().to_owned()];
        }
        let mut names: Vec<String> = caps.iter().map(|c| c.as_str().to_owned()).collect();
        names.sort();
        names
    }

    /// True if the token has any capability on any path at or below `prefix`
    /// (used by sys/internal/ui/mounts/:path preflight).
    ///
    /// Mirrors Vault's `hasMountAccess`: the mount path itself, then any
    /// exact or glob rule inside it, then any `+` rule whose leading
    /// segments fit the mount. `prefix` is a mount path; a missing trailing
    /// `/` is added so `secret` does not also cover `secretive/`.
    pub fn has_any_under(&self, prefix: &str) -> bool {
        if self.root {
            return true;
        }
        let mut prefix = prefix.trim_start_matches('/').to_owned();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        if self.capabilities(&prefix) != [Capability::Deny.as_str()] {
            return true;
        }
        any_access_under(&self.exact, &prefix)
            || any_access_under(&self.prefix, &prefix)
            || self.segment_rule_covers(&prefix)
    }

    /// Whether a granting `+` rule could match something under the mount
    /// path `prefix` (which ends in `/`, or is empty for "everything").
    fn segment_rule_covers(&self, prefix: &str) -> bool {
        let mount_segments: Vec<&str> = match prefix.strip_suffix('/') {
            Some(trimmed) => trimmed.split('/').collect(),
            None => Vec::new(),
        };
        self.segment
            .values()
            .any(|rule| grants_access(&rule.permissions) && rule.covers_mount(&mount_segments))
    }

    /// Vault's rule selection: exact rule, then (for lists) the exact rule
    /// without the trailing `/`, then the best wildcard rule, trying the
    /// path without its trailing `/` first for lists.
    fn lookup(&self, path: &str, is_list: bool) -> Option<&Permissions> {
        if let Some(perms) = self.exact.get(path) {
            return Some(perms);
        }
        let trimmed = path.strip_suffix('/');
        if is_list {
            if let Some(perms) = self.exact.get(trimmed.unwrap_or(path)) {
                return Some(perms);
            }
            if let Some(perms) = trimmed.and_then(|t| self.best_non_exact(t)) {
                return Some(perms);
            }
        }
        self.best_non_exact(path)
    }

    /// The single highest-ranked prefix or `+` rule matching `path`; there
    /// is deliberately no union across different patterns.
    fn best_non_exact(&self, path: &str) -> Option<&Permissions> {
        let longest_prefix = self
            .longest_prefix(path)
            .map(|(stem, permissions)| Candidate {
                first_wildcard: stem.len(),
                is_prefix: true,
                wildcards: 0,
                stem,
                permissions,
            });
        if self.segment.is_empty() {
            return longest_prefix.map(|c| c.permissions);
        }
        let parts: Vec<&str> = path.split('/').collect();
        let segment_matches = self
            .segment
            .values()
            .filter(|rule| rule.matches(&parts))
            .map(SegmentRule::candidate);
        longest_prefix
            .into_iter()
            .chain(segment_matches)
            .max_by(|a, b| a.rank().cmp(&b.rank()))
            .map(|c| c.permissions)
    }

    /// Only the longest matching `*` rule competes, as in Vault's radix lookup.
    fn longest_prefix(&self, path: &str) -> Option<(&str, &Permissions)> {
        (0..=path.len())
            .rev()
            .filter(|&end| path.is_char_boundary(end))
            .find_map(|end| self.prefix.get_key_value(&path[..end]))
            .map(|(stem, perms)| (stem.as_str(), perms))
    }
}

impl SegmentRule {
    fn new(pattern: &str, permissions: Permissions) -> SegmentRule {
        let (stem, is_prefix) = match pattern.strip_suffix('*') {
            Some(stem) => (stem, true),
            None => (pattern, false),
        };
        let parts: Vec<String> = stem.split('/').map(str::to_owned).collect();
        SegmentRule {
            stem: stem.to_owned(),
            wildcards: parts.iter().filter(|p| *p == "+").count(),
            parts,
            is_prefix,
            first_wildcard: pattern.find('+').unwrap_or(pattern.len()),
            permissions,
        }
    }

    /// `+` takes exactly one segment (possibly empty); a trailing `*`
    /// lets the last part prefix-match and the path run on.
    fn matches(&self, path_parts: &[&str]) -> bool {
        let too_short = path_parts.len() < self.parts.len();
        let wrong_length = !self.is_prefix && path_parts.len() != self.parts.len();
        if too_short || wrong_length {
            return false;
        }
        let last = self.parts.len() - 1;
        self.parts
            .iter()
            .zip(path_parts)
            .enumerate()
            .all(|(i, (part, seg))| {
                part == "+"
                    || part == seg
                    || (self.is_prefix && i == last && seg.starts_with(part.as_str()))
            })
    }

    /// Whether some path under the mount `segments` could match: every mount
    /// segment is accepted by the corresponding pattern part, or a trailing
    /// glob already covers the rest.
    fn covers_mount(&self, segments: &[&str]) -> bool {
        let last = self.parts.len() - 1;
        for (i, seg) in segments.iter().enumerate() {
            let Some(part) = self.parts.get(i) else {
                return false;
            };
            if self.is_prefix && i == last && seg.starts_with(part.as_str()) {
                return true;
            }
            if part != "+" && part != seg {
                return false;
            }
        }
        true
    }

    fn candidate(&self) -> Candidate<'_> {
        Candidate {
            first_wildcard: self.first_wildcard,
            is_prefix: self.is_prefix,
            wildcards: self.wildcards,
            stem: &self.stem,
            permissions: &self.permissions,
        }
    }
}

/// Adds a rule to the map, merging with an earlier rule for the same pattern.
fn merge_into(map: &mut BTreeMap<String, Permissions>, key: &str, perms: &Permissions) {
    match map.get_mut(key) {
        Some(existing) => existing.merge(perms),
        None => {
            map.insert(key.to_owned(), perms.clone());
        }
    }
}

/// The capability an operation needs; `deny`, `sudo` and `subscribe` are
/// not operations, so asking for them is never allowed.
fn grants_operation(perms: &Permissions, op: Capability) -> bool {
    let caps = perms.capabilities;
    match op {
        Capability::Read
        | Capability::List
        | Capability::Create
        | Capability::Update
        | Capability::Patch
        | Capability::Delete
        | Capability::Recover => !caps.is_deny() && caps.contains(op),
        Capability::Deny | Capability::Sudo | Capability::Subscribe => false,
    }
}

/// Operations whose request data is checked against parameter constraints.
fn checks_parameters(op: Capability) -> bool {
    matches!(
        op,
        Capability::Read
            | Capability::Create
            | Capability::Update
            | Capability::Patch
            | Capability::Recover
    )
}

/// Whether any rule whose pattern starts with `prefix` grants access
/// (Vault walks its radix trees under the mount path the same way).
fn any_access_under(map: &BTreeMap<String, Permissions>, prefix: &str) -> bool {
    map.range::<str, _>((
        std::ops::Bound::Included(prefix),
        std::ops::Bound::Unbounded,
    ))
    .take_while(|(path, _)| path.starts_with(prefix))
    .any(|(_, perms)| grants_access(perms))
}

/// What `hasMountAccess` counts as access to something under a mount.
fn grants_access(perms: &Permissions) -> bool {
    use Capability::*;
    let caps = perms.capabilities;
    !caps.is_deny()
        && [Create, Delete, List, Read, Sudo, Update, Patch]
            .into_iter()
            .any(|c| caps.contains(c))
}
