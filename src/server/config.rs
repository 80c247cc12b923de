//! The subset of Vault's HCL server configuration vaultlet reads, in HCL1
//! as Vault reads it (one-line blocks included). Unknown stanzas are warned
//! about and ignored, so a Vault config file can be used as it is.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::core::metrics::telemetry::{
    DEFAULT_RETENTION, DEFAULT_USAGE_GAUGE_PERIOD, LEASE_METRICS_EPSILON, NUM_LEASE_METRICS_BUCKETS,
};
use crate::core::metrics::Telemetry;
use crate::hcl1::{self, Value};
use crate::storage::PostgresSettings;

use super::listener::Limits;
use super::tls::TlsSettings;
use crate::http::{BodyLimits, JsonLimits};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("error reading config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("error parsing config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// Where the server keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageConfig {
    Memory,
    /// The redb store in this directory (`storage "file"|"raft"|"redb"`).
    Durable(PathBuf),
    /// `storage "postgresql"`.
    Postgres(PostgresSettings),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerConfig {
    pub address: String,
    /// Where the cluster port listens (`cluster_address`); by default the
    /// listener's host, one port above its own, as in Vault.
    pub cluster_address: Option<String>,
    /// `None` when `tls_disable` is set.
    pub tls: Option<TlsSettings>,
    /// `http_read_header_timeout`, `http_read_timeout`, `max_connections`.
    pub limits: Limits,
    /// `max_request_size` and the JSON complexity limits.
    pub body: BodyLimits,
    /// `telemetry { unauthenticated_metrics_access = true }`.
    pub unauthenticated_metrics_access: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub listeners: Vec<ListenerConfig>,
    pub storage: StorageConfig,
    pub api_addr: Option<String>,
    /// Where other nodes reach this one (advertised in the HA lock).
    pub cluster_addr: Option<String>,
    /// `seal "static"`: auto-unseal with a key from the environment or a file.
    pub seal: Option<StaticKeySource>,
    /// `bootstrap = "FILE"`: `vault` commands to run once after start.
    pub bootstrap: Option<PathBuf>,
    /// The `telemetry` stanza (its defaults when there is none).
    pub telemetry: Telemetry,
    /// `log_level` and `log_format` (the flags and environment win).
    pub log_level: Option<String>,
    pub log_format: Option<String>,
    /// `ui = true`: serve the web UI at `/ui/`.
    pub ui: bool,
    /// Warnings about stanzas we ignore.
    pub warnings: Vec<String>,
}

impl ServerConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let mut config = load_with(path, Self::parse)?;
        config.override_addresses(|name| std::env::var(name).ok());
        Ok(config)
    }

    /// `VAULT_API_ADDR` and `VAULT_CLUSTER_ADDR` win over `api_addr` and
    /// `cluster_addr`, as in Vault: a StatefulSet gives every pod the same
    /// file and each its own address through the environment.
    fn override_addresses(&mut self, env: impl Fn(&str) -> Option<String>) {
        let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        if let Some(addr) = set(API_ADDR_VARIABLE) {
            self.api_addr = Some(addr);
        }
        if let Some(addr) = set(CLUSTER_ADDR_VARIABLE) {
            self.cluster_addr = Some(addr);
        }
    }

    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let body = parse_hcl(text)?;
        let mut config = ServerConfig {
            listeners: Vec::new(),
            storage: StorageConfig::Memory,
            api_addr: None,
            cluster_addr: None,
            seal: None,
            bootstrap: None,
            telemetry: Telemetry::default(),
            log_level: None,
            log_format: None,
            ui: false,
            warnings: Vec::new(),
        };
        let mut storage_seen = false;
        for item in &body.items {
            let Value::Object(settings) = &item.value else {
                match item.key() {
                    "api_addr" => config.api_addr = item.value.as_text(),
                    "cluster_addr" => config.cluster_addr = item.value.as_text(),
                    "bootstrap" => config.bootstrap = item.value.as_text().map(PathBuf::from),
                    "log_level" => config.log_level = item.value.as_text(),
                    "log_format" => config.log_format = item.value.as_text(),
                    "ui" => config.ui = expr_bool(&item.value),
                    "disable_mlock" | "default_lease_ttl" | "max_lease_ttl" => {}
                    other => config
                        .warnings
                        .push(format!("unknown or unsupported setting {other:?} ignored")),
                }
                continue;
            };
            let block = Block {
                label: item.labels().first().map_or("", String::as_str),
                settings,
            };
            match item.key() {
                "listener" => config.listeners.push(listener(&block)?),
                "storage" | "backend" => {
                    config.storage = storage(&block)?;
                    storage_seen = true;
                }
                "seal" => config.seal = Some(seal(&block)?),
                "telemetry" => config.telemetry = telemetry(&block, &mut config.warnings)?,
                other => config
                    .warnings
                    .push(format!("unsupported stanza {other:?} ignored")),
            }
        }
        if config.listeners.is_empty() {
            return Err(ConfigError::Invalid(
                "no listener \"tcp\" stanza in the configuration".into(),
            ));
        }
        if !storage_seen {
            return Err(ConfigError::Invalid(
                "A storage backend must be specified".into(),
            ));
        }
        Ok(config)
    }
}

