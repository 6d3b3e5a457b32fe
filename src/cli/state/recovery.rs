//! Recovery from state files that cannot be used: they are never deleted, only set aside as
//! `<name>.state.bad-<time>` for inspection, and the user hears of it in one line.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::history::StateError;

/// Something about the state file the user should hear of, in one line.
#[derive(Debug)]
pub enum Notice {
    /// The file could not be used at all: renamed aside, history started afresh.
    SetAside {
        path: PathBuf,
        kept_as: PathBuf,
        why: String,
    },
    /// The file's last records were damaged (all their bytes there, some wrong: a disk fault):
    /// they were dropped and the rest kept; the damaged file was kept for inspection too. (A last
    /// record cut short is a save that never finished, not damage: no notice.)
    DroppedTail {
        path: PathBuf,
        kept_as: PathBuf,
        bytes: u64,
        why: String,
    },
    /// The shared store did not answer; the decision was made as `on_error` says.
    StoreOut {
        store: String,
        why: String,
        /// What decided instead.
        instead: String,
    },
    /// The shared store answers again after an outage (`--repeat`).
    StoreBack { store: String, outage: Duration },
}

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Notice::SetAside { path, kept_as, why } => write!(
                f,
                "state file {} was unreadable ({why}); kept it as {} and started a fresh history",
                path.display(),
                kept_as.display()
            ),
            Notice::DroppedTail {
                path,
                kept_as,
                bytes,
                why,
            } => write!(
                f,
                "state file {}: its last {bytes} bytes were damaged ({why}); kept it as {} and \
                 went on with the history before them",
                path.display(),
                kept_as.display()
            ),
            Notice::StoreOut {
                store,
                why,
                instead,
            } => write!(f, "store {store} not answering ({why}): {instead}"),
            Notice::StoreBack { store, outage } => write!(
                f,
                "store {store} answering again after {:.1} s",
                outage.as_secs_f64()
            ),
        }
    }
}

/// Renames an unusable file aside.
pub fn set_aside(path: &Path, why: String) -> Result<Notice, StateError> {
    let kept_as = bad_name(path);
    fs::rename(path, &kept_as).map_err(|source| StateError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Notice::SetAside {
        path: path.to_path_buf(),
        kept_as,
        why,
    })
}

/// Keeps a copy of a file whose tail is damaged (a second name for it: the next save renames a
/// fresh file over this one).
pub fn keep_damaged(path: &Path, bytes: u64, why: String) -> Result<Notice, StateError> {
    let kept_as = bad_name(path);
    fs::hard_link(path, &kept_as)
        .or_else(|_| fs::copy(path, &kept_as).map(drop))
        .map_err(|source| StateError::Io {
            path: kept_as.clone(),
            source,
        })?;
    Ok(Notice::DroppedTail {
        path: path.to_path_buf(),
        kept_as,
        bytes,
        why,
    })
}

/// Where an unusable file is kept for inspection: `<name>.state.bad-<unix time>`, with a
/// counter when that is taken.
fn bad_name(path: &Path) -> PathBuf {
    let stamp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut name = path.with_extension(format!("state.bad-{stamp}"));
    let mut n = 1;
    while fs::symlink_metadata(&name).is_ok() {
        n += 1;
        name = path.with_extension(format!("state.bad-{stamp}-{n}"));
    }
    name
}
