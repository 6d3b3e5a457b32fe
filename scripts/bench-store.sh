#!/usr/bin/env bash
# The shared store's cost, in one run, against a redis-server started here on a free loopback
# port (nothing else is contacted):
#   1. the library (benches/shared_store.rs): one check's median / p99 latency, checks per second
#      from one process with CALLERS concurrent callers (10,000 actors; one actor), and the
#      memory Redis holds per actor and per event;
#   2. the CLI: the whole process of `pattern-guard -- true` with `--store` against the same run
#      with the local state file, alternating in one hyperfine run (a window of 10 s, so the
#      history stays the size a busy job leaves: a few hundred events).
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
window_secs = 10
burst_max_events = 100000
repetition_max_count = 100000
max_events_per_actor = 200000
weight_max_total = 1e12
TOML
export PATTERN_GUARD_STATE_DIR=$work/state XDG_CONFIG_HOME=$work/config
hyperfine --shell=none --warmup 30 --runs 500 --export-json "$work/cli.json" \
  "$bin --config $work/open.toml -- true" \
  "$bin --config $work/open.toml --store redis://127.0.0.1:$port/0 -- true" | grep -v '^$'
python3 - "$work/cli.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
local, store = (x["median"] * 1e3 for x in r)
print(f"CLI whole process, median: local state file {local:.2f} ms, --store {store:.2f} ms: "
      f"{store - local:+.2f} ms (goal within +1 ms)")
PY
