//! The per-actor log in the store and the one script that works on it; independent of how the
//! script is sent (the async [`SharedGuard`](super::SharedGuard), the CLI's blocking calls).
//!
//! # What Redis holds
//! Two keys per actor, in one Redis Cluster slot: a hash at `<prefix>{<16 hex digits>}` (the
//! braces are the hash tag; the digits are a hash of the actor id, which is kept in the field
//! `actor`) and its events, a string at the same name with `:log` after it. The events are
//! fixed-size entries appended to the string ([`EVENT_BYTES`] each: the time in microseconds
//! as 16 digits, a space, then 24 bytes: the keyed hashes of (action, target) and of target,
//! and the weight in millionths, little-endian u64 each), so a check appends with `APPEND` and
//! reads what it lacks with one `GETRANGE`.
//!
//! | hash field | holds |
//! |---|---|
//! | `actor` | the actor id |
//! | `seq` | the number of the last event appended (events are numbered from 1) |
//! | `first` | the number of the oldest event still kept |
//! | `lfirst` | the number of the string's first entry (the head before `first` is dropped once it is as long as the rest) |
//! | `ts` | the last event's time, microseconds since the Unix epoch |
//! | `epoch` | when this log started (a log that expired starts numbering again) |
//! | `base`, `esc` | a checkpoint after event `base`: the escalation (strikes, since, last seen), then, once the actor has a learned baseline, its figures (count, allowed, samples, mean and variance bits) |
//! | `leases` | running instances: `id=until:since,...` (microseconds, server clock) |
//! | `seed` | the hash seed the events were hashed under (every process hashes under it) |
//! | `n:<name>` | notes kept beside the history (the CLI: `config`, the last run's configuration; `stop`, the last run it stopped; `durations`, the recent completed runs' durations for `max_runtime = "auto"`; `decisions`, the runs' decisions in the window for `--metrics-file`) |
//!
//! # The script (one round trip per check)
//! Under Redis's single-threaded execution it reads the server's clock (`TIME`), gives the event
//! its final time (the caller's explicit time capped at server time + `future_tolerance_secs`,
//! never before the previous event), appends it, stores the caller's checkpoint when newer,
//! trims, sets the key's expiry, and returns every event after the caller's last one. Each
//! process keeps a view of the actor (its windows and escalation, the engine's own memory) and
//! applies the returned events in the log's order: every process reaches the decision a single
//! guard fed the log in order would, and its own event's decision is the one for its number.
//!
//! # Bounds and what is exact
//! Events up to the checkpoint are kept only while the window could still hold them (younger
//! than the window, and at most `max_events_per_actor`); a process that has to rebuild an actor
//! puts those in its window and takes the checkpoint's escalation, then checks the events after
//! it, exactly as the processes that saw them did. Every process sends its checkpoint with each
//! call, so the events after it are the ones checked since its last call. At most
//! [`MAX_UNCHECKPOINTED`] events past the checkpoint are kept: past that (no process wrote a
//! checkpoint for that many events) the oldest go and a rebuild starts its escalation from the
//! older checkpoint. The key expires when the window has passed, the escalation has cooled down
//! and no lease is held.

use std::fmt::Write as _;

use crate::baseline::Baseline;
use crate::escalation::Escalation;
use crate::window::Record;

/// Events past the last checkpoint kept at most, beyond the window's own cap.
pub const MAX_UNCHECKPOINTED: u64 = 1024;

/// The script's text.
pub fn script() -> String {
    SCRIPT
        .replace("@MAX_UNCHECKPOINTED@", &MAX_UNCHECKPOINTED.to_string())
        .replace("@EVENT_BYTES@", &EVENT_BYTES.to_string())
}

/// The script, before its constants are filled in. `KEYS[1]`: the actor's hash. `ARGV`: see
/// [`Call`].
const SCRIPT: &str = r"
local k, lk = KEYS[1], KEYS[2]
local op = ARGV[1]
local W = @EVENT_BYTES@
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local h = redis.call('HMGET', k, 'seq', 'first', 'base', 'ts', 'esc', 'leases', 'seed', 'actor', 'epoch', 'lfirst')
if ARGV[15] ~= '' and h[7] and h[7] ~= ARGV[15] then return {'seed', h[7]} end
local seq = tonumber(h[1]) or 0
local first = tonumber(h[2]) or 1
local base = tonumber(h[3]) or 0
local last_ts = tonumber(h[4]) or 0
local esc = h[5] or ''
local actor = h[8] or ARGV[2]
local epoch = h[9] or ''
local lfirst = tonumber(h[10]) or 1
local first0, lfirst0 = first, lfirst
local function n(x) return string.format('%.0f', x) end
local leases, live, changed = {}, 0, false
for id, untl, since in string.gmatch(h[6] or '', '([^=,]+)=(%d+):(%d+)') do
  if tonumber(untl) > now then leases[id] = untl .. ':' .. since; live = live + 1
  else changed = true end
