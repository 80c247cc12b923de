//! Vault's JSON form of `sys/metrics` (go-metrics' in-memory sink):
//! `Timestamp`, `Gauges`, `Points`, `Counters` and `Samples`, unwrapped.
//! Vault shows the last complete 10-second interval; vaultlet's figures
//! are totals since the server started, and rates are per second over
//! that time.

use serde_json::{json, Map, Value as Json};

use super::{Snapshot, TimerStats, Value};

pub fn render(snapshot: &Snapshot) -> Vec<u8> {
    let mut gauges = Vec::new();
    let mut counters = Vec::new();
    let mut timers = Vec::new();
    for sample in &snapshot.samples {
        let labels: Map<String, Json> = sample
            .labels
            .iter()
            .map(|(name, value)| (name.to_string(), json!(value)))
            .collect();
        match sample.value {
            Value::Gauge(value) => {
                gauges.push(json!({"Name": sample.name, "Value": number(value), "Labels": labels}))
            }
            Value::Counter(count) => {
                let one = if count == 0 { 0.0 } else { 1.0 };
                counters.push(aggregate(
                    &sample.name,
                    labels,
                    TimerStats {
                        count,
                        sum_ms: count as f64,
                        sum_sq_ms: count as f64,
                        min_ms: one,
                        max_ms: one,
                        quantiles_ms: [one; 3],
                    },
                    snapshot.uptime,
                ))
            }
            Value::Timer(stats) => {
                timers.push(aggregate(&sample.name, labels, stats, snapshot.uptime))
            }
        }
    }
    let by_name = |a: &Json, b: &Json| a["Name"].as_str().cmp(&b["Name"].as_str());
    gauges.sort_by(by_name);
    counters.sort_by(by_name);
    timers.sort_by(by_name);
    let body = json!({
        "Timestamp": go_time(snapshot.taken_at),
        "Gauges": gauges,
        "Points": [],
        "Counters": counters,
        "Samples": timers,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// go-metrics' aggregate: count, rate, sum, extremes, mean and standard
/// deviation.
fn aggregate(name: &str, labels: Map<String, Json>, s: TimerStats, uptime: f64) -> Json {
    let n = s.count as f64;
    let mean = if s.count == 0 { 0.0 } else { s.sum_ms / n };
    let stddev = if s.count < 2 {
        0.0
    } else {
        ((s.sum_sq_ms - n * mean * mean) / (n - 1.0))
            .max(0.0)
            .sqrt()
    };
    let rate = if uptime > 0.0 { s.sum_ms / uptime } else { 0.0 };
    json!({
        "Name": name, "Count": s.count, "Rate": number(rate), "Sum": number(s.sum_ms),
        "Min": number(s.min_ms), "Max": number(s.max_ms), "Mean": number(mean),
        "Stddev": number(stddev), "Labels": labels,
    })
}

/// A number as Go writes a float: whole values without a fraction.
fn number(value: f64) -> Json {
    if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e15 {
        json!(value as i64)
    } else {
        json!(value)
    }
}

/// Go's `time.Time.String()` for a UTC instant: `2026-12-05 00:49:00 +0000 UTC`.
fn go_time(unix: i64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second] +0000 UTC"
    );
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::metrics::Sample;

    #[test]
    fn has_vaults_shape() {
        let snapshot = Snapshot {
            samples: vec![
                Sample::gauge("vault.core.active", vec![("cluster", "c".into())], 1.0),
                Sample {
                    name: "vault.audit.log_request_failure".into(),
                    labels: Vec::new(),
                    value: Value::Counter(4),
                },
            ],
            taken_at: 1_796_460_370,
            uptime: 2.0,
        };
        let body: Json = serde_json::from_slice(&render(&snapshot)).expect("json");
        assert_eq!(body["Timestamp"], "2026-12-05 08:46:10 +0000 UTC");
        assert_eq!(
            body["Gauges"],
            json!([{"Name": "vault.core.active", "Value": 1, "Labels": {"cluster": "c"}}])
        );
        assert_eq!(body["Points"], json!([]));
        assert_eq!(body["Samples"], json!([]));
        let counter = &body["Counters"][0];
        assert_eq!(counter["Count"], 4);
        assert_eq!(counter["Sum"], 4);
        assert_eq!(counter["Rate"], 2);
        assert_eq!(counter["Labels"], json!({}));
    }
}
