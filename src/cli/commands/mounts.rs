//! `vault secrets enable|disable|list|tune|move`, `vault auth
//! enable|disable|list|tune`: `api/sys_mounts.go` / `sys_auth.go` bodies.

use serde_json::{Map, Value};

use super::{
    api_error, check_args, client, ensure_trailing_slash, output_data, parse_flags, sanitize_path,
    Ui,
};
use crate::cli::duration::go_string;
use crate::cli::flags::{FlagSet, Kind};
use crate::cli::format::{self, GoVal};

const ENABLE_HELP: &str =
    "Usage: vault secrets enable [options] TYPE\n\n  Enables a secrets engine.";
const AUTH_ENABLE_HELP: &str =
    "Usage: vault auth enable [options] TYPE\n\n  Enables a new auth method.";
const DISABLE_HELP: &str =
    "Usage: vault secrets disable [options] PATH\n\n  Disables a secrets engine at the given PATH.";
const LIST_HELP: &str = "Usage: vault secrets list [options]\n\n  Lists the enabled secret engines on the Vault server.";
const TUNE_HELP: &str = "Usage: vault secrets tune [options] PATH\n\n  Tunes the configuration options for the secrets engine at the given PATH.";
/// Optional config keys sent only when their flag is given.
const OPTIONAL_CONFIG: &[(&str, &str, Kind)] = &[
    (
        "audit-non-hmac-request-keys",
        "audit_non_hmac_request_keys",
        Kind::Slice,
    ),
    (
        "audit-non-hmac-response-keys",
        "audit_non_hmac_response_keys",
        Kind::Slice,
    ),
    ("listing-visibility", "listing_visibility", Kind::Str),
    (
        "passthrough-request-headers",
        "passthrough_request_headers",
        Kind::Slice,
    ),
    (
        "allowed-response-headers",
        "allowed_response_headers",
        Kind::Slice,
    ),
    ("allowed-managed-keys", "allowed_managed_keys", Kind::Slice),
    ("plugin-version", "plugin_version", Kind::Str),
    (
        "delegated-auth-accessors",
        "delegated_auth_accessors",
        Kind::Slice,
    ),
    ("identity-token-key", "identity_token_key", Kind::Str),
    ("token-type", "token_type", Kind::Str),
];

fn mount_flags() -> FlagSet {
    let mut fs = FlagSet::new()
        .flag("description", Kind::Str)
        .flag("path", Kind::Str)
        .flag("default-lease-ttl", Kind::Duration)
        .flag("max-lease-ttl", Kind::Duration)
        .flag("force-no-cache", Kind::Bool)
        .flag("plugin-name", Kind::Str)
        .flag("options", Kind::Multi)
        .flag("local", Kind::Bool)
        .flag("seal-wrap", Kind::Bool)
        .flag("external-entropy-access", Kind::Bool)
        .flag("version", Kind::Int);
    for (flag, _, kind) in OPTIONAL_CONFIG {
        fs = fs.flag(flag, *kind);
    }
    fs
}

/// `-options k=v` (repeated) plus `-version=N`, or `null`.
fn options(flags: &FlagSet) -> Value {
    let mut map = Map::new();
    for kv in flags.list("options") {
        let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
        map.insert(k.to_string(), Value::String(v.to_string()));
    }
    if flags.int("version") > 0 {
        map.insert(
            "version".to_string(),
            Value::String(flags.int("version").to_string()),
        );
    }
    if map.is_empty() {
        Value::Null
    } else {
        Value::Object(map)
    }
}

