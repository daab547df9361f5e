#!/bin/bash
# Installs heteroscale's build, test and demo dependencies from Debian 12's archive.
# Idempotent: packages already present are not touched, and apt-get update runs only when
# something is missing. Must run as root (the README's commands do). Never starts a daemon:
# Debian's postinst scripts are stopped by policy-rc.d where no init system runs them anyway.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build pkg-config clang-format
  libhwloc-dev hwloc libibverbs-dev ibverbs-providers
  slurm-wlm slurmctld slurmd slurm-client libslurm-dev munge
  zlib1g-dev libyaml-cpp-dev libboost-dev libboost-program-options-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  gnuplot-nox bc procps iproute2 curl python3 time
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}) and not root: install them or re-run as root" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Keep package scripts from starting slurmctld/slurmd/munge on the host: heteroscale's own
# scripts start private daemons with their own configs and ports.
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  created_policy=1
fi
trap '[ $created_policy = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
