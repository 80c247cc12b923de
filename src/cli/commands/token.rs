//! `vault token create|lookup|renew|revoke|capabilities` and `vault login`.

use serde_json::{json, Map, Value};

use super::{
    api_error, check_args, client, output_data, output_secret, parse_flags, parse_kv,
    print_raw_field, Ui,
};
use crate::cli::client::token_file;
use crate::cli::duration::go_string;
use crate::cli::flags::{FlagSet, Kind};
use crate::cli::format::{self, GoVal};

const CREATE_HELP: &str = "Usage: vault token create [options]\n\n  Creates a new token that can be used for authentication.";
const LOOKUP_HELP: &str = "Usage: vault token lookup [options] [TOKEN | ACCESSOR]\n\n  Displays information about a token or accessor.";
const RENEW_HELP: &str = "Usage: vault token renew [options] [TOKEN]\n\n  Renews a token's lease, extending the amount of time it can be used.";
const REVOKE_HELP: &str = "Usage: vault token revoke [options] [TOKEN | ACCESSOR]\n\n  Revokes authentication tokens and their children.";
const CAPS_HELP: &str = "Usage: vault token capabilities [options] [TOKEN] PATH\n\n  Fetches the capabilities of a token for a given path.";
const LOGIN_HELP: &str = "Usage: vault login [options] [AUTH K=V...]\n\n  Authenticates users or machines to Vault using the provided arguments.";

fn finish(ui: &mut Ui, flags: &FlagSet, secret: &Value) -> i32 {
    let field = flags.str("field");
    if !field.is_empty() {
        return print_raw_field(ui, flags, secret, &field);
    }
    output_secret(ui, flags, secret)
}

