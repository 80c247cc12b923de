//! `vault operator generate-root`: starts, advances, shows and cancels a
//! root token generation (`sys/generate-root/*`), and makes and applies the
//! one-time pad the new token comes back under. See
//! <https://developer.hashicorp.com/vault/docs/commands/operator/generate-root>.
use base64::Engine;
use serde_json::{json, Value};

use super::{api_error, client, output_data, parse_flags, Ui};
use crate::cli::client::{Client, Error as ClientError};
use crate::cli::flags::{FlagSet, Kind};
use crate::cli::format::{self, GoVal};

const HELP: &str = "Usage: vault operator generate-root [options] [KEY]

  Generates a new root token by combining a quorum of share holders. One of
  the following must be provided to start the root token generation:

    - A base64-encoded one-time-password (OTP) provided via the \"-otp\" flag.
      Use the \"-generate-otp\" flag to generate a usable value. The resulting
      token is XORed with this value when it is returned. Use the \"-decode\"
      flag to output the final value.

    - A file containing a PGP key or a keybase username in the \"-pgp-key\"
      flag. The resulting token is encrypted with this public key.

  An unseal key may be provided directly on the command line as an argument to
  the command. If key is specified as \"-\", the command will read from stdin. If
  a TTY is available, the command will prompt for text.

  Generate an OTP code for the final token:

      $ vault operator generate-root -generate-otp

  Start a root token generation:

      $ vault operator generate-root -init -otp=\"...\"
      $ vault operator generate-root -init -pgp-key=\"...\"

  Enter an unseal key to progress root token generation:

      $ vault operator generate-root -otp=\"...\"";

/// Which token is generated: a root token, or (`-recovery-token`) a recovery
/// operation token, each with its own endpoints.
#[derive(Clone, Copy)]
enum Generated {
    Root,
    RecoveryToken,
}

impl Generated {
    fn attempt(self) -> &'static str {
        match self {
            Generated::Root => "sys/generate-root/attempt",
            Generated::RecoveryToken => "sys/generate-recovery-token/attempt",
        }
    }

    fn update(self) -> &'static str {
        match self {
            Generated::Root => "sys/generate-root/update",
            Generated::RecoveryToken => "sys/generate-recovery-token/update",
        }
    }
}

pub fn run(ui: &mut Ui, args: &[String]) -> i32 {
    let fs = FlagSet::new()
        .with_output(false)
        .flag("init", Kind::Bool)
        .flag("cancel", Kind::Bool)
        .flag("status", Kind::Bool)
        .flag("decode", Kind::Str)
        .flag("generate-otp", Kind::Bool)
        .flag("recovery-token", Kind::Bool)
        .flag("otp", Kind::Str)
        .flag("pgp-key", Kind::Str)
        .flag("nonce", Kind::Str);
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
    let generated = if flags.bool("recovery-token") {
        Generated::RecoveryToken
    } else {
        Generated::Root
    };
    if flags.bool("generate-otp") {
        generate_otp(ui, &flags, &client, generated)
    } else if !flags.str("decode").is_empty() {
        decode(ui, &flags, &client, generated)
    } else if flags.bool("cancel") {
        match client.request("DELETE", generated.attempt(), &[], None) {
            Err(e) => api_error(ui, "Error canceling root token generation", &e),
            Ok(_) => {
                ui.output("Success! Root token generation canceled (if it was started)");
                0
            }
        }
    } else if flags.bool("init") {
        init(ui, &flags, &client, generated)
    } else if flags.bool("status") {
        match status(&client, generated) {
            Err(e) => api_error(ui, "Error getting root generation status", &e),
            Ok(s) => output_status(ui, &flags, &s),
        }
    } else {
        provide(ui, &flags, &client, generated)
    }
}

/// One call to the generation's endpoints; the status it answers with.
fn call(
    client: &Client,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, ClientError> {
    let resp = client.request(method, path, &[], body)?;
    serde_json::from_slice(&resp.body).map_err(|e| ClientError::Decode(e.to_string()))
}

fn status(client: &Client, generated: Generated) -> Result<Value, ClientError> {
    call(client, "GET", generated.attempt(), None)
}

fn otp_length(status: &Value) -> usize {
    status["otp_length"]
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0)
}

/// A pad of the length the server's tokens have (`roottoken.GenerateOTP`).
fn generate_otp(ui: &mut Ui, flags: &FlagSet, client: &Client, generated: Generated) -> i32 {
    let length = match status(client, generated) {
        Ok(s) => otp_length(&s),
        Err(e) => return api_error(ui, "Error getting root generation status", &e),
    };
    let otp = crate::util::ids::random_base62(length);
    match flags.format().as_str() {
        "table" => {
            ui.raw(&otp);
            0
        }
        _ => output_data(ui, flags, &json!({"otp": otp, "otp_length": length})),
    }
}

