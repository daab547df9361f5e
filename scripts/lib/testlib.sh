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
