#!/bin/bash
# Dead peers, on loopback only, against real processes: hs-router in front of one prefill and
# two decodes (hs-engine-sim) and 32 dead instances: 16 that drop SYNs (a listener with
# backlog 0 whose accept queue already holds one connection: Linux drops further SYNs, so
# connect() hangs as against a dead node) and 16 that accept TCP and never answer. The router
# follows its endpoint set from a stand-in for heteroscaled's /hs/endpoints, which is then
# SIGSTOPped (a hung daemon), and then one healthy decode is SIGSTOPped (a hung engine: the
# kernel still accepts its connections). Checks: the router stays responsive and serves
# ordinary requests throughout; the hung decode is marked unhealthy after two probes that
# time out in a row (--unhealthy-after's default) and named in the log with what failed;
# every dead peer is named; SIGCONT brings the decode back. Nothing is sent outside 127.0.0.1.
# Usage: dead_peer_test.sh HS_ENGINE_SIM HS_ROUTER
set -uo pipefail
SIM=$1 ROUTER=$2
source "$(dirname "$0")/../../scripts/lib/testlib.sh"
hs_setup dead-peer 700
export VLLM_NIXL_SIDE_CHANNEL_HOST=127.0.0.1 VLLM_NIXL_SIDE_CHANNEL_PORT=0
N=16

# The dead peers and the stand-in daemon, one python process; prints
# {"drop": [ports], "silent": [ports], "scaler": port} once every socket is listening.
cat >"$T/peers.py" <<'PY'
import http.server, json, socket, sys, threading
n, eps_file = int(sys.argv[1]), sys.argv[2]
keep = []
def listener(backlog):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(backlog); keep.append(s)
    return s.getsockname()[1]
drop = []
for _ in range(n):
    port = listener(0)
    filler = socket.create_connection(("127.0.0.1", port)); keep.append(filler)
    drop.append(port)
silent = [listener(128) for _ in range(n)]
class Eps(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = open(eps_file, "rb").read()
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Eps)
print(json.dumps({"drop": drop, "silent": silent, "scaler": srv.server_address[1]}), flush=True)
srv.serve_forever()
PY
start_server peers "$T" python3 "$T/peers.py" $N "$T/eps.json"
PEERS_PID=$PID
PEERS=$(head -1 "$T/peers.out")
ports() { python3 -c 'import json,sys; print(" ".join(map(str, json.loads(sys.argv[1])[sys.argv[2]])))' "$PEERS" "$1"; }
DROP=$(ports drop) SILENT=$(ports silent)
SCALER_PORT=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["scaler"])' "$PEERS")

