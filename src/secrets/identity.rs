//! The identity store (`identity/`, on every server). vaultlet has no
//! entities, groups or identity tokens: the mount exists so that
//! `sys/mounts` matches Vault's, and every request to it says plainly that
//! the engine is not available.

use crate::handler;
use crate::logical::framework::{Backend, Path};
use crate::logical::{Error, Request, Response, Result};

const NOT_AVAILABLE: &str = "the identity secrets engine is not available in vaultlet";

#[derive(Default)]
pub struct IdentityBackend;

impl IdentityBackend {
    pub fn new() -> Self {
        IdentityBackend
    }
}

/// Whatever the request, the same refusal; its parameters are not looked at.
const fn refused(pattern: &'static str) -> Path<IdentityBackend> {
    Path::new(pattern)
        .arbitrary_fields()
        .read(handler!(not_available))
        .list(handler!(not_available))
        .update(handler!(not_available))
        .patch(handler!(not_available))
        .delete(handler!(not_available))
}

impl Backend for IdentityBackend {
    const PATHS: &'static [&'static [Path<Self>]] = &[&[refused(""), refused("*path")]];
}

async fn not_available(_b: &IdentityBackend, _req: &mut Request) -> Result<Option<Response>> {
    Err(Error::bad_request(NOT_AVAILABLE))
}
