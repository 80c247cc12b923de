//! One binary, two programs: `vaultlet server` (or `vault server`) runs the
//! server, every other command is a `vault` client command.

use std::ffi::OsString;
use std::process::ExitCode;

/// musl's allocator takes a global lock: the static binary would sign at a
/// third of the glibc build's rate (see Cargo.toml).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    match argv.get(1).and_then(|a| a.to_str()) {
        Some("server") => vaultlet::server::args::main(argv),
        _ => vaultlet::cli::main(argv),
    }
}
