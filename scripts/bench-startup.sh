#!/usr/bin/env bash
# Whole-process cost of guarding a command, against `timeout 10 true`, measured in one run.
#
# The actor's state holds 10,000 recent events (as a busy cron job or loop would leave it):
#   demo     pattern-guard --config guard.toml.demo -- true   (blocked at that history: it loads,
#            checks, saves and refuses; no spawn)
#   allowed  the same history under limits that allow the run: load, check, save, spawn `true`
#   fresh    the same limits with a short history (the state of the runs hyperfine makes): the
#            fixed cost of guarding a command, for comparison
#
#   bash scripts/bench-startup.sh            # needs hyperfine (apt-get install hyperfine)
set -euo pipefail
cd "$(dirname "$0")/.."

command -v hyperfine >/dev/null || { echo "needs hyperfine: apt-get install hyperfine" >&2; exit 2; }
cargo build --release --quiet
bin=$PWD/target/release/pattern-guard
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PATTERN_GUARD_STATE_DIR=$work/state XDG_CONFIG_HOME=$work/config
cat > "$work/allow.toml" <<'TOML'
[guard]
window_secs = 3600
burst_max_events = 100000
repetition_max_count = 100000
max_events_per_actor = 200000
weight_max_total = 1e12
TOML

echo "seeding 10,000 recent events for actor 'cli'..."
"$bin" --config "$work/allow.toml" --repeat 10000 -- true
ls -l "$work"/state/*.state

hyperfine --shell=none --warmup 20 --runs 300 --ignore-failure \
  --export-json "$work/results.json" \
  'timeout 10 true' \
  "$bin --config guard.toml.demo -- true" \
  "$bin --config $work/allow.toml -- true" \
  "$bin --state-dir $work/fresh --config $work/allow.toml -- true"

python3 - "$work/results.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
base = r[0]["mean"]
names = ["timeout 10 true", "demo (blocked, no spawn)", "allowed (spawns true)", "fresh (short history)"]
for name, res in zip(names, r):
    print(f"{name:<28} {res['mean']*1e3:7.2f} ms ± {res['stddev']*1e3:5.2f}  = {res['mean']/base:4.2f}x timeout (goal <= 1.5x)")
PY
