//! Reading recorded events: JSON Lines and the combined access-log format, and the time formats
//! they use. Every parser borrows from the line: nothing is allocated for a well-formed event.
//!
//! # JSON Lines
//! One object per line:
//! ```json
//! {"actor": "10.0.0.7", "action": "GET", "target": "/login", "timestamp": "2026-11-24T10:00:00Z",
//!  "weight": 1, "metadata": {"status": "200"}}
//! ```
//! `actor`, `action`, `target` and `timestamp` are required; `weight` (default 1) and `metadata`
//! (an object; non-string values are kept as their JSON text) are optional; other fields are
//! ignored. `timestamp` is RFC 3339 (`2026-11-24T10:00:00Z`, `2026-11-24T11:00:00.250+01:00`; a
//! space may stand for the `T`) or a number of seconds since the Unix epoch; a number of 10^11 or
//! more is taken as milliseconds (10^11 seconds is the year 5138).
//!
//! # Combined log format
//! What Apache (`LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\""`) and
//! nginx (`log_format combined`) write; the common log format (without referer and user agent)
//! is read too:
//! ```text
//! 203.0.113.9 - frank [24/Nov/2026:10:00:00 +0000] "GET /login?next=/ HTTP/1.1" 200 2326 "-" "curl/8.5"
//! ```
//! The actor is the client address, the action the method, the target the path (with its query
//! string unless dropped), the time the bracketed timestamp; the weight is 1, or the response size
//! in bytes when asked (`-` counts 0).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

/// One event read from a line.
#[derive(Debug, PartialEq)]
pub struct Parsed<'a> {
    pub actor: Cow<'a, str>,
    pub action: Cow<'a, str>,
    pub target: Cow<'a, str>,
    /// Nanoseconds since the Unix epoch.
    pub ts: u64,
    pub weight: f64,
    pub metadata: Vec<(String, String)>,
}

/// How the combined format is read.
#[derive(Debug, Clone, Copy, Default)]
pub struct CombinedOptions {
    pub drop_query: bool,
    pub weight_from_size: bool,
}

/// A JSON Lines event; the reason when the line is not one.
pub fn parse_jsonl(line: &str) -> Result<Parsed<'_>, String> {
    let raw: RawEvent<'_> = serde_json::from_str(line).map_err(|e| {
        let mut why = e.to_string();
        if e.is_syntax() || e.is_eof() {
            why = format!("not a JSON object: {why}");
        }
        why
    })?;
    Ok(Parsed {
        actor: raw.actor,
        action: raw.action,
        target: raw.target,
        ts: raw.timestamp.0,
        weight: raw.weight.unwrap_or(1.0),
        metadata: raw.metadata.map(|m| m.0).unwrap_or_default(),
    })
}

#[derive(Deserialize)]
struct RawEvent<'a> {
    #[serde(borrow)]
    actor: Cow<'a, str>,
    #[serde(borrow)]
    action: Cow<'a, str>,
    #[serde(borrow)]
    target: Cow<'a, str>,
    timestamp: Timestamp,
    #[serde(default)]
    weight: Option<f64>,
    #[serde(default)]
    metadata: Option<Metadata>,
}

