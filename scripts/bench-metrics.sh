#!/usr/bin/env bash
# What the `metrics` feature costs a check, in one run. benches/metrics_cost.rs is built once
# without the feature ("off") and once with it; the two binaries then take turns ROUNDS times
# (default 5). In the build with the feature, a guard without a recorder (its handles no-ops)
# and one whose handles are the Prometheus recorder's (metrics-exporter-prometheus) take turns
# round by round in one process. Two workloads: normal traffic (1,000 checks a second over
# 10,000 actors and 100 targets: risk 0) and every check at risk (burst_max_events = 2).
#
#   bash scripts/bench-metrics.sh
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
  "$work/off" --bench | grep 'per check' >> "$work/out"
  "$work/on" --bench | grep 'per check' >> "$work/out"
done
cat "$work/out"
python3 - "$work/out" <<'PY'
import re, statistics, sys
lines = open(sys.argv[1]).read().splitlines()
def med(label, hot):
    prefix = label + (", every check at risk:" if hot else ":")
    got = [float(re.search(r": ([0-9.]+) ns", l).group(1)) for l in lines if l.startswith(prefix)]
    return statistics.median(got)
for hot, what in [(False, "normal traffic (risk 0)"), (True, "every check at risk")]:
    off, noop = med("metrics off", hot), med("metrics on, no recorder", hot)
    prom = med("metrics on, Prometheus recorder", hot)
    print(f"{what}, medians: off {off:.1f} ns per check; on, no recorder {noop:.1f} "
          f"({noop-off:+.1f}); on, Prometheus recorder {prom:.1f} ({prom-noop:+.1f} over no "
          f"recorder, {prom-off:+.1f} over off; goal <= +20 ns)")
PY
