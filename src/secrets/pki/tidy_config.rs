//! What a tidy does and when auto-tidy runs: the fields of `tidy` and
//! `config/auto-tidy`, and the stored auto-tidy configuration.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::logical::framework::Field;
use crate::logical::{Error, FieldData, GoDuration, Result};
use crate::storage::StorageView;

/// The tidy operations and their buffers, which `tidy` and
/// `config/auto-tidy` share ([`TidyConfig::merge_operations`]).
pub(super) const OPERATION_FIELDS: &[Field] = &[
    Field::bool("tidy_cert_store"),
    Field::bool("tidy_revoked_certs"),
    Field::bool("tidy_revoked_cert_issuer_associations"),
    Field::bool("tidy_expired_issuers"),
    Field::bool("tidy_move_legacy_ca_bundle"),
    Field::bool("tidy_revocation_queue"),
    Field::bool("tidy_cross_cluster_revoked_certs"),
    Field::bool("tidy_acme"),
    Field::bool("tidy_cert_metadata"),
    Field::bool("tidy_cmpv2_nonce_store"),
    Field::duration("safety_buffer"),
    Field::duration("issuer_safety_buffer"),
    Field::duration("pause_duration"),
    Field::duration("revocation_queue_safety_buffer"),
    Field::duration("acme_account_safety_buffer"),
];

/// `config/auto-tidy`'s schedule ([`TidyConfig::merge_auto`]).
pub(super) const SCHEDULE_FIELDS: &[Field] = &[
    Field::bool("enabled"),
    Field::duration("interval_duration"),
    Field::duration("min_startup_backoff_duration"),
    Field::duration("max_startup_backoff_duration"),
    Field::bool("maintain_stored_certificate_counts"),
    Field::bool("publish_stored_certificate_count_metrics"),
];

pub(super) const AUTO_TIDY_CONFIG: &str = "config/auto-tidy";

/// Which tidy operations run and with what buffers; `config/auto-tidy`
/// adds the schedule. Durations are seconds, as Vault reports them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TidyConfig {
    pub enabled: bool,
    pub interval_duration: i64,
    pub min_startup_backoff_duration: i64,
    pub max_startup_backoff_duration: i64,
    pub tidy_cert_store: bool,
    pub tidy_revoked_certs: bool,
    pub tidy_revoked_cert_issuer_associations: bool,
    pub tidy_expired_issuers: bool,
    pub tidy_move_legacy_ca_bundle: bool,
    pub tidy_revocation_queue: bool,
    pub tidy_cross_cluster_revoked_certs: bool,
    pub tidy_acme: bool,
    pub tidy_cert_metadata: bool,
    pub tidy_cmpv2_nonce_store: bool,
    pub safety_buffer: i64,
    pub issuer_safety_buffer: i64,
    pub acme_account_safety_buffer: i64,
    pub revocation_queue_safety_buffer: i64,
    pub pause_duration: i64,
    pub maintain_stored_certificate_counts: bool,
    pub publish_stored_certificate_count_metrics: bool,
}

impl Default for TidyConfig {
    fn default() -> Self {
        TidyConfig {
            enabled: false,
            interval_duration: 12 * 3600,
            min_startup_backoff_duration: 5 * 60,
            max_startup_backoff_duration: 15 * 60,
            tidy_cert_store: false,
            tidy_revoked_certs: false,
            tidy_revoked_cert_issuer_associations: false,
            tidy_expired_issuers: false,
            tidy_move_legacy_ca_bundle: false,
            tidy_revocation_queue: false,
            tidy_cross_cluster_revoked_certs: false,
            tidy_acme: false,
            tidy_cert_metadata: false,
            tidy_cmpv2_nonce_store: false,
            safety_buffer: 72 * 3600,
            issuer_safety_buffer: 365 * 24 * 3600,
            acme_account_safety_buffer: 30 * 24 * 3600,
            revocation_queue_safety_buffer: 48 * 3600,
            pause_duration: 0,
            maintain_stored_certificate_counts: false,
            publish_stored_certificate_count_metrics: false,
        }
    }
}

