//! `vault policy write|read|list|delete|fmt` (`sys/policies/acl/*`).

use serde_json::{json, Value};

use super::{api_error, check_args, client, output_data, parse_flags, Ui};
use crate::cli::flags::FlagSet;
use crate::cli::kv::go_open_error;

const WRITE_HELP: &str = "Usage: vault policy write [options] NAME PATH\n\n  Uploads a policy with name NAME from the contents of a local file PATH or\n  stdin. If PATH is \"-\", the policy is read from stdin.";
const READ_HELP: &str = "Usage: vault policy read [options] [NAME]\n\n  Prints the contents and metadata of the Vault policy named NAME.";
const LIST_HELP: &str = "Usage: vault policy list [options]\n\n  Lists the names of the policies that are installed on the Vault server.";
const DELETE_HELP: &str = "Usage: vault policy delete [options] NAME\n\n  Deletes the policy named NAME in the Vault server.";
const FMT_HELP: &str = "Usage: vault policy fmt [options] PATH\n\n  Formats a local policy file to the policy specification.";

fn name_of(raw: &str) -> String {
    raw.trim().to_lowercase()
}

pub fn write(ui: &mut Ui, args: &[String]) -> i32 {
    let flags = match parse_flags(ui, FlagSet::new(), args, WRITE_HELP) {
        Ok(f) => f,
        Err(c) => return c,
    };
    if let Err(c) = check_args(ui, &flags.args, 2, Some(2)) {
        return c;
    }
    let name = name_of(&flags.args[0]);
    let path = flags.args[1].trim().to_string();
    let rules = if path == "-" {
        let mut buf = String::new();
        if let Err(e) = ui.stdin.read_to_string(&mut buf) {
            ui.error(&format!("Error reading policy: {e}"));
            return 2;
        }
        buf
    } else {
        match std::fs::read_to_string(&path) {
            Ok(s) => s,
            Err(e) => {
                ui.error(&format!(
                    "Error opening policy file: {}",
                    go_open_error(&path, &e)
                ));
                return 2;
            }
        }
    };
    let client = match client(ui, &flags) {
        Ok(c) => c,
        Err(c) => return c,
    };
    let body = json!({ "policy": rules });
    match client.request("PUT", &format!("sys/policies/acl/{name}"), &[], Some(&body)) {
        Err(e) => api_error(ui, "Error uploading policy", &e),
        Ok(_) => {
            ui.output(&format!("Success! Uploaded policy: {name}"));
            0
        }
    }
}

pub fn read(ui: &mut Ui, args: &[String]) -> i32 {
    let flags = match parse_flags(ui, FlagSet::new().with_output(false), args, READ_HELP) {
        Ok(f) => f,
        Err(c) => return c,
    };
    if let Err(c) = check_args(ui, &flags.args, 0, Some(1)) {
        return c;
    }
    let name = flags
        .args
        .first()
        .map(|a| name_of(a))
        .unwrap_or_else(|| "default".to_string());
    let client = match client(ui, &flags) {
        Ok(c) => c,
        Err(c) => return c,
    };
    let rules = match client.read(&format!("sys/policies/acl/{name}"), &[]) {
        Err(e) => return api_error(ui, &format!("Error reading policy named {name}"), &e),
        Ok(secret) => secret
            .as_ref()
            .and_then(|s| s.get("data"))
            .and_then(|d| d.get("policy"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    };
    if rules.is_empty() {
        ui.error(&format!("No policy named: {name}"));
        return 2;
    }
    if flags.format() == "table" {
        ui.output(rules.trim());
        return 0;
    }
    output_data(ui, &flags, &json!({ "policy": rules }))
}

pub fn list(ui: &mut Ui, args: &[String]) -> i32 {
    let flags = match parse_flags(ui, FlagSet::new().with_output(false), args, LIST_HELP) {
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
    let keys = match client.list("sys/policies/acl") {
        Err(e) => return api_error(ui, "Error listing policies", &e),
        Ok(secret) => secret
            .as_ref()
            .and_then(|s| s.get("data"))
            .and_then(|d| d.get("keys"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    };
    if flags.format() == "table" {
        for k in keys {
            ui.output(k.as_str().unwrap_or(""));
        }
        return 0;
    }
    output_data(ui, &flags, &Value::Array(keys))
}

pub fn delete(ui: &mut Ui, args: &[String]) -> i32 {
    let flags = match parse_flags(ui, FlagSet::new(), args, DELETE_HELP) {
        Ok(f) => f,
        Err(c) => return c,
    };
    if let Err(c) = check_args(ui, &flags.args, 1, Some(1)) {
        return c;
    }
    let name = name_of(&flags.args[0]);
    let client = match client(ui, &flags) {
        Ok(c) => c,
        Err(c) => return c,
    };
    match client.request("DELETE", &format!("sys/policies/acl/{name}"), &[], None) {
        Err(e) => api_error(ui, &format!("Error deleting {name}"), &e),
        Ok(_) => {
            ui.output(&format!("Success! Deleted policy: {name}"));
            0
        }
    }
}

/// `vault policy fmt FILE`: parses the HCL and rewrites it canonically.
pub fn fmt(ui: &mut Ui, args: &[String]) -> i32 {
    let flags = match parse_flags(ui, FlagSet::new(), args, FMT_HELP) {
        Ok(f) => f,
        Err(c) => return c,
    };
    if let Err(c) = check_args(ui, &flags.args, 1, Some(1)) {
        return c;
    }
    let path = flags.args[0].clone();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            ui.error(&format!(
                "Error opening policy file: {}",
                go_open_error(&path, &e)
            ));
            return 2;
        }
    };
    let body: hcl::Body = match hcl::from_str(&text) {
        Ok(b) => b,
        Err(e) => {
            ui.error(&format!("Error parsing policy: {e}"));
            return 1;
        }
    };
    let mut formatter = hcl::format::Formatter::builder()
        .compact_arrays(true)
        .build_vec();
    let formatted = match hcl::format::Format::format_string(&body, &mut formatter) {
        Ok(s) => s,
        Err(e) => {
            ui.error(&format!("Error formatting policy: {e}"));
            return 1;
        }
    };
    if let Err(e) = std::fs::write(&path, formatted) {
        ui.error(&format!("Error writing policy: {e}"));
        return 1;
    }
    ui.output(&format!("Success! Formatted policy: {path}"));
    0
}
