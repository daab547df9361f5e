#!/bin/bash
# What heteroscaled costs slurmctld, before and after delta reads, in one run on a real loopback
# cluster: 10 services (20 tagged arrays, one running task each) plus FOREIGN (default 400) other
# users' held
# jobs, the daemon in dry run with tick_s 1 (a Slurm read every 0.5 s). For each
# daemon.slurm_reads mode — full (0.1's reads: the whole job table and every node each time),
# all (every user's jobs and the nodes, only when changed), own (the default: the daemon
# user's jobs; nodes when changed) — slurmctld's own RPC statistics (sdiag, reset before each
# window) give RPCs per minute and slurmctld's time in them, and the daemon's
# hs_scaler_slurm_call_seconds_total gives the Slurm thread's time inside libslurm per tick.
# Two passes in the same run: a quiet site (the foreign jobs never change, so `all` mostly reads
# "no change") and a busy one (another user submits a job and cancels one every 0.5 s, so the
# job table changes on nearly every read and `all` loads it whole). Numbers and ratios against
# `full` of the same pass only. Usage: slurm_traffic.sh BUILD_DIR SOURCE_DIR [SECONDS]
set -euo pipefail
B=$(realpath "$1") SRC=$(realpath "$2") SECS=${3:-60}
source "$SRC/scripts/lib/testlib.sh"
D=$(mktemp -d /tmp/hs_bench_traffic.XXXXXX)
chmod 755 "$D"
DPID=
CHURN_PID=
trap '[ -n "$DPID" ] && kill -9 $DPID 2>/dev/null; [ -n "$CHURN_PID" ] && kill $CHURN_PID 2>/dev/null; scancel -u nobody >/dev/null 2>&1; bash "$SRC/scripts/cluster.sh" down "$D/c" >/dev/null 2>&1; rm -rf "$D"' EXIT
bash "$SRC/scripts/cluster.sh" up "$D/c" --nodes 8 --leaves 2 >/dev/null
export SLURM_CONF=$D/c/etc/slurm.conf
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups env SLURM_CONF="$SLURM_CONF" "$@"; }
N=10 FOREIGN=${FOREIGN:-400}
{
  echo "services:"
  for ((i = 0; i < N; i++)); do
    cat <<YAML
  - name: svc$i
    variants: [{name: v, prefill_gpu: h100, decode_gpu: l40s, ratio: "1:1", decode_tps_per_instance: 1000}]
    bounds: {min_prefill: 1, max_prefill: 4, min_decode: 1, max_decode: 4}
YAML
  done
} >"$D/services.yaml"
for ((i = 0; i < N; i++)); do
  for r in prefill:h100 decode:l40s; do
    sbatch -Q --array=0-63%1 --gres=gpu:${r#*:}:1 -o /dev/null \
      --comment="heteroscale/v1 service=svc$i role=${r%%:*} group=g1 variant=v" --wrap "sleep 100000"
  done
done
for ((i = 0; i < FOREIGN; i++)); do
  as_nobody sbatch -Q --hold -o /dev/null --chdir=/tmp --wrap true
done
wait_until 60 sh -c "[ \$(squeue -h -t R | wc -l) -eq $((2 * N)) ]" || { echo "tasks did not start" >&2; exit 1; }

# The daemon runs as root and every other user's RPC (the foreign queue's churn) is nobody's:
# the totals are root's RPCs from sdiag's by-user table less sdiag's own REQUEST_STATS_INFO; the
# by-type rows shown are the daemon's read types.
sdiag_rpcs() {  # -> "TYPE count total_us" lines, then "TOTAL count total_us" for the daemon
  sdiag | python3 -c '
import re, sys
rows, users, section = {}, {}, None
for line in sys.stdin:
    if line.startswith("Remote Procedure Call statistics by message type"): section = "type"; continue
    if line.startswith("Remote Procedure Call statistics by user"): section = "user"; continue
    if line.startswith("Pending RPC statistics"): section = None; continue
    m = re.match(r"\s+(\S+)\s+\(\s*\d+\)\s+count:(\d+)\s+ave_time:\d+\s+total_time:(\d+)", line)
    if m and section:
        (rows if section == "type" else users)[m.group(1)] = (int(m.group(2)), int(m.group(3)))
reads = ("REQUEST_JOB_INFO", "REQUEST_JOB_USER_INFO", "REQUEST_JOB_INFO_SINGLE", "REQUEST_NODE_INFO", "REQUEST_FED_INFO")
for t in reads:
    if t in rows: print(t, *rows[t])
n, us = users.get("root", (0, 0))
sn, sus = rows.get("REQUEST_STATS_INFO", (0, 0))
print("TOTAL", n - sn, us - sus)'
}
metric_sum() { curl -sf "$1/metrics" | awk -v n="$2" '$1 ~ "^"n"({|$)" {s += $NF} END {printf "%.6f", s}'; }

churn() {  # another user's queue in motion: one submission and one cancel every 0.5 s
  while :; do
    id=$(as_nobody sbatch -Q --parsable --hold -o /dev/null --chdir=/tmp --wrap true) || true
    [ -n "$id" ] && as_nobody scancel "$((id - FOREIGN))" 2>/dev/null || true
    sleep 0.5
  done
}

declare -A RPM MS TICKMS
measure() {  # $1: pass name
for mode in full all own; do
  DPORT=$(free_port_base 1)
  { cat "$D/services.yaml"; echo "daemon: {listen: \"127.0.0.1:$DPORT\", tick_s: 1, dry_run: true, slurm_reads: $mode}"; } >"$D/$mode.yaml"
  "$B/scaler/heteroscaled" --config "$D/$mode.yaml" >"$D/$mode.out" 2>"$D/$mode.err" &
  DPID=$!
  URL=http://127.0.0.1:$DPORT
  wait_until 30 sh -c "curl -sf $URL/hs/status | grep -q '\"slurm\": *\"ok\"'" || { echo "daemon ($mode) never read Slurm" >&2; tail -3 "$D/$mode.err" >&2; exit 1; }
  sdiag -r >/dev/null
  s0=$(metric_sum "$URL" hs_scaler_slurm_call_seconds_total) t0=$(metric_sum "$URL" hs_scaler_ticks_total)
  sleep "$SECS"  # the measurement window itself
  s1=$(metric_sum "$URL" hs_scaler_slurm_call_seconds_total) t1=$(metric_sum "$URL" hs_scaler_ticks_total)
  sdiag_rpcs >"$D/$mode.rpcs"
  kill "$DPID"; wait "$DPID" 2>/dev/null || true; DPID=
  read -r _ n us < <(grep '^TOTAL' "$D/$mode.rpcs")
  RPM[$mode]=$(echo "scale=1; $n * 60 / $SECS" | bc)
  MS[$mode]=$(echo "scale=2; $us / 1000 * 60 / $SECS" | bc)
  TICKMS[$mode]=$(python3 -c "print(f'{($s1 - $s0) * 1000 / max(1, $t1 - $t0):.3f}')")
  echo "[$1] slurm_reads=$mode: ${RPM[$mode]} RPCs/min, slurmctld ${MS[$mode]} ms/min in them, Slurm thread ${TICKMS[$mode]} ms/tick inside libslurm"
  grep -v TOTAL "$D/$mode.rpcs" | sed 's/^/    /'
done
for mode in all own; do
  echo "[$1] ratio $mode/full: RPCs $(ratio "${RPM[$mode]}" "${RPM[full]}"), slurmctld time $(ratio "${MS[$mode]}" "${MS[full]}"), Slurm-thread time per tick $(ratio "${TICKMS[$mode]}" "${TICKMS[full]}")"
done
}
ratio() { python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print(f'{a / b:.3f}' if b else 'n/a')" "$1" "$2"; }
measure quiet
churn &
CHURN_PID=$!
measure busy
kill "$CHURN_PID"; CHURN_PID=
