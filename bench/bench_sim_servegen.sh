#!/bin/bash
# Wall time of the 14-day ServeGen m-large run (heteroscale only) at the evaluation's rate
# scale, with the simulated request rate. Needs ../shared/data. Numbers only.
# Usage: bench_sim_servegen.sh HS_SIM [RATE_SCALE] [DAYS]
set -euo pipefail
SIM=$1
SCALE=${2:-0.2}
DAYS=${3:-14}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MLARGE=${HS_SHARED_DATA:-$ROOT/../shared/data}/diurnal/servegen/language/m-large
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
t0=$(date +%s.%N)
"$SIM" compare --trace "$MLARGE" --rate-scale "$SCALE" --duration $((DAYS * 86400)) --policies heteroscale --out "$OUT" --no-progress >/dev/null
t1=$(date +%s.%N)
python3 - "$OUT/summary.json" "$(echo "$t1 - $t0" | bc)" "$DAYS" "$SCALE" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["policies"]["heteroscale"]
print(f"{sys.argv[3]} days of ServeGen m-large at rate scale {sys.argv[4]}: {d['requests']:,} requests; "
      f"wall {float(sys.argv[2]):.1f} s in all (compose + simulate), simulation alone {d['wall_s']:.1f} s "
      f"= {d['simulated_requests_per_wall_s']:,.0f} simulated requests/s on one core")
PY
