#!/usr/bin/env bash
# tests/slurm/requeue-standin.sh: scripts/slurm/{train,sweep,sweep-array}.sbatch
# under the real local SLURM, with tests/slurm/fake-randes standing in for
# randes (RANDES=...).  It proves the plumbing, not the training:
#
#   complete   train.sbatch -n 2 runs to the end: COMPLETED 0:0, run directory
#              complete, two ranks, no --resume on a fresh run directory
#   req-srun   pre-termination signal (scancel --batch --signal=USR1, what
#   req-mpirun --signal=B:USR1@N sends) reaches randes through the trap, which
#              checkpoints and exits 0; the script requeues the job; the next
#              start (SLURM_RESTART_COUNT=1) passes --resume and finishes
#              with the same theta as an uninterrupted run; output appended.
#              Once with srun --mpi=pmix, once with RANDES_LAUNCHER=mpirun.
#   term       SIGTERM to the batch shell reaches randes as SIGUSR1 (srun and
#              mpirun kill the ranks on a TERM of their own): checkpoint,
#              COMPLETED, no requeue; the same command again resumes and
#              finishes
#   stop       SIGUSR2 under mpirun: likewise, stop without requeue
#   fail       randes exiting 3 shows as FAILED 3:0 and is not requeued
#   usage      a missing argument, or sweep-array without --array: FAILED 2:0
#   sweep      sweep.sbatch: interrupted inside run 1, requeued, finished runs
#              skipped, summary.csv equal to an uninterrupted sweep's
#   array      sweep-array.sbatch --array=0-2: task 1 interrupted and requeued
#              alone; a job waiting on the array (afterok) writes summary.csv
#
# Signals are sent only after the stand-in reports it is held mid-run
# (FAKE_RANDES_HOLD_AT), so no outcome depends on timing.
# Run as root:  tests/slurm/requeue-standin.sh
# Exit: 0 pass, 1 fail, 77 SLURM cannot start here (prints SKIP: reason).
set -euo pipefail
# shellcheck source=tests/slurm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SB=$REPO/scripts/slurm
export RANDES=$TESTS_SLURM/fake-randes

slurm_begin
t_tmpdir
cd "$T_TMP"

cat >train.yaml <<'EOF'
# fake-randes config: 20 generations of 0.1 s, checkpoint every 5
generations: 20
step_seconds: 0.1
checkpoint_every: 5
seed: 7
EOF
cat >sweep.yaml <<'EOF'
runs: 3
generations: 12
step_seconds: 0.1
checkpoint_every: 5
seed: 11
EOF

# References: the same work, uninterrupted, outside SLURM.
"$RANDES" train train.yaml --run-dir ref >/dev/null || abort "fake-randes reference run failed"
"$RANDES" sweep sweep.yaml --run-root ref-sweep >/dev/null || abort "fake-randes reference sweep failed"
ref_theta=$(cat ref/eval.json)

# sb NAME SBATCH-ARGS...: submit from T_TMP, output in NAME.out; prints the id.
sb() {
	local name=$1
	shift
	sbatch --parsable -J "st-$name" -o "$T_TMP/$name.out" "$@" | cut -d';' -f1
}

j_complete=$(sb complete -n 2 "$SB/train.sbatch" train.yaml run-done)
j_rs=$(FAKE_RANDES_HOLD_AT=7 sb req-srun -n 2 "$SB/train.sbatch" train.yaml run-req-srun)
j_rm=$(FAKE_RANDES_HOLD_AT=7 RANDES_LAUNCHER=mpirun \
	sb req-mpirun -n 2 "$SB/train.sbatch" train.yaml run-req-mpirun)
j_term=$(FAKE_RANDES_HOLD_AT=7 sb term -n 2 "$SB/train.sbatch" train.yaml run-term)
j_stop=$(FAKE_RANDES_HOLD_AT=7 RANDES_LAUNCHER=mpirun \
	sb stop -n 2 "$SB/train.sbatch" train.yaml run-stop)
j_fail=$(FAKE_RANDES_EXIT=3 sb fail -n 2 "$SB/train.sbatch" train.yaml run-fail)
j_usage=$(sb usage -n 1 "$SB/train.sbatch" train.yaml)
j_noarr=$(sb noarray -n 1 "$SB/sweep-array.sbatch" sweep.yaml root-noarray)
j_sweep=$(FAKE_RANDES_HOLD_AT=7 FAKE_RANDES_HOLD_INDEX=1 \
	sb sweep -n 2 "$SB/sweep.sbatch" sweep.yaml root-sweep)
