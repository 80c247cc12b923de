//! The client commands of Vault's CLI. Each takes its arguments (after the
//! command words) and a `Ui`, and returns the process exit code: 0 ok,
//! 1 usage/parse error, 2 API error; 127 for an unknown command.

use std::io::{Read, Write};

use serde_json::{Map, Value};

use super::client::{Client, Error as ClientError};
use super::flags::FlagSet;
use super::format;

mod generate_root;
mod migrate;
mod mount_move;
mod mounts;
mod policy;
mod rekey;
mod rw;
mod snapshot;
mod sys;
mod token;
mod unwrap;

/// Where a command reads and writes (`cli.Ui`).
pub struct Ui<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
    pub stdin: &'a mut dyn Read,
    /// stdout is a terminal (`-field` then ends with a newline).
    pub tty: bool,
    /// stdin is a terminal: a command may ask for a secret there.
    pub stdin_tty: bool,
}

impl Ui<'_> {
    /// `ui.Output`: stdout, with a newline.
    pub fn output(&mut self, s: &str) {
        let _ = writeln!(self.out, "{s}");
    }

    /// `ui.Error` / `ui.Warn`: stderr, with a newline.
    pub fn error(&mut self, s: &str) {
        let _ = writeln!(self.err, "{s}");
    }

    /// `PrintRaw`: no newline unless stdout is a terminal.
    pub fn raw(&mut self, s: &str) {
        if self.tty {
            let _ = writeln!(self.out, "{s}");
        } else {
            let _ = write!(self.out, "{s}");
        }
    }

    /// A line typed on the terminal without echo (`password.Read`); an
    /// error, with Go's text, when stdin is not a terminal.
    pub fn read_hidden(&self) -> Result<String, String> {
        if self.stdin_tty {
            rpassword::read_password().map_err(|e| e.to_string())
        } else {
            Err("file descriptor 0 is not a terminal".to_string())
        }
    }

    /// Asks for an unseal key on the terminal, as `operator unseal`,
    /// `generate-root` and `rekey` do; `None` once the failure is reported.
    pub fn ask_unseal_key(&mut self) -> Option<String> {
        let _ = write!(self.out, "Unseal Key (will be hidden): ");
        let _ = self.out.flush();
        let read = self.read_hidden();
        self.output("");
        match read {
            Ok(key) => Some(key),
            Err(e) => {
                self.error(&format::wrap_padded(&format!("An error occurred attempting to ask for the unseal key. The raw error message is shown below, but usually this is because you attempted to pipe a value into the command or you are executing outside of a terminal (tty). If you want to pipe the value, pass \"-\" as the argument to read from stdin. The raw error was: {e}"), 0));
                None
            }
        }
    }
}

/// Flags Vault's `main.go` reads from anywhere on the command line
/// (`globalFlags`): no "must be provided before positional arguments"
/// warning for them.
const GLOBAL_FLAGS: &[&str] = &["format", "detailed", "output-curl-string", "output-policy"];

fn flag_name(arg: &str) -> Option<&str> {
    if !arg.starts_with('-') || arg == "-" || arg == "--" {
        return None;
    }
    let trimmed = arg.trim_start_matches('-');
    Some(trimmed.split_once('=').map(|(n, _)| n).unwrap_or(trimmed))
}

/// Vault's `main.go` reads `-format=X` from anywhere on the command line
/// (before `--`), even after the positional arguments, where it still
/// counts as an argument.
fn format_anywhere(args: &[String]) -> Option<String> {
    let mut found = None;
    for a in args {
        if a == "--" {
            break;
        }
        if let Some(v) = a
            .strip_prefix("--format=")
            .or_else(|| a.strip_prefix("-format="))
        {
            found = Some(v.to_string());
        }
    }
    found
}

