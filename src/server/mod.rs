//! `vaultlet server`: opens the store and the core, prints Vault's dev-mode
//! banner when asked, and serves HTTP until SIGINT/SIGTERM.

pub mod args;
mod bootstrap;
mod cluster;
pub mod config;
pub mod listener;
mod logging;
mod slots;
pub mod tls;

use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine;
use tokio::net::TcpListener;

use self::config::{ServerConfig, StorageConfig};
use self::tls::TlsSettings;
use crate::core::ha::HaState;
use crate::core::metrics::Telemetry;
use crate::core::seal::SealKind;
use crate::core::Core;
use crate::http::{router, AppState};
use crate::storage::ha::{Advertisement, HaLock};
use crate::storage::{MemoryStorage, PostgresStorage, RedbStorage, Storage, StorageError};

/// What `vaultlet server` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    pub dev: bool,
    pub dev_root_token_id: Option<String>,
    pub dev_listen_address: Option<String>,
    pub dev_no_store_token: bool,
    /// `-dev-tls`: serve HTTPS with a generated CA (in `dev_tls_cert_dir`
    /// or a fresh temporary directory).
    pub dev_tls: bool,
    pub dev_tls_cert_dir: Option<PathBuf>,
    /// A file of `vault` commands to run once after start (`-bootstrap`).
    pub bootstrap: Option<PathBuf>,
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
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error(transparent)]
    Bootstrap(#[from] bootstrap::BootstrapError),
    #[error("{0}")]
    Usage(String),
}

const DEV_LISTEN_ADDRESS: &str = "127.0.0.1:8200";