pub(super) const ANY_TIDY: &str = "tidy_cert_store / tidy_revoked_certs / tidy_revoked_cert_issuer_associations / tidy_expired_issuers / tidy_move_legacy_ca_bundle / tidy_revocation_queue / tidy_cross_cluster_revoked_certs / tidy_acme";

impl TidyConfig {
    pub(super) fn any_enabled(&self) -> bool {
        self.tidy_cert_store
            || self.tidy_revoked_certs
            || self.tidy_revoked_cert_issuer_associations
            || self.tidy_expired_issuers
            || self.tidy_move_legacy_ca_bundle
            || self.tidy_revocation_queue
            || self.tidy_cross_cluster_revoked_certs
            || self.tidy_acme
            || self.tidy_cert_metadata
            || self.tidy_cmpv2_nonce_store
    }

    /// Applies the tidy operation fields present in `data` (shared by
    /// `tidy` and `config/auto-tidy`), with Vault's checks.
    pub(super) fn merge_operations(&mut self, data: &FieldData) -> Result<()> {
        for (name, flag) in [
            ("tidy_cert_store", &mut self.tidy_cert_store),
            ("tidy_revoked_certs", &mut self.tidy_revoked_certs),
            (
                "tidy_revoked_cert_issuer_associations",
                &mut self.tidy_revoked_cert_issuer_associations,
            ),
            ("tidy_expired_issuers", &mut self.tidy_expired_issuers),
            (
                "tidy_move_legacy_ca_bundle",
                &mut self.tidy_move_legacy_ca_bundle,
            ),
            ("tidy_revocation_queue", &mut self.tidy_revocation_queue),
            (
                "tidy_cross_cluster_revoked_certs",
                &mut self.tidy_cross_cluster_revoked_certs,
            ),
            ("tidy_acme", &mut self.tidy_acme),
            ("tidy_cert_metadata", &mut self.tidy_cert_metadata),
            ("tidy_cmpv2_nonce_store", &mut self.tidy_cmpv2_nonce_store),
        ] {
            if let Some(value) = data.bool(name)? {
                *flag = value;
            }
        }
        for (name, buffer) in [
            ("safety_buffer", &mut self.safety_buffer),
            ("issuer_safety_buffer", &mut self.issuer_safety_buffer),
            (
                "revocation_queue_safety_buffer",
                &mut self.revocation_queue_safety_buffer,
            ),
            (
                "acme_account_safety_buffer",
                &mut self.acme_account_safety_buffer,
            ),
        ] {
            if let Some(seconds) = data.duration(name)? {
                if seconds < 1 {
                    let shown = if name == "issuer_safety_buffer" {
                        "safety_buffer"
                    } else {
                        name
                    };
                    return Err(Error::bad_request(format!(
                        "given {shown} must be at least one second; got: {seconds}"
                    )));
                }
                *buffer = seconds;
            }
        }
        if let Some(seconds) = data.duration("pause_duration")? {
            if seconds < 0 {
                return Err(Error::bad_request(
                    "received invalid, negative pause_duration",
                ));
            }
            self.pause_duration = seconds;
        }
        if self.tidy_cert_metadata {
            return Err(Error::bad_request(
                "certificate metadata is only supported on Vault Enterprise",
            ));
        }
        Ok(())
    }

