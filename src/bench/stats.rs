//! Latency statistics and the text/JSON renderings of one scenario run.

use serde::Serialize;

/// What one scenario measured.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    pub target: String,
    pub scenario: String,
    /// `true`/`false` for PKI issuance; absent where it does not apply.
    pub no_store: Option<bool>,
    pub concurrency: usize,
    pub duration_s: f64,
    pub requests: u64,
    pub errors: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    /// The first error seen, for diagnosis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// The acme scenario's per-order costs (requests are orders there).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub acme: Option<super::acme::AcmeCosts>,
}

/// Percentile `q` (0..1) of sorted microsecond latencies, in milliseconds.
pub fn percentile_ms(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64 / 1000.0
}

#[allow(clippy::too_many_arguments)]
pub fn summarize(
    target: &str,
    scenario: &str,
    no_store: Option<bool>,
    concurrency: usize,
    duration_s: f64,
    mut latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
) -> ScenarioResult {
    latencies_us.sort_unstable();
    let n = latencies_us.len();
    let mean = if n == 0 {
        0.0
    } else {
        latencies_us.iter().map(|&l| l as f64).sum::<f64>() / n as f64 / 1000.0
    };
    ScenarioResult {
        target: target.to_string(),
        scenario: scenario.to_string(),
        no_store,
        concurrency,
        duration_s,
        requests: n as u64,
        errors,
        rps: n as f64 / duration_s,
        p50_ms: percentile_ms(&latencies_us, 0.50),
        p99_ms: percentile_ms(&latencies_us, 0.99),
        p999_ms: percentile_ms(&latencies_us, 0.999),
        max_ms: latencies_us
            .last()
            .map(|&l| l as f64 / 1000.0)
            .unwrap_or(0.0),
        mean_ms: mean,
        first_error,
        acme: None,
    }
}

pub fn text_header() -> String {
    format!(
        "{:<12} {:<22} {:>8} {:>4} {:>10} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "target",
        "scenario",
        "no_store",
        "c",
        "req/s",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "errors"
    )
}

pub fn text_line(r: &ScenarioResult) -> String {
    let ns = match r.no_store {
        Some(true) => "on",
        Some(false) => "off",
        None => "-",
    };
    let mut line = format!(
        "{:<12} {:<22} {:>8} {:>4} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>7}",
        r.target,
        r.scenario,
        ns,
        r.concurrency,
        r.rps,
        r.p50_ms,
        r.p99_ms,
        r.p999_ms,
        r.max_ms,
        r.errors
    );
    if let Some(a) = &r.acme {
        line.push_str(&format!(
            "\n    per order: server {:.1} ms mean ({:.1} p50, {:.1} p99), waiting {:.1} ms, {:.1} requests",
            a.server_ms_mean, a.server_ms_p50, a.server_ms_p99, a.wait_ms_mean, a.requests_per_order
        ));
        if let Some(cpu) = a.server_cpu_ms_per_order {
            line.push_str(&format!(", server CPU {cpu:.1} ms"));
        }
    }
    if let Some(e) = &r.first_error {
        line.push_str(&format!("\n    first error: {e}"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<u32> = (1..=1000).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&v, 0.5), 500.0);
        assert_eq!(percentile_ms(&v, 0.99), 990.0);
        assert_eq!(percentile_ms(&v, 0.999), 999.0);
        assert_eq!(percentile_ms(&[], 0.5), 0.0);
    }
}