/// Parses flags, printing Go's error on failure (exit 1).
pub fn parse_flags(ui: &mut Ui, fs: FlagSet, args: &[String], help: &str) -> Result<FlagSet, i32> {
    match fs.parse(args) {
        Ok(mut fs) => {
            if let Some(format) = format_anywhere(args) {
                fs.set_str("format", &format);
            }
            if args.iter().take_while(|a| *a != "--").any(|a| {
                matches!(
                    a.as_str(),
                    "-detailed" | "--detailed" | "-detailed=true" | "--detailed=true"
                )
            }) {
                fs.set_bool("detailed");
            }
            let trailing: Vec<&str> = fs
                .args
                .iter()
                .filter(|a| flag_name(a).is_some_and(|n| !GLOBAL_FLAGS.contains(&n)))
                .map(String::as_str)
                .collect();
            if !trailing.is_empty() && fs.format() == "table" {
                ui.error(&format!(
                    "Command flags must be provided before positional arguments. The following arguments will not be parsed as flags: [{}]",
                    trailing.join(",")
                ));
            }
            if fs.format() == "raw" && !fs.allow_raw {
                ui.error("This command does not support the -format=raw option.");
                return Err(1);
            }
            Ok(fs)
        }
        Err(e) if e == "flag: help requested" => {
            ui.error(help.trim_end());
            Err(0)
        }
        Err(e) => {
            ui.error(&e);
            Err(1)
        }
    }
}

/// `Not enough arguments (expected N, got M)` / `Too many arguments …`.
pub fn check_args(ui: &mut Ui, args: &[String], min: usize, max: Option<usize>) -> Result<(), i32> {
    let n = args.len();
    let expected = match max {
        Some(max) if max != min && n < min => format!("at least {min}"),
        _ => format!("{min}"),
    };
    if n < min {
        ui.error(&format!(
            "Not enough arguments (expected {expected}, got {n})"
        ));
        return Err(1);
    }
    if let Some(max) = max {
        if n > max {
            let expected = if max == min {
                format!("{max}")
            } else {
                format!("at most {max}")
            };
            ui.error(&format!(
                "Too many arguments (expected {expected}, got {n})"
            ));
            return Err(1);
        }
    }
    Ok(())
}

pub fn client(ui: &mut Ui, flags: &FlagSet) -> Result<Client, i32> {
    Client::from_flags(flags).map_err(|e| {
        ui.error(&e);
        2
    })
}

/// Vault's `sanitizePath`.
pub fn sanitize_path(s: &str) -> String {
    s.trim()
        .trim_start_matches('/')
        .trim_end_matches('/')
        .to_string()
}

/// Vault's `ensureTrailingSlash`.
pub fn ensure_trailing_slash(s: &str) -> String {
    let s = s.trim();
    if s.is_empty() || s.ends_with('/') {
        s.to_string()
    } else {
        format!("{s}/")
    }
}

/// `k=v` arguments through kv-builder.
pub fn parse_kv(ui: &mut Ui, args: &[String]) -> Result<Option<Map<String, Value>>, i32> {
    let mut builder = super::kv::Builder::new(&mut *ui.stdin);
    match builder.add_all(args) {
        Ok(()) => Ok(builder.into_map()),
        Err(e) => {
            ui.error(&format!("Failed to parse K=V data: {e}"));
            Err(1)
        }
    }
}

/// The map as URL query pairs (strings; arrays repeat the key).
pub fn query_pairs(data: &Option<Map<String, Value>>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(map) = data {
        for (k, v) in map {
            match v {
                Value::Array(items) => {
                    for i in items {
                        out.push((k.clone(), format::go_v(i)));
                    }
                }
                other => out.push((k.clone(), format::go_v(other))),
            }
        }
    }
    out
}

fn print_warnings(ui: &mut Ui, secret: &Value) {
    let warnings: Vec<String> = secret
        .get("warnings")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(format::go_v).collect())
        .unwrap_or_default();
    if warnings.is_empty() {
        return;
    }
    ui.error("WARNING! The following warnings were returned from Vault:\n");
    for w in warnings {
        ui.error(&format::wrap_padded(&format!("* {w}"), 2));
        ui.error("");
    }
}

fn invalid_format(ui: &mut Ui, fmt: &str) -> i32 {
    ui.error(&format!("Invalid output format: {fmt}"));
    1
}

/// `OutputSecret`.
pub fn output_secret(ui: &mut Ui, flags: &FlagSet, secret: &Value) -> i32 {
    match flags.format().as_str() {
        "table" => {
            print_warnings(ui, secret);
            let rows = format::secret_rows(secret);
            if !rows.is_empty() {
                ui.output(&format::kv_table(&rows));
            }
            0
        }
        "json" => {
            ui.output(&format::go_json_val(&format::secret_struct(secret), true));
            0
        }
        "yaml" | "yml" => {
            ui.output(&format::yaml(&format::secret_value(secret)));
            0
        }
        "raw" => {
            ui.error("Could not parse output: This command does not support the -format=raw option; only `vault read` does.");
            1
        }
        other => invalid_format(ui, other),
    }
}

