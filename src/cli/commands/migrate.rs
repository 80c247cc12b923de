//! `vault operator migrate -config FILE`: copies every record from
//! `storage_source` to `storage_destination` with both servers stopped,
//! then checks that the destination holds the same number of records with
//! the same digest. Records move as stored (still barrier-encrypted), so
//! the destination unseals with the source's keys.

use std::path::Path;

use super::{check_args, parse_flags, Ui};
use crate::cli::flags::{FlagSet, Kind};
use crate::server::config::MigrationConfig;
use crate::storage::copy::{all_keys, contents, copy_all};

const HELP: &str = "Usage: vault operator migrate [options]

  This command starts a storage backend migration process to copy all data
  from one backend to another. This operates directly on encrypted data and
  does not require a Vault server, nor any unsealing. Stop every server on
  both stores first.

  Start a migration with a configuration file:

      $ vault operator migrate -config=migrate.hcl

  The configuration holds a storage_source and a storage_destination block,
  each written as a server's storage block. The destination must be empty.";

pub fn run(ui: &mut Ui, args: &[String]) -> i32 {
    let fs = FlagSet::new().with_output(false).flag("config", Kind::Str);
    let flags = match parse_flags(ui, fs, args, HELP) {
        Ok(f) => f,
        Err(c) => return c,
    };
    if let Err(c) = check_args(ui, &flags.args, 0, Some(0)) {
        return c;
    }
    let path = flags.str("config");
    if path.is_empty() {
        ui.error("Must specify exactly one config path using -config");
        return 1;
    }
    let config = match MigrationConfig::load(Path::new(&path)) {
        Ok(c) => c,
        Err(e) => {
            ui.error(&format!("Error loading configuration from {path}: {e}"));
            return 1;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            ui.error(&format!("Error migrating: {e}"));
            return 1;
        }
    };
    match runtime.block_on(migrate(ui, &config)) {
        Ok(()) => 0,
        Err(e) => {
            ui.error(&format!("Error migrating: {e}"));
            2
        }
    }
}

async fn migrate(ui: &mut Ui<'_>, config: &MigrationConfig) -> Result<(), String> {
    let open = |which: &'static str, c| async move {
        crate::server::open_store(c)
            .await
            .map_err(|e| format!("error opening the {which} storage: {e}"))
    };
    let source = open("source", &config.source).await?;
    let destination = open("destination", &config.destination).await?;
    let present = all_keys(destination.as_ref())
        .await
        .map_err(|e| e.to_string())?;
    if !present.is_empty() {
        return Err(format!(
            "the destination storage is not empty ({} keys): migrate into an empty store",
            present.len()
        ));
    }
    let copied = copy_all(source.as_ref(), destination.as_ref(), |key| {
        ui.error(&format!("copied key: path={key}"));
    })
    .await
    .map_err(|e| e.to_string())?;
    let (from, to) = (
        contents(source.as_ref()).await.map_err(|e| e.to_string())?,
        contents(destination.as_ref())
            .await
            .map_err(|e| e.to_string())?,
    );
    if from != to || from.count != copied {
        return Err(format!(
            "verification failed: the source holds {} keys (sha256 {}), the destination {} keys (sha256 {})",
            from.count, from.sha256, to.count, to.sha256
        ));
    }
    ui.output(&format!(
        "Verified: {} keys in both stores, contents sha256 {}",
        to.count, to.sha256
    ));
    ui.output("Success! All of the keys have been migrated.");
    Ok(())
}
