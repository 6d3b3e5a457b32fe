//! Clocks: where the guard reads "now".
//!
//! Engine time is each event's own timestamp; the clock is read only to cap timestamps that lie too
//! far in the future (see `future_tolerance_secs`) and to stamp events built with
//! [`Guard::event`](crate::Guard::event). Tests and replays inject a [`ManualClock`] and never sleep.

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time.
pub trait Clock: Send + Sync + Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to. Clones share one time.
///
/// ```
/// use pattern_guard::ManualClock;
/// use std::time::{Duration, UNIX_EPOCH};
/// let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
/// clock.advance(Duration::from_secs(5));
/// assert_eq!(clock.time(), UNIX_EPOCH + Duration::from_secs(1_700_000_005));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: SystemTime) -> Self {
        ManualClock {
            nanos: Arc::new(AtomicU64::new(to_nanos(start))),
        }
    }

    /// Moves the clock to `time` (backwards too).
    pub fn set(&self, time: SystemTime) {
        self.nanos.store(to_nanos(time), Ordering::SeqCst);
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_add(by))
            });
    }

    /// The time the clock stands at.
    pub fn time(&self) -> SystemTime {
        from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        self.time()
    }
}

/// Nanoseconds since the Unix epoch, clamped to `[0, u64::MAX]` (years 1970 to 2554).
pub(crate) fn to_nanos(t: SystemTime) -> u64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
        Err(_) => 0,
    }
}

pub(crate) fn from_nanos(n: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(n)
}

/// Seconds as nanoseconds, saturating.
pub(crate) fn secs_to_nanos(secs: f64) -> u64 {
    let n = (secs * 1e9).round();
    if n >= u64::MAX as f64 {
        u64::MAX
    } else if n > 0.0 {
        n as u64
    } else {
        0
    }
}
