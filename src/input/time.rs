//! The times logs carry: RFC 3339, seconds (or milliseconds) since the Unix epoch, and the
//! access log's `[10/Oct/2000:13:55:36 -0700]`. All of them become nanoseconds since the epoch,
//! exactly where the text is exact; dates are proleptic Gregorian, UTC offsets honoured.

/// An event time as text: RFC 3339, or a number of seconds (milliseconds from 10^11 on).
pub fn event_time(text: &str) -> Result<u64, String> {
    match text.parse::<f64>() {
        Ok(v) => unix_number(v),
        Err(_) => rfc3339(text),
    }
}

/// Seconds (or, from 10^11 on, milliseconds) since the epoch, as nanoseconds. The whole part is
/// converted exactly; only a fraction goes through floating point.
pub(crate) fn unix_number(v: f64) -> Result<u64, String> {
    if !v.is_finite() || v < 0.0 {
        return Err(format!(
            "timestamp {v} is not a time: give seconds since 1970 or RFC 3339"
        ));
    }
    let unit: u64 = if v >= 1e11 { 1_000_000 } else { 1_000_000_000 };
    let whole = v.trunc();
    let fraction = ((v - whole) * unit as f64).round() as u64;
    if whole >= u64::MAX as f64 {
        return Err(format!("timestamp {v} is too far in the future"));
    }
    (whole as u64)
        .checked_mul(unit)
        .and_then(|n| n.checked_add(fraction))
        .ok_or_else(|| format!("timestamp {v} is too far in the future"))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Fixed-width digits at `s[at..at + n]`.
pub(crate) fn digits(s: &[u8], at: usize, n: usize) -> Option<u32> {
    let mut v = 0u32;
    for &b in s.get(at..at + n)? {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(b - b'0');
    }
    Some(v)
}

/// Nanoseconds since the epoch of a civil time with an offset east of UTC in seconds.
fn to_nanos(
    date: (i64, u32, u32),
    time: (u32, u32, u32),
    nanos: u32,
    offset: i64,
) -> Result<u64, String> {
    let (y, mo, d) = date;
    let (h, mi, s) = time;
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60
    {
        return Err("a date or time field is out of range".into());
    }
    // A leap second counts as the last second of its minute.
    let s = s.min(59);
    let secs = days_from_civil(y, mo, d) * 86_400
        + i64::from(h) * 3600
        + i64::from(mi) * 60
        + i64::from(s)
        - offset;
    if secs < 0 {
        return Err("before 1970".into());
    }
    u64::try_from(secs)
        .ok()
        .and_then(|s| s.checked_mul(1_000_000_000))
        .and_then(|n| n.checked_add(u64::from(nanos)))
        .ok_or_else(|| "too far in the future".into())
}

/// RFC 3339: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; `t`, `z` and a space for `T` accepted.
#[allow(clippy::many_single_char_names)] // y, m, d, h, s: the date's own fields
pub fn rfc3339(text: &str) -> Result<u64, String> {
    let bad = |why: &str| {
        format!("timestamp {text:?}: {why} (expected RFC 3339, like 2026-11-24T10:00:00Z)")
    };
    let s = text.as_bytes();
    let field = |at: usize, n: usize| digits(s, at, n).ok_or_else(|| bad("not a date and time"));
    let (y, mo, d) = (field(0, 4)?, field(5, 2)?, field(8, 2)?);
    let (h, mi, sec) = (field(11, 2)?, field(14, 2)?, field(17, 2)?);
    if s[4] != b'-'
        || s[7] != b'-'
        || !matches!(s[10], b'T' | b't' | b' ')
        || s[13] != b':'
        || s[16] != b':'
    {
        return Err(bad("not a date and time"));
    }
    let mut at = 19;
    let mut nanos = 0u32;
    if s.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while s.get(at).is_some_and(u8::is_ascii_digit) {
            if at - start < 9 {
                nanos = nanos * 10 + u32::from(s[at] - b'0');
            }
            at += 1;
        }
        if at == start {
            return Err(bad("empty fraction of a second"));
        }
        for _ in (at - start)..9 {
            nanos *= 10;
        }
    }
    let offset = match s.get(at) {
        Some(b'Z' | b'z') if at + 1 == s.len() => 0,
        Some(&sign @ (b'+' | b'-')) if at + 6 == s.len() && s[at + 3] == b':' => {
            let (oh, om) = (field(at + 1, 2)?, field(at + 4, 2)?);
            if oh > 23 || om > 59 {
                return Err(bad("offset out of range"));
            }
            let o = i64::from(oh * 3600 + om * 60);
            if sign == b'-' {
                -o
            } else {
                o
            }
        }
        _ => return Err(bad("missing or malformed offset (Z or +HH:MM)")),
    };
    to_nanos((i64::from(y), mo, d), (h, mi, sec), nanos, offset).map_err(|why| bad(&why))
}

