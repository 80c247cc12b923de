//! `vaultlet server` (and `vault server`): the server's command line.
//! Vault's CLI uses Go's flag syntax (`-dev-root-token-id=root`), so
//! single-dash long flags are rewritten to clap's `--` form before parsing.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use super::logging::{self, LogFormat};
use super::ServerOptions;

#[derive(Parser, Debug)]
#[command(
    name = "vaultlet",
    version,
    about = "A small, fast, Vault-compatible PKI server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start a server (as `vault server`).
    Server(ServerArgs),
}

#[derive(Args, Debug)]
struct ServerArgs {
    /// Dev mode: in-memory, unsealed, root token ready.
    #[arg(long)]
    dev: bool,
    /// The dev root token's id.
    #[arg(long, env = "VAULT_DEV_ROOT_TOKEN_ID")]
    dev_root_token_id: Option<String>,
    /// The dev listener address.
    #[arg(long, env = "VAULT_DEV_LISTEN_ADDRESS")]
    dev_listen_address: Option<String>,
    /// Do not write the root token to ~/.vault-token.
    #[arg(long)]
    dev_no_store_token: bool,
    /// Dev mode over HTTPS with a generated CA.
    #[arg(long)]
    dev_tls: bool,
    /// Where `-dev-tls` writes its CA and certificate.
    #[arg(long)]
    dev_tls_cert_dir: Option<PathBuf>,
    /// A file of `vault` commands run once after the server starts.
    #[arg(long)]
    bootstrap: Option<PathBuf>,
    /// HCL server configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Log level (trace, debug, info, warn, error); the config file's
    /// `log_level` otherwise, else info.
    #[arg(long, env = "VAULT_LOG_LEVEL")]
    log_level: Option<String>,
    /// Log format: standard or json; the config file's `log_format`
    /// otherwise, else standard.
    #[arg(long, env = "VAULT_LOG_FORMAT")]
    log_format: Option<String>,
}

/// `-flag` → `--flag` (Go flag syntax); `-` alone and `--x` stay.
fn normalize_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    args.into_iter()
        .enumerate()
        .map(|(i, arg)| {
            let Some(s) = arg.to_str() else { return arg };
            if i > 0 && s.len() > 2 && s.starts_with('-') && !s.starts_with("--") {
                OsString::from(format!("-{s}"))
            } else {
                arg
            }
        })
        .collect()
}

/// Runs `server` as `argv` (`vaultlet server …`) asks.
pub fn main(argv: Vec<OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(normalize_args(argv)) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let Command::Server(args) = cli.command;
    run_server(args)
}

fn run_server(args: ServerArgs) -> ExitCode {
    // The flags and environment win over the config file (read again,
    // and its errors reported, when the server starts).
    let file = args
        .config
        .as_deref()
        .and_then(|path| super::config::ServerConfig::load(path).ok());
    let level = args
        .log_level
        .clone()
        .or_else(|| file.as_ref().and_then(|c| c.log_level.clone()))
        .unwrap_or_else(|| "info".into());
    let format = args
        .log_format
        .clone()
        .or_else(|| file.as_ref().and_then(|c| c.log_format.clone()))
        .unwrap_or_default();
    let format = match format.parse::<LogFormat>() {
        Ok(format) => format,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(1);
        }
    };
    let filter = match logging::parse_level(&level) {
        Ok(filter) => filter,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(1);
        }
    };
    logging::init(filter, format);
    let opts = ServerOptions {
        dev: args.dev,
        dev_root_token_id: args.dev_root_token_id,
        dev_listen_address: args.dev_listen_address,
        dev_no_store_token: args.dev_no_store_token,
        dev_tls: args.dev_tls,
        dev_tls_cert_dir: args.dev_tls_cert_dir,
        bootstrap: args.bootstrap,
        config: args.config,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("Error starting the runtime: {err}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(super::run(opts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {err}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_style_flags_are_accepted() {
        let args = normalize_args(
            ["vaultlet", "server", "-dev", "-dev-root-token-id=root", "-"].map(OsString::from),
        );
        assert_eq!(
            args,
            [
                "vaultlet",
                "server",
                "--dev",
                "--dev-root-token-id=root",
                "-"
            ]
            .map(OsString::from)
        );
    }
}
