//! Metric primitives every layer may record into: counters and timers
//! (atomics, no lock), label families, and the samples a scrape yields.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// A count of events.
#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Durations of one kind of event (Vault's timers, in milliseconds):
/// count, sum, extremes and the sum of squares (for the JSON form's
/// standard deviation), all in microseconds, plus the latest
/// [`WINDOW`] durations for the Prometheus form's quantiles.
pub struct Timer {
    count: AtomicU64,
    sum_us: AtomicU64,
    sum_sq_us: AtomicU64,
    min_us: AtomicU64,
    max_us: AtomicU64,
    /// A ring of the latest durations: a request stores into the slot
    /// `count` points at, so recording stays one more atomic store. A
    /// scrape racing a writer may read a slot one step old; quantiles
    /// are estimates either way.
    recent_us: [AtomicU32; WINDOW],
}

/// How many of the latest durations a timer keeps for its quantiles
/// (Vault's Prometheus summaries use a sliding time window instead; a
/// bounded count keeps memory fixed and recording free of allocation).
pub const WINDOW: usize = 512;

/// The quantiles a timer reports, as Vault's Prometheus sink does.
pub const QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];

impl Default for Timer {
    fn default() -> Self {
        Timer {
            count: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
            sum_sq_us: AtomicU64::new(0),
            min_us: AtomicU64::new(u64::MAX),
            max_us: AtomicU64::new(0),
            recent_us: std::array::from_fn(|_| AtomicU32::new(0)),
        }
    }
}

/// The largest duration a timer records as such (about 71 minutes), so
/// that one square fits in 64 bits.
const MAX_TIMED_US: u64 = u32::MAX as u64;

impl Timer {
    pub fn record(&self, elapsed: Duration) {
        let us = u64::try_from(elapsed.as_micros())
            .unwrap_or(u64::MAX)
            .min(MAX_TIMED_US);
        let index = self.count.fetch_add(1, Ordering::Relaxed);
        // `us` is at most `u32::MAX` (MAX_TIMED_US).
        self.recent_us[(index % WINDOW as u64) as usize].store(us as u32, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
        self.sum_sq_us.fetch_add(us * us, Ordering::Relaxed);
        self.min_us.fetch_min(us, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    pub fn stats(&self) -> TimerStats {
        let count = self.count.load(Ordering::Relaxed);
        let min = self.min_us.load(Ordering::Relaxed);
        let kept = count.min(WINDOW as u64) as usize;
        let mut recent: Vec<u32> = self.recent_us[..kept]
            .iter()
            .map(|slot| slot.load(Ordering::Relaxed))
            .collect();
        recent.sort_unstable();
        let quantiles = QUANTILES.map(|q| quantile_ms(&recent, q));
        TimerStats {
            quantiles_ms: quantiles,
            count,
            sum_ms: self.sum_us.load(Ordering::Relaxed) as f64 / 1000.0,
            sum_sq_ms: self.sum_sq_us.load(Ordering::Relaxed) as f64 / 1_000_000.0,
            min_ms: if count == 0 { 0.0 } else { min as f64 / 1000.0 },
            max_ms: self.max_us.load(Ordering::Relaxed) as f64 / 1000.0,
        }
    }
}

/// The `q` quantile of sorted durations (µs) in milliseconds: the
/// smallest duration at least a `q` share of them do not exceed (NaN
/// when there are none, as a Prometheus summary without observations).
fn quantile_ms(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted_us.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted_us.len()) - 1;
    f64::from(sorted_us[index]) / 1000.0
}

/// A timer's figures at one scrape, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimerStats {
    pub count: u64,
    pub sum_ms: f64,
    pub sum_sq_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    /// The [`QUANTILES`] of the latest [`WINDOW`] durations.
    pub quantiles_ms: [f64; 3],
}

/// Label names and values, in order.
pub type Labels = Vec<(&'static str, String)>;

/// Series of one metric told apart by label values that come from data.
/// A series is created on first use; afterwards it is found under a read
/// lock. Only operations far costlier than a map lookup use one (logins,
/// certificate issuance, OCSP responses), and the label values are bounded
/// by configuration (mounts, roles, issuers), never by request input.
pub struct Family<T> {
    labels: &'static [&'static str],
    /// In creation order (a scrape lists them so).
    series: RwLock<Vec<(Vec<String>, Arc<T>)>>,
}

impl<T: Default> Family<T> {
    pub fn new(labels: &'static [&'static str]) -> Self {
        Family {
            labels,
            series: RwLock::default(),
        }
    }

