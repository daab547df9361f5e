#!/bin/bash
# heteroscale's main demo. Sets up what it needs (apt-get, idempotent), builds, then runs the
# parts that exist on this checkout for real: locality discovery (this machine, real GPU
# servers' hwloc exports, a real InfiniBand fabric as a Slurm topology.conf); the SPANK plugin
# pinning tasks on a real loopback Slurm cluster; the simulator comparing heteroscale with
# per-pool HPA and static peak on a real request trace; and the whole loop: heteroscaled
# resizing a service's prefill and decode Slurm job arrays (submitted with plain sbatch) while
# hs-loadgen replays a compressed day of real load through hs-router to simulated engines that
# hs-launch starts as array tasks. Stops everything it started, also on Ctrl-C. Usage: scripts/demo.sh   (env: HS_BUILD_DIR)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
source "$ROOT/scripts/lib/testlib.sh"  # free_port_base, start_server, hs_tag, hs_submit_pool
bash scripts/install-deps.sh
BUILD=${HS_BUILD_DIR:-$ROOT/build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target hs-topo spank_heteroscale hs-sim hs-engine-sim hs-router hs-loadgen \
  hs-launch heteroscaled hs-ctl >/dev/null
HS_TOPO="$BUILD/topo/hs-topo"
DATA="$ROOT/tests/data"
OUT=$(mktemp -d /tmp/heteroscale-demo.XXXXXX)
CLUSTER="$OUT/cluster"
PIDS=()
cleanup() {
  # Never stop half way: some processes may be gone already (kill then fails).
  set +e
  [ ${#PIDS[@]} -gt 0 ] && kill "${PIDS[@]}" 2>/dev/null
  [ -d "$CLUSTER/etc" ] && bash "$ROOT/scripts/cluster.sh" down "$CLUSTER" >/dev/null 2>&1
  return 0
}
trap cleanup EXIT
trap 'echo; echo "interrupted: stopping what the demo started"; exit 130' INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "This machine, as the SPANK plugin and the scaler will see it (hs-topo)"
"$HS_TOPO"

step "Real GPU servers (hwloc exports): each GPU's CPUs, NUMA node and nearest RDMA NIC"
for f in dell-xe8640-2s-snc4-4xh100-4mlx5-pciesw.xml intel-2s-2xp100-1mlx5-pciesw.xml \
  amd-epyc-2s-8xmi50-1mlx5-pciesw.xml ibm-ac922-power9-2s-4xv100-4mlx5.xml; do
  "$HS_TOPO" --xml "$DATA/topo/$f" --json >"$OUT/${f%.xml}.json"
  python3 - "$OUT/${f%.xml}.json" "$f" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"{sys.argv[2]}: {d['cores']} cores, {len(d['numa_nodes'])} NUMA nodes, {len(d['gpus'])} GPUs, {len(d['nics'])} NICs")
for g in d['gpus']:
    near = g['nics'][0] if g['nics'] else None
    nic = f"{near['name']} ({near['path']})" if near else "none"
    print(f"   GPU {g['index']} {g['pci_bus_id']} {g['model'][:28]:<28} NUMA {g['numa_nodes']} CPUs {g['cpuset']:<18} nearest NIC {nic}")
PY
done

step "A real 89-HCA InfiniBand fabric (ibnetdiscover capture) as a Slurm topology.conf"
F="$DATA/fabric"
"$HS_TOPO" fabric --ibnetdiscover "$F/psmn-x5_ibnetdiscover.txt" --node-map "$F/psmn-x5_guid2host.map" \
  --emit-topology-conf | tee "$OUT/topology.conf"
echo
for pair in "sl390lin1 sl390lin2" "sl390lin1 r422node1" "r422node1 r815lin104"; do
  "$HS_TOPO" fabric --topology-conf "$OUT/topology.conf" --distance $pair
done
echo
echo "Leaf switch domains (where a deployment group's prefill and decode can stay together):"
"$HS_TOPO" fabric --topology-conf "$OUT/topology.conf" --domains 0 | awk -F: '{n=split($2,a," "); printf "   %-20s %3d nodes\n", $1, n}'

step "The SPANK plugin pins each task near its GPU, on a real 4-node Slurm cluster on loopback"
mkdir -p "$CLUSTER/topo"
# node1's topology: this machine's own export with GPUs and NICs added under each core (so the
# binding can really be applied here); Slurm's GPU index order deliberately differs from PCI order.
cp "$DATA/topo/thishost-2core-4xh100-2mlx5-derived.xml" "$CLUSTER/topo/node1.xml"
printf '0 0000:23:00.0\n1 0000:13:00.0\n2 0000:24:00.0\n3 0000:14:00.0\n' >"$CLUSTER/topo/node1.gpumap"
cp "$DATA/topo/dell-xe8640-2s-snc4-4xh100-4mlx5-pciesw.xml" "$CLUSTER/topo/node2.xml"
printf '0 0000:5f:00.0\n1 0000:4e:00.0\n2 0000:db:00.0\n3 0000:cb:00.0\n' >"$CLUSTER/topo/node2.gpumap"
for n in 3 4; do cp "$CLUSTER/topo/node1.xml" "$CLUSTER/topo/node$n.xml"; cp "$CLUSTER/topo/node1.gpumap" "$CLUSTER/topo/node$n.gpumap"; done
bash "$ROOT/scripts/cluster.sh" up "$CLUSTER" --nodes 4 \
  --plugstack "optional $BUILD/plugin/spank_heteroscale.so topology_xml=$CLUSTER/topo/%n.xml gpu_map=$CLUSTER/topo/%n.gpumap"
export SLURM_CONF="$CLUSTER/etc/slurm.conf"
sinfo -N -o '%N %T %G %f'
SHOW='printf "  task on %s, Slurm GPU %s = %s: CPUs %s, NUMA %s, NIC %s, NCCL_IB_HCA=%s, role %s\n" "$SLURMD_NODENAME" "$SLURM_STEP_GPUS" "$HS_GPU_PCI_BUS_ID" "$(grep Cpus_allowed_list /proc/self/status | cut -f2)" "$HS_NUMA_NODE" "$HS_NIC" "$NCCL_IB_HCA" "$HS_ROLE"'
echo "\$ srun -w node1 --gres=gpu:h100:1 --hs-role=prefill ...   (a GPU near core 1)"
(cd "$CLUSTER/jobs" && srun -w node1 --gres=gpu:h100:1 --hs-role=prefill bash -c "$SHOW")
echo "\$ srun -w node1 --gres=gpu:h100:2 --hs-role=decode ...    (tensor parallel: two GPUs, both cores, both NICs)"
(cd "$CLUSTER/jobs" && srun -w node1 --gres=gpu:h100:2 --hs-role=decode bash -c "$SHOW")
echo "\$ srun -w node2 --gres=gpu:l40s:1 ...   (a Dell XE8640 export: its CPUs do not exist here, NIC and NUMA still chosen)"
(cd "$CLUSTER/jobs" && srun -w node2 --gres=gpu:l40s:1 bash -c "$SHOW")
echo "Plugin log lines (slurmd's log):"
grep -h "heteroscale: job" "$CLUSTER"/log/slurmd-node*.log | sed 's/^/  /' | cut -c1-220
bash "$ROOT/scripts/cluster.sh" down "$CLUSTER"

step "The scaling policy in simulation: heteroscale vs per-pool HPA vs static peak, real Azure 2023 code trace x4"
"$BUILD/sim/hs-sim" compare --trace "$DATA/traces/azure2023_AzureLLMInferenceTrace_code.csv" --rate-scale 4 --out "$OUT/sim" --no-progress
echo "plots: $OUT/sim/plot-heteroscale.png (load, instances per role, TTFT/TBT p99 over time) and the others"
echo "every decision with its per-stage reasons: $OUT/sim/decisions.log; e.g."
grep -m2 "decision=scale_" "$OUT/sim/decisions.log" | cut -c1-400 | sed 's/^/  /'

step "The whole loop: heteroscaled resizing prefill and decode Slurm arrays under a day of real load"
L="$OUT/loop"
mkdir -p "$L"
chmod 755 "$OUT" "$L"
# The plugin as a site loads it (the shipped line's defaults: optional, only tasks that ask
# are pinned), so the pools' --hs-role is accepted.
bash "$ROOT/scripts/cluster.sh" up "$CLUSTER" --nodes 6 --leaves 2 \
  --plugstack "optional $BUILD/plugin/spank_heteroscale.so topology_cache=$CLUSTER/topology-%n.xml"
export SLURM_CONF="$CLUSTER/etc/slurm.conf"
sinfo -N -o '  %N %T %G %f'
DPORT=$(free_port_base 1)
head -c 24 /dev/urandom | base64 >"$L/token"
chmod 600 "$L/token"
# The load: one real day's arrival-rate shape (ServeGen, shipped in scripts/demo-data) over
# 4 minutes, request lengths from the real Azure 2023 code trace (tests/data).
python3 "$ROOT/scripts/lib/diurnal_trace.py" "$ROOT/scripts/demo-data/servegen-m-large-day1-rate.csv" \
  "$DATA/traces/azure2023_AzureLLMInferenceTrace_code.csv" 240 12 "$L/trace.jsonl" | sed 's/^/  load: /'
cat >"$L/heteroscale.yaml" <<YAML
# The demo's service. decode_tps_per_instance is set low on purpose: simulated engines at 10x
# are far faster than this load needs, and the point is to watch 1..6 units follow the day.
services:
  - name: chat
    variants:
      - {name: h100-l40s, prefill_gpu: h100, decode_gpu: l40s, ratio: "1:1", decode_tps_per_instance: 45}
    slo: {ttft_s: 2.0, tbt_s: 0.1, percentile: 0.99}
    bounds: {min_prefill: 1, max_prefill: 6, min_decode: 1, max_decode: 6}
    affinity: leaf
    scaling: {window_s: 10, stale_after_s: 10, out_cooldown_s: 3, in_cooldown_s: 10,
              in_stabilization_s: 15, soft_scale_in_grace_s: 3, start_timeout_s: 60}
daemon:
  listen: 127.0.0.1:$DPORT
  token_file: $L/token
  tick_s: 1
  heartbeat_timeout_s: 10
  drain_timeout_s: 60
  topology_conf: $CLUSTER/etc/topology.conf
  routers: {chat: ["http://127.0.0.1:@RPORT@"]}
  templates:
    chat:
      prefill_script: $ROOT/slurm-conf/examples/chat-prefill.sbatch
      decode_script: $ROOT/slurm-conf/examples/chat-decode.sbatch
      array_size: 32
      work_dir: $L
      output: $L/job-%A_%a.out
      environment: [HS_BIN=$BUILD/launcher, HS_HOST=127.0.0.1, "HS_SCALER=http://127.0.0.1:$DPORT",
                    HS_HEARTBEAT=2, HS_SIM_SCALE=10, HS_TOKEN_FILE=$L/token]
YAML
start_server router "$L" "$BUILD/router/hs-router" --scaler "http://127.0.0.1:$DPORT/hs/endpoints?service=chat" --health-interval 0.5
RP=$PORT
sed -i "s/@RPORT@/$RP/" "$L/heteroscale.yaml"
start_server daemon "$L" "$BUILD/scaler/heteroscaled" --config "$L/heteroscale.yaml"
echo "heteroscaled on 127.0.0.1:$DPORT (config $L/heteroscale.yaml), hs-router on 127.0.0.1:$RP"
echo "The operator submits the service's two pools with plain sbatch (slurm-conf/examples/):"
for r in prefill:h100 decode:l40s; do
  role=${r%:*} gpu=${r#*:}
  echo "  \$ sbatch --array=0-31%1 --gres=gpu:$gpu:1 --constraint=leaf1 --comment=\"$(hs_tag chat "$role" g1 h100-l40s)\" ... chat-$role.sbatch"
  echo "    -> array $(hs_submit_pool chat "$role" g1 h100-l40s "$ROOT/slurm-conf/examples/chat-$role.sbatch" \
    --array=0-31%1 --gres=gpu:$gpu:1 --constraint=leaf1 --hs-role=$role -D "$L" -o "$L/job-%A_%a.out" \
    --export=ALL,HS_GROUP=g1,HS_BIN=$BUILD/launcher,HS_HOST=127.0.0.1,HS_SCALER=http://127.0.0.1:$DPORT,HS_HEARTBEAT=2,HS_SIM_SCALE=10,HS_TOKEN_FILE=$L/token)"
done
# The router is ready once a group has a healthy prefill and decode.
wait_until 120 curl -sf "http://127.0.0.1:$RP/ready" || echo "  (the router is not ready after 120 s; see $L/router.err)"
squeue -o '  %.10i %.8T %.8N %k' | cut -c1-120
echo
echo "Replaying the day (4 minutes). One line per 4 s: elapsed, offered load, decode tokens/s (the"
echo "signal), instances per deployment group (prefill/decode), TTFT and TBT p99 at the router:"
rm -f "$L/stop"
python3 "$ROOT/scripts/lib/demo_monitor.py" "http://127.0.0.1:$DPORT" "http://127.0.0.1:$RP" chat 4 "$L/timeline.csv" "$L/stop" &
MON=$!
PIDS+=($MON)
"$BUILD/router/hs-loadgen" --trace "$L/trace.jsonl" --url "http://127.0.0.1:$RP" --out "$L/loadgen" \
  --no-progress --ttft-slo 2 --tbt-slo 0.1 2>"$L/loadgen.log" || true
# The evening's scale-in: drains, then cancels, back to one prefill and one decode.
at_minimum() { [ "$(squeue -h -t R,CG -o %i | wc -l)" -le 2 ]; }
wait_until 90 at_minimum || true
touch "$L/stop"
wait $MON 2>/dev/null || true
echo
"$BUILD/scaler/hs-ctl" --url "http://127.0.0.1:$DPORT" explain chat | head -16 | cut -c1-160
python3 - "$L/loadgen/summary.json" "$L/timeline.csv" <<'PY'
import csv, json, sys
s = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2])))
gpu_s, peak, prev = 0.0, 0, 0.0
for r in rows:
    t, n = float(r["t_s"]), int(r["prefill"]) + int(r["decode"])
    gpu_s += n * (t - prev)
    peak, prev = max(peak, n), t
