//! What a PKI mount shows in `sys/metrics`: each issuer's expiry (Vault
//! has no such metric), its CRL's freshness and size, and the number of
//! stored and revoked certificates.

use super::certs::{CERT_PREFIX, REVOKED_PREFIX};
use std::sync::atomic::{AtomicI64, Ordering};

use super::tidy_job::{State, UNSET};
use super::{crl, tidy, tidy_config, PkiBackend};
use crate::logical::Result;
use crate::storage::StorageView;
use crate::util::gotime::now_unix;
use crate::util::metric::{Labels, Sample, Value};

/// Per issuer: `vaultlet.pki.issuer.not_after` (seconds since the epoch)
/// and `.seconds_to_expiry` (negative once expired); per issuer holding a
/// key: `vaultlet.pki.crl.this_update`, `.next_update` and `.size_bytes`
/// of its complete and delta CRLs (label `crl`).
pub(super) async fn gauges(
    backend: &PkiBackend,
    mount_point: &str,
    storage: &StorageView,
) -> Result<Vec<Sample>> {
    let set = backend.issuers(storage).await?;
    let now = now_unix();
    let mut samples = Vec::new();
    for issuer in set.issuers.values() {
        let labels: Labels = vec![
            ("mount_point", mount_point.to_string()),
            ("issuer_id", issuer.entry.id.clone()),
            ("issuer_name", issuer.entry.name.clone()),
        ];
        let not_after = issuer.cert.not_after;
        samples.push(Sample::gauge(
            "vaultlet.pki.issuer.not_after",
            labels.clone(),
            not_after as f64,
        ));
        samples.push(Sample::gauge(
            "vaultlet.pki.issuer.seconds_to_expiry",
            labels.clone(),
            (not_after - now) as f64,
        ));
        if issuer.key.is_none() {
            continue;
        }
        let Some(crl) = crl::freshness(storage, &issuer.entry.id).await? else {
            continue;
        };
        for (kind, times) in [("complete", &crl.complete), ("delta", &crl.delta)] {
            let mut labels = labels.clone();
            labels.push(("crl", kind.to_string()));
            for (name, value) in [
                ("vaultlet.pki.crl.this_update", times.this_update as f64),
                ("vaultlet.pki.crl.next_update", times.next_update as f64),
                ("vaultlet.pki.crl.size_bytes", times.size as f64),
            ] {
                samples.push(Sample::gauge(name, labels.clone(), value));
            }
        }
    }
    tidy_samples(backend, mount_point, &mut samples)?;
    Ok(samples)
}

/// Vault's `secrets.pki.tidy.*` once a tidy has run on the mount: when
/// the running one started (0 when none runs, as Vault resets it), where
/// the latest run is or stopped (entries found, reached and left), the runs
/// that succeeded and failed, the entries they deleted and how long they
/// took. Vault's carry no label (two PKI mounts would give one series
/// twice); these carry `mount_point`.
fn tidy_samples(backend: &PkiBackend, mount_point: &str, samples: &mut Vec<Sample>) -> Result<()> {
    let Some(status) = backend.tidy.snapshot()? else {
        return Ok(());
    };
    let labels: Labels = vec![("mount_point", mount_point.to_string())];
    let totals = &backend.tidy.totals;
    let running = matches!(status.state, State::Running | State::Cancelling);
    samples.push(Sample::gauge(
        "vault.secrets.pki.tidy.start_time_epoch",
        labels.clone(),
        if running { status.started as f64 } else { 0.0 },
    ));
    let progress = &backend.tidy.progress;
    let load = |gauge: &AtomicI64| gauge.load(Ordering::Relaxed);
    let cert_store_total = load(&progress.cert_store_total_entries);
    let revoked_total = load(&progress.revoked_cert_total_entries);
    let remaining =
        |total: i64, deleted: u64| (total - i64::try_from(deleted).unwrap_or(i64::MAX)).max(0);
    let gauges = [
        (
            "cert_store_current_entry",
            load(&progress.cert_store_current_entry),
        ),
        ("cert_store_total_entries", cert_store_total),
        (
            "cert_store_total_entries_remaining",
            remaining(cert_store_total, status.cert_store_deleted),
        ),
        (
            "revoked_cert_current_entry",
            load(&progress.revoked_cert_current_entry),
        ),
        ("revoked_cert_total_entries", revoked_total),
        (
            "revoked_cert_total_entries_remaining",
            remaining(revoked_total, status.revoked_deleted),
        ),
        (
            "revoked_cert_entries_incorrect_issuers",
            load(&progress.revoked_cert_entries_incorrect_issuers),
        ),
        (
            "revoked_cert_entries_fixed_issuers",
            load(&progress.revoked_cert_entries_fixed_issuers),
        ),
    ];
    for (name, value) in gauges {
        if value == UNSET {
            continue;
        }
        samples.push(Sample::gauge(
            format!("vault.secrets.pki.tidy.{name}"),
            labels.clone(),
            value as f64,
        ));
    }
    // The outcomes show once one happened (Vault adds one to them); the
    // deleted counts after every run (Vault adds each run's count).
    for (name, counter, shown) in [
        ("vault.secrets.pki.tidy.success", &totals.success, false),
        ("vault.secrets.pki.tidy.failure", &totals.failure, false),
        (
            "vault.secrets.pki.tidy.cert_store_deleted_count",
            &totals.cert_store_deleted,
            true,
        ),
        (
            "vault.secrets.pki.tidy.revoked_cert_deleted_count",
            &totals.revoked_cert_deleted,
            true,
        ),
    ] {
        if !shown && counter.get() == 0 {
            continue;
        }
        samples.push(Sample {
            name: name.into(),
            labels: labels.clone(),
            value: Value::Counter(counter.get()),
        });
    }
    samples.push(Sample {
        name: "vault.secrets.pki.tidy.duration".into(),
        labels,
        value: Value::Timer(totals.duration.stats()),
    });
    Ok(())
}

/// `vaultlet.pki.certificates_stored` and
/// `vaultlet.pki.revoked_certificates_stored`: they list the mount's
/// certificate store, so the core computes them once per
/// `usage_gauge_period`. With `maintain_stored_certificate_counts` and
/// `publish_stored_certificate_count_metrics` in `config/auto-tidy`, also
/// Vault's `vault.secrets.pki.<backend uuid>.total_certificates_stored`
/// and `.total_revoked_certificates_stored`.
pub(super) async fn usage_gauges(mount_point: &str, storage: &StorageView) -> Result<Vec<Sample>> {
    let labels: Labels = vec![("mount_point", mount_point.to_string())];
    let stored = storage.list(CERT_PREFIX).await?.len();
    let revoked = storage.list(REVOKED_PREFIX).await?.len();
    let mut samples = Vec::new();
    let tidy = tidy_config::read_auto_tidy(storage).await?;
    if tidy.maintain_stored_certificate_counts && tidy.publish_stored_certificate_count_metrics {
        let uuid = tidy::backend_uuid(storage).await?;
        samples.extend([
            Sample::gauge(
                format!("vault.secrets.pki.{uuid}.total_certificates_stored"),
                Vec::new(),
                stored as f64,
            ),
            Sample::gauge(
                format!("vault.secrets.pki.{uuid}.total_revoked_certificates_stored"),
                Vec::new(),
                revoked as f64,
            ),
        ]);
    }
    samples.extend([
        Sample::gauge(
            "vaultlet.pki.certificates_stored",
            labels.clone(),
            stored as f64,
        ),
        Sample::gauge(
            "vaultlet.pki.revoked_certificates_stored",
            labels,
            revoked as f64,
        ),
    ]);
    Ok(samples)
}
