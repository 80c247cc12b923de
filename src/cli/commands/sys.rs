//! `vault status`, `vault operator init`, `vault version`.

use serde_json::{json, Value};

use super::{api_error, check_args, client, parse_flags, Ui};
use crate::cli::flags::{FlagSet, Kind};
use crate::cli::format::{self, GoVal};

const STATUS_HELP: &str = "Usage: vault status [options]\n\n  Prints the current state of Vault including whether it is sealed and if HA\n  mode is enabled.";
const INIT_HELP: &str = "Usage: vault operator init [options]\n\n  Initializes a Vault server.";

pub fn version(ui: &mut Ui, _args: &[String]) -> i32 {
    ui.output(&version_string());
    0
}

pub fn version_string() -> String {
    format!(
        "Vault v{} (vaultlet {})",
        crate::VAULT_VERSION,
        env!("CARGO_PKG_VERSION")
    )
}

pub fn status(ui: &mut Ui, args: &[String]) -> i32 {
    let flags = match parse_flags(ui, FlagSet::new().with_output(false), args, STATUS_HELP) {
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
    let seal = match client
        .request("GET", "sys/seal-status", &[], None)
        .and_then(|r| {
            serde_json::from_slice::<Value>(&r.body)
                .map_err(|e| crate::cli::client::Error::Decode(e.to_string()))
        }) {
        Ok(v) => v,
        Err(e) => {
            ui.error(&format!("Error checking seal status: {e}"));
            return 1;
        }
    };
    match output_seal_status(ui, &flags, &client, &seal) {
        0 if seal["sealed"].as_bool().unwrap_or(false) => 2,
        code => code,
    }
}

/// `OutputSealStatus`: the seal status plus `sys/leader`, as a table or
/// the `SealStatusOutput` struct.
fn output_seal_status(
    ui: &mut Ui,
    flags: &FlagSet,
    client: &crate::cli::client::Client,
    seal: &Value,
) -> i32 {
    let leader = match client.request("GET", "sys/leader", &[], None) {
        Ok(r) => serde_json::from_slice::<Value>(&r.body).unwrap_or(Value::Null),
        Err(e) if e.to_string().contains("Vault is sealed") => json!({"ha_enabled": true}),
        Err(e) => {
            ui.error(&format!("Error checking leader status: {e}"));
            return 1;
        }
    };
    let sealed = seal["sealed"].as_bool().unwrap_or(false);
    let s = |k: &str| seal.get(k).map(format::go_v).unwrap_or_default();
    let n = |k: &str| seal.get(k).and_then(Value::as_i64).unwrap_or(0);
    let b = |k: &str| seal.get(k).and_then(Value::as_bool).unwrap_or(false);
    let ha_enabled = leader["ha_enabled"].as_bool().unwrap_or(false);
    match flags.format().as_str() {
        "table" => {
            let prefix = if b("recovery_seal") { "Recovery " } else { "" };
            let mut out = vec!["Key | Value".to_string()];
            out.push(format!("{prefix}Seal Type | {}", s("type")));
            out.push(format!("Initialized | {}", b("initialized")));
            out.push(format!("Sealed | {sealed}"));
            out.push(format!("Total {prefix}Shares | {}", n("n")));
            out.push(format!("Threshold | {}", n("t")));
            if sealed {
                out.push(format!("Unseal Progress | {}/{}", n("progress"), n("t")));
                out.push(format!("Unseal Nonce | {}", s("nonce")));
            }
            if b("migration") {
                out.push("Seal Migration in Progress | true".to_string());
            }
            out.push(format!("Version | {}", s("version")));
            out.push(format!(
                "Build Date | {}",
                seal.get("build_date").and_then(Value::as_str).unwrap_or("")
            ));
            out.push(format!("Storage Type | {}", s("storage_type")));
            let cluster_name = seal
                .get("cluster_name")
                .and_then(Value::as_str)
                .unwrap_or("");
            let cluster_id = seal.get("cluster_id").and_then(Value::as_str).unwrap_or("");
            if !cluster_name.is_empty() && !cluster_id.is_empty() {
                out.push(format!("Cluster Name | {cluster_name}"));
                out.push(format!("Cluster ID | {cluster_id}"));
            }
            out.push(format!("HA Enabled | {ha_enabled}"));
            if ha_enabled && !sealed {
                let l = |k: &str| {
                    leader
                        .get(k)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string()
                };
                out.push(format!("HA Cluster | {}", l("leader_cluster_address")));
                let is_self = leader["is_self"].as_bool().unwrap_or(false);
                out.push(format!(
                    "HA Mode | {}",
                    if is_self { "active" } else { "standby" }
                ));
                if !is_self {
                    let addr = l("leader_address");
                    out.push(format!(
                        "Active Node Address | {}",
                        if addr.is_empty() {
                            "<none>".to_string()
                        } else {
                            addr
                        }
                    ));
                }
            }
            ui.output(&format::table(&out, "|"));
        }
        other => {
            let j = |k: &str| {
                GoVal::Json(Value::String(
                    seal.get(k)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                ))
            };
            let mut fields = vec![
                ("type", j("type")),
                ("initialized", GoVal::Json(Value::Bool(b("initialized")))),
                ("sealed", GoVal::Json(Value::Bool(sealed))),
                ("t", GoVal::Json(Value::from(n("t")))),
                ("n", GoVal::Json(Value::from(n("n")))),
                ("progress", GoVal::Json(Value::from(n("progress")))),
                ("nonce", j("nonce")),
                ("version", j("version")),
                ("build_date", j("build_date")),
                ("migration", GoVal::Json(Value::Bool(b("migration")))),
                ("cluster_name", j("cluster_name")),
                ("cluster_id", j("cluster_id")),
                (
                    "recovery_seal",
                    GoVal::Json(Value::Bool(b("recovery_seal"))),
                ),
                ("storage_type", j("storage_type")),
            ];
            fields.retain(|(k, v)| {
                !(matches!(*k, "cluster_name" | "cluster_id" | "storage_type")
                    && matches!(v, GoVal::Json(Value::String(s)) if s.is_empty()))
            });
            fields.push(("ha_enabled", GoVal::Json(Value::Bool(ha_enabled))));
            let value = GoVal::Struct(fields);
            match other {
                "json" => ui.output(&format::go_json_val(&value, true)),
                "yaml" | "yml" => {
                    let v: Value = serde_json::from_str(&format::go_json_val(&value, false))
                        .unwrap_or_default();
                    ui.output(&format::yaml(&v));
                }
                _ => {
                    ui.error(&format!("Invalid output format: {other}"));
                    return 1;
                }
            }
        }
    }
    0
}

const UNSEAL_HELP: &str = "Usage: vault operator unseal [options] [KEY]\n\n  Provide a portion of the root key to unseal a Vault server.";
const SEAL_HELP: &str = "Usage: vault operator seal [options]\n\n  Seals the Vault server.";

pub fn operator_unseal(ui: &mut Ui, args: &[String]) -> i32 {
    let fs = FlagSet::new()
        .with_output(false)
        .flag("reset", Kind::Bool)
        .flag("migrate", Kind::Bool);
    let flags = match parse_flags(ui, fs, args, UNSEAL_HELP) {
        Ok(f) => f,
        Err(c) => return c,
    };
    if let Err(c) = check_args(ui, &flags.args, 0, Some(1)) {
        return c;
    }
    let client = match client(ui, &flags) {
        Ok(c) => c,
        Err(c) => return c,
    };
    let body = if flags.bool("reset") {
        json!({"key": "", "reset": true, "migrate": false})
    } else {
        let key = match flags.args.first().map(String::as_str) {
            Some("-") | None => {
                let mut buf = String::new();
                let _ = ui.stdin.read_to_string(&mut buf);
                buf
            }
            Some(k) => k.to_string(),
        };
        json!({"key": key.trim(), "reset": false, "migrate": flags.bool("migrate")})
    };
    let bytes = format::go_json(&body, false).into_bytes();
    let status = client
        .raw("PUT", "sys/unseal", &[], Some(bytes), None)
        .and_then(crate::cli::client::check)
        .and_then(|r| {
            serde_json::from_slice::<Value>(&r.body)
                .map_err(|e| crate::cli::client::Error::Decode(e.to_string()))
        });
    match status {
        Err(e) if flags.bool("reset") => api_error(ui, "Error resetting unseal process", &e),
        Err(e) => api_error(ui, "Error unsealing", &e),
        Ok(seal) => output_seal_status(ui, &flags, &client, &seal),
    }
}

pub fn operator_seal(ui: &mut Ui, args: &[String]) -> i32 {
    let flags = match parse_flags(ui, FlagSet::new(), args, SEAL_HELP) {
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
    match client.request("PUT", "sys/seal", &[], None) {
        Err(e) => api_error(ui, "Error sealing", &e),
        Ok(_) => {
            ui.output("Success! Vault is sealed.");
            0
        }
    }
}

pub fn operator_init(ui: &mut Ui, args: &[String]) -> i32 {
    let fs = FlagSet::new()
        .with_output(false)
        .flag_default("key-shares", Kind::Int, "5")
        .flag_default("key-threshold", Kind::Int, "3")
        .flag("status", Kind::Bool);
    let flags = match parse_flags(ui, fs, args, INIT_HELP) {
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
    if flags.bool("status") {
        return match client.request("GET", "sys/init", &[], None) {
            Err(e) => api_error(ui, "Error checking init status", &e),
            Ok(r) => {
                let v: Value = serde_json::from_slice(&r.body).unwrap_or_default();
                if v["initialized"].as_bool().unwrap_or(false) {
                    ui.output("Vault is initialized");
                    0
                } else {
                    ui.output("Vault is not initialized");
                    2
                }
            }
        };
    }
    let shares = flags.int("key-shares");
    let threshold = flags.int("key-threshold");
    let body = GoVal::Struct(vec![
        ("secret_shares", GoVal::Json(Value::from(shares))),
        ("secret_threshold", GoVal::Json(Value::from(threshold))),
        ("stored_shares", GoVal::Json(Value::from(0))),
        ("pgp_keys", GoVal::Json(Value::Null)),
        ("recovery_shares", GoVal::Json(Value::from(0))),
        ("recovery_threshold", GoVal::Json(Value::from(0))),
        ("recovery_pgp_keys", GoVal::Json(Value::Null)),
        (
            "root_token_pgp_key",
            GoVal::Json(Value::String(String::new())),
        ),
    ]);
    let bytes = format::go_json_val(&body, false).into_bytes();
    let resp = match client
        .raw("PUT", "sys/init", &[], Some(bytes), None)
        .and_then(crate::cli::client::check)
    {
        Ok(r) => r,
        Err(e) => return api_error(ui, "Error initializing", &e),
    };
    let v: Value = serde_json::from_slice(&resp.body).unwrap_or_default();
    let list = |k: &str| -> Vec<String> {
        v.get(k)
            .and_then(Value::as_array)
            .map(|a| a.iter().map(format::go_v).collect())
            .unwrap_or_default()
    };
    let keys = list("keys");
    let keys_b64 = list("keys_base64");
    let root = v["root_token"].as_str().unwrap_or("").to_string();
    match flags.format().as_str() {
        "table" => {}
        fmt => {
            let out = GoVal::Struct(vec![
                (
                    "unseal_keys_b64",
                    GoVal::Json(Value::from(keys_b64.clone())),
                ),
                ("unseal_keys_hex", GoVal::Json(Value::from(keys.clone()))),
                ("unseal_shares", GoVal::Json(Value::from(shares))),
                ("unseal_threshold", GoVal::Json(Value::from(threshold))),
                ("recovery_keys_b64", GoVal::Json(json!([]))),
                ("recovery_keys_hex", GoVal::Json(json!([]))),
                ("recovery_keys_shares", GoVal::Json(Value::from(0))),
                ("recovery_keys_threshold", GoVal::Json(Value::from(0))),
                ("root_token", GoVal::Json(Value::String(root))),
            ]);
            match fmt {
                "json" => ui.output(&format::go_json_val(&out, true)),
                "yaml" | "yml" => {
                    let v: Value =
                        serde_json::from_str(&format::go_json_val(&out, false)).unwrap_or_default();
                    ui.output(&format::yaml(&v));
                }
                other => {
                    ui.error(&format!("Invalid output format: {other}"));
                    return 1;
                }
            }
            return 0;
        }
    }
    for (i, key) in keys.iter().enumerate() {
        let shown = if keys_b64.len() == keys.len() {
            &keys_b64[i]
        } else {
            key
        };
        ui.output(&format!("Unseal Key {}: {shown}", i + 1));
    }
    ui.output("");
    ui.output(&format!("Initial Root Token: {root}"));
    if keys.is_empty() {
        ui.output("");
        ui.output("Success! Vault is initialized");
        return 0;
    }
    ui.output("");
    ui.output(&format::wrap_padded(&format!(
        "Vault initialized with {shares} key shares and a key threshold of {threshold}. Please securely distribute the key shares printed above. When the Vault is re-sealed, restarted, or stopped, you must supply at least {threshold} of these keys to unseal it before it can start servicing requests."
    ), 0));
    ui.output("");
    ui.output(&format::wrap_padded(&format!(
        "Vault does not store the generated root key. Without at least {threshold} keys to reconstruct the root key, Vault will remain permanently sealed!"
    ), 0));
    ui.output("");
    ui.output(&format::wrap_padded(
        "It is possible to generate new unseal keys, provided you have a quorum of existing unseal keys shares. See \"vault operator rekey\" for more information.",
        0,
    ));
    0
}
