#!/bin/bash
# The vLLM details of the serving path, with real processes on loopback:
#  1. requests that break vLLM's rules, sent straight to an engine: vLLM's status and error body;
#  2. engines started with an API key (VLLM_API_KEY): the router's key (from a file) reaches
#     both halves, and the key is in no process's argv;
#  3. two clients sending the same x-request-id at once: both succeed (the router's ids are
#     its own; the engine refuses an id already running, as vLLM does);
#  4. time between tokens per token: engines sending 4 tokens per chunk give the router the
#     same TBT histogram as engines sending 1 (within a bucket);
#  5. readiness: engines that load for 3 s (port bound, nothing served): the router's /ready
#     is 503 until they answer, and the first request after it turns 200 succeeds.
# Usage: vllm_protocol_test.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
B=$1 SRC=$2
source "$SRC/scripts/lib/testlib.sh"
hs_setup vllm-protocol 700
hs_on_exit 'wait 2>/dev/null'
SIM=$B/launcher/hs-engine-sim ROUTER=$B/router/hs-router
export VLLM_NIXL_SIDE_CHANNEL_HOST=127.0.0.1 VLLM_NIXL_SIDE_CHANNEL_PORT=0
post() {  # URL BODY [HEADER...] -> "status body"
  local url=$1 body=$2; shift 2
  local h=()
  for x in "$@"; do h+=(-H "$x"); done
  curl -s -o "$T/body" -w '%{http_code}' -X POST -H 'content-type: application/json' "${h[@]}" -d "$body" "$url" >"$T/code"
  echo "$(cat "$T/code") $(cat "$T/body")"
}
pair() {  # NAME KEY TOKENS_PER_CHUNK [DECODE_TIME_SCALE]: a prefill, a decode and a router; sets RURL
  local n=$1 key=$2 k=$3 ds=${4:-4}
  start_server "$n-p" "$T" env ${key:+VLLM_API_KEY=$key} "$SIM" --role prefill --time-scale 20
  local p=$PORT
  start_server "$n-d" "$T" env ${key:+VLLM_API_KEY=$key} "$SIM" --role decode --time-scale "$ds" --tokens-per-chunk "$k"
  local d=$PORT
  echo "[{\"url\":\"http://127.0.0.1:$p\",\"role\":\"prefill\",\"group\":\"g\"},{\"url\":\"http://127.0.0.1:$d\",\"role\":\"decode\",\"group\":\"g\"}]" >"$T/$n.json"
  local kf=()
  if [ -n "$key" ]; then printf '%s\n' "$key" >"$T/$n.key"; chmod 600 "$T/$n.key"; kf=(--engine-api-key-file "$T/$n.key"); fi
  start_server "$n-r" "$T" "$ROUTER" --endpoints "$T/$n.json" --health-interval 0.5 "${kf[@]}"
  RURL=http://127.0.0.1:$PORT
  P_URL=http://127.0.0.1:$p D_URL=http://127.0.0.1:$d
  wait_until 30 curl -sf "$RURL/ready"
}

# ---- 1. vLLM's rules at an engine
start_server e "$T" "$SIM" --role both --time-scale 20
E=http://127.0.0.1:$PORT/v1/completions
while IFS='|' read -r body want_code want_type want_param; do
  [ -z "$body" ] && continue
  got=$(post "$E" "$body")
  code=${got%% *}
  shape=$(python3 -c 'import json,sys; e=json.loads(sys.argv[1])["error"]; print(e["type"], e["param"], e["code"], bool(e["message"]))' "${got#* }" 2>&1)
  check_eq "vLLM rule: $body -> $want_code $want_type" "$code $shape" "$want_code $want_type $want_param $want_code True"
done <<'CASES'
{"prompt":"x","max_tokens":1,"min_tokens":2}|400|BadRequestError|min_tokens
{"prompt":"x","temperature":3}|400|BadRequestError|temperature
{"prompt":"x","top_p":0}|400|BadRequestError|top_p
{"prompt":"x","top_k":-5}|400|BadRequestError|top_k
{"prompt":"x","n":0}|400|BadRequestError|n
{"prompt":"x","logprobs":99}|400|BadRequestError|logprobs
{"prompt":"x","stream_options":{"include_usage":true}}|400|BadRequestError|stream_options
{"prompt":[1,2,999999]}|400|BadRequestError|prompt
{"prompt":"x","max_tokens":200000}|400|BadRequestError|prompt
{"model":"nope","prompt":"x"}|404|NotFoundError|model
CASES
check_eq "unknown fields are accepted, as vLLM does" "$(post "$E" '{"prompt":"x","max_tokens":1,"my_field":1}' | cut -d' ' -f1)" "200"

# ---- 2. API key to both halves, never in argv
pair keyed "sekret-$$-key" 1
check_eq "an engine with a key refuses a request without it" "$(post "$P_URL/v1/completions" '{"prompt":"x","max_tokens":1}' | cut -d' ' -f1)" "401"
r=$(post "$RURL/v1/completions" '{"prompt":"hello","max_tokens":5,"min_tokens":5,"ignore_eos":true}')
check_eq "through the router the key reaches both halves" "${r%% *}" "200"
check_contains "  ... and min_tokens is honoured on the decode" "$r" '"completion_tokens":5'
in_argv() {  # how many processes but this check's own carry the key in their argv
  python3 - "$1" <<'PY'
import os, sys
key, me, n = sys.argv[1], os.getpid(), 0
for p in os.listdir("/proc"):
    if p.isdigit() and int(p) != me:
        try: n += key.encode() in open(f"/proc/{p}/cmdline", "rb").read()
        except OSError: pass
print(n)
PY
}
check_eq "the key is in no process's argv" "$(in_argv "sekret-$$-key")" "0"

