//! The combined and common access-log formats (see the [module docs](super)).

use std::borrow::Cow;

use super::time::{clf_time, digits};
use super::ParsedEvent;

/// How the combined format is read.
#[derive(Debug, Clone, Copy, Default)]
pub struct CombinedOptions {
    /// Drop the query string from the path (`/search?q=x` counts as `/search`).
    pub drop_query: bool,
    /// Weigh each request by its response size in bytes (`-` counts 0).
    pub weight_from_size: bool,
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
pub fn parse_combined(line: &str, opts: CombinedOptions) -> Result<ParsedEvent<'_>, String> {
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
    Ok(ParsedEvent {
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
