//! A timing probe of a line's look (masking, hashing, the monitor's whole look), run by hand:
//! `cargo test --release --bin pattern-guard -- --ignored --nocapture probe`. Not a test: it
//! prints figures and asserts nothing.

use std::time::SystemTime;

use pattern_guard::Config;

use super::monitor::{Monitor, Stream};
use super::normalize::normalize;

/// Log-like lines (words, paths, numbers), as `examples/gen_lines.rs` writes them.
fn lines(n: usize) -> Vec<Vec<u8>> {
    const WORDS: &[&str] = &[
        "request",
        "served",
        "worker",
        "queue",
        "cache_miss",
        "/srv/data/index",
        "token",
        "replica",
        "INFO",
        "WARN",
        "thumbnail",
        "reload",
    ];
    let mut x = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    (0..n)
        .map(|_| {
            let words: Vec<String> = (0..4 + next(14))
                .map(|_| match next(6) {
                    0 => next(100_000).to_string(),
                    _ => WORDS[next(WORDS.len())].to_string(),
                })
                .collect();
            words.join(" ").into_bytes()
        })
        .collect()
}

/// Prints the cost of each step of a line's look, per line.
#[test]
#[ignore = "a timing probe: cargo test --release --bin pattern-guard -- --ignored --nocapture probe"]
fn probe() {
    let lines = lines(1_000_000);
    let n = lines.len() as f64;
    let avg = lines.iter().map(Vec::len).sum::<usize>() as f64 / n;
    let (mut out, mut scratch) = (Vec::new(), Vec::new());
    let t = std::time::Instant::now();
    let mut x = 0u64;
    for l in &lines {
        normalize(l, &mut out, &mut scratch);
        x = x.wrapping_add(out.len() as u64);
    }
    let masked = t.elapsed().as_nanos() as f64 / n;
    let t = std::time::Instant::now();
    for l in &lines {
        normalize(l, &mut out, &mut scratch);
        x ^= xxhash_rust::xxh3::xxh3_64(&out);
    }
    let hashed = t.elapsed().as_nanos() as f64 / n;
    let mut m = Monitor::new(&Config::default(), "x").unwrap();
    let now = SystemTime::now();
    let t = std::time::Instant::now();
    for l in &lines {
        m.line(Stream::Stdout, l, l.len(), now);
    }
    let whole = t.elapsed().as_nanos() as f64 / n;
    println!(
        "lines of {avg:.0} bytes: mask {masked:.0} ns, mask and hash {hashed:.0} ns, \
         the monitor's whole look {whole:.0} ns ({x:x})"
    );
}
