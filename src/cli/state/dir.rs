//! The state directory: where it is, the checks that make it safe, and the store of one state
//! file per actor inside it.
//!
//! `--state-dir` / `$PATTERN_GUARD_STATE_DIR` if given; else `$XDG_RUNTIME_DIR/pattern-guard`;
//! else (cron has no `XDG_RUNTIME_DIR`) `/run/user/$UID/pattern-guard` when `/run/user/$UID`
//! exists and belongs to the user; else `pattern-guard-$UID` under `$TMPDIR` or `/tmp`.
//! pattern-guard creates the directory with mode 0700 and refuses one that is a symlink, belongs to
//! another user, or is writable by group or others.
//!
//! Actor `cli` lives in `cli-<hash>.state`, where the name keeps the actor's safe characters (at
//! most 48) and the hash (xxh3 of the whole id) keeps distinct actors apart.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use pattern_guard::Guard;

use super::file::ActorFile;
use super::history::{Entry, History, StateError, Txn};
use super::meta::Meta;
use super::recovery::Notice;

/// One state file per actor in a directory: the embedded default store.
pub struct DirStore {
    dir: PathBuf,
}

impl DirStore {
    /// The store in the directory the rules above pick, made safe to use.
    pub fn open(explicit: Option<&Path>) -> Result<DirStore, StateError> {
        Ok(DirStore {
            dir: resolve_dir(explicit)?,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn file(&self, actor: &str) -> ActorFile {
        ActorFile::new(self.dir.join(format!("{}.state", file_stem(actor))), actor)
    }

    /// The file an entry names (an entry from [`History::entries`] holds its path).
    fn at(entry: &Entry) -> ActorFile {
        ActorFile::new(PathBuf::from(&entry.0), "")
    }
}

impl History for DirStore {
    fn transact(
        &self,
        actor: &str,
        guard: &Guard,
        save: bool,
        body: &mut dyn FnMut(&mut Txn<'_>),
    ) -> Result<Option<Notice>, StateError> {
        self.file(actor).transact(guard, save, body)
    }

    fn entry(&self, actor: &str) -> Entry {
        Entry(self.file(actor).path().display().to_string())
    }

    fn entries(&self) -> Result<Vec<Entry>, StateError> {
        let entries = fs::read_dir(&self.dir).map_err(|source| StateError::Io {
            path: self.dir.clone(),
            source,
        })?;
        let mut files: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "state"))
            .map(|p| p.display().to_string())
            .collect();
        files.sort();
        Ok(files.into_iter().map(Entry).collect())
    }

    fn read(&self, entry: &Entry, guard: &Guard) -> Result<Result<Meta, String>, StateError> {
        Self::at(entry).read(guard)
    }

    fn remove(&self, entry: &Entry) -> Result<bool, StateError> {
        Self::at(entry).remove()
    }

    fn location(&self) -> String {
        self.dir.display().to_string()
    }
}

/// Picks the state directory per the rules above and makes sure it is safe to use.
fn resolve_dir(explicit: Option<&Path>) -> Result<PathBuf, StateError> {
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
            ensure_dir(dir, uid)
        }
        Err(e) => Err(fail(format!("cannot inspect it: {e}"))),
        Ok(meta) if meta.file_type().is_symlink() => Err(fail(
            "is a symlink; refusing to follow it (remove it, or pass --state-dir)".into(),
        )),
        Ok(meta) if !meta.is_dir() => Err(fail(
            "is not a directory; remove it or pass --state-dir".into(),
        )),
        Ok(meta) if meta.uid() != uid => Err(fail(format!(
            "belongs to uid {}, not to you (uid {uid}); refusing to use it (pass --state-dir)",
            meta.uid()
        ))),
        Ok(meta) if meta.permissions().mode() & 0o022 != 0 => Err(fail(format!(
            "is writable by group or others (mode {:o}); run chmod 700 on it",
            meta.permissions().mode() & 0o777
        ))),
        Ok(_) => Ok(()),
    }
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
}
