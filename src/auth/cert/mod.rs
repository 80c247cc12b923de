//! TLS certificate auth (`auth/cert/`): roles trust a CA (or pin a leaf),
//! and a login over the TLS listener presents a client certificate that
//! must chain to a role's certificate for client authentication and meet
//! the role's name constraints, with no certificate of the chain listed by
//! an uploaded CRL.

mod chain;
mod config;
mod crl;
mod login;
mod name_constraints;
mod roles;
mod verify;

use crate::logical::framework::{Backend, Capture, Path};
use crate::logical::Request;

/// Role and CRL names are Vault's generic names.
const NAME: &[(&str, Capture)] = &[("name", Capture::Name)];

#[derive(Default)]
pub struct CertBackend;

impl CertBackend {
    pub fn new() -> Self {
        CertBackend
    }
}

impl Backend for CertBackend {
    const PATHS: &'static [&'static [Path<Self>]] =
        &[login::PATHS, roles::PATHS, crl::PATHS, config::PATHS];

    /// Failed logins count against the presented certificate (the core
    /// asks only on unauthenticated paths, here `login`).
    fn lockout_alias(&self, req: &Request) -> Option<String> {
        let leaf = req.connection.peer_certificates.first()?;
        Some(hex::encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            leaf,
        )))
    }
}
