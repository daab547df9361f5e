# Small assertion helpers for heteroscale's shell integration tests. Source it, call the
# check_* functions, then `finish`, which prints the "N passed, M failed" line ctest and CI
# read and exits non-zero on any failure.
HS_PASSED=0
HS_FAILED=0

_hs_ok() { HS_PASSED=$((HS_PASSED + 1)); echo "ok   - $1"; }
_hs_bad() { HS_FAILED=$((HS_FAILED + 1)); echo "FAIL - $1"; shift; for l in "$@"; do echo "       $l"; done; }

# check_eq NAME GOT WANT
check_eq() { if [ "$2" == "$3" ]; then _hs_ok "$1"; else _hs_bad "$1" "got:  $2" "want: $3"; fi; }
# check_contains NAME HAYSTACK NEEDLE
check_contains() {
  if [[ "$2" == *"$3"* ]]; then _hs_ok "$1"; else _hs_bad "$1" "missing: $3" "in: $(printf '%s' "$2" | head -c 600)"; fi
}
check_not_contains() {
  if [[ "$2" != *"$3"* ]]; then _hs_ok "$1"; else _hs_bad "$1" "unexpected: $3" "in: $(printf '%s' "$2" | head -c 600)"; fi
}
# check_rc NAME GOT_RC WANT_RC
check_rc() { if [ "$2" -eq "$3" ]; then _hs_ok "$1"; else _hs_bad "$1" "exit code $2, want $3"; fi; }

finish() {
  echo "$HS_PASSED passed, $HS_FAILED failed"
  [ "$HS_FAILED" -eq 0 ]
}

# free_port_base N: prints a port P such that P..P+N-1 are free on 127.0.0.1 now. Random start
# so that parallel test runs rarely race; callers still get a clear bind error if they do.
free_port_base() {
  local n=${1:-1} tries=0 base p used
  used=$(ss -Htan 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u)
  while [ $tries -lt 200 ]; do
    base=$((20000 + (RANDOM * 32768 + RANDOM) % 30000))
    local clash=0
    for ((p = base; p < base + n; p++)); do
      if grep -qx "$p" <<<"$used"; then clash=1; break; fi
    done
    [ $clash -eq 0 ] && { echo "$base"; return 0; }
    tries=$((tries + 1))
  done
  echo "free_port_base: no free range of $n ports found" >&2
  return 1
}

# wait_until SECONDS CMD [ARGS...]: runs CMD every 0.1 s until it succeeds. Returns non-zero
# after SECONDS without success. Tests wait on state this way, never on a fixed sleep.
wait_until() {
  local deadline=$(($(date +%s) + $1))
  shift
  while :; do
    "$@" >/dev/null 2>&1 && return 0
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    sleep 0.1
  done
}

# start_server NAME DIR CMD...: starts CMD in the background with stdout in DIR/NAME.out and
# stderr in DIR/NAME.err, waits (up to 60 s) for its first stdout line, and sets PID and PORT
# (that line: heteroscale's servers print their port, hs-launch its URL). Appends PID to the
# PIDS array when the caller has one.
start_server() {
  local name=$1 dir=$2
  shift 2
  "$@" >"$dir/$name.out" 2>"$dir/$name.err" &
  PID=$!
  if declare -p PIDS >/dev/null 2>&1; then PIDS+=("$PID"); fi
  wait_until 60 test -s "$dir/$name.out" || { echo "start_server: $name printed nothing; stderr:" >&2; tail -5 "$dir/$name.err" >&2; }
  PORT=$(head -1 "$dir/$name.out")
}

# http_get URL: the body of a GET (fails on a non-2xx status); http_status URL: the status.
http_get() { curl -sf --max-time 10 "$1"; }
http_status() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$1"; }

# ---- A test's temporary directory, clusters, processes and cleanup ------------------------
_HS_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# hs_setup NAME [MODE]: T = a new directory hs-NAME.XXXXXX under HS_TEST_TMP (default /tmp;
# MODE default 755: jobs of other users write there), PIDS=(), and an EXIT trap that kills
# (-9) every PID in PIDS, runs the hs_on_exit hooks, takes down every cluster hs_cluster_up
# started and removes T (kept when KEEP is set, to look at afterwards).
hs_setup() {
  T=$(mktemp -d "${HS_TEST_TMP:-/tmp}/hs-$1.XXXXXX") || exit 1
  chmod "${2:-755}" "$T"
  PIDS=()
  _HS_HOOKS=()
  _HS_CLUSTERS=()
  trap _hs_cleanup EXIT
}
# hs_on_exit 'COMMAND': evaluated at exit, after PIDS are killed and before clusters go down
# (single quotes: variables are read then, e.g. a daemon's PID set later).
hs_on_exit() { _HS_HOOKS+=("$1"); }
_hs_cleanup() {
  local p h c
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  for h in "${_HS_HOOKS[@]}"; do eval "$h"; done
  for c in "${_HS_CLUSTERS[@]}"; do bash "$_HS_SRC/scripts/cluster.sh" down "$c" >/dev/null 2>&1; done
  [ -n "${KEEP:-}" ] || rm -rf "$T"
}

# hs_cluster_up DIR [cluster.sh up ARGS...]: a loopback Slurm cluster in DIR (output in
# DIR.out), SLURM_CONF exported, taken down at exit. When it does not come up: a failed
# check with its output, the counts, exit 1.
hs_cluster_up() {
  local dir=$1
  shift
  _HS_CLUSTERS+=("$dir")
  if ! bash "$_HS_SRC/scripts/cluster.sh" up "$dir" "$@" >"$dir.out" 2>&1; then
    _hs_bad "the loopback cluster in $dir comes up" "$(tail -20 "$dir.out")"
    finish
    exit 1
  fi
  export SLURM_CONF=$dir/etc/slurm.conf
}

# hs_tag SERVICE ROLE GROUP VARIANT: the job comment that makes an array a heteroscale pool
# (the contract is common/job_tag.h; the daemon rejects anything else, by job id, in its log).
hs_tag() { echo "heteroscale/v1 service=$1 role=$2 group=$3 variant=$4"; }

# hs_submit_pool SERVICE ROLE GROUP VARIANT SCRIPT [SBATCH ARGS...]: submits a tagged pool
# (an array: pass --array) with plain sbatch, as an operator does; prints the array job id.
# With HS_SUBMIT_USER set, submits as that user (setpriv, which execs: no shell in between).
hs_submit_pool() {
  local svc=$1 role=$2 group=$3 variant=$4 script=$5 as=()
  shift 5
  [ -n "${HS_SUBMIT_USER:-}" ] && as=(setpriv --reuid="$HS_SUBMIT_USER" --regid=nogroup
    --clear-groups env SLURM_CONF="$SLURM_CONF")
  "${as[@]}" sbatch --parsable "$@" --comment="$(hs_tag "$svc" "$role" "$group" "$variant")" "$script"
}
