//! `vault operator raft snapshot save FILE` and `restore [-force] FILE`:
//! a snapshot of the whole store through `sys/storage/raft/snapshot`
//! (vaultlet serves it for every store, not only integrated storage).

use std::io::Write;

use super::{api_error, check_args, client, parse_flags, Ui};
use crate::cli::flags::{FlagSet, Kind};

const USAGE: &str = "Usage: vault operator raft snapshot <subcommand> [options] [args]

  Saves and restores snapshots of the server's whole store (vaultlet takes
  them from every storage backend, not only integrated storage).

      $ vault operator raft snapshot save backup.snap
      $ vault operator raft snapshot restore backup.snap

Subcommands:
    restore    Replaces the whole store with a snapshot file
    save       Writes a snapshot of the whole store to a file";

const SAVE_HELP: &str = "Usage: vault operator raft snapshot save <snapshot_file>

  Writes a snapshot of the whole store to the file (through a temporary
  file beside it, renamed once complete). Needs sudo on
  sys/storage/raft/snapshot.

      $ vault operator raft snapshot save backup.snap";

const RESTORE_HELP: &str = "Usage: vault operator raft snapshot restore [options] <snapshot_file>

  Replaces the whole store with the snapshot in the file. Needs sudo on
  sys/storage/raft/snapshot (or sys/storage/raft/snapshot-force).

      $ vault operator raft snapshot restore backup.snap

Command Options:

  -force
      Restore a snapshot whose keys differ from this cluster's (taken on
      another cluster, or before a rekey of the root key). The server then
      stays sealed until the snapshot's own unseal keys unseal it.";

/// `vault operator raft …`: only `snapshot` is served.
pub fn raft(ui: &mut Ui, args: &[String]) -> i32 {
    match (
        args.first().map(String::as_str),
        args.get(1).map(String::as_str),
    ) {
        (Some("snapshot"), Some("save")) => save(ui, &args[2..]),
        (Some("snapshot"), Some("restore")) => restore(ui, &args[2..]),
        _ => {
            ui.error(USAGE);
            1
        }
    }
}

fn file_argument(ui: &mut Ui, flags: &FlagSet, missing: &str) -> Result<String, i32> {
    check_args(ui, &flags.args, 1, Some(1))?;
    let file = flags.args[0].trim().to_string();
    if file.is_empty() {
        ui.error(missing);
        return Err(1);
    }
    Ok(file)
}

/// Writes to a temporary file beside the target and renames it at the
/// end, so a failed or cut download leaves no partial snapshot behind.
fn save(ui: &mut Ui, args: &[String]) -> i32 {
    let flags = match parse_flags(ui, FlagSet::new().with_output(false), args, SAVE_HELP) {
        Ok(f) => f,
        Err(c) => return c,
    };
    let file = match file_argument(ui, &flags, "Output file name is required") {
        Ok(f) => f,
        Err(c) => return c,
    };
    let client = match client(ui, &flags) {
        Ok(c) => c,
        Err(c) => return c,
    };
    let partial = format!("{file}.partial-{}", std::process::id());
    let written = std::fs::File::create(&partial)
        .map_err(|e| e.to_string())
        .and_then(|mut out| {
            client
                .download("sys/storage/raft/snapshot", &mut out)
                .map_err(|e| e.to_string())?;
            out.flush().map_err(|e| e.to_string())?;
            out.sync_all().map_err(|e| e.to_string())
        })
        .and_then(|()| std::fs::rename(&partial, &file).map_err(|e| e.to_string()));
    match written {
        Ok(()) => 0,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            ui.error(&format!("Error taking the snapshot: {e}"));
            2
        }
    }
}

fn restore(ui: &mut Ui, args: &[String]) -> i32 {
    let fs = FlagSet::new().with_output(false).flag("force", Kind::Bool);
    let flags = match parse_flags(ui, fs, args, RESTORE_HELP) {
        Ok(f) => f,
        Err(c) => return c,
    };
    let file = match file_argument(ui, &flags, "Snapshot file name is required") {
        Ok(f) => f,
        Err(c) => return c,
    };
    let snapshot = match std::fs::read(&file) {
        Ok(bytes) => bytes,
        Err(e) => {
            // Vault's own wording.
            ui.error(&format!("Error opening policy file: {e}"));
            return 2;
        }
    };
    let client = match client(ui, &flags) {
        Ok(c) => c,
        Err(c) => return c,
    };
    let path = if flags.bool("force") {
        "sys/storage/raft/snapshot-force"
    } else {
        "sys/storage/raft/snapshot"
    };
    let sent = client
        .raw("POST", path, &[], Some(snapshot), None)
        .and_then(crate::cli::client::check);
    match sent {
        Ok(_) => 0,
        Err(e) => api_error(ui, "Error installing the snapshot", &e),
    }
}
