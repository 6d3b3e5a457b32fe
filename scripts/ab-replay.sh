#!/usr/bin/env bash
# Replay's wall-clock time, this tree against an older commit, in one run: both binaries replay
# the same 2,000,000 generated events on one core, alternating RUNS times (default 7), so a
# shared host's changing speed falls on both alike. Prints each pair, the medians and the best
# of each (events per second as replay itself reports them), and checks that both summaries are
# the same. Where callgrind's instruction counts (scripts/count-replay.sh) cannot see a change,
# such as overlapping cache misses, this can.
#
#   bash scripts/ab-replay.sh 0113694                 # the wide workload (65,536 live actors)
#   PROFILE=day RUNS=11 bash scripts/ab-replay.sh 0113694
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: bash scripts/ab-replay.sh BASE_COMMIT}
profile=${PROFILE:-wide}
runs=${RUNS:-7}

work=$(mktemp -d)
trap 'git worktree remove --force "$work/base" 2>/dev/null || true; rm -rf "$work"' EXIT
cargo build --release --quiet --bin pattern-guard --example gen_traffic
cp target/release/pattern-guard "$work/this"
git worktree add --quiet --detach "$work/base" "$base"
(cd "$work/base" && CARGO_TARGET_DIR="$work/target" cargo build --release --quiet --bin pattern-guard)
cp "$work/target/release/pattern-guard" "$work/base-bin"
target/release/examples/gen_traffic --profile "$profile" --events 2000000 --format jsonl > "$work/events.jsonl"
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)
for _ in $(seq "$runs"); do
  for b in base-bin this; do
    "${pin[@]}" "$work/$b" replay --json --format jsonl "$work/events.jsonl" > "$work/$b.json"
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["elapsed_secs"])' "$work/$b.json" >> "$work/$b.times"
  done
done
python3 - "$work" "$base" "$profile" <<'PY'
import json, statistics, sys
work, base, profile = sys.argv[1:]
t = {b: [float(x) for x in open(f"{work}/{b}.times")] for b in ("base-bin", "this")}
print(f"replay of 2,000,000 events ({profile}), {len(t['this'])} alternating runs, one core:")
for old, new in zip(t["base-bin"], t["this"]):
    print(f"  {base} {old:6.2f} s   this tree {new:6.2f} s")
for name, b in ((base, "base-bin"), ("this tree", "this")):
    m, best = statistics.median(t[b]), min(t[b])
    print(f"  {name}: median {m:.2f} s ({2 / m:.2f} M events/s), best {best:.2f} s ({2 / best:.2f} M events/s)")
print(f"  median time {statistics.median(t['this']) / statistics.median(t['base-bin']) - 1:+.0%}")
def summary(b):
    d = json.load(open(f"{work}/{b}.json"))
    d.pop("elapsed_secs"); d.pop("events_per_sec", None)
    return d
print("  same summary" if summary("base-bin") == summary("this") else "  THE SUMMARIES DIFFER")
PY
