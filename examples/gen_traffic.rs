//! Generates a day of synthetic web traffic for `pattern-guard replay`: many ordinary clients and a
//! few abusive ones (a burst bot, a fixed-interval poller, a path scanner, a login retry loop).
//!
//! ```sh
//! cargo run --release --example gen_traffic -- --events 2000000 --format jsonl > traffic.jsonl
//! cargo run --release --example gen_traffic -- --format combined > access.log
//! ```
//!
//! Options: `--events N` (default 2,000,000), `--clients N` (default 20,000), `--format jsonl|combined`
//! (default jsonl), `--seed N`. Output is deterministic for a seed; events are in time order over
//! 2026-11-24 (UTC).
//!
//! `--profile wide` writes another workload instead: many live actors at once. Every event comes
//! from one of 65,536 addresses `ip:10.0.X.Y` (X and Y random), except 1% from one abusive actor
//! (`ip:203.0.113.66`), over 500 targets, 0-3 ms apart.
//!
//! `--profile auth` writes an sshd log instead (`/var/log/auth.log` as Debian writes it, for
//! `replay --format sshd`), shaped like the loghub OpenSSH corpus: brute-force sessions from
//! 2,000 addresses (PAM failure, failed password, disconnect; invalid users with their preauth
//! lines), scanners that never identify, and the lines around them that are not events (CRON
//! sessions, accepted logins, reverse-mapping warnings): about 60% of the lines are events.

use std::io::{BufWriter, Write};

/// xorshift64*: enough randomness for traffic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Jsonl,
    Combined,
}

struct Out<W: Write> {
    w: W,
    format: Format,
}

impl<W: Write> Out<W> {
    /// `ms` since 2026-11-24T00:00:00Z.
    fn event(
        &mut self,
        actor: &str,
        action: &str,
        target: &str,
        ms: u64,
        size: u64,
    ) -> std::io::Result<()> {
        let (s, milli) = (ms / 1000, ms % 1000);
        let (h, m, sec) = (s / 3600, s % 3600 / 60, s % 60);
        match self.format {
            Format::Jsonl => writeln!(
                self.w,
                r#"{{"actor":"{actor}","action":"{action}","target":"{target}","timestamp":"2026-11-24T{h:02}:{m:02}:{sec:02}.{milli:03}Z","weight":1}}"#
            ),
            Format::Combined => writeln!(
                self.w,
                r#"{actor} - - [24/Nov/2026:{h:02}:{m:02}:{sec:02} +0000] "{action} {target} HTTP/1.1" 200 {size} "-" "Mozilla/5.0 (X11; Linux x86_64)""#
            ),
        }
    }
}

fn main() -> std::io::Result<()> {
    let mut events: u64 = 2_000_000;
    let mut clients: u64 = 20_000;
    let mut format = Format::Jsonl;
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut wide = false;
    let mut auth = false;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--events" => events = value.parse().expect("--events N"),
            "--clients" => clients = value.parse().expect("--clients N"),
            "--seed" => seed = value.parse::<u64>().expect("--seed N") | 1,
            "--profile" => {
                (wide, auth) = match value.as_str() {
                    "wide" => (true, false),
                    "day" => (false, false),
                    "auth" => (false, true),
                    other => panic!("--profile day|wide|auth, not {other}"),
                }
            }
            "--format" => {
                format = match value.as_str() {
                    "jsonl" => Format::Jsonl,
                    "combined" => Format::Combined,
                    other => panic!("--format jsonl|combined, not {other}"),
                }
            }
            other => panic!("unknown option {other}; see the file's doc comment"),
        }
        i += 2;
    }
    let mut rng = Rng(seed);
    let stdout = std::io::stdout();
    let mut out = Out {
        w: BufWriter::with_capacity(1 << 20, stdout.lock()),
        format,
    };
    if auth {
        return auth_log(&mut out.w, &mut rng, events);
    }
    if wide {
        return wide_traffic(&mut out, &mut rng, events);
    }
    let day_ms = 86_400_000.0;
    let mean_gap = day_ms / events as f64;
    let mut now = 0.0f64;
    let mut next_poll = 0u64;
    let paths: Vec<String> = (0..200).map(|p| format!("/p/{p}")).collect();
    let mut written = 0u64;
    let mut burst_left = 0u32;
    let mut scan_left = 0u32;
    while written < events {
        now += -mean_gap * (1.0 - rng.unit()).ln();
        let ms = (now as u64).min(86_399_999);
        // A poller on a fixed 2-second period, interleaved in time order.
        if ms >= next_poll && written < events {
            out.event("10.99.0.2", "GET", "/api/poll", next_poll, 64)?;
            next_poll += 2000;
            written += 1;
            continue;
        }
        let roll = rng.below(10_000);
        if burst_left > 0 {
            // The burst bot: 60 requests in a row, now and then.
            out.event("10.66.0.1", "GET", "/search", ms, 900)?;
            burst_left -= 1;
        } else if scan_left > 0 {
            // The scanner: a new path every time, 80 in a row.
            let probe = format!("/probe/{}", rng.below(1_000_000));
            out.event("198.51.100.7", "GET", &probe, ms, 153)?;
            scan_left -= 1;
        } else if roll < 5 {
            burst_left = 60;
            out.event("10.66.0.1", "GET", "/search", ms, 900)?;
        } else if roll < 7 {
            scan_left = 80;
            out.event("198.51.100.7", "GET", "/", ms, 153)?;
        } else if roll < 40 {
            out.event("10.13.0.9", "POST", "/login", ms, 40)?;
        } else {
            // Ordinary clients, some far busier than others.
            let u = rng.unit();
            let c = ((u * u) * clients as f64) as u64;
            let actor = format!("10.{}.{}.{}", c >> 16 & 255, c >> 8 & 255, c & 255);
            let action = if rng.below(10) == 0 { "POST" } else { "GET" };
            let path = &paths[(rng.below(200) * rng.below(200) / 200) as usize];
            out.event(&actor, action, path, ms, 500 + rng.below(20_000))?;
        }
        written += 1;
    }
    out.w.flush()
}