/// A timestamp field: RFC 3339 text or a number of seconds (or milliseconds).
struct Timestamp(u64);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an RFC 3339 time or a number of seconds since the Unix epoch")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
                let unit: u64 = if v >= 100_000_000_000 {
                    1_000_000
                } else {
                    1_000_000_000
                };
                v.checked_mul(unit)
                    .map(Timestamp)
                    .ok_or_else(|| E::custom(format!("timestamp {v} is too far in the future")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => self.visit_f64(v as f64),
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
                unix_number(v).map(Timestamp).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                rfc3339(v).map(Timestamp).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// `metadata`: an object; strings kept as they are, other values as their JSON text.
struct Metadata(Vec<(String, String)>);

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Metadata;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of tags")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Metadata, E> {
                Ok(Metadata(Vec::new()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Metadata, A::Error> {
                let mut tags = BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value: serde_json::Value = map.next_value()?;
                    let text = match value {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    tags.insert(key, text);
                }
                Ok(Metadata(tags.into_iter().collect()))
            }
        }
        d.deserialize_any(V)
    }
}

/// An event time as text: RFC 3339, or a number of seconds (milliseconds from 10^11 on).
pub fn event_time(text: &str) -> Result<u64, String> {
    match text.parse::<f64>() {
        Ok(v) => unix_number(v),
        Err(_) => rfc3339(text),
    }
}

/// Seconds (or, from 10^11 on, milliseconds) since the epoch, as nanoseconds. The whole part is
/// converted exactly; only a fraction goes through floating point.
fn unix_number(v: f64) -> Result<u64, String> {
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
fn digits(s: &[u8], at: usize, n: usize) -> Option<u32> {
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
fn clf_time(text: &str) -> Result<u64, String> {
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

/// Splits off the next space-separated field.
fn next_field(rest: &str) -> Option<(&str, &str)> {
    let rest = rest.trim_start_matches(' ');
    if rest.is_empty() {
        return None;
    }
    Some(match rest.find(' ') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    })
}

/// A combined (or common) log line.
pub fn parse_combined(line: &str, opts: CombinedOptions) -> Result<Parsed<'_>, String> {
    let short = || {
        "not an access-log line: expected HOST IDENT USER [TIME] \"REQUEST\" STATUS SIZE"
            .to_string()
    };
    let (host, rest) = next_field(line).ok_or_else(short)?;
    let (_ident, rest) = next_field(rest).ok_or_else(short)?;
    // The user may be quoted or contain spaces in odd setups; the time starts at the first '['.
    let open = rest.find('[').ok_or_else(short)?;
    let close = open + rest[open..].find(']').ok_or_else(short)?;
    let ts = clf_time(&rest[open + 1..close])?;
    let rest = rest[close + 1..].trim_start_matches(' ');
    let rest = rest.strip_prefix('"').ok_or_else(short)?;
    // The request ends at the first quote not escaped with a backslash.
    let bytes = rest.as_bytes();
    let mut end = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => {
                end = Some(i);
                break;
            }
            _ => i += 1,
        }
    }
    let end = end.ok_or_else(short)?;
    let request = &rest[..end];
    let rest = &rest[end + 1..];
    let mut parts = request.split(' ').filter(|p| !p.is_empty());
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return Err(format!("request {request:?} is not METHOD PATH [PROTOCOL]"));
    };
    if !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(format!("request {request:?} has no HTTP method"));
    }
    let (status, rest) = next_field(rest).ok_or_else(short)?;
    if digits(status.as_bytes(), 0, 3).is_none() || status.len() != 3 {
        return Err(format!("status {status:?} is not a 3-digit code"));
    }
    let (size, _rest) = next_field(rest).ok_or_else(short)?;
    let weight = if opts.weight_from_size {
        if size == "-" {
            0.0
        } else {
            size.parse::<u64>()
                .map_err(|_| format!("size {size:?} is not a number of bytes"))? as f64
        }
    } else {
        1.0
    };
    let path = if opts.drop_query {
        path.split_once('?').map_or(path, |(p, _)| p)
    } else {
        path
    };
    Ok(Parsed {
        actor: Cow::Borrowed(host),
        action: Cow::Borrowed(method),
        target: Cow::Borrowed(path),
        ts,
        weight,
        metadata: Vec::new(),
    })
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

    #[test]
    fn jsonl_lines_read_every_documented_form() {
        let e = parse_jsonl(
            r#"{"actor":"a","action":"GET","target":"/x","timestamp":1700000000,"extra":[1,2]}"#,
        )
        .unwrap();
        assert_eq!((e.ts, e.weight), (1_700_000_000 * S, 1.0));
        let ms =
            parse_jsonl(r#"{"actor":"a","action":"GET","target":"/x","timestamp":1700000000250}"#)
                .unwrap();
        assert_eq!(ms.ts, 1_700_000_000 * S + 250_000_000);
        assert_eq!(
            event_time("1700000000.25").unwrap(),
            1_700_000_000 * S + 250_000_000
        );
        assert_eq!(
            event_time("2023-11-14T22:13:20Z").unwrap(),
            1_700_000_000 * S
        );
        assert!(event_time("-1").is_err() && event_time("NaN").is_err());
        let full = parse_jsonl(
            r#"{"actor":"a\"b","action":"GET","target":"/x","timestamp":"2023-11-14T22:13:20Z","weight":2.5,"metadata":{"status":200,"ua":"curl"}}"#,
        )
        .unwrap();
        assert_eq!(full.actor, "a\"b");
        assert_eq!(full.ts, 1_700_000_000 * S);
        assert_eq!(full.weight, 2.5);
        assert_eq!(
            full.metadata,
            vec![
                ("status".into(), "200".into()),
                ("ua".into(), "curl".into())
            ]
        );
        for (bad, says) in [
            ("not json", "not a JSON object"),
            (
                r#"{"actor":"a","action":"GET","timestamp":1}"#,
                "missing field `target`",
            ),
            (
                r#"{"actor":"a","action":"GET","target":"/","timestamp":"noon"}"#,
                "RFC 3339",
            ),
            (
                r#"{"actor":"a","action":"GET","target":"/","timestamp":-5}"#,
                "not a time",
            ),
            (
                r#"{"actor":1,"action":"GET","target":"/","timestamp":1}"#,
                "invalid type",
            ),
            (
                r#"{"actor":"a","action":"GET","target":"/","timestamp":1"#,
                "not a JSON object",
            ),
        ] {
            let err = parse_jsonl(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn combined_lines_read_apache_and_nginx_and_common_format() {
        let line = r#"203.0.113.9 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?x=1 HTTP/1.0" 200 2326 "http://example.com/" "Mozilla/4.08 [en] (Win98)""#;
        let e = parse_combined(line, CombinedOptions::default()).unwrap();
        assert_eq!(
            (&*e.actor, &*e.action, &*e.target),
            ("203.0.113.9", "GET", "/apache_pb.gif?x=1")
        );
        assert_eq!(e.ts, 971_211_336 * S);
        assert_eq!(e.weight, 1.0);
        let opts = CombinedOptions {
            drop_query: true,
            weight_from_size: true,
        };
        let e = parse_combined(line, opts).unwrap();
        assert_eq!((&*e.target, e.weight), ("/apache_pb.gif", 2326.0));
        let common = r#"::1 - - [24/Nov/2026:10:00:00 +0000] "POST /api HTTP/2.0" 204 -"#;
        let e = parse_combined(common, opts).unwrap();
        assert_eq!((&*e.actor, &*e.action, e.weight), ("::1", "POST", 0.0));
        let escaped = r#"1.2.3.4 - - [24/Nov/2026:10:00:00 +0000] "GET /a\"b HTTP/1.1" 200 5"#;
        assert_eq!(parse_combined(escaped, opts).unwrap().target, r#"/a\"b"#);
        for (bad, says) in [
            ("garbage", "not an access-log line"),
            (
                r#"1.2.3.4 - - [24/Nov/2026:10:00:00] "GET / HTTP/1.1" 200 5"#,
                "is not like",
            ),
            (
                r#"1.2.3.4 - - [24/Foo/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5"#,
                "is not like",
            ),
            (
                r#"1.2.3.4 - - [24/Nov/2026:10:00:00 +0000] "-" 400 0"#,
                "not METHOD PATH",
            ),
            (
                r#"1.2.3.4 - - [24/Nov/2026:10:00:00 +0000] "\x16\x03\x01 x" 400 0"#,
                "no HTTP method",
            ),
            (
                r#"1.2.3.4 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" abc 5"#,
                "3-digit",
            ),
            (
                r#"1.2.3.4 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 lots"#,
                "number of bytes",
            ),
            (
                r#"1.2.3.4 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1"#,
                "not an access-log line",
            ),
        ] {
            let err = parse_combined(bad, opts).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
