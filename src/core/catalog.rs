//! The plugin catalog: which backend types can be mounted, and how to build
//! one. The `system` and `token` backends are built by the core itself.

use std::sync::Arc;

use super::keys::Hasher;
use super::mounts::{MountClass, MountEntry};
use crate::logical::{Backend, Error, Result};

/// What a backend may need from the core when it is built.
#[derive(Clone)]
pub struct BackendContext {
    /// Keyed hash for secrets a backend stores (AppRole secret IDs).
    pub hasher: Hasher,
}

/// Every backend type [`new_backend`] can build, with its mount class (the
/// singletons `cubbyhole` and `identity` included). Keep
/// this in step with the match below: the OpenAPI coverage test
/// (tests/openapi.rs) builds each listed type and checks that every route it
/// declares is in `api-spec/openapi.yaml`, and the reverse.
pub const MOUNTABLE_TYPES: &[(MountClass, &str)] = &[
    (MountClass::Secret, "pki"),
    (MountClass::Auth, "approle"),
    (MountClass::Auth, "cert"),
    (MountClass::Auth, "kubernetes"),
    (MountClass::Auth, "jwt"),
    (MountClass::Auth, "oidc"),
    // KV version 1 here; version 2 (`options.version = "2"`, dev mode's
    // `secret/`) is built by `backend_for_entry` and is `kv-v2` in the spec.
    (MountClass::Secret, "kv"),
    (MountClass::Secret, "cubbyhole"),
    (MountClass::Secret, "identity"),
];

/// Builds the backend of a mount entry: [`new_backend`], plus what the
/// mount's options select (KV's `version`: `"1"`/absent or `"2"`).
pub fn backend_for_entry(entry: &MountEntry, ctx: &BackendContext) -> Result<Arc<dyn Backend>> {
    match (entry.class, entry.backend_type.as_str()) {
        (MountClass::Secret, "kv") => crate::secrets::kv::new_backend(entry.options.as_ref()),
        (class, backend_type) => new_backend(class, backend_type, ctx),
    }
}

/// Builds a backend of `backend_type` for a mount of `class`.
pub fn new_backend(
    class: MountClass,
    backend_type: &str,
    ctx: &BackendContext,
) -> Result<Arc<dyn Backend>> {
    match (class, backend_type) {
        (MountClass::Secret, "pki") => Ok(Arc::new(crate::secrets::pki::PkiBackend::new())),
        (MountClass::Secret, "kv") => crate::secrets::kv::new_backend(None),
        (MountClass::Secret, "cubbyhole") => {
            Ok(Arc::new(crate::secrets::cubbyhole::CubbyholeBackend::new()))
        }
        (MountClass::Secret, "identity") => {
            Ok(Arc::new(crate::secrets::identity::IdentityBackend::new()))
        }
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