fn optional_config(flags: &FlagSet, fields: &mut Vec<(&'static str, GoVal)>) {
    for (flag, key, kind) in OPTIONAL_CONFIG {
        if !flags.is_set(flag) {
            continue;
        }
        let v = match kind {
            Kind::Slice => Value::from(flags.list(flag)),
            _ => Value::String(flags.str(flag)),
        };
        let empty = match &v {
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            _ => false,
        };
        if !empty {
            fields.push((key, GoVal::Json(v)));
        }
    }
}

fn enable(ui: &mut Ui, args: &[String], auth: bool) -> i32 {
    let help = if auth { AUTH_ENABLE_HELP } else { ENABLE_HELP };
    let flags = match parse_flags(ui, mount_flags(), args, help) {
        Ok(f) => f,
        Err(c) => return c,
    };
    if let Err(c) = check_args(ui, &flags.args, 1, Some(1)) {
        return c;
    }
    let mut kind = flags.args[0].trim().to_string();
    if kind == "plugin" {
        kind = flags.str("plugin-name");
    }
    let mut path = flags.str("path");
    if path.is_empty() {
        path = kind.clone();
    }
    let path = ensure_trailing_slash(&path);
    let mut config = vec![
        ("options", GoVal::Json(Value::Null)),
        (
            "default_lease_ttl",
            GoVal::Json(Value::String(go_string(
                flags.duration("default-lease-ttl"),
            ))),
        ),
        (
            "max_lease_ttl",
            GoVal::Json(Value::String(go_string(flags.duration("max-lease-ttl")))),
        ),
        (
            "force_no_cache",
            GoVal::Json(Value::Bool(flags.bool("force-no-cache"))),
        ),
    ];
    optional_config(&flags, &mut config);
    let body = GoVal::Struct(vec![
        ("type", GoVal::Json(Value::String(kind.clone()))),
        (
            "description",
            GoVal::Json(Value::String(flags.str("description"))),
        ),
        ("config", GoVal::Struct(config)),
        ("local", GoVal::Json(Value::Bool(flags.bool("local")))),
        (
            "seal_wrap",
            GoVal::Json(Value::Bool(flags.bool("seal-wrap"))),
        ),
        (
            "external_entropy_access",
            GoVal::Json(Value::Bool(flags.bool("external-entropy-access"))),
        ),
        ("options", GoVal::Json(options(&flags))),
    ]);
    let client = match client(ui, &flags) {
        Ok(c) => c,
        Err(c) => return c,
    };
    let api_path = format!(
        "sys/{}/{}",
        if auth { "auth" } else { "mounts" },
        sanitize_path(&path)
    );
    let bytes = format::go_json_val(&body, false).into_bytes();
    let result = client
        .raw("POST", &api_path, &[], Some(bytes), None)
        .and_then(crate::cli::client::check);
    let version = flags.str("plugin-version");
    if auth {
        if let Err(e) = result {
            return api_error(ui, &format!("Error enabling {kind} auth"), &e);
        }
        let mut thing = format!("{kind} auth method");
        if !version.is_empty() {
            thing.push_str(&format!(" version {version}"));
        }
        ui.output(&format!("Success! Enabled {thing} at: {path}"));
    } else {
        if let Err(e) = result {
            return api_error(ui, "Error enabling", &e);
        }
        let mut thing = format!("{kind} secrets engine");
        if !version.is_empty() {
            thing.push_str(&format!(" version {version}"));
        }
        ui.output(&format!("Success! Enabled the {thing} at: {path}"));
    }
    0
}

pub fn secrets_enable(ui: &mut Ui, args: &[String]) -> i32 {
    enable(ui, args, false)
}

pub fn auth_enable(ui: &mut Ui, args: &[String]) -> i32 {
    enable(ui, args, true)
}

pub fn disable(ui: &mut Ui, args: &[String], auth: bool) -> i32 {
    let flags = match parse_flags(ui, FlagSet::new(), args, DISABLE_HELP) {
        Ok(f) => f,
        Err(c) => return c,
    };
    if let Err(c) = check_args(ui, &flags.args, 1, Some(1)) {
        return c;
    }
    let path = ensure_trailing_slash(&sanitize_path(&flags.args[0]));
    let client = match client(ui, &flags) {
        Ok(c) => c,
        Err(c) => return c,
    };
    let api_path = format!(
        "sys/{}/{}",
        if auth { "auth" } else { "mounts" },
        sanitize_path(&path)
    );
    match client.request("DELETE", &api_path, &[], None) {
        Err(e) if auth => api_error(ui, &format!("Error disabling auth method at {path}"), &e),
        Err(e) => api_error(ui, &format!("Error disabling secrets engine at {path}"), &e),
        Ok(_) => {
            if auth {
                ui.output(&format!(
                    "Success! Disabled the auth method (if it existed) at: {path}"
                ));
            } else {
                ui.output(&format!(
                    "Success! Disabled the secrets engine (if it existed) at: {path}"
                ));
            }
            0
        }
    }
}

/// `MountOutput` as Go marshals it.
fn mount_struct(m: &Value) -> GoVal {
    let g = |k: &str| m.get(k).cloned().unwrap_or(Value::Null);
    let s = |k: &str| GoVal::Json(Value::String(g(k).as_str().unwrap_or("").to_string()));
    let b = |k: &str| GoVal::Json(Value::Bool(g(k).as_bool().unwrap_or(false)));
    let cfg = g("config");
    let c = |k: &str| cfg.get(k).cloned().unwrap_or(Value::Null);
    let mut config = vec![
        (
            "default_lease_ttl",
            GoVal::Json(Value::from(c("default_lease_ttl").as_i64().unwrap_or(0))),
        ),
        (
            "max_lease_ttl",
            GoVal::Json(Value::from(c("max_lease_ttl").as_i64().unwrap_or(0))),
        ),
        (
            "force_no_cache",
            GoVal::Json(Value::Bool(c("force_no_cache").as_bool().unwrap_or(false))),
        ),
    ];
    for key in [
        "audit_non_hmac_request_keys",
        "audit_non_hmac_response_keys",
        "listing_visibility",
        "passthrough_request_headers",
        "allowed_response_headers",
        "token_type",
        "allowed_managed_keys",
        "user_lockout_config",
        "delegated_auth_accessors",
        "identity_token_key",
    ] {
        let v = c(key);
        let empty = match &v {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            _ => false,
        };
        if !empty {
            config.push((key, GoVal::Json(v)));
        }
    }
    GoVal::Struct(vec![
        ("uuid", s("uuid")),
        ("type", s("type")),
        ("description", s("description")),
        ("accessor", s("accessor")),
        ("config", GoVal::Struct(config)),
        ("options", GoVal::Json(g("options"))),
        ("local", b("local")),
        ("seal_wrap", b("seal_wrap")),
        ("external_entropy_access", b("external_entropy_access")),
        ("plugin_version", s("plugin_version")),
        ("running_plugin_version", s("running_plugin_version")),
        ("running_sha256", s("running_sha256")),
        ("deprecation_status", s("deprecation_status")),
    ])
}

pub fn list(ui: &mut Ui, args: &[String], auth: bool) -> i32 {
    let fs = FlagSet::new()
        .with_output(false)
        .flag("detailed", Kind::Bool);
    let flags = match parse_flags(ui, fs, args, LIST_HELP) {
        Ok(f) => f,
        Err(c) => return c,
    };
    if let Err(c) = check_args(ui, &flags.args, 0, Some(0)) {
        return c;
    }
    let client = match client(ui, &flags) {
        Ok(c) => c,
        Err(c) => return c,
    };
    let api_path = if auth { "sys/auth" } else { "sys/mounts" };
    let resp = client.request("GET", api_path, &[], None).and_then(|r| {
        serde_json::from_slice::<Value>(&r.body)
            .map_err(|e| crate::cli::client::Error::Decode(e.to_string()))
    });
    let body = match resp {
        Ok(b) => b,
        Err(e) if auth => return api_error(ui, "Error listing enabled authentications", &e),
        Err(e) => return api_error(ui, "Error listing secrets engines", &e),
    };
    // `data` when present, else the (legacy) top level.
    let mounts: Map<String, Value> = match body.get("data").and_then(Value::as_object) {
        Some(d) => d.clone(),
        None => body
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, v)| k.ends_with('/') && v.is_object())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default(),
    };
    let mut paths: Vec<&String> = mounts.keys().collect();
    paths.sort();
    match flags.format().as_str() {
        "table" => {
            let str_of = |m: &Value, k: &str| m.get(k).map(format::go_v).unwrap_or_default();
            let str_or_empty =
                |m: &Value, k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            if flags.bool("detailed") {
                let header: &[&str] = if auth {
                    &[
                        "Path",
                        "Plugin",
                        "Accessor",
                        "Default TTL",
                        "Max TTL",
                        "Token Type",
                        "Replication",
                        "Seal Wrap",
                        "External Entropy Access",
                        "Options",
                        "Description",
                        "UUID",
                        "Version",
                        "Running Version",
                        "Running SHA256",
                        "Deprecation Status",
                    ]
                } else {
                    &[
                        "Path",
                        "Plugin",
                        "Accessor",
                        "Default TTL",
                        "Max TTL",
                        "Force No Cache",
                        "Replication",
                        "Seal Wrap",
                        "External Entropy Access",
                        "Options",
                        "Description",
                        "UUID",
                        "Version",
                        "Running Version",
                        "Running SHA256",
                        "Deprecation Status",
                    ]
                };
                let rows: Vec<Vec<String>> = paths
                    .iter()
                    .map(|p| {
                        let m = &mounts[*p];
                        let cfg = m.get("config").cloned().unwrap_or(Value::Null);
                        let kind = m.get("type").and_then(Value::as_str).unwrap_or("");
                        let ttl = |k: &str| match cfg.get(k).and_then(Value::as_i64) {
                            _ if !auth && matches!(kind, "system" | "cubbyhole") => String::new(),
                            Some(n) if n != 0 => n.to_string(),
                            _ => "system".to_string(),
                        };
                        let local = m.get("local").and_then(Value::as_bool).unwrap_or(false);
                        let options = match m.get("options") {
                            Some(Value::Object(o)) => format::go_v(&Value::Object(o.clone())),
                            _ => "map[]".to_string(),
                        };
                        let fourth = if auth {
                            cfg.get("token_type")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_string()
                        } else {
                            str_of(&cfg, "force_no_cache")
                        };
                        vec![
                            (*p).clone(),
                            str_or_empty(m, "type"),
                            str_or_empty(m, "accessor"),
                            ttl("default_lease_ttl"),
                            ttl("max_lease_ttl"),
                            fourth,
                            if local { "local" } else { "replicated" }.to_string(),
                            str_of(m, "seal_wrap"),
                            str_of(m, "external_entropy_access"),
                            options,
                            str_or_empty(m, "description"),
                            str_or_empty(m, "uuid"),
                            str_or_empty(m, "plugin_version"),
                            str_or_empty(m, "running_plugin_version"),
                            str_or_empty(m, "running_sha256"),
                            str_or_empty(m, "deprecation_status"),
                        ]
                    })
                    .collect();
                ui.output(&format::multi_table(header, &rows));
            } else {
                let header: &[&str] = if auth {
                    &["Path", "Type", "Accessor", "Description", "Version"]
                } else {
                    &["Path", "Type", "Accessor", "Description"]
                };
                let rows: Vec<Vec<String>> = paths
                    .iter()
                    .map(|p| {
                        let m = &mounts[*p];
                        let mut row = vec![
                            (*p).clone(),
                            str_or_empty(m, "type"),
                            str_or_empty(m, "accessor"),
                            str_or_empty(m, "description"),
                        ];
                        if auth {
                            row.push(str_or_empty(m, "plugin_version"));
                        }
                        row
                    })
                    .collect();
                ui.output(&format::multi_table(header, &rows));
            }
            0
        }
        "json" => {
            let mut sorted: Vec<(&'static str, GoVal)> = Vec::new();
            // GoVal keys are static; leak the handful of mount paths.
            for p in &paths {
                let key: &'static str = Box::leak((*p).clone().into_boxed_str());
                sorted.push((key, mount_struct(&mounts[*p])));
            }
            ui.output(&format::go_json_val(&GoVal::Struct(sorted), true));
            0
        }
        _ => {
            // The typed `MountOutput`s, as ghodss/yaml sees them.
            let typed: Map<String, Value> = paths
                .iter()
                .map(|p| {
                    let v = serde_json::from_str(&format::go_json_val(
                        &mount_struct(&mounts[*p]),
                        false,
                    ))
                    .unwrap_or(Value::Null);
                    ((*p).clone(), v)
                })
                .collect();
            output_data(ui, &flags, &Value::Object(typed))
        }
    }
}

