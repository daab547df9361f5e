#!/bin/bash
# heteroscaled closing the loop on a real loopback Slurm cluster (4 nodes, two leaf switches,
# h100 on odd nodes, l40s on even ones): service "chat" is one prefill and one decode array
# submitted with plain sbatch in group g1 under leaf1; hs-launch runs simulated engines as the
# array tasks and registers with the daemon; hs-router follows the daemon's endpoint set;
# hs-loadgen replays the Mooncake trace through the router.
#  1. load step up: both arrays grow in the same tick at 1:1; g1 fills leaf1 (4+4 GPUs) and a
#     second group opens under leaf2 from the daemon's templates;
#  2. load gone: chosen instances are drained (marked in Slurm), then cancelled; no request
#     failed at the router, although the engines abort in-flight requests on SIGTERM as vLLM
#     before 0.18 does (HS_ENGINE_VERSION=0.17.0): the daemon's drain must leave them idle;
#  3. the daemon's --record of the run replays through `hs-sim replay` to the same actions;
#     the run includes "batch", a mixed-variant service whose one group (b1, on leaf2's l40s)
#     is its fallback variant, rated at its own 2000 tok/s.
# Usage: heteroscaled_test.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
B=$1 SRC=$2
source "$SRC/scripts/lib/testlib.sh"
hs_setup daemon-test
hs_cluster_up "$T/cluster" --nodes 4 --leaves 2
DPORT=$(free_port_base 2)
K=4 SK=8

head -c 24 /dev/urandom | base64 >"$T/token"
chmod 600 "$T/token"
cat >"$T/hs.yaml" <<YAML
services:
  - name: chat
    variants:
      - {name: h100-l40s, prefill_gpu: h100, decode_gpu: l40s, ratio: "1:1", decode_tps_per_instance: 250}
    slo: {ttft_s: 30, tbt_s: 1.0, percentile: 0.99}
    bounds: {min_prefill: 1, max_prefill: 6, min_decode: 1, max_decode: 6}
    affinity: leaf
    scaling:
      window_s: 8
      stale_after_s: 8
      out_cooldown_s: 2
      in_cooldown_s: 8
      in_stabilization_s: 8
      soft_scale_in_grace_s: 2
      max_step_out_units: 4
      max_step_in_fraction: 1.0
      start_timeout_s: 20
  # A mixed-variant service whose one group runs its fallback variant (l40s only, 2000 tok/s
  # per decode against the preferred's 2400): the daemon must rate it at its own variant's.
  - name: batch
    variants:
      - {name: h100-h100, prefill_gpu: h100, decode_gpu: h100, ratio: "1:1", decode_tps_per_instance: 2400}
      - {name: l40s-l40s, prefill_gpu: l40s, decode_gpu: l40s, ratio: "1:1", decode_tps_per_instance: 2000}
    bounds: {min_prefill: 1, max_prefill: 1, min_decode: 1, max_decode: 1}
    affinity: leaf
daemon:
  listen: 127.0.0.1:$DPORT
  token_file: $T/token
  tick_s: 1
  heartbeat_timeout_s: 10
  drain_timeout_s: 60
  topology_conf: $T/cluster/etc/topology.conf
  routers: {chat: ["http://127.0.0.1:@RPORT@"]}
  templates:
    chat:
      prefill_script: $SRC/slurm-conf/examples/chat-prefill.sbatch
      decode_script: $SRC/slurm-conf/examples/chat-decode.sbatch
      array_size: 16
      work_dir: $T
      output: $T/job-%A_%a.out
      environment: [HS_BIN=$B/launcher, HS_HOST=127.0.0.1, "HS_SCALER=http://127.0.0.1:$DPORT",
                    HS_HEARTBEAT=2, HS_SIM_SCALE=$SK, HS_TOKEN_FILE=$T/token,
                    HS_ENGINE_VERSION=0.17.0]
YAML

# The router first (its port goes into the daemon's config).
start_server router "$T" "$B/router/hs-router" \
  --scaler "http://127.0.0.1:$DPORT/hs/endpoints?service=chat" --health-interval 0.5
RPORT=$PORT
sed -i "s/@RPORT@/$RPORT/" "$T/hs.yaml"

start_server d "$T" "$B/scaler/heteroscaled" --config "$T/hs.yaml" --log-level debug --record "$T/rec"
DPID=$PID
check_eq "heteroscaled listens on its configured port" "$PORT" "$DPORT"

