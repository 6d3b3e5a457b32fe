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
//! A mask is the one byte `#`. The result is never longer than the line. It costs about a
//! nanosecond a byte of log text on the development machine (`probe.rs`:
//! `cargo test --release --bin pattern-guard -- --ignored --nocapture probe`).

/// The byte every masked word or number becomes.
const MASK: u8 = b'#';

/// Byte classes, one bit each, looked up in [`CLASS`].
const ALNUM: u8 = 1;
const DIGIT: u8 = 2;
const HEX: u8 = 4;
const BLANK: u8 = 8;

/// The class of every byte.
static CLASS: [u8; 256] = {
    let mut class = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        class[b] = if c.is_ascii_digit() {
            ALNUM | DIGIT | HEX
        } else if c.is_ascii_hexdigit() {
            ALNUM | HEX
        } else if c.is_ascii_alphabetic() {
            ALNUM
        } else if c == b' ' || c == b'\t' {
            BLANK
        } else {
            0
        };
        b += 1;
    }
    class
};

/// Writes `line`'s masked form into `out` (cleared first); `scratch` is a buffer to reuse.
///
/// Eight bytes at a time while they need nothing (no digit, tab or second space in a row: most
/// of any text), copied as they are. At the first byte that needs something, a number standing
/// alone (the common case) becomes its mask at once; anything else goes by [`token`]'s rules from
/// the start of the word or blank run the byte belongs to. The line is read from a copy with a
/// zero byte before it and eight after, so every block has a byte before it and the last one is
/// whole (zero is neither a word, a blank nor a digit: it changes no token). The tests check it
/// against [`scalar`], the same rules byte by byte.
pub fn normalize(line: &[u8], out: &mut Vec<u8>, scratch: &mut Vec<u8>) {
    scratch.clear();
    scratch.push(0);
    scratch.extend_from_slice(line);
    scratch.extend_from_slice(&[0; 8]);
    let s = &scratch[..];
    let end = line.len() + 1;
    out.clear();
    out.resize(line.len() + 8, 0);
    let (mut i, mut j) = (1, 0);
    while i < end {
        let x = load(s, i);
        let spaces = bytes_equal(x, b' ');
        let special =
            digits(x) | bytes_equal(x, b'\t') | (spaces & bytes_equal(load(s, i - 1), b' '));
        if special == 0 {
            out[j..j + 8].copy_from_slice(&x.to_le_bytes());
            i += 8;
            j += 8;
            continue;
        }
        let plain = (special.trailing_zeros() / 8) as usize;
        out[j..j + plain].copy_from_slice(&x.to_le_bytes()[..plain]);
        i += plain;
        j += plain;
        if let Some(after) = lone_number(s, i) {
            out[j] = MASK;
            j += 1;
            i = after;
            continue;
        }
        (i, j) = token_start(s, i, j);
        (i, j) = token(s, i, &mut out[..], j);
    }
    // The last block may have run into the padding, copied one for one.
    j -= i - end;
    while j > 0 && matches!(out[j - 1], b' ' | b'\r') {
        j -= 1;
    }
    out.truncate(j);
}

/// The eight bytes at `s[i..]`, as one number (little-endian: byte 0 lowest).
fn load(s: &[u8], i: usize) -> u64 {
    let mut block = [0u8; 8];
    block.copy_from_slice(&s[i..i + 8]);
    u64::from_le_bytes(block)
}

/// When a number standing alone (digits between non-word bytes) starts at `line[i]`, where it
/// ends.
fn lone_number(line: &[u8], i: usize) -> Option<usize> {
    let word = |k: usize| CLASS[usize::from(line[k])] & ALNUM != 0;
    if !line[i].is_ascii_digit() || word(i - 1) {
        return None;
    }
    let end = i + line[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    (end == line.len() || !word(end)).then_some(end)
}

/// Back from `line[i]` to the start of the word or blank run it is in: the bytes before it were
/// copied as they are, one for one, so `j` goes back as far.
fn token_start(line: &[u8], mut i: usize, mut j: usize) -> (usize, usize) {
    let class = CLASS[usize::from(line[i])] & (ALNUM | BLANK);
    while i > 0 && class != 0 && CLASS[usize::from(line[i - 1])] & class != 0 {
        i -= 1;
        j -= 1;
    }
    (i, j)
}

/// Bit 7 of each byte of `x` that is an ASCII digit.
fn digits(x: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let low = x & LOW7;
    // Per byte, without carries: bit 7 set when above '9', and when at least '0'.
    let above_nine = low + 0x4646_4646_4646_4646;
    let from_zero = low + 0x5050_5050_5050_5050;
    !above_nine & from_zero & !x & HIGH
}

/// Bit 7 of each byte of `x` that equals `b`.
fn bytes_equal(x: u64, b: u8) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let v = x ^ (u64::from(b) * 0x0101_0101_0101_0101);
    !(((v & LOW7) + LOW7) | v | LOW7)
}

