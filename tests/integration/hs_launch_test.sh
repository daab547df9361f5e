#!/bin/bash
# hs-launch running simulated engines as an array task would: registration in the endpoints
# file hs-router reads, routing through it, SIGTERM draining an in-flight request to completion
# before exit, the engine dying by itself, and bad arguments.
# Usage: hs_launch_test.sh HS_LAUNCH HS_ROUTER
set -uo pipefail
LAUNCH=$1 ROUTER=$2
source "$(dirname "$0")/../../scripts/lib/testlib.sh"
hs_setup launch 700
hs_on_exit 'pkill -9 -P $$ 2>/dev/null; wait 2>/dev/null'
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
  start_server "$name" "$T" env SLURM_ARRAY_JOB_ID=4242 SLURM_ARRAY_TASK_ID=${name: -1} HS_NIC=mlx5_1 \
    "$LAUNCH" --service llama --engine sim --model llama-8b --gpu-type h100 --host 127.0.0.1 \
    --register "$T/eps.json" "$@"
  URL=$PORT
}
engine_port() { echo "${1##*:}"; }
metric() {  # URL NAME: the sum of a metric's samples
  curl -sf "$1/metrics" | awk -v n="$2" '$1 ~ "^"n"({|$)" {s += $NF} END {print s + 0}'
}
busy() { [ "$(metric "$1" vllm:num_requests_running)" != 0 ]; }
echo '[]' >"$T/eps.json"
launch p0 --role prefill --sim-time-scale 10; P_PID=$PID; P_URL=$URL
launch d0 --role decode --sim-time-scale 2 --drain-timeout 30; D_PID=$PID; D_URL=$URL
check_eq "registered both" "$(python3 -c 'import json,sys; print(sorted(e["role"] for e in json.load(open(sys.argv[1]))))' "$T/eps.json")" "['decode', 'prefill']"
check_eq "registration carries the array job and task" \
  "$(python3 -c 'import json,sys; e=[e for e in json.load(open(sys.argv[1])) if e["role"]=="decode"][0]; print(e["job_id"], e["array_task_id"], e["gpu_type"], e["service"])' "$T/eps.json")" "4242 0 h100 llama"
start_server router "$T" "$ROUTER" --endpoints "$T/eps.json"
RP=$PORT
wait_until 30 curl -sf "http://127.0.0.1:$RP/ready"
check_eq "a request through the router to launched engines" "$(post "$RP" '{"model":"llama-8b","prompt":"hi","max_tokens":3}' | cut -d' ' -f1)" "200"

# SIGTERM while a 300-token request runs on the decode (~1.5 s at time scale 2).
post "$RP" '{"model":"llama-8b","prompt":"hi","max_tokens":300}' >"$T/long" &
LONG=$!
wait_until 30 busy "$D_URL"
kill -TERM "$D_PID"
wait_until 30 grep -q '"draining": true' "$T/eps.json"
check_contains "draining instance is marked in the endpoints file" "$(cat "$T/eps.json")" '"draining": true'
wait "$LONG"
check_contains "in-flight request completes through the drain" "$(cat "$T/long")" '"completion_tokens":300'
wait "$D_PID"; rc=$?
check_rc "hs-launch exits 0 after a complete drain" $rc 0
check_not_contains "drained instance deregistered" "$(cat "$T/eps.json")" "$D_URL"
check_contains "log says it drained and stopped the engine" "$(cat "$T/d0.err")" "engine stopped (status 0)"

# A prefill whose KV has not been read yet is not stopped before the read: an engine that
# aborts on SIGTERM (vLLM 0.17) holds one prefilled request; hs-launch is told to stop.
launch p1 --role prefill --sim-time-scale 10 --engine-version 0.17.0 --drain-timeout 60; P1_PID=$PID; P1_URL=$URL
launch d1 --role decode --sim-time-scale 10 --engine-version 0.17.0; D1_URL=$URL
pre=$(curl -sf -X POST "$P1_URL/v1/completions" -H 'content-type: application/json' \
  -d '{"model":"llama-8b","prompt":[1,2,3,4,5,6,7,8],"max_tokens":1,"kv_transfer_params":{"do_remote_decode":true}}')
