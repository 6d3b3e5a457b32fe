#!/usr/bin/env bash
# Full-size reliability runs (64 wrappers x 20 rounds, 500 random SIGKILLs, 100 + 100 orphan
# checks) against the release binary; the figures in docs/RELIABILITY.md come from here.
#
#   bash scripts/reliability.sh                 # a few minutes
#   bash scripts/reliability.sh --kills 50      # options go to scripts/reliability.py
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin pattern-guard
exec python3 scripts/reliability.py "$PWD/target/release/pattern-guard" "$@"