pub fn create(ui: &mut Ui, args: &[String]) -> i32 {
    let fs = FlagSet::new()
        .with_output(true)
        .flag("id", Kind::Str)
        .flag("display-name", Kind::Str)
        .flag("ttl", Kind::Duration)
        .flag("explicit-max-ttl", Kind::Duration)
        .flag("period", Kind::Duration)
        .flag_default("renewable", Kind::Bool, "true")
        .flag("orphan", Kind::Bool)
        .flag("no-default-policy", Kind::Bool)
        .flag("use-limit", Kind::Int)
        .flag("role", Kind::Str)
        .flag_default("type", Kind::Str, "service")
        .flag("policy", Kind::Slice)
        .flag("metadata", Kind::Multi)
        .flag("entity-alias", Kind::Str);
    let flags = match parse_flags(ui, fs, args, CREATE_HELP) {
        Ok(f) => f,
        Err(c) => return c,
    };
    if let Err(c) = check_args(ui, &flags.args, 0, Some(0)) {
        return c;
    }
    let mut fields: Vec<(&'static str, GoVal)> = Vec::new();
    let id = flags.str("id");
    if !id.is_empty() {
        fields.push(("id", GoVal::Json(Value::String(id))));
    }
    let policies: Vec<String> = flags
        .list("policy")
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect();
    if !policies.is_empty() {
        fields.push(("policies", GoVal::Json(Value::from(policies))));
    }
    let mut meta = Map::new();
    for kv in flags.list("metadata") {
        let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
        meta.insert(k.to_string(), Value::String(v.to_string()));
    }
    if !meta.is_empty() {
        fields.push(("meta", GoVal::Json(Value::Object(meta))));
    }
    let dur = |n: &str| GoVal::Json(Value::String(go_string(flags.duration(n))));
    fields.push(("ttl", dur("ttl")));
    fields.push(("explicit_max_ttl", dur("explicit-max-ttl")));
    fields.push(("period", dur("period")));
    if flags.bool("orphan") {
        fields.push(("no_parent", GoVal::Json(Value::Bool(true))));
    }
    if flags.bool("no-default-policy") {
        fields.push(("no_default_policy", GoVal::Json(Value::Bool(true))));
    }
    fields.push((
        "display_name",
        GoVal::Json(Value::String(flags.str("display-name"))),
    ));
    fields.push(("num_uses", GoVal::Json(Value::from(flags.int("use-limit")))));
    fields.push((
        "renewable",
        GoVal::Json(Value::Bool(flags.bool("renewable"))),
    ));
    fields.push(("type", GoVal::Json(Value::String(flags.str("type")))));
    fields.push((
        "entity_alias",
        GoVal::Json(Value::String(flags.str("entity-alias"))),
    ));
    let client = match client(ui, &flags) {
        Ok(c) => c,
        Err(c) => return c,
    };
    let role = flags.str("role");
    let path = if role.is_empty() {
        "auth/token/create".to_string()
    } else {
        format!("auth/token/create/{role}")
    };
    let bytes = format::go_json_val(&GoVal::Struct(fields), false).into_bytes();
    let resp = client
        .raw("POST", &path, &[], Some(bytes), None)
        .and_then(crate::cli::client::check);
    match resp {
        Err(e) => api_error(ui, "Error creating token", &e),
        Ok(r) => match serde_json::from_slice::<Value>(&r.body) {
            Ok(secret) => finish(ui, &flags, &secret),
            Err(e) => {
                ui.error(&format!("Error creating token: {e}"));
                2
            }
        },
    }
}

pub fn lookup(ui: &mut Ui, args: &[String]) -> i32 {
    let fs = FlagSet::new()
        .with_output(true)
        .flag("accessor", Kind::Bool);
    let flags = match parse_flags(ui, fs, args, LOOKUP_HELP) {
        Ok(f) => f,
        Err(c) => return c,
    };
    if let Err(c) = check_args(ui, &flags.args, 0, Some(1)) {
        return c;
    }
    let token = flags.args.first().map(|t| t.trim().to_string());
    if flags.bool("accessor") && token.is_none() {
        ui.error("Not enough arguments (expected 1, got 0)");
        return 1;
    }
    let client = match client(ui, &flags) {
        Ok(c) => c,
        Err(c) => return c,
    };
    let result = match (&token, flags.bool("accessor")) {
        (None, _) => client.read("auth/token/lookup-self", &[]),
        (Some(t), true) => client.write(
            "POST",
            "auth/token/lookup-accessor",
            &[],
            Some(&json!({ "accessor": t })),
        ),
        (Some(t), false) => client.write(
            "POST",
            "auth/token/lookup",
            &[],
            Some(&json!({ "token": t })),
        ),
    };
    match result {
        Err(e) => api_error(ui, "Error looking up token", &e),
        Ok(None) => {
            ui.error("Error looking up token: no data returned");
            2
        }
        Ok(Some(secret)) => finish(ui, &flags, &secret),
    }
}

pub fn renew(ui: &mut Ui, args: &[String]) -> i32 {
    let fs = FlagSet::new()
        .with_output(true)
        .flag("increment", Kind::Duration)
        .flag("i", Kind::Duration)
        .flag("accessor", Kind::Bool);
    let flags = match parse_flags(ui, fs, args, RENEW_HELP) {
        Ok(f) => f,
        Err(c) => return c,
    };
    if let Err(c) = check_args(ui, &flags.args, 0, Some(1)) {
        return c;
    }
    let increment = flags.duration("increment").max(flags.duration("i")).max(0);
    let client = match client(ui, &flags) {
        Ok(c) => c,
        Err(c) => return c,
    };
    let result = match flags.args.first().map(|t| t.trim().to_string()) {
        None => client.write(
            "PUT",
            "auth/token/renew-self",
            &[],
            Some(&json!({ "increment": increment })),
        ),
        Some(t) if flags.bool("accessor") => client.write(
            "PUT",
            "auth/token/renew-accessor",
            &[],
            Some(&json!({ "accessor": t, "increment": increment })),
        ),
        Some(t) => client.write(
            "PUT",
            "auth/token/renew",
            &[],
            Some(&json!({ "increment": increment, "token": t })),
        ),
    };
    match result {
        Err(e) => api_error(ui, "Error renewing token", &e),
        Ok(None) => {
            ui.error("Error renewing token: no data returned");
            2
        }
        Ok(Some(secret)) => finish(ui, &flags, &secret),
    }
}

pub fn revoke(ui: &mut Ui, args: &[String]) -> i32 {
    let fs = FlagSet::new()
        .flag("accessor", Kind::Bool)
        .flag("self", Kind::Bool)
        .flag("mode", Kind::Str);
    let flags = match parse_flags(ui, fs, args, REVOKE_HELP) {
        Ok(f) => f,
        Err(c) => return c,
    };
    let n = flags.args.len();
    if flags.bool("self") {
        if n > 0 {
            ui.error(&format!("Too many arguments (expected 0, got {n})"));
            return 1;
        }
    } else if let Err(c) = check_args(ui, &flags.args, 1, Some(1)) {
        return c;
    }
    let mode = flags.str("mode");
    if !matches!(mode.as_str(), "" | "orphan" | "path") {
        ui.error(&format!("Invalid mode: {mode}"));
        return 1;
    }
    if flags.bool("self") && flags.bool("accessor") {
        ui.error("Cannot use -self with -accessor!");
        return 1;
    }
    if flags.bool("self") && !mode.is_empty() {
        ui.error("Cannot use -self with -mode!");
        return 1;
    }
    if flags.bool("accessor") && mode == "orphan" {
        ui.error("Cannot use -accessor with -mode=orphan!");
        return 1;
    }
    if flags.bool("accessor") && mode == "path" {
        ui.error("Cannot use -accessor with -mode=path!");
        return 1;
    }
    let token = flags
        .args
        .first()
        .map(|t| t.trim().to_string())
        .unwrap_or_default();
    let client = match client(ui, &flags) {
        Ok(c) => c,
        Err(c) => return c,
    };
    let result = if flags.bool("self") {
        client.request("PUT", "auth/token/revoke-self", &[], None)
    } else if flags.bool("accessor") {
        client.request(
            "POST",
            "auth/token/revoke-accessor",
            &[],
            Some(&json!({ "accessor": token })),
        )
    } else if mode == "orphan" {
        client.request(
            "PUT",
            "auth/token/revoke-orphan",
            &[],
            Some(&json!({ "token": token })),
        )
    } else if mode == "path" {
        client.request(
            "PUT",
            &format!("sys/leases/revoke-prefix/{token}"),
            &[],
            None,
        )
    } else {
        client.request(
            "PUT",
            "auth/token/revoke",
            &[],
            Some(&json!({ "token": token })),
        )
    };
    match result {
        Err(e) => api_error(ui, "Error revoking token", &e),
        Ok(_) => {
            ui.output("Success! Revoked token (if it existed)");
            0
        }
    }
}

pub fn capabilities(ui: &mut Ui, args: &[String]) -> i32 {
    let fs = FlagSet::new()
        .with_output(false)
        .flag("accessor", Kind::Bool);
    let flags = match parse_flags(ui, fs, args, CAPS_HELP) {
        Ok(f) => f,
        Err(c) => return c,
    };
    if let Err(c) = check_args(ui, &flags.args, 1, Some(2)) {
        return c;
    }
    let (token, path) = if flags.args.len() == 2 {
        (Some(flags.args[0].clone()), flags.args[1].clone())
    } else {
        (None, flags.args[0].clone())
    };
    let client = match client(ui, &flags) {
        Ok(c) => c,
        Err(c) => return c,
    };
    let result = match &token {
        None => client.request(
            "POST",
            "sys/capabilities-self",
            &[],
            Some(&json!({ "paths": [path] })),
        ),
        Some(t) if flags.bool("accessor") => client.request(
            "POST",
            "sys/capabilities-accessor",
            &[],
            Some(&json!({ "accessor": t, "paths": [path] })),
        ),
        Some(t) => client.request(
            "POST",
            "sys/capabilities",
            &[],
            Some(&json!({ "paths": [path], "token": t })),
        ),
    };
    let body = match result {
        Err(e) => return api_error(ui, "Error listing capabilities", &e),
        Ok(r) => serde_json::from_slice::<Value>(&r.body).unwrap_or(Value::Null),
    };
    let data = body.get("data").unwrap_or(&body);
    let caps = data
        .get(&path)
        .or_else(|| data.get("capabilities"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut caps: Vec<String> = caps.iter().map(format::go_v).collect();
    caps.sort();
    if flags.format() == "table" {
        ui.output(&caps.join(", "));
        return 0;
    }
    output_data(ui, &flags, &Value::from(caps))
}

/// `vault login`: token (argument, `-` for stdin), a generic
/// `POST auth/<path>/login` with the `k=v` arguments for other methods
/// (`-method=approle role_id=… secret_id=…`), and `-method=cert` over the
/// client certificate.
pub fn login(ui: &mut Ui, args: &[String]) -> i32 {
    let fs = FlagSet::new()
        .with_output(true)
        .flag_default("method", Kind::Str, "token")
        .flag("path", Kind::Str)
        .flag("no-print", Kind::Bool)
        .flag("no-store", Kind::Bool)
        .flag("token-only", Kind::Bool);
    let flags = match parse_flags(ui, fs, args, LOGIN_HELP) {
        Ok(f) => f,
        Err(c) => return c,
    };
    let method = flags.str("method").trim().to_lowercase();
    let mut client = match client(ui, &flags) {
        Ok(c) => c,
        Err(c) => return c,
    };
    let secret: Value = if method == "token" {
        if flags.args.len() > 1 {
            ui.error(&format!(
                "Too many arguments (expected 1, got {})",
                flags.args.len()
            ));
            return 1;
        }
        let token = match flags.args.first().map(String::as_str) {
            Some("-") => {
                let mut buf = String::new();
                let _ = ui.stdin.read_to_string(&mut buf);
                buf.trim().to_string()
            }
            Some(t) if t.starts_with("token=") => t["token=".len()..].to_string(),
            Some(t) => t.to_string(),
            None => {
                ui.error("Error authenticating: An error occurred attempting to ask for a token. The raw error message is shown below, but usually this is because you attempted to pipe a value into the command or you are executing outside of a terminal (tty). If you want to pipe the value, pass \"-\" as the argument to read from stdin. The raw error was: file descriptor 0 is not a terminal");
                return 2;
            }
        };
        if token.is_empty() {
            ui.error("Error authenticating: a token must be passed to auth, please view the help for more information");
            return 2;
        }
        client.token = token.clone();
        let lookup = match client.read("auth/token/lookup-self", &[]) {
            Ok(Some(s)) => s,
            Ok(None) => {
                ui.error("Error authenticating: empty response from lookup-self");
                return 2;
            }
            Err(e) => {
                ui.error(&format!(
                    "Error authenticating: error looking up token: {e}"
                ));
                return 2;
            }
        };
        let d = lookup.get("data").cloned().unwrap_or(Value::Null);
        let policies = d.get("policies").cloned().unwrap_or(Value::Null);
        json!({
            "auth": {
                "client_token": d.get("id").cloned().unwrap_or(Value::String(token)),
                "accessor": d.get("accessor").cloned().unwrap_or(Value::Null),
                "policies": policies,
                "token_policies": policies,
                "metadata": d.get("meta").cloned().unwrap_or(Value::Null),
                "lease_duration": d.get("ttl").and_then(Value::as_i64).unwrap_or(0),
                "renewable": d.get("renewable").and_then(Value::as_bool).unwrap_or(false),
            }
        })
    } else {
        let data = match parse_kv(ui, &flags.args) {
            Ok(d) => d,
            Err(c) => return c,
        };
        let mut mount = flags.str("path");
        if mount.is_empty() {
            mount = method.clone();
        }
        let mount = super::sanitize_path(&mount);
        let mut body = Map::new();
        if let Some(data) = data {
            for (k, v) in data {
                body.insert(k, v);
            }
        }
        if method == "cert" {
            // Only `name` is meaningful; the certificate does the rest.
            body.retain(|k, _| k == "name");
        }
        let mut login_path = format!("auth/{mount}/login");
        if method == "userpass" {
            match userpass_login(ui, &flags, &mount, body) {
                Ok((path, password)) => (login_path, body) = (path, password),
                Err(message) => {
                    ui.error(&format!("Error authenticating: {message}"));
                    return 2;
                }
            }
        } else if matches!(method.as_str(), "ldap" | "okta" | "radius") {
            // userpass-style methods log in at `login/<username>`.
            if let Some(Value::String(user)) = body.remove("username") {
                login_path = format!("{login_path}/{user}");
            }
        }
        // A login must not carry a stale token.
        client.token.clear();
        match client.write("PUT", &login_path, &[], Some(&Value::Object(body))) {
            Ok(Some(s)) if s.get("auth").is_some_and(Value::is_object) => s,
            Ok(_) => {
                ui.error("Error authenticating: no secret or auth data returned");
                return 2;
            }
            Err(e) => return api_error(ui, "Error authenticating", &e),
        }
    };
    let token = secret["auth"]["client_token"]
        .as_str()
        .unwrap_or("")
        .to_string();
    if flags.bool("token-only") {
        ui.raw(&token);
        return 0;
    }
    if !flags.bool("no-store") {
        if let Some(file) = token_file() {
            if let Err(e) = write_token_file(&file, &token) {
                ui.error(&format!(
                    "Error storing token: {e}\n\nAuthentication was successful, but the token was not persisted. The resulting token is shown below for your records."
                ));
                output_secret(ui, &flags, &secret);
                return 2;
            }
        }
    }
    if std::env::var("VAULT_TOKEN").is_ok_and(|v| !v.is_empty()) {
        ui.error(&format::wrap_padded(
            "WARNING! The VAULT_TOKEN environment variable is set! The value of this variable will take precedence; if this is unwanted please unset VAULT_TOKEN or update its value accordingly.",
            0,
        ));
        ui.error("");
    }
    if flags.bool("no-print") {
        return 0;
    }
    let field = flags.str("field");
    if !field.is_empty() {
        return print_raw_field(ui, &flags, &secret, &field);
    }
    if flags.format() == "table" {
        ui.output(&format!(
            "{}\n",
            format::wrap_padded(
                "Success! You are now authenticated. The token information displayed below is already stored in the token helper. You do NOT need to run \"vault login\" again. Future Vault requests will automatically use this token.",
                0
            )
        ));
    }
    output_secret(ui, &flags, &secret)
}

/// Vault's userpass CLI handler: `username` is required, `mount=` names
/// the mount, and only the password is sent, asked for on the terminal
/// when not given. Returns the login path and body.
fn userpass_login(
    ui: &mut Ui,
    flags: &FlagSet,
    default_mount: &str,
    args: Map<String, Value>,
) -> Result<(String, Map<String, Value>), String> {
    let arg = |key: &str| match args.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let username = arg("username");
    if username.is_empty() {
        return Err("'username' must be specified".into());
    }
    let mut password = arg("password");
    if password.is_empty() {
        if flags.bool("non-interactive") {
            return Err("'password' must be specified and refusing to pull from stdin".into());
        }
        let _ = write!(ui.err, "Password (will be hidden): ");
        let read = ui.read_hidden();
        ui.error("");
        password = read?;
    }
    let mount = match arg("mount") {
        m if m.is_empty() => default_mount.to_string(),
        m => super::sanitize_path(&m),
    };
    let body = Map::from_iter([("password".to_string(), Value::String(password))]);
    Ok((format!("auth/{mount}/login/{username}"), body))
}

fn write_token_file(file: &std::path::Path, token: &str) -> std::io::Result<()> {
    std::fs::write(file, token)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}
