//! Vault's `vault.expire.*` series for what vaultlet's leases are: tokens
//! with a TTL (Vault's expiration manager holds them as auth leases;
//! vaultlet issues no secret leases). The token store records the timers
//! and the expiry counter as it works; the lease gauges are counted from
//! the stored tokens once per `usage_gauge_period`.
//! See <https://developer.hashicorp.com/vault/docs/internals/telemetry/metrics/core-system#expiration-manager-metrics>.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use time::macros::format_description;
use time::OffsetDateTime;

use crate::util::metric::{Counter, Labels, Sample, Timer, Value};

/// What the token store records about its leases.
#[derive(Default)]
pub struct ExpireMetrics {
    /// `vault.expire.register-auth`: storing a new token lease.
    pub register_auth: Timer,
    /// `vault.expire.renew-token`: renewing a token.
    pub renew_token: Timer,
    /// `vault.expire.revoke`: revoking a token and its children (asked
    /// for, used up or expired).
    pub revoke: Timer,
    /// `vault.expire.revoke-by-token`: tearing down one revoked token
    /// (entry, accessor, parent link, cubbyhole), once per token.
    pub revoke_by_token: Timer,
    /// `vault.expire.revoke-prefix`: revoking every token created under an
    /// auth mount (disabled or moved).
    pub revoke_prefix: Timer,
    /// `vault.expire.lease_expiration`: tokens revoked because they expired.
    pub lease_expiration: Counter,
}

impl ExpireMetrics {
    /// Times `work` into `timer` (also when it fails, as Vault's deferred
    /// measurements do).
    pub async fn timed<T>(timer: &Timer, work: impl std::future::Future<Output = T>) -> T {
        let started = Instant::now();
        let out = work.await;
        timer.record(started.elapsed());
        out
    }

    /// The timers that have recorded something (Vault shows a timer once
    /// it has a sample) and the expiry counter once a lease expired.
    pub fn collect(&self, cluster: &Labels, samples: &mut Vec<Sample>) {
        for (name, timer) in [
            ("vault.expire.register-auth", &self.register_auth),
            ("vault.expire.renew-token", &self.renew_token),
            ("vault.expire.revoke", &self.revoke),
            ("vault.expire.revoke-by-token", &self.revoke_by_token),
            ("vault.expire.revoke-prefix", &self.revoke_prefix),
        ] {
            let stats = timer.stats();
            if stats.count > 0 {
                samples.push(Sample {
                    name: name.into(),
                    labels: Vec::new(),
                    value: Value::Timer(stats),
                });
            }
        }
        let expired = self.lease_expiration.get();
        if expired > 0 {
            let mut labels = cluster.clone();
            labels.push(("namespace", "root".into()));
            samples.push(Sample {
                name: "vault.expire.lease_expiration".into(),
                labels,
                value: Value::Counter(expired),
            });
        }
    }
}

/// Vault's `lease_metrics_epsilon`: the width of a `by_expiration` bucket.
pub const LEASE_METRICS_EPSILON: Duration = Duration::from_secs(3600);
/// Vault's `num_lease_metrics_buckets`: how many buckets ahead are shown.
pub const NUM_LEASE_METRICS_BUCKETS: u32 = 168;

/// Counts live token leases: `vault.expire.num_leases` (every token that
/// will expire and has not yet) and `vault.expire.leases.by_expiration`
/// (those ending within the window, by the bucket their end rounds to).
#[derive(Debug)]
pub struct LeaseCount {
    now_ns: i64,
    window_end_ns: i64,
    epsilon_ns: i64,
    live: u64,
    by_bucket: BTreeMap<i64, u64>,
}

impl LeaseCount {
    pub fn new(now_ns: i64, epsilon: Duration, buckets: u32) -> Self {
        let epsilon_ns = i64::try_from(epsilon.as_nanos()).unwrap_or(i64::MAX).max(1);
        LeaseCount {
            now_ns,
            window_end_ns: now_ns.saturating_add(epsilon_ns.saturating_mul(buckets.into())),
            epsilon_ns,
            live: 0,
            by_bucket: BTreeMap::new(),
        }
    }

    /// One stored token, by when it expires (nanoseconds since the epoch;
    /// 0 for a token that never does, which is no lease).
    pub fn add(&mut self, expires_ns: i64) {
        if expires_ns == 0 || expires_ns < self.now_ns {
            return;
        }
        self.live += 1;
        if expires_ns < self.window_end_ns {
            *self
                .by_bucket
                .entry(round_to(expires_ns, self.epsilon_ns))
                .or_default() += 1;
        }
    }

    pub fn samples(&self, cluster: &Labels) -> Vec<Sample> {
        let mut samples = vec![Sample::gauge(
            "vault.expire.num_leases",
            Vec::new(),
            self.live as f64,
        )];
        for (bucket_ns, count) in &self.by_bucket {
            let mut labels = cluster.clone();
            labels.push(("expiring", go_time_string(*bucket_ns)));
            samples.push(Sample::gauge(
                "vault.expire.leases.by_expiration",
                labels,
                *count as f64,
            ));
        }
        samples
    }
}

