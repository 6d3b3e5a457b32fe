//! Logging through tracing. In its own test binary: tracing caches per-callsite interest
//! process-wide, and a test on another thread hitting the callsite first without a subscriber
//! would race this test's scoped subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use pattern_guard::{Guard, ManualClock};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn warn_delay_and_block_are_logged_at_info_with_reasons() {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/guard.toml.demo");
    let guard = Guard::from_config_path(path)
        .unwrap()
        .with_clock(clock.clone());
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..6 {
            clock.advance(Duration::from_secs(1));
            let t = format!("/{i}");
            guard.check(&guard.event("cli", "run", t.as_str()));
        }
    });
    let log = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 3, "allows are silent:\n{log}");
    assert!(
        lines[0].contains("INFO") && lines[0].contains("decision=warn"),
        "{log}"
    );
    assert!(lines[1].contains("decision=delay 1.000s"), "{log}");
    assert!(lines[2].contains("decision=block"), "{log}");
    assert!(
        lines[2].contains("burst: 6 events in the window (max 3)"),
        "{log}"
    );
    assert!(lines[2].contains("actor=\"cli\""), "{log}");
}
