#!/bin/bash
# heteroscaled's restart safety and failure handling on the real loopback cluster, run as an
# unprivileged account that owns the serving arrays (here `nobody`), as in production. The
# wanted size comes from an exact schedule in the config, changed with SIGHUP, so each step is
# deterministic:
#  1. a bad config at start is refused with every error; on SIGHUP a bad one is refused and
#     the running config stays;
#  2. kill -9 right after the first throttle write of a scale-out (the other role not yet
#     written), restart: the ratio is repaired, nothing written twice;
#  3. kill -9 right after the first drain mark of a scale-in, restart: the other role's excess
#     is marked, both drain and are cancelled; no orphan task;
#  4. kill -9 right after a continuation-array submit (the array has no pending index left),
#     restart: one continuation array per role, no duplicate;
#  4b. kill -9 right after the first cancel of a scale-in: the other drained task is
#     cancelled, the cancelled one not again;
#  4c. kill -9 right after the first revival (mark cleared) of a scale-out that revives
#     draining tasks: the other is revived too, no cold task starts;
#  4d. kill -9 between the prefill and the decode submission of a new deployment group:
#     the restarted daemon submits the decode array only, the group runs under its leaf;
#  4e. kill -9 right after the first array cancel of a rollback (a group whose tasks pend past
#     start_timeout): the other array is cancelled too;
# Every section starts only once the previous one is quiet: per array, the running serving
# tasks equal the throttle, nothing pends to start, no drain mark, and the daemon's last
# decision is hold with no action (quiet(), waited for on Slurm's state, never on time).
#  5. slurmctld stopped for 30 s: the API stays up, the daemon holds (no scale action, clear
#     log lines) and acts again when slurmctld is back;
#  6. an engine killed with SIGKILL: the router stops using it and Slurm's throttle starts a
#     replacement that registers;
#  7. an admin drains the node of the prefill task: a successor starts on another node of the
#     leaf, registers, then the old task drains and is cancelled; never fewer than 1 serving.
# Usage: heteroscaled_restart_test.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
B=$1 SRC=$2
source "$SRC/scripts/lib/testlib.sh"
hs_setup restart-test 1777
U=nobody
DPID=
hs_on_exit '[ -n "$DPID" ] && kill -9 $DPID 2>/dev/null'
hs_cluster_up "$T/cluster" --nodes 8 --leaves 2
DPORT=$(free_port_base 1)
# setpriv execs (runuser would stay as a parent and take our signals).
as_user() { setpriv --reuid=$U --regid=nogroup --clear-groups env SLURM_CONF="$SLURM_CONF" "$@"; }

