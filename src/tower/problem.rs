//! The answer to a refused request: `429 Too Many Requests`, `Retry-After` in whole seconds
//! (rounded up, at least 1), and an RFC 9457 problem document:
//!
//! ```json
//! {
//!   "type": "about:blank",
//!   "title": "Too Many Requests",
//!   "status": 429,
//!   "detail": "burst: 6 events in the window (max 3), risk 1.00",
//!   "retry_after_secs": 12,
//!   "risk": 1.0,
//!   "escalation_level": 0,
//!   "detectors": [{"detector": "burst", "observed": 6.0, "limit": 3.0, "risk": 1.0}]
//! }
//! ```

use std::cell::RefCell;
use std::fmt::Write as _;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use serde::Serialize;

use crate::{Assessment, Reading};

/// What a refusal's document is made of: equal inputs, equal bytes.
#[derive(PartialEq)]
struct Inputs {
    retry_after_secs: u64,
    risk: f64,
    escalation_level: u8,
    readings: Vec<Reading>,
}

thread_local! {
    /// The last refusal built on this thread. A flood from one client at its window's cap is
    /// refused with the same document again and again, and formatting it (the detail's
    /// sentences, the JSON) was most of what a refusal cost: an equal assessment takes the same
    /// bytes and `Retry-After` and `Content-Length` values (reference counts) instead.
    static LAST: RefCell<Option<(Inputs, Cached)>> = const { RefCell::new(None) };
}

/// A refusal's body and the values of its `Retry-After` and `Content-Length` headers.
#[derive(Clone)]
struct Cached {
    body: Bytes,
    retry: HeaderValue,
    length: HeaderValue,
}

/// The problem document, serialized straight from borrowed fields: a refusal is the answer a
/// flood gets, so it is built with a few allocations (the readings, the detail, the body) and no
/// intermediate JSON tree.
#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    status: u16,
    detail: &'a str,
    retry_after_secs: u64,
    risk: f64,
    escalation_level: u8,
    detectors: Vec<Fired>,
}

/// One detector that fired, as the document names it.
#[derive(Serialize)]
struct Fired {
    detector: &'static str,
    observed: f64,
    limit: f64,
    risk: f64,
}

/// The 429 for `a`, retry after `retry`.
pub fn too_many_requests(a: &Assessment, retry: Duration) -> Response<Bytes> {
    let secs = retry.as_secs() + u64::from(retry.subsec_nanos() > 0);
    let secs = secs.max(1);
    let same = |i: &Inputs| {
        i.retry_after_secs == secs
            && i.risk.to_bits() == a.risk.to_bits()
            && i.escalation_level == a.escalation_level
            && i.readings == a.readings
    };
    let cached = LAST.with_borrow(|last| {
        last.as_ref()
            .filter(|(inputs, _)| same(inputs))
            .map(|(_, cached)| cached.clone())
    });
    let Cached {
        body,
        retry,
        length,
    } = cached.unwrap_or_else(|| {
        let body = document(a, secs);
        let cached = Cached {
            length: HeaderValue::from(body.len()),
            body,
            retry: HeaderValue::from(secs),
        };
        let inputs = Inputs {
            retry_after_secs: secs,
            risk: a.risk,
            escalation_level: a.escalation_level,
            readings: a.readings.clone(),
        };
        LAST.set(Some((inputs, cached.clone())));
        cached
    });
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    let headers = response.headers_mut();
    // Room for all three at once: a server adds `Content-Length` when it is missing, formatting
    // the number and growing the map, on every refusal.
    headers.reserve(3);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    headers.insert(header::RETRY_AFTER, retry);
    headers.insert(header::CONTENT_LENGTH, length);
    response
}

/// The problem document for `a`, retry after `secs`.
fn document(a: &Assessment, secs: u64) -> Bytes {
    let fired = a.reasons();
    let mut detail = String::with_capacity(64 * fired.len().max(1));
    if fired.is_empty() {
        let _ = write!(detail, "too many requests (risk {:.2})", a.risk);
    }
    for (i, r) in fired.iter().enumerate() {
        let _ = write!(detail, "{}{r}", if i == 0 { "" } else { "; " });
    }
    let problem = Problem {
        kind: "about:blank",
        title: "Too Many Requests",
        status: 429,
        detail: &detail,
        retry_after_secs: secs,
        risk: a.risk,
        escalation_level: a.escalation_level,
        detectors: fired
            .iter()
            .map(|r| Fired {
                detector: r.detector.name(),
                observed: r.observed,
                limit: r.limit,
                risk: r.risk,
            })
            .collect(),
    };
    let mut body = Vec::with_capacity(256 + detail.len() + 96 * fired.len());
    // Cannot fail: writing to a Vec never does, and serde_json writes a non-finite float as null.
    serde_json::to_writer(&mut body, &problem).expect("a problem document serializes");
    Bytes::from(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Event, Guard, ManualClock};
    use std::time::UNIX_EPOCH;

    fn body(a: &Assessment) -> serde_json::Value {
        let response = too_many_requests(a, Duration::from_millis(2_500));
        assert_eq!(response.headers()[header::RETRY_AFTER], "3");
        document_of(&response)
    }

    /// The response's document, after checking its `Content-Length` is the body's.
    fn document_of(response: &Response<Bytes>) -> serde_json::Value {
        let length = &response.headers()[header::CONTENT_LENGTH];
        assert_eq!(length, &response.body().len().to_string());
        serde_json::from_slice(response.body()).unwrap()
    }

    /// The document reused for an equal assessment is the one built for it; any change in what
    /// the document says builds a new one.
    #[test]
    fn a_repeated_refusal_reads_as_its_own_assessment() {
        let mut config = Config::default();
        config.guard.burst_max_events = 3;
        config.guard.max_events_per_actor = Some(6);
        let at = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let guard = Guard::from_config(config)
            .unwrap()
            .with_clock(ManualClock::new(at));
        let mut seen = Vec::new();
        for _ in 0..12 {
            let a = guard.assess(&Event::new("bot", "GET", "/", at));
            let doc = body(&a);
            assert_eq!(doc, body(&a), "the same assessment twice");
            let burst = &doc["detectors"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["detector"] == "burst");
            let observed = burst.map(|d| d["observed"].as_f64().unwrap());
            let want = a
                .readings
                .iter()
                .find(|r| r.risk > 0.0 && r.detector.name() == "burst");
            assert_eq!(observed, want.map(|r| r.observed), "{doc}");
            assert_eq!(doc["escalation_level"], a.escalation_level);
            seen.push(doc);
        }
        // The window fills to its cap of 6: the documents change while it does, then repeat.
        assert_ne!(seen[4], seen[5]);
        assert_eq!(seen[10], seen[11]);
        // An earlier document again, after others: built for it, not the last one's.
        let mut other = Config::default();
        other.guard.burst_max_events = 3;
        let fresh = Guard::from_config(other)
            .unwrap()
            .with_clock(ManualClock::new(at));
        let first = (0..5)
            .map(|_| fresh.assess(&Event::new("bot", "GET", "/", at)))
            .last()
            .unwrap();
        assert_eq!(body(&first), seen[4]);

        // The same assessment retried after another time: its own header and document.
        for (ms, secs) in [(2_500, 3), (10_000, 10), (10_000, 10), (2_500, 3), (1, 1)] {
            let response = too_many_requests(&first, Duration::from_millis(ms));
            assert_eq!(response.headers()[header::RETRY_AFTER], secs.to_string());
            let doc = document_of(&response);
            assert_eq!(doc["retry_after_secs"], secs, "{doc}");
        }
    }
}
