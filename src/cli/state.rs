//! History between invocations: one state file per actor.
//!
//! # Where
//! `--state-dir` / `$PATTERN_GUARD_STATE_DIR` if given; else `$XDG_RUNTIME_DIR/pattern-guard`;
//! else (cron has no `XDG_RUNTIME_DIR`) `/run/user/$UID/pattern-guard` when `/run/user/$UID`
//! exists and belongs to the user; else `pattern-guard-$UID` under `$TMPDIR` or `/tmp`.
//! pattern-guard creates the directory with mode 0700 and refuses one that is a symlink, belongs to
//! another user, or is writable by group or others.
//!
//! # Keying
//! History is per actor: actor `cli` lives in `cli-<hash>.state`, where the name keeps the actor's
//! safe characters (at most 48) and the hash (xxh3 of the whole id) keeps distinct actors apart.
//! Jobs therefore interfere only when they share an actor (`--actor`, `$PATTERN_GUARD_ACTOR`).
//!
//! # Safety
//! Load-check-save runs under an exclusive `flock` on `<name>.lock`, never held while the command
//! runs, so concurrent runs of one actor take turns and none loses another's event.
//!
//! A run saves by appending one small record (its event, the actor's escalation and the running
//! instances) in a single `write`. Every 32 records (or 64 KiB) the file is compacted instead:
//! the whole history is written to a temp file in the same directory, fsynced and renamed over
//! the state file. A crash at any moment therefore leaves the old or the new state: a killed run
//! either wrote its whole record or none of it, and a rename is atomic. Each record carries its
//! own checksum, so a record cut short by a power failure (appends are not fsynced: the state lives
//! in a runtime directory that a reboot clears anyway) is dropped at the next load with a one-line
//! report, keeping everything before it.
//!
//! A state file that cannot be read at all (corrupt, truncated, a symlink, from another format,
//! too large) is renamed to `<name>.state.bad-<time>` for inspection, reported in one line, and
//! replaced by a fresh history. Files are opened with `O_NOFOLLOW` and created 0600.
//!
//! # Format
//! `PGSTATE2`, then records. A record is the payload's length (u32) and xxh3 checksum (u64),
//! little-endian, then the payload: a [`StateData`] encoded with postcard. The first record holds
//! the engine's [`Snapshot`] of the actor; each later one holds a [`Guard::export_tail`] (the
//! events one run recorded) that loading merges on top. The snapshot takes about 4 bytes an event
//! for a repeated command and is bounded by the actor's `max_events_per_actor`; the journal by
//! the compaction rule; files over 64 MiB are refused.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use nix::fcntl::{Flock, FlockArg};
use pattern_guard::{Assessment, Event, Guard, Snapshot};
use serde::{Deserialize, Serialize};

const MAGIC: &[u8; 8] = b"PGSTATE2";
const FRAME_HEADER: usize = 12;
/// The journal is folded into a fresh snapshot once it holds this many records...
const COMPACT_AFTER_RECORDS: usize = 32;
/// ...or this many bytes.
const COMPACT_AFTER_BYTES: u64 = 64 * 1024;
const MAX_STATE_BYTES: u64 = 64 * 1024 * 1024;

/// One running wrapper of an actor's job, for the overlap limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub pid: u32,
    /// The process's start time in clock ticks since boot (Linux `/proc/PID/stat`; 0 elsewhere),
    /// so a reused pid is not taken for a live run.
    pub start_ticks: u64,
    /// When it started, nanoseconds since the Unix epoch.
    pub since_ns: u64,
}

impl Instance {
    /// This process.
    pub fn me() -> Instance {
        let pid = std::process::id();
        Instance {
            pid,
            start_ticks: start_ticks(pid).unwrap_or(0),
            since_ns: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
        }
    }

