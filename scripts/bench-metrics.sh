#!/usr/bin/env bash
# What the `metrics` feature costs a check, in one run. benches/metrics_cost.rs is built once
# without the feature ("off") and once with it; the two binaries then take turns ROUNDS times
# (default 5). In the build with the feature, a guard without a recorder (its handles no-ops)
# and one whose handles are the Prometheus recorder's (metrics-exporter-prometheus) take turns
# round by round in one process. Three workloads over 10,000 actors (benches/metrics_cost.rs):
# the engine bench's check (one event per actor per minute), normal traffic (1,000 checks a
# second, 100 targets: risk 0) and every check at risk (burst_max_events = 2).
#
# The differences between the two binaries move with the host (each is its own process); the
# one inside a process (no recorder against the Prometheus recorder) holds still. So, where
# valgrind is installed, the script also counts the instructions a check of the engine bench's
# workload executes in each build (callgrind, the guard as built alone, two lengths of run so
# set-up cancels out): the feature's own cost with no recorder, exactly. For context it also
# times a Prometheus counter handle's increment alone in a loop: the exporter's own share, which
# no change of ours can lower.
#
#   bash scripts/bench-metrics.sh                   # about ten minutes
#   ONLY=engine bash scripts/bench-metrics.sh       # one workload: engine, normal or hot
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${ROUNDS:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
build() { # features... -> the bench binary
  cargo bench --quiet --no-run --bench metrics_cost "$@" --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "metrics_cost":
        print(m["executable"])'
}
cp "$(build)" "$work/off"
cp "$(build --features metrics)" "$work/on"
for _ in $(seq "$rounds"); do
  "$work/off" --bench ${ONLY:+--only "$ONLY"} | grep -E 'per check|per increment' >> "$work/out"
  "$work/on" --bench ${ONLY:+--only "$ONLY"} | grep -E 'per check|per increment' >> "$work/out"
done
cat "$work/out"
python3 - "$work/out" <<'PY'
import re, statistics, sys
lines = open(sys.argv[1]).read().splitlines()
def med(label, case):
    prefix = f"{label}, {case}:"
    got = [float(re.search(r": ([0-9.]+) ns", l).group(1)) for l in lines if l.startswith(prefix)]
    return statistics.median(got)
for case in ["engine bench's check", "normal traffic", "every check at risk"]:
    if not any(f", {case}:" in l for l in lines):
        continue
    off, noop = med("metrics off", case), med("metrics on, no recorder", case)
    prom = med("metrics on, Prometheus recorder", case)
    print(f"{case}, medians: off {off:.1f} ns per check; on, no recorder {noop:.1f} "
          f"({noop-off:+.1f}); on, Prometheus recorder {prom:.1f} ({prom-noop:+.1f} over no "
          f"recorder, {prom-off:+.1f} over off; goal <= +20 ns)")
alone = [l for l in lines if l.startswith("for context, a counter increment alone")]
if alone:
    got = lambda what: statistics.median(
        float(re.search(what + r" ([0-9.]+) ns", l).group(1)) for l in alone)
    print(f"a counter increment alone, medians: Prometheus {got('Prometheus'):.1f} ns, "
          f"a no-op handle {got('a no-op handle'):.1f} ns")
PY
if command -v valgrind >/dev/null; then
  count() { # binary checks -> instructions inside the timed loop
    valgrind --tool=callgrind --callgrind-out-file="$work/cg" --toggle-collect='*metrics_cost::round*' \
      "$1" --only engine --alone --rounds 1 --checks "$2" >/dev/null 2>&1
    callgrind_annotate "$work/cg" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}'
  }
  per_check() { echo $(( ($(count "$1" 300000) - $(count "$1" 100000)) / 200000 )); }
  off=$(per_check "$work/off") on=$(per_check "$work/on")
  echo "engine bench's check, instructions (callgrind): off $off, on with no recorder $on ($((on - off)) more)"
fi
