//! The seam between the commands and wherever histories live: a store implements [`History`];
//! the commands call [`transact`] and never learn where the bytes went.

use std::path::PathBuf;

use pattern_guard::{Assessment, Event, Guard};

use super::instances::Instance;
use super::meta::{ConfigId, LastStop, Meta};
use super::recovery::Notice;

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

/// One actor's history as a store lists it (a file path, a key): for status and reset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry(pub(super) String);

impl std::fmt::Display for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where actors' histories live.
pub trait History {
    /// Under `actor`'s exclusive lock: loads its history into `guard` and its running instances
    /// (dead ones dropped), runs `body`, and when `save`, saves what `body` recorded and the
    /// instances. Returns anything the user should hear of (a history set aside).
    fn transact(
        &self,
        actor: &str,
        guard: &Guard,
        save: bool,
        body: &mut dyn FnMut(&mut Txn<'_>),
    ) -> Result<Option<Notice>, StateError>;

    /// The entry `actor`'s history has (or would have).
    fn entry(&self, actor: &str) -> Entry;

    /// Every actor's history.
    fn entries(&self) -> Result<Vec<Entry>, StateError>;

    /// Loads one history into `guard` for reading only: its live running instances and last
    /// configuration, or why it cannot be used (it is left alone; the next run sets it aside).
    fn read(&self, entry: &Entry, guard: &Guard) -> Result<Result<Meta, String>, StateError>;

    /// Forgets one history. True when there was one.
    fn remove(&self, entry: &Entry) -> Result<bool, StateError>;

    /// Where the histories are, for messages.
    fn location(&self) -> String;
}

/// One load-check-save under an actor's lock: the restored guard and the running instances.
pub struct Txn<'g> {
    pub guard: &'g Guard,
    /// Runs of this actor's job still going (crashed ones already dropped).
    pub running: Vec<Instance>,
    /// The configuration of the last run that saved; set it to the current one when recording.
    pub config: Option<ConfigId>,
    /// The last run the guard stopped.
    pub last_stop: Option<LastStop>,
    recorded: usize,
}

impl<'g> Txn<'g> {
    pub(super) fn new(guard: &'g Guard, meta: Meta) -> Self {
        Txn {
            guard,
            running: meta.running,
            config: meta.config,
            last_stop: meta.last_stop,
            recorded: 0,
        }
    }

    /// What is saved beside the history.
    pub(super) fn meta(&self) -> Meta {
        Meta {
            running: self.running.clone(),
            config: self.config.clone(),
            last_stop: self.last_stop.clone(),
        }
    }

    /// Records the event and assesses it; the save then keeps it.
    pub fn assess(&mut self, event: &Event<'_>) -> Assessment {
        self.recorded += 1;
        self.guard.assess(event)
    }

    /// Events recorded in this transaction.
    pub(super) fn recorded(&self) -> usize {
        self.recorded
    }
}

/// [`History::transact`] with a body that returns a value.
pub fn transact<R>(
    store: &dyn History,
    actor: &str,
    guard: &Guard,
    save: bool,
    body: impl FnOnce(&mut Txn<'_>) -> R,
) -> Result<(R, Option<Notice>), StateError> {
    let mut body = Some(body);
    let mut result = None;
    let notice = store.transact(actor, guard, save, &mut |txn| {
        if let Some(body) = body.take() {
            result = Some(body(txn));
        }
    })?;
    match result {
        Some(result) => Ok((result, notice)),
        None => Err(StateError::Refused {
            path: PathBuf::from(store.location()),
            why: "the store did not run the transaction; this is a bug, please report it".into(),
        }),
    }
}
