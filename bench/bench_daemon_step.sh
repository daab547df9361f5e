#!/bin/bash
# From a step in the wanted size to new instances serving, on a real loopback cluster, in one
# run, against a bare throttle update measured the same way in the same run (Slurm's own
# scheduling share). The step is a schedule change applied with SIGHUP, so the number excludes
# the metric window and stabilization (policy settings, see docs/scaling-policy.md) and covers
# decide -> throttle write -> tasks RUNNING -> hs-launch registered -> in hs-router's set.
# (window_s 2: the policy lets new instances settle for half a window before the next step.)
# Numbers only. Usage: bench_daemon_step.sh BUILD_DIR SOURCE_DIR [ROUNDS]
set -euo pipefail
B=$(realpath "$1") SRC=$(realpath "$2") ROUNDS=${3:-3}
source "$SRC/scripts/lib/testlib.sh"
D=$(mktemp -d /tmp/hs_bench_step.XXXXXX)
chmod 755 "$D"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -9 $p 2>/dev/null; done; bash "$SRC/scripts/cluster.sh" down "$D/c" >/dev/null 2>&1; rm -rf "$D"' EXIT
bash "$SRC/scripts/cluster.sh" up "$D/c" --nodes 4 --leaves 2 >/dev/null
export SLURM_CONF=$D/c/etc/slurm.conf
DPORT=$(free_port_base 1)
config() {
  cat >"$D/hs.yaml.new" <<YAML
services:
  - name: chat
    variants: [{name: v, prefill_gpu: h100, decode_gpu: l40s, ratio: "1:1", decode_tps_per_instance: 1000}]
    bounds: {min_prefill: 1, max_prefill: 4, min_decode: 1, max_decode: 4}
    schedule: [{at: "00:00", units: $1}]
    schedule_mode: exact
    scaling: {window_s: 2, stale_after_s: 2, out_cooldown_s: 0, in_cooldown_s: 0, in_stabilization_s: 0, soft_scale_in_grace_s: 0,
              max_step_in_fraction: 1.0}
daemon: {listen: "127.0.0.1:$DPORT", tick_s: 0.5, drain_timeout_s: 10}
YAML
  mv "$D/hs.yaml.new" "$D/hs.yaml"
}
config 1
"$B/router/hs-router" --scaler "http://127.0.0.1:$DPORT/hs/endpoints?service=chat" --health-interval 0.2 >"$D/r.out" 2>/dev/null &
PIDS+=($!)
"$B/scaler/heteroscaled" --config "$D/hs.yaml" >"$D/d.out" 2>"$D/d.err" &
DPID=$!
PIDS+=($DPID)
for _ in $(seq 100); do [ -s "$D/r.out" ] && [ -s "$D/d.out" ] && break; sleep 0.05; done
RPORT=$(head -1 "$D/r.out")
for r in prefill:h100 decode:l40s; do
  sbatch --parsable --array=0-15%1 --gres=gpu:${r#*:}:1 --constraint=leaf1 -D "$D" -o /dev/null \
    --export=ALL,HS_GROUP=g1,HS_BIN=$B/launcher,HS_HOST=127.0.0.1,HS_SCALER=http://127.0.0.1:$DPORT,HS_HEARTBEAT=1 \
    --comment="heteroscale/v1 service=chat role=${r%:*} group=g1 variant=v" "$SRC/slurm-conf/examples/chat-${r%:*}.sbatch" >/dev/null
done
# A plain array on the other leaf for the baseline.
BASE=$(sbatch --parsable --array=0-15%1 --gres=gpu:h100:1 --constraint=leaf2 -D "$D" -o /dev/null --wrap 'sleep 3600')

now() { date +%s%N; }
running_of() { squeue -h -t R -o '%k' | grep -c "role=$1" || true; }
count_eps() {  # URL -> serving endpoints
  curl -s "$1" | python3 -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin) if not e.get("draining")))' 2>/dev/null || echo 0
}
wait_until() { local want=$1; shift; for _ in $(seq 3000); do [ "$("$@")" == "$want" ] && return 0; sleep 0.02; done; echo "timeout: $* != $want" >&2; return 1; }
wait_until 2 count_eps "http://127.0.0.1:$RPORT/hs/endpoints"
ms() { echo "scale=0; ($2 - $1) / 1000000" | bc; }
printf '%-6s %10s %10s %12s %12s %12s\n' round bare_ms throttle_ms running_ms registered_ms router_ms
for i in $(seq 1 "$ROUNDS"); do
  # Baseline: a bare throttle raise to RUNNING.
  t0=$(now); scontrol update JobId="$BASE" ArrayTaskThrottle=$((i + 1))
  wait_until $((i + 1)) bash -c "squeue -h -t R -j $BASE -o %i | wc -l"
  tb=$(now)
  # The step: i units -> i+1.
  lines=$(grep -c 'action throttle' "$D/d.err" || true)
  config $((i + 1)); t0s=$(now); kill -HUP $DPID
  wait_until $((lines + 2)) bash -c "grep -c 'action throttle' $D/d.err"
  tt=$(now)
  wait_until "$((i + 1)) $((i + 1))" bash -c "echo \$(squeue -h -t R -o %k | grep -c role=prefill) \$(squeue -h -t R -o %k | grep -c role=decode)"
  tr=$(now)
  wait_until $((2 * i + 2)) count_eps "http://127.0.0.1:$DPORT/hs/endpoints?service=chat"
  tg=$(now)
  wait_until $((2 * i + 2)) count_eps "http://127.0.0.1:$RPORT/hs/endpoints"
  tq=$(now)
  printf '%-6s %10s %10s %12s %12s %12s\n' "$i" "$(ms "$t0" "$tb")" "$(ms "$t0s" "$tt")" "$(ms "$t0s" "$tr")" "$(ms "$t0s" "$tg")" "$(ms "$t0s" "$tq")"
done
echo "(throttle: SIGHUP to both throttle writes logged; running: both new tasks RUNNING; registered: in heteroscaled's endpoint set; router: in hs-router's set. bare: scontrol throttle raise to RUNNING on a plain array.)"
