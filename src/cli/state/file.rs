//! One actor's state file: the lock, and the load-check-save transaction on it.
//!
//! Load-check-save runs under an exclusive `flock` on `<name>.lock`, never held while the command
//! runs, so concurrent runs of one actor take turns and none loses another's event. A run saves
//! by appending one journal frame (its events, the actor's escalation, the running instances) in
//! a single `write`; every [`COMPACT_AFTER_RECORDS`] frames (or [`COMPACT_AFTER_BYTES`]) the file
//! is rewritten instead: temp file in the same directory, fsync, rename. A run killed during its
//! `write` may leave part of its frame; the next load reads that as a save that never happened
//! (the old state) and the next save rewrites the file. Files are opened with `O_NOFOLLOW` and
//! created 0600; files over [`MAX_STATE_BYTES`] are refused.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use pattern_guard::{journal, Guard};

use super::history::{StateError, Txn};
use super::instances::Instance;
use super::meta::Meta;
use super::recovery::{self, Notice};

/// The journal is folded into a fresh snapshot once it holds this many appended frames...
pub const COMPACT_AFTER_RECORDS: usize = 32;
/// ...or this many appended bytes.
pub const COMPACT_AFTER_BYTES: u64 = 64 * 1024;
/// Larger state files are refused (set aside).
pub const MAX_STATE_BYTES: u64 = 64 * 1024 * 1024;

/// The state of one actor: `<stem>.state` and its `<stem>.lock`.
pub struct ActorFile {
    path: PathBuf,
    lock_path: PathBuf,
    /// The actor whose history this is (empty when opened from a path, for reading only).
    actor: String,
}

/// What loading found.
struct Loaded {
    meta: Meta,
    notice: Option<Notice>,
    /// Frames appended after the snapshot, and their bytes; `None` when the next save must
    /// rewrite the file (none yet, set aside, or a damaged tail dropped).
    appended: Option<(usize, u64)>,
}

