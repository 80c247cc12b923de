//! The identity store (`identity/`, on every server). vaultlet has no
//! entities, groups or identity tokens: the mount exists so that
//! `sys/mounts` matches Vault's, and every request to it says plainly that
//! the engine is not available.

use crate::logical::{Backend, Error, Operation, PathSpec, Request, Response, Result};

use Operation::{Delete, List, Patch, Read, Update};

const ALL: &[Operation] = &[Read, List, Update, Delete, Patch];

static PATHS: &[PathSpec] = &[PathSpec::new("", ALL), PathSpec::new("*path", ALL)];

pub const NOT_AVAILABLE: &str = "the identity secrets engine is not available in vaultlet";

#[derive(Default)]
pub struct IdentityBackend;

impl IdentityBackend {
    pub fn new() -> Self {
        IdentityBackend
    }
}

#[async_trait::async_trait]
impl Backend for IdentityBackend {
    fn paths(&self) -> &'static [PathSpec] {
        PATHS
    }

    async fn handle(&self, _req: &mut Request) -> Result<Option<Response>> {
        Err(Error::bad_request(NOT_AVAILABLE))
    }
}
