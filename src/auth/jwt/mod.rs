//! JWT auth (`auth/jwt/`, HashiCorp's `vault-plugin-auth-jwt`, JWT login
//! only): `config` with exactly one key source — static PEM keys
//! (`jwt_validation_pubkeys`), a JWKS URL (keys cached, refetched when a
//! token names an unknown `kid`) or an OIDC discovery URL — roles binding
//! audiences, subject and claims, and `login {role, jwt}` with the plugin's
//! validations and messages. The interactive OIDC flow (`oidc/auth_url`,
//! `oidc/callback`) is not served; `role_type` `oidc` roles can be stored but
//! never log in, as in Vault.

mod claims;
mod config;
mod keys;
mod login;
mod roles;

use crate::logical::framework::{Backend, Path};

/// The JWT auth backend. One instance serves one mount, so the key cache is
/// the mount's.
#[derive(Default)]
pub struct JwtBackend {
    keys: tokio::sync::Mutex<Option<keys::KeyCache>>,
}

impl JwtBackend {
    pub fn new() -> Self {
        JwtBackend::default()
    }
}

impl Backend for JwtBackend {
    const PATHS: &'static [&'static [Path<Self>]] = &[login::PATHS, config::PATHS, roles::PATHS];
}
