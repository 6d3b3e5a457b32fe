//! Whether the store answers, and when to try it again after it did not.
//!
//! While the store is up every check calls it. After a failure (an error or no answer within
//! `timeout_ms`) it is down: checks decide without it (`on_error`) and do not call it, except
//! one probe at a time once the back-off has passed: 100 ms after the failure, then doubling up
//! to 5 s. The first probe that succeeds ends the outage. So an outage costs each check nothing
//! but the fallback, and the store is back in use within 5 s of it answering again.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The first wait before probing a store that failed.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between probes.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What a check should do about the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Call it.
    Call,
    /// Call it: it is down, and this call is the probe.
    Probe,
    /// Do not call it: it is down and not due for a probe (or another call is probing).
    Skip,
}

#[derive(Debug)]
struct State {
    down_since: Option<Instant>,
    next_probe: Instant,
    backoff: Duration,
    probing: bool,
}

/// The store's health, shared by every check of a process.
#[derive(Debug)]
pub struct Health {
    state: Mutex<State>,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            state: Mutex::new(State {
                down_since: None,
                next_probe: Instant::now(),
                backoff: FIRST_BACKOFF,
                probing: false,
            }),
        }
    }
}

impl Health {
    /// Whether (and how) this check calls the store.
    pub fn gate(&self) -> Gate {
        self.gate_at(Instant::now())
    }

    fn gate_at(&self, now: Instant) -> Gate {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if s.down_since.is_none() {
            return Gate::Call;
        }
        if s.probing || now < s.next_probe {
            return Gate::Skip;
        }
        s.probing = true;
        Gate::Probe
    }

    /// The store answered. `Some(outage)`: it had been down that long.
    pub fn ok(&self) -> Option<Duration> {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.probing = false;
        s.backoff = FIRST_BACKOFF;
        s.down_since.take().map(|since| since.elapsed())
    }

    /// The store failed. True when this starts an outage (say so once).
    pub fn failed(&self) -> bool {
        self.failed_at(Instant::now())
    }

    fn failed_at(&self, now: Instant) -> bool {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let started = s.down_since.is_none();
        if started {
            s.down_since = Some(now);
            s.backoff = FIRST_BACKOFF;
        } else if s.probing {
            s.backoff = (s.backoff * 2).min(MAX_BACKOFF);
        }
        s.probing = false;
        s.next_probe = now + s.backoff;
        started
    }

    /// Since when the store has been down, if it is.
    pub fn down_since(&self) -> Option<Instant> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .down_since
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_skips_calls_until_one_probe_and_recovery_is_reported() {
        let h = Health::default();
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        assert_eq!(h.gate_at(t0), Gate::Call);
        assert!(h.failed_at(t0), "the first failure starts an outage");
        assert!(!h.failed_at(t0), "later ones do not say so again");
        assert_eq!(
            h.gate_at(ms(99)),
            Gate::Skip,
            "within the back-off nothing calls"
        );
        assert_eq!(h.gate_at(ms(100)), Gate::Probe);
        assert_eq!(h.gate_at(ms(101)), Gate::Skip, "one probe at a time");
        assert!(!h.failed_at(ms(110)));
        assert_eq!(h.gate_at(ms(309)), Gate::Skip, "the back-off doubled");
        assert_eq!(h.gate_at(ms(310)), Gate::Probe);
        for _ in 0..10 {
            h.failed_at(ms(310));
            assert_eq!(
                h.gate_at(ms(310) + MAX_BACKOFF),
                Gate::Probe,
                "at most 5 s apart"
            );
        }
        assert!(h.ok().is_some(), "the outage's length is reported once");
        assert_eq!(h.gate_at(ms(400)), Gate::Call);
        assert!(h.ok().is_none());
    }
}
