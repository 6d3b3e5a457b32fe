//! A line of output as the loop detector sees it: the parts that change between turns of a loop
//! masked, so that `retry 17 in 250ms (req 9f86d081)` and `retry 18 in 500ms (req 3c2e1b7a)`
//! are one line.
//!
//! - A word (a run of ASCII letters and digits) made only of hex digits with at least one decimal
//!   digit is masked whole, and so is `0x` followed by hex digits: hashes, ids, addresses
//!   (`0x7ffd1234`), UUIDs group by group.
//!   Words of letters only (`deadbeef`, `cafe`) are words and stay.
//! - In any other word each run of decimal digits is masked: counters, durations (`250ms`),
//!   versions, and dates and times in any layout (`2026-11-26T00:21:13.5Z`, `12:00:01`).
//! - Runs of spaces and tabs read as one space; trailing spaces and carriage returns go.
//! - Other bytes (punctuation, UTF-8, binary) are kept as they are.
//!
//! A mask is the one byte `#`. The result is never longer than the line.

/// The byte every masked word or number becomes.
const MASK: u8 = b'#';

/// Writes `line`'s masked form into `out` (cleared first).
pub fn normalize(line: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut i = 0;
    while i < line.len() {
        let b = line[i];
        if b.is_ascii_alphanumeric() {
            let start = i;
            let (mut hex, mut digit) = (true, false);
            while i < line.len() && line[i].is_ascii_alphanumeric() {
                hex &= line[i].is_ascii_hexdigit();
                digit |= line[i].is_ascii_digit();
                i += 1;
            }
            let word = &line[start..i];
            // `0x` and hex digits: an address or a hex number.
            if let [b'0', b'x' | b'X', rest @ ..] = word {
                hex = !rest.is_empty() && rest.iter().all(u8::is_ascii_hexdigit);
            }
            if !digit {
                out.extend_from_slice(word);
            } else if hex {
                out.push(MASK);
            } else {
                mask_digits(word, out);
            }
        } else if b == b' ' || b == b'\t' {
            while i < line.len() && (line[i] == b' ' || line[i] == b'\t') {
                i += 1;
            }
            out.push(b' ');
        } else {
            out.push(b);
            i += 1;
        }
    }
    while matches!(out.last(), Some(b' ' | b'\r')) {
        out.pop();
    }
}

/// A word of letters and digits with each run of digits masked: `v2` -> `v#`, `250ms` -> `#ms`.
fn mask_digits(word: &[u8], out: &mut Vec<u8>) {
    let mut in_digits = false;
    for &b in word {
        if b.is_ascii_digit() {
            if !in_digits {
                out.push(MASK);
            }
            in_digits = true;
        } else {
            out.push(b);
            in_digits = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(line: &str) -> String {
        let mut out = Vec::new();
        normalize(line.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn turns_of_a_loop_read_as_one_line() {
        for (a, b) in [
            (
                "retry 17 in 250ms (req 9f86d081)",
                "retry 18 in 500ms (req 3c2e1b7a)",
            ),
            (
                "2026-11-26T00:21:13.512Z ERROR connection refused",
                "2026-11-26T00:21:14.007Z ERROR connection refused",
            ),
            (
                "Nov 26 00:21:13 host app[1234]: timeout",
                "Nov  6 10:01:03 host app[99]: timeout",
            ),
            (
                "job 550e8400-e29b-41d4-a716-446655440000 failed",
                "job 6ba7b810-9dad-11d1-80b4-00c04fd430c8 failed",
            ),
            ("ptr 0x7ffd1234 freed twice", "ptr 0x55aa0b2c freed twice"),
            ("took 1.5s\r", "took 12.25s"),
        ] {
            assert_eq!(norm(a), norm(b), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn different_messages_stay_different() {
        for (a, b) in [
            ("Compiling serde v1.0.228", "Compiling tokio v1.48.0"),
            ("/usr/lib/libfoo.so.6", "/usr/lib/libbar.so.6"),
            ("connection refused", "connection reset"),
            ("deadbeef", "cafebabe"),
            ("stdout", "stderr"),
        ] {
            assert_ne!(norm(a), norm(b), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn masks_are_as_documented() {
        assert_eq!(norm("x86_64 v2 250ms"), "x#_# v# #ms");
        assert_eq!(norm("sha 9f86d081884c7d65 ok"), "sha # ok");
        assert_eq!(norm("a\t\t b  "), "a b");
        assert_eq!(norm("héllo 42 wörld"), "héllo # wörld");
        assert_eq!(norm(""), "");
        let mut out = Vec::new();
        normalize(&[0xff, b'1', 0x00, b'2'], &mut out);
        assert_eq!(out, [0xff, b'#', 0x00, b'#']);
    }
}