/// Reads and parses a configuration file; parse errors name the file.
/// The file's HCL1 body; the caller's [`load_with`] names the file.
fn parse_hcl(text: &str) -> Result<hcl1::Body, ConfigError> {
    hcl1::parse(text).map_err(|e| ConfigError::Parse {
        path: String::new(),
        message: e.to_string(),
    })
}

fn load_with<T>(
    path: &Path,
    parse: impl FnOnce(&str) -> Result<T, ConfigError>,
) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text).map_err(|e| match e {
        ConfigError::Parse { message, .. } => ConfigError::Parse {
            path: path.display().to_string(),
            message,
        },
        other => other,
    })
}

/// `operator migrate`'s configuration: Vault's `storage_source` and
/// `storage_destination` stanzas (each as a `storage` stanza).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationConfig {
    pub source: StorageConfig,
    pub destination: StorageConfig,
}

impl MigrationConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        load_with(path, Self::parse)
    }

    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let body = parse_hcl(text)?;
        let (mut source, mut destination) = (None, None);
        for item in &body.items {
            let Value::Object(settings) = &item.value else {
                continue;
            };
            let block = Block {
                label: item.labels().first().map_or("", String::as_str),
                settings,
            };
            let slot = match item.key() {
                "storage_source" => &mut source,
                "storage_destination" => &mut destination,
                _ => continue,
            };
            if slot.is_some() {
                return Err(ConfigError::Invalid(format!(
                    "only one {:?} block is permitted",
                    item.key()
                )));
            }
            *slot = Some(storage(&block)?);
        }
        match (source, destination) {
            (Some(source), Some(destination)) => Ok(MigrationConfig {
                source,
                destination,
            }),
            (None, _) => Err(ConfigError::Invalid("missing storage_source block".into())),
            (_, None) => Err(ConfigError::Invalid(
                "missing storage_destination block".into(),
            )),
        }
    }
}

/// A `kind "label" { … }` stanza.
struct Block<'a> {
    label: &'a str,
    settings: &'a hcl1::Body,
}

fn label<'a>(block: &Block<'a>) -> &'a str {
    block.label
}

fn attr<'a>(block: &Block<'a>, key: &'a str) -> Option<&'a Value> {
    block.settings.attribute(key)
}

fn expr_string(value: &Value) -> Option<String> {
    value.as_text()
}

/// Vault accepts `true`, `"true"`, `1` and `"1"` for booleans.
fn expr_bool(value: &Value) -> bool {
    expr_string(value).is_some_and(|s| crate::logical::parse_bool(&s).unwrap_or(false))
}

