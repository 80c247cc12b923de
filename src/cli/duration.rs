//! Go durations as the CLI needs them: `parseutil.ParseDurationSecond` for
//! flags, `time.Duration.String()` for the wire and Vault's `humanDuration`
//! for tables. Everything is in whole seconds.

/// `parseutil.ParseDurationSecond`: a bare integer is seconds, otherwise a
/// Go duration (`1h30m`, `90s`, `1.5h`); `d` is accepted as days.
pub fn parse_duration_second(raw: &str) -> Result<i64, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(0);
    }
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest.is_empty() {
        return Err(format!("time: invalid duration {s:?}"));
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!("time: invalid duration {s:?}"));
        }
        let number: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("time: invalid duration {s:?}"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let factor = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            "" => return Err(format!("time: missing unit in duration {s:?}")),
            _ => return Err(format!("time: unknown unit {unit:?} in duration {s:?}")),
        };
        total += number * factor;
    }
    let secs = total.trunc() as i64;
    Ok(if neg { -secs } else { secs })
}

/// `time.Duration(secs * time.Second).String()`: `0s`, `1h0m0s`, `1m30s`.
pub fn go_string(secs: i64) -> String {
    if secs == 0 {
        return "0s".to_string();
    }
    let sign = if secs < 0 { "-" } else { "" };
    let a = secs.unsigned_abs();
    let (h, m, s) = (a / 3600, (a % 3600) / 60, a % 60);
    if h > 0 {
        format!("{sign}{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{sign}{m}m{s}s")
    } else {
        format!("{sign}{s}s")
    }
}

/// Vault's `humanDuration`: the Go string without the pesky zeros
/// (`1h0m0s` → `1h`, `1m0s` → `1m`, `1h0m5s` → `1h5s`).
pub fn human(secs: i64) -> String {
    if secs == 0 {
        return "0s".to_string();
    }
    let mut s = go_string(secs);
    if s.ends_with("m0s") {
        s.truncate(s.len() - 2);
    }
    if let Some(idx) = s.find("h0m") {
        if idx > 0 {
            s = format!("{}{}", &s[..idx + 1], &s[idx + 3..]);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_duration_strings() {
        assert_eq!(go_string(87600 * 3600), "87600h0m0s");
        assert_eq!(go_string(0), "0s");
        assert_eq!(go_string(90), "1m30s");
        assert_eq!(human(720 * 3600), "720h");
        assert_eq!(human(60), "1m");
        assert_eq!(human(3605), "1h5s");
        assert_eq!(human(30), "30s");
    }

    #[test]
    fn parse_duration_second_accepts_ints_units_and_fractions() {
        assert_eq!(parse_duration_second("3600").unwrap(), 3600);
        assert_eq!(parse_duration_second("1h30m").unwrap(), 5400);
        assert_eq!(parse_duration_second("1.5h").unwrap(), 5400);
        assert_eq!(parse_duration_second("-1").unwrap(), -1);
        assert!(parse_duration_second("abc").is_err());
    }
}
