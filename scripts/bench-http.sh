#!/usr/bin/env bash
# The HTTP layer's cost, two ways, in one run:
#   1. in-process (benches/http_layer.rs): per-request median and p99 of a service that answers
#      at once, bare, after the engine's own check, and behind GuardLayer (10,000 keys, 64 tasks);
#   2. end to end on loopback: requests per second of examples/http_server.rs with and without the
#      layer, measured by wrk (64 connections, 2 threads, DURATION each, taking turns, the one
#      that goes first alternating from round to round so neither gains by its place; the
#      median of ROUNDS rounds' ratios, as the shared host's speed moves between rounds), two
#      workloads:
#      - served: each request carries one of KEYS (default 10,000) client keys (an `x-client`
#        header, the layer's key), under a configuration that refuses nobody, so every request
#        takes the whole path;
#      - flood: one client (the peer address, the default key) under the built-in defaults, so
#        after its first requests every one is refused with a 429: what refusing costs;
#      - hot key: one client (one `x-client` value) under the configuration that refuses nobody:
#        every request takes the whole path, like `served`, but all on one actor's state, which
#        both of the server's worker threads write. Set beside `served` and `flood`, it tells
#        apart what refusing costs from what one busy client's state costs.
#
#   bash scripts/bench-http.sh                 # about nine minutes
#   DURATION=3s ROUNDS=20 bash scripts/bench-http.sh   # more, shorter pairs: a narrower interval
#   DURATION=5s ROUNDS=1 KEYS=100000 bash scripts/bench-http.sh
# Each median ratio comes with its 95% interval (resampling the rounds); with few rounds the
# interval is wide, which is the point: a run says "at the goal" only when its bottom is.
# Beside it, the server's own CPU time a request (user + system, from /proc around each wrk
# run) with and without the layer, and what the layer adds, with its interval: the cost itself,
# where the ratio also carries how the host shared its two cores that round.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${DURATION:-10s}
rounds=${ROUNDS:-6}
if ! command -v wrk >/dev/null; then
  apt-get update && apt-get install -y wrk
fi
cargo bench --quiet --bench http_layer --features tower 2>/dev/null | tail -5
cargo build --release --quiet --example http_server --features tower
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
printf '[guard]\nburst_max_events = 1000000\nrepetition_max_count = 1000000\nweight_max_total = 1e15\n[http]\nkey = "header"\nheader = "x-client"\n' > "$work/open.toml"
echo "KEYS = ${KEYS:-10000}" > "$work/clients.lua"
cat >> "$work/clients.lua" <<'LUA'
request = function()
  return wrk.format("GET", "/items/17", { ["x-client"] = "client-" .. math.random(KEYS) })
end
LUA

printf 'request = function()\n  return wrk.format("GET", "/items/17")\nend\n' > "$work/one.lua"
printf 'request = function()\n  return wrk.format("GET", "/items/17", { ["x-client"] = "client-1" })\nend\n' > "$work/hot.lua"

declare -A pid
ticks() { # port -> CPU time the server on it has used, in clock ticks (user + system)
  awk '{print $14 + $15}' "/proc/${pid[$1]}/stat"
}
rps() { # port, script -> "requests/s, server CPU microseconds a request"
  local before after out
  before=$(ticks "$1")
  out=$(wrk -t2 -c64 -d"$duration" -s "$work/$2" "http://127.0.0.1:$1/")
  after=$(ticks "$1")
  awk -v used=$((after - before)) -v hz="$(getconf CLK_TCK)" '
    / requests in / {n = $1} /Requests\/sec/ {r = $2}
    END {printf "%s %.3f\n", r, used / hz / n * 1e6}' <<< "$out"
}
start() { # port, flags...
  local port=$1; shift
  target/release/examples/http_server --listen "127.0.0.1:$port" "$@" 2>/dev/null &
  pid[$port]=$!
  for _ in $(seq 50); do curl -s "http://127.0.0.1:$port/" >/dev/null && return; sleep 0.1; done
  echo "the server on $port did not start" >&2; exit 1
}
start 18481 --config "$work/open.toml"
start 18482 --config "$work/open.toml" --no-guard
start 18483
start 18484 --no-guard
pair() { # port with, port without, script -> "with without", in this round's order
  local with without
  if (( round % 2 )); then
    without=$(rps "$2" "$3"); with=$(rps "$1" "$3")
  else
    with=$(rps "$1" "$3"); without=$(rps "$2" "$3")
  fi
  echo "$with $without"
}
for round in $(seq "$rounds"); do
  pair 18481 18482 clients.lua >> "$work/served"
  pair 18483 18484 one.lua >> "$work/flood"
  pair 18481 18482 hot.lua >> "$work/hot"
done
python3 - "$work" "$duration" "${KEYS:-10000}" <<'PY'
import statistics, sys
sys.path.insert(0, "scripts")
from median_interval import median_interval
work, duration, keys = sys.argv[1:]
for name, what in (("served", f"{keys} client keys, nobody refused"),
                   ("flood", "one client, the built-in defaults, refused with 429"),
                   ("hot", "one client key, nobody refused")):
    rounds = [tuple(map(float, l.split())) for l in open(f"{work}/{name}")]
    ratios = sorted(w / wo for w, _, wo, _ in rounds)
    print(f"end to end ({name}: {what}), wrk -t2 -c64 -d{duration} on loopback, "
          f"{len(rounds)} rounds (with and without, which goes first alternating):")
    for w, wc, wo, woc in rounds:
        print(f"  with the layer {w:9.0f} requests/s ({wc:5.2f} us server CPU a request), "
              f"without {wo:9.0f} ({woc:5.2f} us): {w / wo:.0%}")
    lo, hi = median_interval(ratios)
    print(f"  median ratio {statistics.median(ratios):.0%} (95% interval {lo:.0%} to {hi:.0%}; goal >= 90%), "
          f"best with / best without {max(r[0] for r in rounds) / max(r[2] for r in rounds):.0%}")
    added = sorted(wc - woc for _, wc, _, woc in rounds)
    lo, hi = median_interval(added)
    print(f"  server CPU a request: with {statistics.median(r[1] for r in rounds):.2f} us, without "
          f"{statistics.median(r[3] for r in rounds):.2f} us; the layer adds "
          f"{statistics.median(added):+.2f} us (95% interval {lo:+.2f} to {hi:+.2f})")
PY
