//! The signals pattern-guard forwards to its command (INT, TERM, HUP, QUIT), and waiting that a
//! signal cuts short: a delay, the pause between `--repeat` runs, a wait for an overlap slot.
//!
//! Signals are listened for from before the command starts, so one that arrives while the
//! command is being spawned is not lost.

use std::time::Duration;

use indicatif::ProgressBar;
use nix::sys::signal::Signal;
use tokio::signal::unix::{signal, SignalKind};
use tokio::time::Instant;
use tokio_stream::wrappers::SignalStream;
use tokio_stream::{StreamExt, StreamMap};

use super::output::human;

/// The forwarded signals, as one stream.
pub struct Signals {
    streams: StreamMap<Signal, SignalStream>,
}

impl Signals {
    pub fn install() -> std::io::Result<Signals> {
        let mut streams = StreamMap::new();
        for (sig, kind) in [
            (Signal::SIGINT, SignalKind::interrupt()),
            (Signal::SIGTERM, SignalKind::terminate()),
            (Signal::SIGHUP, SignalKind::hangup()),
            (Signal::SIGQUIT, SignalKind::quit()),
        ] {
            streams.insert(sig, SignalStream::new(signal(kind)?));
        }
        Ok(Signals { streams })
    }

    /// The next signal received.
    pub async fn recv(&mut self) -> Signal {
        match self.streams.next().await {
            Some((sig, ())) => sig,
            // The streams never end while the runtime runs; if they did, nothing more can come.
            None => std::future::pending().await,
        }
    }
}

/// Waits `duration`, or until a signal arrives (returned).
pub async fn wait_or_signal(duration: Duration, signals: &mut Signals) -> Option<Signal> {
    tokio::select! {
        () = tokio::time::sleep(duration) => None,
        sig = signals.recv() => Some(sig),
    }
}

/// Waits `duration` like [`wait_or_signal`], updating `bar` (when there is one) every 100 ms
/// with the time left: `show(bar, elapsed, left)`. The bar is cleared after.
pub async fn wait_showing(
    duration: Duration,
    bar: Option<ProgressBar>,
    show: impl Fn(&ProgressBar, Duration, Duration),
    signals: &mut Signals,
) -> Option<Signal> {
    let Some(bar) = bar else {
        return wait_or_signal(duration, signals).await;
    };
    let end = Instant::now() + duration;
    let outcome = loop {
        let now = Instant::now();
        if now >= end {
            break None;
        }
        let left = end - now;
        show(&bar, duration.saturating_sub(left), left);
        if let Some(sig) = wait_or_signal(left.min(Duration::from_millis(100)), signals).await {
            break Some(sig);
        }
    };
    bar.finish_and_clear();
    outcome
}

/// A delay's countdown: `pattern-guard: waiting [bar] 4s left`.
pub const COUNTDOWN: &str = "pattern-guard: waiting {bar:30} {msg} left";

/// Shows a countdown's progress and time left.
pub fn show_countdown(bar: &ProgressBar, elapsed: Duration, left: Duration) {
    bar.set_position(elapsed.as_millis() as u64);
    bar.set_message(human(left));
}
