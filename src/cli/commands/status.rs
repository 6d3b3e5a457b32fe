//! `status [ACTOR] [--json]`: what is remembered per actor (recent events, escalation,
//! cool-down, running instances) and what its next run would get. Records nothing.
//!
//! The next run is evaluated under the configuration `status` itself was given. Each history
//! remembers the configuration its last run used; where that is another one (another file, or
//! the same file since edited), `status` says so, since its answer is then not what the runs get.

use std::time::{Duration, SystemTime};

use pattern_guard::{ActorStatus, Assessment, Config, Guard};
use serde_json::{json, Value};

use crate::cli::exit_code::{Exit, Failure};
use crate::cli::options::StatusFormat;
use crate::cli::output::{assessment_json, human, Printer};
use crate::cli::runtime;
use crate::cli::state::{ConfigId, History, Instance, LastStop, Meta};
use crate::cli::textfile;

/// One actor as status shows it.
struct Row {
    status: ActorStatus,
    running: Vec<Instance>,
    next: Option<Assessment>,
    /// The configuration of the actor's last run, when its history says.
    last_config: Option<ConfigId>,
    /// The last run the guard stopped.
    last_stop: Option<LastStop>,
    /// Its typical (median) run, and the limit `max_runtime = "auto"` learned with where it
    /// came from (when enough runs are known).
    runtime: Option<(Duration, Option<(Duration, String)>)>,
}

impl Row {
    /// Whether the last run used another configuration than the one `next` was evaluated under:
    /// other contents (the same text under another path is the same configuration).
    fn config_differs(&self, current: &ConfigId) -> bool {
        self.last_config
            .as_ref()
            .is_some_and(|last| last.hash != current.hash)
    }
}

pub fn status(
    store: &dyn History,
    config: &Config,
    config_id: &ConfigId,
    actor: Option<&str>,
    format: StatusFormat,
    printer: Printer,
) -> Result<Exit, Failure> {
    let rows = rows(store, config, actor, printer)?;
    if format == StatusFormat::Prometheus {
        let shown: Vec<textfile::ActorRow<'_>> = rows
            .iter()
            .map(|row| textfile::ActorRow {
                status: &row.status,
                next: row.next.as_ref(),
                running: row.running.len(),
                last_stop: row.last_stop.as_ref().map(|s| {
                    (
                        SystemTime::UNIX_EPOCH + Duration::from_nanos(s.at_ns),
                        s.why.as_str(),
                    )
                }),
            })
            .collect();
        print!("{}", textfile::actors(&shown));
        return Ok(Exit::Success);
    }
    if format == StatusFormat::Json {
        let list: Vec<Value> = rows.iter().map(|row| row_json(row, config_id)).collect();
        println!("{}", Value::Array(list));
        return Ok(Exit::Success);
    }
    if rows.is_empty() {
        let whose = actor
            .map(|a| format!(" for actor '{a}'"))
            .unwrap_or_default();
        printer.always(format!("no history{whose} in {}", store.location()));
        return Ok(Exit::Success);
    }
    print_table(&rows);
    println!("(NEXT RUN evaluated under {})", config_id.source);
    let now = SystemTime::now();
    for row in &rows {
        if let Some(stop) = &row.last_stop {
            let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_nanos(stop.at_ns);
            println!(
                "{}: last stopped {} ago (exit {}): {}",
                row.status.actor,
                human(now.duration_since(at).unwrap_or_default()),
                stop.exit,
                stop.message
            );
        }
    }
    for row in &rows {
        if let Some((typical, learned)) = &row.runtime {
            let limit = learned.as_ref().map_or_else(
                || "no learned limit yet".to_string(),
                |(limit, why)| format!("learned limit {} ({why})", human(*limit)),
            );
            println!(
                "{}: typical run {}, {limit}",
                row.status.actor,
                human(*typical)
            );
        }
    }
    for row in rows.iter().filter(|r| r.config_differs(config_id)) {
        if let Some(last) = &row.last_config {
            printer.always(config_warning(&row.status.actor, last, config_id));
        }
    }
    Ok(Exit::Success)
}

/// Why an actor's NEXT RUN may not be what its runs get.
fn config_warning(actor: &str, last: &ConfigId, current: &ConfigId) -> String {
    if last.source == current.source {
        format!(
            "warning: actor '{actor}' last ran under {} as it was then; the file has changed \
             since, so its NEXT RUN shows the new contents",
            last.source
        )
    } else {
        format!(
            "warning: actor '{actor}' last ran under {}, not {}: its NEXT RUN above is what {} \
             would decide (pass --config {} for what its runs will get)",
            last.source, current.source, current.source, last.source
        )
    }
}