config() {  # UNITS [extra top-level yaml]
  cat >"$T/hs.yaml.new" <<YAML
services:
  - name: chat
    variants:
      - {name: h100-l40s, prefill_gpu: h100, decode_gpu: l40s, ratio: "1:1", decode_tps_per_instance: 1000}
    bounds: {min_prefill: 1, max_prefill: 4, min_decode: 1, max_decode: 4}
    schedule: [{at: "00:00", units: $1}]
    schedule_mode: exact
    scaling: {window_s: 4, stale_after_s: 4, out_cooldown_s: 0, in_cooldown_s: 0,
              in_stabilization_s: 0, soft_scale_in_grace_s: ${GRACE:-1}, max_step_in_fraction: 1.0,
              start_timeout_s: ${START_TIMEOUT:-600}}
daemon:
  listen: 127.0.0.1:$DPORT
  tick_s: 0.5
  heartbeat_timeout_s: 10
  drain_timeout_s: 30
  topology_conf: $T/cluster/etc/topology.conf
  templates:
    chat:
      prefill_script: $SRC/slurm-conf/examples/chat-prefill.sbatch
      decode_script: $SRC/slurm-conf/examples/chat-decode.sbatch
      array_size: 8
      work_dir: $T
      output: $T/job-%A_%a.out
      environment: [HS_BIN=$B/launcher, HS_HOST=127.0.0.1, "HS_SCALER=http://127.0.0.1:$DPORT", HS_HEARTBEAT=1]
${2:-}
YAML
  chmod 644 "$T/hs.yaml.new"
  mv "$T/hs.yaml.new" "$T/hs.yaml"
}
N=0
start_daemon() {  # [CRASH_POINT]
  N=$((N + 1))
  # Not through as_user: $! must be the daemon itself, not a subshell.
  setpriv --reuid=$U --regid=nogroup --clear-groups env SLURM_CONF="$SLURM_CONF" \
    HS_TEST_CRASH_AT="${1:-}" "$B/scaler/heteroscaled" --config "$T/hs.yaml" >"$T/d$N.out" 2>"$T/d$N.err" &
  DPID=$!
  wait_until 60 test -s "$T/d$N.out"
}
wait_dead() { wait_until 60 bash -c "! kill -0 $1 2>/dev/null"; }
crash_start() {  # POINT: starts the daemon with that crash point and waits for the crash
  start_daemon "$1"
  wait_until 120 grep -q "test crash point $1: SIGKILL" "$T/d$N.err"
  wait_dead $DPID
  check_contains "crash point $1 reached" "$(cat "$T/d$N.err")" "test crash point $1"
}
# "P D": RUNNING tasks per role, not draining.
running() {
  echo "$(squeue -h -t R -o '%k' | grep 'role=prefill' | grep -vc 'drain=') $(squeue -h -t R -o '%k' | grep 'role=decode' | grep -vc 'drain=')"
}
# Throttles: "prefill=N decode=M" summed over arrays.
# Tasks in an ArrayTaskId spec ("2-7%2", "1,3"), for the scontrol readers below.
COUNT_TASKS_PY='def count(spec):
    n = 0
    for part in spec.split("%")[0].split(","):
        a, _, b = part.partition("-")
        n += int(b) - int(a) + 1 if b else 1
    return n
'
# Per role, the sum over arrays of the throttle each array can still honour: min(throttle,
# its running + pending tasks). An array whose indices are used up (arrays cannot grow past
# their last index) keeps its throttle while the rest runs in a continuation array, so raw
# throttles over-count by design; which array runs out first depends on how many tasks were
# revived and replaced, i.e. on the machine's timing (the loaded-machine failures "prefill=4").
throttles() {
  scontrol -o show job 2>/dev/null | python3 -c "$COUNT_TASKS_PY"'
import sys, re
arr = {"prefill": {}, "decode": {}}
for l in sys.stdin:
    m = re.search(r"ArrayJobId=(\d+)", l); th = re.search(r"ArrayTaskThrottle=(\d+)", l); r = re.search(r"role=(\w+)", l)
    st = re.search(r"JobState=(\w+)", l).group(1)
    if not (m and r) or st not in ("RUNNING", "PENDING"): continue
    a = arr[r.group(1)].setdefault(m.group(1), {"throttle": 0, "live": 0})
    if th: a["throttle"] = int(th.group(1))
    if st == "RUNNING": a["live"] += 1
    else:
        ids = re.search(r"ArrayTaskId=(\S+)", l)
        a["live"] += count(ids.group(1)) if ids else 1
tot = {k: sum(min(a["throttle"], a["live"]) for a in v.values()) for k, v in arr.items()}
print(" ".join("%s=%d" % (k, n) for k, n in tot.items()))'
}
arrays() {  # number of distinct arrays per role with live tasks
  scontrol -o show job 2>/dev/null | python3 -c '
import sys, re
a = {"prefill": set(), "decode": set()}
for l in sys.stdin:
    m = re.search(r"ArrayJobId=(\d+)", l); r = re.search(r"role=(\w+)", l); st = re.search(r"JobState=(\w+)", l).group(1)
    if m and r and st in ("RUNNING", "PENDING"): a[r.group(1)].add(m.group(1))
print(len(a["prefill"]), len(a["decode"]))'
}
# Quiet: every array's serving tasks equal its throttle (or all it can still start), nothing
# pends to start or is completing, no drain or replace mark, and the daemon holds.
quiet_state() {
  scontrol -o show job 2>/dev/null | python3 -c "$COUNT_TASKS_PY"'
import re, sys
arrays = {}
bad = []
for l in sys.stdin:
    m = re.search(r"ArrayJobId=(\d+)", l)
    if not m or "heteroscale/v1" not in l: continue
    st = re.search(r"JobState=(\w+)", l).group(1)
    reason = re.search(r"Reason=(\S+)", l).group(1)
    a = arrays.setdefault(m.group(1), {"throttle": 0, "running": 0, "pending": 0})
    th = re.search(r"ArrayTaskThrottle=(\d+)", l)
    if th: a["throttle"] = int(th.group(1))
    marked = " drain=" in l or " replace=" in l
    if st == "RUNNING" and marked: bad.append("marked " + re.search(r"JobId=(\d+)", l).group(1))
    elif st == "RUNNING": a["running"] += 1
    elif st == "PENDING" and reason != "JobArrayTaskLimit": bad.append("pending " + m.group(1) + " " + reason)
    elif st == "PENDING": a["pending"] += count(re.search(r"ArrayTaskId=(\S+)", l).group(1))
    elif st in ("COMPLETING", "CONFIGURING"): bad.append(st.lower() + " " + m.group(1))
for i, a in arrays.items():
    want = min(a["throttle"], a["running"] + a["pending"]) if a["throttle"] else a["running"]
    if a["running"] != want: bad.append("array %s: %d running, throttle %d" % (i, a["running"], a["throttle"]))
print("; ".join(bad) if bad else "quiet")'
}
# The daemon holds with nothing to do: no action, and not because instances are still
# starting or registering (every running serving task is in its endpoint set).
daemon_holds() {
  local serving
  serving=$(squeue -h -t R -o '%k' | grep 'heteroscale/v1' | grep -vc 'drain=')
  curl -sf "http://127.0.0.1:$DPORT/hs/status" | python3 -c '
import json, sys, urllib.request
s = json.load(sys.stdin)
eps = json.load(urllib.request.urlopen(sys.argv[1], timeout=5))
def holds(x):
    d = x.get("decision", {})
    stages = {st["stage"]: st["reason"] for st in d.get("stages", [])}
    return not x["actions"] and d.get("direction") == "hold" and not stages.get("in_flight", "").startswith("hold")
ok = s["slurm"] == "ok" and s["services"] and all(holds(x) for x in s["services"])
sys.exit(0 if ok and sum(1 for e in eps if not e["draining"]) == int(sys.argv[2]) else 1)' \
    "http://127.0.0.1:$DPORT/hs/endpoints?service=chat" "$serving"
}
quiet() { [ "$(quiet_state)" == quiet ] && daemon_holds; }
wait_quiet() {  # SECONDS: waits for quiet; reports what is not quiet when it times out
  if ! wait_until "$1" quiet; then echo "       not quiet after $1 s: $(quiet_state)"; return 1; fi
}