/// An RFC 3339 UTC rendering of a time, to the millisecond.
pub fn format_rfc3339(nanos: u64) -> String {
    let secs = (nanos / 1_000_000_000) as i64;
    let millis = (nanos % 1_000_000_000) / 1_000_000;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// The access-log time: `10/Oct/2000:13:55:36 -0700`.
#[allow(clippy::many_single_char_names)] // d, y, h, o: the date's own fields
pub(crate) fn clf_time(text: &str) -> Result<u64, String> {
    let bad = || format!("time [{text}] is not like [24/Nov/2026:10:00:00 +0000]");
    let s = text.as_bytes();
    if s.len() != 26
        || s[2] != b'/'
        || s[6] != b'/'
        || s[11] != b':'
        || s[14] != b':'
        || s[17] != b':'
        || s[20] != b' '
    {
        return Err(bad());
    }
    let month = MONTHS
        .iter()
        .position(|m| s[3..6].eq_ignore_ascii_case(&m[..]))
        .ok_or_else(bad)? as u32
        + 1;
    let f = |at, n| digits(s, at, n).ok_or_else(bad);
    let (d, y, h, mi, sec) = (f(0, 2)?, f(7, 4)?, f(12, 2)?, f(15, 2)?, f(18, 2)?);
    let (oh, om) = (f(22, 2)?, f(24, 2)?);
    let o = i64::from(oh * 3600 + om * 60);
    let offset = match s[21] {
        b'+' => o,
        b'-' => -o,
        _ => return Err(bad()),
    };
    to_nanos((i64::from(y), month, d), (h, mi, sec), 0, offset)
        .map_err(|why| format!("{}: {why}", bad()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn rfc3339_reads_utc_offsets_fractions_and_refuses_the_rest() {
        assert_eq!(rfc3339("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(rfc3339("2000-03-01T00:00:00Z").unwrap(), 951_868_800 * S);
        assert_eq!(
            rfc3339("2026-11-24T11:00:00.25+01:00").unwrap(),
            rfc3339("2026-11-24T10:00:00.250Z").unwrap()
        );
        assert_eq!(
            rfc3339("2026-11-24 10:00:00.123456789123z").unwrap() % S,
            123_456_789
        );
        assert_eq!(rfc3339("2024-02-29T23:59:60Z").unwrap() / S, 1_709_251_199);
        for bad in [
            "",
            "2026-11-24",
            "2026-11-24T10:00:00",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-11-24T10:00:00+1:00",
            "2026-11-24T10:00:00.Z",
            "1969-12-31T23:59:59Z",
            "yesterday",
        ] {
            assert!(rfc3339(bad).is_err(), "{bad}");
        }
        assert_eq!(
            format_rfc3339(rfc3339("2026-11-24T10:00:00.250Z").unwrap()),
            "2026-11-24T10:00:00.250Z"
        );
    }

    #[test]
    fn days_round_trip_over_four_centuries() {
        for z in (-1_000..200_000).step_by(7) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }
}
