#!/usr/bin/env bash
# Replay throughput from a file, one core, on two workloads of 2,000,000 generated events:
#   day   20,000 ordinary clients, a burst bot, a fixed-interval poller, a path scanner and a
#         login retry loop over a day, in both input formats (few actors live at once);
#   wide  65,536 actors ip:10.0.X.Y at random plus one abusive actor sending 1%, 500 targets,
#         0-3 ms apart, JSON Lines (tens of thousands of actors live at once);
#   auth  an sshd log (auth.log as Debian writes it) read by the `sshd` preset, a regex format:
#         brute-force sessions, invalid users, scanners, and the CRON / accepted-login lines
#         around them (about 30% of the lines are not events). Figures are LINES per second.
#
# For each format it runs `replay --parse-only` (read and parse, no guard) and a full `replay`
# (parse, guard, summary) three times each and keeps the fastest; the engine's share is the
# difference. Figures are events per second as replay itself reports them (elapsed from the first
# read to the last event, excluding start-up and printing).
#
#   bash scripts/bench-replay.sh            # about a minute
#   EVENTS=500000 bash scripts/bench-replay.sh
set -euo pipefail
cd "$(dirname "$0")/.."

events=${EVENTS:-2000000}
cargo build --release --quiet --bin pattern-guard --example gen_traffic
bin=$PWD/target/release/pattern-guard
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)

for workload in day-jsonl day-combined wide-jsonl auth-sshd; do
  profile=${workload%-*} format=${workload#*-}
  input=$work/traffic.$workload
  gen_format=$format
  [ "$format" = sshd ] && gen_format=jsonl
  target/release/examples/gen_traffic --profile "$profile" --events "$events" --format "$gen_format" > "$input"
  for mode in parse full; do
    flags=(--json --format "$format" --year 2026)
    [ "$mode" = parse ] && flags+=(--parse-only)
    for _ in 1 2 3; do
      "${pin[@]}" "$bin" replay "${flags[@]}" "$input" > "$work/$workload-$mode.json"
      python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["elapsed_secs"])' \
        "$work/$workload-$mode.json"
    done | sort -n | head -1 > "$work/$workload-$mode.secs"
  done
  python3 - "$work" "$workload" "$events" "$(du -h "$input" | cut -f1)" <<'PY'
import json, sys
work, fmt, events, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
parse = float(open(f"{work}/{fmt}-parse.secs").read())
full = float(open(f"{work}/{fmt}-full.secs").read())
s = json.load(open(f"{work}/{fmt}-full.json"))
engine = full - parse
goal = "lines/s, goal >= 0.50" if fmt.endswith("sshd") else "events/s, goal >= 1.00"
print(f"{fmt:<12} {events:,} lines ({size}, {s['events']:,} events): {events / full / 1e6:.2f} M {goal}; "
      f"parse {parse:.2f} s ({parse / full:.0%}, {events / parse / 1e6:.2f} M/s), "
      f"guard and summary {engine:.2f} s ({engine / full:.0%}, {engine / events * 1e9:.0f} ns/event); "
      f"blocked {s['decisions']['block']:,}, rejected {s['rejected']}")
PY
done
