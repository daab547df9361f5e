#!/bin/bash
# The SimSlurm conformance suite against a real slurmctld: a loopback cluster of 4 nodes under
# two leaf switches (h100 on odd nodes, l40s on even ones), and hs-slurm-conformance running
# each sequence on the real libslurm API and on a SimSlurm of the same nodes, step for step.
# Every step waits for the state it expects (with a deadline), never for a fixed time.
# Usage: slurm_conformance_test.sh CONFORMANCE_BIN SOURCE_DIR
set -uo pipefail
BIN=$1 SRC=$2
T=$(mktemp -d /tmp/hs-conformance.XXXXXX)
cleanup() {
  bash "$SRC/scripts/cluster.sh" down "$T/cluster" >/dev/null 2>&1
  [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
bash "$SRC/scripts/cluster.sh" up "$T/cluster" --nodes 4 --leaves 2 >"$T/cluster.out" 2>&1 ||
  { cat "$T/cluster.out"; exit 1; }
export SLURM_CONF=$T/cluster/etc/slurm.conf
"$BIN"