fn listener(block: &Block) -> Result<ListenerConfig, ConfigError> {
    if label(block) != "tcp" {
        return Err(ConfigError::Invalid(format!(
            "unsupported listener type {:?}",
            label(block)
        )));
    }
    let address = attr(block, "address")
        .and_then(expr_string)
        .unwrap_or_else(|| "127.0.0.1:8200".into());
    let cluster_address = attr(block, "cluster_address").and_then(expr_string);
    let limits = listener_limits(block)?;
    let body = body_limits(block)?;
    let unauthenticated_metrics_access = block
        .settings
        .items_named("telemetry")
        .filter_map(|item| item.value.as_object())
        .filter_map(|telemetry| telemetry.attribute("unauthenticated_metrics_access"))
        .any(expr_bool);
    if attr(block, "tls_disable").is_some_and(expr_bool) {
        return Ok(ListenerConfig {
            address,
            cluster_address,
            tls: None,
            limits,
            body,
            unauthenticated_metrics_access,
        });
    }
    let path = |key: &str| attr(block, key).and_then(expr_string).map(PathBuf::from);
    let (Some(cert_file), Some(key_file)) = (path("tls_cert_file"), path("tls_key_file")) else {
        return Err(ConfigError::Invalid(
            "listener \"tcp\": tls_cert_file and tls_key_file are required unless tls_disable is set"
                .into(),
        ));
    };
    Ok(ListenerConfig {
        address,
        cluster_address,
        limits,
        body,
        unauthenticated_metrics_access,
        tls: Some(TlsSettings {
            cert_file,
            key_file,
            min_version: attr(block, "tls_min_version").and_then(expr_string),
            client_ca_file: path("tls_client_ca_file"),
            require_and_verify_client_cert: attr(block, "tls_require_and_verify_client_cert")
                .is_some_and(expr_bool),
        }),
    })
}

/// Where the static seal's 32-byte key comes from: `env://VAR`,
/// `file:///path` (raw bytes, or hex/base64 text), or the key itself in
/// hex or base64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticKeySource(pub String);

impl StaticKeySource {
    pub fn load(&self) -> Result<Vec<u8>, ConfigError> {
        use base64::Engine;
        let invalid = |why: String| ConfigError::Invalid(format!("seal \"static\": {why}"));
        let bytes = if let Some(var) = self.0.strip_prefix("env://") {
            std::env::var(var)
                .map_err(|_| invalid(format!("environment variable {var} is not set")))?
                .into_bytes()
        } else if let Some(path) = self.0.strip_prefix("file://") {
            std::fs::read(path).map_err(|e| invalid(format!("reading {path}: {e}")))?
        } else {
            self.0.clone().into_bytes()
        };
        if bytes.len() == 32 {
            return Ok(bytes);
        }
        let text = String::from_utf8_lossy(&bytes).trim().to_string();
        hex::decode(&text)
            .ok()
            .or_else(|| base64::engine::general_purpose::STANDARD.decode(&text).ok())
            .filter(|k| k.len() == 32)
            .ok_or_else(|| invalid("the key must be 32 bytes (raw, hex or base64)".into()))
    }
}

