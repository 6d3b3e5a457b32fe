//! Metrics in the Prometheus text format (exposition format 0.0.4), for `node_exporter`'s textfile
//! collector and scrape-by-cron setups: the last run of an actor (`--metrics-file`, written
//! after each run) and every actor's state (`status --prometheus`).
//!
//! A file is written whole or not at all: a temp file in the same directory, then a rename, so
//! the collector never reads half of one. Several jobs writing to one directory use one file
//! each (`--metrics-file /var/lib/node_exporter/textfile/backup.prom`): the collector merges
//! the files, and each series carries its actor.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime};

use pattern_guard::{ActorStatus, Assessment, Decision};

/// The decisions, in the order of their code (0 allow, 1 warn, 2 delay, 3 block).
pub const DECISIONS: [&str; 4] = ["allow", "warn", "delay", "block"];

/// A decision's code, as kept beside a history.
pub fn code(decision: Decision) -> u8 {
    match decision {
        Decision::Allow => 0,
        Decision::Warn => 1,
        Decision::Delay(_) => 2,
        Decision::Block => 3,
    }
}

/// One run, for `--metrics-file`.
pub struct LastRun<'a> {
    pub actor: &'a str,
    /// When it was checked.
    pub at: SystemTime,
    pub assessment: &'a Assessment,
    /// The exit status pattern-guard reported for it.
    pub exit: u8,
    /// How long the command ran (zero when it did not).
    pub duration: Duration,
    /// The actor's runs in its window by decision (this one included); `None` when unknown.
    pub in_window: Option<[u64; 4]>,
}

/// `"..."` with the exposition format's escapes.
fn label(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A metric family's header.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The last run of one actor.
pub fn last_run(run: &LastRun<'_>) -> String {
    let mut out = String::new();
    let actor = label(run.actor);
    let a = run.assessment;
    family(
        &mut out,
        "pattern_guard_last_run_timestamp_seconds",
        "gauge",
        "When the actor's last run was checked, in seconds since the Unix epoch.",
    );
    let _ = writeln!(
        out,
        "pattern_guard_last_run_timestamp_seconds{{actor={actor}}} {:.3}",
        unix(run.at)
    );
    family(
        &mut out,
        "pattern_guard_last_run_decision",
        "gauge",
        "The last run's decision: 1 for the decision it got, 0 for the others.",
    );
    for d in DECISIONS {
        let got = u8::from(DECISIONS[usize::from(code(a.decision))] == d);
        let _ = writeln!(
            out,
            "pattern_guard_last_run_decision{{actor={actor},decision=\"{d}\"}} {got}"
        );
    }
    family(
        &mut out,
        "pattern_guard_last_run_risk",
        "gauge",
        "The last run's risk, 0 to 1 (escalation included).",
    );
    let _ = writeln!(
        out,
        "pattern_guard_last_run_risk{{actor={actor}}} {}",
        a.risk
    );
    family(&mut out, "pattern_guard_last_run_exit_status", "gauge",
        "The exit status pattern-guard reported for the last run (75 blocked, 124 stopped as a runaway).");
    let _ = writeln!(
        out,
        "pattern_guard_last_run_exit_status{{actor={actor}}} {}",
        run.exit
    );
    family(
        &mut out,
        "pattern_guard_last_run_duration_seconds",
        "gauge",
        "How long the last run's command ran (0 when it did not run).",
    );
    let _ = writeln!(
        out,
        "pattern_guard_last_run_duration_seconds{{actor={actor}}} {:.3}",
        run.duration.as_secs_f64()
    );
    if let Some(counts) = run.in_window {
        family(
            &mut out,
            "pattern_guard_runs_in_window",
            "gauge",
            "The actor's runs in its current window, by the decision each got.",
        );
        for (d, n) in DECISIONS.iter().zip(counts) {
            let _ = writeln!(
                out,
                "pattern_guard_runs_in_window{{actor={actor},decision=\"{d}\"}} {n}"
            );
        }
    }
    out
}

/// One actor as `status` sees it.
pub struct ActorRow<'a> {
    pub status: &'a ActorStatus,
    /// What its next run would get.
    pub next: Option<&'a Assessment>,
    /// Runs of its job going now.
    pub running: usize,
    /// When the guard last stopped one of its runs, and why (`runtime`, `looped`).
    pub last_stop: Option<(SystemTime, &'a str)>,
}

/// Every actor, for `status --prometheus`.
pub fn actors(rows: &[ActorRow<'_>]) -> String {
    let mut out = String::new();
    let each = |out: &mut String,
                name: &str,
                kind: &str,
                help: &str,
                value: &dyn Fn(&ActorRow<'_>) -> Option<String>| {
        family(out, name, kind, help);
        for row in rows {
            if let Some(v) = value(row) {
                let _ = writeln!(out, "{name}{{actor={}}} {v}", label(&row.status.actor));
            }
        }
    };
    each(
        &mut out,
        "pattern_guard_events_in_window",
        "gauge",
        "The actor's events in its current window.",
        &|r| Some(r.status.events.to_string()),
    );
    each(
        &mut out,
        "pattern_guard_escalation_level",
        "gauge",
        "The actor's escalation level (0 = none).",
        &|r| Some(r.status.escalation_level.to_string()),
    );
    each(
        &mut out,
        "pattern_guard_last_seen_timestamp_seconds",
        "gauge",
        "When the actor's latest event happened, in seconds since the Unix epoch.",
        &|r| Some(format!("{:.3}", unix(r.status.last_seen))),
    );
    each(
        &mut out,
        "pattern_guard_next_run_risk",
        "gauge",
        "The risk the actor's next run would get now.",
        &|r| r.next.map(|a| a.risk.to_string()),
    );
    family(
        &mut out,
        "pattern_guard_next_run_decision",
        "gauge",
        "The decision the actor's next run would get now: 1 for it, 0 for the others.",
    );
    for row in rows {
        if let Some(a) = row.next {
            for d in DECISIONS {
                let got = u8::from(DECISIONS[usize::from(code(a.decision))] == d);
                let _ = writeln!(
                    out,
                    "pattern_guard_next_run_decision{{actor={},decision=\"{d}\"}} {got}",
                    label(&row.status.actor)
                );
            }
        }
    }
    each(
        &mut out,
        "pattern_guard_running",
        "gauge",
        "Runs of the actor's job going now.",
        &|r| Some(r.running.to_string()),
    );
    family(
        &mut out,
        "pattern_guard_last_stop_timestamp_seconds",
        "gauge",
        "When the guard last stopped one of the actor's runs (past its runtime, or looping).",
    );
    for row in rows {
        if let Some((at, why)) = row.last_stop {
            let _ = writeln!(
                out,
                "pattern_guard_last_stop_timestamp_seconds{{actor={},why={}}} {:.3}",
                label(&row.status.actor),
                label(why),
                unix(at)
            );
        }
    }
    out
}

/// Writes `text` to `path` whole or not at all: a temp file beside it, then a rename.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the path names no file"))?;
    // A dot first: the textfile collector reads only `*.prom`, never the temp file.
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(text.as_bytes())?;
        f.sync_all()
    });
    match written.and_then(|()| fs::rename(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(label("x\ny"), "\"x\\ny\"");
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.prom");
        write_atomically(&path, "old 1\n").unwrap();
        write_atomically(&path, "new 2\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new 2\n");
        assert!(write_atomically(&dir.path().join("missing/job.prom"), "x").is_err());
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["job.prom"]);
    }
}
