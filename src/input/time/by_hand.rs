//! The fixed layouts read byte by byte, without jiff: RFC 3339's commonest shape (UTC, `Z`),
//! and the pieces the access log's and syslog's readers share (fixed-width digits, English
//! month names). Each reader returns `None` for anything outside its shape, and the caller
//! (`time/mod.rs`) leaves that to jiff. The RFC 3339 reader's agreement with jiff is tested
//! here; the access log's and syslog's (which convert through jiff) in `time/mod.rs`.

/// The shape most logs write, read by hand: `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (`t`, `z` and a
/// space for `T` too), from 1970 to 2554, seconds 0-59, at most nine fraction digits. `None`
/// for anything else, which jiff reads or refuses with its reason.
#[allow(clippy::many_single_char_names)] // y, m, d, h: the date's own fields
pub(super) fn rfc3339_utc(s: &[u8]) -> Option<u64> {
    if s.len() < 20
        || s[4] != b'-'
        || s[7] != b'-'
        || !matches!(s[10], b'T' | b't' | b' ')
        || s[13] != b':'
        || s[16] != b':'
    {
        return None;
    }
    let f = |at, n| digits(s, at, n).map(u64::from);
    let (y, m, d) = (f(0, 4)?, f(5, 2)?, f(8, 2)?);
    let (h, mi, sec) = (f(11, 2)?, f(14, 2)?, f(17, 2)?);
    let mut at = 19;
    let mut fraction = 0u64;
    if s[at] == b'.' {
        let start = at + 1;
        at = start;
        while at < s.len() && s[at].is_ascii_digit() {
            if at - start == 9 {
                return None;
            }
            fraction = fraction * 10 + u64::from(s[at] - b'0');
            at += 1;
        }
        if at == start {
            return None;
        }
        fraction *= 10u64.pow(9 - (at - start) as u32);
    }
    if at + 1 != s.len() || !matches!(s[at], b'Z' | b'z') {
        return None;
    }
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1970..=2554).contains(&y) || d == 0 || d > month_days || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let secs = days_since_epoch(y, m, d) * 86_400 + h * 3600 + mi * 60 + sec;
    secs.checked_mul(1_000_000_000)?.checked_add(fraction)
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar, 1970 or later (Howard
/// Hinnant's `days_from_civil`, with March as the year's first month).
fn days_since_epoch(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// A month's three-letter English name (any case), 1 to 12.
pub(super) fn month(name: &[u8]) -> Option<i8> {
    MONTHS
        .iter()
        .position(|m| name.eq_ignore_ascii_case(&m[..]))
        .map(|i| i as i8 + 1)
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

#[cfg(test)]
mod tests {
    use super::super::rfc3339_by_jiff;
    use super::rfc3339_utc;

    /// The hand-written RFC 3339 reader against jiff: every day from 1970 to 2554 at a time
    /// and fraction that vary with the day, every spelling it takes; and damaged texts, which
    /// it either leaves to jiff or reads exactly as jiff does.
    #[test]
    fn rfc3339_by_hand_agrees_with_jiff() {
        let mut day = jiff::civil::date(1970, 1, 1);
        let end = jiff::civil::date(2555, 1, 1);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let (mut by_hand, mut damaged) = (0, 0);
        while day < end {
            let r = next();
            let dt = day.at(
                (r % 24) as i8,
                (r / 24 % 60) as i8,
                (r / 1440 % 60) as i8,
                0,
            );
            let digits = (r >> 20) % 10;
            let fraction = (r >> 24) % 1_000_000_000;
            let mut text = dt.strftime("%Y-%m-%dT%H:%M:%S").to_string();
            if digits > 0 {
                let f = format!("{fraction:09}");
                text.push('.');
                text.push_str(&f[..digits as usize]);
            }
            text.push('Z');
            let sep = [b'T', b't', b' '][(r >> 60) as usize % 3];
            let zone = [b'Z', b'z'][(r >> 62) as usize % 2];
            let mut bytes = text.into_bytes();
            bytes[10] = sep;
            *bytes.last_mut().unwrap() = zone;
            let text = String::from_utf8(bytes.clone()).unwrap();
            let want = rfc3339_by_jiff(&text);
            let got = rfc3339_utc(text.as_bytes());
            if day.year() < 2554 {
                assert!(got.is_some(), "{text} is the shape read by hand");
            }
            if let Some(n) = got {
                by_hand += 1;
                assert_eq!(Ok(n), want, "{text}");
            }
            // One byte changed (a digit, a separator, a letter, a sign) or the end cut.
            let at = (next() % bytes.len() as u64) as usize;
            let mut bad = bytes.clone();
            bad[at] = b"0123456789-:.TZ+ x"[(next() % 18) as usize];
            if next() % 4 == 0 {
                bad.truncate(at);
            }
            let bad = String::from_utf8(bad).unwrap();
            if let Some(n) = rfc3339_utc(bad.as_bytes()) {
                damaged += 1;
                assert_eq!(Ok(n), rfc3339_by_jiff(&bad), "{bad}");
            }
            day = day.tomorrow().unwrap();
        }
        assert!(by_hand > 200_000 && damaged > 10_000, "{by_hand} {damaged}");
        for left_to_jiff in [
            "2026-11-24T10:00:00+01:00",
            "2024-02-29T23:59:60Z",
            "2026-11-24T10:00:00.1234567891Z",
            "1969-12-31T23:59:59Z",
            "2555-01-01T00:00:00Z",
        ] {
            assert_eq!(rfc3339_utc(left_to_jiff.as_bytes()), None, "{left_to_jiff}");
        }
    }
}
