#!/bin/bash
# The .deb: builds it with cpack, checks its contents and dependencies, unpacks it into a
# temporary root (dpkg-deb -x), verifies the systemd unit offline, runs the unpacked binaries,
# and loads the unpacked SPANK plugin in a loopback Slurm cluster.
# Usage: package_test.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
B=$1 SRC=$2
source "$SRC/scripts/lib/testlib.sh"
hs_setup package-test
(cd "$B" && cpack -G DEB -B "$T/pkg" >"$T/cpack.log" 2>&1)
check_rc "cpack builds the .deb" $? 0
DEB=$(ls "$T"/pkg/heteroscale_*_amd64.deb 2>/dev/null | head -1)
[ -n "$DEB" ] || { cat "$T/cpack.log"; finish; exit 1; }
files=$(dpkg-deb -c "$DEB" | awk '{print $6}')
for f in ./usr/sbin/heteroscaled ./usr/bin/hs-ctl ./usr/bin/hs-launch ./usr/bin/hs-router ./usr/bin/hs-loadgen \
  ./usr/bin/hs-topo ./usr/bin/hs-sim ./usr/bin/hs-engine-sim ./usr/lib/x86_64-linux-gnu/slurm-wlm/spank_heteroscale.so \
  ./lib/systemd/system/heteroscaled.service ./lib/systemd/system/hs-router@.service \
  ./etc/heteroscale/heteroscale.yaml \
  ./etc/slurm/plugstack.conf.d/heteroscale.conf ./usr/share/doc/heteroscale/examples/chat-prefill.sbatch \
  ./usr/share/man/man8/heteroscaled.8 ./usr/share/man/man1/hs-ctl.1 ./usr/share/man/man5/heteroscale.yaml.5 \
  ./usr/share/doc/heteroscale/grafana/heteroscale-dashboard.json; do
  check_contains "package holds $f" "$files" "$f"
done
info=$(dpkg-deb -I "$DEB")
series=$(dpkg-query -W -f='${Version}' libslurm-dev | grep -oE '^[0-9]+\.[0-9]+')
check_contains "depends on the Slurm release series it was built against" "$info" "slurmd (>= $series)"
check_contains "  ... and not on the next one" "$info" "slurmd (<< "
check_contains "depends on hwloc, ibverbs, yaml-cpp" "$info" "libhwloc15"
check_contains "/etc files are conffiles" "$(dpkg-deb -e "$DEB" "$T/ctl" && cat "$T/ctl/conffiles")" "/etc/heteroscale/heteroscale.yaml"
check_contains "postinst creates the service account" "$(cat "$T/ctl/postinst")" "adduser --system --group"

dpkg-deb -x "$DEB" "$T/root"
# The Slurm library the unpacked daemon loads (libslurm, or libslurmfull through its RPATH
# from 23.11: cmake/Slurm.cmake) resolves, and the package holding it is a dependency.
libs=$(ldd "$T/root/usr/sbin/heteroscaled" 2>&1)
check_rc "ldd reads the unpacked daemon" $? 0
check_eq "the unpacked daemon resolves every library" "$(grep -c 'not found' <<<"$libs")" "0"
slurmlib=$(awk '/libslurm/ {print $3; exit}' <<<"$libs")
owner=$(dpkg -S "$(readlink -f "$slurmlib")" 2>/dev/null | cut -d: -f1 | head -1)
[ -n "$owner" ] || owner=$(dpkg -S "$slurmlib" 2>/dev/null | cut -d: -f1 | head -1)
check_contains "depends on the package of its Slurm library ($slurmlib: ${owner:-none})" "$info" "${owner:-no package owns $slurmlib}"

# Verify offline against the unpacked tree plus what a Debian system always has (the boot
# targets and /bin/kill), so ExecStart= and friends are checked against the package's paths.
# The unit goes where the host's systemd looks under --root: /lib/systemd/system (Debian 12's
# systemd 252) and /usr/lib/systemd/system (Debian 13's 257, which no longer searches /lib).
mkdir -p "$T/vroot/lib/systemd/system" "$T/vroot/usr/lib/systemd/system" "$T/vroot/bin"
cp -a "$T/root/." "$T/vroot/"
cp -a "$T/root/lib/systemd/system/." "$T/vroot/usr/lib/systemd/system/"
for d in lib usr/lib; do cp -a /usr/lib/systemd/system/*.target "$T/vroot/$d/systemd/system/" 2>/dev/null; done
cp /bin/kill "$T/vroot/bin/"
unit=/lib/systemd/system/heteroscaled.service
[ "$(systemd-analyze --version | awk 'NR == 1 {print $2}')" -ge 254 ] && unit=/usr$unit
# --man=no: the unit's man:heteroscaled(8) is checked in the package listing above, not on the host.
out=$(systemd-analyze verify --man=no --root="$T/vroot" "$unit" 2>&1); rc=$?
check_rc "systemd-analyze verify accepts the unit" $rc 0
# It exits 0 on unparseable settings (only warns): no output is the real pass.
check_eq "  ... without a single warning" "$out" ""
# The router's template unit, as an instance (a template alone is not loadable).
runit=/lib/systemd/system/hs-router@chat.service
[ "$(systemd-analyze --version | awk 'NR == 1 {print $2}')" -ge 254 ] && runit=/usr$runit
out=$(systemd-analyze verify --man=no --root="$T/vroot" "$runit" 2>&1); rc=$?
check_rc "systemd-analyze verify accepts hs-router@chat.service" $rc 0
check_eq "  ... without a single warning" "$out" ""
check_contains "  ... and it raises the open-file limit" "$(cat "$T/root/lib/systemd/system/hs-router@.service")" "LimitNOFILE=65536"
check_contains "the unit runs the daemon as the service account, Type=notify" "$(cat "$T/root/lib/systemd/system/heteroscaled.service")" "User=hsserve"
check_eq "the unpacked daemon checks the shipped config" "$("$T/root/usr/sbin/heteroscaled" --config "$T/root/etc/heteroscale/heteroscale.yaml" --check)" \
  "$T/root/etc/heteroscale/heteroscale.yaml: OK (1 services)"
for b in hs-ctl hs-launch hs-router hs-loadgen hs-topo hs-sim hs-engine-sim; do
  "$T/root/usr/bin/$b" --help >/dev/null 2>&1
  check_rc "unpacked $b --help runs" $? 0
done

# The unpacked plugin, with the shipped plugstack line's arguments, in a real cluster.
line=$(grep -v '^#' "$T/root/etc/slurm/plugstack.conf.d/heteroscale.conf" | grep . | sed "s|/usr/lib|$T/root/usr/lib|")
hs_cluster_up "$T/cluster" --nodes 2 --plugstack "$line topology_cache=$T/cluster/topology.xml"
check_contains "srun --help lists the unpacked plugin's option" "$(srun --help 2>&1)" "--hs-role"
got=$(cd "$T/cluster/jobs" && srun -N1 --gres=gpu:h100:1 --hs-role=decode bash -c 'echo "role=$HS_ROLE"' 2>&1)
check_contains "a job runs with the unpacked plugin loaded (the shipped optional line)" "$got" "role=decode"
finish
