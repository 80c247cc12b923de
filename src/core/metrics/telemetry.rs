//! The server's `telemetry` stanza, as far as `sys/metrics` uses it.
//! See <https://developer.hashicorp.com/vault/docs/configuration/telemetry>.

use std::time::Duration;

pub use super::expire::{LEASE_METRICS_EPSILON, NUM_LEASE_METRICS_BUCKETS};

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
    /// `lease_metrics_epsilon`: the width of a
    /// `vault.expire.leases.by_expiration` bucket.
    pub lease_metrics_epsilon: Duration,
    /// `num_lease_metrics_buckets`: how many of those buckets are shown.
    pub num_lease_metrics_buckets: u32,
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
            lease_metrics_epsilon: LEASE_METRICS_EPSILON,
            num_lease_metrics_buckets: NUM_LEASE_METRICS_BUCKETS,
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
            lease_metrics_epsilon: LEASE_METRICS_EPSILON,
            num_lease_metrics_buckets: NUM_LEASE_METRICS_BUCKETS,
        }
    }

    pub fn prometheus_enabled(&self) -> bool {
        !self.prometheus_retention.is_zero()
    }
}
