#!/bin/bash
# The SPANK plugin on a real loopback Slurm cluster (scripts/cluster.sh): plans against real
# hwloc exports, a binding really applied on this machine, user-set variables ignored,
# GPU-less jobs untouched, bad plugstack arguments reported without harm.
# Usage: spank_plugin_test.sh PLUGIN.so HS_TOPO DATA_DIR
set -uo pipefail
PLUGIN=$(realpath "$1")
HS_TOPO=$(realpath "$2")
DATA=$(realpath "$3")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/scripts/lib/testlib.sh"
hs_setup spank-test 700
D=$T/c  # the cluster's directory
mkdir -p "$D"
TOPO="$DATA/topo"

# Each fake node gets a real export and a GPU index map whose order is not PCI order.
mkdir -p "$D/topo"
cp "$TOPO/thishost-2core-4xh100-2mlx5-derived.xml" "$D/topo/node1.xml"
printf '0 0000:23:00.0\n1 0000:13:00.0\n2 0000:24:00.0\n3 0000:14:00.0\n' >"$D/topo/node1.gpumap"
cp "$TOPO/dell-xe8640-2s-snc4-4xh100-4mlx5-pciesw.xml" "$D/topo/node2.xml"
printf '0 0000:5f:00.0\n1 0000:4e:00.0\n2 0000:db:00.0\n3 0000:cb:00.0\n' >"$D/topo/node2.gpumap"
cp "$TOPO/amd-epyc-2s-8xmi50-1mlx5-pciesw.xml" "$D/topo/node3.xml"
printf '0 0000:03:00.0\n1 0000:27:00.0\n2 0000:83:00.0\n3 0000:a3:00.0\n' >"$D/topo/node3.gpumap"
cp "$TOPO/ibm-ac922-power9-2s-4xv100-4mlx5.xml" "$D/topo/node4.xml"
printf '0 0004:04:00.0\n1 0004:05:00.0\n2 0035:03:00.0\n3 0035:04:00.0\n' >"$D/topo/node4.gpumap"
# Sections 1-8 pin every GPU task and let heteroscale's NIC choice win (the old defaults);
# section 9 checks the shipped defaults: only tasks that ask are touched.
GOOD="required $PLUGIN topology_xml=$D/topo/%n.xml gpu_map=$D/topo/%n.gpumap default_pin=all nic_env=overwrite"

hs_cluster_up "$D" --nodes 4 --plugstack "$GOOD"
cd "$D/jobs"
ALLOWED=$(grep Cpus_allowed_list /proc/self/status | awk '{print $2}')
REPORT='echo "gpus=$SLURM_STEP_GPUS role=${HS_ROLE-} cpus=${HS_CPUS-} numa=${HS_NUMA_NODE-} nic=${HS_NIC-} bus=${HS_GPU_PCI_BUS_ID-} nccl=${NCCL_IB_HCA-} ucx=${UCX_NET_DEVICES-} order=${CUDA_DEVICE_ORDER-} allowed=$(grep Cpus_allowed_list /proc/self/status | cut -f2)"'

# expected NODE_XML BUS_ID: the plan hs-topo computes for that GPU, given this machine's
# allowed CPUs (a task inherits them under TaskPlugin=task/none).
expected() {
  "$HS_TOPO" --xml "$1" --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
g = [g for g in d['gpus'] if g['pci_bus_id'] == '$2'][0]
def ids(s):
    out = set()
    for p in filter(None, s.split(',')):
        a, _, b = p.partition('-'); out |= set(range(int(a), int(b or a) + 1))
    return out
def fmt(s):
    s = sorted(s); out = []; i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[j] + 1: j += 1
        out.append(str(s[i]) if i == j else f'{s[i]}-{s[j]}'); i = j + 1
    return ','.join(out)
print('cpus=%s numa=%s nic=%s' % (fmt(ids(g['cpuset']) & ids('$ALLOWED')), ','.join(map(str, g['numa_nodes'])), g['nics'][0]['name']))
"
}
field() { grep -o "$2=[^ ]*" <<<"$1" | head -1; }

