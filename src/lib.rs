//! # pattern-guard
//!
//! A behaviour anomaly guard: is this behaviour normal right now?
//!
//! Feed it [`Event`]s (actor, action, target, timestamp, optional weight and metadata). It keeps
//! short-lived memory per actor in a sliding window, runs its detectors (burst, repetition,
//! fixed-interval pacing, machine regularity, target hopping and switching, weighted overuse),
//! combines them into a risk from 0.0 to 1.0 and recommends a [`Decision`]: allow, warn,
//! delay or block, escalating for actors that keep misbehaving. It never enforces: the caller acts.
//!
//! ```
//! use pattern_guard::{Decision, Event, Guard, ManualClock};
//! use std::time::{Duration, UNIX_EPOCH};
//!
//! let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
//! let guard = Guard::from_toml_str("[guard]\nburst_max_events = 3\n")?.with_clock(clock.clone());
//!
//! let mut decisions = Vec::new();
//! for _ in 0..6 {
//!     clock.advance(Duration::from_secs(1));
//!     let event = Event::new("user:123", "GET", "/api/foo", clock.time());
//!     decisions.push(guard.check(&event).name());
//! }
//! assert_eq!(decisions, ["allow", "allow", "allow", "warn", "delay", "block"]);
//!
//! // Why? One call returns every detector's figures, the risk and when to retry.
//! let assessment = guard.assess(&guard.event("user:123", "GET", "/api/foo"));
//! assert_eq!(assessment.decision, Decision::Block);
//! assert!(assessment.retry_after.is_some());
//! println!("{assessment}"); // block (risk 1.00, ...): burst: 7 events in the window (max 3), risk 1.00
//! # Ok::<(), pattern_guard::Error>(())
//! ```
//!
//! The seed API works as documented: [`Guard::from_config_path`], [`Event::new`],
//! [`Event::with_weight`], [`Event::with_metadata`], [`Guard::check`], [`Guard::check_with_risk`].
//! Beyond it: [`Guard::from_toml_str`], [`Guard::from_config`], [`Guard::new`] (defaults),
//! [`Guard::assess`] (full explanation), [`Guard::with_clock`] (injectable time),
//! [`Guard::export`] / [`Guard::restore`] (persist the memory), [`Guard::status`],
//! [`Guard::reset`].
//!
//! Behind features: `input` (events from logs), `journal` (the crash-safe state file), `tower`
//! (the HTTP layer) and `redis` (`shared`: one guard across processes and
//! hosts, its history on Redis; docs/STORE.md).
//!
//! Modules, one concern each: [`config`] (schema, defaults, validation), `event`, `window` (one
//! actor's sliding window and running figures), `detectors` (figures to risks), `escalation`,
//! `decision`, `store` (sharded actors, expiry, caps), `guard` (the pipeline), `snapshot`.
//! `docs/ENGINE.md` describes the algorithms, bounds and approximations; `docs/CONFIG.md` every key.

#![forbid(unsafe_code)]

mod baseline;
mod check;
pub mod clock;
pub mod config;
mod decision;
mod detectors;
mod divisor;
mod error;
mod escalation;
mod event;
mod guard;
mod hash;
#[cfg(feature = "input")]
pub mod input;
#[cfg(feature = "journal")]
pub mod journal;
#[cfg(feature = "metrics")]
pub mod metrics;
mod policy;
#[cfg(feature = "redis")]
pub mod shared;
mod snapshot;
mod store;
#[cfg(feature = "tower")]
pub mod tower;
mod window;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    Cidr, Combine, Config, HttpKey, HttpSettings, KeyDoc, MaxRuntime, OnError, OnOverlap,
    OutputDefault, Overrides, Settings, StoreSettings, UnknownKey, KEYS, OUTPUT_DEFAULTS,
};
pub use decision::{Assessment, Decision};
pub use detectors::{Detector, Learned, Reading};
pub use error::{ConfigError, Error};
pub use event::Event;
pub use guard::{ActorStatus, Guard, LearnedRate, Stats};
pub use hash::{MAX_ACTOR_BYTES, MAX_EVENT_WEIGHT};
pub use snapshot::{Snapshot, SNAPSHOT_FORMAT};

#[cfg(test)]
mod tests {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn guard_is_send_and_sync() {
        assert_send_sync::<crate::Guard>();
    }
}
