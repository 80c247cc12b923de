//! The userpass auth method (Vault's `builtin/credential/userpass`): users
//! with a bcrypt-hashed password and the token fields of their grant, and a
//! login at `login/:username` that trades the password for a token.
//!
//! Storage layout inside the mount's view: `user/<name>` holds the user
//! ([`users::UserEntry`]), names lower-cased. Passwords are never stored,
//! only their bcrypt hash.

mod login;
mod password;
mod users;

use crate::logical::framework::{Backend, Capture, Path};
use crate::logical::Request;

/// User names are Vault's generic names (`\w(([\w-.]+)?\w)?`).
const USERNAME: &[(&str, Capture)] = &[("username", Capture::Name)];

#[derive(Default)]
pub struct UserpassBackend;

impl UserpassBackend {
    pub fn new() -> Self {
        UserpassBackend
    }
}

impl Backend for UserpassBackend {
    const PATHS: &'static [&'static [Path<Self>]] = &[login::PATHS, users::PATHS, password::PATHS];

    /// Failed logins count against the user name (Vault's alias lookahead
    /// names the alias after it; the core asks only on `login/:username`).
    fn lockout_alias(&self, req: &Request) -> Option<String> {
        req.param("username").ok().map(str::to_lowercase)
    }
}
