//! Running the guarded command and watching over it: [`run`] spawns it, supervises it (signals
//! forwarded, the runtime limit), stops it with [`stop_with_signal`] when it runs away, and maps
//! how it ended to an exit code.
//!
//! - The child starts in its own process group, so a stop reaches its whole tree.
//! - INT, TERM, HUP and QUIT received by pattern-guard are forwarded to that group.
//! - A runaway (past its maximum runtime) gets SIGTERM on its group, then SIGKILL on the group
//!   after the grace period; exit 124, or 137 when KILL was needed. The group is cleared before
//!   pattern-guard exits, so no grandchild is left behind.
//! - At a terminal, when pattern-guard is the terminal's foreground process group, the child's
//!   group is made the foreground group while it runs (and the terminal is taken back after), so
//!   an interactive command can read the terminal and Ctrl-C reaches it directly, as unwrapped.
//!   This is the case GNU `timeout` needs `--foreground` for.
//! - With the output watch on ([`watch`](super::watch)), the child's stdout and stderr are pipes
//!   copied through by the watch, and a run whose output loops is stopped as a runaway is.
//! - On Linux the child gets a parent-death signal (SIGKILL): if pattern-guard is killed outright
//!   the child does not run on unguarded. Grandchildren are not covered by that signal; they are
//!   covered by the group stop on every other path. Other platforms have no parent-death signal.

use std::ffi::OsString;
use std::io::ErrorKind;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use nix::sys::signal::{killpg, sigprocmask, SigSet, SigmaskHow, Signal};
use nix::unistd::{getpgrp, tcgetpgrp, tcsetpgrp, Pid};
use tokio::process::Child;
use tokio::time::{sleep_until, Instant};

use super::exit_code::Exit;
use super::output::{human, say};
use super::signals::Signals;
use super::watch::{self, Repeated, Watch, WatchPlan};

/// How long a child may run, and how long it gets between TERM and KILL.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_runtime: Option<Duration>,
    pub kill_after: Duration,
    /// Where `max_runtime` came from when it was learned (`learned: 3 x p90 ...`).
    pub learned: Option<String>,
}

/// A running command: the child, its process group, and how it is shown in messages.
struct Running {
    child: Child,
    pgid: Pid,
    shown: String,
    /// Whether the child was given the terminal (and it must be taken back).
    terminal: bool,
    /// The output watch, when on.
    watch: Option<Watch>,
}

/// Why the guard stopped a run.
#[derive(Debug, Clone)]
pub enum Stop {
    /// It ran past its maximum runtime (and where a learned one came from).
    Runtime(Duration, Option<String>),
    /// Its output looped.
    Looped(Repeated),
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Runtime(d, None) => write!(f, "ran past its maximum runtime of {}", human(*d)),
            Stop::Runtime(d, Some(learned)) => {
                write!(
                    f,
                    "ran past its maximum runtime of {} ({learned})",
                    human(*d)
                )
            }
            Stop::Looped(r) => write!(f, "looped: {r}"),
        }
    }
}

/// How a run went: the exit to report, and why the guard stopped it, if it did.
pub struct RunEnd {
    pub exit: Exit,
    pub stopped: Option<Stop>,
}

/// How a run ended.
enum Ended {
    /// It exited (or died of a signal) by itself.
    Exited(std::io::Result<ExitStatus>),
    /// The guard stopped it; `killed` when SIGKILL was needed.
    Stopped {
        killed: bool,
        status: std::io::Result<ExitStatus>,
    },
}

/// Runs `argv` to completion under `limits`, its output watched when `watch` is given; returns
/// how it ended.
pub async fn run(
    argv: &[OsString],
    env: &[(&str, String)],
    limits: Limits,
    watch: Option<&WatchPlan>,
    signals: &mut Signals,
) -> RunEnd {
    let mut running = match spawn(argv, env, watch) {
        Ok(running) => running,
        Err(exit) => {
            return RunEnd {
                exit,
                stopped: None,
            }
        }
    };
    let (ended, stopped) = supervise(&mut running, limits, signals).await;
    if let Some(watch) = running.watch.as_mut() {
        let pgid = running.pgid;
        watch.finish(|sig| forward(pgid, sig), signals).await;
    }
    if running.terminal {
        take_terminal_back();
    }
    RunEnd {
        exit: exit_of(ended, &running.shown),
        stopped,
    }
}

