//! Guarding a command: `pattern-guard [OPTIONS] -- COMMAND [ARGS...]`.
//!
//! Each run is one event. Under the actor's lock the overlap limit is checked and the event
//! assessed ([`admit`]); then the decision is reported and enacted ([`act`]): allow runs the
//! command, warn runs it with a line on stderr, delay waits first, block does not run it. With
//! `--repeat N` this happens N times in one process, `--interval` apart.

use std::time::{Duration, SystemTime};

use pattern_guard::{Assessment, Config, Decision, Event, Guard};

use crate::cli::exit_code::{Exit, Failure};
use crate::cli::options::RunPlan;
use crate::cli::output::{human, reasons, Printer};
use crate::cli::progress::Progress;
use crate::cli::runtime;
use crate::cli::signals::{self, Signals};
use crate::cli::state::{self, ConfigId, History, LastStop};
use crate::cli::supervise::{self, RunEnd, Stop};
use crate::cli::textfile;
use crate::cli::watch::WatchPlan;

/// How often a run waiting for an overlap slot looks again.
const SLOT_POLL: Duration = Duration::from_millis(200);

/// What the run loop needs besides the plan.
struct Runner<'a> {
    store: &'a dyn History,
    guard: Guard,
    /// Kept with the history when a run is recorded.
    config_id: &'a ConfigId,
    plan: &'a RunPlan,
    printer: Printer,
    progress: Progress,
    signals: Signals,
    /// The output watch, when on.
    watch: Option<WatchPlan>,
}

/// Runs the plan: `repeat` runs, each checked, acted on and (when allowed) run.
pub async fn run(
    store: &dyn History,
    config: Config,
    config_id: &ConfigId,
    plan: &RunPlan,
    printer: Printer,
) -> Result<Exit, Failure> {
    let watch = plan.watch_output.then(|| WatchPlan {
        config: config.clone(),
        actor: plan.event.actor.clone(),
        dry_run: plan.dry_run,
        printer,
    });
    let mut runner = Runner {
        watch,
        store,
        guard: Guard::from_config(config)?,
        config_id,
        plan,
        printer,
        progress: Progress::new(printer.is_quiet()),
        signals: Signals::install()?,
    };
    let mut last = Exit::Success;
    for iteration in 1..=plan.repeat {
        if iteration > 1 {
            if let Some(exit) = runner.pause(iteration - 1).await {
                return Ok(exit);
            }
        }
        match runner.once(iteration).await? {
            Step::Ran(exit) => last = exit,
            Step::Stop(exit) => return Ok(exit),
        }
        // A command that cannot be started will not start on the next iteration either.
        if matches!(last, Exit::Failure | Exit::NotFound | Exit::CannotRun) {
            return Ok(last);
        }
    }
    Ok(last)
}

/// How one iteration ended.
enum Step {
    /// The command ran: its exit.
    Ran(Exit),
    /// Stop here with this exit: blocked, refused, interrupted.
    Stop(Exit),
}

/// The outcome of asking to run under the actor's lock.
enum Gate {
    /// The overlap limit is reached: this many runs are going.
    Busy(usize),
    /// The event was checked.
    Checked(Admitted),
}

/// A checked run.
struct Admitted {
    assessment: Assessment,
    /// The actor's runs in its window by decision, this one included (when kept).
    in_window: Option<[u64; 4]>,
    /// Whether this run was added to the actor's running instances (with an overlap limit,
    /// recording, and unless blocked): it must take itself off after.
    registered: bool,
    /// The durations of the actor's last completed runs (`max_runtime = "auto"`).
    durations: Vec<u64>,
}