declare -A URL EPID
for spec in p0:prefill d0:decode d1:decode; do
  n=${spec%%:*} r=${spec##*:}
  start_server "$n" "$T" "$SIM" --role "$r" --gpu-type h100 --model llama-8b --time-scale 10
  URL[$n]="http://127.0.0.1:$PORT"; EPID[$n]=$PID
done
python3 - "$T/eps.json" "${URL[p0]}" "${URL[d0]}" "${URL[d1]}" "$DROP" "$SILENT" <<'PY'
import json, sys
out, p0, d0, d1, drop, silent = sys.argv[1:]
eps = [{"url": p0, "role": "prefill", "group": "g0"}, {"url": d0, "role": "decode", "group": "g0"},
       {"url": d1, "role": "decode", "group": "g0"}]
for i, port in enumerate(drop.split() + silent.split()):
    eps.append({"url": "http://127.0.0.1:%s" % port, "role": "decode" if i % 2 else "prefill",
                "group": "g0"})
json.dump(eps, open(out, "w"))
PY

start_server router "$T" "$ROUTER" --scaler "http://127.0.0.1:$SCALER_PORT/hs/endpoints?service=chat" \
  --health-interval 0.5 --connect-timeout 0.5
RURL="http://127.0.0.1:$PORT"
ready() { curl -sf -m 2 -o /dev/null "$1/ready"; }
# healthy flag of one instance in the router's view: 1, 0, or absent
router_healthy() {
  curl -sf -m 2 "$RURL/hs/endpoints" | python3 -c 'import json,sys; e=[x for x in json.load(sys.stdin) if x["url"]==sys.argv[1]]; print(int(e[0]["healthy"]) if e else "absent")' "$1"
}
is_healthy() { [ "$(router_healthy "$1")" == "$2" ]; }
# N ordinary completions, one after another: prints how many got 200 and the slowest, in s.
serve_some() {
  local ok=0 worst=0 t code
  for _ in $(seq "$1"); do
    read -r code t < <(curl -s -o /dev/null -m 10 -w '%{http_code} %{time_total}\n' \
      -H 'content-type: application/json' \
      -d '{"model": "llama", "prompt": "a dead peer test", "max_tokens": 4}' "$RURL/v1/completions")
    [ "$code" == 200 ] && ok=$((ok + 1))
    worst=$(python3 -c "print(max($worst, ${t:-99}))")
  done
  echo "$ok $worst"
}
now() { date +%s.%N; }

wait_until 60 ready "$RURL"
check_eq "the router is ready with 32 dead peers listed" "$(http_status "$RURL/ready")" "200"
wait_until 30 is_healthy "${URL[d1]}" 1
read -r ok worst < <(serve_some 20)
check_eq "ordinary requests are served beside the dead peers (20 of 20; slowest ${worst} s)" "$ok" 20

# ---- a hung daemon, then a hung decode
kill -STOP "$PEERS_PID"
sleep 1  # the follower's poll is now stuck on the stopped daemon; the probes must not be
t0=$(now)
kill -STOP "${EPID[d1]}"
wait_until 30 is_healthy "${URL[d1]}" 0
took=$(python3 -c "print(round($(now) - $t0, 2))")
# Two intervals (0.5 s each: two timeouts in a row) plus the probe timeout (0.25 s), with room
# for a loaded machine; one probe after another, 32 dead peers would take 8 s a round.
check_eq "the hung decode is marked unhealthy within 3 s (took $took s)" \
  "$(python3 -c "print($took <= 3)")" "True"
check_contains "the log names the hung decode and what failed" "$(cat "$T/router.err")" \
  "${URL[d1]} failed its health check: "
check_contains "... a probe timeout" "$(grep -F "${URL[d1]} failed" "$T/router.err")" "timed out after"
t0=$(now)
for _ in $(seq 20); do curl -sf -m 2 -o /dev/null "$RURL/health" || break; done
took=$(python3 -c "print(round($(now) - $t0, 2))")
check_eq "the router answers /health while daemon and decode hang (20 in $took s)" \
  "$(http_status "$RURL/health")" "200"
read -r ok worst < <(serve_some 20)
check_eq "requests go to the healthy decode meanwhile (20 of 20; slowest ${worst} s)" "$ok" 20

# ---- every dead peer is named once its fast re-probing gives up (10 s after it was listed)
named_all() {
  for p in $DROP $SILENT; do
    grep -q "http://127.0.0.1:$p has not passed a health check" "$T/router.err" || return 1
  done
}
wait_until 60 named_all
check_eq "every dead peer is named in the log" "$(named_all && echo yes)" "yes"
check_contains "a SYN-dropping peer: connect timed out" \
  "$(grep -F "http://127.0.0.1:${DROP%% *} has not passed" "$T/router.err")" "cannot connect: timed out"
check_contains "a silent peer: no response" \
  "$(grep -F "http://127.0.0.1:${SILENT%% *} has not passed" "$T/router.err")" "no response: timed out"

kill -CONT "${EPID[d1]}" "$PEERS_PID"
wait_until 30 is_healthy "${URL[d1]}" 1
check_eq "the decode is healthy again after SIGCONT" "$(router_healthy "${URL[d1]}")" "1"
check_contains "... and the log says so" "$(cat "$T/router.err")" "${URL[d1]} is healthy again"
finish