pub async fn run(opts: ServerOptions) -> Result<(), ServerError> {
    let mut dev_ca_file = None;
    let mut seal_kind = None;
    let mut config_bootstrap = None;
    let mut limits = listener::Limits::default();
    let mut body_limits = crate::http::BodyLimits::default();
    // Dev mode as Vault's: Prometheus on, no host names, and the dev
    // listener serves `sys/metrics` without a token.
    let mut telemetry = Telemetry::dev();
    let mut unauthenticated_metrics = true;
    // Dev mode serves the web UI, as Vault's; a config file asks for it.
    let mut ui = opts.dev;
    let mut ha = None;
    let mut advertised = (None, None);
    let mut cluster_address = None;
    let (storage, address, tls_settings): (Arc<dyn Storage>, String, Option<TlsSettings>) =
        if opts.dev {
            let address = opts
                .dev_listen_address
                .clone()
                .unwrap_or_else(|| DEV_LISTEN_ADDRESS.to_string());
            let tls_settings = if opts.dev_tls {
                let dir = opts.dev_tls_cert_dir.clone().unwrap_or_else(|| {
                    let suffix = hex::encode(crate::util::ids::random_bytes(4));
                    std::env::temp_dir().join(format!("vault-tls{suffix}"))
                });
                let (settings, ca_file) = tls::generate_dev_tls(&dir)?;
                dev_ca_file = Some(ca_file);
                Some(settings)
            } else {
                None
            };
            (Arc::new(MemoryStorage::default()), address, tls_settings)
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
            let (storage, lock) = open_storage(&config.storage).await?;
            ha = lock.map(HaState::new);
            advertised = (config.api_addr.clone(), config.cluster_addr.clone());
            seal_kind = Some(match &config.seal {
                Some(source) => SealKind::Static {
                    key: source.load()?,
                },
                None => SealKind::Shamir,
            });
            config_bootstrap = config.bootstrap.clone();
            let listener = &config.listeners[0];
            cluster_address = Some(
                listener
                    .cluster_address
                    .clone()
                    .unwrap_or_else(|| cluster::default_address(&listener.address)),
            );
            limits = listener.limits;
            body_limits = listener.body;
            telemetry = config.telemetry.clone();
            unauthenticated_metrics = listener.unauthenticated_metrics_access;
            ui = config.ui;
            (storage, listener.address.clone(), listener.tls.clone())
        };
    let tls = match &tls_settings {
        Some(settings) => {
            let (config, cert) = tls::server_config(settings)?;
            tokio::spawn(reload_on_sighup(cert));
            listener::Tls::On(tokio_rustls::TlsAcceptor::from(config))
        }
        None => listener::Tls::Off,
    };

    // A malformed bootstrap file stops the server before it listens.
    let bootstrap_file = opts.bootstrap.clone().or(config_bootstrap);
    let bootstrap_commands = match &bootstrap_file {
        Some(path) => Some(bootstrap::load(path)?),
        None => None,
    };

    let core_err = |e: crate::logical::Error| ServerError::Core(e.to_string());
    let (core, dev_keys) = match seal_kind {
        None => {
            let root_token_id = opts.dev_root_token_id.clone().filter(|t| !t.is_empty());
            let dev = Core::open_dev(storage, root_token_id)
                .await
                .map_err(core_err)?;
            dev.core.mount_dev_kv("2").await.map_err(core_err)?;
            if !opts.dev_no_store_token {
                store_token_helper(&dev.root_token);
            }
            let keys = DevKeys {
                unseal_key: base64::engine::general_purpose::STANDARD.encode(&dev.unseal_key),
                root_token: dev.root_token,
            };
            (dev.core, Some(keys))
        }
        Some(kind) => (
            Core::open_sealed(storage, kind, ha)
                .await
                .map_err(core_err)?,
            None,
        ),
    };
    core.configure_telemetry(telemetry);
    let (listener, bound) = bind(&address).await?;
    let root_token = dev_keys.as_ref().map(|keys| keys.root_token.clone());
    let scheme = if matches!(tls, listener::Tls::Off) {
        "http"
    } else {
        "https"
    };
    core.identity.set_api_addr(
        advertised
            .0
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{bound}")),
    );
    print_banner(
        scheme,
        &bound,
        core.storage.kind(),
        dev_keys.as_ref(),
        dev_ca_file.as_deref(),
    );

    let cluster_tls = Arc::new(crate::http::cluster::ClusterTls::default());
    let mut cluster_port = None;
    if let (Some(ha), Some(address)) = (core.ha(), &cluster_address) {
        let (port, cluster_bound) = bind(address).await?;
        let (api_addr, cluster_addr) = advertised;
        ha.advertise(Advertisement {
            api_addr: api_addr.unwrap_or_else(|| format!("{scheme}://{bound}")),
            cluster_addr: cluster_addr.unwrap_or_else(|| format!("https://{cluster_bound}")),
        });
        cluster_port = Some(tokio::spawn(cluster::serve(
            port,
            core.clone(),
            cluster_tls.clone(),
            limits,
            body_limits,
        )));
        tokio::spawn(core.clone().run_ha());
        tokio::spawn(crate::http::cluster::echo_to_active(
            core.clone(),
            cluster_tls.clone(),
        ));
    }
    let periodic_core = core.clone();
    let period = periodic_interval()?;
    tokio::spawn(async move { run_periodic_upkeep(periodic_core, period).await });

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        tokio::select! {
            () = shutdown_signal() => {},
            _ = stopped => {},
        }
    };
    let server = tokio::spawn(listener::serve(
        listener,
        tls,
        router(AppState {
            core: core.clone(),
            limits: body_limits,
            unauthenticated_metrics,
            ui,
            cluster: cluster_tls,
            cluster_port: false,
        }),
        limits,
        shutdown,
    ));
    let mut failure = None;
    if let (Some(path), Some(commands)) = (&bootstrap_file, bootstrap_commands) {
        let port = bound.rsplit(':').next().unwrap_or("8200");
        let address = format!("{scheme}://127.0.0.1:{port}");
        if let Err(err) = apply_bootstrap(&core, path, commands, address, root_token).await {
            eprintln!("Error: {err}");
            failure = Some(err);
            let _ = stop.send(());
        }
    }
    let _ = server.await;
    if let Some(cluster_port) = cluster_port {
        cluster_port.abort();
    }
    tracing::info!("shutdown complete");
    failure.map_or(Ok(()), Err)
}

