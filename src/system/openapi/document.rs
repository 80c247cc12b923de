//! The document around the paths: version, info, security, tags and the
//! shared components every path item refers to.

use serde_json::{json, Map, Value};

/// The error answers of a logical path, as the HTTP layer maps error kinds
/// to statuses, with the component describing each.
pub const ERRORS: &[(u16, &str)] = &[
    (400, "BadRequest"),
    (403, "PermissionDenied"),
    (404, "NotFound"),
    (405, "UnsupportedOperation"),
    (500, "InternalError"),
    (503, "Sealed"),
];

/// A `$ref` to a shared response.
pub fn response_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/responses/{name}") })
}

/// A `$ref` to a shared schema.
pub fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// The `$ref` for an error status, if it is one of [`ERRORS`].
pub fn error_ref(status: u16) -> Option<Value> {
    ERRORS
        .iter()
        .find(|(code, _)| *code == status)
        .map(|(_, name)| response_ref(name))
}

/// The whole document around `paths`; `mounts` (type → default mount
/// path) is the committed document's `x-vaultlet-mounts`.
pub fn document(paths: Map<String, Value>, mounts: Option<Map<String, Value>>) -> Value {
    let mut doc = Map::new();
    doc.insert("openapi".into(), json!("3.1.0"));
    doc.insert("info".into(), info());
    doc.insert("servers".into(), json!([{ "url": "/v1" }]));
    doc.insert("security".into(), json!([{ "VaultToken": [] }]));
    if let Some(mounts) = mounts {
        doc.insert("x-vaultlet-mounts".into(), Value::Object(mounts));
    }
    doc.insert(
        "tags".into(),
        json!([{ "name": "system" }, { "name": "auth" }, { "name": "secrets" }]),
    );
    doc.insert("paths".into(), Value::Object(paths));
    doc.insert("components".into(), components());
    Value::Object(doc)
}

fn info() -> Value {
    json!({
        "title": "vaultlet API",
        "description": "The Vault-compatible HTTP API that vaultlet serves. All routes are \
            prefixed with `/v1/`. Paths are shown at each mount type's default mount path \
            (`x-vaultlet-mounts`); `GET /v1/sys/internal/specs/openapi` serves this document \
            for the mounts that exist, at their real paths. Writes accept PUT as well as POST; \
            LIST is also accepted as the `LIST` verb; every parameter is weakly typed as in \
            Vault (strings are accepted for numbers, booleans and durations, comma-separated \
            strings for lists).",
        "version": crate::VAULT_VERSION,
        "license": { "name": "Apache-2.0", "identifier": "Apache-2.0" },
    })
}

fn components() -> Value {
    let error = |description: &str| {
        json!({
            "description": description,
            "content": { "application/json": { "schema": schema_ref("ErrorResponse") } },
        })
    };
    let strings = json!({ "type": "array", "items": { "type": "string" } });
    let nullable_strings = json!({ "type": ["array", "null"], "items": { "type": "string" } });
    json!({
        "schemas": {
            "Object": { "type": "object" },
            "ErrorResponse": {
                "type": "object",
                "required": ["errors"],
                "properties": { "errors": strings },
            },
            "Envelope": {
                "type": "object",
                "description": "Vault's response envelope.",
                "properties": {
                    "request_id": { "type": "string" },
                    "lease_id": { "type": "string" },
                    "renewable": { "type": "boolean" },
                    "lease_duration": { "type": "integer" },
                    "data": { "type": ["object", "null"] },
                    "wrap_info": { "type": ["object", "null"] },
                    "warnings": nullable_strings,
                    "auth": {
                        "type": ["object", "null"],
                        "properties": {
                            "client_token": { "type": "string" },
                            "accessor": { "type": "string" },
                            "policies": nullable_strings,
                            "token_policies": nullable_strings,
                            "metadata": { "type": ["object", "null"] },
                            "lease_duration": { "type": "integer" },
                            "renewable": { "type": "boolean" },
                            "entity_id": { "type": "string" },
                            "token_type": { "type": "string" },
                            "orphan": { "type": "boolean" },
                        },
                    },
                    "mount_type": { "type": "string" },
                },
            },
            "ListData": {
                "type": "object",
                "properties": { "keys": strings, "key_info": { "type": "object" } },
            },
            "HealthResponse": {
                "type": "object",
                "properties": {
                    "initialized": { "type": "boolean" },
                    "sealed": { "type": "boolean" },
                    "standby": { "type": "boolean" },
                    "performance_standby": { "type": "boolean" },
                    "replication_performance_mode": { "type": "string" },
                    "replication_dr_mode": { "type": "string" },
                    "server_time_utc": { "type": "integer" },
                    "version": { "type": "string" },
                    "enterprise": { "type": "boolean" },
                    "cluster_name": { "type": "string" },
                    "cluster_id": { "type": "string" },
                    "echo_duration_ms": { "type": "integer" },
                    "clock_skew_ms": { "type": "integer" },
                },
            },
            "SealStatusResponse": {
                "type": "object",
                "properties": {
                    "type": { "type": "string" },
                    "initialized": { "type": "boolean" },
                    "sealed": { "type": "boolean" },
                    "t": { "type": "integer" },
                    "n": { "type": "integer" },
                    "progress": { "type": "integer" },
                    "nonce": { "type": "string" },
                    "version": { "type": "string" },
                    "build_date": { "type": "string" },
                    "migration": { "type": "boolean" },
                    "recovery_seal": { "type": "boolean" },
                    "storage_type": { "type": "string" },
                    "cluster_name": { "type": "string" },
                    "cluster_id": { "type": "string" },
                },
            },
        },
        "responses": {
            "Data": {
                "description": "Success, with data (Vault's envelope).",
                "content": { "application/json": { "schema": schema_ref("Envelope") } },
            },
            "List": {
                "description": "Success: `data.keys` lists the entries.",
                "content": { "application/json": { "schema": { "allOf": [
                    schema_ref("Envelope"),
                    { "type": "object", "properties": { "data": schema_ref("ListData") } },
                ] } } },
            },
            "NoContent": { "description": "Success, nothing to return." },
            "BadRequest": error(
                "Invalid request: missing or malformed parameters, or the operation failed \
                 validation."
            ),
            "PermissionDenied": error(
                "Missing or invalid token, or the token's policies deny the operation."
            ),
            "NotFound": error("No such entry (reads), or no route for the path."),
            "UnsupportedOperation": error("The path does not support this operation."),
            "InternalError": error("Internal error."),
            "Sealed": error("The server is sealed."),
        },
        "securitySchemes": {
            "VaultToken": { "type": "apiKey", "in": "header", "name": "X-Vault-Token" },
        },
    })
}
