//! What a state file keeps beside the history (in each journal frame's extra bytes): the running
//! instances of the actor's job, and which configuration its last run or check used, so that
//! `status` can say when it is answering under another one.

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

/// Everything a state file keeps beside the engine's snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Runs of the actor's job still going (as saved: dead ones are dropped when loaded).
    pub running: Vec<Instance>,
    /// The configuration of the last run or check that saved; `None` in files written before it
    /// was kept.
    pub config: Option<ConfigId>,
}

impl Meta {
    /// As a journal frame's extra bytes (postcard: the instances, then the config).
    pub fn encode(&self) -> Vec<u8> {
        // Encoding strings and integers into a Vec cannot fail.
        postcard::to_stdvec(self).unwrap_or_default()
    }

    /// From a journal frame's extra bytes. Files written before the config was kept hold the
    /// instances alone, and read with no config.
    pub fn decode(extra: &[u8]) -> Result<Meta, String> {
        if let Ok(meta) = postcard::from_bytes::<Meta>(extra) {
            return Ok(meta);
        }
        postcard::from_bytes::<Vec<Instance>>(extra)
            .map(|running| Meta {
                running,
                config: None,
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
        };
        assert_eq!(Meta::decode(&meta.encode()).unwrap(), meta);
        assert_eq!(
            Meta::decode(&Meta::default().encode()).unwrap(),
            Meta::default()
        );
        // What earlier versions wrote: the instances alone.
        let older = postcard::to_stdvec(&meta.running).unwrap();
        let read = Meta::decode(&older).unwrap();
        assert_eq!((read.running, read.config), (meta.running, None));
        assert!(Meta::decode(&[5]).is_err());
    }
}
