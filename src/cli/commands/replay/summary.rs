//! What a replay found: counts per decision, rejected lines, and per actor the peak risk, when it
//! first reached warn / delay / block, how often, which detectors fired, and its risk over time.
//!
//! Memory stays bounded whatever the input: rejected lines keep only the first few reasons, and
//! the per-actor table holds at most [`MAX_TRACKED`] actors. Past that the half with the lowest
//! peak risk is forgotten (counted in `actors_forgotten`); the totals stay exact.

use std::cmp::Ordering;
use std::fmt::Write;
use std::time::Duration;

use std::collections::HashMap;

use pattern_guard::{Assessment, Detector, LearnedRate};
use serde_json::{json, Value};

use pattern_guard::input::time::format_rfc3339;

use super::spark::Spark;
use crate::cli::output::human;

/// Actors the summary keeps statistics for at once.
pub const MAX_TRACKED: usize = 100_000;
/// Rejected lines reported by line number and reason.
pub const SHOWN_REJECTS: usize = 5;

#[derive(Default)]
pub struct Summary {
    /// Lines read, blank ones included.
    pub lines: u64,
    /// Lines that held an event.
    pub events: u64,
    /// Lines a pattern format matched no pattern of (an sshd log's other lines).
    pub not_events: u64,
    /// Malformed lines.
    pub rejected: u64,
    pub first_rejects: Vec<(u64, String)>,
    /// Events per decision, by severity (allow, warn, delay, block).
    pub decisions: [u64; 4],
    pub first_ts: Option<u64>,
    pub last_ts: Option<u64>,
    /// Events stamped before the newest event read before them.
    pub out_of_order: u64,
    /// Keyed by the xxh3 hash of the actor id, compared as the whole key: with tens of thousands
    /// of live actors a lookup then reads one table slot, not the id behind a pointer (two
    /// distinct ids share a 64-bit hash with odds of about n^2 / 2^65).
    actors: hashbrown::HashTable<Tracked>,
    pub actors_forgotten: u64,
    /// The baseline detector is on for some actor.
    baseline_on: bool,
    /// What the baseline learned of the top actors, filled in before the report.
    pub learned: HashMap<String, LearnedRate>,
}

/// An actor in the table: its id's hash, its record, the id. Laid out for the per-event
/// update: the hash and the counters an event touches share the first cache line, the sparkline
/// takes the next two, the id (read only for the report) comes last.
#[repr(C, align(64))]
struct Tracked {
    hash: u64,
    summary: ActorSummary,
    actor: Box<str>,
}

fn actor_hash(actor: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(actor.as_bytes())
}

/// One actor's record (in the order an event's update reads it: see [`Tracked`]).
#[derive(Clone)]
#[repr(C)]
pub struct ActorSummary {
    pub events: u64,
    pub decisions: [u64; 4],
    pub peak_risk: f64,
    pub peak_level: u8,
    /// Detectors with a risk above zero on any of its warn, delay or block events, one bit each
    /// in [`Detector::ALL`] order.
    pub fired: u32,
    pub spark: Spark,
    /// When it first got warn, delay, block.
    pub first: [Option<u64>; 3],
    /// Events on which the baseline detector fired (its risk above zero), and the first's time.
    pub baseline_fired: u64,
    pub baseline_first: Option<u64>,
}

impl Summary {
    pub fn reject(&mut self, line: u64, why: String) {
        self.rejected += 1;
        if self.first_rejects.len() < SHOWN_REJECTS {
            self.first_rejects.push((line, why));
        }
    }

    /// Counts an event's time (also when the guard is not run).
    pub fn saw(&mut self, ts: u64) {
        self.events += 1;
        if self.last_ts.is_some_and(|newest| ts < newest) {
            self.out_of_order += 1;
        }
        self.first_ts = Some(self.first_ts.map_or(ts, |t| t.min(ts)));
        self.last_ts = Some(self.last_ts.map_or(ts, |t| t.max(ts)));
    }

