#!/bin/bash
# The topology.conf hs-topo emits from the real 89-HCA capture is accepted by a real
# slurmctld (topology/tree), which then reports every switch; the file published with the
# capture, which lists switches under each other, is refused ("not a tree"). This is why
# the emitter writes no mutual listings. Usage: topology_conf_slurm_test.sh HS_TOPO DATA_DIR
set -uo pipefail
HS_TOPO=$1
DATA=$2
source "$(dirname "$0")/../../scripts/lib/testlib.sh"
command -v slurmctld >/dev/null || { echo "slurmctld not installed (scripts/install-deps.sh)"; echo "0 passed, 1 failed"; exit 1; }
hs_setup topology-conf 700
TMP=$T
# Every slurmctld started here writes TMP/*/run/slurmctld.pid; stop each by its pid (TERM,
# then KILL if it has not gone within 5 s).
stop_ctlds() {
  local p f
  for f in "$TMP"/*/run/slurmctld.pid; do
    [ -s "$f" ] || continue
    p=$(cat "$f")
    kill -TERM "$p" 2>/dev/null
    wait_until 5 bash -c "! kill -0 $p"
    kill -KILL "$p" 2>/dev/null
  done
}
hs_on_exit stop_ctlds
F="$DATA/fabric"

# run_ctld NAME TOPOLOGY_CONF: starts slurmctld on a fresh port with every node of the
# capture defined; prints its directory (runs in a subshell: state lives in files only).
run_ctld() {
  local name=$1 topo=$2 d="$TMP/$1" port
  port=$(free_port_base 2) || return 1
  mkdir -p "$d"/{etc,state,log,run}
  cp "$topo" "$d/etc/topology.conf"
  local nodes
  nodes=$(grep -o 'Nodes=[^ ]*' "$d/etc/topology.conf" | sed 's/Nodes=//' | paste -sd, -)
  cat >"$d/etc/slurm.conf" <<CONF
ClusterName=topo$port
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
AuthType=auth/none
CredType=cred/none
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool/%n
SlurmctldPidFile=$d/run/slurmctld.pid
SlurmctldLogFile=$d/log/slurmctld.log
MpiDefault=none
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
TopologyPlugin=topology/tree
SlurmdParameters=config_overrides
NodeName=$nodes NodeAddr=127.0.0.1 CPUs=1 State=UNKNOWN
PartitionName=all Nodes=ALL Default=YES State=UP
CONF
  SLURM_CONF="$d/etc/slurm.conf" slurmctld -f "$d/etc/slurm.conf" -i 2>"$d/log/stderr"
  wait_until 60 test -s "$d/run/slurmctld.pid"
  echo "$d"
}

"$HS_TOPO" fabric --ibnetdiscover "$F/psmn-x5_ibnetdiscover.txt" --node-map "$F/psmn-x5_guid2host.map" \
  --emit-topology-conf >"$TMP/emitted.conf"
check_rc "emit from capture" $? 0

d=$(run_ctld emitted "$TMP/emitted.conf")
show_topology() { SLURM_CONF="$d/etc/slurm.conf" scontrol show topology 2>&1; }
wait_until 60 show_topology
topo=$(show_topology)
check_eq "slurmctld reports all 11 switches of the emitted file" "$(grep -c '^SwitchName=' <<<"$topo")" "11"
check_contains "slurmctld sees the top switch at level 2" "$topo" "SwitchName=S-0008f105001086a2 Level=2"
check_contains "slurmctld sees a leaf with its nodes" "$topo" "SwitchName=S-0008f105002036b4 Level=0"
check_not_contains "slurmctld log has no topology error" "$(cat "$d/log/slurmctld.log")" "not a tree"

d=$(run_ctld published "$F/psmn-x5_topology.conf")
wait_until 60 grep -q "fatal" "$d/log/slurmctld.log"
check_contains "slurmctld refuses the published (mutual-listing) file" "$(cat "$d/log/slurmctld.log")" "Switch configuration is not a tree"

finish
