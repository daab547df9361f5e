#!/bin/bash
# The admin guide's runnable examples (```sh blocks in docs/admin-guide.md), extracted and run
# in order against a loopback cluster with heteroscaled running. ```sh-hardware blocks are not.
# Usage: admin_guide_test.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
B=$(realpath "$1") SRC=$(realpath "$2")
source "$SRC/scripts/lib/testlib.sh"
hs_setup guide-test
DPID=
hs_on_exit '[ -n "$DPID" ] && kill -9 $DPID 2>/dev/null'
hs_cluster_up "$T/cluster" --nodes 4 --leaves 2
export HS_ETC=$T/etc HS_EXAMPLES=$SRC/slurm-conf/examples HS_BIN=$B/launcher
export IB_CAPTURE=$SRC/tests/data/fabric/psmn-x5_ibnetdiscover.txt IB_MAP=$SRC/tests/data/fabric/psmn-x5_guid2host.map
export HS_PORT=$(free_port_base 1)
export PATH=$B/topo:$B/scaler:$B/launcher:$B/router:$B/sim:$PATH
mkdir -p "$HS_ETC"
sed "s/listen: 127.0.0.1:8470/listen: 127.0.0.1:$HS_PORT/" "$SRC/slurm-conf/examples/heteroscale.yaml" >"$HS_ETC/heteroscale.yaml"
heteroscaled --config "$HS_ETC/heteroscale.yaml" >"$T/d.out" 2>"$T/d.err" &
DPID=$!
wait_until 60 test -s "$T/d.out"
python3 - "$SRC/docs/admin-guide.md" "$T/blocks" <<'PY'
import sys, re, os
text = open(sys.argv[1]).read()
os.makedirs(sys.argv[2], exist_ok=True)
for i, b in enumerate(re.findall(r"```sh\n(.*?)```", text, re.S)):
    open(f"{sys.argv[2]}/{i:02d}.sh", "w").write(b)
PY
n=0
for f in "$T"/blocks/*.sh; do
  n=$((n + 1))
  out=$(cd "$T" && bash -e -o pipefail "$f" 2>&1); rc=$?
  check_rc "admin guide example $(basename "$f" .sh): $(head -1 "$f" | cut -c1-70)" $rc 0
  [ $rc -eq 0 ] || echo "$out" | head -5
done
check_eq "the guide has runnable examples" "$([ $n -ge 5 ] && echo yes)" "yes"
# The status is what the last tick published: wait for a tick after the first Slurm read.
wait_until 60 sh -c "hs-ctl --url http://127.0.0.1:$HS_PORT status | grep -q 'slurm: ok'"
check_contains "the pools it submitted are seen by the daemon" "$(hs-ctl --url http://127.0.0.1:$HS_PORT status)" "slurm: ok"
finish
