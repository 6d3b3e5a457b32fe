//! The seam between the commands and wherever histories live: a store implements [`History`];
//! the commands call [`transact`] and never learn where the bytes went.

use std::path::PathBuf;

use pattern_guard::shared::blocking::{Checked, LeaseRequest, SharedLog};
use pattern_guard::{Assessment, Decision, Event, Guard};

use super::instances::Instance;
use super::meta::{from_note, note, ConfigId, LastStop, Meta};
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
    /// The shared store failed (its message never holds a password).
    #[error("{0}")]
    Store(#[from] pattern_guard::Error),
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

    /// Holds this run's place among `actor`'s running instances while its command runs (the
    /// shared store renews its lease); dropping the handle lets go. `None`: nothing to do.
    fn keep_alive(&self, _actor: &str) -> Option<Box<dyn std::any::Any>> {
        None
    }
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
    /// The decisions of the actor's runs in its window (see [`Meta::decisions`]).
    pub decisions: Vec<(u64, u8)>,
    /// The durations of the actor's last completed runs (see [`Meta::durations`]).
    pub durations: Vec<u64>,
    /// `durations` changed in this transaction (a shared store then keeps them).
    pub durations_changed: bool,
    /// `decisions` changed in this transaction (a shared store then keeps them).
    pub(super) decisions_changed: bool,
    recorded: usize,
    /// This run took itself off the running instances ([`Txn::leave`]).
    pub(super) left: bool,
    /// Checks go through the shared store (`None`: `guard` is the whole history).
    pub(super) shared: Option<Shared<'g>>,
    /// The decision every check gets (the store is out and `on_error` is `allow` or `block`).
    pub(super) forced: Option<Decision>,
}

/// A transaction's link to the shared store.
pub(super) struct Shared<'g> {
    pub log: &'g SharedLog,
    /// This run's lease id and length.
    pub lease: LeaseRequest<'g>,
    /// What went wrong, if anything did: the transaction then fails.
    pub error: Option<pattern_guard::Error>,
    /// A lease was taken with a check whose decision was block: give it back.
    pub release: bool,
}

impl<'g> Txn<'g> {
    pub(super) fn new(guard: &'g Guard, meta: Meta) -> Self {
        Txn {
            guard,
            running: meta.running,
            config: meta.config,
            last_stop: meta.last_stop,
            decisions: meta.decisions,
            durations: meta.durations,
            durations_changed: false,
            decisions_changed: false,
            recorded: 0,
            left: false,
            shared: None,
            forced: None,
        }
    }

    /// What is saved beside the history.
    pub(super) fn meta(&self) -> Meta {
        Meta {
            running: self.running.clone(),
            config: self.config.clone(),
            last_stop: self.last_stop.clone(),
            decisions: self.decisions.clone(),
            durations: self.durations.clone(),
        }
    }

    /// Records the event and assesses it; the save then keeps it. With a shared store the
    /// event is stamped with the store's clock.
    pub fn assess(&mut self, event: &Event<'_>) -> Assessment {
        self.check(event, false, None).unwrap_or_default()
    }

    /// As [`assess`](Txn::assess), keeping the event's own time (`--at`).
    pub fn assess_at(&mut self, event: &Event<'_>) -> Assessment {
        self.check(event, true, None).unwrap_or_default()
    }

    /// The overlap limit and the check together: `Err(n)` when `max` runs are going (nothing
    /// recorded). Otherwise the event is recorded and assessed, and, when `register`, this run
    /// joins the running instances unless blocked. With a shared store this is one atomic step
    /// across hosts (the run takes a lease).
    pub fn admit(
        &mut self,
        event: &Event<'_>,
        max: Option<usize>,
        register: bool,
    ) -> Result<Assessment, usize> {
        if self.shared.is_none() || self.forced.is_some() {
            if let Some(max) = max {
                if self.running.len() >= max {
                    return Err(self.running.len());
                }
            }
        }
        let register = register && max.is_some();
        let a = self.check(event, false, max.filter(|_| register))?;
        if register && a.decision != Decision::Block {
            self.running.push(Instance::me());
        }
        Ok(a)
    }

