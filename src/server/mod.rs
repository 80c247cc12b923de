//! `vaultlet server`: opens the store and the core, prints Vault's dev-mode
//! banner when asked, and serves HTTP until SIGINT/SIGTERM.

pub mod config;
mod listener;

use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine;
use tokio::net::TcpListener;

use self::config::{ServerConfig, StorageConfig};
use crate::core::Core;
use crate::http::{router, AppState};
use crate::storage::{MemoryStorage, RedbStorage, Storage};

/// What `vaultlet server` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    pub dev: bool,
    pub dev_root_token_id: Option<String>,
    pub dev_listen_address: Option<String>,
    pub dev_no_store_token: bool,
    pub config: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("error initializing storage: {0}")]
    Storage(String),
    #[error("error initializing core: {0}")]
    Core(String),
    #[error("error initializing listener on {address}: {source}")]
    Listen {
        address: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Usage(String),
}

const DEV_LISTEN_ADDRESS: &str = "127.0.0.1:8200";

pub async fn run(opts: ServerOptions) -> Result<(), ServerError> {
    let (storage, address): (Arc<dyn Storage>, String) = if opts.dev {
        let address = opts
            .dev_listen_address
            .clone()
            .unwrap_or_else(|| DEV_LISTEN_ADDRESS.to_string());
        (Arc::new(MemoryStorage::default()), address)
    } else {
        let path = opts.config.as_ref().ok_or_else(|| {
            ServerError::Usage(
                "A configuration file must be specified with -config, or use -dev".into(),
            )
        })?;
        let config = ServerConfig::load(path)?;
        for warning in &config.warnings {
            tracing::warn!("{warning}");
        }
        let storage: Arc<dyn Storage> = match &config.storage {
            StorageConfig::Memory => Arc::new(MemoryStorage::default()),
            StorageConfig::Durable(dir) => {
                Arc::new(RedbStorage::open(dir).map_err(|e| ServerError::Storage(e.to_string()))?)
            }
        };
        (storage, config.listeners[0].address.clone())
    };

    let core = Core::open(storage)
        .await
        .map_err(|e| ServerError::Core(e.to_string()))?;
    let listener = TcpListener::bind(&address)
        .await
        .map_err(|source| ServerError::Listen {
            address: address.clone(),
            source,
        })?;
    let bound = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or(address);

    let root_token = if opts.dev {
        let token = core
            .initialize(opts.dev_root_token_id.clone().filter(|t| !t.is_empty()))
            .await
            .map_err(|e| ServerError::Core(e.to_string()))?;
        if !opts.dev_no_store_token {
            store_token_helper(&token);
        }
        Some(token)
    } else {
        None
    };
    print_banner(&bound, core.storage.kind(), root_token.as_deref());

    let tidy_core = core.clone();
    tokio::spawn(async move { tidy_tokens_periodically(tidy_core).await });

    listener::serve(listener, router(AppState { core }), shutdown_signal()).await;
    tracing::info!("shutdown complete");
    Ok(())
}

/// Writes the dev root token to `~/.vault-token`, as Vault's token helper.
fn store_token_helper(token: &str) {
    let Some(home) = std::env::var_os("HOME") else {
        return;
    };
    let path = PathBuf::from(home).join(".vault-token");
    if let Err(err) = std::fs::write(&path, token) {
        tracing::warn!(path = %path.display(), %err, "could not write the token helper file");
    }
}

fn print_banner(address: &str, storage_kind: &str, root_token: Option<&str>) {
    let tls = "disabled";
    println!("==> Vault server configuration:\n");
    println!("             Api Address: http://{address}");
    println!("                     Cgo: disabled");
    println!("              Listener 1: tcp (addr: \"{address}\", max_request_size: \"33554432\", tls: \"{tls}\")");
    println!("                 Storage: {storage_kind}");
    println!(
        "                 Version: Vault v{} (vaultlet {})",
        crate::VAULT_VERSION,
        env!("CARGO_PKG_VERSION")
    );
    println!();
    println!("==> Vault server started! Log data will stream in below:\n");
    if let Some(token) = root_token {
        let unseal_key =
            base64::engine::general_purpose::STANDARD.encode(crate::core::keys::random_bytes(32));
        println!("WARNING! dev mode is enabled! In this mode, Vault runs entirely in-memory");
        println!("and starts unsealed with a single unseal key. The root token is already");
        println!("authenticated to the CLI, so you can immediately begin using Vault.\n");
        println!("You may need to set the following environment variables:\n");
        println!("    $ export VAULT_ADDR='http://{address}'\n");
        println!("The unseal key and root token are displayed below in case you want to");
        println!("seal/unseal the Vault or re-authenticate.\n");
        println!("Unseal Key: {unseal_key}");
        println!("Root Token: {token}\n");
        println!("Development mode should NOT be used in production installations!\n");
    }
}

/// Expired tokens are removed lazily on use; this sweeps the ones never used
/// again (cert-manager logs in for every request).
async fn tidy_tokens_periodically(core: Arc<Core>) {
    let mut interval = tokio::time::interval(std::time::Duration::from_secs(600));
    interval.tick().await;
    loop {
        interval.tick().await;
        if let Err(err) = core.tokens.tidy().await {
            tracing::warn!(%err, "token tidy failed");
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received");
}
