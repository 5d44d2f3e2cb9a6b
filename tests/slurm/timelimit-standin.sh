#!/usr/bin/env bash
# tests/slurm/timelimit-standin.sh: the real time-limit path of
# scripts/slurm/train.sbatch, with tests/slurm/fake-randes standing in for
# randes.  A 75-generation run of 1 s per generation is submitted with
# `-t 1 --signal=B:USR1@45`: it cannot finish inside one allocation, so it
# must get SLURM's own pre-termination SIGUSR1, checkpoint, requeue itself
# and resume, as many times as it takes, and end COMPLETED 0:0 with the same
# theta as an uninterrupted run and one metrics line per generation.
#
# Slow (about 2-3 minutes: SLURM checks time limits every ~30 s and a
# requeued job waits ~10 s) but its verdict does not depend on timing: a
# missed signal shows as TIMEOUT, a lost checkpoint as a wrong theta.
# tests/slurm/requeue-standin.sh covers the same plumbing in seconds by
# sending the signal with scancel.
# Run as root:  tests/slurm/timelimit-standin.sh
# Exit: 0 pass, 1 fail, 77 SLURM cannot start here (prints SKIP: reason).
set -euo pipefail
# shellcheck source=tests/slurm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export RANDES=$TESTS_SLURM/fake-randes
JOB_TIMEOUT=${JOB_TIMEOUT:-900}

slurm_begin
t_tmpdir
cd "$T_TMP"

cat >long.yaml <<'EOF'
generations: 75
step_seconds: 1
checkpoint_every: 10
seed: 5
EOF
"$RANDES" train long.yaml --run-dir ref --set run.generations=75 >/dev/null ||
	abort "fake-randes reference run failed"

job=$(sbatch --parsable -J st-timelimit -o "$T_TMP/timelimit.out" -n 2 -t 1 \
	--signal=B:USR1@45 "$REPO/scripts/slurm/train.sbatch" long.yaml run)
note "submitted $job (-t 1, --signal=B:USR1@45); this takes a few minutes"
res=$(wait_job "$job") || true
restarts=${res##* }
check "COMPLETED 0:0 after at least one requeue" equals "${res% *}" "COMPLETED 0:0"
check "every start but the last ended on SLURM's SIGUSR1" equals \
	"$(grep -c 'got SIGUSR1: sending SIGUSR1' timelimit.out)" "$restarts"
check "every start but the last requeued itself" equals \
	"$(grep -c 'requeueing job' timelimit.out)" "$restarts"
check "every restart resumed (--resume)" equals \
	"$(grep -c -- '--resume$' run/invocations.log)" "$restarts"
check "75 metrics lines, none repeated" equals "$(wc -l <run/metrics.jsonl)" 75
check "theta equals the uninterrupted run's" equals "$(cat run/eval.json)" "$(cat ref/eval.json)"
check "never hit the time limit" lacks timelimit.out "DUE TO TIME LIMIT"
note "$restarts requeues; job record: $(scontrol show job -o "$job" | tr ' ' '\n' | grep -E '^(RunTime|SubmitTime|EndTime)=' | tr '\n' ' ')"
