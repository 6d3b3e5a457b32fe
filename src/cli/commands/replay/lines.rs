//! Lines from a byte stream in bounded memory: read in 256 KiB chunks by a thread of its own (so
//! a Ctrl-C is noticed even while a pipe is quiet), split at newlines without copying, and a line
//! longer than [`MAX_LINE`] rejected and skipped to its end rather than held.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::time::Duration;

/// Lines longer than this are rejected (and skipped up to the next newline) rather than held.
pub const MAX_LINE: usize = 1024 * 1024;
/// Bytes a read hands over at once; a few are in flight.
const CHUNK: usize = 256 * 1024;

/// What receives the lines.
pub trait Sink {
    /// The first bytes read, before any line (to recognize the format). `Err(why)` stops.
    fn head(&mut self, bytes: &[u8]) -> Result<(), Stop>;
    /// One line, without its newline. `Err` stops the reading.
    fn line(&mut self, line: &[u8]) -> Result<(), Stop>;
    /// A line over [`MAX_LINE`], found before its end (which is skipped). `Err` stops.
    fn too_long(&mut self) -> Result<(), Stop>;
    /// After each chunk: the bytes read so far. `Err` stops.
    fn progress(&mut self, bytes: u64) -> Result<(), Stop>;
}

/// Why reading stopped before the end.
pub enum Stop {
    /// The stop flag was raised (Ctrl-C).
    Interrupted,
    /// The sink refused a line.
    Refused(String),
    /// The sink cannot read this input at all (its format is not known).
    Unreadable(String),
    /// Where the sink writes was closed (the reader of `--decisions -` went away).
    Closed,
}

/// Feeds every line of `reader` to `sink` until the end, `stop` is raised, or the sink refuses
/// one. The last line needs no newline.
pub fn read(
    reader: Box<dyn Read + Send>,
    stop: &AtomicBool,
    sink: &mut impl Sink,
) -> std::io::Result<Option<Stop>> {
    let chunks = spawn_reader(reader);
    let mut carry: Vec<u8> = Vec::new();
    let mut skipping = false;
    let mut bytes = 0u64;
    loop {
        let chunk = match chunks.rx.recv_timeout(Duration::from_millis(100)) {
            Ok(chunk) => chunk?,
            Err(RecvTimeoutError::Timeout) if stop.load(Ordering::Relaxed) => {
                return Ok(Some(Stop::Interrupted))
            }
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        if bytes == 0 {
            if let Err(stop) = sink.head(&chunk) {
                return Ok(Some(stop));
            }
        }
        bytes += chunk.len() as u64;
        let mut start = 0;
        while let Some(pos) = memchr::memchr(b'\n', &chunk[start..]) {
            let end = start + pos;
            let fed = if std::mem::take(&mut skipping) {
                Ok(())
            } else if carry.is_empty() {
                sink.line(&chunk[start..end])
            } else if carry.len() + (end - start) > MAX_LINE {
                // Its end came in this chunk, past the limit.
                carry.clear();
                sink.too_long()
            } else {
                carry.extend_from_slice(&chunk[start..end]);
                let fed = sink.line(&carry);
                carry.clear();
                fed
            };
            start = end + 1;
            if let Err(stop) = fed {
                return Ok(Some(stop));
            }
            if stop.load(Ordering::Relaxed) {
                return Ok(Some(Stop::Interrupted));
            }
        }
        let rest = &chunk[start..];
        if !skipping && carry.len() + rest.len() > MAX_LINE {
            carry.clear();
            skipping = true;
            if let Err(stop) = sink.too_long() {
                return Ok(Some(stop));
            }
        } else if !skipping {
            carry.extend_from_slice(rest);
        }
        chunks.recycle(chunk);
        if let Err(stop) = sink.progress(bytes) {
            return Ok(Some(stop));
        }
    }
    if !skipping && !carry.is_empty() {
        if let Err(stop) = sink.line(&carry) {
            return Ok(Some(stop));
        }
    }
    Ok(None)
}

/// Chunks read by the reader thread, and buffers handed back for reuse.
struct Chunks {
    rx: Receiver<std::io::Result<Vec<u8>>>,
    spare: SyncSender<Vec<u8>>,
}

impl Chunks {
    fn recycle(&self, chunk: Vec<u8>) {
        let _ = self.spare.try_send(chunk);
    }
}

fn spawn_reader(mut reader: Box<dyn Read + Send>) -> Chunks {
    let (tx, rx) = sync_channel::<std::io::Result<Vec<u8>>>(4);
    let (spare, spares) = sync_channel::<Vec<u8>>(8);
    std::thread::spawn(move || loop {
        let mut buf = spares.try_recv().unwrap_or_default();
        buf.resize(CHUNK, 0);
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                buf.truncate(n);
                if tx.send(Ok(buf)).is_err() {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = tx.send(Err(e));
                break;
            }
        }
    });
    Chunks { rx, spare }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect {
        lines: Vec<Vec<u8>>,
        long: usize,
    }

    impl Sink for Collect {
        fn head(&mut self, _: &[u8]) -> Result<(), Stop> {
            Ok(())
        }
        fn line(&mut self, line: &[u8]) -> Result<(), Stop> {
            self.lines.push(line.to_vec());
            Ok(())
        }
        fn too_long(&mut self) -> Result<(), Stop> {
            self.long += 1;
            Ok(())
        }
        fn progress(&mut self, _: u64) -> Result<(), Stop> {
            Ok(())
        }
    }

    fn lines_of(input: Vec<u8>) -> Collect {
        let mut sink = Collect::default();
        let stop = AtomicBool::new(false);
        let outcome = read(Box::new(std::io::Cursor::new(input)), &stop, &mut sink).unwrap();
        assert!(outcome.is_none());
        sink
    }

    #[test]
    fn lines_split_across_chunks_and_the_last_needs_no_newline() {
        let long = "x".repeat(CHUNK + 10);
        let input = format!("a\n{long}\n\nb");
        let sink = lines_of(input.into_bytes());
        let got: Vec<usize> = sink.lines.iter().map(Vec::len).collect();
        assert_eq!(got, [1, CHUNK + 10, 0, 1]);
    }

    #[test]
    fn an_over_long_line_is_skipped_to_its_end() {
        let mut input = b"first\n".to_vec();
        input.extend(std::iter::repeat_n(b'y', MAX_LINE + CHUNK * 2));
        input.extend(b"\nlast\n");
        let sink = lines_of(input);
        assert_eq!(sink.long, 1);
        assert_eq!(sink.lines, [b"first".to_vec(), b"last".to_vec()]);
    }

    #[test]
    fn the_limit_holds_to_the_byte_when_a_line_ends_in_a_later_chunk() {
        for (len, long) in [(MAX_LINE, 0), (MAX_LINE + 1, 1), (MAX_LINE + 100, 1)] {
            let mut input = b"first\n".to_vec();
            input.extend(std::iter::repeat_n(b'y', len));
            input.extend(b"\nlast\n");
            let sink = lines_of(input);
            assert_eq!(sink.long, long, "a line of {len} bytes");
            assert_eq!(sink.lines.len(), 3 - long, "a line of {len} bytes");
        }
    }
}
