#!/bin/bash
# hs-launch running simulated engines as an array task would: registration in the endpoints
# file hs-router reads, routing through it, SIGTERM draining an in-flight request to completion
# before exit, the engine dying by itself, and bad arguments.
# Usage: hs_launch_test.sh HS_LAUNCH HS_ROUTER
set -uo pipefail
LAUNCH=$1 ROUTER=$2
source "$(dirname "$0")/../../scripts/lib/testlib.sh"
T=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; pkill -9 -P $$ 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
post() {  # PORT BODY -> "status body"
  python3 - "$@" <<'PY'
import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/v1/completions", data=sys.argv[2].encode(), method="POST"), timeout=60)
    print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
PY
}
launch() {  # NAME ARGS...: sets PID and URL once registered
  local name=$1; shift
  SLURM_ARRAY_JOB_ID=4242 SLURM_ARRAY_TASK_ID=${name: -1} HS_NIC=mlx5_1 \
    "$LAUNCH" --service llama --engine sim --model llama-8b --gpu-type h100 --host 127.0.0.1 \
    --register "$T/eps.json" "$@" >"$T/$name.url" 2>"$T/$name.err" &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 100); do [ -s "$T/$name.url" ] && break; sleep 0.05; done
  URL=$(head -1 "$T/$name.url")
}
echo '[]' >"$T/eps.json"
launch p0 --role prefill --sim-time-scale 10; P_PID=$PID
launch d0 --role decode --sim-time-scale 2 --drain-timeout 30; D_PID=$PID; D_URL=$URL
check_eq "registered both" "$(python3 -c 'import json,sys; print(sorted(e["role"] for e in json.load(open(sys.argv[1]))))' "$T/eps.json")" "['decode', 'prefill']"
check_eq "registration carries the array job and task" \
  "$(python3 -c 'import json,sys; e=[e for e in json.load(open(sys.argv[1])) if e["role"]=="decode"][0]; print(e["job_id"], e["array_task_id"], e["gpu_type"], e["service"])' "$T/eps.json")" "4242 0 h100 llama"
"$ROUTER" --endpoints "$T/eps.json" >"$T/router.port" 2>"$T/router.err" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$T/router.port" ] && break; sleep 0.05; done
RP=$(cat "$T/router.port")
check_eq "a request through the router to launched engines" "$(post "$RP" '{"model":"llama-8b","prompt":"hi","max_tokens":3}' | cut -d' ' -f1)" "200"

# SIGTERM while a 300-token request runs on the decode (~1.5 s at time scale 2).
post "$RP" '{"model":"llama-8b","prompt":"hi","max_tokens":300}' >"$T/long" &
LONG=$!
sleep 0.5
kill -TERM "$D_PID"
sleep 0.3
check_contains "draining instance is marked in the endpoints file" "$(cat "$T/eps.json")" '"draining": true'
wait "$LONG"
check_contains "in-flight request completes through the drain" "$(cat "$T/long")" '"completion_tokens":300'
wait "$D_PID"; rc=$?
check_rc "hs-launch exits 0 after a complete drain" $rc 0
check_not_contains "drained instance deregistered" "$(cat "$T/eps.json")" "$D_URL"
check_contains "log says it drained and stopped the engine" "$(cat "$T/d0.err")" "engine stopped (status 0)"

# The engine dies by itself: deregistered, hs-launch exits with its status.
ENGINE=$(pgrep -P "$P_PID" -f hs-engine-sim)
kill -9 "$ENGINE"
wait "$P_PID"; rc=$?
check_rc "engine killed: hs-launch exits 137" $rc 137
check_eq "engine killed: deregistered" "$(cat "$T/eps.json" | tr -d ' \n')" "[]"

err=$("$LAUNCH" --service s --role prefill --engine tgi --model m 2>&1); rc=$?
check_rc "unknown engine: exit 2" $rc 2
check_contains "unknown engine: named" "$err" "unknown engine 'tgi'"
err=$("$LAUNCH" --service s --role prefil --model m 2>&1); rc=$?
check_contains "bad role: named" "$err" "--role"
err=$("$LAUNCH" --service s --role decode --engine sim --model m 2>&1); rc=$?
check_contains "sim without a GPU type: named" "$err" "--gpu-type"
echo "not json" >"$T/bad.json"
err=$("$LAUNCH" --service s --role decode --model llama-8b --gpu-type h100 --host 127.0.0.1 --register "$T/bad.json" 2>&1); rc=$?
check_rc "unreadable registry: exit 1" $rc 1
check_contains "unreadable registry: file named, left alone" "$err" "$T/bad.json: not a JSON list of endpoints; not touching it"
check_eq "unreadable registry untouched" "$(cat "$T/bad.json")" "not json"
check_eq "no engine left behind" "$(pgrep -P $$ -f hs-engine-sim | wc -l)" "0"
finish
