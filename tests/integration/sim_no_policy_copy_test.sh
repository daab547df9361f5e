#!/bin/bash
# The simulator runs scaler/'s policy and placement, never a copy: the built libhs_sim.a
# must define none of their symbols (it may only reference them), and hs-sim must get them
# from libhs_scaler_policy.a. Its decisions go through the daemon's Controller and
# ActionExecutor (from libhs_scaler_daemon), which it calls and does not define.
# Usage: sim_no_policy_copy_test.sh LIBHS_SIM LIBHS_SCALER_POLICY
set -uo pipefail
source "$(dirname "$0")/../../scripts/lib/testlib.sh"
SIM=$1
POLICY=$2
defined() { nm -C --defined-only "$1" 2>/dev/null | awk '$2 ~ /^[TtWw]$/' | sed 's/^[0-9a-f]* [TtWw] //'; }
undefined() { nm -C --undefined-only "$1" 2>/dev/null | sed 's/^ *U //'; }
for sym in "hs::scaler::HeteroScalePolicy::decide" "hs::scaler::compute_signals" "hs::scaler::place(" \
           "hs::scaler::HpaUtilizationPolicy::decide" "hs::scaler::active_schedule_entry"; do
  check_eq "libhs_sim defines no $sym" "$(defined "$SIM" | grep -cF "$sym")" "0"
  check_eq "libhs_scaler_policy defines $sym" "$(defined "$POLICY" | grep -cF "$sym" | awk '{print ($1>0)}')" "1"
done
check_eq "libhs_sim calls compute_signals from scaler" "$(undefined "$SIM" | grep -cF 'hs::scaler::compute_signals' | awk '{print ($1>0)}')" "1"
check_eq "libhs_sim calls place() from scaler" "$(undefined "$SIM" | grep -cF 'hs::scaler::place(' | awk '{print ($1>0)}')" "1"
for sym in "hs::scaler::Controller::tick(" "hs::scaler::ActionExecutor::run(" "hs::scaler::served_endpoints("; do
  check_eq "libhs_sim defines no $sym" "$(defined "$SIM" | grep -cF "$sym")" "0"
  check_eq "libhs_sim calls $sym" "$(undefined "$SIM" | grep -cF "$sym" | awk '{print ($1>0)}')" "1"
done
finish
