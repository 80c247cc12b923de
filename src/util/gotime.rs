//! Time as Vault prints it: Go's `time.Time` in RFC 3339 (with trimmed
//! nanoseconds, as `RFC3339Nano`), and the clock in the units stores keep.

use time::OffsetDateTime;

/// Now, in Unix seconds.
pub fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Now, in Unix nanoseconds.
pub fn now_nanos() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp_nanos() as i64
}

/// Unix seconds as RFC 3339 (UTC, no fraction); `""` if out of range.
pub fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .map(rfc3339_of)
        .unwrap_or_default()
}

/// A time as RFC 3339 in UTC, whole seconds.
pub fn rfc3339_of(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Unix nanoseconds as Go's `RFC3339Nano` (trailing zeros of the fraction
/// trimmed, none if whole); `None` for 0, which callers print as Go's zero
/// time or as nothing, as the Vault code they follow does.
pub fn rfc3339_nano(nanos: i64) -> Option<String> {
    if nanos == 0 {
        return None;
    }
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)).ok()?;
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let frac = t.nanosecond();
    if frac != 0 {
        let digits = format!("{frac:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('Z');
    Some(out)
}

/// Go's zero `time.Time`, as `encoding/json` prints it.
pub const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_go_prints_them() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_nano(0), None);
        assert_eq!(
            rfc3339_nano(1_700_000_000_120_000_000).as_deref(),
            Some("2023-11-14T22:13:20.12Z")
        );
        assert_eq!(
            rfc3339_nano(1_700_000_000_000_000_000).as_deref(),
            Some("2023-11-14T22:13:20Z")
        );
        assert_eq!(
            rfc3339_nano(1_795_831_184_294_865_228).as_deref(),
            Some("2026-11-28T01:59:44.294865228Z")
        );
    }
}