/// Every actor in the store (or just `actor`), each read under a shared lock into a guard of
/// its own.
fn rows(
    store: &dyn History,
    config: &Config,
    actor: Option<&str>,
    printer: Printer,
) -> Result<Vec<Row>, Failure> {
    let entries = match actor {
        Some(a) => vec![store.entry(a)],
        None => store.entries()?,
    };
    let mut rows = Vec::new();
    for entry in entries {
        let guard = Guard::from_config(config.clone())?;
        let meta = match store.read(&entry, &guard)? {
            Ok(meta) => meta,
            Err(problem) => {
                printer.always(format!("{entry}: {problem}"));
                Meta::default()
            }
        };
        rows.extend(guard.actors(None).into_iter().map(|status| Row {
            runtime: learned_runtime(config, &status.actor, &meta.durations),
            next: guard.preview(&status.actor, None),
            running: meta.running.clone(),
            last_config: meta.config.clone(),
            last_stop: meta.last_stop.clone(),
            status,
        }));
    }
    Ok(rows)
}

/// The actor's typical run and, under `max_runtime = "auto"`, its learned limit.
fn learned_runtime(
    config: &Config,
    actor: &str,
    durations: &[u64],
) -> Option<(Duration, Option<(Duration, String)>)> {
    let typical = runtime::typical(durations)?;
    let s = config.settings_for(actor);
    let auto = runtime::AutoRuntime {
        min_runs: usize::try_from(s.runtime_min_runs).unwrap_or(usize::MAX),
        factor: s.runtime_factor,
        floor: Duration::from_secs_f64(s.runtime_floor_secs),
    };
    let learned = (s.max_runtime == pattern_guard::MaxRuntime::Auto)
        .then(|| runtime::learned(durations, &auto))
        .flatten()
        .map(|l| (l.limit, l.explain(&auto)));
    Some((typical, learned))
}

fn row_json(row: &Row, current: &ConfigId) -> Value {
    let s = &row.status;
    json!({
        "typical_run_secs": row.runtime.as_ref().map(|r| r.0.as_secs_f64()),
        "learned_max_runtime_secs": row.runtime.as_ref().and_then(|r| r.1.as_ref()).map(|l| l.0.as_secs_f64()),
        "next_run": row.next.as_ref().map(|a| assessment_json(&s.actor, a)),
        "next_run_config": current.source,
        "last_run_config": row.last_config.as_ref().map(|c| c.source.as_str()),
        "config_differs": row.config_differs(current),
        "last_stop": row.last_stop.as_ref().map(|stop| json!({
            "at_unix": stop.at_ns as f64 / 1e9,
            "why": stop.why,
            "message": stop.message,
            "exit": stop.exit,
        })),
        "running": row.running.iter().map(|i| json!({
            "pid": i.pid,
            "since_unix": i.since_ns as f64 / 1e9,
        })).collect::<Vec<_>>(),
        "actor": s.actor,
        "events_in_window": s.events,
        "escalation_level": s.escalation_level,
        "last_seen_unix": s.last_seen.duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64()),
        "cool_down_in_secs": s.cool_down_in.as_secs_f64(),
        "window_clears_in_secs": s.window_clears_in.as_secs_f64(),
    })
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<24} {:>7} {:>6} {:>12} {:>14} {:>10} {:>8}  NEXT RUN",
        "ACTOR", "EVENTS", "LEVEL", "LAST SEEN", "WINDOW CLEARS", "COOL-DOWN", "RUNNING"
    );
    let now = SystemTime::now();
    for row in rows {
        let s = &row.status;
        let next = row.next.as_ref().map_or_else(
            || "-".into(),
            |a| format!("{} (risk {:.2})", a.decision, a.risk),
        );
        let ago = now.duration_since(s.last_seen).unwrap_or_default();
        println!(
            "{:<24} {:>7} {:>6} {:>12} {:>14} {:>10} {:>8}  {next}",
            s.actor,
            s.events,
            s.escalation_level,
            format!("{} ago", human(ago)),
            human(s.window_clears_in),
            human(s.cool_down_in),
            row.running.len()
        );
    }
}
