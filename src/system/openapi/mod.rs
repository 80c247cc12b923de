//! The OpenAPI document, generated from the declarations the router uses:
//! each mount's paths (`LogicalBackend::describe`), the endpoints the HTTP
//! layer answers itself, and the prose of `api-spec/descriptions.json`.
//!
//! `sys/internal/specs/openapi` serves it as Vault serves its own:
//! unauthenticated, the document itself as the JSON body, and only for the
//! mounts that exist and that the caller can see (the
//! `sys/internal/ui/mounts` rule), each mount's paths under its own mount
//! path. With `generic_mount_paths=true` the mount path of every
//! non-singleton mount becomes a path parameter
//! (`/{pki_int_mount_path}/issue/{role}`), as in Vault.
//!
//! The committed `api-spec/openapi.yaml` is the same document for one mount
//! of every type at its default path ([`reference`]).

mod document;
mod paths;
mod prose;
mod raw;
pub mod reference;
mod schema;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::SystemBackend;
use crate::core::mounts::{MountClass, MountEntry, Mounted};
use crate::handler;
use crate::logical::framework::{Answer, Field, Path};
use crate::logical::raw_route::RawRoute;
use crate::logical::{Error, Request, Response, Result};
use prose::Prose;

pub use paths::{sample_path, template};

/// How the document shows one mount.
pub struct Mount<'a> {
    /// The mount's type as the document names it: `pki`, `kv-v2`.
    spec_type: &'a str,
    class: MountClass,
    /// Where the committed document shows this type (its prose's key).
    default_prefix: String,
    /// Where this document shows it: `pki-int/`, or `{pki_int_mount_path}/`.
    shown_at: String,
    /// With `generic_mount_paths`: the mount path parameter's name, and
    /// the mount's path as its default.
    parameter: Option<(String, String)>,
}

/// The type the document names a mount by: KV version 2 is `kv-v2`.
fn spec_type(entry: &MountEntry) -> &str {
    match (entry.backend_type.as_str(), &entry.options) {
        ("kv", Some(options)) if options.get("version").map(String::as_str) == Some("2") => "kv-v2",
        (t, _) => t,
    }
}

/// Where `vault secrets enable TYPE` / `vault auth enable TYPE` mounts a
/// type, and where the built-in mounts are (KV version 2 is dev mode's
/// `secret/`).
fn default_prefix(spec_type: &str, class: MountClass) -> String {
    match (spec_type, class) {
        ("system", _) => "sys/".into(),
        ("kv-v2", _) => "secret/".into(),
        (t, MountClass::Auth) => format!("auth/{t}/"),
        (t, MountClass::Secret) => format!("{t}/"),
    }
}

/// Mounts Vault never renames in `generic_mount_paths` output.
fn singleton(backend_type: &str) -> bool {
    matches!(backend_type, "system" | "token" | "identity" | "cubbyhole")
}

/// The path items of `mounts`, with the HTTP layer's own endpoints when
/// `sys/` is among them.
fn paths<'a>(
    mounts: impl Iterator<Item = &'a Mounted>,
    raw_routes: &[RawRoute],
    generic: bool,
    prose: &Prose,
) -> Map<String, Value> {
    let mut items = BTreeMap::new();
    for mounted in mounts {
        let entry = &mounted.entry;
        let spec_type = spec_type(entry);
        let class_prefix = match entry.class {
            MountClass::Auth => "auth/",
            MountClass::Secret => "",
        };
        let generic = generic && !singleton(&entry.backend_type);
        let parameter = generic.then(|| {
            let path = entry.path.trim_end_matches('/');
            (
                format!("{}_mount_path", path.replace(['-', '/'], "_")),
                path.to_string(),
            )
        });
        let shown_at = match &parameter {
            Some((name, _)) => format!("{class_prefix}{{{name}}}/"),
            None => mounted.prefix.clone(),
        };
        let mount = Mount {
            spec_type,
            class: entry.class,
            default_prefix: default_prefix(spec_type, entry.class),
            shown_at,
            parameter,
        };
        paths::add_backend(&mount, mounted.backend.as_ref(), prose, &mut items);
        if spec_type == "system" {
            raw::add_raw_routes(raw_routes, prose, &mut items);
        }
    }
    items.into_iter().collect()
}

const OPTIONS: &[Field] = &[Field::bool("generic_mount_paths")];

pub(super) const PATHS: &[Path<SystemBackend>] = &[Path::new("internal/specs/openapi")
    .unauthenticated()
    .fields(&[OPTIONS])
    .answers(Answer::Document)
    .read(handler!(serve))];

async fn serve(b: &SystemBackend, req: &mut Request) -> Result<Option<Response>> {
    let core = b.core()?;
    let generic = req.data.bool_or("generic_mount_paths", false)?;
    let acl = match &req.token {
        Some(token) => Some(core.token_acl(token).await?),
        None => None,
    };
    let mounts = core.mounts.snapshot();
    let visible = mounts.iter().filter(|mounted| {
        mounted.entry.config.listing_visibility == "unauth"
            || acl
                .as_ref()
                .is_some_and(|acl| acl.has_any_under(&mounted.prefix))
    });
    let prose = Prose::load()?;
    let paths = paths(visible, core.raw_routes(), generic, &prose);
    let body = serde_json::to_vec(&document::document(paths, None))
        .map_err(|e| Error::internal(e.to_string()))?;
    Ok(Some(Response::raw(200, "application/json", body)))
}
