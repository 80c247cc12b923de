//! The `vault` client commands (everything but `server`, which is the
//! server's own entry point): parsed with Go's flag rules (`flags`), run
//! against any Vault-compatible server over its public HTTP API. Invoked as
//! `vault` (argv[0]) or as `vaultlet <command>`, the binary behaves the same.

pub mod client;
pub mod commands;
pub mod duration;
pub mod flags;
pub mod format;
pub mod kv;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::process::ExitCode;

/// Runs a Vault client command (everything but `server`) with the
/// process's stdin/stdout/stderr; returns the exit code.
pub fn run_client(args: &[String]) -> i32 {
    let stdout = std::io::stdout();
    let tty = stdout.is_terminal();
    let mut out = stdout.lock();
    let mut err = std::io::stderr().lock();
    let mut stdin = std::io::stdin().lock();
    let mut ui = commands::Ui {
        out: &mut out,
        err: &mut err,
        stdin: &mut stdin,
        tty,
        stdin_tty: std::io::stdin().is_terminal(),
    };
    commands::run(args, &mut ui)
}

/// Runs the client command `argv` names (`argv[0]` is the program).
pub fn main(argv: Vec<OsString>) -> ExitCode {
    let args: Vec<String> = argv
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let code = run_client(&args);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