wait_for() {  # SECONDS CMD WANT
  local s=$1 want=$3
  for _ in $(seq $((s * 5))); do [ "$($2)" == "$want" ] && return 0; sleep 0.2; done
  return 1
}

# ---- 1. Bad configuration
config 1 "bogus_key: 1"
sed -i 's/ratio: "1:1"/ratio: "1:x"/; s/listen: 127.0.0.1:.*/listen: nowhere/' "$T/hs.yaml"
out=$("$B/scaler/heteroscaled" --config "$T/hs.yaml" 2>&1); rc=$?
check_rc "a bad config at start is refused" $rc 2
check_contains "  ... naming the ratio's line and field" "$out" "hs.yaml:4:"
check_contains "  ... and the bad listen address" "$out" "daemon.listen: expected HOST:PORT"
check_contains "  ... and the unknown top-level key" "$out" "bogus_key: unknown key"

config 1
start_daemon
check_eq "heteroscaled runs as $U and listens" "$(head -1 "$T/d$N.out") $(ps -o user= -p $DPID)" "$DPORT $U"
submit() {  # ROLE GPU
  HS_SUBMIT_USER=$U hs_submit_pool chat "$1" g1 h100-l40s "$SRC/slurm-conf/examples/chat-$1.sbatch" \
    --array=0-3%1 --gres=gpu:$2:1 --constraint=leaf1 \
    --export=ALL,HS_GROUP=g1,HS_BIN=$B/launcher,HS_HOST=127.0.0.1,HS_SCALER=http://127.0.0.1:$DPORT,HS_HEARTBEAT=1 \
    -o "$T/job-%A_%a.out" -D "$T"
}
AP=$(submit prefill h100)
AD=$(submit decode l40s)
wait_quiet 60
check_eq "the arrays run 1 prefill + 1 decode" "$(running)" "1 1"
echo "nonsense: [" >>"$T/hs.yaml"
kill -HUP $DPID
wait_until 30 grep -q "new configuration refused" "$T/d$N.err"
check_contains "SIGHUP with a bad config: refused, named" "$(cat "$T/d$N.err")" "new configuration refused, the running one stays in force"
check_eq "  ... and the daemon still serves its status" "$("$B/scaler/hs-ctl" --url "http://127.0.0.1:$DPORT" status | head -1)" "slurm: ok"

