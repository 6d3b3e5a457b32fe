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
//!   "detectors": [{"detector": "burst", "observed": 6.0, "limit": 3.0, "risk": 1.0}]
//! }
//! ```

use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use serde_json::json;

use crate::Assessment;

/// The 429 for `a`, retry after `retry`.
pub fn too_many_requests(a: &Assessment, retry: Duration) -> Response<Bytes> {
    let secs = retry.as_secs() + u64::from(retry.subsec_nanos() > 0);
    let secs = secs.max(1);
    let fired = a.reasons();
    let detail = if fired.is_empty() {
        format!("too many requests (risk {:.2})", a.risk)
    } else {
        fired
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    };
    let body = json!({
        "type": "about:blank",
        "title": "Too Many Requests",
        "status": 429,
        "detail": detail,
        "retry_after_secs": secs,
        "risk": a.risk,
        "escalation_level": a.escalation_level,
        "detectors": fired.iter().map(|r| json!({
            "detector": r.detector.name(),
            "observed": r.observed,
            "limit": r.limit,
            "risk": r.risk,
        })).collect::<Vec<_>>(),
    });
    let mut response = Response::new(Bytes::from(body.to_string()));
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    response
}
