//! The plugin catalog: which backend types can be mounted, and how to build
//! one. The `system` and `token` backends are built by the core itself.

use std::sync::Arc;

use super::keys::Hasher;
use super::mounts::MountClass;
use crate::logical::{Backend, Error, Result};

/// What a backend may need from the core when it is built.
#[derive(Clone)]
pub struct BackendContext {
    /// Keyed hash for secrets a backend stores (AppRole secret IDs).
    pub hasher: Hasher,
}

/// Builds a backend of `backend_type` for a mount of `class`.
pub fn new_backend(
    class: MountClass,
    backend_type: &str,
    ctx: &BackendContext,
) -> Result<Arc<dyn Backend>> {
    match (class, backend_type) {
        (MountClass::Secret, "pki") => Ok(Arc::new(crate::secrets::pki::PkiBackend::new())),
        (MountClass::Auth, "approle") => Ok(Arc::new(crate::auth::approle::AppRoleBackend::new(
            ctx.hasher.clone(),
        ))),
        (MountClass::Auth, "cert") => Ok(Arc::new(crate::auth::cert::CertBackend::new())),
        (MountClass::Auth, "kubernetes") => {
            Ok(Arc::new(crate::auth::kubernetes::KubernetesBackend::new()))
        }
        (MountClass::Auth, "jwt" | "oidc") => Ok(Arc::new(crate::auth::jwt::JwtBackend::new())),
        _ => Err(Error::BadRequest(format!(
            "plugin not found in the catalog: {backend_type}"
        ))),
    }
}