/// Many live actors: 65,536 addresses at random plus one abusive actor sending 1% of the events,
/// 500 targets, 0-3 ms apart.
fn wide_traffic<W: Write>(out: &mut Out<W>, rng: &mut Rng, events: u64) -> std::io::Result<()> {
    let targets: Vec<String> = (0..500).map(|t| format!("/t/{t}")).collect();
    let mut ms = 0;
    for _ in 0..events {
        ms += rng.below(4);
        let target = &targets[rng.below(500) as usize];
        if rng.below(100) == 0 {
            out.event("ip:203.0.113.66", "GET", target, ms, 100)?;
        } else {
            let actor = format!("ip:10.0.{}.{}", rng.below(256), rng.below(256));
            out.event(&actor, "GET", target, ms, 100)?;
        }
    }
    out.w.flush()
}

/// An sshd log of `lines` lines over 2026-11-24 (see the file's doc comment).
fn auth_log<W: Write>(w: &mut W, rng: &mut Rng, lines: u64) -> std::io::Result<()> {
    const USERS: [&str; 8] = [
        "admin",
        "test",
        "oracle",
        "postgres",
        "user",
        "ubuntu",
        "git",
        "webmaster",
    ];
    let mut written = 0u64;
    let mut pid = 24_200u64;
    let gap = 86_400_000 / lines.max(1);
    let mut ms = 0u64;
    let mut stamp = |rng: &mut Rng| {
        ms = (ms + rng.below(2 * gap + 1)).min(86_399_999);
        let s = ms / 1000;
        format!(
            "Nov 24 {:02}:{:02}:{:02} LabSZ",
            s / 3600,
            s % 3600 / 60,
            s % 60
        )
    };
    while written < lines {
        pid += 2;
        let ip = format!(
            "{}.{}.{}.{}",
            1 + rng.below(222),
            rng.below(256),
            rng.below(256),
            1 + rng.below(254)
        );
        let ip = if rng.below(4) == 0 {
            format!("112.95.230.{}", rng.below(8))
        } else {
            ip
        };
        let port = 30_000 + rng.below(30_000);
        let roll = rng.below(100);
        let block: Vec<String> = if roll < 45 {
            let t = stamp(rng);
            vec![
                format!("{t} sshd[{pid}]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user=root"),
                format!("{t} sshd[{pid}]: Failed password for root from {ip} port {port} ssh2"),
                format!("{t} sshd[{pid}]: Received disconnect from {ip}: 11: Bye Bye [preauth]"),
            ]
        } else if roll < 70 {
            let t = stamp(rng);
            let user = USERS[rng.below(8) as usize];
            vec![
                format!("{t} sshd[{pid}]: Invalid user {user} from {ip}"),
                format!("{t} sshd[{pid}]: input_userauth_request: invalid user {user} [preauth]"),
                format!("{t} sshd[{pid}]: pam_unix(sshd:auth): check pass; user unknown"),
                format!("{t} sshd[{pid}]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip} "),
                format!("{t} sshd[{pid}]: Failed password for invalid user {user} from {ip} port {port} ssh2"),
                format!("{t} sshd[{pid}]: Connection closed by {ip} [preauth]"),
            ]
        } else if roll < 80 {
            let t = stamp(rng);
            vec![format!(
                "{t} sshd[{pid}]: Did not receive identification string from {ip}"
            )]
        } else if roll < 90 {
            let t = stamp(rng);
            vec![
                format!("{t} CRON[{pid}]: pam_unix(cron:session): session opened for user root by (uid=0)"),
                format!("{t} CRON[{pid}]: pam_unix(cron:session): session closed for user root"),
            ]
        } else {
            let t = stamp(rng);
            vec![
                format!("{t} sshd[{pid}]: reverse mapping checking getaddrinfo for ns.example.com [{ip}] failed - POSSIBLE BREAK-IN ATTEMPT!"),
                format!("{t} sshd[{pid}]: Accepted password for fztu from {ip} port {port} ssh2"),
                format!("{t} sshd[{pid}]: pam_unix(sshd:session): session opened for user fztu by (uid=0)"),
            ]
        };
        for line in block {
            if written == lines {
                break;
            }
            writeln!(w, "{line}")?;
            written += 1;
        }
    }
    w.flush()
}
