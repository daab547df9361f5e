#!/bin/bash
# How a serving task stops under Slurm, and what each way costs in requests. Real loopback
# cluster (8 nodes, partition preemption: "gpu" PriorityTier=1 with GraceTime, "urgent"
# PriorityTier=10, SlurmctldParameters=preempt_send_user_signal, KillWait=30). A prefill and a
# decode outside Slurm keep the service up; each cell is one decode array task (hs-launch as the
# batch script, exec'd, as in slurm-conf/examples) stopped one way while hs-loadgen replays
# steady load through hs-router:
#   time limit with --signal=B:USR1@50 | preemption (USR1 at once, GraceTime 30) |
#   scancel --batch --signal=USR1 | plain scancel (TERM to every process, KILL after KillWait)
# × hs-engine-sim --sigterm abort (vLLM before 0.18) | drain (0.18+ --shutdown-timeout).
# Every cell loses 0 requests except plain scancel × abort, whose losses are counted (and must
# be > 0: the engine had requests in flight when TERM came, so the test can see a loss). No
# engine process outlives its task. Losses are attributed through the router's records.
# Usage: stop_matrix_test.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
B=$1 SRC=$2
source "$SRC/scripts/lib/testlib.sh"
hs_setup stop-matrix
hs_on_exit 'wait 2>/dev/null'
GRACE=30 KILLWAIT=30
hs_cluster_up "$T/cluster" --nodes 8 --leaves 1 \
  --set PreemptType=preempt/partition_prio --set PreemptMode=CANCEL \
  --set SlurmctldParameters=preempt_send_user_signal --set KillWait=$KILLWAIT \
  --partition "PartitionName=gpu Nodes=@NODES@ Default=YES MaxTime=INFINITE State=UP PriorityTier=1 GraceTime=$GRACE" \
  --partition "PartitionName=urgent Nodes=@NODES@ MaxTime=INFINITE State=UP PriorityTier=10 PreemptMode=OFF"
LAUNCH=$B/launcher/hs-launch EPS=$T/eps.json
echo '[]' >"$EPS"
chmod 666 "$EPS"

# Steady load: 4 requests/s for 75 s, 512-token prompts, 300 tokens out (a few seconds of
# decode each, so a stopped decode has requests in flight).
python3 - "$T/trace.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("TIMESTAMP,ContextTokens,GeneratedTokens\n")
    for i in range(300):
        s = i * 0.25
        f.write(f"2023-11-16 18:{int(s // 60):02d}:{s % 60:010.7f},512,300\n")
PY

common=(--service chat --group g --engine sim --model llama-8b --gpu-type h100 --host 127.0.0.1
        --register "$EPS" --heartbeat 1 --drain-timeout 20 --stop-timeout 5)
start_server p0 "$T" "$LAUNCH" --role prefill "${common[@]}"
start_server d0 "$T" "$LAUNCH" --role decode "${common[@]}"
start_server router "$T" "$B/router/hs-router" --endpoints "$EPS" --health-interval 0.5
RURL="http://127.0.0.1:$PORT"
wait_until 30 curl -sf -o /dev/null "$RURL/ready" || { echo "router never ready"; cat "$T/router.err"; exit 1; }

# Cells: NAME NODE MODE SBATCH-OPTIONS... The batch script execs hs-launch (sbatch --wrap), so
# B: signals reach it, as with slurm-conf/examples.
declare -A JOB NODE URL EPID PREEMPTOR
submit() {
  local name=$1 node=$2 mode=$3 cmd
  shift 3
  cmd=$(printf '%q ' exec "$LAUNCH" --role decode "${common[@]}" -- --sigterm "$mode")
  JOB[$name]=$(sbatch --parsable -J "$name" -w "$node" --gres=gpu:1 -o "$T/$name.out" "$@" --wrap "$cmd")
  NODE[$name]=$node
}
job_state() { scontrol show job "$1" 2>/dev/null | grep -oP 'JobState=\K\S+'; }
job_ended() { case $(job_state "$1") in PENDING | RUNNING | COMPLETING | SUSPENDED | "") return 1 ;; esac; }
registered() {  # NAME: its URL and engine pid, from its output (hs-launch prints the URL)
  local out="$T/$1.out"
  URL[$1]=$(grep -m1 -oE '^http://[0-9.:]+' "$out" 2>/dev/null)
  EPID[$1]=$(grep -m1 -oP 'started pid \K[0-9]+' "$out" 2>/dev/null)
  [ -n "${URL[$1]}" ] && [ -n "${EPID[$1]}" ]
}
router_healthy() {
  curl -sf "$RURL/hs/endpoints" | python3 -c 'import json,sys; sys.exit(0 if any(e["url"]==sys.argv[1] and e["healthy"] and not e["draining"] for e in json.load(sys.stdin)) else 1)' "$1"
}
running() { curl -sf "$1/metrics" | awk '$1 ~ /^vllm:num_requests_running/ {s += $NF} END {exit !(s > 0)}'; }

