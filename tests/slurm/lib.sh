# tests/slurm/lib.sh: helpers shared by the SLURM tests (sourced, not run).
#
# slurm_begin brings the local SLURM up through scripts/slurm-local (and takes
# it down again on exit if it was not up before), or prints "SKIP: <reason>"
# and exits 77 when SLURM cannot run here at all.  The rest are checks and
# waits on jobs through scontrol/squeue: this cluster has no accounting, so
# no sacct.
# shellcheck shell=bash

TESTS_SLURM=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$TESTS_SLURM/../.." && pwd)
SLURM_LOCAL=$REPO/scripts/slurm-local
# Safety net against a hung job, not a measure of speed: generous on purpose.
JOB_TIMEOUT=${JOB_TIMEOUT:-300}

T_NAME=$(basename "$0" .sh)
T_START=$(date +%s.%N)
T_CHECKS=0
T_FAILS=0
T_TMP=
T_BROUGHT_UP=0

note() { echo "$T_NAME: $*"; }

# check DESCRIPTION COMMAND...: run COMMAND; count a pass or a failure.
check() {
	local what=$1
	shift
	T_CHECKS=$((T_CHECKS + 1))
	if "$@"; then
		echo "ok   $what"
	else
		echo "FAIL $what"
		T_FAILS=$((T_FAILS + 1))
	fi
}

# abort MESSAGE: a failure after which nothing else can be checked.
abort() {
	echo "FAIL $*"
	T_FAILS=$((T_FAILS + 1))
	exit 1
}

elapsed() {
	awk -v a="$T_START" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}

# t_finish [RC]: the EXIT trap; RC defaults to the status the script exits with.
t_finish() {
	local rc=${1:-$?}
	trap - EXIT
	if [ "$T_BROUGHT_UP" = 1 ]; then
		"$SLURM_LOCAL" down >/dev/null 2>&1 || echo "$T_NAME: warning: slurm-local down failed"
	fi
	if [ -n "$T_TMP" ]; then
		if [ "$T_FAILS" -gt 0 ] || [ "$rc" -ne 0 ]; then
			echo "$T_NAME: files kept in $T_TMP"
		elif [ -z "${KEEP_TMP:-}" ]; then
			rm -rf "$T_TMP"
		fi
	fi
	if [ "$rc" = 77 ]; then
		exit 77
	fi
	if [ "$T_FAILS" -gt 0 ] || [ "$rc" -ne 0 ]; then
		echo "$T_NAME: FAIL ($T_FAILS of $T_CHECKS checks failed, exit $rc) in $(elapsed) s"
		exit 1
	fi
	echo "$T_NAME: PASS ($T_CHECKS checks) in $(elapsed) s"
	exit 0
}

# t_tmpdir: a scratch directory every job can write (slurmd runs as root,
# jobs as the submitting user).
t_tmpdir() {
	T_TMP=$(mktemp -d "/tmp/randes-$T_NAME.XXXXXX")
	chmod 0755 "$T_TMP"
}

# slurm_begin: the cluster up and its environment loaded, or SKIP.
slurm_begin() {
	local rc=0 dir
	trap t_finish EXIT
	dir=${SLURM_LOCAL_DIR:-/tmp/randes-slurm}
	if ! "$SLURM_LOCAL" status >/dev/null 2>&1; then
		T_BROUGHT_UP=1
	fi
	"$SLURM_LOCAL" up || rc=$?
	if [ "$rc" = 3 ]; then
		T_BROUGHT_UP=0
		echo "SKIP: SLURM cannot start on this machine (scripts/slurm-local up said why, above)"
		exit 77
	fi
	[ "$rc" = 0 ] || abort "scripts/slurm-local up failed (exit $rc); logs in $dir/log"
	# shellcheck source=/dev/null
	. "$dir/env.sh"
}

# job_field JOB FIELD: FIELD's value in `scontrol show job -o JOB`.
job_field() {
	scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1
}

job_final() {
	case $1 in
	COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE | PREEMPTED) return 0 ;;
	esac
	return 1
}

# wait_job JOB: until JOB is in a final state; prints `State ExitCode
# Restarts`.  A requeue takes a job from RUNNING straight to PENDING with
# Restarts incremented (observed on 22.05), so a final state is final.
wait_job() {
	local job=$1 i st
	for ((i = 0; i < JOB_TIMEOUT * 4; i++)); do
		st=$(job_field "$job" JobState)
		if job_final "$st"; then
			echo "$st $(job_field "$job" ExitCode) $(job_field "$job" Restarts)"
			return 0
		fi
		if [ "$st" = PENDING ] && [ "$(job_field "$job" Reason)" = DependencyNeverSatisfied ]; then
			echo "PENDING DependencyNeverSatisfied"
			return 0
		fi
		sleep 0.25
	done
	echo "job $job still not done after $JOB_TIMEOUT s:" >&2
	scontrol show job "$job" >&2 || true
	echo "TIMEOUT"
	return 1
}

# wait_file JOB FILE: until FILE exists; fails at once if JOB ended first.
wait_file() {
	local job=$1 file=$2 i
	for ((i = 0; i < JOB_TIMEOUT * 4; i++)); do
		[ -e "$file" ] && return 0
		if job_final "$(job_field "$job" JobState)"; then
			[ -e "$file" ] && return 0
			echo "job $job ended before $file appeared" >&2
			return 1
		fi
		sleep 0.25
	done
	echo "no $file after $JOB_TIMEOUT s (job $job)" >&2
	return 1
}

# Assertion helpers for check.
equals() { [ "$1" = "$2" ] || { echo "     expected '$2', got '$1'"; return 1; }; }
contains() { grep -q -- "$2" "$1" || { echo "     no '$2' in $1:"; sed 's/^/     | /' "$1" 2>/dev/null | tail -n 30; return 1; }; }
lacks() { ! grep -q -- "$2" "$1" || { echo "     unexpected '$2' in $1"; return 1; }; }
count_is() {
	local n
	n=$(grep -c -- "$2" "$1" 2>/dev/null) || true
	[ "${n:-0}" = "$3" ] || { echo "     '$2' occurs ${n:-0} times in $1, expected $3"; sed 's/^/     | /' "$1" 2>/dev/null | tail -n 30; return 1; }
}