# ---- 2. Crash right after the first throttle write of a scale-out
kill -9 $DPID; wait_dead $DPID
config 3
crash_start after-throttle
check_eq "  ... the prefill throttle was written, the decode one not" "$(throttles)" "prefill=3 decode=1"
start_daemon
wait_quiet 90
check_eq "restart repairs the ratio: 3 prefill + 3 decode running" "$(running)" "3 3"
check_eq "  ... the decode throttle written once, the prefill one not again" \
  "$(grep -c 'action throttle.*role=decode.*throttle=3.* done' "$T/d$N.err") $(grep -c 'action throttle.*role=prefill.* done' "$T/d$N.err")" "1 0"

# ---- 3. Crash right after the first drain mark of a scale-in
kill -9 $DPID; wait_dead $DPID
config 2
crash_start after-drain-mark
check_eq "  ... both throttles lowered before the mark" "$(throttles)" "prefill=2 decode=2"
check_eq "  ... one task marked draining in Slurm" "$(squeue -h -t R -o '%k' | grep -c 'drain=')" "1"
start_daemon
wait_quiet 90
check_eq "restart: the other role's excess is marked, both drain and are cancelled" "$(running) $(squeue -h -t R -o '%k' | grep -c 'drain=')" "2 2 0"
check_eq "  ... no orphan: running tasks = throttles" "$(throttles)" "prefill=2 decode=2"

# ---- 4. Crash right after a continuation-array submit (0-3: indices 0..2 used, one left)
kill -9 $DPID; wait_dead $DPID
config 4
crash_start after-submit
start_daemon
wait_quiet 90
check_eq "restart: 4 prefill + 4 decode running" "$(running)" "4 4"
check_eq "  ... one continuation array per role, none duplicated" "$(arrays)" "2 2"
check_eq "  ... the restarted daemon submitted only the missing role's array" "$(grep -c 'submitted array' "$T/d$N.err")" "1"

# ---- 4b. Crash right after the first cancel of a scale-in
kill -9 $DPID; wait_dead $DPID
config 3
crash_start after-cancel
gone=$(grep -o 'action cancel service=chat .* task=[^ ]*' "$T/d$N.err" | tail -1 | grep -o 'task=[^ ]*')
check_eq "  ... a cancel took effect before the crash" "$([ -n "$gone" ] && echo yes)" "yes"
start_daemon
wait_quiet 120
check_eq "restart: the scale-in completes: 3 + 3 running, throttles equal" "$(running) $(throttles)" "3 3 prefill=3 decode=3"
check_eq "  ... and what was cancelled is not cancelled again" "$(grep -F "action cancel service=chat" "$T/d$N.err" | grep -cF "$gone ")" "0"

# ---- 4c. Crash right after the first revival of draining tasks
kill -9 $DPID; wait_dead $DPID
GRACE=60 config 2
start_daemon
draining2() { [ "$(squeue -h -t R -o '%k' | grep -c 'drain=')" == 2 ]; }
wait_until 60 draining2
check_eq "scale-in with a long grace: one task of each role drains" "$(squeue -h -t R -o '%k' | grep -c 'drain=')" "2"
before=$(squeue -h -t R -o '%i' | sort | tr '\n' ' ')
kill -9 $DPID; wait_dead $DPID
GRACE=60 config 3
crash_start after-undrain
revived=$(grep -o 'action undrain service=chat .* task=[^ ]*' "$T/d$N.err" | tail -1 | grep -o 'task=[^ ]*')
start_daemon
wait_quiet 90
check_eq "restart: both revived, 3 + 3 serving" "$(running) $(throttles)" "3 3 prefill=3 decode=3"
check_eq "  ... the same tasks serve: no cold task started" "$(squeue -h -t R -o '%i' | sort | tr '\n' ' ')" "$before"
check_eq "  ... the revived one not revived again" "$(grep -F "action undrain service=chat" "$T/d$N.err" | grep -cF "$revived ")" "0"

