//! `vault read`, `write`, `patch`, `delete`, `list`.

use serde_json::Value;

use super::{
    api_error, check_args, client, output_data, output_secret, parse_flags, parse_kv,
    print_raw_field, query_pairs, sanitize_path, Ui,
};
use crate::cli::flags::{FlagSet, Kind};
use crate::cli::format;

const READ_HELP: &str =
    "Usage: vault read [options] PATH\n\n  Reads data from Vault at the given path.";
const WRITE_HELP: &str =
    "Usage: vault write [options] PATH [DATA K=V...]\n\n  Writes data to Vault at the given path.";
const DELETE_HELP: &str = "Usage: vault delete [options] PATH\n\n  Deletes secrets and configuration from Vault at the given path.";
const LIST_HELP: &str =
    "Usage: vault list [options] PATH\n\n  Lists data from Vault at the given path.";

pub fn read(ui: &mut Ui, args: &[String]) -> i32 {
    let fs = FlagSet::new().with_output(true).allow_raw();
    let flags = match parse_flags(ui, fs, args, READ_HELP) {
        Ok(f) => f,
        Err(c) => return c,
    };
    if let Err(c) = check_args(ui, &flags.args, 1, None) {
        return c;
    }
    let path = sanitize_path(&flags.args[0]);
    let data = match parse_kv(ui, &flags.args[1..]) {
        Ok(d) => d,
        Err(c) => return c,
    };
    let client = match client(ui, &flags) {
        Ok(c) => c,
        Err(c) => return c,
    };
    let query = query_pairs(&data);
    if flags.format() == "raw" {
        let resp = client
            .raw("GET", &path, &query, None, None)
            .and_then(crate::cli::client::check);
        return match resp {
            Ok(resp) => {
                if resp.body.is_empty() {
                    ui.error(&format!("No value found at {path}"));
                    return 2;
                }
                ui.output(&String::from_utf8_lossy(&resp.body));
                0
            }
            Err(e) => api_error(ui, &format!("Error reading: {path}"), &e),
        };
    }
    match client.read(&path, &query) {
        Err(e) => api_error(ui, &format!("Error reading {path}"), &e),
        Ok(None) => {
            ui.error(&format!("No value found at {path}"));
            2
        }
        Ok(Some(secret)) => {
            let field = flags.str("field");
            if !field.is_empty() {
                return print_raw_field(ui, &flags, &secret, &field);
            }
            output_secret(ui, &flags, &secret)
        }
    }
}

/// `write` (PUT) and `patch` (PATCH).
pub fn write(ui: &mut Ui, args: &[String], method: &str) -> i32 {
    let fs = FlagSet::new()
        .with_output(true)
        .flag("force", Kind::Bool)
        .flag("f", Kind::Bool);
    let flags = match parse_flags(ui, fs, args, WRITE_HELP) {
        Ok(f) => f,
        Err(c) => return c,
    };
    if let Err(c) = check_args(ui, &flags.args, 1, None) {
        return c;
    }
    let path = sanitize_path(&flags.args[0]);
    let data = match parse_kv(ui, &flags.args[1..]) {
        Ok(d) => d,
        Err(c) => return c,
    };
    let force = flags.bool("force") || flags.bool("f");
    if !force && data.as_ref().is_none_or(|d| d.is_empty()) {
        ui.error("Must supply data or use -force");
        return 1;
    }
    let client = match client(ui, &flags) {
        Ok(c) => c,
        Err(c) => return c,
    };
    let body = match data {
        Some(map) => Value::Object(map),
        None => Value::Null,
    };
    match client.write(method, &path, &[], Some(&body)) {
        Err(e) => api_error(ui, &format!("Error writing data to {path}"), &e),
        Ok(None) => {
            if flags.format() == "table" {
                ui.output(&format!("Success! Data written to: {path}"));
            }
            0
        }
        Ok(Some(secret)) => {
            let field = flags.str("field");
            if !field.is_empty() {
                return print_raw_field(ui, &flags, &secret, &field);
            }
            output_secret(ui, &flags, &secret)
        }
    }
}

pub fn delete(ui: &mut Ui, args: &[String]) -> i32 {
    let fs = FlagSet::new().with_output(true);
    let flags = match parse_flags(ui, fs, args, DELETE_HELP) {
        Ok(f) => f,
        Err(c) => return c,
    };
    if let Err(c) = check_args(ui, &flags.args, 1, Some(usize::MAX)) {
        return c;
    }
    let path = sanitize_path(&flags.args[0]);
    let data = match parse_kv(ui, &flags.args[1..]) {
        Ok(d) => d,
        Err(c) => return c,
    };
    let client = match client(ui, &flags) {
        Ok(c) => c,
        Err(c) => return c,
    };
    match client.write("DELETE", &path, &query_pairs(&data), None) {
        Err(e) => api_error(ui, &format!("Error deleting {path}"), &e),
        Ok(None) => {
            if flags.format() == "table" {
                ui.output(&format!("Success! Data deleted (if it existed) at: {path}"));
            }
            0
        }
        Ok(Some(secret)) => {
            let field = flags.str("field");
            if !field.is_empty() {
                return print_raw_field(ui, &flags, &secret, &field);
            }
            output_secret(ui, &flags, &secret)
        }
    }
}

pub fn list(ui: &mut Ui, args: &[String]) -> i32 {
    let fs = FlagSet::new()
        .with_output(false)
        .flag("detailed", Kind::Bool);
    let flags = match parse_flags(ui, fs, args, LIST_HELP) {
        Ok(f) => f,
        Err(c) => return c,
    };
    if let Err(c) = check_args(ui, &flags.args, 1, Some(1)) {
        return c;
    }
    let path = sanitize_path(&flags.args[0]);
    let client = match client(ui, &flags) {
        Ok(c) => c,
        Err(c) => return c,
    };
    let secret = match client.list(&path) {
        Ok(s) => s,
        Err(e) => return api_error(ui, &format!("Error listing {path}"), &e),
    };
    let keys = secret
        .as_ref()
        .and_then(|s| s.get("data"))
        .and_then(|d| d.get("keys"))
        .and_then(Value::as_array)
        .cloned();
    let format = flags.format();
    if format != "table" && keys.is_none() {
        output_data(ui, &flags, &Value::Object(Default::default()));
        return 2;
    }
    let Some(secret) = secret else {
        ui.error(&format!("No value found at {path}"));
        return 2;
    };
    if !secret.get("data").is_some_and(Value::is_object) {
        output_secret(ui, &flags, &secret);
        return 2;
    }
    let Some(keys) = keys else {
        ui.error(&format!("No entries found at {path}"));
        return 2;
    };
    output_list(ui, &flags, &secret, keys)
}

/// `OutputList` of a secret whose `data.keys` are `keys`.
pub fn output_list(ui: &mut Ui, flags: &FlagSet, secret: &Value, keys: Vec<Value>) -> i32 {
    if flags.format() == "table" {
        super::print_warnings(ui, secret);
        let mut names: Vec<String> = keys.iter().map(format::go_v).collect();
        names.sort();
        let mut lines = vec!["Keys".to_string()];
        lines.extend(names);
        ui.output(&format::table(&lines, "♨"));
        return 0;
    }
    if flags.bool("detailed") {
        return output_secret(ui, flags, secret);
    }
    output_data(ui, flags, &Value::Array(keys))
}
