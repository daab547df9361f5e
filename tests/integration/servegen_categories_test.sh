#!/bin/bash
# Every ServeGen category in ../shared/data runs through hs-sim compare (one hour each):
# multimodal prompts carry their image tokens, reasoning outputs their reasoning share,
# m-mid (no length distributions of its own) takes m-large's through --lengths-from and every
# report says so; without it, a clear error. Usage: servegen_categories_test.sh HS_SIM
set -uo pipefail
HS_SIM=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/scripts/lib/testlib.sh"
SG=${HS_SHARED_DATA:-$ROOT/../shared/data}/diurnal/servegen
if [ ! -d "$SG/language/m-mid" ]; then
  echo "ServeGen categories not found under $SG"
  echo "0 passed, 1 failed"
  exit 1
fi
hs_setup servegen 700
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
compare() {  # name category args...
  local name=$1 cat=$2; shift 2
  "$HS_SIM" compare --no-progress --trace "$SG/$cat" --duration 3600 --out "$T/$name" "$@" >"$T/$name.out" 2>"$T/$name.err"
}

compare mm multimodal/mm-image
check_rc "mm-image: compare runs" $? 0
check_eq "mm-image: all ten policies and bounds" "$(json "$T/mm/summary.json" "len(d['policies'])")" "10"
check_eq "mm-image: prompts carry image tokens" "$(json "$T/mm/summary.json" "d['run']['multimodal_tokens'] > 0")" "True"
check_eq "mm-image: requests served" "$(json "$T/mm/summary.json" "d['policies']['heteroscale']['completed'] > 1000")" "True"

compare r1 reason/deepseek-r1
check_rc "deepseek-r1: compare runs" $? 0
check_eq "deepseek-r1: outputs carry reasoning tokens" "$(json "$T/r1/summary.json" "d['run']['reasoning_tokens'] > 0")" "True"
check_eq "deepseek-r1: requests served" "$(json "$T/r1/summary.json" "d['policies']['heteroscale']['completed'] > 1000")" "True"

# m-mid's rates are relative weights two orders above m-large's: 0.02 keeps the hour on the
# default cluster.
compare mid language/m-mid --rate-scale 0.02
check_rc "m-mid without --lengths-from: exit 1" $? 1
check_contains "m-mid without --lengths-from: says what to give" "$(cat "$T/mid.err")" "give --lengths-from a category that has them"
compare mid language/m-mid --rate-scale 0.02 --lengths-from "$SG/language/m-large"
check_rc "m-mid --lengths-from m-large: compare runs" $? 0
check_eq "m-mid: every request drew pooled lengths" "$(json "$T/mid/summary.json" "d['run']['lengths']['requests_with_pooled_lengths'] == d['run']['requests'] > 0")" "True"
check_contains "m-mid: summary.json names the lengths' source" "$(json "$T/mid/summary.json" "d['run']['lengths']['source']")" "m-large"
check_contains "m-mid: the printed report says so" "$(cat "$T/mid.out")" "drew pooled lengths, from"
check_contains "m-mid: stderr says so" "$(cat "$T/mid.err")" "took pooled lengths"
"$HS_SIM" compare --no-progress --trace "$SG/language/m-mid" --duration 3600 --out "$T/x" --lengths-from "$T/none" >/dev/null 2>"$T/x.err"
check_rc "--lengths-from a missing folder: exit 1" $? 1
check_contains "--lengths-from a missing folder: named" "$(cat "$T/x.err")" "--lengths-from"

# The derived (unmeasured) profile the default service decodes on is named in every report.
check_contains "derived profile in the printed report" "$(cat "$T/mm.out")" "profile l40s/llama-8b is derived"
check_eq "derived profile in summary.json" "$(json "$T/mm/summary.json" "d['run']['derived_profiles']")" "['l40s/llama-8b']"
check_contains "derived profiles named in --help" "$("$HS_SIM" compare --help | tr -s ' \n' ' ')" "DERIVED, scaled from another GPU and not measured: h20/llama-70b"
finish