fn decode(ui: &mut Ui, flags: &FlagSet, client: &Client, generated: Generated) -> i32 {
    let otp = flags.str("otp");
    if otp.is_empty() {
        ui.error("Missing otp: use -otp to supply it");
        return 1;
    }
    let mut encoded = flags.str("decode");
    if encoded == "-" {
        encoded = if flags.bool("non-interactive") {
            String::new()
        } else {
            let mut buf = String::new();
            if let Err(e) = ui.stdin.read_to_string(&mut buf) {
                ui.error(&format!("Failed to read from stdin: {e}"));
                return 1;
            }
            buf
        };
        if encoded.is_empty() {
            ui.error(
                "Missing encoded value. When using -decode=\"-\" value must be passed via stdin.",
            );
            return 1;
        }
    }
    if let Err(e) = status(client, generated) {
        return api_error(ui, "Error getting root generation status", &e);
    }
    match decode_token(&encoded, &otp) {
        Err(e) => {
            ui.error(&format!("Error decoding root token: {e}"));
            1
        }
        Ok(token) => match flags.format().as_str() {
            "table" => {
                ui.raw(&token);
                0
            }
            _ => output_data(ui, flags, &json!({ "token": token })),
        },
    }
}

/// The token under the pad, with the errors of Vault's `roottoken.DecodeToken`
/// (unpadded standard base64, then XOR with a pad of the same length).
fn decode_token(encoded: &str, otp: &str) -> Result<String, String> {
    // Go's base64 decoder skips line breaks (a piped value ends with one).
    let encoded: String = encoded
        .chars()
        .filter(|c| !matches!(c, '\r' | '\n'))
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(&encoded)
        .map_err(|e| {
            let at = match e {
                base64::DecodeError::InvalidByte(at, _)
                | base64::DecodeError::InvalidLastSymbol(at, _) => at,
                base64::DecodeError::InvalidLength(at) => at,
                base64::DecodeError::InvalidPadding => encoded.len(),
            };
            format!("error decoding base64'd token: illegal base64 data at input byte {at}")
        })?;
    if bytes.len() != otp.len() {
        return Err(format!(
            "error xoring token: length of byte slices is not equivalent: {} != {}",
            bytes.len(),
            otp.len()
        ));
    }
    let token: Vec<u8> = bytes.iter().zip(otp.bytes()).map(|(b, o)| b ^ o).collect();
    Ok(String::from_utf8_lossy(&token).into_owned())
}

fn init(ui: &mut Ui, flags: &FlagSet, client: &Client, generated: Generated) -> i32 {
    let otp = flags.str("otp");
    let pgp_key = match pgp_key_file(&flags.str("pgp-key")) {
        Ok(key) => key,
        Err(e) => {
            ui.error(&e);
            return 1;
        }
    };
    if !otp.is_empty() && !pgp_key.is_empty() {
        ui.error("Error initializing: cannot specify both -otp and -pgp-key");
        return 1;
    }
    let body = json!({"otp": otp, "pgp_key": pgp_key});
    match call(client, "PUT", generated.attempt(), Some(&body)) {
        Err(e) => api_error(ui, "Error initializing root generation", &e),
        Ok(s) => output_status(ui, flags, &s),
    }
}

/// `-pgp-key`: the file's contents in base64 (kept as they are when they
/// already are base64), as Vault's `PubKeyFileFlag` reads them.
fn pgp_key_file(path: &str) -> Result<String, String> {
    if path.is_empty() {
        return Ok(String::new());
    }
    let bytes = std::fs::read(path.strip_prefix('@').unwrap_or(path)).map_err(|e| {
        let reason = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
            _ => e.to_string(),
        };
        format!("invalid value \"{path}\" for flag -pgp-key: open {path}: {reason}")
    })?;
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(match std::str::from_utf8(&bytes) {
        Ok(text) if b64.decode(text).is_ok() => text.to_string(),
        _ => b64.encode(&bytes),
    })
}