    /// Reads the lines [`Self::record`] will update for each of `actors` (the counters, then
    /// the sparkline), changing nothing: called for a batch of events before any is recorded,
    /// the batch's memory waits overlap instead of following one another.
    pub fn warm<'a>(&self, actors: impl Iterator<Item = &'a str>) {
        // In passes of independent loads: the table's control bytes (the first entry whose tag
        // matches, not compared), the entries' counters, their sparklines.
        let hashes: Vec<u64> = actors.map(actor_hash).collect();
        let found: Vec<&Tracked> = hashes
            .iter()
            .filter_map(|&hash| self.actors.find(hash, |_| true))
            .collect();
        for t in &found {
            std::hint::black_box(t.hash);
        }
        for t in &found {
            std::hint::black_box(t.summary.spark.warm());
        }
    }

    pub fn record(&mut self, actor: &str, ts: u64, a: &Assessment) {
        let severity = usize::from(a.decision.severity()).min(3);
        self.decisions[severity] += 1;
        let hash = actor_hash(actor);
        if self.actors.len() >= MAX_TRACKED && self.actors.find(hash, |t| t.hash == hash).is_none()
        {
            self.forget_least_risky();
        }
        let entry = &mut self
            .actors
            .entry(hash, |t| t.hash == hash, |t| t.hash)
            .or_insert_with(|| Tracked {
                hash,
                actor: actor.into(),
                summary: ActorSummary::new(),
            })
            .into_mut()
            .summary;
        entry.events += 1;
        entry.decisions[severity] += 1;
        if a.risk > entry.peak_risk {
            entry.peak_risk = a.risk;
        }
        entry.peak_level = entry.peak_level.max(a.escalation_level);
        if severity > 0 {
            entry.first[severity - 1].get_or_insert(ts);
            for r in a.readings.iter().filter(|r| r.fired()) {
                entry.fired |= 1 << detector_bit(r.detector);
            }
        }
        entry.spark.add(ts, a.risk);
        if self.baseline_on {
            if let Some(r) = a.readings.iter().find(|r| r.detector == Detector::Baseline) {
                if r.fired() {
                    entry.baseline_fired += 1;
                    entry.baseline_first.get_or_insert(ts);
                }
            }
        }
    }

    pub fn baseline_on(&self) -> bool {
        self.baseline_on
    }

    /// The baseline detector is on: track where it fires, and show what it learned.
    pub fn with_baseline(mut self, on: bool) -> Self {
        self.baseline_on = on;
        self
    }

    /// Drops the half of the table with the lowest peak risk (fewest blocks, then events).
    fn forget_least_risky(&mut self) {
        let mut ranked: Vec<((f64, u64, u64), u64)> = self
            .actors
            .iter()
            .map(|t| (t.summary.score(), t.hash))
            .collect();
        let half = ranked.len() / 2;
        ranked.select_nth_unstable_by(half, |a, b| {
            a.0.partial_cmp(&b.0).unwrap_or(Ordering::Equal)
        });
        for &(_, hash) in &ranked[..half] {
            if let Ok(entry) = self.actors.find_entry(hash, |t| t.hash == hash) {
                entry.remove();
            }
        }
        self.actors_forgotten += half as u64;
    }

    /// The `n` actors with the highest peak risk (then most blocks, then most events).
    ///
    /// The `n` are selected first and only they are sorted: a replay can track 100,000 actors,
    /// and the report shows ten.
    pub fn top(&self, n: usize) -> Vec<(&str, &ActorSummary)> {
        let mut all: Vec<(&str, &ActorSummary)> = self
            .actors
            .iter()
            .map(|t| (&*t.actor, &t.summary))
            .collect();
        // A total order: ids are distinct, so no two actors compare equal.
        let rank = |a: &(&str, &ActorSummary), b: &(&str, &ActorSummary)| {
            b.1.score()
                .partial_cmp(&a.1.score())
                .unwrap_or(Ordering::Equal)
                .then_with(|| a.0.cmp(b.0))
        };
        if n < all.len() {
            all.select_nth_unstable_by(n, rank);
            all.truncate(n);
        }
        all.sort_unstable_by(rank);
        all
    }
}

