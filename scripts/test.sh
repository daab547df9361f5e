#!/bin/bash
# Configures, builds and runs every heteroscale test (ctest): unit tests in a normal build and
# again under ASan+UBSan, integration tests (real binaries, real slurmctld/slurmd on
# loopback, real hwloc exports), and a smoke run of each benchmark. Installs what it needs
# first (apt-get, idempotent). Then the Slurm 24.11 leg: the Slurm-facing tests built and run
# inside a Debian 13 root (scripts/lib/slurm_leg.sh; the root is made once and cached under
# /var/cache/heteroscale). Usage: scripts/test.sh
#   env: HS_BUILD_DIR (default ./build), HS_SLURM=22.05|24.11 (one leg; default both)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
bash scripts/install-deps.sh

BUILD=${HS_BUILD_DIR:-$ROOT/build}
JOBS=${HS_JOBS:-$(nproc)}
LEGS=${HS_SLURM:-22.05 24.11}
case " $LEGS " in *" 22.05 "* | *" 24.11 "*) ;; *) echo "test.sh: HS_SLURM must be 22.05 or 24.11, got $LEGS" >&2; exit 2 ;; esac
t0=$(date +%s)
if [[ " $LEGS " != *" 22.05 "* ]]; then
  HS_JOBS=$JOBS bash scripts/lib/slurm_leg.sh "$BUILD-slurm24.11"
  echo "== all tests passed in $(( $(date +%s) - t0 )) s"
  exit 0
fi

echo "== build ($BUILD)"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHS_WERROR=ON >/dev/null
cmake --build "$BUILD" -j "$JOBS"

echo "== tests"
ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS" --timeout 600

echo "== unit tests under ASan+UBSan ($BUILD-asan)"
cmake -S . -B "$BUILD-asan" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DHS_WERROR=ON -DHS_SANITIZE=ON \
  -DHS_BUILD_BENCH=OFF >/dev/null
cmake --build "$BUILD-asan" -j "$JOBS"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir "$BUILD-asan" --output-on-failure -j "$JOBS" -L unit

if [[ " $LEGS " == *" 24.11 "* ]]; then
  HS_JOBS=$JOBS bash scripts/lib/slurm_leg.sh "$BUILD-slurm24.11"
fi

echo "== all tests passed in $(( $(date +%s) - t0 )) s"
