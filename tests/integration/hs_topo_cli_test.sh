#!/bin/bash
# hs-topo as a user runs it: on this machine, on the real fixtures, on the real fabric
# capture, and on bad input. Usage: hs_topo_cli_test.sh HS_TOPO_BINARY DATA_DIR
set -uo pipefail
HS_TOPO=$1
DATA=$2
source "$(dirname "$0")/../../scripts/lib/testlib.sh"
hs_setup topo-cli 700
TMP=$T
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

# --- this machine: GPU-less and RDMA-less here; counts checked against /sys, not hwloc.
"$HS_TOPO" --json >"$TMP/live.json" 2>"$TMP/live.err"
check_rc "live: exit 0" $? 0
online_cpus=$(python3 - <<'PY'
import re
s=open('/sys/devices/system/cpu/online').read().strip(); n=0
for part in s.split(','):
    a,_,b=part.partition('-'); n+= (int(b) if b else int(a)) - int(a) + 1
print(n)
PY
)
cores=$(for c in /sys/devices/system/cpu/cpu[0-9]*/topology; do echo "$(cat $c/physical_package_id) $(cat $c/core_id)"; done | sort -u | wc -l)
numa=$(ls -d /sys/devices/system/node/node[0-9]* 2>/dev/null | wc -l)
[ "$numa" -eq 0 ] && numa=1   # kernels without NUMA support: hwloc reports one node
check_eq "live: PUs = online CPUs in /sys" "$(json "$TMP/live.json" "d['pus']")" "$online_cpus"
check_eq "live: cores = distinct (package, core_id) in /sys" "$(json "$TMP/live.json" "d['cores']")" "$cores"
check_eq "live: NUMA nodes = /sys/devices/system/node" "$(json "$TMP/live.json" "len(d['numa_nodes'])")" "$numa"
check_eq "live: cpuset = /sys online list" "$(json "$TMP/live.json" "d['cpuset']")" "$(cat /sys/devices/system/cpu/online)"
if ! ls /sys/class/infiniband/* >/dev/null 2>&1; then
  check_eq "live: zero NICs without an RDMA stack" "$(json "$TMP/live.json" "len(d['nics'])")" "0"
  check_contains "live: one info line about the RDMA stack" "$(cat "$TMP/live.err")" "info: no RDMA"
fi
if ! ls /proc/driver/nvidia/gpus/* >/dev/null 2>&1 && ! ls /dev/kfd >/dev/null 2>&1; then
  check_eq "live: zero GPUs on a GPU-less machine" "$(json "$TMP/live.json" "len(d['gpus'])")" "0"
fi
out=$("$HS_TOPO" 2>&1)
check_rc "live text: exit 0" $? 0
check_contains "live text: says GPUs" "$out" "0 GPU(s)"

# --- a fixture through the CLI, JSON fields as documented.
"$HS_TOPO" --xml "$DATA/topo/dell-xe8640-2s-snc4-4xh100-4mlx5-pciesw.xml" --json >"$TMP/dell.json"
check_rc "xml: exit 0" $? 0
check_eq "xml: GPU 1 bus id" "$(json "$TMP/dell.json" "d['gpus'][1]['pci_bus_id']")" "0000:5f:00.0"
check_eq "xml: GPU 1 NUMA" "$(json "$TMP/dell.json" "d['gpus'][1]['numa_nodes']")" "[1]"
check_eq "xml: GPU 1 cpuset list syntax" "$(json "$TMP/dell.json" "d['gpus'][1]['cpuset']")" "14-27,126-139"
check_eq "xml: GPU 1 nearest NIC" "$(json "$TMP/dell.json" "d['gpus'][1]['nics'][0]")" "{'name': 'mlx5_2', 'path': 'PIX'}"
check_eq "xml: NIC list" "$(json "$TMP/dell.json" "[n['name'] for n in d['nics']]")" "['mlx5_0', 'mlx5_1', 'mlx5_2', 'mlx5_3']"

# --- export and reload this machine's view.
"$HS_TOPO" --export-xml "$TMP/me.xml" 2>/dev/null
check_rc "export-xml: exit 0" $? 0
"$HS_TOPO" --xml "$TMP/me.xml" --json >"$TMP/me.json"
check_eq "export-xml: reload has the same PUs" "$(json "$TMP/me.json" "d['pus']")" "$online_cpus"

# --- fabric.
F="$DATA/fabric"
conf=$("$HS_TOPO" fabric --ibnetdiscover "$F/psmn-x5_ibnetdiscover.txt" --node-map "$F/psmn-x5_guid2host.map" --emit-topology-conf)
check_rc "fabric emit: exit 0" $? 0
check_contains "fabric emit: a leaf with compressed nodes" "$conf" "SwitchName=S-0008f105002036b4 Nodes=sl390lin[101-124]"
check_contains "fabric emit: the top switch" "$conf" "SwitchName=S-0008f105001086a2 Switches=S-0008f1050010851e,S-0008f10500108530"
d=$("$HS_TOPO" fabric --topology-conf "$F/psmn-x5_topology.conf" --distance sl390lin1 r422node1)
check_eq "fabric distance (published conf)" "$d" "sl390lin1 <-> r422node1: same_spine (level 1) via S-0008f10500108c5c S-0008f10500108098"
d=$("$HS_TOPO" fabric --topology-conf "$F/psmn-x5_topology.conf" --distance sl390lin1 sl390lin2 --json)
check_contains "fabric distance json" "$d" '"tier": "same_leaf"'
dom=$("$HS_TOPO" fabric --topology-conf "$F/psmn-x5_topology.conf" --domains 0 | wc -l)
check_eq "fabric domains at level 0" "$dom" "6"

# --- help and usage errors (exit 2), bad input (exit 1, naming file and line).
out=$("$HS_TOPO" --help); check_rc "help: exit 0" $? 0
check_contains "help: --xml documented" "$out" "--xml FILE"
out=$("$HS_TOPO" fabric --help); check_rc "fabric help: exit 0" $? 0
check_contains "fabric help: --distance documented" "$out" "--distance NODE_A NODE_B"
"$HS_TOPO" --bogus >/dev/null 2>&1; check_rc "unknown option: exit 2" $? 2
"$HS_TOPO" fabric --topology-conf a --ibnetdiscover b >/dev/null 2>&1; check_rc "two fabric sources: exit 2" $? 2
"$HS_TOPO" fabric --topology-conf "$F/psmn-x5_topology.conf" --distance a >/dev/null 2>&1; check_rc "--distance with one node: exit 2" $? 2
head -c 20000 "$DATA/topo/intel-2s-2xp100-1mlx5-pciesw.xml" >"$TMP/cut.xml"
err=$("$HS_TOPO" --xml "$TMP/cut.xml" 2>&1); rc=$?
check_rc "truncated xml: exit 1" $rc 1
check_contains "truncated xml: names file and line" "$err" "$TMP/cut.xml:"
check_contains "truncated xml: says truncated" "$err" "truncated"
printf 'SwitchName=l1 Nodes=n1\nSwitchName=s1 Switches=l1,l2 Colour=blue\n' >"$TMP/bad.conf"
err=$("$HS_TOPO" fabric --topology-conf "$TMP/bad.conf" 2>&1); rc=$?
check_rc "bad topology.conf: exit 1" $rc 1
check_contains "bad topology.conf: unknown key with line:col" "$err" "$TMP/bad.conf:2:30: unknown key \"Colour\""
err=$("$HS_TOPO" fabric --ibnetdiscover "$F/psmn-x5_topology.conf" 2>&1); rc=$?
check_rc "not ibnetdiscover: exit 1" $rc 1
check_contains "not ibnetdiscover: says so" "$err" "not ibnetdiscover output"
err=$("$HS_TOPO" fabric --topology-conf "$F/psmn-x5_topology.conf" --distance sl390lin1 nosuchnode 2>&1); rc=$?
check_rc "unknown node: exit 1" $rc 1
check_contains "unknown node: named" "$err" "\"nosuchnode\" is not in fabric"

finish