"$B/router/hs-loadgen" --trace "$T/trace.csv" --url "$RURL" --out "$T/lg" --no-progress 2>"$T/lg.err" &
LG=$!
PIDS+=("$LG")

# The time-limit cells first: their USR1 comes at slurmctld's time-limit pass (every 30 s), 10 to
# 40 s after the start, and the time limit itself 60 to 90 s after it.
submit tl-abort node1 abort --time=1 --signal=B:USR1@50
submit tl-drain node2 drain --time=1 --signal=B:USR1@50
submit pre-abort node3 abort --signal=B:USR1@25
submit pre-drain node4 drain --signal=B:USR1@25
submit usr1-abort node5 abort
submit usr1-drain node6 drain
submit term-abort node7 abort
submit term-drain node8 drain
CELLS=(tl-abort tl-drain pre-abort pre-drain usr1-abort usr1-drain term-abort term-drain)
for c in "${CELLS[@]}"; do
  wait_until 60 registered "$c" || { _hs_bad "$c: registered"; cat "$T/$c.out"; }
  wait_until 30 router_healthy "${URL[$c]}" || _hs_bad "$c: the router routes to it"
done
# heteroscaled reads KillWait and GraceTime at start: engines that drain on TERM longer than
# KillWait are refused, naming both; nothing running is touched.
printf '#!/bin/bash\nexec true\n' >"$T/tpl.sbatch"
daemon_yaml() {  # ENGINE_SHUTDOWN_TIMEOUT_S
  cat <<YAML
services:
  - name: chat
    variants: [{name: v, prefill_gpu: h100, decode_gpu: h100, ratio: "1:1", decode_tps_per_instance: 100}]
    bounds: {min_prefill: 1, max_prefill: 2, min_decode: 1, max_decode: 2}
daemon:
  listen: 127.0.0.1:$(free_port_base 1)
  dry_run: true
  templates:
    chat: {prefill_script: $T/tpl.sbatch, decode_script: $T/tpl.sbatch, engine_shutdown_timeout_s: $1}
YAML
}
daemon_yaml 60 >"$T/bad.yaml"
timeout 60 "$B/scaler/heteroscaled" --config "$T/bad.yaml" >/dev/null 2>"$T/bad.err"
check_rc "KillWait shorter than the engines' shutdown timeout: the daemon refuses to start" $? 2
check_contains "... naming the field and KillWait" "$(cat "$T/bad.err")" "bad.yaml: daemon.templates.chat.engine_shutdown_timeout_s: engines keep serving 60 s after SIGTERM, but Slurm's KillWait=$KILLWAIT"
check_contains "... and the short GraceTime as a warning" "$(cat "$T/bad.err")" "partition gpu has GraceTime=$GRACE, shorter than stop_warning_s=135"
check_not_contains "... and sees SlurmctldParameters=preempt_send_user_signal" "$(cat "$T/bad.err")" "without SlurmctldParameters"
check_eq "... nothing running disturbed" "$(for c in "${CELLS[@]}"; do job_state "${JOB[$c]}"; done | sort -u)" RUNNING
daemon_yaml $KILLWAIT >"$T/good.yaml"
start_server good-daemon "$T" "$B/scaler/heteroscaled" --config "$T/good.yaml"
check_eq "engines' shutdown timeout = KillWait: the daemon starts" "$(kill -0 "$PID" 2>/dev/null && echo up)" up
kill "$PID"
stop() {  # NAME: stop the cell's task its way, once it has requests in flight
  local c=$1 j=${JOB[$1]}
  wait_until 60 running "${URL[$c]}" || _hs_bad "$c: has requests in flight before its stop"
  case $c in
    pre-*) PREEMPTOR[$c]=$(sbatch --parsable -p urgent -w "${NODE[$c]}" --gres=gpu:4 -o /dev/null --wrap "sleep 2") ;;
    usr1-*) scancel --batch --signal=USR1 "$j" ;;
    term-*) scancel "$j" ;;
  esac
}
for c in pre-abort pre-drain usr1-abort usr1-drain term-abort term-drain; do stop "$c"; done
for c in "${CELLS[@]}"; do
  wait_until 180 job_ended "${JOB[$c]}" || _hs_bad "$c: task ended"
  # Slurm has reaped the task; its engine must be gone with it (a short wait for the kernel).
  wait_until 10 bash -c "! kill -0 ${EPID[$c]} 2>/dev/null"
  check_eq "$c: no engine process outlives its task" "$(kill -0 "${EPID[$c]}" 2>/dev/null && echo alive || echo gone)" gone
