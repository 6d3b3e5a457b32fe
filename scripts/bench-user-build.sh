#!/usr/bin/env bash
# The engine's cost per check as a user's application gets it: benches/user-build is a crate of
# its own that depends on pattern-guard with cargo's default release profile (no LTO, 16 codegen
# units), the guard on the system clock, measured against governor's keyed check_key in one run.
#
#   bash scripts/bench-user-build.sh          # builds (about a minute the first time), then ~10 s
set -euo pipefail
cd "$(dirname "$0")/.."
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)
cargo build --release --quiet --manifest-path benches/user-build/Cargo.toml
for _ in 1 2 3; do
  "${pin[@]}" benches/user-build/target/release/pattern-guard-user-build
done