submit() {  # ROLE GPU
  hs_submit_pool chat "$1" g1 h100-l40s "$SRC/slurm-conf/examples/chat-$1.sbatch" \
    --array=0-15%1 --gres=gpu:$2:1 --constraint=leaf1 \
    --export=ALL,HS_GROUP=g1,HS_BIN=$B/launcher,HS_HOST=127.0.0.1,HS_SCALER=http://127.0.0.1:$DPORT,HS_HEARTBEAT=2,HS_SIM_SCALE=$SK,HS_TOKEN_FILE=$T/token,HS_ENGINE_VERSION=0.17.0 \
    -o "$T/job-%A_%a.out" -D "$T"
}
AP=$(submit prefill h100)
AD=$(submit decode l40s)
# batch's fallback group b1: both roles on l40s under leaf2 (node4), leaving leaf2 room for
# chat's second group.
for role in prefill decode; do
  sed "s/--service chat/--service batch/" "$SRC/slurm-conf/examples/chat-$role.sbatch" >"$T/batch-$role.sbatch"
  hs_submit_pool batch $role b1 l40s-l40s "$T/batch-$role.sbatch" \
    --array=0-3%1 --gres=gpu:l40s:1 --constraint=leaf2 \
    --export=ALL,HS_GROUP=b1,HS_GPU_TYPE=l40s,HS_BIN=$B/launcher,HS_HOST=127.0.0.1,HS_SCALER=http://127.0.0.1:$DPORT,HS_HEARTBEAT=2,HS_SIM_SCALE=$SK,HS_TOKEN_FILE=$T/token \
    -o "$T/job-%A_%a.out" -D "$T" >/dev/null
done
eps() { python3 -c "import json,sys,urllib.request; e=json.load(urllib.request.urlopen(sys.argv[1],timeout=5)); print(sum(1 for x in e if x['role']=='prefill' and not x['draining']), sum(1 for x in e if x['role']=='decode' and not x['draining']))" "http://127.0.0.1:$DPORT/hs/endpoints?service=chat" 2>/dev/null; }
one_each() { [ "$(eps)" == "1 1" ]; }
wait_until 60 one_each
check_eq "the operator's sbatch arrays register 1 prefill + 1 decode" "$(eps)" "1 1"
CTL="$B/scaler/hs-ctl --url http://127.0.0.1:$DPORT"
batch_rated() { $CTL explain batch | grep -q "/ 2000.0 tok/s per unit"; }
wait_until 60 batch_rated
check_contains "the fallback group is rated at its own variant's 2000 tok/s, not the preferred's 2400" \
  "$($CTL explain batch)" "/ 2000.0 tok/s per unit"

check_eq "mutating requests without the token are refused" \
  "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{}' "http://127.0.0.1:$DPORT/hs/pause")" "403"
check_eq "  ... a registration too" \
  "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"url":"http://127.0.0.1:1","role":"decode","service":"chat","group":"g1","job_id":"1","array_task_id":"0"}' "http://127.0.0.1:$DPORT/hs/register")" "403"
# Every mutating endpoint with no token, an empty or wrong one, the right one with a byte
# more, or another scheme: 403 each, and nothing changes.
TOKEN=$(cat "$T/token")
AN_URL=$(curl -sf "http://127.0.0.1:$DPORT/hs/endpoints?service=chat" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["url"])')
refused=0 tries=0
for ep in register heartbeat deregister draining pause resume; do
  for auth in none "Bearer" "Bearer " "Bearer wrong" "Bearer ${TOKEN}x" "Bearer ${TOKEN:1}" "Basic $TOKEN"; do
    h=(); [ "$auth" == none ] || h=(-H "Authorization: $auth")
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "${h[@]}" -H 'content-type: application/json' \
      -d "{\"url\": \"$AN_URL\", \"role\": \"decode\", \"service\": \"chat\", \"group\": \"g1\", \"job_id\": \"1\", \"array_task_id\": \"0\"}" \
      "http://127.0.0.1:$DPORT/hs/$ep")
    tries=$((tries + 1))
    if [ "$code" == 403 ]; then refused=$((refused + 1)); else echo "# /hs/$ep with ${auth%% *}...: HTTP $code"; fi
  done
done
check_eq "every mutating endpoint refuses a missing or wrong token ($tries tries)" "$refused" "$tries"
check_eq "  ... and nothing changed" "$(eps) $($CTL status | grep -c PAUSED)" "1 1 0"
# Hostile clients against the daemon's API while /hs/status is measured (hostile_clients.py);
# the attacks with a body carry the token, so they reach the registration parser.
HOSTILE_AUTH="Bearer $TOKEN" HOSTILE_PATH=/hs/register python3 "$SRC/tests/integration/hostile_clients.py" \
  127.0.0.1 "$DPORT" GET /hs/status - slowloris:2000 big_header many_fields big_body bad_chunked \
  truncated_json invalid_utf8 connect_flood >"$T/daemon.attacks" 2>"$T/daemon.attacks.err"
