//! JSON Lines: one event object per line (see the [module docs](super)).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::time::{rfc3339, unix_number};
use super::ParsedEvent;

/// A JSON Lines event; the reason when the line is not one.
pub fn parse_jsonl(line: &str) -> Result<ParsedEvent<'_>, String> {
    match super::flat_json::parse(line) {
        Some(event) => Ok(event),
        None => by_serde(line),
    }
}

/// [`parse_jsonl`] by serde: every line JSON allows, and the reasons for the rest.
fn by_serde(line: &str) -> Result<ParsedEvent<'_>, String> {
    let raw: RawEvent<'_> = serde_json::from_str(line).map_err(|e| {
        let mut why = e.to_string();
        if e.is_syntax() || e.is_eof() {
            why = format!("not a JSON object: {why}");
        }
        why
    })?;
    Ok(ParsedEvent {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::time::event_time;

    /// A JSON Lines line from random parts (`next(n)`: a number below `n`): fields present or
    /// not, repeated, in any order, valid or not, with white space, trailing text or cut short.
    fn random_line(next: &mut impl FnMut(usize) -> usize) -> String {
        let strings = [
            r#""ip:10.0.0.7""#,
            r#""GET""#,
            r#""/t/1?q=1""#,
            r#""a\"b""#,
            r#""tab\there""#,
            "\"ctl\u{1}\"",
            r#""é ü""#,
            r#""""#,
            r#""unterminated"#,
        ];
        let times = [
            r#""2026-11-24T00:00:00.002Z""#,
            r#""2026-11-24T10:00:00+01:00""#,
            r#""2026-11-24 10:00:00z""#,
            r#""noon""#,
            "1700000000",
            "1700000000250",
            "1700000000.25",
            "-5",
            "0",
            "-0",
            "01",
            "99999999999999999999",
            "1e9",
            "null",
            r#""1700000000""#,
        ];
        let weights = [
            "1", "0", "2.5", "-3", "null", "1e3", r#""2""#, "1500", "00", "-0",
        ];
        let others = [
            "true",
            "false",
            "null",
            "12",
            "-1",
            "3.25",
            r#""x""#,
            "[1,2]",
            r#"{"a":1}"#,
            "tru",
        ];
        let spaces = ["", " ", "\t", "  "];
        let mut fields: Vec<String> = Vec::new();
        for key in ["actor", "action", "target"] {
            if next(20) > 0 {
                let v = if next(4) == 0 {
                    strings[next(strings.len())]
                } else {
                    strings[next(3)]
                };
                fields.push(format!(r#""{key}":{v}"#));
            }
        }
        if next(20) > 0 {
            let t = if next(3) == 0 {
                times[next(times.len())]
            } else {
                times[0]
            };
            fields.push(format!(r#""timestamp":{t}"#));
        }
        if next(2) == 0 {
            fields.push(format!(r#""weight":{}"#, weights[next(weights.len())]));
        }
        if next(8) == 0 {
            fields.push(format!(r#""extra":{}"#, others[next(others.len())]));
        }
        if next(30) == 0 {
            fields.push(r#""metadata":{"status":200}"#.to_string());
        }
        if next(30) == 0 && !fields.is_empty() {
            let again = fields[next(fields.len())].clone();
            fields.push(again);
        }
        for i in (1..fields.len()).rev() {
            fields.swap(i, next(i + 1));
        }
        let sp = spaces[next(spaces.len())];
        let mut line = format!("{sp}{{{sp}{}{sp}}}{sp}", fields.join(&format!("{sp},{sp}")));
        if next(10) == 0 {
            line = line.replacen(':', &format!("{sp}:{sp}"), 1);
        }
        match next(40) {
            0 => line.push_str(" x"),
            1 => {
                let mut half = line.len() / 2;
                while !line.is_char_boundary(half) {
                    half -= 1;
                }
                line.truncate(half);
            }
            _ => {}
        }
        line
    }

    /// Lines of every kind, built from random parts: the fast reader (`flat_json.rs`) either
    /// leaves a line to serde or reads exactly what serde reads; and `parse_jsonl` as a whole,
    /// results and error messages, is serde's.
    #[test]
    fn flat_lines_read_by_hand_exactly_as_serde_reads_them() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        };
        let (mut fast, mut lines) = (0, 0);
        for _ in 0..200_000 {
            let line = random_line(&mut next);
            lines += 1;
            let serde = by_serde(&line);
            if let Some(event) = crate::input::flat_json::parse(&line) {
                fast += 1;
                assert_eq!(Ok(&event), serde.as_ref(), "{line}");
            }
            assert_eq!(parse_jsonl(&line), serde, "{line}");
        }
        assert!(fast > lines / 4, "{fast} of {lines} lines read by hand");
    }

    const S: u64 = 1_000_000_000;

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
}