# ---- 4d. Crash between the prefill and the decode submission of a new group
kill -9 $DPID; wait_dead $DPID
# Fill leaf1's free H100s (8 there, 3 used by prefill) so the next unit needs another leaf.
BLOCK=$(sbatch --parsable --array=0-4 --gres=gpu:h100:1 --constraint=leaf1 -o /dev/null --wrap 'sleep 900')
blocked() { [ "$(squeue -h -t R -j "$BLOCK" -o %i | wc -l)" == 5 ]; }
wait_until 60 blocked
config 4
crash_start between-group-submits
check_contains "  ... after the prefill array of a new group under leaf2" "$(grep 'submitted array' "$T/d$N.err")" "role=prefill"
start_daemon
wait_quiet 90
check_eq "restart: 4 + 4 running" "$(running)" "4 4"
check_eq "  ... the restarted daemon submitted the decode array of that group only" \
  "$(grep 'submitted array' "$T/d$N.err" | grep -c 'role=decode') $(grep -c 'submitted array' "$T/d$N.err")" "1 1"
g2_nodes=$(squeue -h -t R -o '%N %k' | awk '/group=g2/ {print $1}' | sort -u | tr '\n' ' ')
check_eq "  ... the new group runs one prefill and one decode, under leaf2 only" \
  "$(squeue -h -t R -o '%k' | grep -c 'group=g2') $(echo "$g2_nodes" | grep -cE 'node[1-4]( |$)')" "2 0"
scancel "$BLOCK"