// One bit per detector in `ActorSummary::fired`.
const _: () = assert!(Detector::ALL.len() <= 32);

fn detector_bit(d: Detector) -> u32 {
    Detector::ALL.iter().position(|x| *x == d).unwrap_or(0) as u32
}

fn fired_names(bits: u32) -> Vec<&'static str> {
    Detector::ALL
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, d)| d.name())
        .collect()
}

impl ActorSummary {
    fn new() -> Self {
        ActorSummary {
            events: 0,
            decisions: [0; 4],
            peak_risk: 0.0,
            peak_level: 0,
            first: [None; 3],
            fired: 0,
            spark: Spark::default(),
            baseline_fired: 0,
            baseline_first: None,
        }
    }

    fn score(&self) -> (f64, u64, u64) {
        (self.peak_risk, self.decisions[3], self.events)
    }

    /// This actor's block in the text summary, ranked `rank`.
    fn write_text(&self, o: &mut String, rank: usize, actor: &str, learned: Option<&LearnedRate>) {
        let _ = writeln!(
            o,
            "{rank:>3}. {actor}  peak risk {:.2}, level {}; {} events: {} allow, {} warn, {} delay, {} block",
            self.peak_risk,
            self.peak_level,
            count(self.events),
            count(self.decisions[0]),
            count(self.decisions[1]),
            count(self.decisions[2]),
            count(self.decisions[3]),
        );
        if self.fired != 0 {
            let _ = writeln!(o, "     fired: {}", fired_names(self.fired).join(", "));
        }
        let firsts: Vec<String> = ["warn", "delay", "block"]
            .iter()
            .zip(self.first)
            .filter_map(|(name, at)| at.map(|t| format!("{name} {}", format_rfc3339(t))))
            .collect();
        if !firsts.is_empty() {
            let _ = writeln!(o, "     first {}", firsts.join(", "));
        }
        if let Some(l) = learned {
            let fired = match self.baseline_first {
                Some(t) => format!(
                    "; fired on {} events, first {}",
                    count(self.baseline_fired),
                    format_rfc3339(t)
                ),
                None => "; never fired".into(),
            };
            let _ = writeln!(
                o,
                "     baseline: learned {:.1} ± {:.1} events per {} over {} buckets{fired}",
                l.mean,
                l.spread,
                human(l.bucket),
                count(l.buckets)
            );
        }
        let _ = writeln!(
            o,
            "     risk |{}|  from {}, {} a mark",
            self.spark.render(),
            format_rfc3339(self.spark.start),
            human(Duration::from_nanos(self.spark.width))
        );
    }
}

/// What the report says besides the counts.
pub struct Report<'a> {
    pub input: &'a str,
    pub format: &'a str,
    pub config: &'a str,
    pub elapsed: Duration,
    pub parse_only: bool,
    /// The last line read before a Ctrl-C.
    pub interrupted_at: Option<u64>,
    pub top: usize,
}

fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn rate(events: u64, elapsed: Duration) -> f64 {
    events as f64 / elapsed.as_secs_f64().max(1e-9)
}

impl Summary {
    /// The summary for people.
    pub fn text(&self, r: &Report<'_>) -> String {
        let mut o = String::new();
        self.write_header(&mut o, r);
        if !r.parse_only {
            self.write_decisions(&mut o);
            self.write_top(&mut o, r.top);
        }
        self.write_rejects(&mut o);
        o
    }