    /// Keeps this run's decision with the history (its runs in the window, for
    /// `--metrics-file`) and returns the runs in the window by decision (0 allow, 1 warn,
    /// 2 delay, 3 block), this one included. A shared store keeps them only when `wanted`
    /// (there it costs a call after the check; `None` otherwise): its runs on every host.
    pub fn note_decision(
        &mut self,
        at_ns: u64,
        code: u8,
        window_ns: u64,
        wanted: bool,
    ) -> Option<[u64; 4]> {
        if self.shared.is_some() {
            if !wanted {
                return None;
            }
            self.decisions_changed = true;
        }
        let since = at_ns.saturating_sub(window_ns);
        self.decisions.retain(|(at, _)| *at > since);
        self.decisions.push((at_ns, code));
        let excess = self
            .decisions
            .len()
            .saturating_sub(super::meta::MAX_DECISIONS);
        self.decisions.drain(..excess);
        let mut counts = [0; 4];
        for (_, c) in &self.decisions {
            counts[usize::from(*c).min(3)] += 1;
        }
        Some(counts)
    }

    /// Takes this run off the running instances.
    pub fn leave(&mut self) {
        let me = std::process::id();
        self.running.retain(|i| i.pid != me);
        self.left = true;
    }

    fn check(
        &mut self,
        event: &Event<'_>,
        explicit: bool,
        lease_max: Option<usize>,
    ) -> Result<Assessment, usize> {
        self.recorded += 1;
        if let Some(decision) = self.forced {
            return Ok(forced(decision, event));
        }
        if self.shared.is_none() {
            return Ok(self.guard.assess(event));
        }
        // The configuration of the run is kept beside the history, with the check.
        let config = self.config.as_ref().map(note);
        let Some(shared) = self.shared.as_mut() else {
            return Ok(self.guard.assess(event));
        };
        let notes: Vec<(&str, &[u8])> = config.iter().map(|c| ("config", c.as_slice())).collect();
        let lease = lease_max.map(|max| LeaseRequest {
            max,
            ..shared.lease
        });
        // What is kept beside the history comes back with the check: the job's recent
        // durations (`max_runtime = "auto"`) and its runs' decisions (`--metrics-file`).
        let checked = shared.log.check_reading(
            self.guard,
            event,
            explicit,
            lease,
            &notes,
            &["durations", "decisions"],
        );
        match checked {
            Ok((Checked::Assessed(a), read)) => {
                shared.release = lease.is_some() && a.decision == Decision::Block;
                let note = |i: usize| read.get(i).map_or(&[][..], Vec::as_slice);
                self.durations = from_note(note(0)).unwrap_or_default();
                self.decisions = from_note(note(1)).unwrap_or_default();
                Ok(a)
            }
            Ok((Checked::Busy(n), _)) => Err(n),
            Err(e) => {
                shared.error = Some(e);
                Ok(Assessment::default())
            }
        }
    }

    /// Events recorded in this transaction.
    pub(super) fn recorded(&self) -> usize {
        self.recorded
    }
}

/// What a check comes to when the store is out and `on_error` decides alone.
fn forced(decision: Decision, event: &Event<'_>) -> Assessment {
    let mut a = Assessment::default();
    a.decision = decision;
    a.at = event.timestamp();
    if decision == Decision::Block {
        a.risk = 1.0;
    }
    a
}

/// [`History::transact`] with a body that returns a value.
pub fn transact<R>(
    store: &dyn History,
    actor: &str,
    guard: &Guard,
    save: bool,
    mut body: impl FnMut(&mut Txn<'_>) -> R,
) -> Result<(R, Option<Notice>), StateError> {
    let mut result = None;
    // A store may run the body again (the shared store falling back to the local one): the
    // last run's result is the one that counts.
    let notice = store.transact(actor, guard, save, &mut |txn| result = Some(body(txn)))?;
    match result {
        Some(result) => Ok((result, notice)),
        None => Err(StateError::Refused {
            path: PathBuf::from(store.location()),
            why: "the store did not run the transaction; this is a bug, please report it".into(),
        }),
    }
}