# ---- 4e. Crash right after the first array cancel of a rollback
# Down to 3 units first, so that the stuck group's unit keeps the service inside its bounds.
config 3
kill -HUP $DPID
is_running() { [ "$(running)" == "$1" ]; }
wait_until 120 is_running "3 3"
wait_quiet 120
check_eq "down to 3 + 3 before the stuck group" "$(running)" "3 3"
kill -9 $DPID; wait_dead $DPID
START_TIMEOUT=5 config 3
for r in prefill:h100 decode:l40s; do
  HS_SUBMIT_USER=$U hs_submit_pool chat "${r%:*}" g3 h100-l40s "$SRC/slurm-conf/examples/chat-${r%:*}.sbatch" \
    --array=0-3%1 --gres=gpu:${r#*:}:1 --constraint=leaf2 --begin=now+3600 \
    -o /dev/null -D "$T" >/dev/null
done
crash_start after-cancel-array
check_contains "crash point after-cancel-array reached (a group pending past start_timeout)" "$(cat "$T/d$N.err")" "rollback: pending past start_timeout"
check_eq "  ... one of its arrays cancelled, one left" "$(squeue -h -o '%k' | grep 'group=g3' | grep -o 'role=[a-z]*' | sort -u | wc -l)" "1"
start_daemon
no_g3() { [ "$(squeue -h -o '%k' | grep -c 'group=g3')" == 0 ]; }
wait_until 60 no_g3
check_eq "restart: the other array of the group is cancelled too" "$(squeue -h -o '%k' | grep -c 'group=g3')" "0"
check_eq "  ... by one cancel of the restarted daemon, nothing submitted for it" \
  "$(grep -c 'action cancel-array .* done' "$T/d$N.err") $(grep -c 'submitted array' "$T/d$N.err")" "1 0"
kill -9 $DPID; wait_dead $DPID
config 4
start_daemon
wait_quiet 90
check_eq "  ... and the service is quiet at 4 + 4" "$(running)" "4 4"

# ---- 5. slurmctld down for 30 s
neps() { curl -s "http://127.0.0.1:$DPORT/hs/endpoints?service=chat" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
wait_for 30 neps 8
CTLD=$(cat "$T/cluster/run/slurmctld.pid")
kill -TERM "$CTLD"; wait_dead "$CTLD"
config 1
kill -HUP $DPID
t0=$(date +%s)
wait_until 30 grep -q "cannot read Slurm state" "$T/d$N.err"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$DPORT/healthz")
eps=$(neps)
check_eq "slurmctld down: the API answers and the endpoint set stays" "$code $eps" "200 8"
sleep $((30 - ($(date +%s) - t0)))
check_contains "  ... a clear log line says it holds" "$(cat "$T/d$N.err")" "holding: no scale actions until it answers"
# The SIGHUP may land before the daemon has seen the outage: then the first write of that
# tick's batch fails and the rest is dropped. Nothing may succeed until slurmctld is back.
down_log=$(sed -n '/cannot read Slurm state/,$p' "$T/d$N.err")
check_eq "  ... no scale action succeeded while it was down" "$(grep ' action ' <<<"$down_log" | grep -c ' done in ')" "0"
check_eq "  ... at most one write attempted (then the batch is dropped)" \
  "$(grep -c ' action .* failed' "$T/d$N.err" | awk '{print ($1 <= 1) ? "yes" : $1}')" "yes"
slurmctld -f "$SLURM_CONF"
wait_for 60 running "1 1"
check_contains "slurmctld back: the daemon says so" "$(cat "$T/d$N.err")" "slurmctld answers again"
check_eq "  ... and scales in to the new schedule" "$(running)" "1 1"

# ---- 6. An engine killed with SIGKILL
few_jobs() { [ "$(squeue -h -o %i | wc -l)" -le 4 ]; }
wait_until 60 few_jobs
dec=$(curl -s "http://127.0.0.1:$DPORT/hs/endpoints?service=chat" | python3 -c 'import json,sys; print([e["url"] for e in json.load(sys.stdin) if e["role"]=="decode"][0])')
port=${dec##*:}
epid=$(pgrep -f "hs-engine-sim .*--port $port" | head -1)
[ -n "$epid" ] || epid=$(ss -Htlnp "sport = :$port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
kill -9 "$epid"
dec_gone() { ! curl -s "http://127.0.0.1:$DPORT/hs/endpoints?service=chat" | grep -q "\"$dec\""; }
gone=no
wait_until 60 dec_gone && gone=yes
check_eq "SIGKILLed engine leaves the endpoint set" "$gone" "yes"
decodes() { curl -s "http://127.0.0.1:$DPORT/hs/endpoints?service=chat" | python3 -c 'import json,sys; print(" ".join(e["url"] for e in json.load(sys.stdin) if e["role"]=="decode"))'; }
replaced() { local n; n=$(decodes); [ -n "$n" ] && [ "$n" != "$dec" ]; }
wait_until 60 replaced
new=$(decodes)
check_eq "  ... and a replacement decode registers" "$([ -n "$new" ] && [ "$new" != "$dec" ] && echo yes)" "yes"
check_eq "  ... running 1 + 1 again" "$(running)" "1 1"

# ---- 7. Node drained for maintenance
old=$(squeue -h -t R -o '%i %N %k' | awk '/role=prefill/ {print $1, $2}')
old_task=${old% *} old_node=${old#* }
scontrol update nodename="$old_node" state=drain reason=maintenance
min_serving=9
for _ in $(seq 150); do
  s=$(curl -s "http://127.0.0.1:$DPORT/hs/endpoints?service=chat" | python3 -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin) if e["role"]=="prefill" and not e["draining"]))')
  [ "$s" -lt "$min_serving" ] && min_serving=$s
  squeue -h -o %i | grep -qx "$old_task" || break
  sleep 0.2
done
new=$(squeue -h -t R -o '%i %N %k' | awk '/role=prefill/ {print $1, $2}')
check_eq "drained node: the old prefill task is gone" "$(squeue -h -o %i | grep -cx "$old_task")" "0"
check_eq "  ... its successor runs on another node" "$([ -n "$new" ] && [ "${new#* }" != "$old_node" ] && echo yes)" "yes"
check_eq "  ... never fewer than 1 serving prefill in the endpoint set" "$min_serving" "1"
check_contains "  ... the log names why" "$(cat "$T/d$N.err")" "is drained, failing or down"
check_eq "  ... and only that task was replaced (not after slurmctld's restart)" "$(grep -c 'replaced: its successor' "$T/d$N.err")" "1"
scontrol update nodename="$old_node" state=resume
finish
