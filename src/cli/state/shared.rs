//! The shared store (`--store URL`, `[store] url`, `$PATTERN_GUARD_STORE`): every actor's history
//! in Redis, so runs on many hosts are one history. Built on the library's
//! [`SharedLog`](pattern_guard::shared::blocking::SharedLog): a run loads its actor (the log
//! replayed into the guard, the live leases, the kept meta), checks its event in one atomic
//! script call (taking a lease when `max_concurrent` applies), renews the lease while the command
//! runs, and gives it back after.
//!
//! When the store cannot answer within `timeout_ms`, `[store] on_error` decides: `local` (the
//! default) runs the same transaction on this host's own state directory, `allow` lets the run
//! go, `block` refuses it (exit 75). Either way one line says so.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use pattern_guard::shared::blocking::{LeaseRequest, Loaded, SharedLog};
use pattern_guard::shared::health::{Gate, Health};
use pattern_guard::shared::Lease;
use pattern_guard::{Decision, Guard, OnError, StoreSettings};

use super::dir::DirStore;
use super::history::{Entry, History, Shared, StateError, Txn};
use super::instances::Instance;
use super::meta::{from_note, note, Meta};
use super::recovery::Notice;
use crate::cli::runtime;

/// Histories in a Redis store.
pub struct SharedStore {
    log: SharedLog,
    /// This run's lease id: host, pid and start time.
    lease_id: String,
    lease: Duration,
    on_error: OnError,
    /// The state directory to fall back to (`on_error = "local"`).
    state_dir: Option<PathBuf>,
    /// Whether the store answers: with `--repeat`, an outage is said once and the store is
    /// probed with a back-off instead of paying the timeout on every run.
    health: Health,
}

impl SharedStore {
    pub fn open(settings: &StoreSettings, state_dir: Option<PathBuf>) -> Result<Self, StateError> {
        let me = Instance::me();
        let mut log = SharedLog::open(settings)?;
        if let Some(seed) = seed_cache(settings, state_dir.as_deref())
            .and_then(|path| std::fs::read_to_string(path).ok())
            .and_then(|text| text.trim().parse().ok())
        {
            log = log.with_seed(seed);
        }
        let host = nix::unistd::gethostname().map_or_else(
            |_| "host".into(),
            |h| h.to_string_lossy().replace(['/', '=', ','], "_"),
        );
        Ok(SharedStore {
            log,
            lease_id: format!("{host}/{}/{}", me.pid, me.start_ticks),
            lease: Duration::from_secs(settings.lease_secs),
            on_error: settings.on_error,
            state_dir,
            health: Health::default(),
        })
    }