    /// What was read, how fast, and the time span of the events.
    fn write_header(&self, o: &mut String, r: &Report<'_>) {
        let interrupted = match r.interrupted_at {
            Some(line) => format!(": interrupted after line {}, figures so far", count(line)),
            None => String::new(),
        };
        let _ = writeln!(
            o,
            "replay of {} ({}) under {}{interrupted}",
            r.input, r.format, r.config
        );
        let not_events = if self.not_events > 0 {
            format!(", {} not an event", count(self.not_events))
        } else {
            String::new()
        };
        let _ = writeln!(
            o,
            "  {} lines, {} events{not_events}, {} rejected; read in {:.2} s ({:.2} M events/s{})",
            count(self.lines),
            count(self.events),
            count(self.rejected),
            r.elapsed.as_secs_f64(),
            rate(self.events, r.elapsed) / 1e6,
            if r.parse_only { ", parsing only" } else { "" }
        );
        if let (Some(first), Some(last)) = (self.first_ts, self.last_ts) {
            let out_of_order = if self.out_of_order > 0 {
                format!(", {} out of order", count(self.out_of_order))
            } else {
                String::new()
            };
            let _ = writeln!(
                o,
                "  events from {} to {} ({}){out_of_order}",
                format_rfc3339(first),
                format_rfc3339(last),
                human(Duration::from_nanos(last - first)),
            );
        }
    }

    /// Counts per decision, with their shares.
    fn write_decisions(&self, o: &mut String) {
        let total = self.decisions.iter().sum::<u64>().max(1) as f64;
        let _ = write!(o, "  decisions:");
        for (name, n) in ["allow", "warn", "delay", "block"]
            .iter()
            .zip(self.decisions)
        {
            let _ = write!(
                o,
                "  {name} {} ({:.2}%)",
                count(n),
                n as f64 * 100.0 / total
            );
        }
        let _ = writeln!(o);
    }

