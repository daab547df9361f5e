#!/bin/bash
# hs-engine-sim as separate processes: a prefill and a decode engine hand a request's KV over
# HTTP exactly as vLLM's NixlConnector proxy drives them; SIGTERM drains; bad CLI input is
# refused with a message. Usage: hs_engine_sim_test.sh HS_ENGINE_SIM
set -uo pipefail
SIM=$1
source "$(dirname "$0")/../../scripts/lib/testlib.sh"
T=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT

# Starts an engine; sets PORT and PID. The first stdout line is the port (--port 0).
start_engine() {
  local name=$1; shift
  "$SIM" "$@" >"$T/$name.out" 2>"$T/$name.err" &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 100); do [ -s "$T/$name.out" ] && break; sleep 0.05; done
  PORT=$(head -1 "$T/$name.out")
}
http() {  # METHOD PORT PATH [BODY] -> "status body"
  python3 - "$@" <<'PY'
import sys, urllib.request, urllib.error
m, port, path = sys.argv[1:4]
data = sys.argv[4].encode() if len(sys.argv) > 4 else None
req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=m,
                             headers={"Content-Type": "application/json"})
try:
    r = urllib.request.urlopen(req, timeout=30); print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
PY
}
field() { python3 -c "import json,sys; d=json.loads(sys.argv[1].split(' ',1)[1]); print(eval(sys.argv[2]))" "$1" "$2"; }

start_engine prefill --role prefill --gpu-type h100 --model llama-70b --time-scale 50
PP=$PORT; PPID_=$PID
# Slower decode so that a 400-token request is still running (~2 s) when SIGTERM comes.
start_engine decode --role decode --gpu-type a100 --model llama-70b --time-scale 5
DP=$PORT; DPID=$PID
check_eq "prefill engine prints its port" "$([[ $PP =~ ^[0-9]+$ ]] && echo yes)" "yes"
check_eq "decode engine prints its port" "$([[ $DP =~ ^[0-9]+$ ]] && echo yes)" "yes"
check_eq "health" "$(http GET "$PP" /health | cut -d' ' -f1)" "200"

r=$(http POST "$PP" /v1/completions '{"model":"llama","prompt":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20],"max_tokens":1,"stream":false,"kv_transfer_params":{"do_remote_decode":true,"do_remote_prefill":false,"remote_engine_id":null,"remote_block_ids":null,"remote_host":null,"remote_port":null}}')
check_eq "prefill answers 200" "${r%% *}" "200"
kvp=$(field "$r" "json.dumps(d['kv_transfer_params'])")
check_eq "prefill names itself as the KV source" "$(field "$r" "d['kv_transfer_params']['remote_port']")" "$PP"
r=$(http POST "$DP" /v1/completions "{\"model\":\"llama\",\"prompt\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20],\"max_tokens\":12,\"kv_transfer_params\":$kvp}")
check_eq "decode answers 200" "${r%% *}" "200"
check_eq "decode generated max_tokens" "$(field "$r" "d['usage']['completion_tokens']")" "12"
m=$(http GET "$DP" /metrics)
check_contains "decode exports vllm:generation_tokens_total" "$m" 'vllm:generation_tokens_total{model_name="llama",engine="0"} 12'
check_contains "decode did no prefill" "$m" 'vllm:prompt_tokens_total{model_name="llama",engine="0"} 0'
r=$(http POST "$DP" /v1/completions "{\"prompt\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20],\"kv_transfer_params\":$kvp}")
check_eq "the same KV cannot be pulled twice" "${r%% *}" "400"
r=$(http POST "$DP" /v1/completions '{"prompt": 5}')
check_eq "bad prompt: 400" "${r%% *}" "400"
check_contains "bad prompt: says what is wrong" "$r" "prompt must be a string or a list of token ids"

# SIGTERM while a long request runs: the request completes, then the process exits 0.
(http POST "$DP" /v1/completions '{"prompt":"go","max_tokens":400}' >"$T/long") &
LONG=$!
sleep 0.3
kill -TERM "$DPID"
sleep 0.1
check_eq "draining engine refuses new work" "$(http POST "$DP" /v1/completions '{"prompt":"x"}' | cut -d' ' -f1)" "503"
wait "$LONG"
check_eq "in-flight request finished through the drain" "$(cut -d' ' -f1 "$T/long")" "200"
wait "$DPID"; rc=$?
check_rc "decode exits 0 after draining" $rc 0
kill -TERM "$PPID_"; wait "$PPID_"; check_rc "prefill exits 0" $? 0

err=$("$SIM" --role middle 2>&1); rc=$?
check_rc "unknown role: exit 2" $rc 2
check_contains "unknown role: named" "$err" "--role"
err=$("$SIM" --gpu-type z9000 2>&1); rc=$?
check_rc "unknown GPU: exit 2" $rc 2
check_contains "unknown GPU: named" "$err" "no profile for gpu 'z9000'"
err=$("$SIM" --time-scale -1 2>&1); rc=$?
check_contains "negative time scale refused" "$err" "--time-scale must be positive"
start_engine first
err=$("$SIM" --port "$PORT" 2>&1); rc=$?
check_rc "port in use: exit 1" $rc 1
check_contains "port in use: the address is named" "$err" "127.0.0.1:$PORT"
check_eq "the running engine is unharmed" "$(http GET "$PORT" /health | cut -d' ' -f1)" "200"
finish
