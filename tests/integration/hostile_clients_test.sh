#!/bin/bash
# Hostile clients against real processes on loopback (hostile_clients.py): hs-router in front
# of a prefill and a decode hs-engine-sim, and an hs-engine-sim alone. Each attack runs while
# 20 ordinary requests are measured; each must get its clear answer (408, 431, 413, 400) or
# be cut, and every ordinary request must be served meanwhile (through the router with 5,000
# half-sent connections open: within 2 s each). heteroscaled's API gets the same attacks and
# its bearer-token checks in heteroscaled_test.sh, which has the Slurm cluster it needs.
# Usage: hostile_clients_test.sh HS_ENGINE_SIM HS_ROUTER
set -uo pipefail
SIM=$1 ROUTER=$2
HERE=$(dirname "$0")
source "$HERE/../../scripts/lib/testlib.sh"
hs_setup hostile-clients 700
export VLLM_NIXL_SIDE_CHANNEL_HOST=127.0.0.1 VLLM_NIXL_SIDE_CHANNEL_PORT=0
# 5,000 attackers + the router's own sockets: root may raise the hard limit; the servers raise
# their soft limit to it (fd_limit.h).
ulimit -Hn 65536 2>/dev/null && ulimit -n 65536 2>/dev/null
echo "# open-file limit: $(ulimit -n)"

declare -A URL
for spec in p0:prefill d0:decode; do
  n=${spec%%:*} r=${spec##*:}
  start_server "$n" "$T" "$SIM" --role "$r" --gpu-type h100 --model llama-8b --time-scale 10
  URL[$n]="http://127.0.0.1:$PORT"
done
echo "[{\"url\": \"${URL[p0]}\", \"role\": \"prefill\", \"group\": \"g0\"},
      {\"url\": \"${URL[d0]}\", \"role\": \"decode\", \"group\": \"g0\"}]" >"$T/eps.json"
start_server router "$T" "$ROUTER" --endpoints "$T/eps.json" --health-interval 0.5
RPORT=$PORT
wait_until 60 curl -sf -o /dev/null "http://127.0.0.1:$RPORT/ready"

COMPLETION='{"model": "llama", "prompt": "an ordinary request", "max_tokens": 4}'
ATTACKS="slowloris:5000 big_header many_fields big_body bad_chunked truncated_json invalid_utf8 no_reader connect_flood"
# want: the attacker's outcome per attack ("-": any)
declare -A WANT=([slowloris]=408 [big_header]=431 [many_fields]=431 [big_body]=413
  [bad_chunked]=400 [truncated_json]=400 [invalid_utf8]=400 [no_reader]=- [connect_flood]=-)

judge() {  # WHO < lines of hostile_clients.py
  local who=$1 attack out served slowest
  while IFS=$'\t' read -r attack out served slowest; do
    echo "# $who $attack: attacker got $out; ordinary $served, slowest $slowest s"
    [ "${WANT[$attack]}" == - ] || check_eq "$who, $attack: the attacker gets ${WANT[$attack]}" "$out" "${WANT[$attack]}"
    check_eq "$who, $attack: ordinary requests served meanwhile" "$served" "20/20"
    if [ "$attack" == slowloris ]; then
      check_eq "$who, 5,000 half-sent connections: each ordinary request within 2 s (slowest $slowest s)" \
        "$(python3 -c "print($slowest < 2)")" "True"
    fi
  done
}

python3 "$HERE/hostile_clients.py" 127.0.0.1 "$RPORT" POST /v1/completions "$COMPLETION" $ATTACKS \
  >"$T/router.attacks" 2>"$T/router.attacks.err"
check_eq "every attack on the router ran" "$(wc -l <"$T/router.attacks")" "9"
judge hs-router <"$T/router.attacks"
check_eq "the router still answers /health" "$(http_status "http://127.0.0.1:$RPORT/health")" "200"

python3 "$HERE/hostile_clients.py" 127.0.0.1 "${URL[d0]##*:}" POST /v1/completions "$COMPLETION" $ATTACKS \
  >"$T/sim.attacks" 2>"$T/sim.attacks.err"
check_eq "every attack on the engine ran" "$(wc -l <"$T/sim.attacks")" "9"
judge hs-engine-sim <"$T/sim.attacks"
[ -s "$T/router.attacks.err" ] && { echo "# attacker stderr:"; tail -5 "$T/router.attacks.err" "$T/sim.attacks.err"; }
finish
