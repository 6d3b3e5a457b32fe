//! `status [ACTOR] [--json]`: what is remembered per actor (recent events, escalation,
//! cool-down, running instances) and what its next run would get. Records nothing.

use std::time::SystemTime;

use pattern_guard::{ActorStatus, Assessment, Config, Guard};
use serde_json::{json, Value};

use crate::cli::exit_code::{Exit, Failure};
use crate::cli::output::{assessment_json, human, Printer};
use crate::cli::state::{History, Instance};

/// One actor as status shows it.
struct Row {
    status: ActorStatus,
    running: Vec<Instance>,
    next: Option<Assessment>,
}

pub fn status(
    store: &dyn History,
    config: &Config,
    actor: Option<&str>,
    json: bool,
    printer: Printer,
) -> Result<Exit, Failure> {
    let rows = rows(store, config, actor, printer)?;
    if json {
        let list: Vec<Value> = rows.iter().map(row_json).collect();
        println!("{}", Value::Array(list));
    } else if rows.is_empty() {
        let whose = actor
            .map(|a| format!(" for actor '{a}'"))
            .unwrap_or_default();
        printer.always(format!("no history{whose} in {}", store.location()));
    } else {
        print_table(&rows);
    }
    Ok(Exit::Success)
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
        let running = match store.read(&entry, &guard)? {
            Ok(running) => running,
            Err(problem) => {
                printer.always(format!("{entry}: {problem}"));
                Vec::new()
            }
        };
        rows.extend(guard.actors(None).into_iter().map(|status| Row {
            next: guard.preview(&status.actor, None),
            running: running.clone(),
            status,
        }));
    }
    Ok(rows)
}

fn row_json(row: &Row) -> Value {
    let s = &row.status;
    json!({
        "next_run": row.next.as_ref().map(|a| assessment_json(&s.actor, a)),
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