end
local lease, lease_us = ARGV[12], tonumber(ARGV[14])
local status = 'ok'
local mine = seq
if op == 'check' then
  local max = tonumber(ARGV[13])
  if string.len(ARGV[9]) ~= 24 then return redis.error_reply('pattern-guard: an event is 24 bytes') end
  if max > 0 and lease ~= '' and leases[lease] == nil and live >= max then
    status = 'busy'
  else
    local ts = now
    if ARGV[4] ~= '' then ts = math.min(tonumber(ARGV[4]), now + tonumber(ARGV[5])) end
    if ts < last_ts then ts = last_ts end
    if seq == 0 then
      epoch = n(now); first = 1; lfirst = 1
      redis.call('DEL', lk)
      redis.call('HSET', k, 'epoch', epoch)
    end
    if not h[7] and ARGV[15] ~= '' then redis.call('HSET', k, 'seed', ARGV[15]) end
    seq = seq + 1
    mine = seq
    last_ts = ts
    redis.call('APPEND', lk, string.format('%016.0f', ts) .. ' ' .. ARGV[9])
    redis.call('HSET', k, 'seq', n(seq), 'ts', n(ts), 'actor', actor)
    if lease ~= '' and max > 0 then
      leases[lease] = n(now + lease_us) .. ':' .. n(now); changed = true
    end
  end
elseif op == 'renew' and lease ~= '' and leases[lease] ~= nil then
  local since = string.match(leases[lease], ':(%d+)$')
  leases[lease] = n(now + lease_us) .. ':' .. since; changed = true
elseif op == 'release' and lease ~= '' then
  if leases[lease] ~= nil then leases[lease] = nil; changed = true end
end
local writes = tonumber(ARGV[17])
for i = 0, writes - 1 do
  redis.call('HSET', k, 'n:' .. ARGV[18 + 2 * i], ARGV[19 + 2 * i], 'actor', actor)
