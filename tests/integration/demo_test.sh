#!/bin/bash
# The README's main command, run whole on the test's build: it must get to its summary with
# the operator's two pools submitted, every request served and nothing left running. (The
# demo broke once unnoticed: a cluster without the plugin refused the pools' --hs-role.)
# Usage: demo_test.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
B=$(realpath "$1") SRC=$(realpath "$2")
source "$SRC/scripts/lib/testlib.sh"
hs_setup demo-test 700
HS_BUILD_DIR=$B bash "$SRC/scripts/demo.sh" >"$T/demo.log" 2>&1
check_rc "scripts/demo.sh exits 0" $? 0
log=$(cat "$T/demo.log")
check_eq "the operator's two pools were submitted (an array id each)" \
  "$(grep -cE '^    -> array [0-9]+$' "$T/demo.log")" "2"
check_contains "the loop's summary" "$log" "Summary of this run:"
check_contains "  ... every request served" "$log" "lost (failed): 0"
check_contains "the simulator compared the policies" "$log" "heteroscale "
out=$(sed -n 's/^Everything the demo wrote is in \([^ ]*\) .*/\1/p' "$T/demo.log")
[ -n "$out" ] && [ -d "$out" ] && rm -rf "$out"
check_eq "no slurmd or slurmctld of the demo left running" \
  "$(pgrep -fc 'heteroscale-demo' 2>/dev/null || true)" "0"
[ "$HS_FAILED" -eq 0 ] || tail -40 "$T/demo.log"
finish
