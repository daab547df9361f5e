#!/bin/bash
# The Debian 13 (trixie) root for the Slurm 24.11 leg: made with debootstrap from Debian's
# archive (no other source of packages), kept outside the clone under $HS_ROOT_CACHE (default
# /var/cache/heteroscale), keyed by a hash of its package list, and reused (one at a time).
# Debian 13's packages are used only inside that root.
#
#   trixie_root.sh path            print the root's directory, making it first if needed
#   trixie_root.sh run DIR CMD...  run CMD inside the root with /proc, /sys and /dev mounted
#                                  and the directories in HS_ROOT_BINDS ("src:dst ...") bound
#
# `run` mounts inside a private mount namespace (unshare -m): the mounts end with the command,
# on success, failure or a kill, and never show on the host.
set -euo pipefail
CACHE=${HS_ROOT_CACHE:-/var/cache/heteroscale}
MIRROR=${HS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# What the 24.11 leg builds and runs (scripts/install-deps.sh's list, less what only the
# 22.05 leg's demo, benches and formatting use).
PKGS="slurm-wlm slurmctld slurmd slurm-client libslurm-dev munge
  build-essential cmake ninja-build pkg-config libhwloc-dev hwloc libibverbs-dev
  ibverbs-providers zlib1g-dev libyaml-cpp-dev libboost-program-options-dev libboost-dev
  nlohmann-json3-dev libgtest-dev libgmock-dev googletest
  bc curl time python3 procps iproute2 util-linux ca-certificates
  file dpkg-dev man-db systemd"

# The root is keyed by what goes into it (suite, mirror, packages, the setup steps' version),
# not by this whole file, so an edit elsewhere here does not remake it.
SETUP_VERSION=1
key() { echo "trixie $MIRROR $(echo $PKGS) $SETUP_VERSION" | sha256sum | cut -c1-12; }

TMP_ROOT=
make_root() {
  local dir=$CACHE/trixie-$(key)
  [ -f "$dir/.complete" ] && { echo "$dir"; return; }
  command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2
  mkdir -p "$CACHE"
  TMP_ROOT=$(mktemp -d "$CACHE/.trixie-XXXXXX")
  trap 'rm -rf "$TMP_ROOT"' EXIT
  local tmp=$TMP_ROOT
  chmod 755 "$tmp"  # the root's "/": mktemp's 0700 would lock out every user but root
  local t0=$SECONDS
  debootstrap --variant=minbase trixie "$tmp" "$MIRROR" >&2
  # No package's maintainer script may start a daemon in the root.
  printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
  chmod +x "$tmp/usr/sbin/policy-rc.d"
  echo "deb $MIRROR trixie main" >"$tmp/etc/apt/sources.list"
  # shellcheck disable=SC2086
  run_in "$tmp" sh -c "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(echo $PKGS)" >&2
  run_in "$tmp" apt-get clean >&2
  echo "trixie root made in $((SECONDS - t0)) s" >&2
  touch "$tmp/.complete"
  rm -rf "$dir"
  mv "$tmp" "$dir"
  trap - EXIT
  # Roots of older package lists are never used again: one root on disk (about 1 GB).
  find "$CACHE" -maxdepth 1 -type d -regextype posix-extended \
    -regex ".*/trixie-[0-9a-f]{12}" ! -path "$dir" -exec rm -rf {} + 2>/dev/null || true
  echo "$dir"
}

run_in() {  # dir cmd...
  local dir=$1
  shift
  unshare --mount --propagation private -- bash -c '
    set -e
    d=$1; shift
    for m in proc sys dev; do mount --rbind "/$m" "$d/$m"; done
    cp /etc/resolv.conf "$d/etc/resolv.conf" 2>/dev/null || true
    for b in ${HS_ROOT_BINDS:-}; do
      mkdir -p "$d${b#*:}"
      mount --bind "${b%%:*}" "$d${b#*:}"
    done
    exec chroot "$d" "$@"' _ "$dir" "$@"
}

case ${1:-} in
  path) make_root ;;
  run) shift; run_in "$@" ;;
  *) echo "usage: trixie_root.sh path | run DIR CMD..." >&2; exit 2 ;;
esac
