//! Identity tokens (`identity/oidc/`): named signing keys with rotation,
//! roles, signed OIDC identity tokens for an entity, introspection and the
//! issuer's discovery document and JWKS, as
//! <https://developer.hashicorp.com/vault/api-docs/secret/identity/tokens>
//! describes them.

mod keys;
mod roles;
mod signing;
mod template;
mod tokens;

use super::IdentityBackend;
use crate::logical::framework::Path;
use crate::logical::Result;
use crate::storage::StorageView;

pub(super) const KEY_PATHS: &[Path<IdentityBackend>] = keys::PATHS;
pub(super) const ROLE_PATHS: &[Path<IdentityBackend>] = roles::PATHS;
pub(super) const TOKEN_PATHS: &[Path<IdentityBackend>] = tokens::PATHS;

/// The periodic tick's share: key rotation and expiry of retired keys.
pub(super) async fn periodic(b: &IdentityBackend, storage: &StorageView) -> Result<()> {
    keys::rotate_due(b, storage).await
}
