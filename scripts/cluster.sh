#!/bin/bash
# A real Slurm cluster on loopback, for tests and the demo: one slurmctld and N slurmd
# (`slurmd -N nodeK`, own port each) on 127.0.0.1, auth/none, typed fake GPUs (h100 on odd
# nodes, l40s on even ones, 4 each, char devices cloned from /dev/null), a topology/tree
# fabric of two leaf switches under one spine, node features naming each node's leaf and GPU
# type. Everything lives in DIR with its own ports, so parallel runs never collide.
#
#   scripts/cluster.sh up DIR [--nodes N] [--plugstack LINE]... [--leaves L] [--gres-per-node G]
#                             [--set KEY=VALUE]... [--partition LINE]...
#       --set replaces slurm.conf's KEY line (or adds it); --partition lines replace the one
#       default partition ("@NODES@" in them stands for every node), e.g. for preemption tests.
#   scripts/cluster.sh down DIR      stop every process it started (by pid) and remove DIR's state
#   scripts/cluster.sh env DIR       print "export SLURM_CONF=..." for a shell
#
# Needs root (slurmd runs jobs as their users; mknod). Slurm 22.05 (Debian 12) or 24.11
# (Debian 13, in the root scripts/lib/trixie_root.sh makes).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib/testlib.sh"

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ $# -ge 2 ] || usage
CMD=$1
DIR=$(realpath -m "$2")
shift 2

conf_of() { echo "$1/etc/slurm.conf"; }

