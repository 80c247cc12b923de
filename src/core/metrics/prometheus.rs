//! The Prometheus text exposition format (version 0.0.4), as Vault's
//! Prometheus sink writes it: dots become underscores, counters keep their
//! name (no `_total`), timers are summaries in milliseconds with the
//! 0.5, 0.9 and 0.99 quantiles.

use std::fmt::Write;

use super::{Sample, Snapshot, TimerStats, Value};
use crate::util::metric::QUANTILES;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn render(snapshot: &Snapshot) -> Vec<u8> {
    let mut samples: Vec<&Sample> = snapshot.samples.iter().collect();
    samples.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = String::new();
    let mut previous: Option<&str> = None;
    for sample in samples {
        let name = metric_name(&sample.name);
        if previous != Some(sample.name.as_str()) {
            let kind = match sample.value {
                Value::Gauge(_) => "gauge",
                Value::Counter(_) => "counter",
                Value::Timer(_) => "summary",
            };
            let _ = writeln!(out, "# HELP {name} {name}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            previous = Some(sample.name.as_str());
        }
        let labels = label_set(&sample.labels);
        match sample.value {
            Value::Gauge(value) => {
                let _ = writeln!(out, "{name}{labels} {}", number(value));
            }
            Value::Counter(value) => {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
            Value::Timer(TimerStats {
                count,
                sum_ms,
                quantiles_ms,
                ..
            }) => {
                for (q, value) in QUANTILES.iter().zip(quantiles_ms) {
                    let mut with_quantile = sample.labels.clone();
                    with_quantile.push(("quantile", q.to_string()));
                    let labels = label_set(&with_quantile);
                    let _ = writeln!(out, "{name}{labels} {}", number(value));
                }
                let _ = writeln!(out, "{name}_sum{labels} {}", number(sum_ms));
                let _ = writeln!(out, "{name}_count{labels} {count}");
            }
        }
    }
    out.into_bytes()
}

/// A Prometheus metric name: anything outside `[a-zA-Z0-9_:]` becomes `_`.
fn metric_name(dotted: &str) -> String {
    dotted
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn label_set(labels: &[(&'static str, String)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = labels
        .iter()
        .map(|(name, value)| format!("{name}=\"{}\"", escape(value)))
        .collect();
    format!("{{{}}}", pairs.join(","))
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_vaults_names_types_and_escaped_labels() {
        let snapshot = Snapshot {
            samples: vec![
                Sample::gauge(
                    "vault.core.unsealed",
                    vec![("cluster", "c\"1\\".into())],
                    1.0,
                ),
                Sample {
                    name: "vault.route.read.pki-".into(),
                    labels: Vec::new(),
                    value: Value::Timer(TimerStats {
                        count: 2,
                        sum_ms: 1.5,
                        sum_sq_ms: 0.0,
                        min_ms: 0.5,
                        max_ms: 1.0,
                        quantiles_ms: [0.5, 1.0, f64::NAN],
                    }),
                },
                Sample {
                    name: "vault.token.creation".into(),
                    labels: vec![("auth_method", "token".into())],
                    value: Value::Counter(3),
                },
            ],
            ..Default::default()
        };
        let text = String::from_utf8(render(&snapshot)).expect("utf-8");
        assert_eq!(
            text,
            "# HELP vault_core_unsealed vault_core_unsealed\n\
             # TYPE vault_core_unsealed gauge\n\
             vault_core_unsealed{cluster=\"c\\\"1\\\\\"} 1\n\
             # HELP vault_route_read_pki_ vault_route_read_pki_\n\
             # TYPE vault_route_read_pki_ summary\n\
             vault_route_read_pki_{quantile=\"0.5\"} 0.5\n\
             vault_route_read_pki_{quantile=\"0.9\"} 1\n\
             vault_route_read_pki_{quantile=\"0.99\"} NaN\n\
             vault_route_read_pki__sum 1.5\n\
             vault_route_read_pki__count 2\n\
             # HELP vault_token_creation vault_token_creation\n\
             # TYPE vault_token_creation counter\n\
             vault_token_creation{auth_method=\"token\"} 3\n"
        );
    }
}