# ---- 3. two clients, one x-request-id, at the same time
pair dup "" 1
for c in 1 2; do
  curl -s -o "$T/dup$c" -w '%{http_code}' -X POST -H 'content-type: application/json' -H 'x-request-id: same-id' \
    -d '{"prompt":"x","max_tokens":200}' "$RURL/v1/completions" >"$T/dupcode$c" &
done
wait_until 60 bash -c "[ -s '$T/dupcode1' ] && [ -s '$T/dupcode2' ]"
check_eq "both requests with the same client id succeed" "$(cat "$T/dupcode1") $(cat "$T/dupcode2")" "200 200"
ids=$(curl -sf "$RURL/hs/records" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(len({x["request_id"] for x in r if x["client_request_id"]=="same-id"}))')
check_eq "  ... under two ids of the router's own" "$ids" "2"
curl -s -o /dev/null -X POST -H 'content-type: application/json' -H 'x-request-id: busy' \
  -d '{"prompt":"x","max_tokens":3000}' "$D_URL/v1/completions" &
BUSY=$!
wait_until 30 bash -c "curl -sf '$D_URL/hs/status' | grep -q '\"running\":1'"
check_eq "the engine itself refuses an id already running (vLLM's rule)" \
  "$(post "$D_URL/v1/completions" '{"prompt":"x","max_tokens":1}' 'x-request-id: busy' | cut -d' ' -f1)" "400"
kill "$BUSY" 2>/dev/null

# ---- 4. TBT per token, 1 vs 4 tokens per chunk
tbt_run() {  # NAME K -> p50 and p90 of the router's TBT histogram after 8 streamed requests
  # A slow decode (steps of ~20 ms) so that a 4-token chunk's gap would land buckets away.
  pair "$1" "" "$2" 0.5
  for i in $(seq 8); do
    curl -s -X POST -H 'content-type: application/json' \
      -d '{"prompt":"x","max_tokens":40,"min_tokens":40,"ignore_eos":true,"stream":true}' "$RURL/v1/completions" >"$T/$1.s$i" &
  done
  wait_until 60 bash -c "grep -lq '\[DONE\]' $T/$1.s* && [ \$(grep -l '\[DONE\]' $T/$1.s* | wc -l) -eq 8 ]"
  curl -sf "$RURL/metrics" | python3 -c '
import sys
b = []
for l in sys.stdin:
    if l.startswith("hs_router_tbt_seconds_bucket"):
        le = l.split("le=\"")[1].split("\"")[0]
        b.append((float("inf") if le == "+Inf" else float(le), float(l.split()[-1])))
total = b[-1][1]
def q(p):
    for le, c in b:
        if c >= p * total: return le
print(q(0.5), q(0.9), int(total))'
}
one=$(tbt_run k1 1)
four=$(tbt_run k4 4)
echo "       TBT p50/p90 bucket and count: 1 token a chunk: $one; 4 tokens a chunk: $four"
check_eq "TBT with 4 tokens per chunk matches 1 per chunk (same buckets, one observation per token)" "$four" "$one"
check_contains "  ... the chunked stream reached the client" "$(cat "$T/k4.s1")" "[DONE]"
check_eq "  ... in chunks of several tokens (the check is not vacuous)" \
  "$(curl -sf "http://127.0.0.1:$(head -1 "$T/k4-r.out")/hs/records" | python3 -c 'import json,sys; r=json.load(sys.stdin); s=[x for x in r if "tokens" in x]; print(len(s) == 8 and all(x["token_events"] * 3 < x["tokens"] for x in s))')" "True"
check_not_contains "  ... without usage it did not ask for" "$(cat "$T/k4.s1")" "usage"

# ---- 5. /ready before the first request
start_server lp "$T" "$SIM" --role prefill --time-scale 20 --load-delay 3
LP=$PORT
start_server ld "$T" "$SIM" --role decode --time-scale 20 --load-delay 3
LD=$PORT
echo "[{\"url\":\"http://127.0.0.1:$LP\",\"role\":\"prefill\",\"group\":\"g\"},{\"url\":\"http://127.0.0.1:$LD\",\"role\":\"decode\",\"group\":\"g\"}]" >"$T/load.json"
t0=$(date +%s.%N)
start_server lr "$T" "$ROUTER" --endpoints "$T/load.json" --health-interval 5
LR=http://127.0.0.1:$PORT
check_eq "while the engines load: /health 200 (alive), /ready 503" "$(http_status "$LR/health") $(http_status "$LR/ready")" "200 503"
wait_until 60 curl -sf "$LR/ready"
ready_after=$(echo "$(date +%s.%N) - $t0" | bc)
check_eq "the first request after /ready succeeds" "$(post "$LR/v1/completions" '{"prompt":"x","max_tokens":2}' | cut -d' ' -f1)" "200"
check_eq "  ... and /v1/models answers from the cached names" "$(http_status "$LR/v1/models")" "200"
check_eq "  ... ready by the fast re-probe, before the 5 s health interval ($ready_after s)" \
  "$(echo "$ready_after < 4.9" | bc)" "1"
finish
