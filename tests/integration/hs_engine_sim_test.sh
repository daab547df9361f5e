#!/bin/bash
# hs-engine-sim as separate processes: a prefill and a decode engine hand a request's KV over
# HTTP exactly as vLLM's NixlConnector proxy drives them; SIGTERM drains; bad CLI input is
# refused with a message. Usage: hs_engine_sim_test.sh HS_ENGINE_SIM
set -uo pipefail
SIM=$1
source "$(dirname "$0")/../../scripts/lib/testlib.sh"
hs_setup engine-sim 700
# vLLM's NIXL side channel: an IP address; port 0 lets each simulated engine take a free one.
export VLLM_NIXL_SIDE_CHANNEL_HOST=127.0.0.1 VLLM_NIXL_SIDE_CHANNEL_PORT=0

# Starts an engine; sets PORT and PID. The first stdout line is the port (--port 0).
start_engine() { local name=$1; shift; start_server "$name" "$T" "$SIM" "$@"; }
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
# Slower decode so that a 400-token request is still running (~2 s) when SIGTERM comes; it
# emulates vLLM >= 0.18 started with --shutdown-timeout, so SIGTERM drains.
start_engine decode --role decode --gpu-type a100 --model llama-70b --time-scale 5 --shutdown-timeout 60
DP=$PORT; DPID=$PID
check_eq "prefill engine prints its port" "$([[ $PP =~ ^[0-9]+$ ]] && echo yes)" "yes"
check_eq "decode engine prints its port" "$([[ $DP =~ ^[0-9]+$ ]] && echo yes)" "yes"
check_eq "health" "$(http GET "$PP" /health | cut -d' ' -f1)" "200"

r=$(http POST "$PP" /v1/completions '{"model":"llama","prompt":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20],"max_tokens":1,"stream":false,"kv_transfer_params":{"do_remote_decode":true,"do_remote_prefill":false,"remote_engine_id":null,"remote_block_ids":null,"remote_host":null,"remote_port":null}}')
check_eq "prefill answers 200" "${r%% *}" "200"
kvp=$(field "$r" "json.dumps(d['kv_transfer_params'])")
check_eq "prefill names its NIXL side channel as the KV source" \
  "$(field "$r" "d['kv_transfer_params']['remote_host'] + ' ' + str(d['kv_transfer_params']['remote_port'] != $PP)")" "127.0.0.1 True"
check_eq "version-2 transfer parameters: remote_request_id and tp_size" \
  "$(field "$r" "str(bool(d['kv_transfer_params']['remote_request_id'])) + ' ' + str(d['kv_transfer_params']['tp_size'])")" "True 1"
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
check_contains "bad prompt: says what is wrong" "$r" "prompt must be a string or a non-empty list of token ids"
check_contains "bad prompt: vLLM's error shape" "$r" '"type":"BadRequestError"'
r=$(http POST "$DP" /v1/completions '{"prompt": "x", "max_tokens": 1, "min_tokens": 3}')
check_eq "min_tokens above max_tokens: 400 as vLLM's SamplingParams" "${r%% *}" "400"

running() { http GET "$1" /hs/status | cut -d' ' -f2- | python3 -c 'import json,sys; s=json.load(sys.stdin); sys.exit(0 if s["running"] + s["waiting"] > 0 else 1)'; }
draining() { http GET "$1" /hs/status | grep -q '"draining":true'; }
# SIGTERM while a long request runs (drain mode): the request completes, then the process exits 0.
(http POST "$DP" /v1/completions '{"prompt":"go","max_tokens":400}' >"$T/long") &
LONG=$!
wait_until 30 running "$DP"
kill -TERM "$DPID"
wait_until 30 draining "$DP"
check_eq "draining engine refuses new work" "$(http POST "$DP" /v1/completions '{"prompt":"x"}' | cut -d' ' -f1)" "503"
wait "$LONG"
check_eq "in-flight request finished through the drain" "$(cut -d' ' -f1 "$T/long")" "200"
wait "$DPID"; rc=$?
check_rc "decode exits 0 after draining" $rc 0
kill -TERM "$PPID_"; wait "$PPID_"; check_rc "prefill exits 0" $? 0

# SIGTERM as vLLM < 0.18 (or --shutdown-timeout 0) takes it: in-flight requests are aborted.
start_engine abort --role decode --gpu-type a100 --model llama-70b --time-scale 5 --emulate-vllm 0.17.1
AP=$PORT; APID=$PID
(http POST "$AP" /v1/completions '{"prompt":"go","max_tokens":400}' >"$T/cut" 2>&1) &
CUT=$!
wait_until 30 running "$AP"
kill -TERM "$APID"; wait "$APID"; check_rc "aborting engine exits 0" $? 0
wait "$CUT"
check_not_contains "its in-flight request did not complete" "$(cat "$T/cut")" '"completion_tokens":400'
check_contains "its log says it aborted" "$(cat "$T/abort.err")" "aborting 1 in-flight"
err=$(VLLM_NIXL_SIDE_CHANNEL_HOST=localhost "$SIM" --role prefill 2>&1); rc=$?
check_rc "side channel given a host name: refused" $rc 2
check_contains "  ... as libzmq 4.3.4's bind refuses it" "$err" "No such device"
err=$("$SIM" --role decode --emulate-vllm 0.17.0 --shutdown-timeout 5 2>&1); rc=$?
check_contains "--shutdown-timeout before vLLM 0.18: unrecognized" "$err" "unrecognized before vLLM 0.18"

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
