#!/bin/bash
# Every binary has a man page; every option a page documents exists in the binary's --help
# (and the subcommands' for hs-topo and hs-sim), and every --help option is documented.
# Usage: man_pages_test.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
B=$1 SRC=$2
source "$SRC/scripts/lib/testlib.sh"
opts_help() { "$@" --help 2>&1 | grep -oE '^\s+(-[a-zA-Z] \[ )?--[a-z][a-z-]*' | sed -E 's/.*--//' | sort -u; }
opts_man() { grep -oE '^\\fB\\-\\-[a-z\\-]+\\fR|^(\\fB\\-[a-z]\\fR, )\\fB\\-\\-[a-z\\-]+\\fR' "$1" | sed -E 's/.*\\fB\\-\\-//; s/\\fR$//; s/\\-/-/g' | sort -u; }
declare -A BIN=([heteroscaled.8]=scaler/heteroscaled [hs-ctl.1]=scaler/hs-ctl [hs-launch.1]=launcher/hs-launch
  [hs-router.1]=router/hs-router [hs-loadgen.1]=router/hs-loadgen [hs-engine-sim.1]=launcher/hs-engine-sim
  [hs-topo.1]=topo/hs-topo [hs-sim.1]=sim/hs-sim)
for page in "${!BIN[@]}"; do
  f=$SRC/docs/man/$page b=$B/${BIN[$page]}
  check_eq "$page exists" "$([ -s "$f" ] && echo yes)" "yes"
  case $page in
    hs-topo.1) h=$( (opts_help "$b"; opts_help "$b" fabric) | sort -u) ;;
    hs-sim.1) h=$( (opts_help "$b" compare; opts_help "$b" run; opts_help "$b" calibrate) | sort -u) ;;
    *) h=$(opts_help "$b") ;;
  esac
  m=$(opts_man "$f")
  check_eq "$page: documented options = --help options" "$(comm -3 <(echo "$m") <(echo "$h") | tr -d '\t' | tr '\n' ' ')" ""
  check_eq "$page renders without warnings" "$(MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null)" ""
done
check_eq "the configuration format has a page" "$(man -l "$SRC/docs/man/heteroscale.yaml.5" 2>&1 | grep -c 'strict YAML')" "1"
# Every installed binary is covered.
for t in hs-topo hs-sim hs-engine-sim hs-launch hs-router hs-loadgen hs-ctl heteroscaled; do
  check_eq "$t has a man page" "$(ls "$SRC"/docs/man/$t.[18] 2>/dev/null | wc -l)" "1"
done
finish