j_arr=$(FAKE_RANDES_HOLD_AT=7 FAKE_RANDES_HOLD_INDEX=1 \
	sbatch --parsable -J st-array -o "$T_TMP/array-%a.out" --array=0-2 -n 2 \
	"$SB/sweep-array.sbatch" sweep.yaml root-array | cut -d';' -f1)
j_sum=$(sb summary -n 1 -d "afterok:$j_arr" "$SB/sweep.sbatch" sweep.yaml root-array)
note "submitted complete=$j_complete req-srun=$j_rs req-mpirun=$j_rm term=$j_term fail=$j_fail stop=$j_stop" \
	"usage=$j_usage noarray=$j_noarr sweep=$j_sweep array=$j_arr summary=$j_sum"

# Signal each held job as soon as it is held; they may run in any order.
pending=("$j_rs|run-req-srun/held|USR1" "$j_rm|run-req-mpirun/held|USR1"
	"$j_term|run-term/held|TERM" "$j_stop|run-stop/held|USR2"
	"$j_sweep|root-sweep/sweep/run-1/held|USR1"
	"${j_arr}_1|root-array/sweep/run-1/held|USR1")
for ((i = 0; i < JOB_TIMEOUT * 4 && ${#pending[@]} > 0; i++)); do
	left=()
	for p in "${pending[@]}"; do
		IFS='|' read -r job file sig <<<"$p"
		if [ -e "$file" ]; then
			scancel --batch --signal="$sig" "$job"
		elif job_final "$(job_field "$job" JobState)"; then
			check "$job: held at generation 7 before it ended" test -e "$file"
		else
			left+=("$p")
		fi
	done
	pending=(${left[@]+"${left[@]}"})
	[ "${#pending[@]}" = 0 ] || sleep 0.25
done
[ "${#pending[@]}" = 0 ] || abort "never held: ${pending[*]}"

theta_of() { cat "$1/eval.json" 2>/dev/null || echo "no $1/eval.json"; }
lines() { wc -l <"$1" 2>/dev/null | tr -d ' ' || echo 0; }

# complete
res=$(wait_job "$j_complete") || true
check "complete: COMPLETED 0:0, no requeue" equals "$res" "COMPLETED 0:0 0"
for f in config.yaml metrics.jsonl checkpoint.bin model.safetensors eval.json; do
	check "complete: run-done/$f written" test -s "run-done/$f"
done
check "complete: 20 metrics lines" equals "$(lines run-done/metrics.jsonl)" 20
check "complete: theta equals the reference" equals "$(theta_of run-done)" "$ref_theta"
check "complete: two ranks ran" contains complete.out "rank 1 of 2: run run-done"
check "complete: one start, without --resume" equals "$(cat run-done/invocations.log)" \
	"start restart=0 ranks=2 from=0 args: train train.yaml --run-dir run-done"

# req-srun, req-mpirun
for name in req-srun req-mpirun; do
	job=$j_rs
	[ "$name" = req-mpirun ] && job=$j_rm
	dir=run-$name
	res=$(wait_job "$job") || true
	check "$name: COMPLETED 0:0 after one requeue" equals "$res" "COMPLETED 0:0 1"
	check "$name: the batch shell got SIGUSR1" contains "$name.out" "got SIGUSR1: sending SIGUSR1 to the launcher"
	check "$name: rank 0 stopped cleanly at generation 7" contains "$name.out" "rank 0\\]: SIGUSR1: stopped cleanly before generation 7"
	check "$name: rank 1 got the signal too" contains "$name.out" "rank 1\\]: SIGUSR1: stopped cleanly"
	check "$name: requeued itself" contains "$name.out" "clean stop after SIGUSR1: requeueing job $job"
	check "$name: output of both starts kept" contains "$name.out" "start 2: 2 tasks"
	check "$name: first start fresh, second with --resume from generation 7" equals \
		"$(cut -d' ' -f2-4,6- "$dir/invocations.log" | tr '\n' '|')" \
		"restart=0 ranks=2 from=0 train train.yaml --run-dir $dir|restart=1 ranks=2 from=7 train train.yaml --run-dir $dir --resume|"
	check "$name: 20 metrics lines, none repeated" equals "$(lines "$dir/metrics.jsonl")" 20
	check "$name: theta equals the uninterrupted run's" equals "$(theta_of "$dir")" "$ref_theta"
done
check "req-mpirun: ran under mpirun" contains req-mpirun.out "mpirun -x OPENBLAS_NUM_THREADS -x OMP_NUM_THREADS -np 2"

# term, then the same command again
res=$(wait_job "$j_term") || true
check "term: COMPLETED 0:0, no requeue" equals "$res" "COMPLETED 0:0 0"
check "term: the batch shell got SIGTERM, randes SIGUSR1" contains term.out "got SIGTERM: sending SIGUSR1 to the launcher"
check "term: rank 0 stopped cleanly" contains term.out "rank 0\\]: SIGUSR1: stopped cleanly before generation 7"
check "term: rank 1 stopped cleanly" contains term.out "rank 1\\]: SIGUSR1: stopped cleanly"
check "term: did not requeue" lacks term.out "requeueing"
check "term: checkpoint at generation 7, run not finished" equals \
	"$(cut -d' ' -f1 run-term/checkpoint.bin 2>/dev/null) $(test -e run-term/eval.json && echo finished)" "7 "
j_term2=$(sb term -n 2 "$SB/train.sbatch" train.yaml run-term)
res=$(wait_job "$j_term2") || true
check "term: resubmitted job COMPLETED 0:0" equals "$res" "COMPLETED 0:0 0"
check "term: resubmission passed --resume" contains run-term/invocations.log "restart=0 ranks=2 from=7 args: train train.yaml --run-dir run-term --resume"
check "term: theta equals the uninterrupted run's" equals "$(theta_of run-term)" "$ref_theta"

# stop
res=$(wait_job "$j_stop") || true
check "stop: COMPLETED 0:0, no requeue" equals "$res" "COMPLETED 0:0 0"
check "stop: the batch shell got SIGUSR2, randes SIGUSR1" contains stop.out "got SIGUSR2: sending SIGUSR1 to the launcher"
check "stop: rank 0 stopped cleanly under mpirun" contains stop.out "rank 0\\]: SIGUSR1: stopped cleanly before generation 7"
check "stop: rank 1 stopped cleanly under mpirun" contains stop.out "rank 1\\]: SIGUSR1: stopped cleanly"
check "stop: did not requeue" lacks stop.out "requeueing"
check "stop: checkpoint at generation 7" equals "$(cut -d' ' -f1 run-stop/checkpoint.bin 2>/dev/null)" 7

# fail, usage
res=$(wait_job "$j_fail") || true
check "fail: randes' exit 3 shows as FAILED 3:0, no requeue" equals "$res" "FAILED 3:0 0"
res=$(wait_job "$j_usage") || true
check "usage: missing RUN_DIR is FAILED 2:0" equals "$res" "FAILED 2:0 0"
check "usage: says how to call it" contains usage.out "usage: sbatch \\[options\\] train.sbatch CONFIG.yaml RUN_DIR"
res=$(wait_job "$j_noarr") || true
check "usage: sweep-array without --array is FAILED 2:0" equals "$res" "FAILED 2:0 0"
check "usage: says to use --array" contains noarray.out "not an array task"

# sweep
res=$(wait_job "$j_sweep") || true
check "sweep: COMPLETED 0:0 after one requeue" equals "$res" "COMPLETED 0:0 1"
check "sweep: summary.csv equals the uninterrupted sweep's" cmp root-sweep/sweep/summary.csv ref-sweep/sweep/summary.csv
check "sweep: run 0 trained once" equals "$(lines root-sweep/sweep/run-0/invocations.log)" 1
check "sweep: run 1 resumed from generation 7" contains root-sweep/sweep/run-1/invocations.log "restart=1 ranks=2 from=7"
check "sweep: run 2 trained in the second allocation" contains root-sweep/sweep/run-2/invocations.log "restart=1 ranks=2 from=0"
check "sweep: requeued itself" contains sweep.out "requeueing job $j_sweep"

# array
for t in 0 1 2; do
	want=0
	[ "$t" = 1 ] && want=1
	res=$(wait_job "${j_arr}_$t") || true
	check "array: task $t COMPLETED 0:0 with $want requeue(s)" equals "$res" "COMPLETED 0:0 $want"
	check "array: task $t ran --only $t" contains "array-$t.out" "--only $t"
	check "array: run $t theta equals the uninterrupted sweep's" equals \
		"$(theta_of "root-array/sweep/run-$t")" "$(theta_of "ref-sweep/sweep/run-$t")"
done
check "array: run 1 resumed from generation 7" contains root-array/sweep/run-1/invocations.log "restart=1 ranks=2 from=7"
res=$(wait_job "$j_sum") || true
check "array: the afterok summary job COMPLETED 0:0" equals "$res" "COMPLETED 0:0 0"
check "array: summary.csv equals the uninterrupted sweep's" cmp root-array/sweep/summary.csv ref-sweep/sweep/summary.csv
