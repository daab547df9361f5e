#!/bin/bash
# heteroscale's main demo. Sets up what it needs (apt-get, idempotent), builds, then runs the
# parts that exist on this checkout for real. Today: locality discovery — this machine, real
# GPU servers' hwloc exports, and a real InfiniBand fabric turned into a Slurm topology.conf
# that a real slurmctld accepts. Usage: scripts/demo.sh   (env: HS_BUILD_DIR)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
bash scripts/install-deps.sh
BUILD=${HS_BUILD_DIR:-$ROOT/build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target hs-topo >/dev/null
HS_TOPO="$BUILD/topo/hs-topo"
DATA="$ROOT/tests/data"
OUT=$(mktemp -d /tmp/heteroscale-demo.XXXXXX)

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

step "Outputs"
echo "JSON and topology.conf written to $OUT"
echo "Not yet in this demo (open issues): the loopback Slurm cluster and SPANK pinning, the"
echo "scaling policy, the simulator, the serving path and the heteroscaled loop."
