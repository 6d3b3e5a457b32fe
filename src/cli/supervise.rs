//! Running the guarded command and watching over it.
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
//! - On Linux the child gets a parent-death signal (SIGKILL): if pattern-guard is killed outright
//!   the child does not run on unguarded. Grandchildren are not covered by that signal; they are
//!   covered by the group stop on every other path. Other platforms have no parent-death signal.

use std::ffi::OsString;
use std::io::ErrorKind;
use std::time::Duration;

use std::os::fd::{AsFd, BorrowedFd};

use nix::sys::signal::{killpg, sigprocmask, SigSet, SigmaskHow, Signal};
use nix::unistd::{getpgrp, tcgetpgrp, tcsetpgrp, Pid};
use tokio::signal::unix::{signal, Signal as Stream, SignalKind};
use tokio::time::{sleep_until, Instant};

use super::exit_code::Exit;

/// How long a child may run, and how long it gets between TERM and KILL.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_runtime: Option<Duration>,
    pub kill_after: Duration,
}

/// The signals pattern-guard forwards, listened for from before the child starts.
pub struct Signals {
    streams: Vec<(Signal, Stream)>,
}

impl Signals {
    pub fn install() -> std::io::Result<Signals> {
        let mut streams = Vec::new();
        for (sig, kind) in [
            (Signal::SIGINT, SignalKind::interrupt()),
            (Signal::SIGTERM, SignalKind::terminate()),
            (Signal::SIGHUP, SignalKind::hangup()),
            (Signal::SIGQUIT, SignalKind::quit()),
        ] {
            streams.push((sig, signal(kind)?));
        }
        Ok(Signals { streams })
    }

    /// The next signal received.
    pub async fn recv(&mut self) -> Signal {
        let futures = self.streams.iter_mut().map(|(sig, stream)| {
            let sig = *sig;
            Box::pin(async move {
                stream.recv().await;
                sig
            })
        });
        futures_select_all(futures).await
    }
}

/// Waits for the first of several futures (a tiny `select_all`, to avoid a dependency).
async fn futures_select_all<F>(futures: impl Iterator<Item = std::pin::Pin<Box<F>>>) -> Signal
where
    F: std::future::Future<Output = Signal>,
{
    let mut futures: Vec<_> = futures.collect();
    std::future::poll_fn(move |cx| {
        for f in futures.iter_mut() {
            if let std::task::Poll::Ready(sig) = f.as_mut().poll(cx) {
                return std::task::Poll::Ready(sig);
            }
        }
        std::task::Poll::Pending
    })
    .await
}

/// Waits `duration`, or until a signal arrives (returned).
pub async fn wait_or_signal(duration: Duration, signals: &mut Signals) -> Option<Signal> {
    tokio::select! {
        () = tokio::time::sleep(duration) => None,
        sig = signals.recv() => Some(sig),
    }
}

/// Waits `duration` like [`wait_or_signal`], drawing a countdown on stderr when it is a terminal
/// (never into a pipe or a log).
pub async fn countdown(duration: Duration, signals: &mut Signals) -> Option<Signal> {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return wait_or_signal(duration, signals).await;
    }
    let bar = indicatif::ProgressBar::new(duration.as_millis() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("pattern-guard: waiting {bar:30} {msg} left")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let end = Instant::now() + duration;
    let outcome = loop {
        let now = Instant::now();
        if now >= end {
            break None;
        }
        let left = end - now;
        bar.set_position((duration - left).as_millis() as u64);
        bar.set_message(human(left));
        if let Some(sig) = wait_or_signal(left.min(Duration::from_millis(100)), signals).await {
            break Some(sig);
        }
    };
    bar.finish_and_clear();
    outcome
}