done
# The USR1 warning came before the limit: hs-launch drained and exited, the task completed.
for c in tl-abort tl-drain; do
  check_eq "$c: drained and exited before its time limit" "$(job_state "${JOB[$c]}")" COMPLETED
done
# Preempted: the urgent job that needs the node's 4 GPUs ran, after the task had drained within
# its GraceTime and exited by itself.
for c in pre-abort pre-drain; do
  wait_until 60 job_ended "${PREEMPTOR[$c]}"
  check_eq "$c: the preempting job ran" "$(job_state "${PREEMPTOR[$c]}")" COMPLETED
  check_eq "$c: the task drained and exited within its GraceTime" "$(job_state "${JOB[$c]}")" COMPLETED
done
for c in tl-abort tl-drain pre-abort pre-drain usr1-abort usr1-drain; do
  check_contains "$c: hs-launch drained on Slurm's USR1" "$(cat "$T/$c.out")" "signal User defined signal 1: draining"
done
wait "$LG"
check_rc "loadgen finishes" $? 0

# Losses per cell: a request the loadgen saw fail or cut short, whose decode (in the router's
# record) was that cell's engine.
curl -sf "$RURL/hs/records" >"$T/records.json"
eval "$(python3 - "$T" "$(for c in "${CELLS[@]}"; do echo "$c=${URL[$c]}"; done)" <<'PY'
import csv, json, sys
T = sys.argv[1]
url = dict(reversed(l.split("=", 1)) for l in sys.argv[2].splitlines())  # engine URL -> cell
cells = list(url.values())
recs = {r["client_request_id"]: r for r in json.load(open(T + "/records.json"))}
rows = list(csv.DictReader(open(T + "/lg/requests.csv")))
lost = {c: 0 for c in cells}
served = {c: 0 for c in cells}
other = 0
for r in rows:
    d = recs.get(r["request_id"], {}).get("decode", "")
    c = url.get(d)
    if c: served[c] += 1
    if r["outcome"] == "ok" and int(r["output_tokens"]) == int(r["wanted_tokens"]):
        continue
    if c: lost[c] += 1
    else: other += 1
print(f"TOTAL={len(rows)} OTHER_LOST={other}")
for c in cells:
    k = c.replace("-", "_")
    print(f"LOST_{k}={lost[c]} SERVED_{k}={served[c]}")
PY
)"
echo "requests: $TOTAL"
for c in "${CELLS[@]}"; do
  l=LOST_${c//-/_} s=SERVED_${c//-/_}
  echo "cell $c: served ${!s}, lost ${!l}"
  [ "${!s}" -gt 0 ] || _hs_bad "$c: served requests (else the cell shows nothing)"
  if [ "$c" == term-abort ]; then
    [ "${!l}" -gt 0 ] && _hs_ok "$c: TERM aborts in-flight requests: ${!l} lost (counted, documented)" ||
      _hs_bad "$c: a loss was expected: the engine had requests in flight when TERM came"
  else
    check_eq "$c: no request lost" "${!l}" 0
  fi
done
check_eq "no request lost on the engines that were not stopped" "$OTHER_LOST" 0
finish