/// Binds a listening socket; returns it and the address it is bound to.
async fn bind(address: &str) -> Result<(TcpListener, String), ServerError> {
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| ServerError::Listen {
            address: address.to_string(),
            source,
        })?;
    let bound = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| address.to_string());
    Ok((listener, bound))
}

/// Opens a configured store once (no waiting for a database).
pub async fn open_store(config: &StorageConfig) -> Result<Arc<dyn Storage>, StorageError> {
    Ok(match config {
        StorageConfig::Memory => Arc::new(MemoryStorage::default()),
        StorageConfig::Durable(dir) => Arc::new(RedbStorage::open(dir)?),
        StorageConfig::Postgres(settings) => Arc::new(PostgresStorage::open(settings).await?),
    })
}

/// Opens a configured store and, when it is shared by several nodes, the
/// lock they compete for.
async fn open_shared_store(
    config: &StorageConfig,
) -> Result<(Arc<dyn Storage>, Option<Arc<dyn HaLock>>), StorageError> {
    match config {
        StorageConfig::Postgres(settings) => {
            let store = PostgresStorage::open(settings).await?;
            let lock = store.ha_lock();
            Ok((Arc::new(store), lock))
        }
        other => Ok((open_store(other).await?, None)),
    }
}

/// The store and its HA lock, if any.
type OpenedStore = (Arc<dyn Storage>, Option<Arc<dyn HaLock>>);

/// Opens the configured store. A database that cannot be reached yet is
/// waited for (the server is not ready meanwhile), until SIGINT/SIGTERM.
async fn open_storage(config: &StorageConfig) -> Result<OpenedStore, ServerError> {
    let retrying = async {
        let mut delay = std::time::Duration::from_millis(250);
        loop {
            match open_shared_store(config).await {
                Err(StorageError::Unavailable(why)) => {
                    tracing::warn!(error = %why, retry_in = ?delay, "storage not reachable yet");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_secs(5));
                }
                other => return other,
            }
        }
    };
    tokio::select! {
        opened = retrying => opened.map_err(|e| ServerError::Storage(e.to_string())),
        () = shutdown_signal() => Err(ServerError::Storage(
            "stopped while waiting for the storage to become reachable".into(),
        )),
    }
}

/// Runs the bootstrap file once: always in dev mode; on a durable store
/// only if this store has not recorded a run. A new store behind a static
/// seal is initialized first (its root token is printed once).
async fn apply_bootstrap(
    core: &Arc<Core>,
    path: &std::path::Path,
    commands: Vec<bootstrap::Command>,
    address: String,
    dev_root_token: Option<String>,
) -> Result<(), ServerError> {
    let failed =
        |message: String| ServerError::Usage(format!("bootstrap {}: {message}", path.display()));
    let core_err = |e: crate::logical::Error| failed(e.to_string());
    let token = match dev_root_token {
        Some(token) => token,
        None if !core.is_initialized() => {
            if !core.seal().is_static() {
                return Err(failed(
                    "a new store can only be bootstrapped with a static seal (auto-unseal); otherwise initialize and unseal it first and set VAULT_TOKEN".into(),
                ));
            }
            let (_, root) = core.initialize(0, 0, None).await.map_err(core_err)?;
            println!("Vault was initialized for the bootstrap (static seal).\n\nInitial Root Token: {root}\n");
            root
        }
        None if core.is_sealed() => {
            println!("bootstrap: the store is sealed; {} is not applied (unseal and restart to apply it if it never ran)", path.display());
            return Ok(());
        }
        None => {
            if core
                .storage
                .get(bootstrap::RECORD_KEY)
                .await
                .map_err(|e| failed(e.to_string()))?
                .is_some()
            {
                println!(
                    "bootstrap: {} was applied to this store before; not running it again",
                    path.display()
                );
                return Ok(());
            }
            std::env::var("VAULT_TOKEN").ok().filter(|t| !t.is_empty()).ok_or_else(|| {
                failed("the store is already initialized: set VAULT_TOKEN to a root token to bootstrap it".into())
            })?
        }
    };
    tokio::task::spawn_blocking(move || bootstrap::run_commands(&commands, &address, &token))
        .await
        .map_err(|e| failed(e.to_string()))??;
    // Recorded in the store (dev mode's in-memory one goes with the process).
    core.storage
        .put(bootstrap::RECORD_KEY, b"1".to_vec())
        .await
        .map_err(|e| failed(e.to_string()))?;
    Ok(())
}

