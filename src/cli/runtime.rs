//! Runtime limits learned from a job's own history (`max_runtime = "auto"`, `--max-runtime
//! auto`): a backup that usually takes 3 minutes is stopped when it has run far past that,
//! instead of at a guessed `--max-runtime 20m`.
//!
//! Rules:
//! - The durations of the actor's last [`KEPT`] completed runs are kept with its history (a run
//!   the guard stopped is not a duration: it was cut short).
//! - With at least `runtime_min_runs` of them, the limit is `runtime_factor` times their 90th
//!   percentile (nearest rank), and never below `runtime_floor_secs`. An explicit
//!   `max_runtime_secs` / `--max-runtime DURATION` stays a ceiling.
//! - Before that there is no learned limit: the explicit one applies, if any.

use std::time::Duration;

/// Completed runs kept per actor.
pub const KEPT: usize = 20;

/// The `runtime_*` settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AutoRuntime {
    pub min_runs: usize,
    pub factor: f64,
    pub floor: Duration,
}

/// A limit learned from the recent durations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Learned {
    pub limit: Duration,
    /// Their 90th percentile.
    pub p90: Duration,
    /// Their median: the job's typical duration.
    pub typical: Duration,
    /// How many runs it was learned from.
    pub runs: usize,
}

impl Learned {
    /// Where the limit came from, for messages: `3 x p90 0.21s of the last 10 runs`.
    pub fn explain(&self, auto: &AutoRuntime) -> String {
        let floor = if self.limit == auto.floor && auto.floor > self.p90.mul_f64(auto.factor) {
            format!(", raised to runtime_floor_secs {}", secs(auto.floor))
        } else {
            String::new()
        };
        format!(
            "learned: {} x p90 {} of the last {} runs{floor}",
            auto.factor,
            secs(self.p90),
            self.runs
        )
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

/// The median of `durations` (milliseconds), when there are any.
pub fn typical(durations: &[u64]) -> Option<Duration> {
    rank(durations, 0.5)
}

/// The value at quantile `q` (nearest rank) of `durations` in milliseconds.
fn rank(durations: &[u64], q: f64) -> Option<Duration> {
    if durations.is_empty() {
        return None;
    }
    let mut sorted = durations.to_vec();
    sorted.sort_unstable();
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    Some(Duration::from_millis(sorted[i]))
}

/// The learned limit, once enough runs are known.
pub fn learned(durations: &[u64], auto: &AutoRuntime) -> Option<Learned> {
    if durations.len() < auto.min_runs.max(1) {
        return None;
    }
    let p90 = rank(durations, 0.9)?;
    Some(Learned {
        limit: p90.mul_f64(auto.factor).max(auto.floor),
        p90,
        typical: typical(durations)?,
        runs: durations.len(),
    })
}

/// Keeps a completed run's duration, the newest [`KEPT`].
pub fn keep(durations: &mut Vec<u64>, ran: Duration) {
    durations.push(u64::try_from(ran.as_millis()).unwrap_or(u64::MAX));
    let excess = durations.len().saturating_sub(KEPT);
    durations.drain(..excess);
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTO: AutoRuntime = AutoRuntime {
        min_runs: 5,
        factor: 3.0,
        floor: Duration::from_secs(1),
    };

    #[test]
    fn nothing_is_learned_before_enough_runs() {
        assert_eq!(learned(&[200, 210, 190, 205], &AUTO), None);
        let l = learned(&[200, 210, 190, 205, 220], &AUTO).unwrap();
        assert_eq!(l.p90, Duration::from_millis(220));
        assert_eq!(l.typical, Duration::from_millis(205));
        // 3 x 0.22 s is below the 1 s floor.
        assert_eq!(l.limit, Duration::from_secs(1));
        assert!(
            l.explain(&AUTO)
                .contains("raised to runtime_floor_secs 1.00s"),
            "{}",
            l.explain(&AUTO)
        );
    }

    #[test]
    fn the_limit_is_factor_times_the_90th_percentile() {
        let durations: Vec<u64> = (1..=10).map(|i| i * 1000).collect();
        let l = learned(&durations, &AUTO).unwrap();
        assert_eq!(l.p90, Duration::from_secs(9));
        assert_eq!(l.limit, Duration::from_secs(27));
        assert_eq!(
            l.explain(&AUTO),
            "learned: 3 x p90 9.00s of the last 10 runs"
        );
    }

    #[test]
    fn only_the_newest_runs_are_kept() {
        let mut d = Vec::new();
        for i in 0..30 {
            keep(&mut d, Duration::from_millis(i));
        }
        assert_eq!(d.len(), KEPT);
        assert_eq!(d[0], 10);
    }
}