/// Vault's listener timeouts (`"10s"`, `30`, …; 0 keeps the default) and
/// vaultlet's `max_connections`.
fn listener_limits(block: &Block) -> Result<Limits, ConfigError> {
    let mut limits = Limits::default();
    let seconds = |key: &str| -> Result<Option<u64>, ConfigError> {
        let Some(text) = attr(block, key).and_then(expr_string) else {
            return Ok(None);
        };
        let secs = crate::logical::parse_duration_seconds(&text)
            .map_err(|e| ConfigError::Invalid(format!("listener \"tcp\": {key}: {e}")))?;
        Ok(u64::try_from(secs).ok().filter(|s| *s > 0))
    };
    if let Some(secs) = seconds("http_read_header_timeout")? {
        limits.header_read_timeout = std::time::Duration::from_secs(secs);
    }
    if let Some(secs) = seconds("http_read_timeout")? {
        limits.body_read_timeout = std::time::Duration::from_secs(secs);
    }
    if let Some(text) = attr(block, "max_connections").and_then(expr_string) {
        limits.max_connections =
            text.parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    ConfigError::Invalid(format!(
                    "listener \"tcp\": max_connections must be a positive integer, not {text:?}"
                ))
                })?;
    }
    Ok(limits)
}
/// The body limits, each as Vault and OpenBao read them: unset or 0 keeps
/// the default, a negative number turns the limit off.
fn body_limits(block: &Block) -> Result<BodyLimits, ConfigError> {
    let limit = |key: &str, default: Option<u64>| -> Result<Option<u64>, ConfigError> {
        let Some(text) = attr(block, key).and_then(expr_string) else {
            return Ok(default);
        };
        match text.trim().parse::<i64>() {
            Ok(0) => Ok(default),
            Ok(n) => Ok(u64::try_from(n).ok()),
            Err(_) => Err(ConfigError::Invalid(format!(
                "listener \"tcp\": {key} must be an integer, not {text:?}"
            ))),
        }
    };
    let defaults = BodyLimits::default();
    let json = defaults.json;
    let max_request_size = defaults.max_request_size.map(|n| n as u64);
    Ok(BodyLimits {
        max_request_size: limit("max_request_size", max_request_size)?
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        json: JsonLimits {
            max_memory: limit("max_request_json_memory", json.max_memory)?,
            max_strings: limit("max_request_json_strings", json.max_strings)?,
            max_depth: limit("max_json_depth", json.max_depth)?,
            max_string_length: limit("max_json_string_value_length", json.max_string_length)?,
            max_object_entries: limit("max_json_object_entry_count", json.max_object_entries)?,
            max_array_elements: limit("max_json_array_element_count", json.max_array_elements)?,
            max_tokens: limit("max_json_token", json.max_tokens)?,
        },
    })
}

/// The `telemetry` stanza: `prometheus_retention_time` (24h once the
/// stanza exists), `disable_hostname`, `usage_gauge_period` (a
/// duration or `"none"`), `lease_metrics_epsilon` and
/// `num_lease_metrics_buckets`. Vault's other settings (push sinks, filters)
/// are warned about and ignored.
fn telemetry(block: &Block, warnings: &mut Vec<String>) -> Result<Telemetry, ConfigError> {
    let duration = |key: &str| -> Result<Option<Duration>, ConfigError> {
        let Some(text) = attr(block, key).and_then(expr_string) else {
            return Ok(None);
        };
        let seconds = crate::logical::parse_duration_seconds(&text)
            .ok()
            .and_then(|s| u64::try_from(s).ok())
            .ok_or_else(|| {
                ConfigError::Invalid(format!("telemetry: {key}: invalid duration {text:?}"))
            })?;
        Ok(Some(Duration::from_secs(seconds)))
    };
    let usage_gauge_period = match attr(block, "usage_gauge_period").and_then(expr_string) {
        Some(text) if text == "none" => None,
        _ => Some(duration("usage_gauge_period")?.unwrap_or(DEFAULT_USAGE_GAUGE_PERIOD)),
    };
    let lease_metrics_epsilon = match duration("lease_metrics_epsilon")? {
        Some(epsilon) if epsilon.is_zero() => {
            return Err(ConfigError::Invalid(
                "telemetry: lease_metrics_epsilon must be positive".into(),
            ))
        }
        epsilon => epsilon.unwrap_or(LEASE_METRICS_EPSILON),
    };
    let num_lease_metrics_buckets =
        match attr(block, "num_lease_metrics_buckets").and_then(expr_string) {
            None => NUM_LEASE_METRICS_BUCKETS,
            Some(text) => text.parse().map_err(|_| {
                ConfigError::Invalid(format!(
                    "telemetry: num_lease_metrics_buckets: invalid number {text:?}"
                ))
            })?,
        };
    for item in &block.settings.items {
        let key = item.key();
        if !matches!(
            key,
            "prometheus_retention_time"
                | "disable_hostname"
                | "usage_gauge_period"
                | "lease_metrics_epsilon"
                | "num_lease_metrics_buckets"
        ) {
            warnings.push(format!(
                "telemetry: {key:?} is not supported and is ignored"
            ));
        }
    }
    Ok(Telemetry {
        prometheus_retention: duration("prometheus_retention_time")?.unwrap_or(DEFAULT_RETENTION),
        disable_hostname: attr(block, "disable_hostname").is_some_and(expr_bool),
        usage_gauge_period,
        lease_metrics_epsilon,
        num_lease_metrics_buckets,
    })
}