declare -A WANT=([slowloris]=408 [big_header]=431 [many_fields]=431 [big_body]=413 [bad_chunked]=400
  [truncated_json]=400 [invalid_utf8]=400 [connect_flood]=closed)
check_eq "every attack on the daemon ran" "$(wc -l <"$T/daemon.attacks")" "8"
while IFS=$'\t' read -r attack out served slowest; do
  echo "# heteroscaled $attack: attacker got $out; ordinary $served, slowest $slowest s"
  check_eq "heteroscaled, $attack: the attacker gets ${WANT[$attack]}" "$out" "${WANT[$attack]}"
  check_eq "heteroscaled, $attack: /hs/status served meanwhile" "$served" "20/20"
done <"$T/daemon.attacks"
check_eq "  ... and the registrations are as they were" "$(eps)" "1 1"
$CTL --token-file "$T/token" pause >/dev/null
paused_explained() { $CTL explain chat | grep -q "(paused)"; }
wait_until 30 paused_explained
check_contains "hs-ctl pause: status says PAUSED" "$($CTL status)" "PAUSED"
check_contains "  ... explain names it" "$($CTL explain chat)" "(paused)"
$CTL --token-file "$T/token" resume >/dev/null
deciding() { $CTL explain chat | grep -q "stage coordinate"; }
wait_until 30 deciding
check_not_contains "hs-ctl resume" "$($CTL status)" "PAUSED"
check_contains "hs-ctl explain shows every stage's reason" "$($CTL explain chat)" "stage coordinate"
check_contains "/metrics of the daemon" "$(curl -s "http://127.0.0.1:$DPORT/metrics")" 'hs_scaler_current_instances{service="chat",group="g1",role="decode"} 1'

# Watch Slurm while the load runs: per second, running tasks per (group, role) and node.
watch_slurm() {
  while :; do
    echo "T $(date +%s.%N)"
    squeue -h -t R -o '%i %k %N' 2>/dev/null
    sleep 0.5
  done >"$T/squeue.log"
}
watch_slurm &
WPID=$!
PIDS+=($WPID)

# ---- 1. Load step up
"$B/router/hs-loadgen" --trace "$SRC/tests/data/traces/mooncake_conversation_first1500.jsonl" \
  --duration 120 --time-scale $K --url "http://127.0.0.1:$RPORT" --out "$T/lg" --no-progress \
  --ttft-slo 30 --tbt-slo 1 2>"$T/lg.err" &
LG=$!
wait $LG
check_rc "loadgen finishes" $? 0
sleep 1
grows=$(grep -c "action throttle service=chat" "$T/d.err")
echo "# throttle actions during the load: $grows"
# ---- 2. Load gone: drains then cancels
for _ in $(seq 90); do
  [ "$(squeue -h -t R,CG -o %i | wc -l)" -le 4 ] && break  # chat's 2 and batch's 2
  sleep 1
done
kill $WPID 2>/dev/null
python3 - "$T" "$AP" "$AD" <<'PY' >"$T/checks"
import json, re, sys, csv, collections
T, ap, ad = sys.argv[1:4]
log = open(T + "/d.err").read().splitlines()
# Throttle writes per tick: the actions of one tick are logged in one batch; group by second.
acts = [l for l in log if " action throttle " in l and " done in " in l]
print("throttle_actions", len(acts))
# Scale-out: every prefill growth has a decode growth to the same count in the same batch.
batches = collections.defaultdict(list)
for l in acts:
    ts = l.split()[0][:19]
    m = re.search(r"group=(\S+) role=(\S+) array=\d+ throttle=(\d+)", l)
    batches[ts].append((m.group(1), m.group(2), int(m.group(3))))
