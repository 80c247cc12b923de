//! `vault unwrap [TOKEN]`: the response a wrapping token holds, printed as
//! `vault read` would have printed it.

use serde_json::{json, Value};

use super::{api_error, client, output_secret, parse_flags, print_raw_field, Ui};
use crate::cli::client::Error;
use crate::cli::flags::FlagSet;

const UNWRAP_HELP: &str = "Usage: vault unwrap [options] [TOKEN]

  Unwraps a wrapped secret from Vault by the given token. The result is the
  same as the \"vault read\" operation on the non-wrapped secret. If no token
  is given, the data in the currently authenticated token is unwrapped.";

pub fn unwrap(ui: &mut Ui, args: &[String]) -> i32 {
    let fs = FlagSet::new().with_output(true);
    let flags = match parse_flags(ui, fs, args, UNWRAP_HELP) {
        Ok(f) => f,
        Err(c) => return c,
    };
    let token = match flags.args.as_slice() {
        [] => String::new(),
        [token] => token.trim().to_string(),
        more => {
            ui.error(&format!(
                "Too many arguments (expected 0-1, got {})",
                more.len()
            ));
            return 1;
        }
    };
    let mut client = match client(ui, &flags) {
        Ok(c) => c,
        Err(c) => return c,
    };
    // As the API client's `Unwrap`: the token is the request's own when
    // there is no other, else named in the body.
    let mut body = None;
    if !token.is_empty() {
        if client.token.is_empty() {
            client.token.clone_from(&token);
        } else if token != client.token {
            body = Some(json!({ "token": token }));
        }
    }
    let secret = match unwrapped(&client, body.as_ref()) {
        Ok(Some(secret)) => secret,
        Ok(None) => {
            ui.error("Could not find wrapped response");
            return 2;
        }
        Err(e) => return api_error(ui, "Error unwrapping", &e),
    };
    let field = flags.str("field");
    if !field.is_empty() {
        return print_raw_field(ui, &flags, &secret, &field);
    }
    let keys = secret
        .get("data")
        .and_then(|d| d.get("keys"))
        .and_then(Value::as_array)
        .cloned();
    match keys {
        Some(keys) => super::rw::output_list(ui, &flags, &secret, keys),
        None => output_secret(ui, &flags, &secret),
    }
}

/// `PUT sys/wrapping/unwrap`; a 404 is an answer when it carries data or
/// warnings (a wrapped 404).
fn unwrapped(
    client: &crate::cli::client::Client,
    body: Option<&Value>,
) -> Result<Option<Value>, Error> {
    client.write("PUT", "sys/wrapping/unwrap", &[], body)
}
