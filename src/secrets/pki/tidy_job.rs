//! A tidy run, on a task of its own, and the bookkeeping `tidy-status`
//! and `tidy-cancel` read and change while it runs.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use super::acme::{tidy as acme_tidy, AcmeState};
use super::cert_info::CertInfo;
use super::certs;
use super::config;
use super::crl;
use super::revoke::RevokedEntry;
use super::store::{self, IssuerSet};
use super::tidy::{now, AUTO_TIDY_LAST_RUN};
use super::tidy_config::TidyConfig;
use super::{cached_issuers, IssuerCache, PkiBackend};
use crate::logical::{Error, Result};
use crate::storage::{BatchOp, StorageView};
use crate::util::metric::{Counter, Timer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    Running,
    Finished,
    Error,
    Cancelling,
    Cancelled,
}

impl State {
    pub(super) fn name(self) -> &'static str {
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
pub(super) struct Status {
    pub(super) state: State,
    pub(super) config: TidyConfig,
    pub(super) started: i64,
    pub(super) finished: i64,
    pub(super) error: String,
    pub(super) message: String,
    pub(super) cert_store_deleted: u64,
    pub(super) revoked_deleted: u64,
    pub(super) missing_issuer_certs: u64,
    pub(super) acme: super::acme::tidy::Tidied,
}

/// Tidy bookkeeping shared between the backend and a running operation.
pub struct TidyState {
    status: Mutex<Option<Status>>,
    cancel: AtomicBool,
    /// When the backend came up, and the auto-tidy start deadline drawn
    /// from the configured startup backoff (with the bounds it used).
    started_at: i64,
    backoff: Mutex<Option<(i64, i64, i64)>>,
    /// Totals over every run since the server started (Vault's
    /// `secrets.pki.tidy.*` counters and duration).
    pub(super) totals: TidyTotals,
    /// Where the latest run is (Vault's `secrets.pki.tidy.*` gauges).
    pub(super) progress: TidyProgress,
}

/// Vault's tidy progress gauges, as the latest run left them: how many
/// entries each phase found and which it is at (the totals and issuer
/// counts start again at zero with each run; the positions keep their
/// last value, and are unset until a phase first reaches an entry).
pub(super) struct TidyProgress {
    pub(super) cert_store_current_entry: AtomicI64,
    pub(super) cert_store_total_entries: AtomicI64,
    pub(super) revoked_cert_current_entry: AtomicI64,
    pub(super) revoked_cert_total_entries: AtomicI64,
    /// Revocation entries naming no known issuer, and those of them the
    /// run gave the issuer that signed them.
    pub(super) revoked_cert_entries_incorrect_issuers: AtomicI64,
    pub(super) revoked_cert_entries_fixed_issuers: AtomicI64,
}

/// A position no run has reached yet.
pub(super) const UNSET: i64 = -1;

impl Default for TidyProgress {
    fn default() -> Self {
        TidyProgress {
            cert_store_current_entry: AtomicI64::new(UNSET),
            cert_store_total_entries: AtomicI64::new(0),
            revoked_cert_current_entry: AtomicI64::new(UNSET),
            revoked_cert_total_entries: AtomicI64::new(0),
            revoked_cert_entries_incorrect_issuers: AtomicI64::new(0),
            revoked_cert_entries_fixed_issuers: AtomicI64::new(0),
        }
    }
}

impl TidyProgress {
    /// A new run: the totals and issuer counts start from zero.
    fn restart(&self) {
        for gauge in [
            &self.cert_store_total_entries,
            &self.revoked_cert_total_entries,
            &self.revoked_cert_entries_incorrect_issuers,
            &self.revoked_cert_entries_fixed_issuers,
        ] {
            gauge.store(0, Ordering::Relaxed);
        }
    }
}

/// What all tidy runs of a mount add up to, for `sys/metrics`.
#[derive(Default)]
pub(super) struct TidyTotals {
    pub(super) success: Counter,
    pub(super) failure: Counter,
    pub(super) cert_store_deleted: Counter,
    pub(super) revoked_cert_deleted: Counter,
    pub(super) duration: Timer,
}

impl Default for TidyState {
    fn default() -> Self {
        TidyState {
            status: Mutex::new(None),
            cancel: AtomicBool::new(false),
            started_at: now(),
            backoff: Mutex::new(None),
            totals: TidyTotals::default(),
            progress: TidyProgress::default(),
        }
    }
}

impl TidyState {
    pub(super) fn update(&self, f: impl FnOnce(&mut Status)) {
        if let Ok(mut guard) = self.status.lock() {
            if let Some(status) = guard.as_mut() {
                f(status);
            }
        }
    }

    pub(super) fn snapshot(&self) -> Result<Option<Status>> {
        Ok(self
            .status
            .lock()
            .map_err(|_| Error::internal("tidy state poisoned"))?
            .clone())
    }

