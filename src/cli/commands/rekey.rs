//! `vault operator rekey`: starts, advances, verifies, shows and cancels a
//! rekey of the unseal key (`sys/rekey/*`), printing the new shares once.
//! See <https://developer.hashicorp.com/vault/docs/commands/operator/rekey>.
use serde_json::{json, Value};

use super::{api_error, client, output_data, output_secret, parse_flags, Ui};
use crate::cli::client::{Client, Error as ClientError};
use crate::cli::flags::{FlagSet, Kind};
use crate::cli::format::{self, GoVal};

const HELP: &str = "Usage: vault operator rekey [options] [KEY]

  Generates a new set of unseal keys. This can optionally change the total
  number of key shares or the required threshold of those key shares to
  reconstruct the root key. This operation is zero downtime, but it requires
  the Vault is unsealed and a quorum of existing unseal keys are provided.

  An unseal key may be provided directly on the command line as an argument to
  the command. If key is specified as \"-\", the command will read from stdin. If
  a TTY is available, the command will prompt for text.

  Initialize a rekey:

      $ vault operator rekey \\
          -init \\
          -key-shares=15 \\
          -key-threshold=9

  Rekey and encrypt the resulting unseal keys with PGP:

      $ vault operator rekey \\
          -init \\
          -key-shares=3 \\
          -key-threshold=2 \\
          -pgp-keys=\"keybase:hashicorp,keybase:jefferai,keybase:sethvargo\"

  Store encrypted PGP keys in Vault's core:

      $ vault operator rekey \\
          -init \\
          -pgp-keys=\"...\" \\
          -backup

  Retrieve backed-up unseal keys:

      $ vault operator rekey -backup-retrieve

  Delete backed-up unseal keys:

      $ vault operator rekey -backup-delete";

/// What the command acts on: the rekey itself or, with `-verify`, the
/// verification of its new shares.
#[derive(Clone, Copy, PartialEq)]
enum Stage {
    Rekey,
    Verification,
}

impl Stage {
    fn status_path(self) -> &'static str {
        match self {
            Stage::Rekey => "sys/rekey/init",
            Stage::Verification => "sys/rekey/verify",
        }
    }

    fn update_path(self) -> &'static str {
        match self {
            Stage::Rekey => "sys/rekey/update",
            Stage::Verification => "sys/rekey/verify",
        }
    }
}

pub fn run(ui: &mut Ui, args: &[String]) -> i32 {
    let fs = FlagSet::new()
        .with_output(false)
        .flag("init", Kind::Bool)
        .flag("cancel", Kind::Bool)
        .flag("status", Kind::Bool)
        .flag_default("key-shares", Kind::Int, "5")
        .flag("n", Kind::Int)
        .flag_default("key-threshold", Kind::Int, "3")
        .flag("t", Kind::Int)
        .flag("nonce", Kind::Str)
        .flag_default("target", Kind::Str, "barrier")
        .flag("verify", Kind::Bool)
        .flag("pgp-keys", Kind::Str)
        .flag("backup", Kind::Bool)
        .flag("backup-delete", Kind::Bool)
        .flag("backup-retrieve", Kind::Bool);
    let flags = match parse_flags(ui, fs, args, HELP) {
        Ok(f) => f,
        Err(c) => return c,
    };
    if flags.args.len() > 1 {
        ui.error(&format!(
            "Too many arguments (expected 0-1, got {})",
            flags.args.len()
        ));
        return 1;
    }
    let client = match client(ui, &flags) {
        Ok(c) => c,
        Err(_) => return 2,
    };
    let target = flags.str("target").trim().to_lowercase();
    if target != "barrier" {
        // Recovery keys belong to auto-unseal (HSM/KMS) seals, which have
        // no rekey endpoints here.
        ui.error(&format!("Unknown target: {}", flags.str("target")));
        return 1;
    }
    let stage = if flags.bool("verify") {
        Stage::Verification
    } else {
        Stage::Rekey
    };
    if flags.bool("backup-delete") {
        match client.request("DELETE", "sys/rekey/backup", &[], None) {
            Err(e) => api_error(ui, "Error deleting rekey stored keys", &e),
            Ok(_) => {
                ui.output("Success! Delete stored keys (if they existed)");
                0
            }
        }
    } else if flags.bool("backup-retrieve") {
        backup_retrieve(ui, &flags, &client)
    } else if flags.bool("cancel") {
        match client.request("DELETE", stage.status_path(), &[], None) {
            Err(e) => api_error(ui, "Error canceling rekey", &e),
            Ok(_) => {
                ui.output("Success! Canceled rekeying (if it was started)");
                0
            }
        }
    } else if flags.bool("init") {
        init(ui, &flags, &client)
    } else if flags.bool("status") {
        show_status(ui, &flags, &client, stage)
    } else {
        let key = flags
            .args
            .first()
            .map(|k| k.trim().to_string())
            .unwrap_or_default();
        provide(ui, &flags, &client, stage, key)
    }
}

