#!/bin/bash
# hs-sim at production scale, before and after streaming (numbers, never pass/fail):
#  1. one day of ServeGen m-large at --rate-scale 0.2 and 1, the baseline hs-sim (built here
#     from BASELINE, the commit before streaming) and this build's, each pinned to one core
#     under /usr/bin/time -v: peak RSS, simulated requests/s of the heteroscale run, and the
#     ratios after/before;
#  2. fleet size: the Azure code trace scaled x16..x256 on a 64-leaf cluster, so the fleet
#     grows from a few instances to hundreds: requests/s of both binaries per fleet size
#     (the baseline scans every instance per request);
#  3. DAYS (default 14) of m-large at --rate-scale 1, this build only (the baseline holds
#     every request in memory; its need is extrapolated from its measured bytes per request).
# Needs ../shared/data (HS_SHARED_DATA). Usage:
#   bench/sim_scale.sh [--build DIR] [--baseline COMMIT] [--days N] [--out DIR] [--skip-baseline]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build
BASELINE=8dfcddb
DAYS=14
OUT=""
SKIP_BASE=0
while [ $# -gt 0 ]; do
  case $1 in
    --build) BUILD=$(realpath "$2"); shift 2 ;;
    --baseline) BASELINE=$2; shift 2 ;;
    --days) DAYS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --skip-baseline) SKIP_BASE=1; shift ;;
    *) echo "sim_scale.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