/// The reference: byte by byte, one token at a time.
#[cfg(test)]
fn scalar(line: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.resize(line.len(), 0);
    let (mut i, mut j) = (0, 0);
    while i < line.len() {
        (i, j) = token(line, i, &mut out[..], j);
    }
    while j > 0 && matches!(out[j - 1], b' ' | b'\r') {
        j -= 1;
    }
    out.truncate(j);
}

/// Writes the token at `line[i..]` (a word, a blank run, or one other byte) masked at
/// `out[j..]`; returns where both go on.
fn token(line: &[u8], mut i: usize, out: &mut [u8], mut j: usize) -> (usize, usize) {
    let class = CLASS[usize::from(line[i])];
    if class & ALNUM != 0 {
        let (start, out_start) = (i, j);
        let (mut all, mut any) = (HEX, 0);
        while i < line.len() {
            let b = line[i];
            let c = CLASS[usize::from(b)];
            if c & ALNUM == 0 {
                break;
            }
            all &= c;
            any |= c;
            out[j] = b;
            j += 1;
            i += 1;
        }
        if any & DIGIT != 0 {
            let word = &line[start..i];
            let hex = all & HEX != 0
                || matches!(word, [b'0', b'x' | b'X', rest @ ..]
                    if !rest.is_empty() && rest.iter().all(u8::is_ascii_hexdigit));
            j = out_start;
            if hex {
                out[j] = MASK;
                j += 1;
            } else {
                j = mask_digits(word, out, j);
            }
        }
    } else if class & BLANK != 0 {
        while i < line.len() && CLASS[usize::from(line[i])] & BLANK != 0 {
            i += 1;
        }
        out[j] = b' ';
        j += 1;
    } else {
        out[j] = line[i];
        j += 1;
        i += 1;
    }
    (i, j)
}

/// Writes a word of letters and digits with each run of digits masked (`v2` -> `v#`, `250ms` ->
/// `#ms`) at `out[j..]`; returns the end.
fn mask_digits(word: &[u8], out: &mut [u8], mut j: usize) -> usize {
    let mut in_digits = false;
    for &b in word {
        if b.is_ascii_digit() {
            if !in_digits {
                out[j] = MASK;
                j += 1;
            }
            in_digits = true;
        } else {
            out[j] = b;
            j += 1;
            in_digits = false;
        }
    }
    j
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(line: &str) -> String {
        let mut out = Vec::new();
        normalize(line.as_bytes(), &mut out, &mut Vec::new());
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
        normalize(&[0xff, b'1', 0x00, b'2'], &mut out, &mut Vec::new());
        assert_eq!(out, [0xff, b'#', 0x00, b'#']);
    }

    #[test]
    fn the_swar_masks_find_exactly_their_bytes() {
        for b in 0..=255u8 {
            let x = u64::from_le_bytes([b, b'a', b, 0xff, b, b'5', 0x80, b]);
            let want = |pred: &dyn Fn(u8) -> bool| {
                x.to_le_bytes()
                    .iter()
                    .enumerate()
                    .filter(|(_, &c)| pred(c))
                    .fold(0u64, |m, (k, _)| m | 0x80 << (8 * k))
            };
            assert_eq!(digits(x), want(&|c| c.is_ascii_digit()), "{b:#x}");
            assert_eq!(bytes_equal(x, b' '), want(&|c| c == b' '), "{b:#x}");
            assert_eq!(bytes_equal(x, b'\t'), want(&|c| c == b'\t'), "{b:#x}");
        }
    }

    proptest::proptest! {
        #[test]
        fn eight_at_a_time_is_the_same_as_byte_by_byte(
            line in proptest::collection::vec(
                proptest::sample::select(b"aAfFxXzZ09 5  \t\r.-:/_#\xc3\xa9\xff\x00".to_vec()),
                0..80,
            )
        ) {
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            normalize(&line, &mut fast, &mut Vec::new());
            scalar(&line, &mut slow);
            proptest::prop_assert_eq!(fast, slow);
        }
    }
}
