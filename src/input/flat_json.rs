//! The flat JSON Lines objects most logs write, read without serde: string fields without
//! escapes, integer numbers, `true`, `false`, `null`, in any order and spacing. It reads exactly
//! what [`parse_jsonl`](super::parse_jsonl)'s serde reader reads, or steps aside: anything else
//! (an escape, a nested value, a float, a duplicate field, `metadata`, an error of any kind)
//! returns `None` and serde reads the line, so its results and its error messages stay the
//! only ones. A test generates lines of every kind and checks the two agree.
//!
//! Why: replay spent about 1,500 instructions a line in serde's generic machinery for objects
//! of five short fields; this reads them in a few hundred.

use std::borrow::Cow;

use super::time::rfc3339;
use super::ParsedEvent;

/// The event on a flat line; `None`: leave the line to serde.
pub(super) fn parse(line: &str) -> Option<ParsedEvent<'_>> {
    let mut s = Scan { text: line, i: 0 };
    let mut actor = None;
    let mut action = None;
    let mut target = None;
    let mut ts = None;
    let mut weight: Option<Option<f64>> = None;
    s.space();
    s.eat(b'{')?;
    s.space();
    loop {
        let key = s.string()?;
        s.space();
        s.eat(b':')?;
        s.space();
        match key {
            "actor" => once(&mut actor, s.string()?)?,
            "action" => once(&mut action, s.string()?)?,
            "target" => once(&mut target, s.string()?)?,
            "timestamp" => {
                let t = if s.peek()? == b'"' {
                    rfc3339(s.string()?).ok()?
                } else {
                    epoch(s.integer()?)?
                };
                once(&mut ts, t)?;
            }
            "weight" => {
                let w = if s.peek()? == b'n' {
                    s.word("null")?;
                    None
                } else {
                    Some(match s.integer()? {
                        Integer::Unsigned(v) => v as f64,
                        Integer::Negative(v) => v as f64,
                    })
                };
                once(&mut weight, w)?;
            }
            "metadata" => return None,
            _ => s.skip_value()?,
        }
        s.space();
        match s.next()? {
            b',' => s.space(),
            b'}' => break,
            _ => return None,
        }
    }
    s.space();
    if s.i != line.len() {
        return None;
    }
    Some(ParsedEvent {
        actor: Cow::Borrowed(actor?),
        action: Cow::Borrowed(action?),
        target: Cow::Borrowed(target?),
        ts: ts?,
        weight: weight.flatten().unwrap_or(1.0),
        metadata: Vec::new(),
    })
}

/// Sets a field read once; a second time is serde's "duplicate field" error.
fn once<T>(field: &mut Option<T>, value: T) -> Option<()> {
    if field.is_some() {
        return None;
    }
    *field = Some(value);
    Some(())
}

/// A numeric timestamp as the serde reader takes a non-negative integer: seconds, or
/// milliseconds from 10^11 on.
fn epoch(n: Integer) -> Option<u64> {
    let Integer::Unsigned(v) = n else {
        return None;
    };
    let unit: u64 = if v >= 100_000_000_000 {
        1_000_000
    } else {
        1_000_000_000
    };
    v.checked_mul(unit)
}

#[derive(Clone, Copy)]
enum Integer {
    Unsigned(u64),
    Negative(i64),
}

struct Scan<'a> {
    text: &'a str,
    i: usize,
}

impl<'a> Scan<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.i += 1;
        Some(b)
    }

    fn eat(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    /// JSON's white space.
    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn word(&mut self, word: &str) -> Option<()> {
        let end = self.i + word.len();
        (self.bytes().get(self.i..end)? == word.as_bytes()).then(|| self.i = end)
    }

    /// A string without escapes or control characters, borrowed from the line.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        let end = start + special(&self.bytes()[start..])?;
        if self.bytes()[end] != b'"' {
            return None;
        }
        self.i = end + 1;
        // Both ends are ASCII quotes: char boundaries.
        Some(&self.text[start..end])
    }

    /// An integer in JSON's grammar (no leading zero), that fits serde's u64 or i64.
    fn integer(&mut self) -> Option<Integer> {
        let negative = self.peek()? == b'-';
        if negative {
            self.i += 1;
        }
        let start = self.i;
        let mut v: u64 = 0;
        while let Some(b @ b'0'..=b'9') = self.peek() {
            v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
            self.i += 1;
        }
        let digits = self.i - start;
        if digits == 0
            || (digits > 1 && self.bytes()[start] == b'0')
            || matches!(self.peek(), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        if negative {
            // serde reads -0 as 0 (an unsigned 0); leave that corner to it.
            let n = i64::try_from(v).ok()?;
            return (n != 0).then_some(Integer::Negative(-n));
        }
        Some(Integer::Unsigned(v))
    }

    /// A field this reader has no use for: a string, an integer, `true`, `false` or `null`.
    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'-' | b'0'..=b'9' => self.integer().map(drop),
            b't' => self.word("true"),
            b'f' => self.word("false"),
            b'n' => self.word("null"),
            _ => None,
        }
    }
}

/// Where the first byte that ends or interrupts a JSON string is: a quote, a backslash or a
/// control character (below 0x20). Eight bytes at a time: in a word, a byte equal to `c` is a
/// zero byte of `word ^ c*0x01..01`, and the lowest byte flagged by the zero-byte test is
/// exact (only bytes above a real match can be flagged falsely).
fn special(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut at = 0;
    while let Some(chunk) = s.get(at..at + 8) {
        let w = u64::from_le_bytes(chunk.try_into().ok()?);
        let flags = zero(w ^ (ONES * u64::from(b'"')))
            | zero(w ^ (ONES * u64::from(b'\\')))
            | (w.wrapping_sub(ONES * 0x20) & !w & HIGH);
        if flags != 0 {
            return Some(at + flags.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    s[at..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|p| at + p)
}

#[cfg(test)]
mod tests {
    use super::special;

    /// Eight bytes at a time finds what a byte-by-byte search finds, wherever it sits.
    #[test]
    fn special_finds_the_first_quote_backslash_or_control_byte() {
        let plain = |s: &[u8]| s.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
        let mut x: u64 = 0x1234_5678_9abc_def1;
        for len in 0..40 {
            for _ in 0..2_000 {
                let mut s: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        // Mostly ordinary text and UTF-8 bytes, now and then a special one.
                        match x % 64 {
                            0 => b'"',
                            1 => b'\\',
                            2 => (x >> 8) as u8 % 0x20,
                            3..=20 => 0x80 | (x >> 8) as u8,
                            _ => 0x20 + (x >> 8) as u8 % 0x5f,
                        }
                    })
                    .collect();
                assert_eq!(special(&s), plain(&s), "{s:?}");
                s.push(b'"');
                assert_eq!(special(&s), plain(&s), "{s:?}");
            }
        }
    }
}
