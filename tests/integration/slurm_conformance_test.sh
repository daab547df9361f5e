#!/bin/bash
# The SimSlurm conformance suite against a real slurmctld: a loopback cluster of 4 nodes under
# two leaf switches (h100 on odd nodes, l40s on even ones), and hs-slurm-conformance running
# each sequence on the real libslurm API and on a SimSlurm of the same nodes, step for step.
# Every step waits for the state it expects (with a deadline), never for a fixed time.
# The cluster loads the SPANK plugin as the shipped line does (optional), so templates may use
# its options.
# Usage: slurm_conformance_test.sh CONFORMANCE_BIN SOURCE_DIR PLUGIN.so
set -uo pipefail
BIN=$1 SRC=$2 PLUGIN=$3
source "$SRC/scripts/lib/testlib.sh"
hs_setup conformance 700
hs_cluster_up "$T/cluster" --nodes 4 --leaves 2 \
  --plugstack "optional $PLUGIN default_pin=off topology_cache=$T/topology.xml"
"$BIN"
rc=$?
[ "$rc" -eq 0 ] || exit "$rc"

# The daemon's submissions go through sbatch: the same template submitted by hand (plus the
# daemon's options) and by the daemon's path gives the same job, except the fields the daemon
# owns or that differ per submission; a template with the plugin's SPANK option is accepted.
cat >"$T/tpl.sbatch" <<'TPL'
#!/bin/bash
#SBATCH --cpus-per-task=2
#SBATCH --mem=1500
#SBATCH --signal=B:USR1@90
#SBATCH --begin=now+3600
#SBATCH --time=45
#SBATCH --hs-pin=auto
exec sleep 600
TPL
TAG="acct:9 [heteroscale/v1 service=chat role=decode group=g9 variant=v]"
hand=$(sbatch --parsable --job-name=tpl --array=0-3%1 --comment="$TAG" --gres=gpu:l40s:1 \
  --constraint=leaf1 --chdir=/tmp --output=/dev/null --export=HS_SERVICE,HS_NOTE "$T/tpl.sbatch" 2>&1)
check_eq "by hand: sbatch accepts the template with its SPANK option" "$(grep -cE '^[0-9]+$' <<<"$hand")" 1
daemon=$("$BIN" submit "$T/tpl.sbatch" tpl 0-3%1 "$TAG" gpu:l40s:1 leaf1 2>&1)
check_eq "daemon's path: submitted" "$(grep -cE '^[0-9]+$' <<<"$daemon")" 1
show() { scontrol show job -o "$1" | tr ' ' '\n' | grep -vE '^(JobId|ArrayJobId|SubmitTime|EligibleTime|AccrueTime|StartTime|EndTime|Deadline|LastSchedEval|Priority|BeginTime|JobState|Reason)=' ; }
check_eq "the same job by hand and by the daemon (owned and per-submission fields aside)" \
  "$(show "$daemon")" "$(show "$hand")"
check_contains "the template's #SBATCH lines applied (CPUs, memory, --signal, time)" "$(show "$daemon")" "TimeLimit=00:45:00"
check_contains "the daemon's comment kept whole" "$(scontrol show job "$daemon" | grep -o 'Comment=.*')" "Comment=$TAG"
bad=$("$BIN" submit /nonexistent/tpl.sbatch tpl 0-3%1 "$TAG" gpu:l40s:1 leaf1 2>&1)
check_contains "a bad template: sbatch's own error, naming the file" "$bad" "/nonexistent/tpl.sbatch"
finish
