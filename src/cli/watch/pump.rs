//! The threads of a watch. Each of the command's output streams has a pump: read a chunk from the
//! pipe, write it unchanged to our own stream, hand it to the analyser. The analyser shows each
//! line to the [`Monitor`] and does what it says. Copying and looking run side by side, so a
//! stream passes at the speed of the slower of the two, not of both in turn.
//!
//! - The bytes are written as read, before they are looked at: nothing is held back, reordered
//!   or changed, binary data and a last line without a newline included.
//! - Memory is bounded: at most [`IN_FLIGHT`] chunks of 64 KiB wait for the analyser (a pump
//!   waits when they are all taken, so the analyser sets the pace), and of a line longer than
//!   [`MAX_TARGET_BYTES`] only its start is kept (for its target); the rest only counts in its
//!   length.
//! - Throttling is not reading: while a pause holds, both pumps stop reading, the pipe fills and
//!   the command blocks on its next write.
//! - When our own stream is closed (`| head`), the pipe is closed too, so the command's next write
//!   fails (SIGPIPE) as it would have unwrapped.
//! - After the command has exited, a pipe still held open by something it left behind is drained
//!   until it has been quiet for [`DRAIN_QUIET`].

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender, SyncSender};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use tokio::sync::mpsc::UnboundedSender;

use super::monitor::{Monitor, Repeated, Stream, Verdict, MAX_TARGET_BYTES};
use crate::cli::output::{human, Printer};

/// Bytes read from a pipe at once.
const CHUNK: usize = 64 * 1024;
/// Chunks read and not yet looked at, at most.
pub const IN_FLIGHT: usize = 8;
/// How often a waiting pump looks at the flags.
const TICK: Duration = Duration::from_millis(50);
/// After the command exits, a pipe quiet this long is given up.
pub const DRAIN_QUIET: Duration = Duration::from_secs(1);

/// What the pumps tell the supervisor.
#[derive(Debug)]
pub enum Message {
    /// The command loops: stop it.
    Looped(Repeated),
    /// Both streams have ended (or were given up) and every line was looked at.
    Done,
}

/// What a pump hands the analyser.
pub enum Piece {
    /// `len` bytes read from a stream (the buffer goes back to the pump after).
    Chunk {
        stream: Stream,
        buf: Vec<u8>,
        len: usize,
        back: Sender<Vec<u8>>,
    },
    /// The stream has ended.
    End(Stream),
}

/// What the pumps and the analyser share.
pub struct Shared {
    /// Until when nobody reads (a throttle).
    pub paused_until: Mutex<Option<Instant>>,
    /// A stop was asked for: copy only, look no more.
    pub stopping: AtomicBool,
    /// In a dry run, the stop that would have been made was reported.
    pub stop_reported: AtomicBool,
    /// The command has exited: drain until quiet.
    pub command_gone: AtomicBool,
    pub clock: WatchClock,
    pub printer: Printer,
    pub dry_run: bool,
    /// The command as messages show it.
    pub shown: String,
    pub tell: UnboundedSender<Message>,
}

/// The output guard's time: the system clock, or for tests a clock running `scale` times faster
/// from the start of the run (`PATTERN_GUARD_WATCH_TIME_SCALE`), so an hour of output can be
/// judged in seconds.
pub struct WatchClock {
    start: (SystemTime, Instant),
    scale: f64,
}

impl WatchClock {
    pub fn new(scale: f64) -> Self {
        WatchClock {
            start: (SystemTime::now(), Instant::now()),
            scale,
        }
    }

    pub fn now(&self) -> SystemTime {
        if self.scale == 1.0 {
            return SystemTime::now();
        }
        self.start.0 + self.start.1.elapsed().mul_f64(self.scale)
    }
}

/// Copies `src` to `dst` until the pipe ends, handing each chunk to the analyser.
pub fn pump(
    src: OwnedFd,
    mut dst: File,
    stream: Stream,
    shared: &Shared,
    analyser: &SyncSender<Piece>,
) {
    let mut reader = File::from(src);
    let (back, returned) = channel::<Vec<u8>>();
    let mut last_data = Instant::now();
    loop {
        wait_while_paused(shared);
        match poll(
            &mut [PollFd::new(reader.as_fd(), PollFlags::POLLIN)],
            PollTimeout::from(TICK.as_millis() as u16),
        ) {
            Ok(0) => {
                if shared.command_gone.load(Ordering::Relaxed) && last_data.elapsed() >= DRAIN_QUIET
                {
                    break;
                }
                continue;
            }
            Err(nix::errno::Errno::EINTR) | Ok(_) => {}
            Err(_) => break,
        }
        let mut buf = returned.try_recv().unwrap_or_else(|_| vec![0; CHUNK]);
        let len = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted || e.kind() == ErrorKind::WouldBlock => {
                continue
            }
            Err(_) => break,
        };
        last_data = Instant::now();
        if dst.write_all(&buf[..len]).is_err() {
            // Our stream is closed (`| head`) or broken: close the pipe, as unwrapped.
            break;
        }
        if !shared.stopping.load(Ordering::Relaxed) {
            // Waits while the analyser is IN_FLIGHT chunks behind; a gone analyser is ignored.
            let _ = analyser.send(Piece::Chunk {
                stream,
                buf,
                len,
                back: back.clone(),
            });
        }
    }
    drop(reader);
    let _ = analyser.send(Piece::End(stream));
}

