#!/bin/bash
# srun latency with and without the heteroscale SPANK plugin, in one run on one loopback
# cluster, interleaved (plugstack.conf is re-read by every srun), plus the cluster's start
# and stop times. Numbers only. Usage: bench_spank_srun.sh PLUGIN.so DATA_DIR [ROUNDS]
set -euo pipefail
PLUGIN=$(realpath "$1")
DATA=$(realpath "$2")
ROUNDS=${3:-40}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
D=$(mktemp -d /tmp/hs_bench_srun.XXXXXX)
trap 'bash "$ROOT/scripts/cluster.sh" down "$D" >/dev/null 2>&1; rm -rf "$D"' EXIT
mkdir -p "$D/topo"
cp "$DATA/topo/thishost-2core-4xh100-2mlx5-derived.xml" "$D/topo/node1.xml"
printf '0 0000:23:00.0\n1 0000:13:00.0\n2 0000:24:00.0\n3 0000:14:00.0\n' >"$D/topo/node1.gpumap"
WITH="required $PLUGIN topology_xml=$D/topo/%n.xml gpu_map=$D/topo/%n.gpumap"

now() { date +%s%N; }
ms() { echo "scale=1; ($2 - $1) / 1000000" | bc; }
starts=() stops=()
for i in 1 2 3; do
  t0=$(now); bash "$ROOT/scripts/cluster.sh" up "$D" --nodes 4 >/dev/null; t1=$(now)
  starts+=("$(ms "$t0" "$t1")")
  if [ "$i" -lt 3 ]; then
    t0=$(now); bash "$ROOT/scripts/cluster.sh" down "$D" >/dev/null; t1=$(now)
    stops+=("$(ms "$t0" "$t1")")
  fi
done
export SLURM_CONF="$D/etc/slurm.conf"
cd "$D/jobs"
srun -w node1 true  # warm up
with=() without=()
for ((r = 0; r < ROUNDS; r++)); do
  echo "$WITH" >"$D/etc/plugstack.conf"
  t0=$(now); srun -w node1 --gres=gpu:h100:1 true; t1=$(now); with+=("$(ms "$t0" "$t1")")
  : >"$D/etc/plugstack.conf"
  t0=$(now); srun -w node1 --gres=gpu:h100:1 true; t1=$(now); without+=("$(ms "$t0" "$t1")")
done
t0=$(now); bash "$ROOT/scripts/cluster.sh" down "$D" >/dev/null; t1=$(now); stops+=("$(ms "$t0" "$t1")")

pct() {  # pct P values...
  local p=$1; shift
  printf '%s\n' "$@" | sort -n | awk -v p="$p" '{a[NR]=$1} END {i=int((NR-1)*p/100)+1; print a[i]}'
}
echo "cluster start (4 nodes, until all idle), ms: ${starts[*]}"
echo "cluster stop (all daemons exited), ms:      ${stops[*]}"
w50=$(pct 50 "${with[@]}"); o50=$(pct 50 "${without[@]}")
printf 'srun --gres=gpu:h100:1 true, %d rounds each, interleaved:\n' "$ROUNDS"
printf '  without plugin: p50 %s ms  p90 %s ms\n' "$o50" "$(pct 90 "${without[@]}")"
printf '  with plugin:    p50 %s ms  p90 %s ms\n' "$w50" "$(pct 90 "${with[@]}")"
printf '  added at p50:   %s ms (goal <= 5 ms)\n' "$(echo "$w50 - $o50" | bc)"
