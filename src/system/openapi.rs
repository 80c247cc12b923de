//! `sys/internal/specs/openapi`: the committed OpenAPI document
//! (`api-spec/openapi.yaml`) as Vault serves its own: unauthenticated, the
//! document itself as the JSON body, and only for the mounts that exist and
//! that the caller can see (the `sys/internal/ui/mounts` rule), each mount's
//! paths under its own mount path. With `generic_mount_paths=true` the mount
//! path of every non-singleton mount becomes a path parameter
//! (`/{pki_int_mount_path}/issue/{role}`), as in Vault.

use std::sync::OnceLock;

use serde_json::{json, Map, Value};

use super::SystemBackend;
use crate::core::mounts::MountClass;
use crate::handler;
use crate::logical::framework::{Answer, Field, Path};
use crate::logical::{Error, Request, Response, Result};

const OPTIONS: &[Field] = &[Field::bool("generic_mount_paths")];

pub(super) const PATHS: &[Path<SystemBackend>] = &[Path::new("internal/specs/openapi")
    .unauthenticated()
    .fields(&[OPTIONS])
    .answers(Answer::Document)
    .read(handler!(serve))];

static SPEC_YAML: &str = include_str!("../../api-spec/openapi.yaml");

/// The committed document, parsed once.
fn document() -> Result<&'static Value> {
    static DOCUMENT: OnceLock<std::result::Result<Value, String>> = OnceLock::new();
    DOCUMENT
        .get_or_init(|| serde_norway::from_str::<Value>(SPEC_YAML).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Error::internal(format!("api-spec/openapi.yaml: {e}")))
}

/// Mounts Vault never renames in `generic_mount_paths` output.
fn singleton(backend_type: &str) -> bool {
    matches!(backend_type, "system" | "token" | "identity" | "cubbyhole")
}

async fn serve(b: &SystemBackend, req: &mut Request) -> Result<Option<Response>> {
    let core = b.core()?;
    let generic = req.data.bool_or("generic_mount_paths", false)?;
    let spec = document()?;
    let acl = match &req.token {
        Some(token) => Some(core.policies.acl(&token.policies).await?),
        None => None,
    };
    let defaults = spec["x-vaultlet-mounts"].as_object();
    let committed = spec["paths"].as_object();
    let mut paths = Map::new();
    for mounted in core.mounts.snapshot().iter() {
        let entry = &mounted.entry;
        let visible = entry.config.listing_visibility == "unauth"
            || acl
                .as_ref()
                .is_some_and(|acl| acl.has_any_under(&mounted.prefix));
        if !visible {
            continue;
        }
        let spec_type = match (entry.backend_type.as_str(), &entry.options) {
            ("kv", Some(options)) if options.get("version").map(String::as_str) == Some("2") => {
                "kv-v2"
            }
            (t, _) => t,
        };
        let Some(default) = defaults
            .and_then(|d| d.get(spec_type))
            .and_then(Value::as_str)
        else {
            continue;
        };
        let default = format!("/{default}");
        let class_prefix = match entry.class {
            MountClass::Auth => "auth/",
            MountClass::Secret => "",
        };
        let param = format!(
            "{}_mount_path",
            entry.path.trim_end_matches('/').replace(['-', '/'], "_")
        );
        let target = if generic && !singleton(&entry.backend_type) {
            format!("/{class_prefix}{{{param}}}/")
        } else {
            format!("/{}", mounted.prefix)
        };
        for (path, item) in committed.into_iter().flatten() {
            if item["x-vaultlet-mount-type"].as_str() != Some(spec_type) {
                continue;
            }
            let Some(rest) = path.strip_prefix(&default) else {
                continue;
            };
            let mut item = item.clone();
            if generic && !singleton(&entry.backend_type) {
                if let Some(obj) = item.as_object_mut() {
                    let params = obj.entry("parameters").or_insert_with(|| json!([]));
                    if let Some(params) = params.as_array_mut() {
                        params.insert(
                            0,
                            json!({
                                "name": param,
                                "description": "Path that the backend was mounted at",
                                "in": "path",
                                "required": true,
                                "schema": {
                                    "type": "string",
                                    "default": entry.path.trim_end_matches('/'),
                                },
                            }),
                        );
                    }
                }
            }
            paths.insert(format!("{target}{rest}"), item);
        }
    }
    let mut doc = Map::new();
    for (key, value) in spec.as_object().into_iter().flatten() {
        match key.as_str() {
            "paths" => {
                doc.insert(key.clone(), Value::Object(std::mem::take(&mut paths)));
            }
            "x-vaultlet-mounts" => {}
            _ => {
                doc.insert(key.clone(), value.clone());
            }
        }
    }
    let body = serde_json::to_vec(&doc).map_err(|e| Error::internal(e.to_string()))?;
    Ok(Some(Response::raw(200, "application/json", body)))
}
