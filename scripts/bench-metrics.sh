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
# one inside a process (no recorder against the Prometheus recorder) holds still. So the script
# then pairs them: both binaries stay in memory (`--paired`) and take turns PAIRS times (default
# 60) with short rounds (PAIR_CHECKS, default 400,000 checks: tens of milliseconds), who goes
# first alternating, and the median of the pairs' differences is the figure: drift slower than a
# pair cancels out. Its 95% interval comes from resampling the pairs (bootstrap): a run says
# "under the goal" only when the interval's top is. Where
# valgrind is installed, the script also counts the instructions a check of the engine bench's
# workload executes in each build (callgrind, the guard as built alone, two lengths of run so
# set-up cancels out): the feature's own cost with no recorder, exactly. For context it also
# times a Prometheus counter handle's increment alone in a loop: the exporter's own share, which
# no change of ours can lower.
#
#   bash scripts/bench-metrics.sh                   # about ten minutes
#   ONLY=engine bash scripts/bench-metrics.sh       # one workload: engine, normal or hot
#   ROUNDS=1 PAIRS=200 ONLY=engine bash scripts/bench-metrics.sh   # mostly the paired run
#   USER_PROFILE=1 ... # built as a user's crate is: cargo's default release profile (no LTO,
#                      # 16 codegen units) in place of this crate's LTO one, in target/user-profile
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${ROUNDS:-5}
if [ -n "${USER_PROFILE:-}" ]; then
  export CARGO_PROFILE_BENCH_LTO=false CARGO_PROFILE_BENCH_CODEGEN_UNITS=16
  export CARGO_TARGET_DIR=target/user-profile
fi
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
python3 - "$work/off" "$work/on" "${ONLY:-engine}" "${PAIRS:-60}" "${PAIR_CHECKS:-400000}" <<'PY'
import statistics, subprocess, sys
sys.path.insert(0, "scripts")
from median_interval import median_interval
off_bin, on_bin, only, pairs, checks = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
start = lambda b: subprocess.Popen([b, "--paired", "--only", only, "--checks", str(checks)],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
off, on = start(off_bin), start(on_bin)
def turn(p):
    p.stdin.write("go\n"); p.stdin.flush()
    return [float(x) for x in p.stdout.readline().split()[1:]]
diffs = {"no recorder over off": [], "Prometheus over off": [], "Prometheus over no recorder": []}
offs = []
for i in range(pairs):
    if i % 2:
        (noop, prom), (o, _) = turn(on), turn(off)
    else:
        (o, _), (noop, prom) = turn(off), turn(on)
    offs.append(o)
    diffs["no recorder over off"].append(noop - o)
    diffs["Prometheus over off"].append(prom - o)
    diffs["Prometheus over no recorder"].append(prom - noop)
for p in (off, on):
    p.stdin.close(); p.wait()
q = lambda v: statistics.quantiles(v, n=4)
print(f"paired, {only}, {pairs} pairs of {checks:,} checks: off median {statistics.median(offs):.1f} ns per check")
for what, v in diffs.items():
    lo, _, hi = q(v)
    ci_lo, ci_hi = median_interval(v)
    print(f"  {what}: median {statistics.median(v):+.1f} ns per check (95% interval {ci_lo:+.1f} to "
          f"{ci_hi:+.1f}; middle half of the pairs {lo:+.1f} to {hi:+.1f})"
          + ("; goal <= +20 ns" if what == "Prometheus over off" else ""))
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