    /// Whether this run is still going: its process exists and is the same process.
    pub fn alive(&self) -> bool {
        let Ok(pid) = i32::try_from(self.pid) else {
            return false;
        };
        match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
            Ok(()) | Err(nix::errno::Errno::EPERM) => {}
            Err(_) => return false,
        }
        match start_ticks(self.pid) {
            Some(now) if self.start_ticks != 0 => now == self.start_ticks,
            _ => true,
        }
    }
}

/// Field 22 of `/proc/PID/stat`: when the process started.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// Everything a state file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateData {
    pub snapshot: Snapshot,
    pub running: Vec<Instance>,
}

/// What went wrong with the state; every message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state directory {}: {why}", dir.display())]
    Directory { dir: PathBuf, why: String },
    #[error("state file {}: {why}", path.display())]
    Refused { path: PathBuf, why: String },
    #[error("state file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot lock {}: {source}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: nix::errno::Errno,
    },
}

/// Picks the state directory per the rules above and makes sure it is safe to use.
pub fn resolve_dir(explicit: Option<&Path>) -> Result<PathBuf, StateError> {
    let uid = nix::unistd::geteuid().as_raw();
    if let Some(dir) = explicit {
        ensure_dir(dir, uid)?;
        return Ok(dir.to_path_buf());
    }
    if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        let dir = Path::new(&runtime).join("pattern-guard");
        ensure_dir(&dir, uid)?;
        return Ok(dir);
    }
    let run_user = PathBuf::from(format!("/run/user/{uid}"));
    if fs::symlink_metadata(&run_user).is_ok_and(|m| m.is_dir() && m.uid() == uid) {
        let dir = run_user.join("pattern-guard");
        ensure_dir(&dir, uid)?;
        return Ok(dir);
    }
    let tmp = std::env::var_os("TMPDIR")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    let dir = tmp.join(format!("pattern-guard-{uid}"));
    ensure_dir(&dir, uid)?;
    Ok(dir)
}

/// Creates `dir` (0700) if missing; refuses a symlink, another user's directory, or one that
/// group or others may write.
fn ensure_dir(dir: &Path, uid: u32) -> Result<(), StateError> {
    let fail = |why: String| StateError::Directory {
        dir: dir.to_path_buf(),
        why,
    };
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| {
                    fail(format!(
                        "cannot create it: {e}; pick another with --state-dir"
                    ))
                })?;
            return ensure_dir(dir, uid);
        }
        Err(e) => return Err(fail(format!("cannot inspect it: {e}"))),
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(fail(
                "is a symlink; refusing to follow it (remove it, or pass --state-dir)".into(),
            ))
        }
        Ok(meta) if !meta.is_dir() => {
            return Err(fail(
                "is not a directory; remove it or pass --state-dir".into(),
            ))
        }
        Ok(meta) if meta.uid() != uid => {
            return Err(fail(format!(
                "belongs to uid {}, not to you (uid {uid}); refusing to use it (pass --state-dir)",
                meta.uid()
            )))
        }
        Ok(meta) if meta.permissions().mode() & 0o022 != 0 => {
            return Err(fail(format!(
                "is writable by group or others (mode {:o}); run chmod 700 on it",
                meta.permissions().mode() & 0o777
            )))
        }
        Ok(_) => {}
    }
    Ok(())
}

/// The state of one actor in one directory.
pub struct ActorState {
    path: PathBuf,
    lock_path: PathBuf,
    /// The actor whose history this is (empty when opened from a path, for reading only).
    actor: String,
}

/// Something about the state file the user should hear of, in one line.
#[derive(Debug)]
pub enum Notice {
    /// The file could not be used at all: renamed aside, history started afresh.
    SetAside {
        path: PathBuf,
        kept_as: PathBuf,
        why: String,
    },
    /// The file's last records were damaged (a power cut or a disk fault while saving): they
    /// were dropped and the rest kept; the damaged file was kept for inspection too.
    DroppedTail {
        path: PathBuf,
        kept_as: PathBuf,
        bytes: u64,
        why: String,
    },
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
        }
    }
}