/// `OutputData` for plain values (maps print as Key/Value tables, lists
/// one item a line).
pub fn output_data(ui: &mut Ui, flags: &FlagSet, data: &Value) -> i32 {
    match flags.format().as_str() {
        "table" => match data {
            Value::Object(m) => {
                let rows = format::map_rows(m);
                if !rows.is_empty() {
                    ui.output(&format::kv_table(&rows));
                }
                0
            }
            Value::Array(items) => {
                let lines: Vec<String> = items.iter().map(format::go_v).collect();
                ui.output(&format::columnize(&lines, "|"));
                0
            }
            _ => {
                ui.error("Could not parse output: cannot use the table formatter for this type");
                1
            }
        },
        "json" => {
            ui.output(&format::go_json(data, true));
            0
        }
        "yaml" | "yml" => {
            ui.output(&format::yaml(data));
            0
        }
        "raw" => {
            ui.error("Could not parse output: This command does not support the -format=raw option; only `vault read` does.");
            1
        }
        other => invalid_format(ui, other),
    }
}

/// `PrintRawField`.
pub fn print_raw_field(ui: &mut Ui, flags: &FlagSet, secret: &Value, field: &str) -> i32 {
    let val = extract_field(secret, field);
    let Some(val) = val.filter(|v| !v.is_null()) else {
        ui.error(&format!("Field \"{field}\" not present in secret"));
        return 1;
    };
    match flags.format().as_str() {
        "" | "table" | "raw" => {
            ui.raw(&format::go_v(&val));
            0
        }
        "json" => {
            ui.raw(&format::go_json(&val, true));
            0
        }
        "yaml" | "yml" => {
            ui.raw(&format::yaml(&val));
            0
        }
        other => invalid_format(ui, other),
    }
}

fn extract_field(secret: &Value, field: &str) -> Option<Value> {
    let get = |k: &str| secret.get(k).cloned();
    match field {
        "refresh_interval" | "lease_duration" => return get("lease_duration"),
        "lease_id" => return get("lease_id"),
        "lease_renewable" => return get("renewable"),
        "wrapping_token"
        | "wrapping_accessor"
        | "wrapping_token_ttl"
        | "wrapping_token_creation_time"
        | "wrapping_token_creation_path" => {
            let key = match field {
                "wrapping_token" => "token",
                "wrapping_accessor" => "accessor",
                "wrapping_token_ttl" => "ttl",
                "wrapping_token_creation_time" => "creation_time",
                _ => "creation_path",
            };
            return secret.get("wrap_info").and_then(|w| w.get(key)).cloned();
        }
        _ => {}
    }
    if let Some(auth) = secret.get("auth").filter(|a| a.is_object()) {
        let a = |k: &str| auth.get(k).cloned();
        match field {
            "token" => return a("client_token"),
            "token_accessor" => return a("accessor"),
            "token_duration" => return a("lease_duration"),
            "token_renewable" => return a("renewable"),
            "token_policies" => return a("token_policies"),
            "identity_policies" => return a("identity_policies"),
            "policies" => return a("policies"),
            f if f.starts_with("token_meta_") => {
                return auth
                    .get("metadata")
                    .and_then(|m| m.get(&f["token_meta_".len()..]))
                    .cloned()
            }
            _ => {}
        }
    }
    secret.get("data").and_then(|d| d.get(field)).cloned()
}

/// An API or transport error: `<prefix>: <error>`, exit 2.
pub fn api_error(ui: &mut Ui, prefix: &str, err: &ClientError) -> i32 {
    ui.error(&format!("{prefix}: {err}"));
    2
}

const MAIN_USAGE: &str = "Usage: vault <command> [args]

Common commands:
    read        Read data and retrieves secrets
    write       Write data, configuration, and secrets
    delete      Delete secrets and configuration
    list        List data or secrets
    login       Authenticate locally
    agent       Start a Vault agent
    server      Start a Vault server
    status      Print seal and HA status
    unwrap      Unwrap a wrapped secret