/// Writes the dev root token to `~/.vault-token`, as Vault's token helper.
fn store_token_helper(token: &str) {
    let Some(home) = std::env::var_os("HOME") else {
        return;
    };
    let path = PathBuf::from(home).join(".vault-token");
    // Owner-only, as Vault's token helper: the file holds a root token.
    let written = {
        use std::io::Write;
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut file| {
                file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
                file.write_all(token.as_bytes())
            })
    };
    if let Err(err) = written {
        tracing::warn!(path = %path.display(), %err, "could not write the token helper file");
    }
}

/// What dev mode's banner shows: its real unseal key share (base64) and
/// root token.
struct DevKeys {
    unseal_key: String,
    root_token: String,
}

fn print_banner(
    scheme: &str,
    address: &str,
    storage_kind: &str,
    dev_keys: Option<&DevKeys>,
    ca_file: Option<&std::path::Path>,
) {
    let tls = if scheme == "https" {
        "enabled"
    } else {
        "disabled"
    };
    println!("==> Vault server configuration:\n");
    println!("             Api Address: {scheme}://{address}");
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
    if let Some(DevKeys {
        unseal_key,
        root_token: token,
    }) = dev_keys
    {
        println!("WARNING! dev mode is enabled! In this mode, Vault runs entirely in-memory");
        println!("and starts unsealed with a single unseal key. The root token is already");
        println!("authenticated to the CLI, so you can immediately begin using Vault.\n");
        println!("You may need to set the following environment variables:\n");
        println!("    $ export VAULT_ADDR='{scheme}://{address}'");
        if let Some(ca_file) = ca_file {
            println!("    $ export VAULT_CACERT='{}'", ca_file.display());
        }
        println!();
        println!("The unseal key and root token are displayed below in case you want to");
        println!("seal/unseal the Vault or re-authenticate.\n");
        println!("Unseal Key: {unseal_key}");
        println!("Root Token: {token}\n");
        println!("Development mode should NOT be used in production installations!\n");
    }
}

/// How often mounts get their background upkeep: a minute, as Vault's
/// rollback manager, unless `VAULTLET_PERIODIC_INTERVAL` (a Vault duration)
/// says otherwise, which tests use to see CRL rebuilds and auto-tidy run.
fn periodic_interval() -> Result<std::time::Duration, ServerError> {
    const VARIABLE: &str = "VAULTLET_PERIODIC_INTERVAL";
    let Ok(text) = std::env::var(VARIABLE) else {
        return Ok(std::time::Duration::from_secs(60));
    };
    match crate::logical::parse_duration_seconds(&text) {
        Ok(seconds) if seconds > 0 => Ok(std::time::Duration::from_secs(seconds as u64)),
        _ => Err(ServerError::Usage(format!(
            "{VARIABLE} must be a positive duration, got {text:?}"
        ))),
    }
}

async fn run_periodic_upkeep(core: Arc<Core>, period: std::time::Duration) {
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        interval.tick().await;
        core.run_periodic().await;
    }
}

/// SIGHUP re-reads the listener's certificate and key, as Vault does.
async fn reload_on_sighup(cert: Arc<tls::ReloadableCert>) {
    let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
    else {
        return;
    };
    while hangup.recv().await.is_some() {
        match cert.reload() {
            Ok(()) => tracing::info!("reloaded the TLS certificate"),
            Err(err) => tracing::error!(%err, "TLS certificate reload failed; keeping the old one"),
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