/// Shows every line of both streams to the monitor and acts on its verdicts, until both have
/// ended; then tells the supervisor.
pub fn analyse(mut monitor: Monitor, pieces: &Receiver<Piece>, shared: &Shared) {
    let mut lines = [Lines::default(), Lines::default()];
    let mut open = 2;
    while open > 0 {
        let Ok(piece) = pieces.recv() else { break };
        let stopping = shared.stopping.load(Ordering::Relaxed);
        match piece {
            Piece::Chunk {
                stream,
                buf,
                len,
                back,
            } => {
                if !stopping {
                    let now = shared.clock.now();
                    let verdict =
                        lines[stream as usize].feed(&buf[..len], stream, &mut monitor, now);
                    act(verdict, shared);
                }
                let _ = back.send(buf);
            }
            Piece::End(stream) => {
                open -= 1;
                if !stopping {
                    let now = shared.clock.now();
                    let verdict = lines[stream as usize].finish(stream, &mut monitor, now);
                    act(verdict, shared);
                }
            }
        }
    }
    let _ = shared.tell.send(Message::Done);
}

/// Sleeps while a throttle holds (unless a stop was asked for meanwhile).
fn wait_while_paused(shared: &Shared) {
    loop {
        let until = *shared
            .paused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match until {
            Some(t) if Instant::now() < t && !shared.stopping.load(Ordering::Relaxed) => {
                std::thread::sleep(TICK.min(t - Instant::now()));
            }
            _ => return,
        }
    }
}

/// The line being read: its start (up to [`MAX_TARGET_BYTES`]) and its length so far.
#[derive(Default)]
struct Lines {
    head: Vec<u8>,
    len: usize,
}

impl Lines {
    /// Shows every line that ends in `chunk` to the monitor (the partial one at its end is kept
    /// for the next chunk); the most severe verdict.
    fn feed(
        &mut self,
        chunk: &[u8],
        stream: Stream,
        monitor: &mut Monitor,
        now: SystemTime,
    ) -> Verdict {
        let mut verdict = Verdict::Pass;
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', chunk) {
            let piece = &chunk[start..end];
            let v = if self.len == 0 {
                monitor.line(
                    stream,
                    &piece[..piece.len().min(MAX_TARGET_BYTES)],
                    piece.len(),
                    now,
                )
            } else {
                self.extend(piece);
                let v = monitor.line(stream, &self.head, self.len, now);
                self.head.clear();
                self.len = 0;
                v
            };
            verdict = verdict.max(v);
            start = end + 1;
        }
        self.extend(&chunk[start..]);
        verdict
    }

    /// The last line, when the stream ended without a newline.
    fn finish(&mut self, stream: Stream, monitor: &mut Monitor, now: SystemTime) -> Verdict {
        if self.len == 0 {
            return Verdict::Pass;
        }
        monitor.line(stream, &self.head, self.len, now)
    }

    fn extend(&mut self, piece: &[u8]) {
        let room = MAX_TARGET_BYTES - self.head.len();
        self.head.extend_from_slice(&piece[..piece.len().min(room)]);
        self.len += piece.len();
    }
}

/// Reports a verdict and acts on it (a dry run only reports).
fn act(verdict: Verdict, shared: &Shared) {
    let dry = if shared.dry_run {
        " (dry run: not enforced)"
    } else {
        ""
    };
    let shown = &shared.shown;
    match verdict {
        Verdict::Pass => {}
        Verdict::Warn(r) => {
            tracing::info!(stream = r.stream.name(), count = r.count, risk = r.risk, line = %r.line, "output repeats");
            shared.printer.note(format!(
                "warning: '{shown}' repeats itself: {r} (risk {:.2}){dry}",
                r.risk
            ));
        }
        Verdict::Throttle {
            pause,
            repeated: r,
            report,
        } => {
            tracing::info!(stream = r.stream.name(), count = r.count, risk = r.risk, pause = ?pause, "throttling output");
            if report {
                shared.printer.note(format!(
                    "throttling '{shown}': {r} (risk {:.2}); not reading its output for {}{dry}",
                    r.risk,
                    human(pause)
                ));
            }
            if !shared.dry_run {
                let until = Instant::now() + pause;
                let mut paused = shared
                    .paused_until
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                *paused = Some(paused.map_or(until, |t| t.max(until)));
            }
        }
        Verdict::Stop(r) => {
            tracing::info!(stream = r.stream.name(), count = r.count, risk = r.risk, line = %r.line, "output loops");
            if shared.dry_run {
                if !shared.stop_reported.swap(true, Ordering::Relaxed) {
                    shared.printer.alert(format!(
                        "'{shown}' loops: {r} (risk {:.2}); it would be stopped{dry}",
                        r.risk
                    ));
                }
            } else if !shared.stopping.swap(true, Ordering::Relaxed) {
                let _ = shared.tell.send(Message::Looped(r));
            }
        }
    }
}