/// One load-check-save under the actor's lock: the restored guard and the running instances.
pub struct Txn<'g> {
    pub guard: &'g Guard,
    /// Runs of this actor's job still going (crashed ones already dropped).
    pub running: Vec<Instance>,
    recorded: usize,
}

impl Txn<'_> {
    /// Records the event and assesses it; the save then keeps it.
    pub fn assess(&mut self, event: &Event<'_>) -> Assessment {
        self.recorded += 1;
        self.guard.assess(event)
    }
}

/// What loading found.
struct Loaded {
    running: Vec<Instance>,
    notice: Option<Notice>,
    /// Records appended after the snapshot, and their bytes; `None` when the next save must
    /// rewrite the file (none yet, set aside, or a damaged tail dropped).
    journal: Option<(usize, u64)>,
}

impl ActorState {
    pub fn new(dir: &Path, actor: &str) -> Self {
        let name = file_stem(actor);
        ActorState {
            path: dir.join(format!("{name}.state")),
            lock_path: dir.join(format!("{name}.lock")),
            actor: actor.to_string(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Locks, loads into `guard` and the list of running instances (crashed ones dropped), runs
    /// `f`, saves both when `save`, unlocks. Returns `f`'s result and anything to tell the user.
    pub fn transact<R>(
        &self,
        guard: &Guard,
        save: bool,
        f: impl FnOnce(&mut Txn<'_>) -> R,
    ) -> Result<(R, Option<Notice>), StateError> {
        let _lock = self.lock(FlockArg::LockExclusive)?;
        let loaded = self.load_into(guard)?;
        let mut txn = Txn {
            guard,
            running: loaded.running,
            recorded: 0,
        };
        txn.running.retain(Instance::alive);
        let result = f(&mut txn);
        if save {
            let compact = loaded.journal.is_none_or(|(records, bytes)| {
                records >= COMPACT_AFTER_RECORDS || bytes >= COMPACT_AFTER_BYTES
            });
            if compact {
                self.rewrite(&StateData {
                    snapshot: guard.export(),
                    running: txn.running,
                })?;
            } else {
                self.append(&StateData {
                    snapshot: guard.export_tail(&self.actor, txn.recorded),
                    running: txn.running,
                })?;
            }
        }
        Ok((result, loaded.notice))
    }

    /// Loads under a shared lock, for reading only: the live running instances, or why the file
    /// cannot be used (it is left alone; the next run sets it aside).
    pub fn read(&self, guard: &Guard) -> Result<Result<Vec<Instance>, String>, StateError> {
        let _lock = self.lock(FlockArg::LockShared)?;
        guard.reset_all();
        Ok(match self.read_file() {
            Ok(None) => Ok(Vec::new()),
            Ok(Some(bytes)) => apply(&bytes, guard)
                .map(|a| a.running.into_iter().filter(Instance::alive).collect()),
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

    /// Restores the saved memory into `guard`; sets an unreadable file aside.
    fn load_into(&self, guard: &Guard) -> Result<Loaded, StateError> {
        guard.reset_all();
        let why = match self.read_file() {
            Ok(None) => {
                return Ok(Loaded {
                    running: Vec::new(),
                    notice: None,
                    journal: None,
                })
            }
            Ok(Some(bytes)) => match apply(&bytes, guard) {
                Ok(Applied {
                    running,
                    journal,
                    damaged_tail: None,
                }) => {
                    return Ok(Loaded {
                        running,
                        notice: None,
                        journal: Some(journal),
                    })
                }
                Ok(Applied {
                    running,
                    damaged_tail: Some((bytes, why)),
                    ..
                }) => {
                    // Keep the damaged file for inspection (a second name for it: the next save
                    // renames a fresh file over this one).
                    let kept_as = self.bad_name();
                    fs::hard_link(&self.path, &kept_as)
                        .or_else(|_| fs::copy(&self.path, &kept_as).map(drop))
                        .map_err(|source| StateError::Io {
                            path: kept_as.clone(),
                            source,
                        })?;
                    return Ok(Loaded {
                        running,
                        notice: Some(Notice::DroppedTail {
                            path: self.path.clone(),
                            kept_as,
                            bytes,
                            why,
                        }),
                        journal: None,
                    });
                }
                Err(why) => why,
            },
            Err(why) => why,
        };
        guard.reset_all();
        let kept_as = self.bad_name();
        fs::rename(&self.path, &kept_as).map_err(|source| StateError::Io {
            path: self.path.clone(),
            source,
        })?;
        Ok(Loaded {
            running: Vec::new(),
            notice: Some(Notice::SetAside {
                path: self.path.clone(),
                kept_as,
                why,
            }),
            journal: None,
        })
    }

    /// Where an unusable file is kept for inspection: `<name>.state.bad-<unix time>`, with a
    /// counter when that is taken.
    fn bad_name(&self) -> PathBuf {
        let stamp = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut name = self.path.with_extension(format!("state.bad-{stamp}"));
        let mut n = 1;
        while fs::symlink_metadata(&name).is_ok() {
            n += 1;
            name = self.path.with_extension(format!("state.bad-{stamp}-{n}"));
        }
        name
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

    /// Appends one record to the journal; under the lock nobody else writes.
    fn append(&self, data: &StateData) -> Result<(), StateError> {
        let io = |source| StateError::Io {
            path: self.path.clone(),
            source,
        };
        let record = frame(data).map_err(|e| io(std::io::Error::other(e)))?;
        let mut file = OpenOptions::new()
            .append(true)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
            .open(&self.path)
            .map_err(io)?;
        // One write of a few dozen bytes: a crashed run leaves all of it or none (and a record cut
        // short by a power failure fails its checksum, so the next load drops it).
        file.write_all(&record).map_err(io)
    }

    /// Writes a fresh file holding just a snapshot: temp file, fsync, rename.
    fn rewrite(&self, data: &StateData) -> Result<(), StateError> {
        let io = |source| StateError::Io {
            path: self.path.clone(),
            source,
        };
        let bytes = encode(data).map_err(|e| io(std::io::Error::other(e)))?;
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
        let written = file.write_all(&bytes).and_then(|()| file.sync_all());
        if let Err(e) = written.and_then(|()| fs::rename(&tmp, &self.path)) {
            let _ = fs::remove_file(&tmp);
            return Err(io(e));
        }
        // The file was synced before the rename, so a crash leaves the old or the new state; the
        // directory is not synced: that would only decide which of the two a crash leaves.
        Ok(())
    }
}

/// The paths of every actor's state file in `dir`, sorted.
pub fn state_files(dir: &Path) -> Result<Vec<PathBuf>, StateError> {
    let entries = fs::read_dir(dir).map_err(|source| StateError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "state"))
        .collect();
    files.sort();
    Ok(files)
}

/// The state of the actor stored in `path` (from [`state_files`]), for reading or removing.
pub fn from_state_path(path: &Path) -> ActorState {
    ActorState {
        path: path.to_path_buf(),
        lock_path: path.with_extension("lock"),
        actor: String::new(),
    }
}

/// One record: payload length (u32) and xxh3 checksum (u64), little-endian, then the payload.
pub fn frame(data: &StateData) -> Result<Vec<u8>, String> {
    let payload = postcard::to_stdvec(data).map_err(|e| e.to_string())?;
    let len = u32::try_from(payload.len()).map_err(|_| "a state record over 4 GiB")?;
    let mut out = Vec::with_capacity(FRAME_HEADER + payload.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

/// A whole state file holding one snapshot: `PGSTATE2` and one record.
pub fn encode(data: &StateData) -> Result<Vec<u8>, String> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&frame(data)?);
    Ok(out)
}

/// A state file, parsed.
#[derive(Debug, PartialEq)]
pub struct Journal {
    /// The snapshot record, then the records appended after it, in order, each with its size in
    /// bytes.
    pub records: Vec<(StateData, u64)>,
    /// Bytes after the last good record, and why they cannot be read.
    pub damaged_tail: Option<(u64, String)>,
}

/// Parses a state file. `Err(why)`: the file cannot be used at all (no valid snapshot record).
/// Damage after the snapshot drops the records from the damaged one on (`damaged_tail`).
pub fn decode(bytes: &[u8]) -> Result<Journal, String> {
    if bytes.len() < MAGIC.len() {
        return Err(format!(
            "truncated: {} bytes, shorter than its header",
            bytes.len()
        ));
    }
    if &bytes[..7] != b"PGSTATE" {
        return Err("not a pattern-guard state file".into());
    }
    if bytes[7] != MAGIC[7] {
        return Err(format!(
            "written in state format {}, this pattern-guard reads format {}",
            bytes[7].escape_ascii(),
            MAGIC[7] as char
        ));
    }
    let mut records = Vec::new();
    let mut at = MAGIC.len();
    let mut damaged_tail = None;
    while at < bytes.len() {
        match read_frame(&bytes[at..]) {
            Ok((data, used)) => {
                records.push((data, used as u64));
                at += used;
            }
            Err(why) if records.is_empty() => return Err(why),
            Err(why) => {
                damaged_tail = Some(((bytes.len() - at) as u64, why));
                break;
            }
        }
    }
    if records.is_empty() {
        return Err("truncated: no snapshot after the header".into());
    }
    Ok(Journal {
        records,
        damaged_tail,
    })
}

fn read_frame(bytes: &[u8]) -> Result<(StateData, usize), String> {
    if bytes.len() < FRAME_HEADER {
        return Err(format!(
            "truncated: a record header cut short at {} bytes",
            bytes.len()
        ));
    }
    let len = u32::from_le_bytes(bytes[..4].try_into().unwrap_or_default()) as usize;
    let checksum = u64::from_le_bytes(bytes[4..12].try_into().unwrap_or_default());
    let Some(payload) = bytes.get(FRAME_HEADER..FRAME_HEADER + len) else {
        return Err(format!(
            "truncated: {} of {len} record bytes",
            bytes.len() - FRAME_HEADER
        ));
    };
    if xxhash_rust::xxh3::xxh3_64(payload) != checksum {
        return Err("checksum mismatch: the file is damaged".into());
    }
    let data = postcard::from_bytes(payload).map_err(|e| format!("cannot decode it: {e}"))?;
    Ok((data, FRAME_HEADER + len))
}

/// What a state file gave when applied to a guard.
#[derive(Debug)]
pub struct Applied {
    /// The running instances as last saved (dead ones not yet dropped).
    pub running: Vec<Instance>,
    /// Records merged after the snapshot, and their bytes: what the compaction rule counts.
    pub journal: (usize, u64),
    /// Bytes after the last good record, and why they could not be used.
    pub damaged_tail: Option<(u64, String)>,
}

/// Parses `bytes` and applies them to `guard`: the snapshot restored, the journal merged on top.
/// `Err(why)`: nothing usable (the guard may hold part of it: reset it).
pub fn apply(bytes: &[u8], guard: &Guard) -> Result<Applied, String> {
    let journal = decode(bytes)?;
    let mut records = journal.records.into_iter();
    let (base, _) = records.next().ok_or("no snapshot")?;
    guard.restore(&base.snapshot).map_err(|e| e.to_string())?;
    let mut applied = Applied {
        running: base.running,
        journal: (0, 0),
        damaged_tail: journal.damaged_tail,
    };
    while let Some((record, size)) = records.next() {
        if let Err(e) = guard.merge(&record.snapshot) {
            let left = size
                + records.map(|(_, n)| n).sum::<u64>()
                + applied.damaged_tail.map_or(0, |(n, _)| n);
            applied.damaged_tail = Some((left, e.to_string()));
            break;
        }
        applied.journal.0 += 1;
        applied.journal.1 += size;
        applied.running = record.running;
    }
    Ok(applied)
}

/// A file name for an actor: its safe characters (at most 48) and a hash of the whole id.
fn file_stem(actor: &str) -> String {
    let safe: String = actor
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect();
    format!(
        "{safe}-{:016x}",
        xxhash_rust::xxh3::xxh3_64(actor.as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stems_are_safe_and_distinct() {
        assert!(file_stem("cli").starts_with("cli-"));
        assert!(file_stem("../etc/passwd").starts_with("___etc_passwd-"));
        assert_ne!(file_stem("a/b"), file_stem("a_b"));
        assert!(file_stem(&"x".repeat(10_000)).len() <= 48 + 17);
    }

    fn sample() -> (Guard, StateData) {
        let guard = Guard::new();
        guard.check(&guard.event("cli", "run", "true"));
        let data = StateData {
            snapshot: guard.export(),
            running: vec![Instance::me()],
        };
        (guard, data)
    }

    #[test]
    fn encode_decode_round_trips_and_rejects_damage() {
        let (_, data) = sample();
        let bytes = encode(&data).unwrap();
        let size = (bytes.len() - MAGIC.len()) as u64;
        assert_eq!(
            decode(&bytes).unwrap(),
            Journal {
                records: vec![(data, size)],
                damaged_tail: None
            }
        );
        assert!(decode(&bytes[..bytes.len() - 1])
            .unwrap_err()
            .contains("truncated"));
        assert!(decode(&bytes[..10]).unwrap_err().contains("truncated"));
        assert!(decode(&bytes[..8]).unwrap_err().contains("no snapshot"));
        let mut flipped = bytes.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(decode(&flipped).unwrap_err().contains("checksum"));
        let mut future = bytes.clone();
        future[7] = b'3';
        assert!(decode(&future).unwrap_err().contains("format 3"));
        assert!(decode(b"garbage garbage garbage garbage")
            .unwrap_err()
            .contains("not a pattern-guard"));
    }

    #[test]
    fn appended_records_replay_and_a_damaged_tail_is_dropped_not_fatal() {
        let (guard, data) = sample();
        let mut bytes = encode(&data).unwrap();
        guard.check(&guard.event("cli", "run", "true"));
        let tail = StateData {
            snapshot: guard.export_tail("cli", 1),
            running: vec![],
        };
        bytes.extend(frame(&tail).unwrap());
        let whole = bytes.len();
        bytes.extend(frame(&tail).unwrap());

        let restored = Guard::new();
        let a = apply(&bytes, &restored).unwrap();
        assert_eq!((a.running.len(), a.journal.0, a.damaged_tail), (0, 2, None));
        assert_eq!(
            restored.stats().events,
            3,
            "the snapshot's event and two appended"
        );

        // A crash (or a power cut) while appending leaves a short last record.
        let cut = &bytes[..bytes.len() - 3];
        let restored = Guard::new();
        let a = apply(cut, &restored).unwrap();
        assert_eq!(a.journal.0, 1);
        let (lost, why) = a.damaged_tail.unwrap();
        assert_eq!(lost, (cut.len() - whole) as u64);
        assert!(why.contains("truncated"), "{why}");
        assert_eq!(
            restored.stats().events,
            2,
            "everything before the damage is kept"
        );
    }
}

#[cfg(test)]
mod instance_tests {
    use super::Instance;

    #[test]
    fn this_process_is_alive_and_a_reused_or_dead_pid_is_not() {
        let me = Instance::me();
        assert!(me.alive());
        if me.start_ticks != 0 {
            let reused = Instance {
                start_ticks: me.start_ticks + 1,
                ..me.clone()
            };
            assert!(!reused.alive(), "same pid, another start time: not our run");
        }
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let gone = Instance {
            pid,
            start_ticks: 0,
            since_ns: 0,
        };
        assert!(!gone.alive());
    }
}
