//! One binary, two programs: `vaultlet server` (or `vault server`) runs the
//! server, every other command is a `vault` client command.

use std::ffi::OsString;
use std::process::ExitCode;

fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    match argv.get(1).and_then(|a| a.to_str()) {
        Some("server") => vaultlet::server::args::main(argv),
        _ => vaultlet::cli::main(argv),
    }
}