/// One call to the rekey's endpoints; the JSON it answers with.
fn call(
    client: &Client,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, ClientError> {
    let resp = client.request(method, path, &[], body)?;
    serde_json::from_slice(&resp.body).map_err(|e| ClientError::Decode(e.to_string()))
}

/// An int flag with its one-letter alias (`-n`, `-t`), the later given
/// winning as Go's flag package has it for two names of one variable.
fn int_flag(flags: &FlagSet, name: &str, alias: &str) -> i64 {
    if flags.is_set(alias) && !flags.is_set(name) {
        flags.int(alias)
    } else {
        flags.int(name)
    }
}

fn init(ui: &mut Ui, flags: &FlagSet, client: &Client) -> i32 {
    let pgp_keys = match pgp_key_files(&flags.str("pgp-keys")) {
        Ok(keys) => keys,
        Err(e) => {
            ui.error(&e);
            return 1;
        }
    };
    let body = json!({
        "secret_shares": int_flag(flags, "key-shares", "n"),
        "secret_threshold": int_flag(flags, "key-threshold", "t"),
        "pgp_keys": if pgp_keys.is_empty() { Value::Null } else { json!(pgp_keys) },
        "backup": flags.bool("backup"),
        "require_verification": flags.bool("verify"),
    });
    let status = match call(client, "PUT", "sys/rekey/init", Some(&body)) {
        Ok(s) => s,
        Err(e) => return api_error(ui, "Error initializing rekey", &e),
    };
    if flags.format() == "table" {
        if pgp_keys.is_empty() {
            ui.error(&format::wrap_padded("WARNING! If you lose the keys after they are returned, there is no recovery. Consider canceling this operation and re-initializing with the -pgp-keys flag to protect the returned unseal keys along with -backup to allow recovery of the encrypted keys in case of emergency. You can delete the stored keys later using the -delete flag.", 0));
            ui.output("");
        } else if !flags.bool("backup") {
            ui.error(&format::wrap_padded("WARNING! You are using PGP keys for encrypted the resulting unseal keys, but you did not enable the option to backup the keys to Vault's core. If you lose the encrypted keys after they are returned, you will not be able to recover them. Consider canceling this operation and re-running with -backup to allow recovery of the encrypted unseal keys in case of emergency. You can delete the stored keys later using the -delete flag.", 0));
            ui.output("");
        }
    }
    print_status(ui, flags, Stage::Rekey, &status)
}

/// `-pgp-keys`: a comma-separated list of files, each read as Vault's
/// `PubKeyFilesFlag` reads them (base64 kept, binary encoded).
fn pgp_key_files(list: &str) -> Result<Vec<String>, String> {
    use base64::Engine;
    if list.is_empty() {
        return Ok(Vec::new());
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    list.split(',')
        .map(|path| {
            let bytes = std::fs::read(path.strip_prefix('@').unwrap_or(path)).map_err(|e| {
                let reason = match e.kind() {
                    std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
                    _ => e.to_string(),
                };
                format!("invalid value \"{list}\" for flag -pgp-keys: open {path}: {reason}")
            })?;
            Ok(match std::str::from_utf8(&bytes) {
                Ok(text) if b64.decode(text).is_ok() => text.to_string(),
                _ => b64.encode(&bytes),
            })
        })
        .collect()
}

fn show_status(ui: &mut Ui, flags: &FlagSet, client: &Client, stage: Stage) -> i32 {
    match call(client, "GET", stage.status_path(), None) {
        Err(e) => api_error(ui, "Error reading rekey status", &e),
        Ok(s) => print_status(ui, flags, stage, &s),
    }
}

/// Hands one key share to the rekey (or its verification): the argument,
/// stdin (`-`), or a hidden prompt on the terminal.
fn provide(ui: &mut Ui, flags: &FlagSet, client: &Client, stage: Stage, key: String) -> i32 {
    let current = match call(client, "GET", stage.status_path(), None) {
        Ok(s) => s,
        Err(e) => return api_error(ui, "Error getting rekey status", &e),
    };
    if current["started"] != Value::Bool(true) {
        ui.error(&format::wrap_padded(
            "No rekey is in progress. Start a rekey process by running \"vault operator rekey -init\".",
            0,
        ));
        return 1;
    }
    let (key, nonce) = match key.as_str() {
        "-" => {
            let mut buf = String::new();
            if let Err(e) = ui.stdin.read_to_string(&mut buf) {
                ui.error(&format!("Failed to read from stdin: {e}"));
                return 1;
            }
            (buf, flags.str("nonce"))
        }
        "" => {
            let nonce = text(&current, "nonce");
            ui.output(&format!("Rekey operation nonce: {nonce}"));
            match ui.ask_unseal_key() {
                Some(key) => (key, nonce),
                None => return 1,
            }
        }
        _ => (key, flags.str("nonce")),
    };
    if nonce.is_empty() {
        ui.error("Missing nonce value: specify it via the -nonce flag");
        return 1;
    }
    let body = json!({"key": key.trim(), "nonce": nonce});
    let answer = match call(client, "PUT", stage.update_path(), Some(&body)) {
        Ok(a) => a,
        Err(e) => return api_error(ui, "Error posting unseal key", &e),
    };
    if answer["complete"] != Value::Bool(true) {
        return show_status(ui, flags, client, stage);
    }
    match stage {
        Stage::Rekey => print_new_keys(ui, flags, client, &current, &answer),
        Stage::Verification => {
            ui.output(&format::wrap_padded("Rekey verification successful. The rekey operation is complete and the new keys are now active.", 0));
            0
        }
    }
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_string()
}

fn number(v: &Value, key: &str) -> i64 {
    v[key].as_i64().unwrap_or(0)
}

fn flag(v: &Value, key: &str) -> bool {
    v[key].as_bool().unwrap_or(false)
}

/// A list field as Go decodes it: `null` when absent.
fn strings(v: &Value, key: &str) -> Value {
    match &v[key] {
        Value::Array(items) => Value::Array(items.clone()),
        _ => Value::Null,
    }
}

/// Prints a Go API struct: `-format=json` in its field order, other
/// formats through `OutputData`.
fn output_struct(ui: &mut Ui, flags: &FlagSet, body: GoVal) -> i32 {
    if flags.format() == "json" {
        ui.output(&format::go_json_val(&body, true));
        return 0;
    }
    let value: Value = serde_json::from_str(&format::go_json_val(&body, false)).unwrap_or_default();
    output_data(ui, flags, &value)
}

/// A rekey's status (`RekeyStatusResponse`) or its verification's
/// (`RekeyVerificationStatusResponse`): Vault's table, or the struct.
fn print_status(ui: &mut Ui, flags: &FlagSet, stage: Stage, status: &Value) -> i32 {
    if flags.format() != "table" {
        let body = match stage {
            Stage::Rekey => GoVal::Struct(vec![
                ("nonce", GoVal::Json(text(status, "nonce").into())),
                ("started", GoVal::Json(flag(status, "started").into())),
                ("t", GoVal::Json(number(status, "t").into())),
                ("n", GoVal::Json(number(status, "n").into())),
                ("progress", GoVal::Json(number(status, "progress").into())),
                ("required", GoVal::Json(number(status, "required").into())),
                (
                    "pgp_fingerprints",
                    GoVal::Json(strings(status, "pgp_fingerprints")),
                ),
                ("backup", GoVal::Json(flag(status, "backup").into())),
                (
                    "verification_required",
                    GoVal::Json(flag(status, "verification_required").into()),
                ),
                (
                    "verification_nonce",
                    GoVal::Json(text(status, "verification_nonce").into()),
                ),
            ]),
            Stage::Verification => GoVal::Struct(vec![
                ("nonce", GoVal::Json(text(status, "nonce").into())),
                ("started", GoVal::Json(flag(status, "started").into())),
                ("t", GoVal::Json(number(status, "t").into())),
                ("n", GoVal::Json(number(status, "n").into())),
                ("progress", GoVal::Json(number(status, "progress").into())),
            ]),
        };
        return output_struct(ui, flags, body);
    }
    let mut rows = vec!["Key | Value".to_string()];
    match stage {
        Stage::Rekey => {
            rows.push(format!("Nonce | {}", text(status, "nonce")));
            rows.push(format!("Started | {}", flag(status, "started")));
            if flag(status, "started") {
                let (progress, required) = (number(status, "progress"), number(status, "required"));
                let note = if progress == required {
                    " (verification in progress)"
                } else {
                    ""
                };
                rows.push(format!("Rekey Progress | {progress}/{required}{note}"));
                rows.push(format!("New Shares | {}", number(status, "n")));
                rows.push(format!("New Threshold | {}", number(status, "t")));
                rows.push(format!(
                    "Verification Required | {}",
                    flag(status, "verification_required")
                ));
                if !text(status, "verification_nonce").is_empty() {
                    rows.push(format!(
                        "Verification Nonce | {}",
                        text(status, "verification_nonce")
                    ));
                }
            }
            if let Value::Array(fingerprints) = &status["pgp_fingerprints"] {
                if !fingerprints.is_empty() {
                    let shown: Vec<String> = fingerprints
                        .iter()
                        .map(|f| f.as_str().unwrap_or_default().to_string())
                        .collect();
                    rows.push(format!("PGP Fingerprints | [{}]", shown.join(" ")));
                    rows.push(format!("Backup | {}", flag(status, "backup")));
                }
            }
        }
        Stage::Verification => {
            rows.push(format!("Started | {}", flag(status, "started")));
            rows.push(format!("New Shares | {}", number(status, "n")));
            rows.push(format!("New Threshold | {}", number(status, "t")));
            rows.push(format!("Verification Nonce | {}", text(status, "nonce")));
            rows.push(format!(
                "Verification Progress | {}/{}",
                number(status, "progress"),
                number(status, "t")
            ));
        }
    }
    ui.output(&format::table(&rows, "|"));
    0
}

/// The completing share's answer (`RekeyUpdateResponse`): the new shares,
/// once; with verification asked, what to do next and its status.
fn print_new_keys(
    ui: &mut Ui,
    flags: &FlagSet,
    client: &Client,
    status: &Value,
    answer: &Value,
) -> i32 {
    if flags.format() != "table" {
        let mut fields = vec![
            ("nonce", GoVal::Json(text(answer, "nonce").into())),
            ("complete", GoVal::Json(flag(answer, "complete").into())),
            ("keys", GoVal::Json(strings(answer, "keys"))),
            ("keys_base64", GoVal::Json(strings(answer, "keys_base64"))),
            (
                "pgp_fingerprints",
                GoVal::Json(strings(answer, "pgp_fingerprints")),
            ),
            ("backup", GoVal::Json(flag(answer, "backup").into())),
            (
                "verification_required",
                GoVal::Json(flag(answer, "verification_required").into()),
            ),
        ];
        let verification_nonce = text(answer, "verification_nonce");
        if !verification_nonce.is_empty() {
            fields.push(("verification_nonce", GoVal::Json(verification_nonce.into())));
        }
        return output_struct(ui, flags, GoVal::Struct(fields));
    }
    ui.output("");
    let listed = |key: &str| -> Vec<String> {
        answer[key]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|k| k.as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let (keys, keys_b64, fingerprints) = (
        listed("keys"),
        listed("keys_base64"),
        listed("pgp_fingerprints"),
    );
    let shown = if keys_b64.len() == keys.len() {
        &keys_b64
    } else {
        &keys
    };
    for (i, key) in shown.iter().enumerate() {
        match fingerprints.get(i) {
            Some(fingerprint) => ui.output(&format!(
                "Key {} fingerprint: {fingerprint}; value: {key}",
                i + 1
            )),
            None => ui.output(&format!("Key {}: {key}", i + 1)),
        }
    }
    ui.output("");
    ui.output(&format!("Operation nonce: {}", text(answer, "nonce")));
    if !fingerprints.is_empty() && flag(answer, "backup") {
        ui.output("");
        ui.output(&format::wrap_padded("The encrypted unseal keys are backed up to \"core/unseal-keys-backup\" in the storage backend. Remove these keys at any time using \"vault operator rekey -backup-delete\". Vault does not automatically remove these keys.", 0));
    }
    let (shares, threshold) = (number(status, "n"), number(status, "t"));
    ui.output("");
    if !flag(status, "verification_required") {
        ui.output(&format::wrap_padded(&format!("Vault unseal keys rekeyed with {shares} key shares and a key threshold of {threshold}. Please securely distribute the key shares printed above. When Vault is re-sealed, restarted, or stopped, you must supply at least {threshold} of these keys to unseal it before it can start servicing requests."), 0));
        return 0;
    }
    ui.output(&format::wrap_padded(&format!("Vault has created a new unseal key, split into {shares} key shares and a key threshold of {threshold}. These will not be active until after verification is complete. Please securely distribute the key shares printed above. When Vault is re-sealed, restarted, or stopped, you must supply at least {threshold} of these keys to unseal it before it can start servicing requests."), 0));
    ui.output("");
    ui.error(&format::wrap_padded("Again, these key shares are _not_ valid until verification is performed. Do not lose or discard your current key shares until after verification is complete or you will be unable to unseal Vault. If you cancel the rekey process or seal Vault before verification is complete the new shares will be discarded and the current shares will remain valid.", 0));
    ui.output("");
    ui.error(&format::wrap_padded(
        "The current verification status, including initial nonce, is shown below.",
        0,
    ));
    ui.output("");
    show_status(ui, flags, client, Stage::Verification)
}

/// `-backup-retrieve`: the stored encrypted shares, as Vault prints its
/// `RekeyRetrieveResponse` (field names as the Go struct's).
fn backup_retrieve(ui: &mut Ui, flags: &FlagSet, client: &Client) -> i32 {
    let secret = match call(client, "GET", "sys/rekey/backup", None) {
        Ok(s) => s,
        Err(e) => return api_error(ui, "Error retrieving rekey stored keys", &e),
    };
    let data = &secret["data"];
    let shown = json!({
        "data": {
            "Nonce": data["nonce"].clone(),
            "Keys": data["keys"].clone(),
            "KeysB64": data["keys_base64"].clone(),
        }
    });
    output_secret(ui, flags, &shown)
}
