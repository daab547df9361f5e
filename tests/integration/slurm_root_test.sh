#!/bin/bash
# Building against a site's Slurm (cmake -DSLURM_ROOT=DIR): the series is read from
# slurm/slurm_version.h and one heteroscale does not support is refused by name, before any
# other dependency is looked for. Fake trees of headers only: a refused series never gets as
# far as libslurm; a supported one passes the version check and stops at the missing library.
# Usage: slurm_root_test.sh SOURCE_DIR
set -uo pipefail
SRC=$1
source "$SRC/scripts/lib/testlib.sh"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
tree() {  # dir hex -> a Slurm include tree of that SLURM_VERSION_NUMBER
  mkdir -p "$1/include/slurm"
  printf '#ifndef _SLURM_VERSION_H_\n#define _SLURM_VERSION_H_\n#define SLURM_VERSION_NUMBER %s\n#endif\n' \
    "$2" >"$1/include/slurm/slurm_version.h"
}
# CMake wraps its messages: one line, single spaces.
configure() { cmake -S "$SRC" -B "$T/b-$(basename "$1")" -DSLURM_ROOT="$1" 2>&1 | tr -s '\n ' '  '; echo; }
tree "$T/s25" 0x190500
out=$(configure "$T/s25")
check_eq "25.05 is refused" "$(echo "$out" | grep -c 'series 25.05, which heteroscale does not support')" "1"
check_eq "the refusal names the file and the supported series" \
  "$(echo "$out" | grep -c "s25/include/slurm/slurm_version.h.*22.05, 23.02, 23.11, 24.05, 24.11")" "1"
tree "$T/s21" 0x150803
check_eq "21.08 is refused" "$(configure "$T/s21" | grep -c 'series 21.08')" "1"
tree "$T/s2411" 0x180b05
out=$(configure "$T/s2411")
check_eq "24.11 passes the series check" "$(echo "$out" | grep -c 'does not support')" "0"
check_eq "and stops where its libslurm is missing" "$(echo "$out" | grep -c "libslurm not found under SLURM_ROOT=$T/s2411")" "1"
mkdir -p "$T/empty"
check_eq "a tree without slurm_version.h is named" \
  "$(configure "$T/empty" | grep -c "slurm/slurm_version.h not found under SLURM_ROOT=$T/empty")" "1"
check_eq "a SLURM_ROOT that does not exist is named" "$(configure "$T/nowhere" | grep -c 'nowhere: not a directory')" "1"
finish