Other commands:
    audit                Interact with audit devices
    auth                 Interact with auth methods
    debug                Runs the debug command
    kv                   Interact with Vault's Key-Value storage
    lease                Interact with leases
    monitor              Stream log messages from a Vault server
    namespace            Interact with namespaces
    operator             Perform operator-specific tasks
    patch                Patch data, configuration, and secrets
    path-help            Retrieve API help for paths
    pki                  Interact with Vault's PKI Secrets Engine
    plugin               Interact with Vault plugins and catalog
    policy               Interact with policies
    print                Prints runtime configurations
    proxy                Start a Vault Proxy
    secrets              Interact with secrets engines
    ssh                  Initiate an SSH session
    token                Interact with tokens
    transform            Interact with Vault's Transform Secrets Engine
    transit              Interact with Vault's Transit Secrets Engine
    version-history      Prints the version history of the target Vault server";

pub fn sys_version_string() -> String {
    sys::version_string()
}

/// Runs a client command. `args` excludes the program name.
pub fn run(args: &[String], ui: &mut Ui) -> i32 {
    let Some(first) = args.first() else {
        ui.error(MAIN_USAGE);
        return 127;
    };
    let rest = &args[1..];
    match first.as_str() {
        "-v" | "-version" | "--version" | "version" => sys::version(ui, rest),
        "-h" | "-help" | "--help" => {
            ui.error(MAIN_USAGE);
            0
        }
        "read" => rw::read(ui, rest),
        "write" => rw::write(ui, rest, "PUT"),
        "patch" => rw::write(ui, rest, "PATCH"),
        "delete" => rw::delete(ui, rest),
        "list" => rw::list(ui, rest),
        "status" => sys::status(ui, rest),
        "login" => token::login(ui, rest),
        "unwrap" => unwrap::unwrap(ui, rest),
        "secrets" => group(ui, "secrets", rest),
        "auth" => group(ui, "auth", rest),
        "policy" => group(ui, "policy", rest),
        "token" => group(ui, "token", rest),
        "operator" => group(ui, "operator", rest),
        _ => {
            ui.error(MAIN_USAGE);
            127
        }
    }
}

fn group(ui: &mut Ui, name: &str, args: &[String]) -> i32 {
    let sub = args.first().map(String::as_str).unwrap_or("");
    let rest = if args.is_empty() { args } else { &args[1..] };
    let code = match (name, sub) {
        ("secrets", "enable") => mounts::secrets_enable(ui, rest),
        ("secrets", "disable") => mounts::disable(ui, rest, false),
        ("secrets", "list") => mounts::list(ui, rest, false),
        ("secrets", "tune") => mounts::tune(ui, rest, false),
        ("secrets", "move") => mount_move::run(ui, rest, mount_move::Moved::SecretsEngine),
        ("auth", "enable") => mounts::auth_enable(ui, rest),
        ("auth", "disable") => mounts::disable(ui, rest, true),
        ("auth", "list") => mounts::list(ui, rest, true),
        ("auth", "tune") => mounts::tune(ui, rest, true),
        ("auth", "move") => mount_move::run(ui, rest, mount_move::Moved::AuthMethod),
        ("policy", "write") => policy::write(ui, rest),
        ("policy", "read") => policy::read(ui, rest),
        ("policy", "list") => policy::list(ui, rest),
        ("policy", "delete") => policy::delete(ui, rest),
        ("policy", "fmt") => policy::fmt(ui, rest),
        ("token", "create") => token::create(ui, rest),
        ("token", "lookup") => token::lookup(ui, rest),
        ("token", "renew") => token::renew(ui, rest),
        ("token", "revoke") => token::revoke(ui, rest),
        ("token", "capabilities") => token::capabilities(ui, rest),
        ("operator", "init") => sys::operator_init(ui, rest),
        ("operator", "unseal") => sys::operator_unseal(ui, rest),
        ("operator", "seal") => sys::operator_seal(ui, rest),
        ("operator", "migrate") => migrate::run(ui, rest),
        ("operator", "raft") => snapshot::raft(ui, rest),
        ("operator", "generate-root") => generate_root::run(ui, rest),
        ("operator", "rekey") => rekey::run(ui, rest),
        _ => -1,
    };
    if code >= 0 {
        return code;
    }
    ui.error(&group_usage(name));
    1
}

fn group_usage(name: &str) -> String {
    match name {
        "secrets" => include_str!("../help/secrets.txt"),
        "auth" => include_str!("../help/auth.txt"),
        "policy" => include_str!("../help/policy.txt"),
        "token" => include_str!("../help/token.txt"),
        _ => include_str!("../help/operator.txt"),
    }
    .trim_end()
    .to_string()
}
