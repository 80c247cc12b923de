//! A `sys/metrics` scrape: what the core recorded, plus the gauges
//! computed from its state at this instant (seal, mounts, locked users)
//! and from each mount's backend (PKI issuers, CRLs, stored certificates),
//! and the costly ones once per `usage_gauge_period` (token leases, stored
//! certificates).

use std::time::Instant;

use super::metrics::{route_samples, Labels, LeaseCount, Sample, Snapshot, Value};
use super::mounts::{MountClass, Mounted};
use super::Core;
use crate::util::gotime::{now_nanos, now_unix};

impl Core {
    /// Everything `sys/metrics` shows, now.
    pub async fn metrics_snapshot(&self) -> Snapshot {
        let mut samples = Vec::new();
        self.metrics.collect(&mut samples);
        let cluster: Labels = vec![(
            "cluster",
            self.cluster().map(|c| c.name.clone()).unwrap_or_default(),
        )];
        self.tokens.expire_metrics.collect(&cluster, &mut samples);
        let unsealed = if self.is_sealed() { 0.0 } else { 1.0 };
        samples.push(Sample::gauge(
            "vault.core.unsealed",
            cluster.clone(),
            unsealed,
        ));
        // Without HA an unsealed node is the active node.
        let active = !self.is_sealed() && self.ha().is_none_or(|ha| ha.is_active());
        samples.push(Sample::gauge(
            "vault.core.active",
            cluster.clone(),
            if active { 1.0 } else { 0.0 },
        ));
        if let Some(ha) = self.ha() {
            samples.push(Sample::gauge(
                "vaultlet.core.standby",
                cluster.clone(),
                if self.is_standby() { 1.0 } else { 0.0 },
            ));
            samples.push(Sample::gauge(
                "vaultlet.core.ha_lock_term",
                cluster.clone(),
                ha.last_term() as f64,
            ));
            samples.push(Sample {
                name: "vaultlet.core.leadership_acquired".into(),
                labels: cluster.clone(),
                value: Value::Counter(ha.leadership_acquired.get()),
            });
        }
        let locked: usize = self.lockout.locked().iter().map(|(_, a)| a.len()).sum();
        samples.push(Sample::gauge(
            "vault.core.locked_users",
            Vec::new(),
            locked as f64,
        ));
        let mounts = self.mounts.snapshot();
        for (class, kind) in [(MountClass::Auth, "auth"), (MountClass::Secret, "logical")] {
            let count = mounts.iter().filter(|m| m.entry.class == class).count();
            let mut labels = cluster.clone();
            labels.extend([("local", "false".to_string()), ("type", kind.to_string())]);
            samples.push(Sample::gauge(
                "vault.core.mount_table.num_entries",
                labels,
                count as f64,
            ));
        }
        for mounted in mounts.iter() {
            route_samples(&mounted.prefix, &mounted.route_timers, &mut samples);
            self.backend_gauges(mounted, &mut samples).await;
        }
        samples.extend(self.usage_gauges(&mounts, &cluster).await);
        let telemetry = self.telemetry();
        if !telemetry.disable_hostname {
            if let Some(host) = hostname() {
                for sample in samples.iter_mut() {
                    if matches!(sample.value, Value::Gauge(_)) {
                        sample.name = with_host(&sample.name, &host);
                    }
                }
            }
        }
        Snapshot {
            samples,
            taken_at: now_unix(),
            uptime: self.started.elapsed().as_secs_f64(),
        }
    }

    async fn backend_gauges(&self, mounted: &Mounted, samples: &mut Vec<Sample>) {
        match mounted
            .backend
            .gauges(&mounted.prefix, &mounted.storage)
            .await
        {
            Ok(gauges) => samples.extend(gauges),
            Err(err) => tracing::warn!(mount = %mounted.prefix, %err, "metrics: gauges failed"),
        }
    }

    /// The costly gauges, recomputed at most once per `usage_gauge_period`
    /// (none when it is `"none"`).
    async fn usage_gauges(&self, mounts: &[Mounted], cluster: &Labels) -> Vec<Sample> {
        let telemetry = self.telemetry();
        let Some(period) = telemetry.usage_gauge_period else {
            return Vec::new();
        };
        if let Some((at, samples)) = self.usage_gauges.lock().ok().and_then(|g| g.clone()) {
            if at.elapsed() < period {
                return samples;
            }
        }
        let mut samples = Vec::new();
        if !self.is_sealed() {
            let count = LeaseCount::new(
                now_nanos(),
                telemetry.lease_metrics_epsilon,
                telemetry.num_lease_metrics_buckets,
            );
            match self.tokens.count_leases(count).await {
                Ok(count) => samples.extend(count.samples(cluster)),
                Err(err) => tracing::warn!(%err, "metrics: counting token leases failed"),
            }
        }
        for mounted in mounts {
            match mounted
                .backend
                .usage_gauges(&mounted.prefix, &mounted.storage)
                .await
            {
                Ok(gauges) => samples.extend(gauges),
                Err(err) => {
                    tracing::warn!(mount = %mounted.prefix, %err, "metrics: usage gauges failed")
                }
            }
        }
        if let Ok(mut cache) = self.usage_gauges.lock() {
            *cache = Some((Instant::now(), samples.clone()));
        }
        samples
    }
}

/// `vault.core.active` → `vault.<host>.core.active` (Vault's gauge names
/// when `disable_hostname` is false).
fn with_host(name: &str, host: &str) -> String {
    match name.split_once('.') {
        Some((prefix, rest)) => format!("{prefix}.{host}.{rest}"),
        None => format!("{host}.{name}"),
    }
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_name_goes_after_the_prefix() {
        assert_eq!(
            with_host("vault.core.active", "node1"),
            "vault.node1.core.active"
        );
    }
}