impl ActorFile {
    pub fn new(path: PathBuf, actor: &str) -> Self {
        ActorFile {
            lock_path: path.with_extension("lock"),
            path,
            actor: actor.to_string(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Locks, loads into `guard` and the running instances (dead ones dropped), runs `body`,
    /// saves both when `save`, unlocks. Returns anything to tell the user.
    pub fn transact(
        &self,
        guard: &Guard,
        save: bool,
        body: &mut dyn FnMut(&mut Txn<'_>),
    ) -> Result<Option<Notice>, StateError> {
        let _lock = self.lock(FlockArg::LockExclusive)?;
        let loaded = self.load_into(guard)?;
        let mut txn = Txn::new(guard, loaded.meta);
        txn.running.retain(Instance::alive);
        body(&mut txn);
        if save {
            let extra = txn.meta().encode();
            let compact = loaded.appended.is_none_or(|(frames, bytes)| {
                frames >= COMPACT_AFTER_RECORDS || bytes >= COMPACT_AFTER_BYTES
            });
            if compact {
                self.rewrite(&journal::encode(&guard.export(), &extra).map_err(|e| self.io(e))?)?;
            } else {
                let tail = guard.export_tail(&self.actor, txn.recorded());
                self.append(&journal::frame(&tail, &extra).map_err(|e| self.io(e))?)?;
            }
        }
        Ok(loaded.notice)
    }

    /// Loads under a shared lock, for reading only: the live running instances and the last
    /// configuration, or why the file cannot be used (it is left alone; the next run sets it aside).
    pub fn read(&self, guard: &Guard) -> Result<Result<Meta, String>, StateError> {
        let _lock = self.lock(FlockArg::LockShared)?;
        guard.reset_all();
        Ok(match self.read_file() {
            Ok(None) => Ok(Meta::default()),
            Ok(Some(bytes)) => load(&bytes, guard).map(|r| {
                let mut meta = r.meta;
                meta.running.retain(Instance::alive);
                meta
            }),
            Err(why) => Err(why),
        })
    }

    /// Deletes the state under the lock. True when there was one.
    pub fn remove(&self) -> Result<bool, StateError> {
        let _lock = self.lock(FlockArg::LockExclusive)?;
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(StateError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }

    fn io(&self, e: impl std::fmt::Display) -> StateError {
        StateError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(e.to_string()),
        }
    }

    fn lock(&self, arg: FlockArg) -> Result<Flock<File>, StateError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
            .open(&self.lock_path)
            .map_err(|source| {
                if source.raw_os_error() == Some(nix::libc::ELOOP) {
                    StateError::Refused {
                        path: self.lock_path.clone(),
                        why: "it is a symlink, which is never followed; remove it".into(),
                    }
                } else {
                    StateError::Io {
                        path: self.lock_path.clone(),
                        source,
                    }
                }
            })?;
        Flock::lock(file, arg).map_err(|(_, source)| StateError::Lock {
            path: self.lock_path.clone(),
            source,
        })
    }

    /// Restores the saved memory into `guard`; sets an unreadable file aside, keeps a copy of
    /// one whose tail is damaged.
    fn load_into(&self, guard: &Guard) -> Result<Loaded, StateError> {
        guard.reset_all();
        let bytes = match self.read_file() {
            Ok(None) => {
                return Ok(Loaded {
                    meta: Meta::default(),
                    notice: None,
                    appended: None,
                })
            }
            Ok(Some(bytes)) => bytes,
            Err(why) => return self.set_aside(guard, why),
        };
        match load(&bytes, guard) {
            Ok(Restored {
                appended,
                meta,
                damaged_tail: None,
                unfinished_tail,
            }) => {
                if let Some(bytes) = unfinished_tail {
                    // A run killed while saving: the state before its save stands. The next
                    // save rewrites the file, which drops the cut-short bytes.
                    tracing::info!(
                        path = %self.path.display(),
                        bytes,
                        "dropped an unfinished save (its run was killed while saving)"
                    );
                }
                Ok(Loaded {
                    meta,
                    notice: None,
                    appended: unfinished_tail.is_none().then_some(appended),
                })
            }
            Ok(Restored {
                meta,
                damaged_tail: Some((bytes, why)),
                ..
            }) => Ok(Loaded {
                meta,
                notice: Some(recovery::keep_damaged(&self.path, bytes, why)?),
                appended: None,
            }),
            Err(why) => self.set_aside(guard, why),
        }
    }

    fn set_aside(&self, guard: &Guard, why: String) -> Result<Loaded, StateError> {
        guard.reset_all();
        Ok(Loaded {
            meta: Meta::default(),
            notice: Some(recovery::set_aside(&self.path, why)?),
            appended: None,
        })
    }

    /// The file's bytes. `Ok(None)`: no state yet. `Err(why)`: a file that cannot be used.
    fn read_file(&self) -> Result<Option<Vec<u8>>, String> {
        let file = match OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
            .open(&self.path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) => {
                return Err("it is a symlink, which is never followed".into())
            }
            Err(e) => return Err(format!("cannot open it: {e}")),
        };
        let meta = file.metadata().map_err(|e| e.to_string())?;
        if !meta.is_file() {
            return Err("it is not a regular file".into());
        }
        if meta.len() > MAX_STATE_BYTES {
            return Err(format!("it is {} bytes, over the 64 MiB limit", meta.len()));
        }
        // One read of the known size; writers are locked out meanwhile.
        let mut bytes = vec![0; meta.len() as usize];
        (&file)
            .read_exact(&mut bytes)
            .map_err(|e| format!("cannot read it: {e}"))?;
        Ok(Some(bytes))
    }

    /// Appends one frame to the journal; under the lock nobody else writes.
    fn append(&self, frame: &[u8]) -> Result<(), StateError> {
        let io = |source| StateError::Io {
            path: self.path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .append(true)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
            .open(&self.path)
            .map_err(io)?;
        // One write. A run killed during it can leave part of the frame (the kernel stops between
        // pages); the next load reads that as an unfinished save and the next save rewrites it.
        file.write_all(frame).map_err(io)
    }

    /// Writes a fresh file: temp file, fsync, rename.
    fn rewrite(&self, bytes: &[u8]) -> Result<(), StateError> {
        let io = |source| StateError::Io {
            path: self.path.clone(),
            source,
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let prefix = format!(
            ".{}.tmp-",
            self.path
                .file_name()
                .map_or_else(Default::default, |n| n.to_string_lossy())
        );
        let tmp = dir.join(format!("{prefix}{}", std::process::id()));
        // Temp files of this state left by runs killed while compacting: only a holder of the
        // lock writes one, and we hold it, so their writers are gone.
        if let Ok(entries) = fs::read_dir(dir) {
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        let create = || {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
                .open(&tmp)
        };
        let mut file = create().map_err(io)?;
        let written = file.write_all(bytes).and_then(|()| file.sync_all());
        if let Err(e) = written.and_then(|()| fs::rename(&tmp, &self.path)) {
            let _ = fs::remove_file(&tmp);
            return Err(io(e));
        }
        // The file was synced before the rename, so a crash leaves the old or the new state; the
        // directory is not synced: that would only decide which of the two a crash leaves.
        Ok(())
    }
}

/// What a state file gave.
struct Restored {
    /// Frames appended after the snapshot, and their bytes.
    appended: (usize, u64),
    /// The running instances (dead ones not yet dropped) and the last run's configuration.
    meta: Meta,
    /// Bytes after the last good frame, and why they could not be used.
    damaged_tail: Option<(u64, String)>,
    /// Bytes of a last save cut short (its run was killed while writing it).
    unfinished_tail: Option<u64>,
}

/// Applies a state file's bytes to `guard`. `Err(why)`: nothing usable (the guard may hold part
/// of it: reset it).
fn load(bytes: &[u8], guard: &Guard) -> Result<Restored, String> {
    let applied = journal::decode(bytes)?.apply(guard)?;
    Ok(Restored {
        appended: applied.appended,
        meta: Meta::decode(&applied.extra)?,
        damaged_tail: applied.damaged_tail,
        unfinished_tail: applied.unfinished_tail,
    })
}
