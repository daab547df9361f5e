#!/bin/bash
# hs-sim as a user runs it: compare on a real trace writes the documented outputs; bad
# input gets clear errors. Usage: hs_sim_cli_test.sh HS_SIM DATA_DIR
set -uo pipefail
HS_SIM=$1
DATA=$2
source "$(dirname "$0")/../../scripts/lib/testlib.sh"
hs_setup sim-cli 700
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

"$HS_SIM" compare --trace "$DATA/traces/azure2023_AzureLLMInferenceTrace_code.csv" --duration 900 --out "$T/a" --no-progress >"$T/out" 2>"$T/err"
check_rc "compare on the Azure trace: exit 0" $? 0
for f in summary.json timeseries.csv decisions.log; do check_eq "writes $f" "$([ -s "$T/a/$f" ] && echo yes)" "yes"; done
if command -v gnuplot >/dev/null; then check_eq "writes a PNG per serving policy" "$(ls "$T/a"/plot-*.png | wc -l)" "8"; fi
check_eq "all ten in summary.json (heteroscale and paper beside the baselines, the peers' laws and both oracles)" "$(json "$T/a/summary.json" "sorted(d['policies'])")" "['dynamo-load', 'heteroscale', 'hpa-queue', 'hpa-util', 'llmd-slo', 'llmd-slo-role', 'oracle', 'oracle-split', 'paper', 'static-peak']"
check_eq "oracle-split at or below oracle" "$(json "$T/a/summary.json" "d['policies']['oracle-split']['gpu_hours'] <= d['policies']['oracle']['gpu_hours'] + 1e-9")" "True"
check_eq "feasible attainment at or above plain" "$(json "$T/a/summary.json" "all(p['slo_attainment_feasible'][k] >= p['slo_attainment'][k] - 1e-12 for n, p in d['policies'].items() if not n.startswith('oracle') for k in ('ttft','tbt','both'))")" "True"
for k in gpu_hours gpu_hours_by_role gpu_hours_by_type gpu_busy_fraction ttft_p50_s ttft_p99_s tbt_p50_s tbt_p99_s slo_attainment scaling_actions requests; do
  check_eq "summary has $k" "$(json "$T/a/summary.json" "'$k' in d['policies']['heteroscale']")" "True"
done
check_eq "fractions in 0..1" "$(json "$T/a/summary.json" "all(0 <= p['slo_attainment'][k] <= 1 for n, p in d['policies'].items() if not n.startswith('oracle') for k in ('ttft','tbt','both'))")" "True"
check_eq "oracle is the lower bound of every serving policy" "$(json "$T/a/summary.json" "all(p['gpu_hours'] >= d['policies']['oracle']['gpu_hours'] for n, p in d['policies'].items() if n != 'oracle-split')")" "True"
"$HS_SIM" compare --trace "$DATA/traces/azure2023_AzureLLMInferenceTrace_code.csv" --duration 900 --out "$T/b" --no-progress >/dev/null 2>&1
check_eq "same inputs, same summary (deterministic)" "$(json "$T/b/summary.json" "[(n, round(p['gpu_hours'], 9)) for n, p in d['policies'].items()]")" "$(json "$T/a/summary.json" "[(n, round(p['gpu_hours'], 9)) for n, p in d['policies'].items()]")"
"$HS_SIM" compare --trace "$DATA/servegen-mini" --out "$T/s" --rate-scale 50 --policies heteroscale,oracle --no-progress >/dev/null 2>&1
check_rc "compare on a ServeGen folder" $? 0
check_eq "ServeGen format detected" "$(json "$T/s/summary.json" "d['run']['format']")" "servegen"
out=$("$HS_SIM" calibrate --trace "$DATA/traces/mooncake_conversation_first1500.jsonl" --ttft-slo 5 2>/dev/null); rc=$?
err=$("$HS_SIM" calibrate --trace "$DATA/traces/mooncake_conversation_first1500.jsonl" 2>&1)
check_contains "calibrate says when the SLO cannot be met" "$err" "above 0.800000 s (half of margin x TTFT SLO)"
check_rc "calibrate: exit 0" $rc 0
check_contains "calibrate prints a variant" "$out" "decode_tps_per_instance:"

printf 'TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03,10,5\n2023-11-16 18:17:04,x,5\n' >"$T/bad.csv"
err=$("$HS_SIM" compare --trace "$T/bad.csv" --out "$T/x" 2>&1); rc=$?
check_rc "bad trace row: exit 1" $rc 1
check_contains "bad trace row: file and line" "$err" "$T/bad.csv:3: ContextTokens is not a token count"
err=$("$HS_SIM" compare --trace "$T/none.csv" --out "$T/x" 2>&1); rc=$?
check_rc "missing trace: exit 1" $rc 1
err=$("$HS_SIM" compare --trace "$T/bad.csv" --out "$T/x" --policies nope 2>&1); rc=$?
check_rc "unknown policy reported" $(( rc != 0 )) 1
"$HS_SIM" compare --out "$T/x" >/dev/null 2>&1; check_rc "missing --trace: exit 2" $? 2
"$HS_SIM" compare --trace x --out y --rate-scale -1 >/dev/null 2>&1; check_rc "negative rate scale: exit 2" $? 2
out=$("$HS_SIM" compare --help); check_contains "help documents --rate-scale" "$out" "--rate-scale X"
finish