end
if changed then
  local parts = {}
  for id, v in pairs(leases) do parts[#parts + 1] = id .. '=' .. v end
  table.sort(parts)
  redis.call('HSET', k, 'leases', table.concat(parts, ','), 'actor', actor)
end
local ck = tonumber(ARGV[10])
if ck and ck > base and ck <= seq then
  base = ck; esc = ARGV[11]
  redis.call('HSET', k, 'base', n(base), 'esc', esc)
end
-- Trim: events up to the checkpoint that the window no longer holds.
local window_us, max_events = tonumber(ARGV[6]), tonumber(ARGV[7])
while first <= seq do
  local count = seq - first + 1
  local over = count > max_events + @MAX_UNCHECKPOINTED@
  if not over and first > base then break end
  if not over and count <= max_events then
    local off = (first - lfirst) * W
    local ts = tonumber(redis.call('GETRANGE', lk, off, off + 15)) or 0
    if ts + window_us + 1 >= last_ts then break end
  end
  first = first + 1
end
-- The string drops its dead head once it is as long as the live part.
local dead = first - lfirst
if dead > 64 and dead >= seq - first + 1 then
  redis.call('SET', lk, redis.call('GETRANGE', lk, dead * W, -1))
  lfirst = first
end
if seq > 0 and (first ~= first0 or lfirst ~= lfirst0 or h[2] == false) then
  redis.call('HSET', k, 'first', n(first), 'lfirst', n(lfirst))
end
local ttl = tonumber(ARGV[8])
for _, v in pairs(leases) do
  local untl = tonumber(string.match(v, '^%d+'))
  if (untl - now) / 1000 + 1000 > ttl then ttl = (untl - now) / 1000 + 1000 end
end
local pttl = redis.call('PTTL', k)
if pttl ~= -2 and pttl < ttl then
  redis.call('PEXPIRE', k, n(ttl))
  redis.call('PEXPIRE', lk, n(ttl))
end
local from = tonumber(ARGV[3]) + 1
local rebuild = 0
if from == 1 or from < first or ARGV[16] ~= epoch then from = first; rebuild = 1 end
local parts = {}
for id, v in pairs(leases) do parts[#parts + 1] = id .. '=' .. v end
table.sort(parts)
local reads = {}
for j = 18 + 2 * writes, #ARGV do reads[#reads + 1] = 'n:' .. ARGV[j] end
local out = {status, n(mine), n(from), n(rebuild), n(base), esc, n(now), table.concat(parts, ','), n(#reads), actor, epoch}
if #reads > 0 then
  for _, v in ipairs(redis.call('HMGET', k, unpack(reads))) do out[#out + 1] = v or '' end
end
if op == 'check' or op == 'fetch' then
  if from <= seq then
    out[#out + 1] = redis.call('GETRANGE', lk, (from - lfirst) * W, (seq - lfirst + 1) * W - 1)
  else
    out[#out + 1] = ''
  end
end
return out
";

/// What a call asks of the script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Append an event and return the log since the caller's last event.
    Check,
    /// Return the log since the caller's last event, appending nothing.
    Fetch,
    /// Extend a lease.
    Renew,
    /// Give a lease back.
    Release,
}

/// One call of the script: its arguments.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub op: Op,
    pub actor: &'a str,
    /// The caller's last applied event (0: none).
    pub since: u64,
    /// The event's explicit time in microseconds; `None`: the server's clock.
    pub at_us: Option<u64>,
    pub future_us: u64,
    pub window_us: u64,
    pub max_events: u64,
    /// The key's time to live after this call, in milliseconds.
    pub ttl_ms: u64,
    /// The event's hashes and weight.
    pub record: Option<Record>,
    /// The caller's checkpoint: its escalation and learned baseline after this event number,
    /// and its last-seen time.
    pub checkpoint: Option<(u64, Escalation, Baseline, u64)>,
    /// A lease to take with the event (`Check`, with `lease_max`), renew or release.
    pub lease: Option<&'a str>,
    /// With `Check` and a lease: how many live leases may be held before this one (0: no limit).
    pub lease_max: u64,
    pub lease_us: u64,
    /// Notes to keep beside the history, by name.
    pub notes: &'a [(&'a str, &'a [u8])],
    /// Notes to return, by name.
    pub read: &'a [&'a str],
    /// The hash seed the caller's record was hashed under: the script refuses a check hashed
    /// under another seed than the log's (and answers with the log's).
    pub seed: Option<u64>,
    /// The log's epoch the caller's `since` counts in (a log that expired and started again
    /// numbers its events from 1 again).
    pub epoch: &'a str,
}

impl<'a> Call<'a> {
    /// A call on `actor` with nothing but the operation.
    pub fn new(op: Op, actor: &'a str) -> Self {
        Call {
            op,
            actor,
            since: 0,
            at_us: None,
            future_us: 0,
            window_us: 0,
            max_events: 1,
            ttl_ms: 1000,
            record: None,
            checkpoint: None,
            lease: None,
            lease_max: 0,
            lease_us: 0,
            notes: &[],
            read: &[],
            seed: None,
            epoch: "",
        }
    }

    /// The script's `ARGV`.
    pub fn args(&self) -> Vec<Vec<u8>> {
        let op = match self.op {
            Op::Check => "check",
            Op::Fetch => "fetch",
            Op::Renew => "renew",
            Op::Release => "release",
        };
        let record = self.record.map_or_else(Vec::new, |r| {
            let mut b = Vec::with_capacity(24);
            for v in [r.key, r.target, r.weight] {
                b.extend_from_slice(&v.to_le_bytes());
            }
            b
        });
        let (ck_seq, ck) =
            self.checkpoint
                .map_or((String::new(), String::new()), |(s, e, b, l)| {
                    let mut ck = format!("{} {} {}", e.strikes, e.since, l);
                    if b.count > 0 || b.samples > 0 {
                        let _ = write!(
                            ck,
                            " {} {} {} {} {}",
                            b.count,
                            b.allowed,
                            b.samples,
                            b.mean.to_bits(),
                            b.var.to_bits()
                        );
                    }
                    (s.to_string(), ck)
                });
        let mut args: Vec<Vec<u8>> = vec![
            op.into(),
            self.actor.into(),
            self.since.to_string().into(),
            self.at_us
                .map_or_else(String::new, |t| t.to_string())
                .into(),
            self.future_us.to_string().into(),
            self.window_us.to_string().into(),
            self.max_events.to_string().into(),
            self.ttl_ms.max(1).to_string().into(),
            record,
            ck_seq.into(),
            ck.into(),
            self.lease.unwrap_or_default().into(),
            self.lease_max.to_string().into(),
            self.lease_us.to_string().into(),
            self.seed.map_or_else(String::new, |s| s.to_string()).into(),
            self.epoch.into(),
            self.notes.len().to_string().into(),
        ];
        for (name, value) in self.notes {
            args.push(name.as_bytes().to_vec());
            args.push(value.to_vec());
        }
        args.extend(self.read.iter().map(|n| n.as_bytes().to_vec()));
        args
    }
}

/// One event of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Logged {
    pub seq: u64,
    pub record: Record,
}

/// A running instance's lease as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub id: String,
    /// When it ends unless renewed, microseconds (server clock).
    pub until_us: u64,
    /// When it was taken.
    pub since_us: u64,
}

/// What the script answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// `false`: the lease limit was reached and nothing was appended.
    pub admitted: bool,
    /// The number of the caller's event (`Check`), else of the last event.
    pub seq: u64,
    /// The events from the caller's last one on (or from the oldest kept, when `rebuild`).
    pub events: Vec<Logged>,
    /// The caller's view cannot be brought up to date event by event: rebuild the actor from
    /// `events` and the checkpoint.
    pub rebuild: bool,
    /// The checkpoint: events up to this number are before it.
    pub base: u64,
    pub escalation: Escalation,
    /// The checkpoint's learned baseline (empty when it had none).
    pub baseline: Baseline,
    pub last_seen: u64,
    /// The server's clock, microseconds.
    pub now_us: u64,
    pub leases: Vec<Lease>,
    /// The notes asked for, in the order asked (empty when not kept).
    pub notes: Vec<Vec<u8>>,
    pub actor: String,
    /// When the log was started (its events are numbered from 1 since).
    pub epoch: String,
}

/// How a parse error says the log is hashed under another seed: the mark, then the seed.
pub const SEED_MARK: &str = "seed:";

/// The seed a refused check should be hashed under, from a parse error.
pub fn other_seed(error: &str) -> Option<u64> {
    error.strip_prefix(SEED_MARK)?.parse().ok()
}

/// A reply that is not what the script returns (another program at the key, a proxy in the way).
fn malformed(what: &str) -> String {
    format!("the store's reply is not the pattern-guard script's ({what})")
}

impl Reply {
    /// Reads the script's array of strings.
    pub fn parse(items: &[Vec<u8>]) -> Result<Reply, String> {
        if items.first().is_some_and(|s| s == b"seed") {
            let seed = items
                .get(1)
                .and_then(|s| std::str::from_utf8(s).ok()?.parse::<u64>().ok())
                .ok_or_else(|| malformed("seed"))?;
            return Err(format!("{SEED_MARK}{seed}"));
        }
        if items.len() < 11 {
            return Err(malformed("too short"));
        }
        let text = |i: usize| std::str::from_utf8(&items[i]).map_err(|_| malformed("not text"));
        let num = |i: usize| -> Result<u64, String> {
            text(i)?.parse().map_err(|_| malformed("not a number"))
        };
        let admitted = match text(0)? {
            "ok" => true,
            "busy" => false,
            _ => return Err(malformed("unknown status")),
        };
        let (seq, from, rebuild, base) = (num(1)?, num(2)?, num(3)? == 1, num(4)?);
        let mut escalation = Escalation::default();
        let mut baseline = Baseline::default();
        let mut last_seen = 0;
        let esc = text(5)?;
        if !esc.is_empty() {
            let f: Vec<u64> = esc
                .split(' ')
                .map(str::parse)
                .collect::<Result<_, _>>()
                .map_err(|_| malformed("checkpoint"))?;
            let (strikes, since, last) = match f[..] {
                [strikes, since, last] => (strikes, since, last),
                [strikes, since, last, count, allowed, samples, mean, var] => {
                    let small = |v: u64| u32::try_from(v).map_err(|_| malformed("checkpoint"));
                    baseline = Baseline {
                        mean: f64::from_bits(mean),
                        var: f32::from_bits(small(var)?),
                        count: small(count)?,
                        allowed: small(allowed)?,
                        samples: small(samples)?,
                    };
                    (strikes, since, last)
                }
                _ => return Err(malformed("checkpoint")),
            };
            escalation = Escalation {
                strikes: u32::try_from(strikes).map_err(|_| malformed("checkpoint"))?,
                since,
            };
            last_seen = last;
        }
        let mut leases = Vec::new();
        for part in text(7)?.split(',').filter(|p| !p.is_empty()) {
            let lease = part.rsplit_once('=').and_then(|(id, v)| {
                let (until, since) = v.split_once(':')?;
                Some(Lease {
                    id: id.to_string(),
                    until_us: until.parse().ok()?,
                    since_us: since.parse().ok()?,
                })
            });
            leases.push(lease.ok_or_else(|| malformed("lease"))?);
        }
        let read = usize::try_from(num(8)?).map_err(|_| malformed("notes"))?;
        let notes = items
            .get(11..11 + read)
            .ok_or_else(|| malformed("notes"))?
            .to_vec();
        // The events, one string of fixed-size entries.
        let mut events = Vec::new();
        if let Some(blob) = items.get(11 + read) {
            if blob.len() % EVENT_BYTES != 0 {
                return Err(malformed("events"));
            }
            events.reserve(blob.len() / EVENT_BYTES);
            for (i, e) in blob.chunks_exact(EVENT_BYTES).enumerate() {
                events.push(Logged {
                    seq: from + i as u64,
                    record: decode_event(e).ok_or_else(|| malformed("event"))?,
                });
            }
        }
        Ok(Reply {
            admitted,
            seq,
            events,
            rebuild,
            base,
            escalation,
            baseline,
            last_seen,
            now_us: num(6)?,
            leases,
            notes,
            actor: text(9)?.to_string(),
            epoch: text(10)?.to_string(),
        })
    }
}

/// An event's bytes in the log: 16 digits of microseconds, a space, 24 bytes.
pub const EVENT_BYTES: usize = 16 + 1 + 24;

/// `<micros> <24 bytes>` as a record.
fn decode_event(e: &[u8]) -> Option<Record> {
    let space = e.iter().position(|&b| b == b' ')?;
    let ts_us: u64 = std::str::from_utf8(&e[..space]).ok()?.parse().ok()?;
    let rest = &e[space + 1..];
    if rest.len() != 24 {
        return None;
    }
    let word = |i: usize| u64::from_le_bytes(rest[i * 8..i * 8 + 8].try_into().unwrap_or_default());
    Some(Record {
        ts: ts_us.saturating_mul(1000),
        key: word(0),
        target: word(1),
        weight: word(2),
    })
}

/// The key of the string of events beside the actor's hash at `key`.
pub fn log_key(key: &str) -> String {
    format!("{key}:log")
}

/// The key of `actor`'s hash under `prefix`: a Redis Cluster hash tag around a hash of the id.
pub fn key(prefix: &str, actor: &str) -> String {
    let h = xxhash_rust::xxh3::xxh3_64(actor.as_bytes());
    format!("{prefix}{{{h:016x}}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_the_log_encoding() {
        let r = Record {
            ts: 1_700_000_000_123_456_000,
            key: 7,
            target: u64::MAX,
            weight: 1_000_000,
        };
        let call = Call {
            record: Some(r),
            ..Call::new(Op::Check, "a")
        };
        let mut e = b"1700000000123456 ".to_vec();
        e.extend_from_slice(&call.args()[8]);
        assert_eq!(e.len(), EVENT_BYTES);
        assert_eq!(decode_event(&e), Some(r));
        assert_eq!(decode_event(b"12 short"), None);
        assert_eq!(decode_event(b"nospace"), None);
    }

    #[test]
    fn keys_carry_a_cluster_hash_tag() {
        let k = key("pg:", "cron:backup");
        assert!(k.starts_with("pg:{") && k.ends_with('}') && k.len() == 4 + 16 + 1);
        assert_ne!(k, key("pg:", "cron:backup2"));
    }

    #[test]
    fn replies_that_are_not_the_script_are_refused() {
        assert!(Reply::parse(&[b"ok".to_vec()]).is_err());
        let mut items: Vec<Vec<u8>> = ["nope", "1", "1", "0", "0", "", "5", "", "0", "a", "9"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        assert!(Reply::parse(&items).is_err());
        items[0] = b"ok".to_vec();
        let reply = Reply::parse(&items).unwrap();
        assert!(reply.admitted && reply.events.is_empty() && reply.actor == "a");
        items.push(b"garbage".to_vec());
        assert!(
            Reply::parse(&items).is_err(),
            "events come in whole entries"
        );
    }
}
