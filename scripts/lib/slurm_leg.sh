#!/bin/bash
# The Slurm 24.11 leg of scripts/test.sh: heteroscale built from this tree inside the Debian 13
# root (scripts/lib/trixie_root.sh) against its Slurm 24.11 and GCC 14, and run there: every
# unit test, the SPANK plugin loaded by a 24.11 slurmd on a loopback cluster pinning a
# --hs-pin task, the libslurm clients (the conformance sequences, heteroscaled and its restart
# test under load: linked to libslurmfull from 23.11, cmake/Slurm.cmake says why), the
# SLURM_ROOT series check, and the package (a .deb depending on 24.11).
# Usage: slurm_leg.sh BUILD_DIR   (env: HS_JOBS)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:?usage: slurm_leg.sh BUILD_DIR}
JOBS=${HS_JOBS:-$(nproc)}
TESTS='^integration\.(spank_plugin|package|slurm_root|slurm_conformance|heteroscaled|heteroscaled_restart_loaded)$'
t0=$SECONDS
DIR=$(bash "$ROOT/scripts/lib/trixie_root.sh" path)
echo "== Slurm 24.11 leg: root $DIR ready after $((SECONDS - t0)) s"
mkdir -p "$BUILD"
HS_ROOT_BINDS="$ROOT:/src $BUILD:/build" bash "$ROOT/scripts/lib/trixie_root.sh" run "$DIR" \
  bash -c 'set -e
    cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHS_WERROR=ON \
      -DHS_BUILD_BENCH=OFF >/dev/null
    cmake --build /build -j "$1"
    ctest --test-dir /build --output-on-failure -j "$1" --timeout 600 -L unit
    ctest --test-dir /build --output-on-failure -j "$1" --timeout 600 -R "$2"' _ "$JOBS" "$TESTS"
echo "== Slurm 24.11 leg passed in $((SECONDS - t0)) s"
