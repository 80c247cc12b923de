//! `vault secrets move` and `vault auth move`: start a mount move
//! (`sys/remount`) and poll its status until it ends, printing what
//! Vault's CLI prints.

use std::time::Duration;

use serde_json::{json, Value};

use super::{api_error, check_args, client, ensure_trailing_slash, parse_flags, Ui};
use crate::cli::flags::FlagSet;

const SECRETS_HELP: &str = "Usage: vault secrets move [options] SOURCE DESTINATION

  Moves an existing secrets engine to a new path. Any leases from the old
  secrets engine are revoked, but all configuration associated with the engine
  is preserved. It initiates the migration and intermittently polls its status,
  exiting if a final state is reached.";

const AUTH_HELP: &str = "Usage: vault auth move [options] SOURCE DESTINATION

  Moves an existing auth method to a new path. Any leases from the old
  auth method are revoked, but all configuration associated with the method
  is preserved. It initiates the migration and intermittently polls its status,
  exiting if a final state is reached.";

/// How long Vault's CLI waits between two status checks.
const POLL_INTERVAL: Duration = Duration::from_secs(10);

/// What is moved, as the messages name it.
#[derive(Clone, Copy)]
pub enum Moved {
    SecretsEngine,
    AuthMethod,
}

impl Moved {
    fn noun(self) -> &'static str {
        match self {
            Moved::SecretsEngine => "secrets engine",
            Moved::AuthMethod => "auth method",
        }
    }

    fn help(self) -> &'static str {
        match self {
            Moved::SecretsEngine => SECRETS_HELP,
            Moved::AuthMethod => AUTH_HELP,
        }
    }
}

pub fn run(ui: &mut Ui, args: &[String], moved: Moved) -> i32 {
    let flags = match parse_flags(ui, FlagSet::new(), args, moved.help()) {
        Ok(f) => f,
        Err(c) => return c,
    };
    if let Err(c) = check_args(ui, &flags.args, 2, Some(2)) {
        return c;
    }
    let source = ensure_trailing_slash(&flags.args[0]);
    let dest = ensure_trailing_slash(&flags.args[1]);
    let client = match client(ui, &flags) {
        Ok(c) => c,
        Err(c) => return c,
    };
    let noun = moved.noun();
    let what = format!("{noun} {source} to {dest}");
    let body = json!({"from": source, "to": dest});
    let started = match client.request("POST", "sys/remount", &[], Some(&body)) {
        Ok(resp) => resp,
        Err(e) => return api_error(ui, &format!("Error moving {what}"), &e),
    };
    let id = data_field(&started.body, &["migration_id"]).unwrap_or_default();
    let with_id = format!("{what}, with migration ID {id}");
    ui.output(&format!("Started moving {with_id}"));
    loop {
        let status = match client.request("GET", &format!("sys/remount/status/{id}"), &[], None) {
            Ok(resp) => data_field(&resp.body, &["migration_info", "status"]).unwrap_or_default(),
            Err(e) => {
                return api_error(
                    ui,
                    &format!("Error checking migration status of {what}"),
                    &e,
                )
            }
        };
        match status.as_str() {
            "success" => {
                ui.output(&format!("Success! Finished moving {with_id}"));
                return 0;
            }
            // Vault's CLI reports a failed move on stderr, yet exits 0.
            "failure" => {
                ui.error(&format!("Failure! Error encountered moving {with_id}"));
                return 0;
            }
            _ => {
                ui.output(&format!(
                    "Waiting for terminal status in migration of {with_id}"
                ));
                std::thread::sleep(POLL_INTERVAL);
            }
        }
    }
}

/// A string under `data` of a response body.
fn data_field(body: &[u8], path: &[&str]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    path.iter()
        .try_fold(value.get("data")?, |v, key| v.get(key))
        .and_then(Value::as_str)
        .map(str::to_string)
}
