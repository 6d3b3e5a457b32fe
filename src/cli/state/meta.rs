//! What a state file keeps beside the history (in each journal frame's extra bytes): the running
//! instances of the actor's job, which configuration its last run or check used (so that
//! `status` can say when it is answering under another one), and the last time the guard stopped
//! one of its runs (past its runtime, or looping), for `status` to report.

use serde::{Deserialize, Serialize};

use super::instances::Instance;

/// Which configuration a run used: where it came from, and a hash of its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigId {
    /// Its full path, or `built-in defaults`.
    pub source: String,
    /// xxh3 of the file's text (0 for the built-in defaults).
    pub hash: u64,
}

/// The last run of an actor's job that the guard stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastStop {
    /// When it was stopped, in nanoseconds since the Unix epoch.
    pub at_ns: u64,
    /// `runtime` (past its maximum runtime) or `looped` (its output looped).
    pub why: String,
    /// What was said when it was stopped: `looped: "connection refused" 370 times in 1m on stderr`.
    pub message: String,
    /// The exit reported: 124 (SIGTERM sufficed) or 137 (SIGKILL was needed).
    pub exit: u8,
}

/// Everything a state file keeps beside the engine's snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Runs of the actor's job still going (as saved: dead ones are dropped when loaded).
    pub running: Vec<Instance>,
    /// The configuration of the last run or check that saved; `None` in files written before it
    /// was kept.
    pub config: Option<ConfigId>,
    /// The last run the guard stopped; `None` when none was, or in files written before it was
    /// kept.
    pub last_stop: Option<LastStop>,
    /// The decisions of the actor's runs still in its window: (when, in nanoseconds since the
    /// Unix epoch; 0 allow, 1 warn, 2 delay, 3 block), oldest first, at most [`MAX_DECISIONS`];
    /// for `--metrics-file`. Empty in files written before they were kept.
    pub decisions: Vec<(u64, u8)>,
    /// The durations of the actor's last completed runs, in milliseconds, oldest first, at most
    /// `runtime::KEPT` (`max_runtime = "auto"`). Empty in files written before they were kept.
    pub durations: Vec<u64>,
}

/// The most run decisions kept beside a history.
pub const MAX_DECISIONS: usize = 1000;

/// The layout before the run durations were kept.
#[derive(Deserialize)]
struct MetaWithoutDurations {
    running: Vec<Instance>,
    config: Option<ConfigId>,
    last_stop: Option<LastStop>,
    decisions: Vec<(u64, u8)>,
}

/// The layout before the run decisions were kept.
#[derive(Deserialize)]
struct MetaWithoutDecisions {
    running: Vec<Instance>,
    config: Option<ConfigId>,
    last_stop: Option<LastStop>,
}

/// The layout before the last stop was kept.
#[derive(Deserialize)]
struct MetaWithoutStop {
    running: Vec<Instance>,
    config: Option<ConfigId>,
}

/// A value as a shared store's note (postcard).
pub fn note<T: Serialize>(value: &T) -> Vec<u8> {
    // Encoding strings and integers into a Vec cannot fail.
    postcard::to_stdvec(value).unwrap_or_default()
}

/// A note back; `None` when absent or unreadable (written by another version).
pub fn from_note<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Option<T> {
    if bytes.is_empty() {
        return None;
    }
    postcard::from_bytes(bytes).ok()
}

impl Meta {
    /// As a journal frame's extra bytes (postcard: the instances, the config, the last stop).
    pub fn encode(&self) -> Vec<u8> {
        // Encoding strings and integers into a Vec cannot fail.
        postcard::to_stdvec(self).unwrap_or_default()
    }

    /// From a journal frame's extra bytes. Older files hold a prefix of today's layout (the
    /// instances alone, or the instances and the config) and read with the rest unset.
    pub fn decode(extra: &[u8]) -> Result<Meta, String> {
        if let Ok(meta) = postcard::from_bytes::<Meta>(extra) {
            return Ok(meta);
        }
        if let Ok(old) = postcard::from_bytes::<MetaWithoutDurations>(extra) {
            return Ok(Meta {
                running: old.running,
                config: old.config,
                last_stop: old.last_stop,
                decisions: old.decisions,
                durations: Vec::new(),
            });
        }
        if let Ok(old) = postcard::from_bytes::<MetaWithoutDecisions>(extra) {
            return Ok(Meta {
                running: old.running,
                config: old.config,
                last_stop: old.last_stop,
                ..Meta::default()
            });
        }
        if let Ok(old) = postcard::from_bytes::<MetaWithoutStop>(extra) {
            return Ok(Meta {
                running: old.running,
                config: old.config,
                ..Meta::default()
            });
        }
        postcard::from_bytes::<Vec<Instance>>(extra)
            .map(|running| Meta {
                running,
                ..Meta::default()
            })
            .map_err(|e| format!("its running instances cannot be read: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trips_reads_the_older_layout_and_refuses_garbage() {
        let meta = Meta {
            running: vec![
                Instance::me(),
                Instance {
                    pid: 7,
                    start_ticks: 0,
                    since_ns: 1,
                },
            ],
            config: Some(ConfigId {
                source: "/etc/guard.toml".into(),
                hash: 42,
            }),
            last_stop: Some(LastStop {
                at_ns: 1_800_000_000_000_000_000,
                why: "looped".into(),
                message: "looped: \"y\" 370 times in 1m on stdout".into(),
                exit: 124,
            }),
            decisions: vec![
                (1_800_000_000_000_000_000, 0),
                (1_800_000_001_000_000_000, 3),
            ],
            durations: vec![200, 210, 190],
        };
        assert_eq!(Meta::decode(&meta.encode()).unwrap(), meta);
        // The layout before the durations: the rest read, no durations.
        let older = postcard::to_stdvec(&(
            &meta.running,
            &meta.config,
            &meta.last_stop,
            &meta.decisions,
        ))
        .unwrap();
        let read = Meta::decode(&older).unwrap();
        assert_eq!(
            (read.decisions, read.durations),
            (meta.decisions.clone(), Vec::new())
        );
        // The layout before the decisions: the rest read, no decisions.
        let older = postcard::to_stdvec(&(&meta.running, &meta.config, &meta.last_stop)).unwrap();
        let read = Meta::decode(&older).unwrap();
        assert_eq!(
            (read.last_stop, read.decisions),
            (meta.last_stop.clone(), Vec::new())
        );
        assert_eq!(
            Meta::decode(&Meta::default().encode()).unwrap(),
            Meta::default()
        );
        // What earlier versions wrote: the instances and the config; the instances alone.
        let older = postcard::to_stdvec(&(&meta.running, &meta.config)).unwrap();
        let read = Meta::decode(&older).unwrap();
        assert_eq!(
            (read.running, read.config, read.last_stop),
            (meta.running.clone(), meta.config.clone(), None)
        );
        let older = postcard::to_stdvec(&meta.running).unwrap();
        let read = Meta::decode(&older).unwrap();
        assert_eq!((read.running, read.config), (meta.running, None));
        assert!(Meta::decode(&[5]).is_err());
    }
}
