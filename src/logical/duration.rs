//! Durations as Vault reads and writes them: Go's `time.ParseDuration` syntax
//! (`"2160h0m0s"`, `"1m30.5s"`, `"500ms"`), integer seconds (`3600`,
//! `"3600"`), and Vault's `"30d"` day suffix. Values are whole seconds, as the
//! framework's `TypeDurationSecond` keeps them.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("time: invalid duration {0:?}")]
pub struct DurationError(pub String);

/// Parses a duration string into whole seconds (fractions are truncated,
/// negative values rejected: no Vault TTL field is negative).
pub fn parse_duration_seconds(input: &str) -> Result<i64, DurationError> {
    let s = input.trim();
    if s.is_empty() {
        return Ok(0);
    }
    if let Ok(secs) = s.parse::<i64>() {
        return non_negative(secs, input);
    }
    if let Some(days) = s.strip_suffix('d') {
        if let Ok(days) = days.parse::<i64>() {
            return days
                .checked_mul(86_400)
                .ok_or_else(|| DurationError(input.to_string()))
                .and_then(|secs| non_negative(secs, input));
        }
    }
    let nanos = parse_go_duration_nanos(s).ok_or_else(|| DurationError(input.to_string()))?;
    non_negative((nanos / 1_000_000_000) as i64, input)
}

fn non_negative(secs: i64, input: &str) -> Result<i64, DurationError> {
    if secs < 0 {
        Err(DurationError(input.to_string()))
    } else {
        Ok(secs)
    }
}

/// The largest total accepted, in nanoseconds: `i64::MAX` whole seconds, the
/// range of every other form, so that whatever [`GoDuration`] prints parses
/// back (Go itself stops at `i64::MAX` nanoseconds, 292 years; found by
/// fuzzing: a TTL given as integer seconds printed as an unparsable
/// `969305141757108h59m30s`).
const MAX_NANOS: i128 = i64::MAX as i128 * 1_000_000_000 + 999_999_999;

/// Go's `time.ParseDuration` syntax, returning nanoseconds (i128 so that
/// overflow is detected instead of wrapping).
fn parse_go_duration_nanos(s: &str) -> Option<i128> {
    let (negative, mut rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &rest[..int_len];
        rest = &rest[int_len..];
        let mut frac_part = "";
        if let Some(after_dot) = rest.strip_prefix('.') {
            let frac_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &after_dot[..frac_len];
            rest = &after_dot[frac_len..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(rest.len(), |(i, _)| i);
        let unit: i128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        let whole: i128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().ok()?
        };
        let mut value = whole.checked_mul(unit)?;
        if !frac_part.is_empty() {
            // Digits past the 20th are below a nanosecond of any unit.
            let digits = frac_part.len().min(20) as u32;
            let frac: i128 = frac_part[..digits as usize].parse().ok()?;
            value = value.checked_add(frac.checked_mul(unit)? / 10_i128.checked_pow(digits)?)?;
        }
        total = total.checked_add(value)?;
        if total > MAX_NANOS {
            return None;
        }
    }
    Some(if negative { -total } else { total })
}

/// A whole number of seconds printed as Go's `Duration.String()` does:
/// `2160h0m0s`, `1m30s`, `45s`, `0s`.
pub struct GoDuration(pub i64);

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0;
        if secs == 0 {
            return f.write_str("0s");
        }
        let sign = if secs < 0 { "-" } else { "" };
        let abs = secs.unsigned_abs();
        let (h, m, s) = (abs / 3600, (abs % 3600) / 60, abs % 60);
        if h > 0 {
            write!(f, "{sign}{h}h{m}m{s}s")
        } else if m > 0 {
            write!(f, "{sign}{m}m{s}s")
        } else {
            write!(f, "{sign}{s}s")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_every_form_vault_accepts() {
        assert_eq!(parse_duration_seconds("2160h0m0s"), Ok(7_776_000));
        assert_eq!(parse_duration_seconds("1m30.5s"), Ok(90));
        assert_eq!(parse_duration_seconds("500ms"), Ok(0));
        assert_eq!(parse_duration_seconds("30d"), Ok(2_592_000));
        assert_eq!(parse_duration_seconds("3600"), Ok(3600));
        assert_eq!(parse_duration_seconds(""), Ok(0));
        assert_eq!(parse_duration_seconds("0"), Ok(0));
        assert_eq!(parse_duration_seconds("1h30m"), Ok(5400));
        assert_eq!(parse_duration_seconds(".5h"), Ok(1800));
        assert_eq!(parse_duration_seconds("1.h"), Ok(3600));
    }

    #[test]
    fn rejects_what_go_rejects() {
        for bad in ["abc", "1", "h", "1x", "-1h", "--1h", "1h-", "."] {
            if bad == "1" {
                continue; // a bare integer is seconds in Vault
            }
            assert!(parse_duration_seconds(bad).is_err(), "{bad} should fail");
        }
        assert!(parse_duration_seconds("99999999999999999999h").is_err());
    }

    /// Fuzzing regressions: every value printed parses back, and long
    /// fractions are truncated as Go truncates them, not refused.
    #[test]
    fn large_values_and_long_fractions() {
        let big = 3_489_498_510_325_592_370;
        assert_eq!(GoDuration(big).to_string(), "969305141757108h59m30s");
        assert_eq!(parse_duration_seconds("969305141757108h59m30s"), Ok(big));
        assert_eq!(
            parse_duration_seconds(&GoDuration(i64::MAX).to_string()),
            Ok(i64::MAX)
        );
        assert!(parse_duration_seconds("2562047788015216h").is_err());
        assert_eq!(
            parse_duration_seconds("1.000000000000000000000000000000001h"),
            Ok(3600)
        );
        assert_eq!(
            parse_duration_seconds("1.99999999999999999999999999s"),
            Ok(1)
        );
    }

    #[test]
    fn prints_like_go() {
        assert_eq!(GoDuration(7_776_000).to_string(), "2160h0m0s");
        assert_eq!(GoDuration(90).to_string(), "1m30s");
        assert_eq!(GoDuration(0).to_string(), "0s");
        assert_eq!(GoDuration(2_764_800).to_string(), "768h0m0s");
    }

    proptest! {
        #[test]
        fn go_form_round_trips(secs in prop_oneof![0i64..9_000_000_000, 0i64..=i64::MAX]) {
            prop_assert_eq!(parse_duration_seconds(&GoDuration(secs).to_string()), Ok(secs));
        }

        #[test]
        fn integer_form_round_trips(secs in 0i64..i64::MAX / 2) {
            prop_assert_eq!(parse_duration_seconds(&secs.to_string()), Ok(secs));
        }

        #[test]
        fn never_panics(s in "\\PC{0,24}") {
            let _ = parse_duration_seconds(&s);
        }
    }
}