# 1. The plan equals hs-topo's for that GPU on two real exports.
out=$(srun -w node3 --gres=gpu:h100:1 --hs-role=prefill bash -c "$REPORT" 2>&1)
check_contains "AMD EPYC node: role exported" "$out" "role=prefill"
want=$(expected "$D/topo/node3.xml" 0000:03:00.0)
check_eq "AMD EPYC node: plan = hs-topo (cpus, numa, nic)" "$(field "$out" cpus) $(field "$out" numa) $(field "$out" nic)" "$want"
check_contains "AMD EPYC node: GPU index 0 mapped to its bus id" "$out" "bus=0000:03:00.0"
out=$(srun -w node2 --gres=gpu:l40s:1 bash -c "$REPORT" 2>&1)
want=$(expected "$D/topo/node2.xml" 0000:5f:00.0)
check_eq "SNC4 H100 node: plan = hs-topo (its CPUs are not on this host: none)" "$(field "$out" cpus) $(field "$out" numa) $(field "$out" nic)" "$want"
check_contains "SNC4 H100 node: exact-match NCCL_IB_HCA" "$out" "nccl==mlx5_2:1"
check_contains "SNC4 H100 node: UCX_NET_DEVICES" "$out" "ucx=mlx5_2:1"
check_contains "SNC4 H100 node: CUDA_DEVICE_ORDER" "$out" "order=PCI_BUS_ID"
check_contains "SNC4 H100 node: CPUs stay within the allocation" "$out" "allowed=$ALLOWED"

# 2. The binding is really applied where the CPUs exist (derived fixture of this machine).
out=$(srun -w node1 --gres=gpu:h100:1 bash -c "$REPORT" 2>&1)
check_contains "this host, GPU 0 (near core 1): plan" "$out" "cpus=1 numa=0 nic=mlx5_1"
check_contains "this host, GPU 0: Cpus_allowed_list = plan" "$out" "allowed=1"
out=$(srun -w node1 --gres=gpu:h100:2 bash -c "$REPORT; grep -m1 -oE 'prefer[^ ]*|bind[^ ]*|default' /proc/self/numa_maps" 2>&1)
check_contains "tensor-parallel task: cores near both GPUs" "$out" "cpus=0-1"
check_contains "tensor-parallel task: both NICs, exact match" "$out" "nccl==mlx5_1:1,mlx5_0:1"
check_contains "auto mode: memory preferred on the GPUs' NUMA node" "$out" "prefer:0"
out=$(srun -w node1 --gres=gpu:h100:1 --hs-pin=strict bash -c "grep -m1 -oE 'prefer[^ ]*|bind[^ ]*|default' /proc/self/numa_maps" 2>&1)
check_contains "strict mode: memory bound" "$out" "bind:0"
out=$(srun -w node1 --gres=gpu:h100:1 --hs-pin=off bash -c "$REPORT" 2>&1)
check_contains "--hs-pin=off: untouched" "$out" "cpus= numa= nic= bus= nccl= ucx= order= allowed=$ALLOWED"

# 3. Two array tasks on one node, different GPUs, different correct plans.
sbatch -Q -w node1 --array=0-1 --gres=gpu:h100:1 -o "$D/jobs/arr-%a.out" \
  --wrap "sleep 1; srun --hs-role=decode bash -c '$REPORT'" >/dev/null
two_reports() { [ "$(cat "$D"/jobs/arr-*.out 2>/dev/null | grep -c gpus=)" -eq 2 ]; }
wait_until 60 two_reports
arr=$(cat "$D"/jobs/arr-*.out)
check_contains "array: one task on GPU 0 pinned near it" "$arr" "gpus=0 role=decode cpus=1 numa=0 nic=mlx5_1 bus=0000:23:00.0"
check_contains "array: the other on GPU 1 pinned near it" "$arr" "gpus=1 role=decode cpus=0 numa=0 nic=mlx5_0 bus=0000:13:00.0"
check_contains "array: task 0's binding applied" "$arr" "bus=0000:23:00.0 nccl==mlx5_1:1 ucx=mlx5_1:1 order=PCI_BUS_ID allowed=1"

# 4. What the user sets changes nothing. Both runs must get the same GPU, so the array's
# tasks must have released theirs first: their output is written before the jobs end.
queue_empty() { [ -z "$(squeue -h -o %i)" ]; }
wait_until 60 queue_empty
clean=$(srun -Q -w node1 --gres=gpu:h100:1 bash -c "$REPORT" 2>&1)
dirty=$(CUDA_VISIBLE_DEVICES=3 SLURM_STEP_GPUS=3 SLURM_JOB_GPUS=3 HS_NIC=evil HS_CPUS=0 HS_ROLE=x HS_NUMA_NODE=9 \
  NCCL_IB_HCA=mlx5_9 UCX_NET_DEVICES=mlx5_9:1 SLURMD_NODENAME=node2 \
  srun -Q -w node1 --gres=gpu:h100:1 bash -c "$REPORT" 2>&1)