SHARED=${HS_SHARED_DATA:-$ROOT/../shared/data}
MLARGE=$SHARED/diurnal/servegen/language/m-large
[ -d "$MLARGE" ] || { echo "sim_scale.sh: $MLARGE not found (set HS_SHARED_DATA)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "sim_scale.sh: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
NEW=$BUILD/sim/hs-sim
[ -x "$NEW" ] || { echo "sim_scale.sh: build first ($NEW missing)" >&2; exit 1; }
OUT=${OUT:-$(mktemp -d /tmp/hs-sim-scale.XXXXXX)}
mkdir -p "$OUT"
echo "sim_scale: outputs in $OUT" >&2

OLD=""
if [ $SKIP_BASE = 0 ]; then
  if [ ! -x "$OUT/base-build/sim/hs-sim" ]; then
    echo "sim_scale: building the baseline hs-sim at $BASELINE" >&2
    rm -rf "$OUT/base-src" && mkdir -p "$OUT/base-src"
    git -C "$ROOT" archive "$BASELINE" | tar -x -C "$OUT/base-src"
    cmake -S "$OUT/base-src" -B "$OUT/base-build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$OUT/base-build.log" 2>&1
    cmake --build "$OUT/base-build" -j"$(nproc)" --target hs-sim >>"$OUT/base-build.log" 2>&1
  fi
  OLD=$OUT/base-build/sim/hs-sim
fi

# run NAME BIN ARGS... -> $OUT/NAME/{summary.json,time.txt}
run() {
  local name=$1 bin=$2; shift 2
  mkdir -p "$OUT/$name"
  taskset -c 0 /usr/bin/time -v "$bin" compare --no-progress --policies heteroscale,oracle \
    --out "$OUT/$name" "$@" >"$OUT/$name/stdout.txt" 2>"$OUT/$name/time.txt"
}
# row NAME -> "requests rss_mib req_per_s wall_s"
row() {
  python3 - "$OUT/$1" <<'PY'
import json, re, sys
d = sys.argv[1]
p = json.load(open(d + "/summary.json"))["policies"]["heteroscale"]
t = open(d + "/time.txt").read()
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", t)
wall = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
print(p["requests"], f"{rss:.0f}", f"{p['simulated_requests_per_wall_s']:.0f}", f"{wall:.1f}")
PY
}

echo "== 1. one day of m-large (heteroscale + oracle; simulated requests/s of the heteroscale run)"
printf "%-10s %-9s %12s %10s %14s %9s\n" "rate" "binary" "requests" "RSS MiB" "requests/s" "wall s"
for scale in 0.2 1; do
  for which in before after; do
    bin=$NEW; [ $which = before ] && bin=$OLD
    [ -n "$bin" ] || continue
    run "day-$scale-$which" "$bin" --trace "$MLARGE" --duration 86400 --rate-scale $scale
    read -r n rss rps wall <<<"$(row "day-$scale-$which")"
    printf "%-10s %-9s %12s %10s %14s %9s\n" "$scale" "$which" "$n" "$rss" "$rps" "$wall"
    eval "R_${which}_${scale/./_}=$rps; M_${which}_${scale/./_}=$rss; N_${scale/./_}=$n"
  done
done
python3 - "${R_after_0_2}" "${R_after_1}" "${R_before_0_2:-0}" "${R_before_1:-0}" \
  "${M_after_0_2}" "${M_after_1}" "${M_before_0_2:-0}" "${M_before_1:-0}" <<'PY'
import sys
a02, a1, b02, b1, ma02, ma1, mb02, mb1 = map(float, sys.argv[1:])
print(f"after: rate 1 runs at {a1 / a02:.2f} x the requests/s of rate 0.2")
if b02 and b1:
    print(f"before: rate 1 runs at {b1 / b02:.2f} x the requests/s of rate 0.2")
    print(f"after/before requests/s: {a02 / b02:.2f} (0.2), {a1 / b1:.2f} (1); "
          f"peak RSS: {ma02 / mb02:.2f} (0.2), {ma1 / mb1:.2f} (1)")
PY

echo "== 2. fleet size: the Azure code trace (1 h) scaled on a 64-leaf cluster"
python3 - "$OUT/cluster-64.yaml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("leaves:\n")
    for l in range(1, 65):
        sp = f"spine{(l - 1) // 8 + 1}"
        f.write(f"  - {{name: leaf{l}, spine: {sp}, nodes: 8, gpu: h100}}\n")
        f.write(f"  - {{name: leaf{l}, spine: {sp}, nodes: 8, gpu: l40s}}\n")
PY
AZURE=$ROOT/tests/data/traces/azure2023_AzureLLMInferenceTrace_code.csv
printf "%-6s %-9s %10s %14s %16s\n" "scale" "binary" "requests" "requests/s" "peak instances"
for scale in 16 64 256; do
  for which in before after; do
    bin=$NEW; [ $which = before ] && bin=$OLD
    [ -n "$bin" ] || continue
    run "fleet-$scale-$which" "$bin" --trace "$AZURE" --rate-scale $scale --cluster "$OUT/cluster-64.yaml"
    read -r n rss rps wall <<<"$(row "fleet-$scale-$which")"
    peak=$(awk -F, '$1=="heteroscale" && $7+$8>m {m=$7+$8} END {print m+0}' "$OUT/fleet-$scale-$which/timeseries.csv")
    printf "%-6s %-9s %10s %14s %16s\n" "x$scale" "$which" "$n" "$rps" "$peak"
  done
done

echo "== 3. $DAYS days of m-large at rate scale 1 (this build)"
run "days-$DAYS" "$NEW" --trace "$MLARGE" --duration $((DAYS * 86400)) --rate-scale 1
read -r n rss rps wall <<<"$(row "days-$DAYS")"
orc_wall=$(python3 -c "import json;print(round(json.load(open('$OUT/days-$DAYS/summary.json'))['policies']['heteroscale']['wall_s'],1))")
echo "$n requests: peak RSS $rss MiB, heteroscale at $rps simulated requests/s ($orc_wall s), whole run (calibration pass, oracle, heteroscale) $wall s"
if [ -n "${M_before_1:-}" ]; then
  python3 -c "
n, m1, n1 = $n, ${M_before_1}, ${N_1}
print(f'the baseline held {m1 * 1024 * 1024 / n1:.0f} bytes per request at rate 1: {n} requests would need about {m1 * n / n1 / 1024:.1f} GiB')"
fi