lockstep = all(sorted(x[2] for x in b if x[1] == "prefill") == sorted(x[2] for x in b if x[1] == "decode") for b in batches.values())
print("lockstep", lockstep)
subs = [l for l in log if "submitted array" in l]
print("submits", len(subs))
print("opened_leaf2", sum(1 for l in subs if 'constraint="leaf2"' in l))
# Where tasks ran, per group: every group's tasks under one leaf.
leaf = {"node1": "leaf1", "node2": "leaf1", "node3": "leaf2", "node4": "leaf2"}
where = collections.defaultdict(set)
maxrun = collections.Counter()
cur = collections.Counter()
for l in open(T + "/squeue.log"):
    if l.startswith("T "):
        for k, v in cur.items(): maxrun[k] = max(maxrun[k], v)
        cur = collections.Counter(); continue
    m = re.search(r"role=(\S+) group=(\S+)", l)
    if not m: continue
    node = l.split()[-1]
    where[m.group(2)].add(leaf.get(node, node))
    cur[(m.group(2), m.group(1))] += 1
print("groups", " ".join(f"{g}:{','.join(sorted(v))}" for g, v in sorted(where.items())))
print("max_running", " ".join(f"{g}/{r}={n}" for (g, r), n in sorted(maxrun.items())))
drains = [l for l in log if " action drain " in l and " done in " in l]
cancels = [l for l in log if " action cancel " in l and " done in " in l]
print("drains", len(drains), "cancels", len(cancels))
rows = list(csv.DictReader(open(T + "/lg/requests.csv")))
holdable = [r for r in rows if int(r["prompt_tokens"]) + int(r["wanted_tokens"]) <= 131072]
print("requests", len(rows), "failed", sum(1 for r in holdable if r["outcome"] != "ok"))
PY
cat "$T/checks"
val() { awk -v k="$1" '$1==k {print $2}' "$T/checks"; }
check_eq "throttle writes of both roles in the same tick, to the same count" "$(val lockstep)" "True"
[ "$(val throttle_actions)" -ge 2 ] && check_eq "the load step raised the throttles" ok ok || check_eq "the load step raised the throttles" "$(val throttle_actions)" ">=2"
check_contains "group g1 stayed under leaf1" "$(grep '^groups' "$T/checks")" "g1:leaf1 "
check_eq "a second group opened under leaf2 when leaf1 was full" "$(val opened_leaf2)" "2"
check_contains "group g2 ran under leaf2 only" "$(grep '^groups' "$T/checks")" "g2:leaf2"
check_contains "g1 grew to 4 prefill and 4 decode" "$(grep '^max_running' "$T/checks")" "g1/decode=4 g1/prefill=4"
[ "$(val drains)" -ge 1 ] && [ "$(awk '$1=="drains" {print $4}' "$T/checks")" -ge 1 ] &&
  check_eq "scale-in drained, then cancelled" ok ok || check_eq "scale-in drained, then cancelled" "$(grep ^drains "$T/checks")" "drains>=1 cancels>=1"
check_eq "no request failed at the router" "$(awk '$1=="requests" {print $4}' "$T/checks")" "0"
left=$(squeue -h -t R -o '%k' | sort | uniq -c | awk '{print $1, $4}' | tr '\n' ' ')
check_eq "back to the minimum: 1 prefill and 1 decode running" "$(squeue -h -t R -o '%k' | grep -c 'service=chat role=prefill') $(squeue -h -t R -o '%k' | grep -c 'service=chat role=decode')" "1 1"
check_eq "the closed group g2 starts nothing any more" "$(squeue -h -o '%k' | grep -c 'group=g2')" "0"
# 3. The run's recording (every tick's Slurm records, registrations, metric windows, clock)
#    replays through hs-sim's Controller to the same actions, tick for tick.
kill -TERM "$DPID" 2>/dev/null
wait "$DPID" 2>/dev/null
rp=$("$B/sim/hs-sim" replay "$T/rec" 2>&1)
echo "$rp" | head -20
check_contains "the recording replays through hs-sim to the identical action list" "$rp" ": identical"
n=$(echo "$rp" | sed -n 's/^replayed [0-9]* ticks, \([0-9]*\) actions.*/\1/p')
[ "${n:-0}" -ge 4 ] && check_eq "the replayed ticks carried the run's actions" ok ok ||
  check_eq "the replayed ticks carried the run's actions" "${n:-none}" ">=4"
# The comparison can fail: with a smaller scale-out step (for a deficit-sized increase too)
# the same inputs give other actions. The YAML is a JSON string there: "\\n" is its newline.
cp -r "$T/rec" "$T/rec2"
sed -i 's/max_step_out_units: 4/max_step_out_units: 1\\n      deficit_step_fraction: 0/' "$T/rec2/header.json"
rp2=$("$B/sim/hs-sim" replay "$T/rec2" 2>&1)
check_rc "a changed configuration replays to other actions (exit 1)" $? 1
check_contains "and names the first tick that differs" "$rp2" "differs"
finish