check_eq "user-set GPU/HS_/NIC variables are overwritten or ignored" "${dirty/role=x/role=}" "$clean"
SLURM_STEP_GPUS=3 sbatch -Q -w node1 --gres=gpu:h100:1 -o "$D/jobs/batch.out" --wrap "echo jobgpus=\$SLURM_JOB_GPUS; $REPORT" >/dev/null
wait_until 60 grep -q allowed= "$D/jobs/batch.out"
b=$(cat "$D/jobs/batch.out")
jg=$(grep -o 'jobgpus=[0-9]*' <<<"$b" | cut -d= -f2)
want_bus=$(awk -v i="$jg" '$1 == i {print $2}' "$D/topo/node1.gpumap")
check_contains "batch step: pins SLURM_JOB_GPUS=$jg through the map, not the user's SLURM_STEP_GPUS=3" "$b" "bus=$want_bus "
[ "$jg" != 3 ] || _hs_bad "batch step: inconclusive, Slurm gave GPU 3 itself"

# 5. A job without GPUs runs exactly as without the plugin.
names() { env -0 | tr '\0' '\n' | cut -d= -f1 | sort | tr '\n' ' '; }
with=$(srun -Q -w node1 bash -c "env | cut -d= -f1 | sort | tr '\n' ' '; grep Cpus_allowed_list /proc/self/status" 2>&1)
echo "" >"$D/etc/plugstack.conf"
without=$(srun -Q -w node1 bash -c "env | cut -d= -f1 | sort | tr '\n' ' '; grep Cpus_allowed_list /proc/self/status" 2>&1)
echo "$GOOD" >"$D/etc/plugstack.conf"
check_eq "GPU-less job: same variables and CPUs with and without the plugin" "$with" "$without"

# 6. Strict mode fails clearly when it cannot pin.
err=$(srun -w node2 --gres=gpu:l40s:1 --hs-pin=strict true 2>&1); rc=$?
check_rc "strict, impossible: task fails" $(( rc != 0 )) 1
check_contains "strict, impossible: says why" "$err" "cannot pin strictly: none of the CPUs near the GPUs"
err=$(srun -w node1 --hs-role=prefil true 2>&1); rc=$?
check_rc "bad --hs-role: srun refuses" $(( rc != 0 )) 1
check_contains "bad --hs-role: names the value" "$err" "expected prefill, decode or both, got \"prefil\""

# 7. A bad plugstack argument: named everywhere, nothing running harmed.
sbatch -Q -w node4 --gres=gpu:l40s:1 -o "$D/jobs/long.out" --wrap "sleep 300" >/dev/null
sbatch -Q -H -w node4 --gres=gpu:l40s:1 -o "$D/jobs/held.out" --wrap "echo started" >/dev/null
node4_runs() { [ "$(squeue -h -t R -w node4 | wc -l)" -ge 1 ]; }
wait_until 60 node4_runs
long=$(squeue -h -t R -w node4 -o %i | head -1)
held=$(squeue -h -t PD -o %i | head -1)
BAD="$GOOD pin_default=strict"
echo "$BAD" >"$D/etc/plugstack.conf"
err=$(srun -w node1 true 2>&1); rc=$?
check_rc "bad argument: srun refuses" $(( rc != 0 )) 1
check_contains "bad argument: srun names it" "$err" "plugstack argument 5 (pin_default): unknown key"
err=$(sbatch -Q --wrap true 2>&1); rc=$?
check_rc "bad argument: sbatch refuses" $(( rc != 0 )) 1
check_contains "bad argument: sbatch names it" "$err" "(pin_default): unknown key"
scontrol release "$held"
wait_until 60 grep -q . "$D/jobs/held.out"
check_contains "bad argument: the job's own error names it" "$(cat "$D/jobs/held.out" 2>/dev/null)" "(pin_default): unknown key"
check_contains "bad argument: slurmd's log names it" "$(cat "$D/log/slurmd-node4.log")" "(pin_default): unknown key"
check_eq "bad argument: the running job still runs" "$(squeue -h -j "$long" -o %T)" "RUNNING"
# Restart node4's slurmd with the bad arguments in place.
slurmd_gone() { ! kill -0 "$(cat "$D/run/slurmd-$1.pid" 2>/dev/null)" 2>/dev/null; }
kill -TERM "$(cat "$D/run/slurmd-node4.pid")"
wait_until 60 slurmd_gone node4
slurmd -f "$SLURM_CONF" -N node4
# Up again: Slurm shows the node serving and the restarted slurmd has logged the plugin's
# verdict on its arguments (what the next checks read).
node4_back() {
  sinfo -h -N -n node4 -o %T | grep -qE 'mixed|allocated|idle' && [ -s "$D/run/slurmd-node4.pid" ] &&
    grep -q 'new job steps will fail' "$D/log/slurmd-node4.log"
}
wait_until 60 node4_back
check_eq "bad argument: restarted slurmd stays up" "$(kill -0 "$(cat "$D/run/slurmd-node4.pid")" 2>/dev/null && echo up)" "up"
check_contains "bad argument: restarted slurmd logs it" "$(grep 'new job steps will fail' "$D/log/slurmd-node4.log")" "(pin_default): unknown key"
check_eq "bad argument: the running job survives the slurmd restart" "$(squeue -h -j "$long" -o %T)" "RUNNING"
echo "$GOOD" >"$D/etc/plugstack.conf"
out=$(srun -w node1 --gres=gpu:h100:1 bash -c "$REPORT" 2>&1)
check_contains "fixed arguments: works again without restarting anything" "$out" "nic=mlx5_1"
scancel "$long"