/// Starts the command in its own process group (at a terminal, as its foreground group), with a
/// parent-death signal on Linux. `Err` is the exit for a command that cannot start.
#[allow(unsafe_code)] // the binary's one unsafe block: `pre_exec`, explained at the block
fn spawn(
    argv: &[OsString],
    env: &[(&str, String)],
    watch: Option<&WatchPlan>,
) -> Result<Running, Exit> {
    let shown = argv[0].to_string_lossy().into_owned();
    let mut command = tokio::process::Command::new(&argv[0]);
    command.args(&argv[1..]).process_group(0);
    for (k, v) in env {
        command.env(k, v);
    }
    let read_ends = match watch.map(|_| watch::pipes()).transpose() {
        Ok(Some((child_ends, read_ends))) => {
            command
                .stdout(std::process::Stdio::from(child_ends.stdout))
                .stderr(std::process::Stdio::from(child_ends.stderr));
            Some(read_ends)
        }
        Ok(None) => None,
        Err(e) => {
            say(format_args!(
                "cannot watch the output of '{shown}': no pipe: {e}"
            ));
            return Err(Exit::Failure);
        }
    };
    let terminal = foreground_terminal();
    // SAFETY: runs in the forked child before exec. prctl, sigprocmask and tcsetpgrp are
    // async-signal-safe, and the closure touches no memory of the parent beyond a copied bool.
    unsafe {
        command.pre_exec(move || {
            #[cfg(target_os = "linux")]
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
            if terminal {
                // Already in its own group (process_group runs first): take the terminal. A
                // background group asking would get SIGTTOU, so block it meanwhile.
                let stdin = BorrowedFd::borrow_raw(0);
                with_sigttou_blocked(|| tcsetpgrp(stdin, getpgrp()))?;
            }
            Ok(())
        });
    }
    let child = match command.spawn() {
        Ok(child) => child,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            say(format_args!("cannot run '{shown}': command not found"));
            return Err(Exit::NotFound);
        }
        Err(e) => {
            say(format_args!("cannot run '{shown}': {e}"));
            return Err(Exit::CannotRun);
        }
    };
    // Our copies of the pipes' write ends go with the command, so the pipes end when the
    // command's side closes.
    drop(command);
    let pgid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw)
        .ok_or(Exit::Failure)?;
    let watch = match (watch, read_ends) {
        (Some(plan), Some(ends)) => match Watch::start(plan, &shown, ends) {
            Ok(watch) => Some(watch),
            Err(e) => {
                say(format_args!(
                    "cannot watch the output of '{shown}': {e}; stopping it"
                ));
                let _ = killpg(pgid, Signal::SIGKILL);
                return Err(Exit::Failure);
            }
        },
        _ => None,
    };
    Ok(Running {
        child,
        pgid,
        shown,
        terminal,
        watch,
    })
}

