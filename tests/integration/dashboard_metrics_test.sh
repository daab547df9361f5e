#!/bin/bash
# Every metric the Grafana dashboard queries is one that heteroscaled, hs-router or the
# engines (hs-engine-sim, with vLLM's names) export: read from their live /metrics here
# (hs-router over one simulated P/D pair, a request through it; heteroscaled's names from its
# writer, since its decision metrics need Slurm) .
# Usage: dashboard_metrics_test.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
B=$1 SRC=$2
source "$SRC/scripts/lib/testlib.sh"
hs_setup dashboard 700
start() { local n=$1; shift; start_server "$n" "$T" "$@"; }
export VLLM_NIXL_SIDE_CHANNEL_HOST=127.0.0.1 VLLM_NIXL_SIDE_CHANNEL_PORT=0
start p "$B/launcher/hs-engine-sim" --role prefill --gpu-type h100 --model llama-8b --time-scale 10; P=$PORT
start d "$B/launcher/hs-engine-sim" --role decode --gpu-type h100 --model llama-8b --time-scale 10; D=$PORT
echo "[{\"url\":\"http://127.0.0.1:$P\",\"role\":\"prefill\",\"group\":\"g1\"},{\"url\":\"http://127.0.0.1:$D\",\"role\":\"decode\",\"group\":\"g1\"}]" >"$T/eps.json"
start r "$B/router/hs-router" --endpoints "$T/eps.json"; R=$PORT
wait_until 30 curl -sf "http://127.0.0.1:$R/ready"
curl -s -X POST -H "Content-Type: application/json" -d "{\"model\":\"llama\",\"prompt\":\"hi\",\"max_tokens\":4,\"stream\":true}" "http://127.0.0.1:$R/v1/completions" >"$T/resp"
check_contains "a streamed request through the router completes" "$(cat "$T/resp")" "[DONE]"
{ curl -s "http://127.0.0.1:$P/metrics"; curl -s "http://127.0.0.1:$D/metrics"; curl -s "http://127.0.0.1:$R/metrics"; } \
  | grep -v '^#' | sed -E 's/[{ ].*//' | sort -u >"$T/live"
# heteroscaled: the families its /metrics writer declares.
grep -ohE 'family\("hs_scaler_[a-z_]+"' "$SRC/scaler/src/daemon_api.cc" | sed -E 's/family\("//; s/"//' >>"$T/live"
queried=$(python3 - "$SRC/packaging/grafana/heteroscale-dashboard.json" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
names = set()
for p in d["panels"]:
    for t in p["targets"]:
        e = re.sub(r'by\s*\([^)]*\)', ' ', t["expr"])   # label lists
        e = re.sub(r'\{[^}]*\}|\[[^\]]*\]', ' ', e)        # selectors, ranges
        for n in re.findall(r'[a-zA-Z_:][a-zA-Z0-9_:]*', e):
            if ("_" in n or ":" in n) and n != "histogram_quantile":
                names.add(n)
print("\n".join(sorted(names)))
PY
)
n=0
for m in $queried; do
  n=$((n + 1))
  check_eq "dashboard metric $m is exported" "$(grep -cx "$m" "$T/live" | awk '{print ($1 > 0) ? "yes" : "no"}')" "yes"
done
check_eq "the dashboard queries metrics at all" "$([ $n -ge 10 ] && echo yes)" "yes"
finish