static = peak * prev
print("Summary of this run:")
print(f"  requests: {s['requests']}, outcomes {s['outcomes']}, lost (failed): {s['outcomes'].get('failed', 0)}")
print(f"  SLO attainment (TTFT <= {s['slo']['ttft_s']} s and mean TBT <= {s['slo']['tbt_mean_s']*1000:.0f} ms): {100*s['goodput_fraction']:.1f}%")
print(f"  GPU time: {gpu_s/3600:.3f} GPU-hours autoscaled vs {static/3600:.3f} at static peak ({peak} GPUs) over the same {prev:.0f} s: {100*(1-gpu_s/static) if static else 0:.0f}% saved")
PY
if command -v gnuplot >/dev/null; then
  gnuplot <<GP
set terminal pngcairo size 1100,900
set output "$L/loop.png"
set datafile separator ","
set multiplot layout 3,1 title "heteroscale on a loopback Slurm cluster: a compressed day of load"
set ylabel "req/s"; set key left top
plot "$L/timeline.csv" using 1:2 skip 1 with lines lw 2 title "offered load (router)"
set ylabel "instances"
plot "$L/timeline.csv" using 1:4 skip 1 with steps lw 2 title "prefill", "" using 1:5 skip 1 with steps lw 2 title "decode"
set ylabel "seconds"; set xlabel "elapsed (s)"; set logscale y
plot "$L/timeline.csv" using 1:6 skip 1 with lines title "TTFT p99", "" using 1:7 skip 1 with lines title "TBT p99"
unset multiplot
GP
  echo "  plot: $L/loop.png"
fi
echo "  logs: daemon $L/daemon.err, router $L/router.err, engines $L/job-*.out, Slurm $CLUSTER/log/"
kill "${PIDS[@]}" 2>/dev/null
wait "${PIDS[@]}" 2>/dev/null || true
PIDS=()
bash "$ROOT/scripts/cluster.sh" down "$CLUSTER"

step "Outputs"
echo "Everything the demo wrote is in $OUT (topology JSON and topology.conf, cluster logs,"
echo "simulation, and the loop's timeline, plot and logs in $OUT/loop)."
