//! Writes varied lines of program output (log-like text: words, paths, numbers, ids), never the
//! same line twice in a row and rarely at all, for measuring `--watch-output`'s pass-through.
//!
//! ```sh
//! cargo run --release --example gen_lines -- --bytes 1073741824 > varied.txt
//! ```
//!
//! Options: `--bytes N` (default 1 GiB), `--seed N`. Output is deterministic for a seed; lines
//! are 20 to 200 bytes, about 90 on average.

use std::io::{BufWriter, Write};

/// xorshift64*: enough randomness for text, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const WORDS: &[&str] = &[
    "request",
    "served",
    "user",
    "session",
    "cache",
    "miss",
    "hit",
    "worker",
    "queue",
    "job",
    "started",
    "finished",
    "upload",
    "download",
    "compile",
    "link",
    "index",
    "query",
    "table",
    "replica",
    "primary",
    "shard",
    "backup",
    "restore",
    "token",
    "refresh",
    "login",
    "logout",
    "config",
    "reload",
    "metrics",
    "export",
    "import",
    "thumbnail",
    "image",
    "video",
    "archive",
];
const PATHS: &[&str] = &[
    "/var/lib",
    "/usr/share",
    "/srv/data",
    "/home/build",
    "/opt/app",
    "/etc",
    "/tmp/work",
];
const LEVELS: &[&str] = &["INFO", "DEBUG", "WARN", "TRACE"];

fn main() {
    let mut bytes: u64 = 1 << 30;
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let value = args.next().and_then(|v| v.parse().ok());
        match (a.as_str(), value) {
            ("--bytes", Some(v)) => bytes = v,
            ("--seed", Some(v)) => seed = v | 1,
            _ => {
                eprintln!("usage: gen_lines [--bytes N] [--seed N]");
                std::process::exit(2);
            }
        }
    }
    let mut rng = Rng(seed);
    let mut out = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let mut line = String::with_capacity(256);
    let mut written = 0u64;
    while written < bytes {
        line.clear();
        line.push_str(LEVELS[rng.below(LEVELS.len())]);
        for _ in 0..3 + rng.below(12) {
            line.push(' ');
            match rng.below(6) {
                0 => {
                    line.push_str(PATHS[rng.below(PATHS.len())]);
                    for _ in 0..=rng.below(3) {
                        line.push('/');
                        line.push_str(WORDS[rng.below(WORDS.len())]);
                        line.push_str(WORDS[rng.below(WORDS.len())]);
                    }
                }
                1 => line.push_str(&rng.below(100_000).to_string()),
                _ => {
                    line.push_str(WORDS[rng.below(WORDS.len())]);
                    if rng.below(3) == 0 {
                        line.push('_');
                        line.push_str(WORDS[rng.below(WORDS.len())]);
                    }
                }
            }
        }
        line.truncate(200);
        line.push('\n');
        if out.write_all(line.as_bytes()).is_err() {
            return;
        }
        written += line.len() as u64;
    }
    let _ = out.flush();
}
