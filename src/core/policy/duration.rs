//! Duration values inside policies (`min_wrapping_ttl`, `max_wrapping_ttl`).
//!
//! Vault reads them with `parseutil.ParseDurationSecond`: a bare number is
//! seconds, `"<n>d"` is days, and anything else is a Go duration (`"1h30m"`).
//! Only validation and comparison matter here, so a small parser suffices.

use std::time::Duration;

use serde_json::Value;

/// Parses a duration the way Vault's `ParseDurationSecond` does.
///
/// Returns `Ok(None)` for zero, negative or null values: Vault only acts on
/// positive wrapping TTLs, so those behave as if the key were absent.
pub(crate) fn parse_duration_second(value: &Value) -> Result<Option<Duration>, String> {
    let seconds = match value {
        Value::Null => 0.0,
        Value::Number(n) => n.as_f64().ok_or("invalid number")?,
        Value::String(s) => parse_duration_string(s)?,
        _ => return Err("could not parse duration from input".into()),
    };
    if seconds <= 0.0 {
        return Ok(None);
    }
    Duration::try_from_secs_f64(seconds)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// String form: empty, integer seconds, `<n>d`, or a Go duration.
fn parse_duration_string(s: &str) -> Result<f64, String> {
    if s.is_empty() {
        return Ok(0.0);
    }
    if let Ok(secs) = s.parse::<i64>() {
        return Ok(secs as f64);
    }
    if let Some(days) = s.strip_suffix('d') {
        let days: i64 = days
            .parse()
            .map_err(|_| format!("invalid duration {s:?}"))?;
        return Ok(days as f64 * 86_400.0);
    }
    parse_go_duration(s)
}

/// Go's `time.ParseDuration` grammar: `[-+]?(<decimal><unit>)+` or `"0"`.
fn parse_go_duration(input: &str) -> Result<f64, String> {
    let invalid = || format!("time: invalid duration {input:?}");
    let (negative, mut rest) = match input.as_bytes().first() {
        Some(b'-') => (true, &input[1..]),
        Some(b'+') => (false, &input[1..]),
        _ => (false, input),
    };
    if rest == "0" {
        return Ok(0.0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        if !number.bytes().any(|b| b.is_ascii_digit()) || number.matches('.').count() > 1 {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = unit_seconds(&rest[..unit_len])
            .ok_or_else(|| format!("time: unknown unit in duration {input:?}"))?;
        rest = &rest[unit_len..];
        total += value * scale;
    }
    Ok(if negative { -total } else { total })
}

/// Seconds per unit, for the unit suffixes Go accepts.
fn unit_seconds(unit: &str) -> Option<f64> {
    match unit {
        "ns" => Some(1e-9),
        "us" | "\u{b5}s" | "\u{3bc}s" => Some(1e-6),
        "ms" => Some(1e-3),
        "s" => Some(1.0),
        "m" => Some(60.0),
        "h" => Some(3600.0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secs(v: Value) -> Option<u64> {
        parse_duration_second(&v)
            .ok()
            .flatten()
            .map(|d| d.as_secs())
    }

    #[test]
    fn accepts_vault_forms() {
        assert_eq!(secs(json!(300)), Some(300));
        assert_eq!(secs(json!("300")), Some(300));
        assert_eq!(secs(json!("2d")), Some(172_800));
        assert_eq!(secs(json!("1h30m")), Some(5_400));
        assert_eq!(secs(json!("1.5h")), Some(5_400));
        assert_eq!(secs(json!("90s")), Some(90));
        assert_eq!(secs(json!("0")), None);
        assert_eq!(secs(json!("")), None);
        assert_eq!(secs(json!("-5m")), None);
        assert_eq!(secs(Value::Null), None);
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["h", "5x", "1..2s", ".s", "d", "abc", "1.5d"] {
            assert!(parse_duration_second(&json!(bad)).is_err(), "{bad}");
        }
        assert!(parse_duration_second(&json!(true)).is_err());
        assert!(parse_duration_second(&json!(["1s"])).is_err());
    }
}