    fn lease(&self) -> LeaseRequest<'_> {
        LeaseRequest {
            id: &self.lease_id,
            max: 0,
            length: self.lease,
        }
    }

    /// The transaction against the store. Recording, it makes one call for the check (the log
    /// replayed, the event appended, the lease taken, the configuration noted) and one more only
    /// to give a lease back, note a stop, a duration or a decision, or write a checkpoint now and
    /// then; a duration kept after a run first loads the store's list (one call). A dry run
    /// loads the actor and records nothing.
    fn shared(
        &self,
        actor: &str,
        guard: &Guard,
        save: bool,
        body: &mut dyn FnMut(&mut Txn<'_>),
    ) -> Result<(), StateError> {
        if !save {
            let loaded = self.log.load(guard, actor, NOTES)?;
            let mut txn = Txn::new(guard, meta_of(&loaded));
            body(&mut txn);
            return Ok(());
        }
        let mut txn = Txn::new(guard, Meta::default());
        txn.shared = Some(Shared {
            log: &self.log,
            lease: self.lease(),
            error: None,
            release: false,
        });
        body(&mut txn);
        let Some(shared) = txn.shared.take() else {
            return Ok(());
        };
        if let Some(e) = shared.error {
            return Err(StateError::Store(e));
        }
        self.remember_seed();
        let release = txn.left || shared.release;
        let stop = txn.last_stop.as_ref().map(note);
        let durations = if !txn.durations_changed {
            None
        } else if txn.recorded() > 0 {
            // The check brought the store's durations; this run's are added to them.
            Some(note(&txn.durations))
        } else {
            // No check here (the transaction after a run): the transaction began with no
            // durations, so what it holds is this run's, added to the store's list.
            let loaded = self.log.load(guard, actor, &["durations"])?;
            let mut kept: Vec<u64> = loaded
                .notes
                .first()
                .and_then(|d| from_note(d))
                .unwrap_or_default();
            for &ms in &txn.durations {
                runtime::keep(&mut kept, Duration::from_millis(ms));
            }
            Some(note(&kept))
        };
        // The call that gives a lease back or notes a stop also carries this run's checkpoint;
        // when neither is needed, a checkpoint every few dozen runs keeps the next runs' replay
        // short.
        let decisions = txn.decisions_changed.then(|| note(&txn.decisions));
        if release
            || stop.is_some()
            || durations.is_some()
            || decisions.is_some()
            || self.log.checkpoint_due()
        {
            let notes: Vec<(&str, &[u8])> = stop
                .iter()
                .map(|s| ("stop", s.as_slice()))
                .chain(durations.iter().map(|d| ("durations", d.as_slice())))
                .chain(decisions.iter().map(|d| ("decisions", d.as_slice())))
                .collect();
            self.log.release(
                guard,
                actor,
                release.then_some(self.lease_id.as_str()),
                &notes,
            )?;
        }
        Ok(())
    }

    /// Keeps the store's hash seed in the state directory, so the next run skips asking.
    fn remember_seed(&self) {
        let (Some(seed), Some(path)) = (
            self.log.seed(),
            seed_cache(self.log.settings(), self.state_dir.as_deref()),
        ) else {
            return;
        };
        if std::fs::read_to_string(&path).ok().as_deref() != Some(&seed.to_string()) {
            let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
            if std::fs::write(&tmp, seed.to_string()).is_ok() {
                let _ = std::fs::rename(&tmp, &path);
            }
        }
    }

    /// The transaction when the store failed, as `on_error` says.
    fn fallback(
        &self,
        actor: &str,
        guard: &Guard,
        save: bool,
        body: &mut dyn FnMut(&mut Txn<'_>),
        why: Option<String>,
    ) -> Result<Option<Notice>, StateError> {
        let store = self.log.location();
        // Whatever the guard holds of the actor now is not the store's history.
        self.log.forget(actor);
        let instead = match self.on_error {
            OnError::Local => {
                let dir = DirStore::open(self.state_dir.as_deref())?;
                dir.transact(actor, guard, save, body)?;
                format!(
                    "decided from this host's own history in {} (on_error = local)",
                    dir.location()
                )
            }
            decide @ (OnError::Allow | OnError::Block) => {
                guard.reset_all();
                let mut txn = Txn::new(guard, Meta::default());
                let allow = decide == OnError::Allow;
                txn.forced = Some(if allow {
                    Decision::Allow
                } else {
                    Decision::Block
                });
                body(&mut txn);
                if allow {
                    "allowed without it (on_error = allow)".into()
                } else {
                    "refused without it (on_error = block)".into()
                }
            }
            _ => {
                let why = why.unwrap_or_else(|| "not answering".into());
                return Err(StateError::Store(store_error(&store, why)));
            }
        };
        // Said once per outage: `why` is only given when this failure started one.
        Ok(why.map(|why| Notice::StoreOut {
            store,
            why,
            instead,
        }))
    }
}

fn store_error(store: &str, why: String) -> pattern_guard::Error {
    pattern_guard::Error::Store {
        url: store.to_string(),
        why,
    }
}

/// The notes the CLI keeps beside a history: the last run's configuration, its last stop, its
/// recent run durations (`max_runtime = "auto"`), its runs' decisions (`--metrics-file`).
const NOTES: &[&str] = &["config", "stop", "durations", "decisions"];

/// A loaded actor's leases and notes as the state's meta.
fn meta_of(loaded: &Loaded) -> Meta {
    let note = |i: usize| loaded.notes.get(i).map_or(&[][..], Vec::as_slice);
    Meta {
        running: loaded.leases.iter().map(instance).collect(),
        config: from_note(note(0)),
        last_stop: from_note(note(1)),
        decisions: from_note(note(3)).unwrap_or_default(),
        durations: from_note(note(2)).unwrap_or_default(),
    }
}

/// Where the store's hash seed is kept between runs: a file in the state directory named for
/// the store and prefix (a cache: the store refuses a check under a wrong seed). `None` when
/// the directory cannot be used.
fn seed_cache(settings: &StoreSettings, state_dir: Option<&std::path::Path>) -> Option<PathBuf> {
    let dir = DirStore::open(state_dir).ok()?;
    let id = format!(
        "{}\0{}",
        settings.url.as_deref().unwrap_or_default(),
        settings.prefix
    );
    let h = xxhash_rust::xxh3::xxh3_64(id.as_bytes());
    Some(dir.path().join(format!("store-{h:016x}.seed")))
}

/// A lease as a running instance (for `status` and the overlap check of a dry run).
fn instance(lease: &Lease) -> Instance {
    let mut parts = lease.id.rsplitn(3, '/');
    let start_ticks = parts.next().and_then(|t| t.parse().ok()).unwrap_or(0);
    let pid = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Instance {
        pid,
        start_ticks,
        since_ns: lease.since_us.saturating_mul(1000),
    }
}

impl History for SharedStore {
    fn transact(
        &self,
        actor: &str,
        guard: &Guard,
        save: bool,
        body: &mut dyn FnMut(&mut Txn<'_>),
    ) -> Result<Option<Notice>, StateError> {
        if self.health.gate() == Gate::Skip {
            return self.fallback(actor, guard, save, body, None);
        }
        match self.shared(actor, guard, save, body) {
            Ok(()) => Ok(self.health.ok().map(|outage| Notice::StoreBack {
                store: self.log.location(),
                outage,
            })),
            Err(StateError::Store(e)) => {
                let why = match e {
                    pattern_guard::Error::Store { why, .. } => why,
                    other => other.to_string(),
                };
                let started = self.health.failed();
                self.fallback(actor, guard, save, body, started.then_some(why))
            }
            Err(e) => Err(e),
        }
    }

    fn entry(&self, actor: &str) -> Entry {
        Entry(self.log.key(actor))
    }

    fn entries(&self) -> Result<Vec<Entry>, StateError> {
        Ok(self.log.keys()?.into_iter().map(Entry).collect())
    }

    fn read(&self, entry: &Entry, guard: &Guard) -> Result<Result<Meta, String>, StateError> {
        let loaded = self.log.load_key(guard, &entry.0, NOTES)?;
        Ok(Ok(meta_of(&loaded)))
    }

    fn remove(&self, entry: &Entry) -> Result<bool, StateError> {
        Ok(self.log.remove(&entry.0)?)
    }

    fn location(&self) -> String {
        self.log.location()
    }

    /// Renews this run's lease every third of its length until the handle is dropped.
    fn keep_alive(&self, actor: &str) -> Option<Box<dyn std::any::Any>> {
        let (stop, stopped) = mpsc::channel::<()>();
        let settings = self.log.settings().clone();
        let (actor, id, length) = (actor.to_string(), self.lease_id.clone(), self.lease);
        std::thread::Builder::new()
            .name("lease".into())
            .spawn(move || {
                let Ok(log) = SharedLog::open(&settings) else {
                    return;
                };
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(length / 3) {
                    if let Err(e) = log.renew(&actor, &id, length) {
                        tracing::warn!(error = %e, "could not renew this run's lease");
                    }
                }
            })
            .ok()?;
        Some(Box::new(stop))
    }
}
