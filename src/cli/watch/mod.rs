//! Watching a run's output for loops (`--watch-output`; contract section 7).
//!
//! With the watch on, the command's stdout and stderr are pipes. A thread per stream
//! ([`pump`]) copies each through unchanged and hands what it copied to a third, which shows
//! every line to the run's output guard ([`monitor`]), which masks what changes between turns of
//! a loop ([`normalize`]), acts only while the output loops ([`loops`]) and decides:
//! warn (one line on stderr), throttle (stop reading, so the command blocks on write), or stop
//! (the supervisor sends SIGTERM to the command's group, as for a runaway).
//!
//! The command sees pipes, not the terminal, on stdout and stderr (stdin is left alone): tools
//! turn colours off and buffer their output in blocks, as they do under `| cat`. A
//! pseudo-terminal would hide that, at the price of a second terminal layer between the user and
//! the command (line discipline, window size, job control); the watch does not take it, and says
//! so in docs/WATCH.md.

mod loops;
mod monitor;
mod normalize;
#[cfg(test)]
mod probe;
mod pump;

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};

use nix::fcntl::OFlag;
use nix::sys::signal::Signal;
use pattern_guard::Config;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

use crate::cli::output::Printer;
pub use monitor::{Repeated, Stream};
use pump::{Message, Shared, WatchClock};

/// The variable that speeds up the output guard's clock, for tests (see [`WatchClock`]).
const TIME_SCALE_VAR: &str = "PATTERN_GUARD_WATCH_TIME_SCALE";

/// What a watched run needs.
#[derive(Clone)]
pub struct WatchPlan {
    /// The whole configuration; its `[output]` section sets the output guard.
    pub config: Config,
    /// The run's actor, also the output guard's.
    pub actor: String,
    pub dry_run: bool,
    pub printer: Printer,
}

/// The write ends the command gets as stdout and stderr.
pub struct ChildEnds {
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// Our read ends, handed to the pumps once the command runs.
pub struct ReadEnds {
    stdout: OwnedFd,
    stderr: OwnedFd,
}

/// Two pipes (close-on-exec on our side: the command gets its ends as its stdout and stderr).
pub fn pipes() -> io::Result<(ChildEnds, ReadEnds)> {
    let (out_r, out_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let (err_r, err_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    Ok((
        ChildEnds {
            stdout: out_w,
            stderr: err_w,
        },
        ReadEnds {
            stdout: out_r,
            stderr: err_r,
        },
    ))
}

/// A running watch: its pumps and what they tell.
pub struct Watch {
    shared: Arc<Shared>,
    told: UnboundedReceiver<Message>,
    /// Whether the analyser has told it is done (it ends after both pumps).
    done: bool,
}

impl Watch {
    /// Starts a pump per stream for the command shown as `shown`.
    pub fn start(plan: &WatchPlan, shown: &str, ends: ReadEnds) -> io::Result<Watch> {
        let monitor = monitor::Monitor::new(&plan.config, &plan.actor).map_err(io::Error::other)?;
        let scale = std::env::var(TIME_SCALE_VAR)
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .unwrap_or(1.0);
        let (tell, told) = unbounded_channel();
        let shared = Arc::new(Shared {
            paused_until: Mutex::new(None),
            stopping: AtomicBool::new(false),
            stop_reported: AtomicBool::new(false),
            command_gone: AtomicBool::new(false),
            clock: WatchClock::new(scale),
            printer: plan.printer,
            dry_run: plan.dry_run,
            shown: shown.to_string(),
            tell,
        });
        let outputs = [
            (
                ends.stdout,
                io::stdout().as_fd().try_clone_to_owned()?,
                Stream::Stdout,
            ),
            (
                ends.stderr,
                io::stderr().as_fd().try_clone_to_owned()?,
                Stream::Stderr,
            ),
        ];
        let (to_analyser, pieces) = sync_channel(pump::IN_FLIGHT);
        for (src, dst, stream) in outputs {
            let (shared, to_analyser) = (Arc::clone(&shared), to_analyser.clone());
            std::thread::Builder::new()
                .name(format!("watch-{}", stream.name()))
                .spawn(move || pump::pump(src, dst.into(), stream, &shared, &to_analyser))?;
        }
        drop(to_analyser);
        let analyser = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("watch-lines".into())
            .spawn(move || pump::analyse(monitor, &pieces, &analyser))?;
        Ok(Watch {
            shared,
            told,
            done: false,
        })
    }

    /// Resolves when the output guard says the command loops; never once the pumps are done.
    pub async fn looped(&mut self) -> Repeated {
        loop {
            match self.told.recv().await {
                Some(Message::Looped(r)) => return r,
                Some(Message::Done) => self.done = true,
                None => std::future::pending().await,
            }
        }
    }

    /// After the command has exited: lets the pumps pass the rest of its output through, then
    /// returns. Signals received meanwhile go to `forward` (the command's group, where whatever
    /// still holds a pipe lives).
    pub async fn finish(
        &mut self,
        mut forward: impl FnMut(Signal),
        signals: &mut super::signals::Signals,
    ) {
        self.shared.command_gone.store(true, Ordering::Relaxed);
        while !self.done {
            tokio::select! {
                msg = self.told.recv() => match msg {
                    Some(Message::Done) => self.done = true,
                    Some(Message::Looped(_)) => {}
                    None => return,
                },
                sig = signals.recv() => forward(sig),
            }
        }
    }
}