cmd_up() {
  local nodes=4 leaves=2 gres=4 plugstack=() sets=() partitions=()
  while [ $# -gt 0 ]; do
    case $1 in
      --nodes) nodes=$2; shift 2 ;;
      --leaves) leaves=$2; shift 2 ;;
      --gres-per-node) gres=$2; shift 2 ;;
      --plugstack) plugstack+=("$2"); shift 2 ;;
      --set)
        [[ $2 =~ ^[A-Za-z]+=. ]] || { echo "cluster.sh: --set wants KEY=VALUE, got '$2'" >&2; exit 2; }
        sets+=("$2"); shift 2 ;;
      --partition) partitions+=("$2"); shift 2 ;;
      *) echo "cluster.sh: unknown option $1" >&2; usage ;;
    esac
  done
  [[ $nodes =~ ^[0-9]+$ ]] && [ "$nodes" -ge 2 ] && [ "$nodes" -le 64 ] || { echo "cluster.sh: --nodes must be 2..64" >&2; exit 2; }
  [[ $leaves =~ ^[0-9]+$ ]] && [ "$leaves" -ge 1 ] && [ "$leaves" -le "$nodes" ] || { echo "cluster.sh: --leaves must be 1..nodes" >&2; exit 2; }
  if [ -e "$DIR/run/slurmctld.pid" ] && kill -0 "$(cat "$DIR/run/slurmctld.pid")" 2>/dev/null; then
    echo "cluster.sh: a cluster is already running in $DIR (cluster.sh down $DIR first)" >&2
    exit 1
  fi
  local t0 port
  t0=$(date +%s.%N)
  port=$(free_port_base $((nodes + 2)))
  rm -rf "$DIR"/{state,spool,log,run,etc}
  mkdir -p "$DIR"/{etc,state,spool,log,run,dev,jobs}
  chmod 1777 "$DIR/jobs" "$DIR/log"
  for ((i = 0; i < gres; i++)); do [ -e "$DIR/dev/nvidia$i" ] || mknod "$DIR/dev/nvidia$i" c 1 3; done
  chmod 666 "$DIR"/dev/nvidia*

  local per_leaf=$(((nodes + leaves - 1) / leaves))
  {
    local kv keys=()
    for kv in "${sets[@]+"${sets[@]}"}"; do keys+=("${kv%%=*}"); done
    sed -e "s|@PORT@|$port|g" -e "s|@DIR@|$DIR|g" "$HERE/../slurm-conf/test-cluster/slurm.conf.in" |
      { if [ ${#keys[@]} -gt 0 ]; then grep -v -E "^($(IFS='|'; echo "${keys[*]}"))="; else cat; fi; }
    for kv in "${sets[@]+"${sets[@]}"}"; do echo "$kv"; done
    for ((n = 1; n <= nodes; n++)); do
      local type leaf
      type=$([ $((n % 2)) -eq 1 ] && echo h100 || echo l40s)
      leaf=$(((n - 1) / per_leaf + 1))
      echo "NodeName=node$n NodeHostname=localhost NodeAddr=127.0.0.1 Port=$((port + n)) Sockets=2 CoresPerSocket=8 ThreadsPerCore=1 RealMemory=64000 Gres=gpu:$type:$gres Features=leaf$leaf,$type State=UNKNOWN"
    done
    if [ ${#partitions[@]} -eq 0 ]; then
      echo "PartitionName=gpu Nodes=node[1-$nodes] Default=YES MaxTime=INFINITE State=UP"
    fi
    for kv in "${partitions[@]+"${partitions[@]}"}"; do echo "${kv//@NODES@/node[1-$nodes]}"; done
  } >"$DIR/etc/slurm.conf"
  {
    echo "AutoDetect=off"
    for ((n = 1; n <= nodes; n++)); do
      local type
      type=$([ $((n % 2)) -eq 1 ] && echo h100 || echo l40s)
      echo "NodeName=node$n Name=gpu Type=$type File=$DIR/dev/nvidia[0-$((gres - 1))]"
    done
  } >"$DIR/etc/gres.conf"
  {
    for ((l = 1; l <= leaves; l++)); do
      local first=$(((l - 1) * per_leaf + 1)) last=$((l * per_leaf))
      [ $last -gt "$nodes" ] && last=$nodes
      [ $first -le "$last" ] && echo "SwitchName=leaf$l Nodes=node[$first-$last]"
    done
    echo "SwitchName=spine Switches=leaf[1-$leaves]"
  } >"$DIR/etc/topology.conf"
  # From 24.11 slurmd will not start without a cgroup filesystem unless cgroup.conf turns the
  # plugin off (slurm-lab.md); 22.05 knows no "disabled" and needs no file.
  local ver
  ver=$(slurmd -V 2>/dev/null | awk '{print $2}')
  if [ "$(printf '%s\n' "$ver" 24.11 | sort -V | head -1)" = 24.11 ]; then
    echo "CgroupPlugin=disabled" >"$DIR/etc/cgroup.conf"
  fi
  : >"$DIR/etc/plugstack.conf"
  for line in "${plugstack[@]+"${plugstack[@]}"}"; do echo "$line" >>"$DIR/etc/plugstack.conf"; done

  local conf
  conf=$(conf_of "$DIR")
  export SLURM_CONF=$conf
  slurmctld -f "$conf" -i
  # slurmd retries forever (ignoring TERM) while slurmctld is unreachable: wait for it first.
  local i
  for i in $(seq 1 100); do scontrol ping >/dev/null 2>&1 && break; sleep 0.05; done
  scontrol ping >/dev/null 2>&1 || { echo "cluster.sh: slurmctld did not come up; see $DIR/log/slurmctld.log" >&2; tail -5 "$DIR/log/slurmctld.log" >&2; cmd_down; exit 1; }
  for ((n = 1; n <= nodes; n++)); do slurmd -f "$conf" -N "node$n"; done
  local ready=0
  for i in $(seq 1 300); do
    # Ready = every node responding; drained nodes print as drained/idle+drain, so they do not count.
    # (a node in two partitions is listed twice: count it once)
    ready=$(sinfo -h -N -r -o '%N %T' 2>/dev/null | sort -u | grep -cE ' (idle|mixed|allocated)$' || true)
    [ "$ready" -eq "$nodes" ] && break
    sleep 0.1
  done
  if [ "$ready" -ne "$nodes" ]; then
    echo "cluster.sh: only $ready of $nodes nodes became ready; see $DIR/log" >&2
    sinfo -N >&2 || true
    exit 1
  fi
  echo "cluster up in $(printf '%.2f' "$(echo "$(date +%s.%N) - $t0" | bc)") s: $nodes nodes, slurmctld port $port, SLURM_CONF=$conf"
}

cmd_down() {
  local conf t0
  conf=$(conf_of "$DIR")
  t0=$(date +%s.%N)
  [ -f "$conf" ] || { echo "cluster.sh: no cluster in $DIR"; return 0; }
  export SLURM_CONF=$conf
  # Jobs first: slurmstepd outlives slurmd, and job processes outlive both.
  if scontrol ping >/dev/null 2>&1; then
    scancel --full --signal=KILL --user="$(id -un)" >/dev/null 2>&1 || true
    scancel --full --signal=KILL $(squeue -h -o %i 2>/dev/null) >/dev/null 2>&1 || true
    for _ in $(seq 1 50); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.1; done
  fi
  local pids=() f p
  for f in "$DIR"/run/slurmd-*.pid "$DIR"/run/slurmctld.pid; do
    [ -s "$f" ] || continue
    p=$(cat "$f")
    # Only signal a pid that is still this cluster's daemon (pids wrap).
    if [ -r "/proc/$p/cmdline" ] && tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- "$conf"; then
      kill -TERM "$p" 2>/dev/null && pids+=("$p")
    fi
  done
  for p in "${pids[@]+"${pids[@]}"}"; do
    for _ in $(seq 1 60); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$p" 2>/dev/null || true
  done
  # Sweep what proctrack/pgid can miss when a cancel races a launch: any process whose
  # environment names this cluster's slurm.conf (slurmstepd and job processes carry it).
  local swept=0
  for p in $(ls /proc | grep -E '^[0-9]+$'); do
    [ "$p" = $$ ] && continue
    if grep -qa "SLURM_CONF=$conf" "/proc/$p/environ" 2>/dev/null; then
      kill -KILL "$p" 2>/dev/null && swept=$((swept + 1))
    fi
  done
  rm -rf "$DIR"/{state,spool,run}
  echo "cluster down in $(printf '%.2f' "$(echo "$(date +%s.%N) - $t0" | bc)") s (stopped ${#pids[@]} daemons, swept $swept stray processes); logs kept in $DIR/log"
}

case $CMD in
  up) cmd_up "$@" ;;
  down) cmd_down ;;
  env) echo "export SLURM_CONF=$(conf_of "$DIR")" ;;
  *) usage ;;
esac