/// Seconds from Go's zero time (0001-01-01 UTC), which Go's `Time.Round`
/// counts multiples from, to the Unix epoch.
const GO_ZERO_TO_UNIX_SECONDS: i128 = 62_135_596_800;

/// Go's `Time.Round(d)`: the nearest multiple of `d` since Go's zero time,
/// halfway rounding up.
fn round_to(unix_ns: i64, step_ns: i64) -> i64 {
    let since_zero = i128::from(unix_ns) + GO_ZERO_TO_UNIX_SECONDS * 1_000_000_000;
    let step = i128::from(step_ns);
    let rest = since_zero.rem_euclid(step);
    let down = since_zero - rest;
    let rounded = if rest * 2 < step { down } else { down + step };
    i64::try_from(rounded - GO_ZERO_TO_UNIX_SECONDS * 1_000_000_000).unwrap_or(i64::MAX)
}

/// A UTC instant as Go's `Time.String` writes it (Vault's `expiring`
/// label): `2026-12-05 18:00:00 +0000 UTC`.
fn go_time_string(unix_ns: i64) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second] +0000 UTC");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ns))
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR_NS: i64 = 3_600_000_000_000;
    /// 2026-12-05 17:32:46 UTC.
    const NOW_NS: i64 = 1_796_491_966_000_000_000;

    fn gauges(count: &LeaseCount) -> Vec<(String, Option<String>, f64)> {
        count
            .samples(&vec![("cluster", "c".into())])
            .into_iter()
            .map(|s| {
                let expiring = s
                    .labels
                    .iter()
                    .find(|(k, _)| *k == "expiring")
                    .map(|(_, v)| v.clone());
                let Value::Gauge(v) = s.value else {
                    panic!("not a gauge")
                };
                (s.name, expiring, v)
            })
            .collect()
    }

    #[test]
    fn only_live_tokens_that_expire_are_leases() {
        let mut count = LeaseCount::new(NOW_NS, LEASE_METRICS_EPSILON, NUM_LEASE_METRICS_BUCKETS);
        count.add(0); // a root token that never expires
        count.add(NOW_NS - 1); // expired, not yet swept
        count.add(NOW_NS + 30 * 60 * 1_000_000_000); // 18:02:46 → 18:00
        count.add(NOW_NS + HOUR_NS); // 18:32:46 → 19:00
        count.add(NOW_NS + HOUR_NS + 60_000_000_000); // 18:33:46 → 19:00
        count.add(NOW_NS + 200 * HOUR_NS); // beyond the 168 buckets
        assert_eq!(
            gauges(&count),
            [
                ("vault.expire.num_leases".to_string(), None, 4.0),
                (
                    "vault.expire.leases.by_expiration".to_string(),
                    Some("2026-12-05 18:00:00 +0000 UTC".to_string()),
                    1.0
                ),
                (
                    "vault.expire.leases.by_expiration".to_string(),
                    Some("2026-12-05 19:00:00 +0000 UTC".to_string()),
                    2.0
                ),
            ]
        );
    }

    #[test]
    fn no_leases_is_a_zero_count_and_no_buckets() {
        let count = LeaseCount::new(NOW_NS, LEASE_METRICS_EPSILON, NUM_LEASE_METRICS_BUCKETS);
        assert_eq!(
            gauges(&count),
            [("vault.expire.num_leases".to_string(), None, 0.0)]
        );
    }

    #[test]
    fn rounding_is_gos_half_up_from_its_zero_time() {
        let half = HOUR_NS / 2;
        let hour = 1_796_490_000_000_000_000; // 17:00:00
        assert_eq!(round_to(hour + half - 1, HOUR_NS), hour);
        assert_eq!(round_to(hour + half, HOUR_NS), hour + HOUR_NS);
        // A 7-minute step counts from 0001-01-01, not from 1970.
        let seven = 7 * 60 * 1_000_000_000;
        let rounded = round_to(hour, seven);
        assert_eq!(
            (i128::from(rounded) + GO_ZERO_TO_UNIX_SECONDS * 1_000_000_000) % i128::from(seven),
            0
        );
    }

    #[test]
    fn timers_and_the_expiry_counter_show_once_they_have_something() {
        let metrics = ExpireMetrics::default();
        let cluster: Labels = vec![("cluster", "c".into())];
        let mut samples = Vec::new();
        metrics.collect(&cluster, &mut samples);
        assert!(samples.is_empty());
        metrics.renew_token.record(Duration::from_millis(2));
        metrics.lease_expiration.inc();
        metrics.lease_expiration.inc();
        metrics.collect(&cluster, &mut samples);
        let names: Vec<&str> = samples.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["vault.expire.renew-token", "vault.expire.lease_expiration"]
        );
        assert_eq!(samples[1].value, Value::Counter(2));
        assert_eq!(
            samples[1].labels,
            vec![
                ("cluster", "c".to_string()),
                ("namespace", "root".to_string())
            ]
        );
    }
}