impl Runner<'_> {
    /// One iteration: admit, act, run, release.
    async fn once(&mut self, iteration: u64) -> Result<Step, Failure> {
        let plan = self.plan;
        let event = Event::new(
            plan.event.actor.as_str(),
            plan.event.action.as_str(),
            plan.target(),
            SystemTime::now(),
        )
        .with_weight(plan.event.weight);
        let admitted = match self.admit_or_wait(&event).await? {
            Ok(admitted) => admitted,
            Err(exit) => return Ok(Step::Stop(exit)),
        };
        let mut stopped = None;
        let mut ran = Duration::ZERO;
        let step = if let Some(exit) = self.act(&admitted.assessment).await {
            Step::Stop(exit)
        } else {
            let env = [("PATTERN_GUARD_ITERATION", iteration.to_string())];
            let started = std::time::Instant::now();
            // A shared store's lease is renewed while the command runs.
            let _alive = admitted
                .registered
                .then(|| self.store.keep_alive(&plan.event.actor))
                .flatten();
            let limits = self.limits(&admitted.durations);
            let end = supervise::run(
                &plan.argv,
                &env,
                limits,
                self.watch.as_ref(),
                &mut self.signals,
            )
            .await;
            stopped = stop_record(&end);
            ran = started.elapsed();
            Step::Ran(end.exit)
        };
        if let Some(path) = &plan.metrics_file {
            let (Step::Ran(exit) | Step::Stop(exit)) = step;
            let run = textfile::LastRun {
                actor: &plan.event.actor,
                at: admitted.assessment.at,
                assessment: &admitted.assessment,
                exit: exit.code(),
                duration: ran,
                in_window: admitted.in_window,
            };
            if let Err(e) = textfile::write_atomically(path, &textfile::last_run(&run)) {
                self.printer.always(format!(
                    "could not write the metrics file {}: {e}",
                    path.display()
                ));
            }
        }
        let record = stopped.is_some() && !plan.dry_run;
        // A run that ended on its own teaches `max_runtime = "auto"` its duration.
        let completed = (plan.auto_runtime.is_some()
            && !plan.dry_run
            && stopped.is_none()
            && matches!(step, Step::Ran(Exit::Child(_))))
        .then_some(ran);
        if admitted.registered || record || completed.is_some() {
            // Once the command has run, its status is what the caller gets: a state problem now
            // (the directory removed, a full disk) is reported, not turned into exit 125.
            if let Err(e) = self.after_run(stopped.as_ref(), completed) {
                let actor = &plan.event.actor;
                self.printer.always(if admitted.registered {
                    format!("could not take this run off actor '{actor}''s running instances: {e}")
                } else {
                    format!(
                        "could not keep in actor '{actor}''s history why this run was stopped: {e}"
                    )
                });
            }
        }
        Ok(step)
    }

    /// Between `--repeat` runs with `--interval`: on a terminal, a bar with the runs done and the
    /// time to the next. `Some(exit)` when a signal ended the wait.
    async fn pause(&mut self, done: u64) -> Option<Exit> {
        let pause = self.plan.interval?;
        let bar = self.progress.bar(
            self.plan.repeat,
            "pattern-guard: {bar:30} run {pos}/{len}, next in {msg}",
        );
        let show = |bar: &indicatif::ProgressBar, _: Duration, left: Duration| {
            bar.set_position(done);
            bar.set_message(human(left));
        };
        signals::wait_showing(pause, bar, show, &mut self.signals)
            .await
            .map(|sig| Exit::Interrupted(sig as i32))
    }

    /// Admits the run, waiting for a slot when the overlap limit says wait. `Err(exit)` when it
    /// must not run: refused at the limit, or interrupted while waiting.
    async fn admit_or_wait(
        &mut self,
        event: &Event<'_>,
    ) -> Result<Result<Admitted, Exit>, Failure> {
        let plan = self.plan;
        let mut waited = false;
        loop {
            match self.admit(event)? {
                Gate::Checked(admitted) => return Ok(Ok(admitted)),
                Gate::Busy(n) if plan.overlap.wait && !plan.dry_run => {
                    if !waited {
                        self.printer.note(format!(
                            "waiting: actor '{}' already has {n} run(s) of '{}' going (max_concurrent {})",
                            plan.event.actor,
                            plan.shown,
                            plan.overlap.max.unwrap_or(n)
                        ));
                    }
                    waited = true;
                    if let Some(sig) = signals::wait_or_signal(SLOT_POLL, &mut self.signals).await {
                        return Ok(Err(Exit::Interrupted(sig as i32)));
                    }
                }
                Gate::Busy(n) => {
                    self.printer.alert(format!(
                        "not starting '{}': actor '{}' already has {n} run(s) going (max_concurrent {})",
                        plan.shown,
                        plan.event.actor,
                        plan.overlap.max.unwrap_or(n)
                    ));
                    return Ok(Err(Exit::Blocked(plan.block_exit_code)));
                }
            }
        }
    }

    /// Under the actor's lock: the overlap limit, then the check; reports a set-aside state.
    fn admit(&self, event: &Event<'_>) -> Result<Gate, Failure> {
        let save = !self.plan.dry_run;
        let max = self.plan.overlap.max;
        let window = self.guard.config().settings_for(event.actor()).window_secs;
        let window_ns = (window * 1e9) as u64;
        let (gate, notice) =
            state::transact(self.store, event.actor(), &self.guard, save, |txn| {
                txn.config = Some(self.config_id.clone());
                match txn.admit(event, max, save) {
                    Err(n) => Gate::Busy(n),
                    Ok(assessment) => Gate::Checked(Admitted {
                        durations: txn.durations.clone(),
                        registered: save && max.is_some() && assessment.decision != Decision::Block,
                        in_window: save
                            .then(|| {
                                txn.note_decision(
                                    nanos(assessment.at),
                                    textfile::code(assessment.decision),
                                    window_ns,
                                    self.plan.metrics_file.is_some(),
                                )
                            })
                            .flatten(),
                        assessment,
                    }),
                }
            })?;
        if let Some(notice) = notice {
            self.printer.always(notice);
        }
        Ok(gate)
    }

    /// This run's limits: the plan's, with the limit learned from the job's recent runs when
    /// `max_runtime = "auto"` (an explicit limit stays a ceiling).
    fn limits(&self, durations: &[u64]) -> supervise::Limits {
        let mut limits = self.plan.limits.clone();
        let Some(auto) = self.plan.auto_runtime else {
            return limits;
        };
        if let Some(learned) = runtime::learned(durations, &auto) {
            if limits
                .max_runtime
                .is_none_or(|ceiling| learned.limit < ceiling)
            {
                limits.max_runtime = Some(learned.limit);
                limits.learned = Some(learned.explain(&auto));
            }
        }
        limits
    }

    /// Takes this run off the actor's list of running instances, keeps why the guard stopped
    /// it, if it did, and how long it took when it ended on its own (`max_runtime = "auto"`).
    fn after_run(
        &self,
        stopped: Option<&LastStop>,
        completed: Option<Duration>,
    ) -> Result<(), Failure> {
        state::transact(
            self.store,
            &self.plan.event.actor,
            &self.guard,
            true,
            |txn| {
                txn.leave();
                if let Some(stop) = stopped {
                    txn.last_stop = Some(stop.clone());
                }
                if let Some(ran) = completed {
                    runtime::keep(&mut txn.durations, ran);
                    txn.durations_changed = true;
                }
            },
        )?;
        Ok(())
    }

    /// Reports and enacts a decision before the run; `Some(exit)` when the command must not run.
    async fn act(&mut self, a: &Assessment) -> Option<Exit> {
        let plan = self.plan;
        let (actor, shown) = (&plan.event.actor, &plan.shown);
        let dry = if plan.dry_run {
            " (dry run: not enforced)"
        } else {
            ""
        };
        let (risk, why) = (a.risk, reasons(a));
        match a.decision {
            Decision::Allow => {
                if plan.explain || plan.dry_run {
                    self.printer.always(format!(
                        "allow '{shown}' for actor '{actor}' (risk {risk:.2}): {why}{dry}"
                    ));
                }
                None
            }
            Decision::Warn => {
                self.printer.note(format!(
                    "warning: unusual runs of '{shown}' for actor '{actor}' (risk {risk:.2}): {why}{dry}"
                ));
                None
            }
            Decision::Delay(d) => {
                self.printer.note(format!(
                    "delaying '{shown}' by {} for actor '{actor}' (risk {risk:.2}): {why}{dry}",
                    human(d)
                ));
                if plan.dry_run {
                    return None;
                }
                let bar = self.progress.bar(d.as_millis() as u64, signals::COUNTDOWN);
                signals::wait_showing(d, bar, signals::show_countdown, &mut self.signals)
                    .await
                    .map(|sig| Exit::Interrupted(sig as i32))
            }
            Decision::Block => {
                let when = a
                    .retry_after
                    .map(|d| format!("; it may run again in {}", human(d)))
                    .unwrap_or_default();
                self.printer.alert(format!(
                    "blocked '{shown}' for actor '{actor}' (risk {risk:.2}): {why}{when}{dry}"
                ));
                (!plan.dry_run).then_some(Exit::Blocked(plan.block_exit_code))
            }
        }
    }
}

/// Nanoseconds since the Unix epoch.
fn nanos(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// What the actor's history keeps of a run the guard stopped.
fn stop_record(end: &RunEnd) -> Option<LastStop> {
    let stop = end.stopped.as_ref()?;
    Some(LastStop {
        at_ns: SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        why: match stop {
            Stop::Runtime(..) => "runtime",
            Stop::Looped(_) => "looped",
        }
        .into(),
        message: stop.to_string(),
        exit: if end.exit == Exit::Killed { 137 } else { 124 },
    })
}
