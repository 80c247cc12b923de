//! The server's `telemetry` stanza, as far as `sys/metrics` uses it.
//! See <https://developer.hashicorp.com/vault/docs/configuration/telemetry>.

use std::time::Duration;

/// How metrics are kept and shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Telemetry {
    /// `prometheus_retention_time`: zero turns the Prometheus format off.
    /// Without a `telemetry` stanza it is off; with one it defaults to 24h.
    /// vaultlet's series are cumulative and never go stale, so any
    /// non-zero value only turns the format on.
    pub prometheus_retention: Duration,
    /// `disable_hostname`: when false, gauge names carry the host name
    /// after the prefix (`vault.<host>.core.unsealed`), as in Vault.
    pub disable_hostname: bool,
    /// `usage_gauge_period`: how often the costly gauges (stored
    /// certificate counts, which list storage) are recomputed; `None` for
    /// `"none"`, which turns them off.
    pub usage_gauge_period: Option<Duration>,
}

/// Vault's `prometheus_retention_time` once a `telemetry` stanza exists.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(24 * 3600);
/// Vault's `usage_gauge_period`.
pub const DEFAULT_USAGE_GAUGE_PERIOD: Duration = Duration::from_secs(600);

impl Default for Telemetry {
    /// No `telemetry` stanza: Prometheus off, host names in gauge names.
    fn default() -> Self {
        Telemetry {
            prometheus_retention: Duration::ZERO,
            disable_hostname: false,
            usage_gauge_period: Some(DEFAULT_USAGE_GAUGE_PERIOD),
        }
    }
}

impl Telemetry {
    /// What `vault server -dev` uses: Prometheus on for 24h, no host names.
    pub fn dev() -> Self {
        Telemetry {
            prometheus_retention: DEFAULT_RETENTION,
            disable_hostname: true,
            usage_gauge_period: Some(DEFAULT_USAGE_GAUGE_PERIOD),
        }
    }

    pub fn prometheus_enabled(&self) -> bool {
        !self.prometheus_retention.is_zero()
    }
}
