#!/usr/bin/env bash
# Instructions replay executes on the first 200,000 events of the wide workload (65,536 live
# actors, JSON Lines), counted by valgrind's callgrind: a figure that repeats exactly whatever
# else the machine is doing, so a change to the parser or the engine can be measured on a busy
# host where wall-clock runs move by 20%. With a git revision, that revision is built in a
# temporary worktree and counted too, and both outputs are checked to be the same summary.
#
#   bash scripts/count-replay.sh            # this tree
#   bash scripts/count-replay.sh 05b9271    # this tree against an older commit
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { apt-get update && apt-get install -y valgrind; }

work=$(mktemp -d)
trap 'git worktree remove --force "$work/base" 2>/dev/null || true; rm -rf "$work"' EXIT
cargo build --release --quiet --bin pattern-guard --example gen_traffic
target/release/examples/gen_traffic --profile wide --events 2000000 --format jsonl 2>/dev/null |
  head -200000 > "$work/wide.jsonl" || true
count() { # label binary
  valgrind --tool=callgrind --callgrind-out-file="$work/$1.cg" "$2" replay --format jsonl --json \
    "$work/wide.jsonl" 2> "$work/$1.err" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); d.pop("elapsed_secs"); d.pop("events_per_sec", None); print(json.dumps(d, sort_keys=True))' \
    > "$work/$1.json"
  local n
  n=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$work/$1.err")
  echo "$1: $n instructions, $((n / 200000)) an event"
}
count this target/release/pattern-guard
if [ $# -ge 1 ]; then
  git worktree add --quiet --detach "$work/base" "$1"
  (cd "$work/base" && CARGO_TARGET_DIR="$work/target" cargo build --release --quiet --bin pattern-guard)
  count "$1" "$work/target/release/pattern-guard"
  cmp -s "$work/this.json" "$work/$1.json" && echo "same summary" || echo "the summaries differ"
fi