    /// Asks the running operation (if any) to stop at its next entry;
    /// false when none is running.
    pub(super) fn cancel(&self) -> bool {
        let mut cancelling = false;
        self.update(|s| {
            if s.state == State::Running {
                s.state = State::Cancelling;
                cancelling = true;
            }
        });
        if cancelling {
            self.cancel.store(true, Ordering::SeqCst);
        }
        cancelling
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
        self.progress.restart();
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
            acme: Default::default(),
        });
        Ok(true)
    }

    /// Whether auto-tidy may start yet: Vault holds it back after startup
    /// for a random time between the configured backoff bounds.
    pub(super) fn past_startup_backoff(&self, config: &TidyConfig) -> bool {
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
                    let bytes = crate::util::ids::random_bytes(8);
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

/// Starts a tidy operation in the background; false when one is running.
pub(super) fn launch(backend: &PkiBackend, storage: &StorageView, cfg: TidyConfig) -> Result<bool> {
    if !backend.tidy.begin(&cfg)? {
        return Ok(false);
    }
    let job = TidyJob {
        storage: storage.clone(),
        state: backend.tidy.clone(),
        cache: backend.cache.clone(),
        write_lock: backend.write_lock.clone(),
        acme: backend.acme.clone(),
        config: cfg,
    };
    tokio::spawn(async move { job.run().await });
    Ok(true)
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
    acme: Arc<AcmeState>,
    config: TidyConfig,
}

impl TidyJob {
    async fn run(self) {
        // The work on a task of its own, so that a bug that panics ends as
        // a failed run in `tidy-status`, not as a tidy "running" forever.
        let job = Arc::new(self);
        let worker = job.clone();
        let ran = std::time::Instant::now();
        let outcome = tokio::spawn(async move { worker.work().await })
            .await
            .unwrap_or_else(|_| Err(Stop::Failed(Error::internal("tidy stopped unexpectedly"))));
        let finished = now();
        let totals = &job.state.totals;
        totals.duration.record(ran.elapsed());
        match outcome {
            Ok(()) => totals.success.inc(),
            Err(Stop::Failed(_)) => totals.failure.inc(),
            Err(Stop::Cancelled) => {}
        }
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
            self.sweep_cert_store(|der| {
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
        self.check_cancel()?;
        if self.config.tidy_acme {
            self.message("Tidying ACME accounts, orders and authorizations");
            let buffers = acme_tidy::Buffers {
                safety: self.config.safety_buffer,
                account: self.config.acme_account_safety_buffer,
            };
            let tidied = acme_tidy::run(&self.storage, &self.acme, buffers)
                .await
                .map_err(|p| Error::internal(p.detail))?;
            self.state.update(|s| s.acme = tidied);
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

    /// Deletes every stored certificate that `expired` says so, counting
    /// its progress in the `cert_store_*` gauges.
    async fn sweep_cert_store(
        &self,
        expired: impl Fn(&[u8]) -> bool,
    ) -> std::result::Result<(), Stop> {
        let prefix = certs::CERT_PREFIX;
        let progress = &self.state.progress;
        let total = self.count_entries(prefix).await?;
        progress
            .cert_store_total_entries
            .store(total, Ordering::Relaxed);
        let mut index = 0;
        let mut after = String::new();
        loop {
            let page = self.storage.list_page(prefix, &after, TIDY_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.clone();
            let mut ops = Vec::new();
            for key in page.iter().filter(|k| !k.ends_with('/')) {
                self.check_cancel()?;
                progress
                    .cert_store_current_entry
                    .store(index, Ordering::Relaxed);
                index += 1;
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
            self.state.totals.cert_store_deleted.add(deleted);
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
        let progress = &self.state.progress;
        let total = self.count_entries(certs::REVOKED_PREFIX).await?;
        progress
            .revoked_cert_total_entries
            .store(total, Ordering::Relaxed);
        let mut index = 0;
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
                progress
                    .revoked_cert_current_entry
                    .store(index, Ordering::Relaxed);
                index += 1;
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
                    progress
                        .revoked_cert_entries_incorrect_issuers
                        .fetch_add(1, Ordering::Relaxed);
                    let signer = cert.as_ref().and_then(|c| signer_of(&set, c));
                    if signer.is_some() {
                        progress
                            .revoked_cert_entries_fixed_issuers
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    entry.issuer_id = signer.unwrap_or_default();
                    ops.push(BatchOp::Put(path, serde_json::to_vec(&entry)?));
                }
                self.pause().await;
            }
            if !ops.is_empty() {
                self.storage.batch(ops).await?;
            }
            self.state.totals.revoked_cert_deleted.add(deleted);
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

    /// How many entries lie under `prefix` (keys only, a page at a time):
    /// the total the progress gauges count towards.
    async fn count_entries(&self, prefix: &str) -> std::result::Result<i64, Stop> {
        let mut total = 0;
        let mut after = String::new();
        loop {
            self.check_cancel()?;
            let page = self.storage.list_page(prefix, &after, TIDY_PAGE).await?;
            let Some(last) = page.last() else { break };
            total += page.iter().filter(|k| !k.ends_with('/')).count() as i64;
            if page.len() < TIDY_PAGE {
                break;
            }
            after = last.clone();
        }
        Ok(total)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_run_zeroes_the_totals_and_keeps_the_last_positions() {
        let state = TidyState::default();
        let progress = &state.progress;
        assert_eq!(
            progress.cert_store_current_entry.load(Ordering::Relaxed),
            UNSET
        );
        assert!(state.begin(&TidyConfig::default()).expect("begin"));
        progress
            .cert_store_total_entries
            .store(7, Ordering::Relaxed);
        progress
            .cert_store_current_entry
            .store(6, Ordering::Relaxed);
        progress
            .revoked_cert_entries_incorrect_issuers
            .store(2, Ordering::Relaxed);
        // One run at a time.
        assert!(!state.begin(&TidyConfig::default()).expect("second"));
        state.update(|s| s.state = State::Finished);
        assert!(state.begin(&TidyConfig::default()).expect("next run"));
        assert_eq!(progress.cert_store_total_entries.load(Ordering::Relaxed), 0);
        assert_eq!(
            progress
                .revoked_cert_entries_incorrect_issuers
                .load(Ordering::Relaxed),
            0
        );
        assert_eq!(progress.cert_store_current_entry.load(Ordering::Relaxed), 6);
    }
}
