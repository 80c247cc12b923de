//! Vault's ACL policy language and its evaluation.
//!
//! * [`Policy::parse`] reads a policy document (HCL, JSON, or base64 of
//!   either) into path rules, rejecting what Vault rejects.
//! * [`Acl::new`] merges a token's policies; [`Acl::allow`] decides a
//!   request, [`Acl::capabilities`] answers `sys/capabilities-self`, and
//!   [`Acl::has_any_under`] answers the UI mount preflight.
//!
//! Behaviour follows Vault's `vault/policy.go` and `vault/acl.go`: exact
//! rules beat wildcard rules, only the single best wildcard rule is
//! consulted, and `deny` on the chosen rule always wins.
//!
//! Known differences from Vault: HCL is read with an HCL 2 parser, so a few
//! HCL 1-only spellings (commas between attributes, blocks inside `= { }`
//! objects as in Enterprise control-group examples) are syntax errors;
//! `mfa_methods`, `control_group` and `subscribe_event_types` are accepted
//! but have no effect.

mod acl;
mod capability;
mod duration;
mod error;
mod params;
mod parse;
mod rule;
mod template;

#[cfg(test)]
mod tests;

pub use acl::{Acl, AclDecision};
pub use capability::{Capability, CapabilitySet, UnknownCapability};
pub use error::{PolicyError, RuleError};
pub use parse::Policy;
pub use rule::{ParamMap, PathKind, PathRule, Permissions};
pub use template::{AliasValues, GroupValues, IdentityValues};

/// Vault's built-in `default` policy, attached to every token unless
/// `no_default_policy` is set. Kept byte-for-byte close to Vault's text
/// (minus the Enterprise-only control-group stanza) because clients read it
/// back through `sys/policy/default`.
pub const DEFAULT_POLICY_HCL: &str = r#"
# Allow tokens to look up their own properties
path "auth/token/lookup-self" {
    capabilities = ["read"]
}

# Allow tokens to renew themselves
path "auth/token/renew-self" {
    capabilities = ["update"]
}

# Allow tokens to revoke themselves
path "auth/token/revoke-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own capabilities on a path
path "sys/capabilities-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own entity by id or name
path "identity/entity/id/{{identity.entity.id}}" {
  capabilities = ["read"]
}
path "identity/entity/name/{{identity.entity.name}}" {
  capabilities = ["read"]
}


# Allow a token to look up its resultant ACL from all policies. This is useful
# for UIs. It is an internal path because the format may change at any time
# based on how the internal ACL features and capabilities change.
path "sys/internal/ui/resultant-acl" {
    capabilities = ["read"]
}

# Allow a token to renew a lease via lease_id in the request body; old path for
# old clients, new path for newer
path "sys/renew" {
    capabilities = ["update"]
}
path "sys/leases/renew" {
    capabilities = ["update"]
}

# Allow looking up lease properties. This requires knowing the lease ID ahead
# of time and does not divulge any sensitive information.
path "sys/leases/lookup" {
    capabilities = ["update"]
}

# Allow a token to manage its own cubbyhole
path "cubbyhole/*" {
    capabilities = ["create", "read", "update", "delete", "list"]
}

# Allow a token to wrap arbitrary values in a response-wrapping token
path "sys/wrapping/wrap" {
    capabilities = ["update"]
}

# Allow a token to look up the creation time and TTL of a given
# response-wrapping token
path "sys/wrapping/lookup" {
    capabilities = ["update"]
}

# Allow a token to unwrap a response-wrapping token. This is a convenience to
# avoid client token swapping since this is also part of the response wrapping
# policy.
path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}

# Allow general purpose tools
path "sys/tools/hash" {
    capabilities = ["update"]
}
path "sys/tools/hash/*" {
    capabilities = ["update"]
}

# Allow a token to make requests to the Authorization Endpoint for OIDC providers.
path "identity/oidc/provider/+/authorize" {
    capabilities = ["read", "update"]
}
"#;
