#!/usr/bin/env bash
# The whole test suite, every feature: what a newcomer runs and what CI runs (.ci/run).
#
# Some tests need programs beside the toolchain, and fail (never skip) without them:
# script(1) (bsdutils) for the terminal tests, redis-server for the shared store's tests (each
# starts its own on a free loopback port), openssl for the TLS test's certificates, promtool
# (Debian's prometheus package) to check the metrics files and alert rules. Missing ones
# are installed with apt-get (as root, or through sudo).
#
#   bash scripts/test.sh                 # extra arguments go to cargo test
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v script >/dev/null 2>&1 || missing+=(bsdutils)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing what the tests need: ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update && $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
exec cargo test --all-features "$@"