fn seal(block: &Block) -> Result<StaticKeySource, ConfigError> {
    if label(block) != "static" {
        return Err(ConfigError::Invalid(format!(
            "unsupported seal type {:?}: vaultlet supports shamir (no stanza) and \"static\"",
            label(block)
        )));
    }
    attr(block, "current_key")
        .and_then(expr_string)
        .map(StaticKeySource)
        .ok_or_else(|| ConfigError::Invalid("seal \"static\" needs current_key".into()))
}

fn storage(block: &Block) -> Result<StorageConfig, ConfigError> {
    match label(block) {
        "inmem" => Ok(StorageConfig::Memory),
        "file" | "raft" | "redb" => {
            let path = attr(block, "path").and_then(expr_string).ok_or_else(|| {
                ConfigError::Invalid(format!("storage {:?} needs a path", label(block)))
            })?;
            Ok(StorageConfig::Durable(PathBuf::from(path)))
        }
        "postgresql" => {
            postgres(block, std::env::var(PG_URL_VARIABLE).ok()).map(StorageConfig::Postgres)
        }
        other => Err(ConfigError::Invalid(format!(
            "unsupported storage type {other:?}"
        ))),
    }
}

/// `ha_lock_ttl`: whole or fractional seconds (`2s`, `1.5s`) or
/// milliseconds (`1500ms`); short enough a lock makes renewal too tight.
fn lock_ttl(text: &str) -> Option<std::time::Duration> {
    let text = text.trim();
    let (number, scale) = match text.strip_suffix("ms") {
        Some(ms) => (ms, 0.001),
        None => (text.strip_suffix('s').unwrap_or(text), 1.0),
    };
    let seconds = number.trim().parse::<f64>().ok()? * scale;
    (seconds.is_finite() && (0.3..=3600.0).contains(&seconds))
        .then(|| std::time::Duration::from_secs_f64(seconds))
}

/// Override `api_addr` and `cluster_addr`, as in Vault.
const API_ADDR_VARIABLE: &str = "VAULT_API_ADDR";
const CLUSTER_ADDR_VARIABLE: &str = "VAULT_CLUSTER_ADDR";

/// Overrides `connection_url`, as in Vault.
const PG_URL_VARIABLE: &str = "VAULT_PG_CONNECTION_URL";