/// Hands one unseal key to the generation in progress: the argument, stdin
/// (`-`), or a hidden prompt on the terminal.
fn provide(ui: &mut Ui, flags: &FlagSet, client: &Client, generated: Generated) -> i32 {
    let current = match status(client, generated) {
        Ok(s) => s,
        Err(e) => return api_error(ui, "Error getting root generation status", &e),
    };
    if current["started"] != Value::Bool(true) {
        ui.error(&format::wrap_padded(
            "No root generation is in progress. Start a root generation by running \"vault operator generate-root -init\".",
            0,
        ));
        ui.error(&format::wrap_padded(
            &format!(
                "If starting root generation using the OTP method and generating your own OTP, the length of the OTP string needs to be {} characters in length.",
                otp_length(&current)
            ),
            0,
        ));
        return 1;
    }
    let (key, nonce) = match flags.args.first().map(|k| k.trim()) {
        Some("-") => {
            let mut buf = String::new();
            if !flags.bool("non-interactive") {
                if let Err(e) = ui.stdin.read_to_string(&mut buf) {
                    ui.error(&format!("Failed to read from stdin: {e}"));
                    return 1;
                }
            }
            (buf, flags.str("nonce"))
        }
        None | Some("") => {
            if flags.bool("non-interactive") {
                ui.error(&format::wrap_padded("Refusing to read from stdin with -non-interactive specified; specify nonce via the -nonce flag", 0));
                return 1;
            }
            let nonce = current["nonce"].as_str().unwrap_or_default().to_string();
            ui.output(&format!("Operation nonce: {nonce}"));
            match ui.ask_unseal_key() {
                Some(key) => (key, nonce),
                None => return 1,
            }
        }
        Some(key) => (key.to_string(), flags.str("nonce")),
    };
    if nonce.is_empty() {
        ui.error("Missing nonce value: specify it via the -nonce flag");
        return 1;
    }
    let body = json!({"key": key.trim(), "nonce": nonce});
    match call(client, "PUT", generated.update(), Some(&body)) {
        Err(e) => api_error(ui, "Error posting unseal key", &e),
        Ok(s) => output_status(ui, flags, &s),
    }
}

/// A generation's status: Vault's table, or its `GenerateRootStatusResponse`.
fn output_status(ui: &mut Ui, flags: &FlagSet, status: &Value) -> i32 {
    let text = |k: &str| status[k].as_str().unwrap_or_default().to_string();
    let number = |k: &str| status[k].as_i64().unwrap_or(0);
    let flag = |k: &str| status[k].as_bool().unwrap_or(false);
    if flags.format() != "table" {
        let body = GoVal::Struct(vec![
            ("nonce", GoVal::Json(text("nonce").into())),
            ("started", GoVal::Json(flag("started").into())),
            ("progress", GoVal::Json(number("progress").into())),
            ("required", GoVal::Json(number("required").into())),
            ("complete", GoVal::Json(flag("complete").into())),
            ("encoded_token", GoVal::Json(text("encoded_token").into())),
            (
                "encoded_root_token",
                GoVal::Json(text("encoded_root_token").into()),
            ),
            (
                "pgp_fingerprint",
                GoVal::Json(text("pgp_fingerprint").into()),
            ),
            ("otp", GoVal::Json(text("otp").into())),
            ("otp_length", GoVal::Json(number("otp_length").into())),
        ]);
        return match flags.format().as_str() {
            "json" => {
                ui.output(&format::go_json_val(&body, true));
                0
            }
            _ => {
                let value: Value =
                    serde_json::from_str(&format::go_json_val(&body, false)).unwrap_or_default();
                output_data(ui, flags, &value)
            }
        };
    }
    let mut rows = vec![
        format!("Nonce | {}", text("nonce")),
        format!("Started | {}", flag("started")),
        format!("Progress | {}/{}", number("progress"), number("required")),
        format!("Complete | {}", flag("complete")),
    ];
    if !text("pgp_fingerprint").is_empty() {
        rows.push(format!("PGP Fingerprint | {}", text("pgp_fingerprint")));
    }
    if !text("encoded_token").is_empty() {
        rows.push(format!("Encoded Token | {}", text("encoded_token")));
    } else if !text("encoded_root_token").is_empty() {
        rows.push(format!(
            "Encoded Root Token | {}",
            text("encoded_root_token")
        ));
    }
    if !text("otp").is_empty() {
        ui.error(&format::wrap_padded("A One-Time-Password has been generated for you and is shown in the OTP field. You will need this value to decode the resulting root token, so keep it safe.", 0));
        rows.push(format!("OTP | {}", text("otp")));
    }
    if number("otp_length") != 0 {
        rows.push(format!("OTP Length | {}", number("otp_length")));
    }
    ui.output(&format::columnize(&rows, "|"));
    0
}

#[cfg(test)]
mod tests {
    use super::decode_token;

    #[test]
    fn decoding_reports_what_vaults_cli_reports() {
        let otp = "UmbSyjcBKZOO6stFEio9YcC6VL";
        assert_eq!(
            decode_token("JkMhJyEFAnYDKh9+RkAwBDUFCVcyORp8Lz4", otp).as_deref(),
            Ok("s.CtXoa4HpP1p3DBplfnkZYJyr")
        );
        assert_eq!(
            decode_token("JkMhJyEFAnYDKh9+RkAwBDUFCVcyORp8Lz4", "abc"),
            Err("error xoring token: length of byte slices is not equivalent: 26 != 3".into())
        );
        assert_eq!(
            decode_token("JkMhJyEFAnYDKh9+RkAwBDUFCVcyORp8Lz4\n", otp).as_deref(),
            Ok("s.CtXoa4HpP1p3DBplfnkZYJyr")
        );
        assert_eq!(
            decode_token("x==", otp),
            Err("error decoding base64'd token: illegal base64 data at input byte 1".into())
        );
    }
}
