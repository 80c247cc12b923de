//! Telemetry: what the core and the backends record, and the two forms
//! `sys/metrics` answers in (Prometheus text and Vault's JSON).
//!
//! The request path only adds to atomics it already holds (a mount's route
//! timers live in the mount, the core's timers in [`Metrics`]): no lock, no
//! allocation, no lookup. Series whose labels come from data (token
//! creation, PKI issuance, OCSP) sit in a [`Family`], looked up under a
//! read lock on rarer, costlier operations. Gauges (seal state, mounts,
//! issuer expiry, CRLs, stored certificates) are computed when scraped.
//!
//! Names are Vault's where Vault has the metric (`vault.core.handle_request`
//! becomes `vault_core_handle_request`); vaultlet's own start `vaultlet.`.
//! See <https://developer.hashicorp.com/vault/docs/internals/telemetry/metrics/all>.

pub mod expire;
mod json;
mod prometheus;
pub mod telemetry;

pub use expire::{ExpireMetrics, LeaseCount};
pub use telemetry::Telemetry;

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use crate::logical::Operation;
pub use crate::util::metric::{Counter, Family, Labels, Sample, Timer, TimerStats, Value};

/// The route timers of one mount (Vault's `vault.route.<op>.<mount>`),
/// held by the mount so that a request finds them without a lookup.
#[derive(Default)]
pub struct RouteTimers([Timer; 6]);

impl RouteTimers {
    pub fn record(&self, operation: Operation, elapsed: Duration) {
        self.0[route_index(operation)].record(elapsed);
    }
}

const ROUTE_OPERATIONS: [Operation; 6] = [
    Operation::Create,
    Operation::Read,
    Operation::Update,
    Operation::Delete,
    Operation::List,
    Operation::Patch,
];

fn route_index(operation: Operation) -> usize {
    ROUTE_OPERATIONS
        .iter()
        .position(|op| *op == operation)
        .unwrap_or(0)
}

/// What the core records while it runs.
pub struct Metrics {
    pub handle_request: Timer,
    pub in_flight_requests: AtomicI64,
    pub audit_log_request: Timer,
    pub audit_log_response: Timer,
    pub audit_log_request_failure: Counter,
    pub audit_log_response_failure: Counter,
    /// `vault.token.creation`: auth method, mount point, creation TTL and
    /// token type.
    pub token_creation: Family<Counter>,
    /// Aliases user lockout has locked (each time a lock starts).
    pub lockouts: Counter,
    /// Certificates issued or signed: mount, role, issuer and outcome.
    pub pki_issued: Family<Counter>,
    /// Certificates revoked, by mount.
    pub pki_revoked: Family<Counter>,
    /// OCSP responses, by mount and certificate status.
    pub ocsp_responses: Family<Counter>,
    /// ACME orders by mount and what became of them: `created`,
    /// `finalized` (a certificate issued) or `invalid`.
    pub acme_orders: Family<Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            handle_request: Timer::default(),
            in_flight_requests: AtomicI64::new(0),
            audit_log_request: Timer::default(),
            audit_log_response: Timer::default(),
            audit_log_request_failure: Counter::default(),
            audit_log_response_failure: Counter::default(),
            token_creation: Family::new(&[
                "auth_method",
                "creation_ttl",
                "mount_point",
                "namespace",
                "token_type",
            ]),
            lockouts: Counter::default(),
            pki_issued: Family::new(&["mount_point", "role", "issuer", "outcome"]),
            pki_revoked: Family::new(&["mount_point"]),
            ocsp_responses: Family::new(&["mount_point", "status"]),
            acme_orders: Family::new(&["mount_point", "outcome"]),
        }
    }
}

/// Everything `sys/metrics` shows, gathered at one instant.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub samples: Vec<Sample>,
    /// When it was taken (seconds since the epoch).
    pub taken_at: i64,
    /// How long the server has been recording (seconds; rates divide by it).
    pub uptime: f64,
}