    /// `config/auto-tidy` fields on top of the operations.
    pub(super) fn merge_auto(&mut self, data: &FieldData) -> Result<()> {
        if let Some(enabled) = data.bool("enabled")? {
            self.enabled = enabled;
        }
        for (name, bound) in [
            (
                "min_startup_backoff_duration",
                &mut self.min_startup_backoff_duration,
            ),
            (
                "max_startup_backoff_duration",
                &mut self.max_startup_backoff_duration,
            ),
        ] {
            if let Some(seconds) = data.duration(name)? {
                if seconds < 1 {
                    return Err(Error::bad_request(format!(
                        "{name} must be at least 1 second: parsed: {}",
                        GoDuration(seconds)
                    )));
                }
                *bound = seconds;
            }
        }
        if self.min_startup_backoff_duration > self.max_startup_backoff_duration {
            return Err(Error::bad_request(format!(
                "max_startup_backoff_duration {} must be greater or equal to min_startup_backoff_duration {}",
                GoDuration(self.max_startup_backoff_duration),
                GoDuration(self.min_startup_backoff_duration)
            )));
        }
        if let Some(seconds) = data.duration("interval_duration")? {
            if seconds < 0 {
                return Err(Error::bad_request(format!(
                    "given interval_duration must be greater than or equal to zero seconds; got: {seconds}"
                )));
            }
            self.interval_duration = seconds;
        }
        self.merge_operations(data)?;
        if self.enabled && !self.any_enabled() {
            return Err(Error::bad_request(format!("Auto-tidy enabled but no tidy operations were requested. Enable at least one tidy operation to be run ({ANY_TIDY}).")));
        }
        for name in [
            "maintain_stored_certificate_counts",
            "publish_stored_certificate_count_metrics",
        ] {
            if let Some(value) = data.bool(name)? {
                if name == "maintain_stored_certificate_counts" {
                    self.maintain_stored_certificate_counts = value;
                } else {
                    self.publish_stored_certificate_count_metrics = value;
                }
            }
        }
        if self.publish_stored_certificate_count_metrics && !self.maintain_stored_certificate_counts
        {
            return Err(Error::bad_request("Can not publish a running storage metrics count to metrics without first maintaining that count.  Enable `maintain_stored_certificate_counts` to enable `publish_stored_certificate_count_metrics`."));
        }
        Ok(())
    }

    /// The operation fields as `tidy-status` reports them.
    pub(super) fn operations_data(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("tidy_cert_store".into(), json!(self.tidy_cert_store));
        m.insert("tidy_revoked_certs".into(), json!(self.tidy_revoked_certs));
        m.insert(
            "tidy_revoked_cert_issuer_associations".into(),
            json!(self.tidy_revoked_cert_issuer_associations),
        );
        m.insert(
            "tidy_expired_issuers".into(),
            json!(self.tidy_expired_issuers),
        );
        m.insert(
            "tidy_move_legacy_ca_bundle".into(),
            json!(self.tidy_move_legacy_ca_bundle),
        );
        m.insert(
            "tidy_revocation_queue".into(),
            json!(self.tidy_revocation_queue),
        );
        m.insert(
            "tidy_cross_cluster_revoked_certs".into(),
            json!(self.tidy_cross_cluster_revoked_certs),
        );
        m.insert("tidy_acme".into(), json!(self.tidy_acme));
        m.insert("tidy_cert_metadata".into(), json!(self.tidy_cert_metadata));
        m.insert(
            "tidy_cmpv2_nonce_store".into(),
            json!(self.tidy_cmpv2_nonce_store),
        );
        m.insert("safety_buffer".into(), json!(self.safety_buffer));
        m.insert(
            "issuer_safety_buffer".into(),
            json!(self.issuer_safety_buffer),
        );
        m.insert(
            "acme_account_safety_buffer".into(),
            json!(self.acme_account_safety_buffer),
        );
        m.insert(
            "revocation_queue_safety_buffer".into(),
            json!(self.revocation_queue_safety_buffer),
        );
        m.insert(
            "pause_duration".into(),
            json!(GoDuration(self.pause_duration).to_string()),
        );
        m
    }

    /// `config/auto-tidy` as Vault returns it.
    pub(super) fn auto_data(&self) -> Map<String, Value> {
        let mut m = self.operations_data();
        m.insert("enabled".into(), json!(self.enabled));
        m.insert("interval_duration".into(), json!(self.interval_duration));
        m.insert(
            "min_startup_backoff_duration".into(),
            json!(self.min_startup_backoff_duration),
        );
        m.insert(
            "max_startup_backoff_duration".into(),
            json!(self.max_startup_backoff_duration),
        );
        m.insert(
            "maintain_stored_certificate_counts".into(),
            json!(self.maintain_stored_certificate_counts),
        );
        m.insert(
            "publish_stored_certificate_count_metrics".into(),
            json!(self.publish_stored_certificate_count_metrics),
        );
        m
    }
}

pub(super) async fn read_auto_tidy(storage: &StorageView) -> Result<TidyConfig> {
    Ok(storage
        .get_json(AUTO_TIDY_CONFIG)
        .await?
        .unwrap_or_default())
}
