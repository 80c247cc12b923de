//! `tidy` (202 Accepted, runs in the background), `tidy-status`,
//! `tidy-cancel` and `config/auto-tidy`: removes expired certificates,
//! revocation entries and issuers past their safety buffers, and
//! re-associates revoked certificates with their issuers. Auto-tidy runs
//! the stored configuration from the backend's periodic upkeep.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::certs;
use super::config;
use super::crl::{self, RevokedEntry};
use super::store::{self, IssuerSet};
use super::x509::CertInfo;
use super::{cached_issuers, IssuerCache, PkiBackend};
use crate::logical::{Error, FieldData, GoDuration, Operation, Request, Response, Result};
use crate::storage::{BatchOp, StorageView};

const AUTO_TIDY_CONFIG: &str = "config/auto-tidy";
const AUTO_TIDY_LAST_RUN: &str = "config/auto-tidy-last-run";

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

const ANY_TIDY: &str = "tidy_cert_store / tidy_revoked_certs / tidy_revoked_cert_issuer_associations / tidy_expired_issuers / tidy_move_legacy_ca_bundle / tidy_revocation_queue / tidy_cross_cluster_revoked_certs / tidy_acme";

impl TidyConfig {
    fn any_enabled(&self) -> bool {
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
    fn merge_operations(&mut self, data: &FieldData) -> Result<()> {
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
    fn merge_auto(&mut self, data: &FieldData) -> Result<()> {
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
    fn operations_data(&self) -> Map<String, Value> {
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
    fn auto_data(&self) -> Map<String, Value> {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    Finished,
    Error,
    Cancelling,
    Cancelled,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Running => "Running",
            State::Finished => "Finished",
            State::Error => "Error",
            State::Cancelling => "Cancelling",
            State::Cancelled => "Cancelled",
        }
    }
}

/// The last (or running) tidy operation.
#[derive(Debug, Clone)]
struct Status {
    state: State,
    config: TidyConfig,
    started: i64,
    finished: i64,
    error: String,
    message: String,
    cert_store_deleted: u64,
    revoked_deleted: u64,
    missing_issuer_certs: u64,
}

/// Tidy bookkeeping shared between the backend and a running operation.
pub struct TidyState {
    status: Mutex<Option<Status>>,
    cancel: AtomicBool,
    /// When the backend came up, and the auto-tidy start deadline drawn
    /// from the configured startup backoff (with the bounds it used).
    started_at: i64,
    backoff: Mutex<Option<(i64, i64, i64)>>,
}

impl Default for TidyState {
    fn default() -> Self {
        TidyState {
            status: Mutex::new(None),
            cancel: AtomicBool::new(false),
            started_at: now(),
            backoff: Mutex::new(None),
        }
    }
}

impl TidyState {
    fn update(&self, f: impl FnOnce(&mut Status)) {
        if let Ok(mut guard) = self.status.lock() {
            if let Some(status) = guard.as_mut() {
                f(status);
            }
        }
    }

    fn snapshot(&self) -> Result<Option<Status>> {
        Ok(self
            .status
            .lock()
            .map_err(|_| Error::internal("tidy state poisoned"))?
            .clone())
    }

    /// Claims the single tidy slot; false when one is running.
    fn begin(&self, config: &TidyConfig) -> Result<bool> {
        let mut guard = self
            .status
            .lock()
            .map_err(|_| Error::internal("tidy state poisoned"))?;
        if guard
            .as_ref()
            .is_some_and(|s| matches!(s.state, State::Running | State::Cancelling))
        {
            return Ok(false);
        }
        self.cancel.store(false, Ordering::SeqCst);
        *guard = Some(Status {
            state: State::Running,
            config: config.clone(),
            started: now(),
            finished: 0,
            error: String::new(),
            message: String::new(),
            cert_store_deleted: 0,
            revoked_deleted: 0,
            missing_issuer_certs: 0,
        });
        Ok(true)
    }

    /// Whether auto-tidy may start yet: Vault holds it back after startup
    /// for a random time between the configured backoff bounds.
    fn past_startup_backoff(&self, config: &TidyConfig) -> bool {
        let started = self.started_at;
        let Ok(mut backoff) = self.backoff.lock() else {
            return false;
        };
        let (min, max) = (
            config.min_startup_backoff_duration,
            config.max_startup_backoff_duration,
        );
        let deadline = match *backoff {
            Some((lo, hi, deadline)) if lo == min && hi == max => deadline,
            _ => {
                let spread = (max - min).max(0) as u64;
                let jitter = if spread == 0 {
                    0
                } else {
                    let bytes = crate::core::keys::random_bytes(8);
                    let mut raw = [0u8; 8];
                    raw.copy_from_slice(&bytes[..8]);
                    (u64::from_le_bytes(raw) % spread) as i64
                };
                let deadline = started + min + jitter;
                *backoff = Some((min, max, deadline));
                deadline
            }
        };
        now() >= deadline
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn rfc3339(t: i64) -> String {
    super::profile::unix(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub async fn read_auto_tidy(storage: &StorageView) -> Result<TidyConfig> {
    Ok(storage
        .get_json(AUTO_TIDY_CONFIG)
        .await?
        .unwrap_or_default())
}

async fn last_auto_tidy(storage: &StorageView) -> Result<Option<i64>> {
    Ok(storage.get_json(AUTO_TIDY_LAST_RUN).await?)
}

/// `config/auto-tidy` read and write. Turning auto-tidy on starts its
/// interval from now, as Vault does.
pub async fn config(_backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let mut cfg = read_auto_tidy(&req.storage).await?;
    if req.operation == Operation::Read {
        return Ok(Some(Response::data(cfg.auto_data())));
    }
    let was_enabled = cfg.enabled;
    cfg.merge_auto(&req.data)?;
    req.storage.put_json(AUTO_TIDY_CONFIG, &cfg).await?;
    if cfg.enabled && !was_enabled {
        req.storage.put_json(AUTO_TIDY_LAST_RUN, &now()).await?;
    }
    Ok(Some(Response::data(cfg.auto_data())))
}

/// `tidy`: validates, then runs in the background and answers 202.
pub async fn start(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let mut cfg = TidyConfig::default();
    cfg.merge_operations(&req.data)?;
    if !cfg.any_enabled() {
        return Err(Error::bad_request(format!("Manual tidy requested but no tidy operations were set. Enable at least one tidy operation to be run ({ANY_TIDY}).")));
    }
    if !launch(backend, &req.storage, cfg)? {
        // Vault answers 200 with only this warning.
        return Ok(Some(Response {
            warnings: vec!["Tidy operation already in progress.".into()],
            ..Default::default()
        }));
    }
    // A manual tidy restarts the auto-tidy interval.
    req.storage.put_json(AUTO_TIDY_LAST_RUN, &now()).await?;
    Ok(Some(Response {
        status: Some(202),
        warnings: vec!["Tidy operation successfully started. Any information from the operation will be printed to Vault's server logs.".into()],
        ..Default::default()
    }))
}

/// Starts a tidy operation in the background; false when one is running.
fn launch(backend: &PkiBackend, storage: &StorageView, cfg: TidyConfig) -> Result<bool> {
    if !backend.tidy.begin(&cfg)? {
        return Ok(false);
    }
    let job = TidyJob {
        storage: storage.clone(),
        state: backend.tidy.clone(),
        cache: backend.cache.clone(),
        write_lock: backend.write_lock.clone(),
        config: cfg,
    };
    tokio::spawn(async move { job.run().await });
    Ok(true)
}

/// Auto-tidy, from the backend's periodic upkeep: once the interval has
/// passed since the last run (manual or automatic) and the startup backoff
/// is over, the stored configuration runs as a tidy operation.
pub async fn periodic(backend: &PkiBackend, storage: &StorageView) -> Result<()> {
    let cfg = read_auto_tidy(storage).await?;
    if !cfg.enabled || cfg.interval_duration <= 0 {
        return Ok(());
    }
    let last = last_auto_tidy(storage).await?.unwrap_or(0);
    if now() < last + cfg.interval_duration || !backend.tidy.past_startup_backoff(&cfg) {
        return Ok(());
    }
    if launch(backend, storage, cfg)? {
        storage.put_json(AUTO_TIDY_LAST_RUN, &now()).await?;
    }
    Ok(())
}

/// Entries are scanned a page at a time (never the whole store in memory)
/// and deletions are committed in batches, so a large store costs one
/// fsync per page rather than one per certificate.
const TIDY_PAGE: usize = 5000;

/// Why a tidy run stopped early.
enum Stop {
    Cancelled,
    Failed(Error),
}

impl<E: Into<Error>> From<E> for Stop {
    fn from(e: E) -> Self {
        Stop::Failed(e.into())
    }
}

/// A tidy operation running on its own task, holding what it needs of the
/// backend.
struct TidyJob {
    storage: StorageView,
    state: Arc<TidyState>,
    cache: IssuerCache,
    write_lock: Arc<tokio::sync::Mutex<()>>,
    config: TidyConfig,
}

impl TidyJob {
    async fn run(self) {
        // The work on a task of its own, so that a bug that panics ends as
        // a failed run in `tidy-status`, not as a tidy "running" forever.
        let job = Arc::new(self);
        let worker = job.clone();
        let outcome = tokio::spawn(async move { worker.work().await })
            .await
            .unwrap_or_else(|_| Err(Stop::Failed(Error::internal("tidy stopped unexpectedly"))));
        let finished = now();
        // A finished run restarts the auto-tidy interval, as in Vault.
        if outcome.is_ok() {
            if let Err(e) = job.storage.put_json(AUTO_TIDY_LAST_RUN, &finished).await {
                tracing::warn!(err = %e, "PKI tidy: recording the last run failed");
            }
        }
        job.state.update(|status| {
            status.finished = finished;
            match outcome {
                Ok(()) => {
                    status.state = State::Finished;
                    status.message.clear();
                }
                Err(Stop::Cancelled) => status.state = State::Cancelled,
                Err(Stop::Failed(e)) => {
                    tracing::warn!(err = %e, "PKI tidy failed");
                    status.state = State::Error;
                    status.error = e.to_string();
                }
            }
        });
    }

    async fn work(&self) -> std::result::Result<(), Stop> {
        let cutoff = now() - self.config.safety_buffer;
        if self.config.tidy_cert_store {
            self.message("Tidying certificate store");
            self.sweep(certs::CERT_PREFIX, |der| {
                CertInfo::not_after_of(der)
                    .map(|t| t < cutoff)
                    .unwrap_or(true)
            })
            .await?;
        }
        if self.config.tidy_revoked_certs || self.config.tidy_revoked_cert_issuer_associations {
            self.message("Tidying revoked certificates");
            // Removed entries leave the CRLs now, unless auto-rebuild is
            // on: then they wait for the next scheduled build (as Vault).
            if self.tidy_revoked(cutoff).await?
                && !config::read_crl_config(&self.storage).await?.auto_rebuild
            {
                let _guard = self.write_lock.lock().await;
                let set = cached_issuers(&self.cache, &self.storage).await?;
                crl::rebuild_all(&self.storage, &set).await?;
            }
        }
        self.check_cancel()?;
        if self.config.tidy_expired_issuers {
            self.message("Tidying expired issuers");
            self.tidy_expired_issuers().await?;
        }
        Ok(())
    }

    fn message(&self, text: &str) {
        self.state.update(|s| s.message = text.to_string());
    }

    fn check_cancel(&self) -> std::result::Result<(), Stop> {
        if self.state.cancel.load(Ordering::SeqCst) {
            return Err(Stop::Cancelled);
        }
        Ok(())
    }

    async fn pause(&self) {
        if self.config.pause_duration > 0 {
            tokio::time::sleep(std::time::Duration::from_secs(
                self.config.pause_duration as u64,
            ))
            .await;
        }
    }

    /// Deletes every certificate under `prefix` that `expired` says so.
    async fn sweep(
        &self,
        prefix: &str,
        expired: impl Fn(&[u8]) -> bool,
    ) -> std::result::Result<(), Stop> {
        let mut after = String::new();
        loop {
            let page = self.storage.list_page(prefix, &after, TIDY_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.clone();
            let mut ops = Vec::new();
            for key in page.iter().filter(|k| !k.ends_with('/')) {
                self.check_cancel()?;
                let path = format!("{prefix}{key}");
                if let Some(value) = self.storage.get(&path).await? {
                    if expired(&value) {
                        ops.push(BatchOp::Delete(path));
                    }
                }
                self.pause().await;
            }
            let deleted = ops.len() as u64;
            if !ops.is_empty() {
                self.storage.batch(ops).await?;
            }
            self.state.update(|s| s.cert_store_deleted += deleted);
            if page.len() < TIDY_PAGE {
                break;
            }
        }
        Ok(())
    }

    /// Revocation entries: those whose certificate expired before `cutoff`
    /// go (with `tidy_revoked_certs`), and those naming no known issuer get
    /// the issuer that signed them (with the issuer associations flag).
    /// True when entries were removed (the CRLs shrink).
    async fn tidy_revoked(&self, cutoff: i64) -> std::result::Result<bool, Stop> {
        let set = cached_issuers(&self.cache, &self.storage).await?;
        let mut removed = false;
        let mut after = String::new();
        loop {
            let page = self
                .storage
                .list_page(certs::REVOKED_PREFIX, &after, TIDY_PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = last.clone();
            let mut ops = Vec::new();
            let (mut deleted, mut missing) = (0, 0);
            for key in page.iter().filter(|k| !k.ends_with('/')) {
                self.check_cancel()?;
                let path = format!("{}{key}", certs::REVOKED_PREFIX);
                let Some(mut entry) = self.storage.get_json::<RevokedEntry>(&path).await? else {
                    continue;
                };
                let cert = entry_cert(&entry);
                let expired = cert.as_ref().is_some_and(|c| c.not_after < cutoff);
                if self.config.tidy_revoked_certs && expired {
                    // The certificate goes from the store with its entry.
                    ops.push(BatchOp::Delete(format!("{}{key}", certs::CERT_PREFIX)));
                    ops.push(BatchOp::Delete(path));
                    deleted += 1;
                    removed = true;
                } else if self.config.tidy_revoked_cert_issuer_associations
                    && !set.issuers.contains_key(&entry.issuer_id)
                {
                    missing += 1;
                    entry.issuer_id = cert
                        .as_ref()
                        .and_then(|c| signer_of(&set, c))
                        .unwrap_or_default();
                    ops.push(BatchOp::Put(path, serde_json::to_vec(&entry)?));
                }
                self.pause().await;
            }
            if !ops.is_empty() {
                self.storage.batch(ops).await?;
            }
            self.state.update(|s| {
                s.revoked_deleted += deleted;
                s.missing_issuer_certs += missing;
            });
            if page.len() < TIDY_PAGE {
                break;
            }
        }
        Ok(removed)
    }

    /// Issuers expired for longer than `issuer_safety_buffer` go (their
    /// keys stay); the default issuer is kept. Not cancellable midway, as
    /// in Vault.
    async fn tidy_expired_issuers(&self) -> std::result::Result<(), Stop> {
        let _guard = self.write_lock.lock().await;
        let set = cached_issuers(&self.cache, &self.storage).await?;
        let cutoff = now() - self.config.issuer_safety_buffer;
        let default = set.config.default.clone();
        let mut removed = false;
        for issuer in set.issuers.values() {
            if issuer.entry.id == default || issuer.cert.not_after >= cutoff {
                continue;
            }
            self.storage
                .delete(&format!("{}{}", store::ISSUER_PREFIX, issuer.entry.id))
                .await?;
            crl::forget(&self.storage, &issuer.entry.id).await?;
            removed = true;
        }
        if removed {
            self.cache.clear();
        }
        Ok(())
    }
}

fn entry_cert(entry: &RevokedEntry) -> Option<CertInfo> {
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD
        .decode(&entry.certificate)
        .ok()?;
    CertInfo::parse(&der).ok()
}

fn signer_of(set: &IssuerSet, cert: &CertInfo) -> Option<String> {
    set.issuers
        .values()
        .find(|i| cert.signed_by(&i.cert))
        .map(|i| i.entry.id.clone())
}

/// `tidy-status`: the last (or running) operation, in Vault's field set.
pub async fn status(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let snapshot = backend.tidy.snapshot()?;
    let last_auto = last_auto_tidy(&req.storage).await?;
    let mut data = match &snapshot {
        Some(s) => s.config.operations_data(),
        None => {
            let mut m = TidyConfig::default().operations_data();
            for value in m.values_mut() {
                *value = Value::Null;
            }
            m
        }
    };
    let null_or = |present: bool, value: Value| if present { value } else { Value::Null };
    let state = snapshot
        .as_ref()
        .map(|s| s.state.name())
        .unwrap_or("Inactive");
    data.insert("state".into(), json!(state));
    let s = snapshot.as_ref();
    data.insert(
        "error".into(),
        null_or(
            s.is_some_and(|s| !s.error.is_empty()),
            json!(s.map(|s| s.error.clone())),
        ),
    );
    data.insert(
        "message".into(),
        null_or(
            s.is_some_and(|s| !s.message.is_empty()),
            json!(s.map(|s| s.message.clone())),
        ),
    );
    data.insert(
        "time_started".into(),
        null_or(s.is_some(), json!(s.map(|s| rfc3339(s.started)))),
    );
    data.insert(
        "time_finished".into(),
        null_or(
            s.is_some_and(|s| s.finished != 0),
            json!(s.map(|s| rfc3339(s.finished))),
        ),
    );
    let count = |f: fn(&Status) -> u64| null_or(s.is_some(), json!(s.map(f).unwrap_or(0)));
    data.insert(
        "cert_store_deleted_count".into(),
        count(|s| s.cert_store_deleted),
    );
    data.insert(
        "revoked_cert_deleted_count".into(),
        count(|s| s.revoked_deleted),
    );
    data.insert(
        "missing_issuer_cert_count".into(),
        count(|s| s.missing_issuer_certs),
    );
    for zero in [
        "revocation_queue_deleted_count",
        "cross_revoked_cert_deleted_count",
        "cert_metadata_deleted_count",
        "cmpv2_nonce_deleted_count",
        "acme_account_deleted_count",
        "acme_account_revoked_count",
        "acme_orders_deleted_count",
        "total_acme_account_count",
    ] {
        data.insert(zero.into(), count(|_| 0));
    }
    data.insert("current_cert_store_count".into(), Value::Null);
    data.insert("current_revoked_cert_count".into(), Value::Null);
    // Go's zero time when no tidy has run yet, as HashiCorp's status shows.
    data.insert(
        "last_auto_tidy_finished".into(),
        json!(last_auto.map_or_else(|| "0001-01-01T00:00:00Z".to_string(), rfc3339)),
    );
    data.insert(
        "internal_backend_uuid".into(),
        json!(backend_uuid(req).await?),
    );
    Ok(Some(Response::data(data)))
}

/// A stable id of this mount's PKI instance (`internal_backend_uuid`).
async fn backend_uuid(req: &Request) -> Result<String> {
    const KEY: &str = "config/backend-uuid";
    if let Some(bytes) = req.storage.get(KEY).await? {
        return Ok(String::from_utf8_lossy(&bytes).into_owned());
    }
    let id = crate::core::keys::uuid();
    req.storage.put(KEY, id.clone().into_bytes()).await?;
    Ok(id)
}

/// `tidy-cancel`: asks the running operation to stop at its next entry.
pub async fn cancel(backend: &PkiBackend, req: &mut Request) -> Result<Option<Response>> {
    let mut cancelling = false;
    backend.tidy.update(|s| {
        if s.state == State::Running {
            s.state = State::Cancelling;
            cancelling = true;
        }
    });
    if !cancelling {
        return Ok(Some(Response {
            warnings: vec![
                "Tidy operation cannot be cancelled as none is currently running.".into(),
            ],
            ..Default::default()
        }));
    }
    backend.tidy.cancel.store(true, Ordering::SeqCst);
    status(backend, req).await
}