# 8. Without topology_xml, slurmd's plugin init writes the topology cache (root-owned, 0644)
#    and task launches read it instead of scanning PCI. %n here checks that slurmd's context
#    knows its node name (from its own -N) as the task context does.
CACHED="required $PLUGIN topology_cache=$D/cache/topology-%n.xml gpu_map=$D/topo/%n.gpumap default_pin=all"
echo "$CACHED" >"$D/etc/plugstack.conf"
kill -TERM "$(cat "$D/run/slurmd-node3.pid")"
wait_until 60 slurmd_gone node3
slurmd -f "$SLURM_CONF" -N node3
wait_until 60 test -s "$D/cache/topology-node3.xml"
check_eq "slurmd init wrote the cache, root-owned 0644" "$(stat -c '%U %a' "$D/cache/topology-node3.xml" 2>&1)" "root 644"
node3_back() { sinfo -h -N -n node3 -o %T | grep -qE '^(idle|mixed|allocated)$'; }
wait_until 60 node3_back
srun -w node3 --gres=gpu:h100:1 true >/dev/null 2>&1
check_contains "task launch read the cache" "$(grep 'heteroscale: job' "$D/log/slurmd-node3.log" | tail -1)" "[topology: cache $D/cache/topology-node3.xml]"
echo "$GOOD" >"$D/etc/plugstack.conf"

# 9. The shipped line's defaults (optional, default_pin=off, nic_env=keep): a GPU job that
#    asks for nothing keeps its affinity and its own NIC variables; --hs-pin or --hs-role
#    opt in and are pinned as before, the user's NCCL_IB_HCA kept.
SHIPPED="optional $PLUGIN topology_xml=$D/topo/%n.xml gpu_map=$D/topo/%n.gpumap"
echo "$SHIPPED" >"$D/etc/plugstack.conf"
out=$(NCCL_IB_HCA=mlx5_7 UCX_NET_DEVICES=mlx5_7:1 srun -w node1 --gres=gpu:h100:1 bash -c "$REPORT" 2>&1)
check_contains "shipped line, untagged GPU job: affinity and NIC variables unchanged" "$out" \
  "role= cpus= numa= nic= bus= nccl=mlx5_7 ucx=mlx5_7:1 order= allowed=$ALLOWED"
out=$(srun -w node1 --gres=gpu:h100:1 --hs-pin=auto bash -c "$REPORT" 2>&1)
check_contains "shipped line, --hs-pin=auto: pinned as before" "$out" "cpus=1 numa=0 nic=mlx5_1"
check_contains "shipped line, --hs-pin=auto: binding applied" "$out" "allowed=1"
out=$(NCCL_IB_HCA=mlx5_7 srun -w node1 --gres=gpu:h100:1 --hs-role=decode bash -c "$REPORT" 2>&1)
check_contains "shipped line, --hs-role: pinned (auto)" "$out" "role=decode cpus=1 numa=0 nic=mlx5_1"
check_contains "shipped line, --hs-role: the user's NCCL_IB_HCA kept (nic_env=keep)" "$out" "nccl=mlx5_7 "
echo "$GOOD" >"$D/etc/plugstack.conf"

finish
