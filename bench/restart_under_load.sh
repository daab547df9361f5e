#!/bin/bash
# The kill -9 restart test of heteroscaled (tests/integration/heteroscaled_restart_test.sh)
# with a busy loop on every core, N times in a row: a test that holds on an idle machine but
# not under ordinary load is a defect this catches. Prints "K of N passed" last; exits
# non-zero unless all passed. Each failing run's output is kept in the printed directory.
# Usage: bench/restart_under_load.sh N [BUILD_DIR]
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:?usage: restart_under_load.sh N [BUILD_DIR]}
B=$(realpath "${2:-$ROOT/build}")
OUT=$(mktemp -d /tmp/hs-restart-under-load.XXXXXX)
HOGS=()
stop_hogs() { [ ${#HOGS[@]} -gt 0 ] && kill "${HOGS[@]}" 2>/dev/null; HOGS=(); }
# The logs of failed runs stay; an empty directory does not.
trap 'stop_hogs; rmdir "$OUT" 2>/dev/null' EXIT
for _ in $(seq "$(nproc)"); do
  (trap 'exit 0' TERM; while :; do :; done) &
  HOGS+=($!)
done
pass=0
for i in $(seq "$N"); do
  t0=$(date +%s)
  # Each run's directory (daemon logs, Slurm's logs) is kept: removed below if the run
  # passes, left to read if it fails. Traversable: the test runs the daemon as nobody.
  mkdir -p "$OUT/run$i"
  chmod 755 "$OUT" "$OUT/run$i"
  if KEEP=1 HS_TEST_TMP=$OUT/run$i bash "$ROOT/tests/integration/heteroscaled_restart_test.sh" "$B" "$ROOT" >"$OUT/run$i.log" 2>&1; then
    pass=$((pass + 1))
    echo "run $i: passed in $(($(date +%s) - t0)) s ($(grep -E "^[0-9]+ passed, [0-9]+ failed" "$OUT/run$i.log"))"
    [ -n "${KEEP:-}" ] || rm -rf "$OUT/run$i.log" "$OUT/run$i"
  else
    echo "run $i: FAILED in $(($(date +%s) - t0)) s; see $OUT/run$i.log and the run's files in $OUT/run$i:"
    grep -A2 '^FAIL' "$OUT/run$i.log" | head -20 | sed 's/^/    /'
  fi
done
stop_hogs
echo "$pass of $N passed (busy loops on $(nproc) cores)"
[ "$pass" -eq "$N" ]