kvp=$(python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1])["kv_transfer_params"]))' "$pre")
check_eq "the prefill holds one KV entry for its decode" "$(curl -sf "$P1_URL/hs/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["kv_entries_held"])')" "1"
kill -TERM "$P1_PID"
wait_until 30 grep -q "signal Terminated: draining" "$T/p1.err"
# The drain has begun and hs-launch has seen the unread KV: it waits on it, not on the clock.
wait_until 30 grep -q "drain: waiting for the engine's requests and unread KV" "$T/p1.err"
check_eq "  ... hs-launch keeps the engine while its KV is unread" "$(kill -0 "$P1_PID" 2>/dev/null && curl -sf -o /dev/null "$P1_URL/health" && echo alive)" "alive"
dec=$(curl -s -X POST "$D1_URL/v1/completions" -H 'content-type: application/json' \
  -d "{\"model\":\"llama-8b\",\"prompt\":[1,2,3,4,5,6,7,8],\"max_tokens\":4,\"kv_transfer_params\":$kvp}")
check_contains "  ... the decode reads the KV from the draining prefill" "$dec" '"completion_tokens":4'
wait "$P1_PID"; rc=$?
check_rc "  ... then hs-launch stops the engine and exits 0" $rc 0
check_contains "  ... after a complete drain" "$(cat "$T/p1.err")" "engine stopped"
check_not_contains "  ... not at its drain timeout" "$(cat "$T/p1.err")" "drain incomplete"
# Unread KV expires (VLLM_NIXL_ABORT_REQUEST_TIMEOUT): then the drain ends without the read.
VLLM_NIXL_ABORT_REQUEST_TIMEOUT=2 launch p2 --role prefill --sim-time-scale 10 --engine-version 0.17.0 --drain-timeout 60; P2_PID=$PID; P2_URL=$URL
curl -sf -o /dev/null -X POST "$P2_URL/v1/completions" -H 'content-type: application/json' \
  -d '{"model":"llama-8b","prompt":[1,2,3,4],"max_tokens":1,"kv_transfer_params":{"do_remote_decode":true}}'
kill -TERM "$P2_PID"; wait "$P2_PID"; rc=$?
check_rc "unread KV past the abort timeout: the drain completes (exit 0)" $rc 0

# The engine dies by itself: deregistered, hs-launch exits with its status.
ENGINE=$(pgrep -P "$P_PID" -f hs-engine-sim)
kill -9 "$ENGINE"
wait "$P_PID"; rc=$?
check_rc "engine killed: hs-launch exits 137" $rc 137
check_not_contains "engine killed: deregistered" "$(cat "$T/eps.json")" "\"$P_URL\""

err=$("$LAUNCH" --service s --role prefill --engine tgi --model m 2>&1); rc=$?
check_rc "unknown engine: exit 2" $rc 2
check_contains "unknown engine: named" "$err" "unknown engine 'tgi'"
err=$("$LAUNCH" --service s --role prefil --model m 2>&1); rc=$?
check_contains "bad role: named" "$err" "--role"
err=$("$LAUNCH" --service s --role decode --engine sim --model m --host 127.0.0.1 2>&1); rc=$?
check_contains "sim without a GPU type: named" "$err" "--gpu-type"
err=$("$LAUNCH" --service s --role decode --engine sim --model llama-8b --gpu-type h100 --engine-version 0.9.1 --host 127.0.0.1 2>&1); rc=$?
check_rc "unknown engine version: exit 2" $rc 2
check_contains "unknown engine version: named" "$err" "0.9.1 is not a supported release"
err=$("$LAUNCH" --service s --role decode --engine sim --model llama-8b --gpu-type h100 --advertise node7 2>&1); rc=$?
check_contains "a host name as the advertised address: refused" "$err" "not a host name"
echo "not json" >"$T/bad.json"
err=$("$LAUNCH" --service s --role decode --model llama-8b --gpu-type h100 --host 127.0.0.1 --register "$T/bad.json" 2>&1); rc=$?
check_rc "unreadable registry: exit 1" $rc 1
check_contains "unreadable registry: file named" "$err" "$T/bad.json: not JSON:"
check_contains "unreadable registry: left alone, said so" "$err" "; not touching it"
check_eq "unreadable registry untouched" "$(cat "$T/bad.json")" "not json"
check_eq "no engine left behind" "$(pgrep -P $$ -f hs-engine-sim | wc -l)" "0"
finish
