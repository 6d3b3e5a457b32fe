#!/usr/bin/env bash
# The shared store's cost, in one run, against a redis-server started here on a free loopback
# port (nothing else is contacted):
#   1. the library (benches/shared_store.rs): one check's median / p99 latency, checks per second
#      from one process with CALLERS concurrent callers (10,000 actors; one actor), and the
#      memory Redis holds per actor and per event;
#   2. the CLI: the whole process of `pattern-guard -- true` with `--store` against the same run
#      with the local state file (hyperfine, 3 rounds of 100 runs each, the two alternating by
#      round), for an actor with 100 events in its window and one with 3,000.
#
#   bash scripts/bench-store.sh          # needs redis-server and hyperfine (apt-get install ...)
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in redis-server hyperfine; do
  command -v "$tool" >/dev/null || { echo "needs $tool: apt-get install $tool" >&2; exit 2; }
done
cargo bench --quiet --bench shared_store --features redis 2>/dev/null | grep -v '^$'

cargo build --release --quiet
bin=$PWD/target/release/pattern-guard
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >/dev/null &
trap 'kill %1 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
cat > "$work/open.toml" <<'TOML'
[guard]
window_secs = 3600
burst_max_events = 100000
repetition_max_count = 100000
max_events_per_actor = 200000
weight_max_total = 1e12
TOML
export PATTERN_GUARD_STATE_DIR=$work/state XDG_CONFIG_HOME=$work/config
store="--store redis://127.0.0.1:$port/0"
for events in 100 3000; do
  # The actor's history: EVENTS runs already in its window, locally and in the store (each
  # hyperfine round adds its own 110 runs to both).
  "$bin" --config "$work/open.toml" --actor "job$events" --repeat "$events" -- true
  "$bin" --config "$work/open.toml" $store --actor "job$events" --repeat "$events" -- true
  for round in 1 2 3; do
    hyperfine --shell=none --warmup 10 --runs 100 --export-json "$work/cli-$events-$round.json" \
      "$bin --config $work/open.toml --actor job$events -- true" \
      "$bin --config $work/open.toml $store --actor job$events -- true" >/dev/null
  done
  python3 - "$events" "$work"/cli-"$events"-*.json <<'PY'
import json, statistics, sys
events, files = sys.argv[1], sys.argv[2:]
rounds = []
for f in files:
    local, store = (x["median"] * 1e3 for x in json.load(open(f))["results"])
    rounds.append((local, store, store - local))
local, store, diff = (statistics.median(r[i] for r in rounds) for i in range(3))
print(f"CLI whole process, history of {events} events, median of 3 rounds x 100 runs: "
      f"local state file {local:.2f} ms, --store {store:.2f} ms: {diff:+.2f} ms "
      f"(rounds: {', '.join(f'{r[2]:+.2f}' for r in rounds)}; goal within +1 ms)")
PY
done
