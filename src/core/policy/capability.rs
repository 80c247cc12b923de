//! Capabilities a path rule can grant, and a compact set of them.

use std::fmt;
use std::str::FromStr;

/// One capability of Vault's policy language.
///
/// `Deny` is special: a rule holding it grants nothing, whatever else it lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    Deny,
    Create,
    Read,
    Update,
    Patch,
    Delete,
    List,
    Sudo,
    Subscribe,
    Recover,
}

impl Capability {
    /// Every capability, in declaration order.
    pub const ALL: [Capability; 10] = [
        Capability::Deny,
        Capability::Create,
        Capability::Read,
        Capability::Update,
        Capability::Patch,
        Capability::Delete,
        Capability::List,
        Capability::Sudo,
        Capability::Subscribe,
        Capability::Recover,
    ];

    /// The spelling used in policies and in `sys/capabilities` responses.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Deny => "deny",
            Capability::Create => "create",
            Capability::Read => "read",
            Capability::Update => "update",
            Capability::Patch => "patch",
            Capability::Delete => "delete",
            Capability::List => "list",
            Capability::Sudo => "sudo",
            Capability::Subscribe => "subscribe",
            Capability::Recover => "recover",
        }
    }

    /// Bit used for this capability inside a [`CapabilitySet`].
    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Returned when a string names no capability.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid capability {0:?}")]
pub struct UnknownCapability(pub String);

impl FromStr for Capability {
    type Err = UnknownCapability;

    /// Exact, case-sensitive match: Vault rejects `"Read"`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Capability::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownCapability(s.to_owned()))
    }
}

/// A set of capabilities stored as a bitmap, like Vault's `CapabilitiesBitmap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CapabilitySet(u16);

impl CapabilitySet {
    /// The empty set (grants nothing, but is not an explicit deny).
    pub const fn empty() -> Self {
        CapabilitySet(0)
    }

    /// A set holding only `deny`; merging anything into it keeps it that way.
    pub fn deny() -> Self {
        CapabilitySet(Capability::Deny.bit())
    }

    pub fn insert(&mut self, cap: Capability) {
        self.0 |= cap.bit();
    }

    pub fn contains(self, cap: Capability) -> bool {
        self.0 & cap.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// True when the set carries an explicit `deny`.
    pub fn is_deny(self) -> bool {
        self.contains(Capability::Deny)
    }

    /// Union of both sets.
    pub fn union(self, other: CapabilitySet) -> CapabilitySet {
        CapabilitySet(self.0 | other.0)
    }

    /// The capabilities in the set, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = Capability> {
        Capability::ALL
            .into_iter()
            .filter(move |c| self.contains(*c))
    }
}

impl FromIterator<Capability> for CapabilitySet {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        let mut set = CapabilitySet::empty();
        for cap in iter {
            set.insert(cap);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_capability() {
        for cap in Capability::ALL {
            assert_eq!(cap.as_str().parse::<Capability>(), Ok(cap));
            assert_eq!(cap.to_string(), cap.as_str());
        }
    }

    #[test]
    fn rejects_unknown_and_wrong_case() {
        assert_eq!(
            "Read".parse::<Capability>(),
            Err(UnknownCapability("Read".into()))
        );
        assert!("root".parse::<Capability>().is_err());
        assert!("write".parse::<Capability>().is_err());
        assert_eq!(
            UnknownCapability("bogus".into()).to_string(),
            r#"invalid capability "bogus""#
        );
    }

    #[test]
    fn set_operations() {
        let mut set = CapabilitySet::empty();
        assert!(set.is_empty());
        set.insert(Capability::Read);
        set.insert(Capability::List);
        assert!(set.contains(Capability::Read));
        assert!(!set.contains(Capability::Update));
        assert!(!set.is_deny());
        let all: Vec<_> = set.union(CapabilitySet::deny()).iter().collect();
        assert_eq!(
            all,
            vec![Capability::Deny, Capability::Read, Capability::List]
        );
        let collected: CapabilitySet = [Capability::Sudo, Capability::Sudo].into_iter().collect();
        assert_eq!(collected.iter().count(), 1);
    }
}