/// Vault's `storage "postgresql"` stanza; `env_url` is
/// `VAULT_PG_CONNECTION_URL`, which wins over `connection_url`.
fn postgres(block: &Block, env_url: Option<String>) -> Result<PostgresSettings, ConfigError> {
    let invalid = |why: String| ConfigError::Invalid(format!("storage \"postgresql\": {why}"));
    let text = |key: &str| attr(block, key).and_then(expr_string);
    let url = env_url
        .filter(|u| !u.is_empty())
        .or_else(|| text("connection_url"))
        .ok_or_else(|| {
            invalid(format!(
                "missing connection_url (or the {PG_URL_VARIABLE} environment variable)"
            ))
        })?;
    let mut settings = PostgresSettings::new(url);
    if let Some(table) = text("table") {
        settings.table = table;
    }
    if let Some(table) = text("ha_table") {
        settings.ha_table = table;
    }
    let count = |key: &str| -> Result<Option<usize>, ConfigError> {
        text(key)
            .map(|v| {
                v.trim()
                    .parse::<usize>()
                    .map_err(|e| invalid(format!("failed parsing {key} parameter: {e}")))
            })
            .transpose()
    };
    if let Some(n) = count("max_parallel")?.filter(|n| *n > 0) {
        settings.max_parallel = n;
    }
    if let Some(n) = count("max_idle_connections")? {
        settings.max_idle_connections = n;
    }
    settings.skip_create_table = attr(block, "skip_create_table").is_some_and(expr_bool);
    settings.ha_enabled = attr(block, "ha_enabled").is_some_and(expr_bool);
    if let Some(ttl) = text("ha_lock_ttl") {
        settings.ha_lock_ttl = lock_ttl(&ttl)
            .ok_or_else(|| invalid(format!("ha_lock_ttl {ttl:?} is not a duration of at least 300ms, such as \"1500ms\" or \"2s\"")))?;
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_vault_style_config() {
        let config = ServerConfig::parse(
            r#"
            ui = true
            disable_mlock = true
            api_addr = "http://127.0.0.1:8200"
            listener "tcp" {
              address     = "0.0.0.0:8200"
              tls_disable = 1
            }
            storage "raft" { path = "/vault/data" }
            telemetry { foo = 1 }
            "#,
        )
        .expect("parses");
        assert_eq!(config.listeners[0].address, "0.0.0.0:8200");
        assert_eq!(config.listeners[0].tls, None);
        assert!(config.ui);
        assert_eq!(
            config.storage,
            StorageConfig::Durable(PathBuf::from("/vault/data"))
        );
        assert_eq!(config.warnings.len(), 1);
    }

    #[test]
    fn the_environment_names_this_node_s_addresses() {
        let mut config = ServerConfig::parse(
            "api_addr = \"http://file:8200\"\ncluster_addr = \"https://file:8201\"\nlistener \"tcp\" { address = \"0.0.0.0:8200\" tls_disable = 1 }\nstorage \"inmem\" {}\n",
        )
        .expect("parses");
        config.override_addresses(|name| match name {
            "VAULT_API_ADDR" => Some("http://10.0.0.7:8200".into()),
            "VAULT_CLUSTER_ADDR" => Some(String::new()),
            _ => None,
        });
        assert_eq!(config.api_addr.as_deref(), Some("http://10.0.0.7:8200"));
        // An empty variable leaves the file's value.
        assert_eq!(config.cluster_addr.as_deref(), Some("https://file:8201"));
        config.override_addresses(|name| {
            (name == "VAULT_CLUSTER_ADDR").then(|| "https://vault-1.vault-internal:8201".into())
        });
        assert_eq!(
            config.cluster_addr.as_deref(),
            Some("https://vault-1.vault-internal:8201")
        );
    }

    #[test]
    fn reads_hcl1_one_line_blocks_as_vault_does() {
        let config = ServerConfig::parse(
            "listener \"tcp\" { address = \"127.0.0.1:8200\" tls_disable = 1 }\nstorage \"raft\" { path = \"/d\" node_id = \"n\" }\n",
        )
        .expect("parses");
        assert_eq!(config.listeners[0].address, "127.0.0.1:8200");
        assert_eq!(config.listeners[0].tls, None);
        assert!(!config.ui, "the web UI is off unless asked for");
        let err = ServerConfig::parse("listener \"tcp\" {").unwrap_err();
        assert_eq!(
            err.to_string(),
            "error parsing config file : At 1:18: object expected closing RBRACE got: EOF"
        );
    }

    #[test]
    fn tls_needs_a_certificate_unless_disabled() {
        let err = ServerConfig::parse("listener \"tcp\" {}\nstorage \"inmem\" {}");
        assert!(err.is_err());
        let config = ServerConfig::parse(
            "listener \"tcp\" {\n tls_cert_file = \"/c.pem\"\n tls_key_file = \"/k.pem\"\n tls_min_version = \"tls13\"\n}\nstorage \"inmem\" {}",
        )
        .expect("parses");
        let tls = config.listeners[0].tls.clone().expect("tls");
        assert_eq!(tls.min_version.as_deref(), Some("tls13"));
    }

    #[test]
    fn listener_limits_are_configurable() {
        let config = ServerConfig::parse(
            "listener \"tcp\" {\n tls_disable = true\n http_read_header_timeout = \"2s\"\n http_read_timeout = 5\n max_connections = 8\n}\nstorage \"inmem\" {}",
        )
        .expect("parses");
        let limits = config.listeners[0].limits;
        assert_eq!(
            limits.header_read_timeout,
            std::time::Duration::from_secs(2)
        );
        assert_eq!(limits.body_read_timeout, std::time::Duration::from_secs(5));
        assert_eq!(limits.max_connections, 8);
        let defaults =
            ServerConfig::parse("listener \"tcp\" { tls_disable = 1 }\nstorage \"inmem\" {}")
                .expect("parses");
        assert_eq!(defaults.listeners[0].limits, Limits::default());
        for bad in [
            "max_connections = 0",
            "max_connections = \"x\"",
            "http_read_timeout = \"soon\"",
        ] {
            let text = format!(
                "listener \"tcp\" {{\n tls_disable = 1\n {bad}\n}}\nstorage \"inmem\" {{}}"
            );
            assert!(ServerConfig::parse(&text).is_err(), "{bad}");
        }
    }

    #[test]
    fn body_limits_are_configurable() {
        let parse = |settings: &str| {
            let text = format!(
                "listener \"tcp\" {{\n tls_disable = 1\n {settings}\n}}\nstorage \"inmem\" {{}}"
            );
            ServerConfig::parse(&text).map(|c| c.listeners[0].body)
        };
        assert_eq!(parse("").expect("defaults"), BodyLimits::default());
        let body = parse(
            "max_request_size = 1024\n max_request_json_strings = 10\n max_request_json_memory = -1\n max_json_depth = 0\n max_json_token = \"99\"",
        )
        .expect("parses");
        assert_eq!(body.max_request_size, Some(1024));
        assert_eq!(body.json.max_strings, Some(10));
        assert_eq!(body.json.max_memory, None);
        assert_eq!(body.json.max_depth, JsonLimits::default().max_depth);
        assert_eq!(body.json.max_tokens, Some(99));
        assert!(parse("max_json_array_element_count = \"many\"").is_err());
    }

    #[test]
    fn reads_vaults_postgresql_stanza() {
        let parse = |body: &str, env: Option<&str>| {
            let items =
                hcl1::parse(&format!("storage \"postgresql\" {{\n{body}\n}}")).expect("hcl");
            let Value::Object(settings) = &items.items[0].value else {
                panic!("a block");
            };
            postgres(
                &Block {
                    label: "postgresql",
                    settings,
                },
                env.map(str::to_string),
            )
        };
        let defaults = parse("connection_url = \"postgres://a@h/db\"", None).expect("parses");
        assert_eq!(defaults, PostgresSettings::new("postgres://a@h/db"));
        assert_eq!(defaults.table, "vault_kv_store");
        assert_eq!(defaults.ha_table, "vault_ha_locks");
        assert_eq!(defaults.max_parallel, 128);
        let set = parse(
            "connection_url = \"postgres://a@h/db\"\n table = \"kv\"\n ha_table = \"locks\"\n max_parallel = \"8\"\n max_idle_connections = 2\n skip_create_table = \"true\"\n ha_enabled = \"false\"",
            Some("postgres://env@h/db"),
        )
        .expect("parses");
        assert_eq!(set.connection_url, "postgres://env@h/db");
        assert_eq!((set.table.as_str(), set.ha_table.as_str()), ("kv", "locks"));
        assert_eq!((set.max_parallel, set.max_idle_connections), (8, 2));
        assert!(set.skip_create_table);
        assert!(parse("", None).is_err());
        assert!(parse("", Some("postgres://env@h/db")).is_ok());
        assert!(parse("connection_url = \"x\"\n max_parallel = \"many\"", None).is_err());
        let ha = parse("connection_url = \"x\"\n ha_enabled = \"true\"", None).expect("ha");
        assert!(ha.ha_enabled);
        assert_eq!(ha.ha_lock_ttl, PostgresSettings::DEFAULT_HA_LOCK_TTL);
        let ttl = |t: &str| {
            parse(
                &format!("connection_url = \"x\"\n ha_lock_ttl = \"{t}\""),
                None,
            )
            .map(|s| s.ha_lock_ttl.as_millis())
        };
        assert_eq!(ttl("2s").ok(), Some(2000));
        assert_eq!(ttl("750ms").ok(), Some(750));
        assert_eq!(ttl("1.5").ok(), Some(1500));
        for bad in ["", "0s", "10ms", "soon", "-1s"] {
            assert!(
                ttl(bad).is_err_and(|e| e.to_string().contains("ha_lock_ttl")),
                "{bad}"
            );
        }
        assert!(!format!("{defaults:?}").contains("postgres://"));
    }

    #[test]
    fn reads_a_migration_config() {
        let config = MigrationConfig::parse(
            "storage_source \"raft\" { path = \"/old\" }\nstorage_destination \"postgresql\" {\n connection_url = \"postgres://u@h/db\"\n}\ncluster_addr = \"x\"",
        )
        .expect("parses");
        assert_eq!(config.source, StorageConfig::Durable(PathBuf::from("/old")));
        assert!(matches!(config.destination, StorageConfig::Postgres(_)));
        for bad in [
            "storage_source \"raft\" { path = \"/a\" }",
            "storage_destination \"raft\" { path = \"/a\" }",
            "storage_source \"raft\" { path = \"/a\" }\nstorage_source \"raft\" { path = \"/b\" }\nstorage_destination \"raft\" { path = \"/c\" }",
            "storage_source \"consul\" {}\nstorage_destination \"raft\" { path = \"/c\" }",
        ] {
            assert!(MigrationConfig::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reads_the_telemetry_stanzas() {
        let bare =
            ServerConfig::parse("listener \"tcp\" { tls_disable = 1 }\nstorage \"inmem\" {}")
                .expect("parses");
        assert!(!bare.telemetry.prometheus_enabled());
        assert!(!bare.listeners[0].unauthenticated_metrics_access);
        let config = ServerConfig::parse(
            r#"
            listener "tcp" {
              tls_disable = 1
              telemetry { unauthenticated_metrics_access = "true" }
            }
            storage "inmem" {}
            telemetry {
              disable_hostname = true
              usage_gauge_period = "none"
              statsd_address = "127.0.0.1:8125"
            }
            "#,
        )
        .expect("parses");
        assert!(config.listeners[0].unauthenticated_metrics_access);
        assert_eq!(
            config.telemetry,
            Telemetry {
                prometheus_retention: DEFAULT_RETENTION,
                disable_hostname: true,
                usage_gauge_period: None,
                lease_metrics_epsilon: LEASE_METRICS_EPSILON,
                num_lease_metrics_buckets: NUM_LEASE_METRICS_BUCKETS,
            }
        );
        assert_eq!(
            config.warnings,
            ["telemetry: \"statsd_address\" is not supported and is ignored"]
        );
        let off = ServerConfig::parse(
            "listener \"tcp\" { tls_disable = 1 }\nstorage \"inmem\" {}\ntelemetry { prometheus_retention_time = \"0s\"\n usage_gauge_period = \"30s\" }",
        )
        .expect("parses");
        assert!(!off.telemetry.prometheus_enabled());
        assert_eq!(
            off.telemetry.usage_gauge_period,
            Some(Duration::from_secs(30))
        );
        let leases = ServerConfig::parse(
            "listener \"tcp\" { tls_disable = 1 }\nstorage \"inmem\" {}\ntelemetry { lease_metrics_epsilon = \"10m\"\n num_lease_metrics_buckets = 6 }",
        )
        .expect("parses");
        assert_eq!(
            leases.telemetry.lease_metrics_epsilon,
            Duration::from_secs(600)
        );
        assert_eq!(leases.telemetry.num_lease_metrics_buckets, 6);
        let bad = "listener \"tcp\" { tls_disable = 1 }\nstorage \"inmem\" {}\ntelemetry { prometheus_retention_time = \"soon\" }";
        assert!(ServerConfig::parse(bad).is_err());
    }

    #[test]
    fn refuses_a_config_without_storage() {
        assert!(ServerConfig::parse("listener \"tcp\" {}").is_err());
    }
}