/// The pause between `--repeat` runs: on a terminal, a bar with the runs done and the time to the
/// next (drawn only between runs: while the command runs the terminal is its own).
pub async fn pause_between_runs(
    duration: Duration,
    done: u64,
    total: u64,
    signals: &mut Signals,
) -> Option<Signal> {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return wait_or_signal(duration, signals).await;
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "pattern-guard: {bar:30} run {pos}/{len}, next in {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_position(done);
    let end = Instant::now() + duration;
    let outcome = loop {
        let now = Instant::now();
        if now >= end {
            break None;
        }
        bar.set_message(human(end - now));
        if let Some(sig) =
            wait_or_signal((end - now).min(Duration::from_millis(100)), signals).await
        {
            break Some(sig);
        }
    };
    bar.finish_and_clear();
    outcome
}

/// Runs `argv` to completion under `limits`; returns how it ended.
#[allow(unsafe_code)] // the binary's one unsafe block: `pre_exec`, explained at the block
pub async fn run(
    argv: &[OsString],
    env: &[(&str, String)],
    limits: Limits,
    signals: &mut Signals,
) -> Exit {
    let mut command = tokio::process::Command::new(&argv[0]);
    command.args(&argv[1..]).process_group(0);
    for (k, v) in env {
        command.env(k, v);
    }
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
    let shown = argv[0].to_string_lossy();
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            eprintln!("pattern-guard: cannot run '{shown}': command not found");
            return Exit::NotFound;
        }
        Err(e) => {
            eprintln!("pattern-guard: cannot run '{shown}': {e}");
            return Exit::CannotRun;
        }
    };
    let Some(pgid) = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw)
    else {
        return Exit::Failure;
    };

    let far = Instant::now() + Duration::from_secs(100 * 365 * 86_400);
    let mut term_at = limits.max_runtime.map_or(far, |d| Instant::now() + d);
    let mut kill_at = far;
    let mut stopped = false;
    let mut killed = false;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            sig = signals.recv() => {
                tracing::debug!(signal = %sig, "forwarding to the command");
                let _ = killpg(pgid, sig);
            }
            () = sleep_until(term_at), if !stopped => {
                eprintln!(
                    "pattern-guard: '{shown}' ran past its maximum runtime of {}; sending SIGTERM",
                    human(limits.max_runtime.unwrap_or_default())
                );
                let _ = killpg(pgid, Signal::SIGTERM);
                stopped = true;
                term_at = far;
                kill_at = Instant::now() + limits.kill_after;
            }
            () = sleep_until(kill_at), if stopped && !killed => {
                eprintln!(
                    "pattern-guard: '{shown}' still running {} after SIGTERM; sending SIGKILL",
                    human(limits.kill_after)
                );
                let _ = killpg(pgid, Signal::SIGKILL);
                killed = true;
            }
        }
    };
    if stopped {
        clear_group(pgid, kill_at.max(Instant::now()), signals).await;
    }
    if terminal {
        take_terminal_back();
    }
    let status = match status {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pattern-guard: lost track of '{shown}': {e}");
            return Exit::Failure;
        }
    };
    if killed {
        return Exit::Killed;
    }
    if stopped {
        return Exit::Stopped;
    }
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => Exit::Child(u8::try_from(code & 0xff).unwrap_or(1)),
        (None, Some(sig)) => Exit::ChildSignal(sig),
        (None, None) => Exit::Failure,
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
            sig = signals.recv() => { let _ = killpg(pgid, sig); }
        }
    }
}

/// `56s`, `2m5s`, `1h30m`, `250ms`.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 && ms > 0 && d.as_secs() == 0 {
        return format!("{ms}ms");
    }
    let mut secs = d.as_secs() + u64::from(d.subsec_millis() >= 500);
    let (h, m) = (secs / 3600, (secs % 3600) / 60);
    secs %= 60;
    match (h, m, secs) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, _) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::human;
    use std::time::Duration;

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(human(Duration::from_secs(56)), "56s");
        assert_eq!(human(Duration::from_secs(125)), "2m5s");
        assert_eq!(human(Duration::from_secs(5400)), "1h30m");
        assert_eq!(human(Duration::from_millis(250)), "250ms");
        assert_eq!(human(Duration::from_millis(1500)), "2s");
        assert_eq!(human(Duration::ZERO), "0s");
    }
}
