//! The committed document, `api-spec/openapi.yaml`: what a dev server with
//! one mount of every type at its default path serves, with the mount
//! layout as `x-vaultlet-mounts`. `vaultlet-openapi` writes it; a test
//! checks the committed file is exactly that.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::prose::Prose;
use super::{default_prefix, document, paths, spec_type};
use crate::core::catalog::CATALOG;
use crate::core::mounts::MountEntry;
use crate::core::Core;
use crate::logical::raw_route::RawRoute;
use crate::logical::{Error, Result};
use crate::storage::MemoryStorage;

/// Where the document is committed, relative to the repository.
pub const FILE: &str = "api-spec/openapi.yaml";

const HEADER: &str = "\
# vaultlet's HTTP API (OpenAPI 3.1), written by `cargo run --bin vaultlet-openapi`
# from the route declarations and api-spec/descriptions.json: edit those, not
# this file. Served, for the mounts that exist, at
# GET /v1/sys/internal/specs/openapi.
";

/// A fresh in-memory dev core with one mount of every catalog type at its
/// default path (`auth/TYPE/` or `TYPE/`), besides the built-in mounts and
/// dev mode's `secret/`; it knows `raw_routes` as the HTTP layer's own.
pub async fn reference_core(raw_routes: &'static [RawRoute]) -> Result<Arc<Core>> {
    let core = Core::open_dev(Arc::new(MemoryStorage::default()), None)
        .await?
        .core;
    core.declare_raw_routes(raw_routes);
    core.mount_dev_kv("2").await?;
    for entry in CATALOG {
        let mount = MountEntry::new(entry.class, entry.backend_type, entry.backend_type, "");
        if core.mounts.find(mount.class, &mount.path).is_none() {
            core.mount(mount).await?;
        }
    }
    Ok(core)
}

/// The reference document, and what in `api-spec/descriptions.json` it
/// could not use.
pub struct Reference {
    pub document: Value,
    /// Prose for a path, parameter or field the document does not have, or
    /// documentation a field's declared type does not admit.
    pub stale_prose: Vec<String>,
}

impl Reference {
    /// Builds the document from the backends of [`reference_core`] and
    /// `raw_routes` (the HTTP layer's own endpoints).
    pub async fn build(raw_routes: &'static [RawRoute]) -> Result<Reference> {
        let core = reference_core(raw_routes).await?;
        let mounts = core.mounts.snapshot();
        let mut layout = std::collections::BTreeMap::new();
        for mounted in mounts.iter() {
            let spec_type = spec_type(&mounted.entry);
            if mounted.prefix != default_prefix(spec_type, mounted.entry.class) {
                return Err(Error::internal(format!(
                    "{spec_type} is mounted at {}, not at its default path",
                    mounted.prefix
                )));
            }
            layout.insert(spec_type.to_string(), Value::from(mounted.prefix.clone()));
        }
        let prose = Prose::load()?;
        let paths = paths(mounts.iter(), core.raw_routes(), false, &prose);
        let layout: Map<String, Value> = layout.into_iter().collect();
        Ok(Reference {
            document: document::document(paths, Some(layout)),
            stale_prose: prose.problems(),
        })
    }

    /// The document as committed: YAML under a header saying where it
    /// comes from.
    pub fn yaml(&self) -> Result<String> {
        let body = serde_norway::to_string(&self.document)
            .map_err(|e| Error::internal(format!("{FILE}: {e}")))?;
        Ok(format!("{HEADER}{body}"))
    }
}