impl Metrics {
    /// The recorded series (gauges computed from state are added by the
    /// core).
    pub fn collect(&self, samples: &mut Vec<Sample>) {
        let timer = |name: &str, t: &Timer| Sample {
            name: name.into(),
            labels: Vec::new(),
            value: Value::Timer(t.stats()),
        };
        let counter = |name: &str, c: &Counter| Sample {
            name: name.into(),
            labels: Vec::new(),
            value: Value::Counter(c.get()),
        };
        samples.extend([
            timer("vault.core.handle_request", &self.handle_request),
            Sample::gauge(
                "vault.core.in_flight_requests",
                Vec::new(),
                self.in_flight_requests.load(Ordering::Relaxed) as f64,
            ),
            timer("vault.audit.log_request", &self.audit_log_request),
            timer("vault.audit.log_response", &self.audit_log_response),
            counter(
                "vault.audit.log_request_failure",
                &self.audit_log_request_failure,
            ),
            counter(
                "vault.audit.log_response_failure",
                &self.audit_log_response_failure,
            ),
            counter("vaultlet.core.lockouts_total", &self.lockouts),
        ]);
        let families = [
            ("vault.token.creation", &self.token_creation),
            ("vaultlet.pki.certificates_issued_total", &self.pki_issued),
            ("vaultlet.pki.certificates_revoked_total", &self.pki_revoked),
            ("vaultlet.pki.ocsp_responses_total", &self.ocsp_responses),
            ("vaultlet.pki.acme_orders_total", &self.acme_orders),
        ];
        for (name, family) in families {
            family.each(|labels, c| {
                samples.push(Sample {
                    name: name.into(),
                    labels,
                    value: Value::Counter(c.get()),
                })
            });
        }
    }
}

/// The route timers of a mount as samples (`vault.route.read.pki-`).
pub fn route_samples(mount_prefix: &str, timers: &RouteTimers, samples: &mut Vec<Sample>) {
    let mount = mount_prefix.replace('/', "-");
    for (op, timer) in ROUTE_OPERATIONS.iter().zip(timers.0.iter()) {
        let stats = timer.stats();
        if stats.count == 0 {
            continue;
        }
        samples.push(Sample {
            name: format!("vault.route.{}.{mount}", op.as_str()),
            labels: Vec::new(),
            value: Value::Timer(stats),
        });
    }
}

/// Vault's `creation_ttl` label: the smallest of its buckets the TTL
/// (seconds) fits in, `+Inf` beyond 30 days.
pub fn ttl_bucket(ttl: i64) -> &'static str {
    const BUCKETS: [(i64, &str); 9] = [
        (60, "1m"),
        (600, "10m"),
        (1200, "20m"),
        (3600, "1h"),
        (7200, "2h"),
        (86400, "1d"),
        (172_800, "2d"),
        (604_800, "7d"),
        (2_592_000, "30d"),
    ];
    BUCKETS
        .iter()
        .find(|(limit, _)| ttl <= *limit)
        .map_or("+Inf", |(_, name)| name)
}

/// The answer formats of `sys/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Prometheus,
}

/// Why `sys/metrics` refuses a request: Vault answers these as 400 with
/// a `text/plain` body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("metric response format \"{0}\" unknown")]
    Unknown(String),
    #[error("prometheus is not enabled")]
    PrometheusDisabled,
}

impl Format {
    /// The format a request asks for: the `format` parameter, else an
    /// `Accept` header for Prometheus or OpenMetrics text, else JSON.
    pub fn from_request(format: Option<&str>, accept: Option<&str>) -> Result<Format, FormatError> {
        match format.unwrap_or("") {
            "prometheus" => return Ok(Format::Prometheus),
            "" => {}
            other => return Err(FormatError::Unknown(other.to_string())),
        }
        let accept = accept.unwrap_or("");
        if accept.starts_with("application/openmetrics-text")
            || accept.contains("prometheus/telemetry")
        {
            return Ok(Format::Prometheus);
        }
        Ok(Format::Json)
    }
}

/// A rendered answer: status, content type and body.
pub struct Rendered {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// Renders a snapshot in the format asked for (Prometheus only if the
/// telemetry configuration enables it).
pub fn render(snapshot: &Snapshot, format: Format, telemetry: &Telemetry) -> Rendered {
    match format {
        Format::Json => Rendered {
            status: 200,
            content_type: "application/json",
            body: json::render(snapshot),
        },
        Format::Prometheus if !telemetry.prometheus_enabled() => {
            refusal(&FormatError::PrometheusDisabled)
        }
        Format::Prometheus => Rendered {
            status: 200,
            content_type: prometheus::CONTENT_TYPE,
            body: prometheus::render(snapshot),
        },
    }
}

/// Vault's answer to a bad `sys/metrics` request.
pub fn refusal(err: &FormatError) -> Rendered {
    Rendered {
        status: 400,
        content_type: "text/plain",
        body: err.to_string().into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_comes_from_the_parameter_or_the_accept_header() {
        assert_eq!(Format::from_request(None, None), Ok(Format::Json));
        assert_eq!(
            Format::from_request(Some("prometheus"), None),
            Ok(Format::Prometheus)
        );
        assert_eq!(
            Format::from_request(None, Some("application/openmetrics-text; version=1.0.0")),
            Ok(Format::Prometheus)
        );
        assert_eq!(
            Format::from_request(Some("xml"), None)
                .unwrap_err()
                .to_string(),
            "metric response format \"xml\" unknown"
        );
    }
}
