//! `check`: record one event in its actor's history and print the decision; the exit status
//! carries it (0 allow, 10 warn, 11 delay, 75 block), for scripts that act themselves.

use std::time::SystemTime;

use pattern_guard::{Config, Decision, Event, Guard};

use crate::cli::exit_code::{self, Exit, Failure};
use crate::cli::options::EventSpec;
use crate::cli::output::{assessment_json, human, reasons, Printer};
use crate::cli::state::{self, ConfigId, History};

pub fn check(
    store: &dyn History,
    config: Config,
    config_id: &ConfigId,
    spec: &EventSpec,
    at: Option<SystemTime>,
    json: bool,
    printer: Printer,
) -> Result<Exit, Failure> {
    let guard = Guard::from_config(config)?;
    let target = spec.target.as_deref().unwrap_or("-");
    let event = Event::new(
        spec.actor.as_str(),
        spec.action.as_str(),
        target,
        at.unwrap_or_else(SystemTime::now),
    )
    .with_weight(spec.weight);
    let (a, notice) = state::transact(store, &spec.actor, &guard, true, |txn| {
        txn.config = Some(config_id.clone());
        if at.is_some() {
            txn.assess_at(&event)
        } else {
            txn.assess(&event)
        }
    })?;
    if let Some(notice) = notice {
        printer.always(notice);
    }
    if json {
        println!("{}", assessment_json(&spec.actor, &a));
    } else {
        let retry = a
            .retry_after
            .map(|d| format!(", retry in {}", human(d)))
            .unwrap_or_default();
        println!(
            "{} (risk {:.2}{retry}): {}",
            a.decision,
            a.risk,
            reasons(&a)
        );
    }
    Ok(match a.decision {
        Decision::Allow => Exit::Success,
        Decision::Warn => Exit::Decision(exit_code::CHECK_WARN),
        Decision::Delay(_) => Exit::Decision(exit_code::CHECK_DELAY),
        Decision::Block => Exit::Blocked(exit_code::BLOCKED),
    })
}
