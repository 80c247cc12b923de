//! Durations as Vault reads and writes them: Go's `time.ParseDuration` syntax
//! (`"2160h0m0s"`, `"1m30.5s"`, `"500ms"`), integer seconds (`3600`,
//! `"3600"`), and Vault's `"30d"` day suffix. Values are whole seconds, as the
//! framework's `TypeDurationSecond` keeps them.

use std::fmt;

/// Why a duration was refused, in the words of Go's `time.ParseDuration`
/// and Vault's `parseutil.ParseDurationSecond` (clients see these texts).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("time: invalid duration {0:?}")]
    Invalid(String),
    #[error("time: missing unit in duration {0:?}")]
    MissingUnit(String),
    #[error("time: unknown unit {unit:?} in duration {input:?}")]
    UnknownUnit { unit: String, input: String },
    /// `"1.5d"`: the day form takes a whole number.
    #[error("strconv.ParseInt: parsing {0:?}: invalid syntax")]
    InvalidDays(String),
    /// More seconds than Go's `time.Duration` holds.
    #[error("multiplication of durations resulted in overflow, one operand may be too large")]
    Overflow,
    /// No Vault duration field is negative; the value is shown in seconds.
    #[error("cannot provide negative value '{0}'")]
    Negative(i64),
}

/// The most whole seconds a Go `time.Duration` (int64 nanoseconds, about
/// 292 years) holds; Vault refuses anything longer, in every form.
pub const MAX_SECONDS: i64 = i64::MAX / NANOS_PER_SECOND as i64;

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// Parses a duration string into whole seconds as Vault does: `""` is 0,
/// an integer is seconds, `Nd` is whole days, anything else is Go's
/// duration syntax (fractions of a second are truncated). Nothing is
/// trimmed, and negative or over-long values are refused.
pub fn parse_duration_seconds(input: &str) -> Result<i64, DurationError> {
    if input.is_empty() {
        return Ok(0);
    }
    if let Ok(secs) = input.parse::<i64>() {
        return checked_seconds(secs);
    }
    if let Some(days) = input.strip_suffix('d') {
        let days: i64 = days
            .parse()
            .map_err(|_| DurationError::InvalidDays(days.to_string()))?;
        return checked_seconds(days.checked_mul(86_400).ok_or(DurationError::Overflow)?);
    }
    let nanos = parse_go_duration_nanos(input)?;
    let secs = (nanos / NANOS_PER_SECOND) as i64;
    if nanos < 0 {
        return Err(DurationError::Negative(secs));
    }
    Ok(secs)
}

/// As [`parse_duration_seconds`], but a negative value is returned, not
/// refused: token creation reads its durations this way and then refuses a
/// negative one with its own words ("ttl must be positive").
pub fn parse_signed_duration_seconds(input: &str) -> Result<i64, DurationError> {
    if input.is_empty() {
        return Ok(0);
    }
    if let Ok(secs) = input.parse::<i64>() {
        return within_range(secs);
    }
    if let Some(days) = input.strip_suffix('d') {
        let days: i64 = days
            .parse()
            .map_err(|_| DurationError::InvalidDays(days.to_string()))?;
        return within_range(days.checked_mul(86_400).ok_or(DurationError::Overflow)?);
    }
    let nanos = parse_go_duration_nanos(input)?;
    Ok((nanos / NANOS_PER_SECOND) as i64)
}

fn within_range(secs: i64) -> Result<i64, DurationError> {
    if secs.unsigned_abs() > MAX_SECONDS as u64 {
        Err(DurationError::Overflow)
    } else {
        Ok(secs)
    }
}

/// A count of seconds checked against Vault's range.
pub fn checked_seconds(secs: i64) -> Result<i64, DurationError> {
    if secs < 0 {
        Err(DurationError::Negative(secs))
    } else if secs > MAX_SECONDS {
        Err(DurationError::Overflow)
    } else {
        Ok(secs)
    }
}

