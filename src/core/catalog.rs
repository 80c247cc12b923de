//! The plugin catalog: every backend type that can be mounted, with its
//! mount class and how to build one, in one table. The `system` and `token`
//! backends are built by the core itself.

use std::sync::Arc;

use super::metrics::Metrics;
use super::mounts::{MountClass, MountEntry};
use crate::logical::framework::LogicalBackend;
use crate::logical::{Error, Result};
use crate::util::keyed_hash::Hasher;

/// What a backend may need from the core when it is built.
#[derive(Clone)]
pub struct BackendContext {
    /// Keyed hash for secrets a backend stores (AppRole secret IDs).
    pub hasher: Hasher,
    /// Where backends record what they count (PKI issuance, OCSP).
    pub metrics: Arc<Metrics>,
    /// The identity store the `identity` backend serves.
    pub identity: Arc<crate::secrets::identity::IdentityStore>,
}

/// Builds a backend for a mount entry (which carries the mount's options).
type Build = fn(&MountEntry, &BackendContext) -> Result<Arc<dyn LogicalBackend>>;

/// One mountable backend type.
pub struct CatalogEntry {
    pub class: MountClass,
    pub backend_type: &'static str,
    pub build: Build,
}

/// Every type `vault secrets enable` / `vault auth enable` can mount, the
/// singletons `cubbyhole` and `identity` included.
pub const CATALOG: &[CatalogEntry] = &[
    CatalogEntry {
        class: MountClass::Secret,
        backend_type: "pki",
        build: |_, ctx| {
            Ok(Arc::new(crate::secrets::pki::PkiBackend::new(
                ctx.metrics.clone(),
            )))
        },
    },
    CatalogEntry {
        class: MountClass::Auth,
        backend_type: "approle",
        build: |_, ctx| {
            Ok(Arc::new(crate::auth::approle::AppRoleBackend::new(
                ctx.hasher.clone(),
            )))
        },
    },
    CatalogEntry {
        class: MountClass::Auth,
        backend_type: "cert",
        build: |_, _| Ok(Arc::new(crate::auth::cert::CertBackend::new())),
    },
    CatalogEntry {
        class: MountClass::Auth,
        backend_type: "kubernetes",
        build: |_, _| Ok(Arc::new(crate::auth::kubernetes::KubernetesBackend::new())),
    },
    CatalogEntry {
        class: MountClass::Auth,
        backend_type: "userpass",
        build: |_, _| Ok(Arc::new(crate::auth::userpass::UserpassBackend::new())),
    },
    CatalogEntry {
        class: MountClass::Auth,
        backend_type: "jwt",
        build: |_, _| Ok(Arc::new(crate::auth::jwt::JwtBackend::new())),
    },
    CatalogEntry {
        class: MountClass::Auth,
        backend_type: "oidc",
        build: |_, _| Ok(Arc::new(crate::auth::jwt::JwtBackend::new())),
    },
    CatalogEntry {
        class: MountClass::Secret,
        backend_type: "transit",
        build: |_, _| Ok(Arc::new(crate::secrets::transit::TransitBackend::new())),
    },
    // KV: version 1, or 2 with `options.version = "2"` (dev mode's `secret/`).
    CatalogEntry {
        class: MountClass::Secret,
        backend_type: "kv",
        build: |entry, _| crate::secrets::kv::new_backend(entry.options.as_ref()),
    },
    // `generic`: the old name of KV version 1, still mountable.
    CatalogEntry {
        class: MountClass::Secret,
        backend_type: "generic",
        build: |_, _| crate::secrets::kv::new_backend(None),
    },
    CatalogEntry {
        class: MountClass::Secret,
        backend_type: "cubbyhole",
        build: |_, _| Ok(Arc::new(crate::secrets::cubbyhole::CubbyholeBackend::new())),
    },
    CatalogEntry {
        class: MountClass::Secret,
        backend_type: "identity",
        build: |_, ctx| {
            Ok(Arc::new(crate::secrets::identity::IdentityBackend::new(
                ctx.identity.clone(),
            )))
        },
    },
];

/// Builds the backend of a mount entry.
pub fn build(entry: &MountEntry, ctx: &BackendContext) -> Result<Arc<dyn LogicalBackend>> {
    CATALOG
        .iter()
        .find(|c| c.class == entry.class && c.backend_type == entry.backend_type)
        .ok_or_else(|| {
            Error::BadRequest(format!(
                "plugin not found in the catalog: {}",
                entry.backend_type
            ))
        })
        .and_then(|c| (c.build)(entry, ctx))
}
