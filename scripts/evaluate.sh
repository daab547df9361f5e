#!/bin/bash
# Regenerates docs/evaluation.md from real hs-sim runs: heteroscale vs per-pool HPA on GPU
# utilization vs per-pool HPA on queues vs static peak vs the oracle, on (a) the Mooncake
# conversation trace, (b) the Azure 2023 code trace, (c) 14 days of ServeGen m-large; plus
# the sensitivity of the results to the derived (unmeasured) L40S decode profile.
#
#   scripts/evaluate.sh [--quick] [--build DIR] [--out DIR] [--doc FILE]
#     --quick   the CI slice: one day of m-large and the derived-profile sensitivity study on it
# Needs ../shared/data (the traces and ServeGen are not all in the repo).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build
OUT=""
DOC=""
QUICK=0
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1; shift ;;
    --build) BUILD=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --doc) DOC=$2; shift 2 ;;
    *) echo "evaluate.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
SHARED=${HS_SHARED_DATA:-$ROOT/../shared/data}
[ -d "$SHARED/traces" ] || { echo "evaluate.sh: $SHARED not found (set HS_SHARED_DATA)" >&2; exit 1; }
SIM=$BUILD/sim/hs-sim
[ -x "$SIM" ] || { echo "evaluate.sh: build first ($SIM missing)" >&2; exit 1; }
OUT=${OUT:-$(mktemp -d /tmp/hs-eval.XXXXXX)}
if [ $QUICK = 1 ]; then DOC=${DOC:-$OUT/evaluation-quick.md}; else DOC=${DOC:-$ROOT/docs/evaluation.md}; fi
mkdir -p "$OUT"

MLARGE=$SHARED/diurnal/servegen/language/m-large
MOONCAKE=$SHARED/traces/mooncake_fast25_conversation_trace.jsonl
AZURE=$SHARED/traces/azure2023_AzureLLMInferenceTrace_code.csv
run() {  # name args...
  local name=$1; shift
  echo "== $name: hs-sim compare $*" >&2
  "$SIM" compare --no-progress --out "$OUT/$name" "$@" >"$OUT/$name.txt" 2>"$OUT/$name.err" || { cat "$OUT/$name.err" >&2; exit 1; }
  cat "$OUT/$name.txt" >&2
}
# Sensitivity: the L40S profiles are derived from A100 by bandwidth/FLOPs; scale their decode
# terms by a factor and re-run.
profiles_scaled() {  # factor -> path
  python3 - "$ROOT/workload/profiles/default.yaml" "$1" "$OUT/profiles-l40s-x$1.yaml" <<'PY'
import re, sys
src, f, dst = sys.argv[1], float(sys.argv[2]), sys.argv[3]
out, gpu = [], None
for line in open(src):
    m = re.match(r"\s+- gpu: (\S+)", line)
    if m: gpu = m.group(1)
    if gpu == "l40s" and line.strip().startswith("decode:"):
        line = re.sub(r"(d[012]): ([0-9.e+-]+)", lambda m: f"{m.group(1)}: {float(m.group(2)) * f:.6g}", line)
    out.append(line)
open(dst, "w").writelines(out)
PY
  echo "$OUT/profiles-l40s-x$1.yaml"
}

# ServeGen's rates are relative weights: 0.2 puts m-large at ~40 req/s on average (peaks
# ~120), so the daily swing spans several ratio units of the calibrated service.
SG_SCALE=0.2
day_slice() {
  # The CI slice keeps to the daemon's own policies, the HPA baselines and the bounds (its
  # 2-minute budget); the peers' laws run on the full rows.
  run mlarge-day --trace "$MLARGE" --duration 86400 --rate-scale $SG_SCALE \
    --policies heteroscale,paper,hpa-util,hpa-queue,static-peak,oracle,oracle-split
  for f in 0.8 1.2; do
    run "mlarge-day-l40s-x$f" --trace "$MLARGE" --duration 86400 --rate-scale $SG_SCALE \
      --profiles "$(profiles_scaled $f)" --policies heteroscale,hpa-util,oracle
  done
}
if [ $QUICK = 1 ]; then
  day_slice
  python3 "$ROOT/scripts/lib/eval_report.py" --quick "$OUT" >"$DOC"
else
  run mooncake --trace "$MOONCAKE" --rate-scale 4 --ttft-slo 10
  run azure --trace "$AZURE" --rate-scale 4
  run mlarge-14d --trace "$MLARGE" --rate-scale $SG_SCALE
  day_slice
  # The daemon's drain timeout (120 s by default) against an hour: what cancelling drained
  # instances that are still busy costs.
  run mlarge-day-drain3600 --trace "$MLARGE" --duration 86400 --rate-scale $SG_SCALE \
    --policies heteroscale,hpa-queue,oracle --drain-timeout 3600
  # The ratio band (services[].ratio_band; 0, the fixed ratio, is the default): heteroscale
  # alone at bands of 1 and 3 on the same rows, against the rows above at 0.
  for b in 1 3; do
    run "mooncake-band$b" --trace "$MOONCAKE" --rate-scale 4 --ttft-slo 10 --policies heteroscale --ratio-band $b
    run "azure-band$b" --trace "$AZURE" --rate-scale 4 --policies heteroscale --ratio-band $b
    run "mlarge-14d-band$b" --trace "$MLARGE" --rate-scale $SG_SCALE --policies heteroscale --ratio-band $b
  done
  python3 "$ROOT/scripts/lib/eval_report.py" "$OUT" >"$DOC"
  mkdir -p "$ROOT/docs/evaluation"
  cp "$OUT/mlarge-14d/plot-heteroscale.png" "$ROOT/docs/evaluation/mlarge-14d-heteroscale.png"
  cp "$OUT/mlarge-14d/plot-hpa-util.png" "$ROOT/docs/evaluation/mlarge-14d-hpa-util.png"
  cp "$OUT/mooncake/plot-heteroscale.png" "$ROOT/docs/evaluation/mooncake-heteroscale.png"
fi
echo "wrote $DOC (runs in $OUT)" >&2
