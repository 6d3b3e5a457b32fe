#!/usr/bin/env bash
# --watch-output's cost and its stop, against `cat`, in one run:
#   1. throughput: a 1 GiB stream of varied lines (examples/gen_lines.rs) copied by
#        cat FILE | cat > /dev/null                              (the baseline)
#        pattern-guard --watch-output -- cat FILE > /dev/null    (the same stream, watched)
#      alternately RUNS times each; the ratio of the medians (goal >= 50%, moonshot 80%);
#   2. a loop: `yes 'connection refused, retrying'` watched; the bytes that got through before
#      the stop (goal < 100 MB), the time from the start to the stop, and the exit status; then
#      a loop printing a line every 10 ms: when it is warned, throttled and stopped;
#   3. memory: the watch's peak RSS on the varied stream and on a repetitive one that fills the
#      output guard to its cap, beside pattern-guard without the watch.
#
#   bash scripts/bench-watch.sh                 # about a minute
#   BYTES=268435456 RUNS=3 bash scripts/bench-watch.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bytes=${BYTES:-1073741824}
runs=${RUNS:-5}
cargo build --release --quiet --bin pattern-guard --example gen_lines
bin=$PWD/target/release/pattern-guard
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_RUNTIME_DIR=$work PATTERN_GUARD_STATE_DIR=$work/state
target/release/examples/gen_lines --bytes "$bytes" > "$work/varied.txt"
lines=$(wc -l < "$work/varied.txt")

seconds() { # command... -> wall seconds
  local start end
  start=$(date +%s.%N)
  "$@"
  end=$(date +%s.%N)
  python3 -c "print(round($end - $start, 3))"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for _ in $(seq "$runs"); do
  seconds sh -c "cat '$work/varied.txt' | cat > /dev/null" >> "$work/cat.secs"
  seconds sh -c "'$bin' --watch-output -- cat '$work/varied.txt' > /dev/null" >> "$work/watch.secs"
done
cat_s=$(median < "$work/cat.secs")
watch_s=$(median < "$work/watch.secs")
python3 - "$bytes" "$lines" "$cat_s" "$watch_s" "$runs" <<'PY'
import sys
size, lines, cat, watch, runs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
print(f"throughput, {size / 2**20:.0f} MiB of varied lines ({lines:,} lines), median of {runs}:")
print(f"  cat | cat              {cat:6.2f} s  {size / cat / 2**20:7.0f} MiB/s")
print(f"  --watch-output -- cat  {watch:6.2f} s  {size / watch / 2**20:7.0f} MiB/s  "
      f"= {cat / watch:.0%} of cat (goal >= 50%, moonshot 80%)")
PY

start=$(date +%s.%N)
set +e
"$bin" --watch-output -- yes 'connection refused, retrying' 2> "$work/loop.err" | wc -c > "$work/loop.bytes"
status=${PIPESTATUS[0]}
set -e
end=$(date +%s.%N)
echo "a loop (yes 'connection refused, retrying'):"
echo "  $(cat "$work/loop.bytes") bytes got through (goal < 100 MB), stopped after $(python3 -c "print(round($end - $start, 3))") s, exit $status"
echo "  $(grep -o "looped.*" "$work/loop.err")"

# A slower loop: a line every 10 ms (the README's sync job, without its network call).
start=$(date +%s.%N)
set +e
"$bin" --watch-output -- sh -c 'while :; do echo "sync: connection refused, retrying in 10ms" >&2; sleep 0.01; done' 2> "$work/slow.err"
status=$?
set -e
end=$(date +%s.%N)
echo "a loop printing a line every 10 ms: stopped after $(python3 -c "print(round($end - $start, 1))") s, exit $status"
grep "^pattern-guard:" "$work/slow.err" | sed 's/^/  /'

python3 -c "
for i in range(2_000_000):
    print(f'retry {i}: connection refused by host-{i % 50} after {i % 997}ms')
" > "$work/loopy.txt"
printf '[output]\nrisk_weight_repetition = 0.5\n' > "$work/never-stops.toml"
rss() { /usr/bin/time -f %M "$@" > /dev/null 2> "$work/rss" || true; tail -1 "$work/rss"; }
echo "peak memory (RSS):"
echo "  without the watch                        $(rss "$bin" -- cat "$work/varied.txt") KB"
echo "  watching the varied stream               $(rss "$bin" --watch-output -- cat "$work/varied.txt") KB"
echo "  watching 2M repeated lines (guard full)  $(rss "$bin" --config "$work/never-stops.toml" -q --watch-output -- cat "$work/loopy.txt") KB"