    /// The series for these label values (in the family's label order).
    pub fn with(&self, values: &[&str]) -> Arc<T> {
        let found = self
            .series
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|(key, _)| key.iter().map(String::as_str).eq(values.iter().copied()))
            .map(|(_, series)| series.clone());
        if let Some(series) = found {
            return series;
        }
        let mut series = self.series.write().unwrap_or_else(|p| p.into_inner());
        let same = |key: &Vec<String>| key.iter().map(String::as_str).eq(values.iter().copied());
        if let Some((_, found)) = series.iter().find(|(key, _)| same(key)) {
            return found.clone();
        }
        let created = Arc::new(T::default());
        let key = values.iter().map(|v| v.to_string()).collect();
        series.push((key, created.clone()));
        created
    }

    pub fn each(&self, mut visit: impl FnMut(Labels, &T)) {
        let series = self.series.read().unwrap_or_else(|p| p.into_inner());
        for (values, value) in series.iter() {
            let labels = self.labels.iter().copied().zip(values.iter().cloned());
            visit(labels.collect(), value);
        }
    }
}

/// One value of one series at a scrape.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Gauge(f64),
    Counter(u64),
    Timer(TimerStats),
}

/// A series at a scrape: its dotted name (`vault.core.active`), labels and
/// value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Labels,
    pub value: Value,
}

impl Sample {
    pub fn gauge(name: impl Into<String>, labels: Labels, value: f64) -> Sample {
        Sample {
            name: name.into(),
            labels,
            value: Value::Gauge(value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timer_keeps_count_sum_and_extremes_in_milliseconds() {
        let timer = Timer::default();
        assert_eq!(timer.stats().min_ms, 0.0);
        timer.record(Duration::from_micros(1500));
        timer.record(Duration::from_micros(500));
        let stats = timer.stats();
        assert_eq!(stats.count, 2);
        assert_eq!(stats.sum_ms, 2.0);
        assert_eq!(stats.min_ms, 0.5);
        assert_eq!(stats.max_ms, 1.5);
        assert_eq!(stats.sum_sq_ms, 2.5);
        assert_eq!(stats.quantiles_ms, [0.5, 1.5, 1.5]);
    }

    #[test]
    fn quantiles_come_from_the_latest_window_of_durations() {
        let timer = Timer::default();
        assert!(timer.stats().quantiles_ms.iter().all(|q| q.is_nan()));
        // Old slow requests leave the window as new fast ones arrive.
        for _ in 0..WINDOW {
            timer.record(Duration::from_secs(1));
        }
        for us in 1..=WINDOW as u64 {
            timer.record(Duration::from_micros(us * 1000));
        }
        let stats = timer.stats();
        assert_eq!(stats.count, 2 * WINDOW as u64);
        assert_eq!(stats.max_ms, 1000.0);
        assert_eq!(stats.quantiles_ms, [256.0, 461.0, 507.0]);
    }

    #[test]
    fn a_family_finds_the_series_it_created() {
        let family: Family<Counter> = Family::new(&["mount_point", "role"]);
        family.with(&["pki/", "web"]).inc();
        family.with(&["pki/", "web"]).inc();
        family.with(&["pki/", "db"]).inc();
        let mut seen = Vec::new();
        family.each(|labels, c| seen.push((labels, c.get())));
        seen.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            seen,
            [
                (
                    vec![("mount_point", "pki/".into()), ("role", "db".into())],
                    1
                ),
                (
                    vec![("mount_point", "pki/".into()), ("role", "web".into())],
                    2
                ),
            ]
        );
    }
}