/// Waits for the command, forwarding signals to its group, and stops it at its maximum runtime
/// or when its output loops.
async fn supervise(
    running: &mut Running,
    limits: Limits,
    signals: &mut Signals,
) -> (Ended, Option<Stop>) {
    let deadline = limits.max_runtime.map(|d| Instant::now() + d);
    let past_runtime = async {
        match deadline {
            Some(at) => sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(past_runtime);
    let stop = loop {
        let watch = running.watch.as_mut();
        let looped = async move {
            match watch {
                Some(watch) => watch.looped().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            status = running.child.wait() => return (Ended::Exited(status), None),
            sig = signals.recv() => forward(running.pgid, sig),
            () = &mut past_runtime => break Stop::Runtime(limits.max_runtime.unwrap_or_default(), limits.learned.clone()),
            repeated = looped => break Stop::Looped(repeated),
        }
    };
    say(format_args!("'{}' {stop}; sending SIGTERM", running.shown));
    let ended = stop_with_signal(running, Signal::SIGTERM, limits.kill_after, signals).await;
    (ended, Some(stop))
}

/// Sends `signal` to the command's group and gives it `grace` to exit (forwarding signals
/// meanwhile); then SIGKILL. Either way no process of the group is left: stragglers get until
/// the end of the grace period, then SIGKILL.
async fn stop_with_signal(
    running: &mut Running,
    signal: Signal,
    grace: Duration,
    signals: &mut Signals,
) -> Ended {
    let _ = killpg(running.pgid, signal);
    let deadline = Instant::now() + grace;
    let (status, killed) = loop {
        tokio::select! {
            status = running.child.wait() => break (status, false),
            sig = signals.recv() => forward(running.pgid, sig),
            () = sleep_until(deadline) => {
                say(format_args!(
                    "'{}' still running {} after {signal}; sending SIGKILL",
                    running.shown,
                    human(grace)
                ));
                let _ = killpg(running.pgid, Signal::SIGKILL);
                break (running.child.wait().await, true);
            }
        }
    };
    clear_group(running.pgid, deadline, signals).await;
    Ended::Stopped { killed, status }
}

fn forward(pgid: Pid, sig: Signal) {
    tracing::debug!(signal = %sig, "forwarding to the command");
    let _ = killpg(pgid, sig);
}

/// The exit code for how a run ended (the table in [`exit_code`](super::exit_code)).
fn exit_of(ended: Ended, shown: &str) -> Exit {
    let (status, stopped) = match ended {
        Ended::Exited(status) => (status, None),
        Ended::Stopped { killed, status } => (status, Some(killed)),
    };
    let status = match status {
        Ok(status) => status,
        Err(e) => {
            say(format_args!("lost track of '{shown}': {e}"));
            return Exit::Failure;
        }
    };
    match (stopped, status.code(), status.signal()) {
        (Some(true), _, _) => Exit::Killed,
        (Some(false), _, _) => Exit::Stopped,
        (None, Some(code), _) => Exit::Child(u8::try_from(code & 0xff).unwrap_or(1)),
        (None, None, Some(sig)) => Exit::ChildSignal(sig),
        (None, None, None) => Exit::Failure,
    }
}

/// Whether stdin is a terminal whose foreground process group is ours: then the child gets it.
fn foreground_terminal() -> bool {
    let stdin = std::io::stdin();
    std::io::IsTerminal::is_terminal(&stdin)
        && tcgetpgrp(stdin.as_fd()).is_ok_and(|fg| fg == getpgrp())
}

/// Makes our process group the terminal's foreground group again.
fn take_terminal_back() {
    let stdin = std::io::stdin();
    let restored = with_sigttou_blocked(|| tcsetpgrp(stdin.as_fd(), getpgrp()));
    if let Err(e) = restored {
        tracing::debug!(error = %e, "could not take the terminal back");
    }
}

fn with_sigttou_blocked(f: impl FnOnce() -> nix::Result<()>) -> nix::Result<()> {
    let mut block = SigSet::empty();
    block.add(Signal::SIGTTOU);
    let mut old = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&block), Some(&mut old))?;
    let result = f();
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None)?;
    result
}

/// After a stop, makes sure no process of the group survives: waits for it to empty until
/// `deadline`, then SIGKILLs whatever is left.
async fn clear_group(pgid: Pid, deadline: Instant, signals: &mut Signals) {
    while killpg(pgid, None).is_ok() {
        if Instant::now() >= deadline {
            let _ = killpg(pgid, Signal::SIGKILL);
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(20)) => {}
            sig = signals.recv() => forward(pgid, sig),
        }
    }
}