    /// The `n` riskiest actors, each with its block.
    fn write_top(&self, o: &mut String, n: usize) {
        let top = self.top(n);
        if top.is_empty() {
            return;
        }
        let forgotten = if self.actors_forgotten > 0 {
            format!(
                " ({} low-risk actors not kept, past {})",
                count(self.actors_forgotten),
                count(MAX_TRACKED as u64)
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            o,
            "\ntop {} of {} actors by peak risk{forgotten}:",
            top.len(),
            count(self.actors.len() as u64 + self.actors_forgotten),
        );
        for (i, (actor, s)) in top.iter().enumerate() {
            s.write_text(o, i + 1, actor, self.learned.get(*actor));
        }
    }

    /// The first rejected lines, with why.
    fn write_rejects(&self, o: &mut String) {
        if self.rejected == 0 {
            return;
        }
        let _ = writeln!(
            o,
            "\nrejected lines (first {} of {}):",
            self.first_rejects.len(),
            count(self.rejected)
        );
        for (line, why) in &self.first_rejects {
            let _ = writeln!(o, "  line {line}: {why}");
        }
    }

    /// The summary as JSON.
    pub fn json(&self, r: &Report<'_>, explain: Option<Vec<Value>>) -> Value {
        let decisions =
            |d: [u64; 4]| json!({"allow": d[0], "warn": d[1], "delay": d[2], "block": d[3]});
        let top: Vec<Value> = if r.parse_only {
            Vec::new()
        } else {
            self.top(r.top)
                .into_iter()
                .map(|(actor, s)| {
                    json!({
                        "actor": actor,
                        "events": s.events,
                        "peak_risk": s.peak_risk,
                        "peak_level": s.peak_level,
                        "decisions": decisions(s.decisions),
                        "first": {
                            "warn": s.first[0].map(format_rfc3339),
                            "delay": s.first[1].map(format_rfc3339),
                            "block": s.first[2].map(format_rfc3339),
                        },
                        "detectors": fired_names(s.fired),
                        "risk_over_time": {
                            "start": format_rfc3339(s.spark.start),
                            "step_secs": s.spark.width as f64 / 1e9,
                            "max_risk": s.spark.buckets(),
                        },
                        "sparkline": s.spark.render(),
                        "baseline": self.learned.get(actor).map(|l| json!({
                            "learned_mean": l.mean,
                            "learned_spread": l.spread,
                            "buckets": l.buckets,
                            "bucket_secs": l.bucket.as_secs_f64(),
                            "fired_events": s.baseline_fired,
                            "first_fired": s.baseline_first.map(format_rfc3339),
                        })),
                    })
                })
                .collect()
        };
        let mut v = json!({
            "input": r.input,
            "format": r.format,
            "config": r.config,
            "lines": self.lines,
            "events": self.events,
            "not_events": self.not_events,
            "rejected": self.rejected,
            "rejected_first": self.first_rejects.iter().map(|(line, why)| json!({"line": line, "reason": why})).collect::<Vec<_>>(),
            "decisions": if r.parse_only { Value::Null } else { decisions(self.decisions) },
            "first_event": self.first_ts.map(format_rfc3339),
            "last_event": self.last_ts.map(format_rfc3339),
            "out_of_order": self.out_of_order,
            "elapsed_secs": r.elapsed.as_secs_f64(),
            "events_per_sec": rate(self.events, r.elapsed),
            "parse_only": r.parse_only,
            "interrupted_after_line": r.interrupted_at,
            "actors": self.actors.len() as u64 + self.actors_forgotten,
            "actors_forgotten": self.actors_forgotten,
            "top": top,
        });
        if let Some(explain) = explain {
            v["explain"] = Value::Array(explain);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_table_forgets_the_half_with_the_lowest_peak_risk() {
        let mut s = Summary::default();
        for i in 0..10u64 {
            let mut a = ActorSummary::new();
            a.peak_risk = i as f64 / 10.0;
            a.events = 1;
            let actor = format!("a{i}");
            let hash = actor_hash(&actor);
            s.actors.insert_unique(
                hash,
                Tracked {
                    hash,
                    actor: actor.into(),
                    summary: a,
                },
                |t| t.hash,
            );
        }
        s.forget_least_risky();
        assert_eq!(s.actors_forgotten, 5);
        let kept: Vec<&str> = s.top(10).iter().map(|(k, _)| *k).collect();
        assert_eq!(kept, ["a9", "a8", "a7", "a6", "a5"]);
    }

    #[test]
    fn the_top_actors_are_the_first_of_the_whole_ranking() {
        let mut s = Summary::default();
        let mut a = Assessment::default();
        // Few distinct scores, so ties are broken by the id.
        for i in 0..2_000u64 {
            a.risk = (i * 7 % 5) as f64 / 5.0;
            a.decision = if i % 3 == 0 {
                pattern_guard::Decision::Block
            } else {
                pattern_guard::Decision::Allow
            };
            s.record(&format!("actor-{}", i % 500), i, &a);
        }
        // The ranking, worked out the slow way: every actor, one full sort.
        let mut everyone: Vec<(&str, &ActorSummary)> =
            s.actors.iter().map(|t| (&*t.actor, &t.summary)).collect();
        everyone.sort_by(|x, y| {
            let (sx, sy) = (x.1.score(), y.1.score());
            sy.partial_cmp(&sx).unwrap().then_with(|| x.0.cmp(y.0))
        });
        let everyone: Vec<&str> = everyone.iter().map(|(k, _)| *k).collect();
        assert_eq!(everyone.len(), 500);
        for n in [0, 1, 10, 100, 250, 499, 500, 501] {
            let top: Vec<&str> = s.top(n).iter().map(|(k, _)| *k).collect();
            assert_eq!(top, everyone[..n.min(500)], "top {n}");
        }
    }

    #[test]
    fn counts_read_with_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(2_000_000), "2,000,000");
    }
}