/// Go's `time.ParseDuration`, returning nanoseconds within Go's int64 range
/// (i128 so that overflow is detected instead of wrapping).
fn parse_go_duration_nanos(input: &str) -> Result<i128, DurationError> {
    let invalid = || DurationError::Invalid(input.to_string());
    let (negative, mut rest) = match input.as_bytes().first() {
        Some(b'-') => (true, &input[1..]),
        Some(b'+') => (false, &input[1..]),
        _ => (false, input),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
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
            return Err(invalid());
        }
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(rest.len(), |(i, _)| i);
        let unit: i128 = match &rest[..unit_len] {
            "" => return Err(DurationError::MissingUnit(input.to_string())),
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => NANOS_PER_SECOND,
            "m" => 60 * NANOS_PER_SECOND,
            "h" => 3_600 * NANOS_PER_SECOND,
            other => {
                return Err(DurationError::UnknownUnit {
                    unit: other.to_string(),
                    input: input.to_string(),
                })
            }
        };
        rest = &rest[unit_len..];
        let whole: i128 = if int_part.is_empty() {
            0
        } else {
            // More digits than i128 holds is far past Go's range anyway.
            int_part.parse().map_err(|_| invalid())?
        };
        let mut value = whole.checked_mul(unit).ok_or_else(invalid)?;
        if !frac_part.is_empty() {
            // Digits past the 20th are below a nanosecond of any unit.
            let digits = frac_part.len().min(20) as u32;
            let frac: i128 = frac_part[..digits as usize]
                .parse()
                .map_err(|_| invalid())?;
            value += frac * unit / 10_i128.pow(digits);
        }
        total = total.checked_add(value).ok_or_else(invalid)?;
        if total > i64::MAX as i128 + i128::from(negative) {
            return Err(invalid());
        }
    }
    Ok(if negative { -total } else { total })
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
    fn rejects_what_vault_rejects_with_its_words() {
        let err = |s: &str| parse_duration_seconds(s).map_err(|e| e.to_string());
        assert_eq!(err("abc"), Err("time: invalid duration \"abc\"".into()));
        assert_eq!(
            err("1.5"),
            Err("time: missing unit in duration \"1.5\"".into())
        );
        assert_eq!(
            err("1h "),
            Err("time: unknown unit \"h \" in duration \"1h \"".into())
        );
        assert_eq!(err(" "), Err("time: invalid duration \" \"".into()));
        assert_eq!(
            err("1.5d"),
            Err("strconv.ParseInt: parsing \"1.5\": invalid syntax".into())
        );
        assert_eq!(
            err("-1h"),
            Err("cannot provide negative value '-3600'".into())
        );
        assert_eq!(err("-5"), Err("cannot provide negative value '-5'".into()));
        for bad in ["h", "1x", "--1h", "1h-", ".", " 30s", "1d2h"] {
            assert!(parse_duration_seconds(bad).is_err(), "{bad} should fail");
        }
        assert_eq!(parse_duration_seconds("+5s"), Ok(5));
        assert_eq!(parse_duration_seconds("-0"), Ok(0));
    }

    /// Go's `time.Duration` ends at int64 nanoseconds (2562047h47m16.854775807s);
    /// Vault refuses anything longer in every form (found by fuzzing: such
    /// values overflowed date arithmetic further on).
    #[test]
    fn nothing_longer_than_a_go_duration_is_accepted() {
        assert_eq!(
            parse_duration_seconds("2562047h47m16.854775807s"),
            Ok(MAX_SECONDS)
        );
        assert_eq!(
            parse_duration_seconds("2562047h47m16.854775808s"),
            Err(DurationError::Invalid("2562047h47m16.854775808s".into()))
        );
        assert!(parse_duration_seconds("87600000h").is_err());
        assert_eq!(parse_duration_seconds("9223372036"), Ok(MAX_SECONDS));
        assert_eq!(
            parse_duration_seconds("9223372037"),
            Err(DurationError::Overflow)
        );
        assert_eq!(parse_duration_seconds("106751d"), Ok(106_751 * 86_400));
        assert_eq!(
            parse_duration_seconds("106752d"),
            Err(DurationError::Overflow)
        );
        assert_eq!(
            parse_duration_seconds(&GoDuration(MAX_SECONDS).to_string()),
            Ok(MAX_SECONDS)
        );
    }

    /// Long fractions are truncated as Go truncates them, not refused.
    #[test]
    fn long_fractions_are_truncated() {
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
        fn go_form_round_trips(secs in 0i64..=MAX_SECONDS) {
            prop_assert_eq!(parse_duration_seconds(&GoDuration(secs).to_string()), Ok(secs));
        }

        #[test]
        fn integer_form_round_trips(secs in 0i64..=MAX_SECONDS) {
            prop_assert_eq!(parse_duration_seconds(&secs.to_string()), Ok(secs));
        }

        #[test]
        fn never_panics(s in "\\PC{0,24}") {
            let _ = parse_duration_seconds(&s);
        }
    }

    #[test]
    fn signed_durations_keep_their_sign_and_range() {
        assert_eq!(parse_signed_duration_seconds("-5"), Ok(-5));
        assert_eq!(parse_signed_duration_seconds("-1h"), Ok(-3600));
        assert_eq!(parse_signed_duration_seconds("-2d"), Ok(-172_800));
        assert_eq!(parse_signed_duration_seconds("90s"), Ok(90));
        assert_eq!(
            parse_signed_duration_seconds("-9223372036854775807"),
            Err(DurationError::Overflow)
        );
        assert!(parse_signed_duration_seconds("-x").is_err());
    }
}