/// `ttlToAPI`: unset → "", negative → "system", else Go's string.
fn ttl_to_api(flags: &FlagSet, name: &str) -> Value {
    let d = flags.duration(name);
    Value::String(if d == 0 {
        String::new()
    } else if d < 0 {
        "system".to_string()
    } else {
        go_string(d)
    })
}

pub fn tune(ui: &mut Ui, args: &[String], auth: bool) -> i32 {
    let flags = match parse_flags(ui, mount_flags(), args, TUNE_HELP) {
        Ok(f) => f,
        Err(c) => return c,
    };
    if let Err(c) = check_args(ui, &flags.args, 1, Some(1)) {
        return c;
    }
    let path = ensure_trailing_slash(&sanitize_path(&flags.args[0]));
    let mut fields = vec![
        ("options", GoVal::Json(options(&flags))),
        (
            "default_lease_ttl",
            GoVal::Json(ttl_to_api(&flags, "default-lease-ttl")),
        ),
    ];
    if flags.is_set("description") {
        fields.push((
            "description",
            GoVal::Json(Value::String(flags.str("description"))),
        ));
    }
    fields.push((
        "max_lease_ttl",
        GoVal::Json(ttl_to_api(&flags, "max-lease-ttl")),
    ));
    fields.push(("force_no_cache", GoVal::Json(Value::Bool(false))));
    optional_config(&flags, &mut fields);
    let client = match client(ui, &flags) {
        Ok(c) => c,
        Err(c) => return c,
    };
    let api_path = if auth {
        format!("sys/mounts/auth/{}/tune", sanitize_path(&path))
    } else {
        format!("sys/mounts/{}/tune", sanitize_path(&path))
    };
    let bytes = format::go_json_val(&GoVal::Struct(fields), false).into_bytes();
    let result = client
        .raw("POST", &api_path, &[], Some(bytes), None)
        .and_then(crate::cli::client::check);
    match result {
        Err(e) if auth => api_error(ui, &format!("Error tuning auth method {path}"), &e),
        Err(e) => api_error(ui, &format!("Error tuning secrets engine {path}"), &e),
        Ok(_) => {
            if auth {
                ui.output(&format!("Success! Tuned the auth method at: {path}"));
            } else {
                ui.output(&format!("Success! Tuned the secrets engine at: {path}"));
            }
            0
        }
    }
}
