#!/usr/bin/env bash
# e2e-slurm: the job scripts of scripts/slurm/ with the real randes on a real
# single-node SLURM (Debian's slurm-wlm and munge, brought up here by
# scripts/slurm-local: a private instance with its own state directory and
# ports, taken down again at the end).  Issue 6, point 3.
#
#   short    train.sbatch -n 2 on a tiny cycle_coloring run (30 generations,
#            evaluation on 300 inputs), once under `srun --mpi=pmix`, once
#            under RANDES_LAUNCHER=mpirun: COMPLETED 0:0 as SLURM shows it
#            (scontrol and the jobcomp record), no requeue, the run directory
#            complete (config.yaml, metrics.jsonl with generations 0..29
#            once each, checkpoint.bin, a well-formed model.safetensors,
#            eval.json on 300 inputs), two ranks, no --resume, and theta
#            bitwise equal to the same run in one process outside SLURM
#   bad      a refused config: randes' exit 2 shows as FAILED 2:0
#   requeue  the pre-termination path, srun and mpirun: `scancel --batch
#            --signal=USR1` (what --signal=B:USR1@N sends) mid-run; randes
#            checkpoints and exits 0, the script requeues the job, it starts
#            again (SLURM_RESTART_COUNT=1: "start 2"), passes --resume,
#            randes logs "resuming ... at generation K" for the K it
#            checkpointed, and the run ends COMPLETED 0:0 with Restarts=1,
#            every generation once in metrics.jsonl, and the theta_hash
#            column, eval.json and model.safetensors equal to an
#            uninterrupted run's
#   timelimit  the same with SLURM's own signal: -t 1 --signal=B:USR1@40
#            (nothing sent by the test); at least one requeue, every start
#            but the last ended on SIGUSR1, never TIMEOUT, same theta
#   array    sweep-array.sbatch --array=0-2 on a 3-run sweep, task 1
#            interrupted as above and requeued alone, then sweep.sbatch -d
#            afterok:ARRAY writes ROOT/<sweep name>/summary.csv: 3 rows, all
#            done, equal to an uninterrupted sweep's but for wall_seconds;
#            every run's theta equal to that sweep's
#
# Determinism under any CPU load: an interrupted run is configured with 10^8
# generations.  Once it has written 3 metrics lines and both ranks have
# their signal handlers, the test freezes both ranks (SIGSTOP), fixes the
# generations left (run.generations = lines so far + 40, in the config file
# the next start reads; run.generations may change on --resume, and theta
# does not depend on it), lets the signal come (scancel, or SLURM's own
# timer) and waits until it is *pending* on every rank (/proc/PID/status),
# then SIGCONT.  So the signal provably lands mid-run, and the reference is
# the same config run uninterrupted.  (If SLURM's timer signal beat the
# freeze, the test lets that start finish its stop and freezes the next.)
# No verdict depends on timing; waits end on a state, with generous
# timeouts as a safety net only.
#
# Run by meson (suite e2e) as: e2e-slurm.sh RANDES_BINARY SOURCE_ROOT, or by
# hand as root: tests/e2e-slurm.sh build/randes .
# Exit: 0 pass, 1 fail, 77 "SKIP: reason" only when SLURM cannot start here
# at all (not root, packages not installable: scripts/slurm-local exit 3).
# Knobs: E2E_SLURM_DIR (state directory, default /tmp/randes-slurm-e2e),
# E2E_SLURM_CTLD_PORT/E2E_SLURM_SLURMD_PORT (26817/26818), KEEP_TMP=1.
set -euo pipefail
# shellcheck source=tests/slurm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/slurm/lib.sh"

RANDES_ARG=${1:?usage: e2e-slurm.sh RANDES_BINARY [SOURCE_ROOT]}
RANDES=$(cd "$(dirname "$RANDES_ARG")" && pwd)/$(basename "$RANDES_ARG")
[ -x "$RANDES" ] || { echo "e2e-slurm: $RANDES_ARG is not an executable" >&2; exit 1; }
export RANDES
SB=$REPO/scripts/slurm

# A private cluster: a developer's cluster under the default directory and
# ports is left alone, and a leftover of a killed earlier run is ours to stop.
export SLURM_LOCAL_DIR=${E2E_SLURM_DIR:-/tmp/randes-slurm-e2e}
export SLURM_LOCAL_CTLD_PORT=${E2E_SLURM_CTLD_PORT:-26817}
export SLURM_LOCAL_SLURMD_PORT=${E2E_SLURM_SLURMD_PORT:-26818}
export SLURM_LOCAL_LINK_ETC=0
# Enough CPUs for every job at once (they idle while frozen; env.sh keeps
# oversubscribed ranks yielding).
export SLURM_LOCAL_CPUS=20
unset RANDES_LAUNCHER RANDES_SRUN_MPI RANDES_LAUNCH_ARGS

e2e_finish() {
	local rc=$?
	if [ "${E2E_CLUSTER:-0}" = 1 ]; then
		"$SLURM_LOCAL" down --purge 9>&- >/dev/null 2>&1 ||
			echo "e2e-slurm: warning: slurm-local down failed"
	fi
	t_finish "$rc"
}
trap e2e_finish EXIT

# slurm-local would refuse too (exit 3), but the lock below may be root's.
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: SLURM cannot start here: scripts/slurm-local must run as root (munged and slurmd need it)"
	exit 77
fi
# Two runs of this test at once (two checkouts) would share the private
# cluster: take turns.
exec 9>"$SLURM_LOCAL_DIR.lock"
if ! flock -n 9; then
	note "waiting for another e2e-slurm run to finish (lock $SLURM_LOCAL_DIR.lock)"
	flock -w 1800 9 || abort "lock $SLURM_LOCAL_DIR.lock still held after 30 minutes"
fi

# The daemons must not inherit the lock (fd 9).
"$SLURM_LOCAL" down 9>&- >/dev/null 2>&1 || true
E2E_CLUSTER=1
rc=0
"$SLURM_LOCAL" up 9>&- || rc=$?
if [ "$rc" = 3 ]; then
	E2E_CLUSTER=0
	echo "SKIP: SLURM cannot start on this machine (scripts/slurm-local up said why, above)"
	exit 77
fi
[ "$rc" = 0 ] || abort "scripts/slurm-local up failed (exit $rc); logs in $SLURM_LOCAL_DIR/log"
# shellcheck source=/dev/null
. "$SLURM_LOCAL_DIR/env.sh"
export OPENBLAS_NUM_THREADS=1
t_tmpdir
cd "$T_TMP"

# ------------------------------------------------------------------ inputs
BIG=100000000
cat >short.yaml <<'YAML'
run: {name: e2e-short, seed: 4, generations: 30, checkpoint_every: 10, progress_seconds: 1000}
task: {kind: cycle_coloring, num_vertices: 10}
objective: {variant: q_R, q: 10, seeds: 2, inputs: 8}
es: {population: 12, sigma: 0.03, lr: 0.01}
eval: {seeds: 10, majority: [1, 5], max_inputs: 300}
YAML
sed -e 's/e2e-short/e2e-long/' -e "s/generations: 30/generations: $BIG/" \
	-e 's/checkpoint_every: 10/checkpoint_every: 0/' short.yaml >long.yaml
for n in srun mpirun tl; do cp long.yaml "long-$n.yaml"; done
sed 's/population: 12/population: 7/' short.yaml >bad.yaml
cat >base.yaml <<'YAML'
run: {seed: 1, generations: 30, checkpoint_every: 0, progress_seconds: 1000}
task: {kind: cycle_coloring, num_vertices: 6}
objective: {variant: q_R, q: 10, seeds: 2, inputs: 8}
es: {population: 8, sigma: 0.03, lr: 0.01}
eval: {seeds: 10, majority: [1, 5]}
YAML
cat >sweep.yaml <<YAML
name: arr
base: base.yaml
runs:
  - {name: a, run.seed: 1}
  - {name: b, run.seed: 2, run.generations: $BIG}
  - {name: c, run.seed: 3}
YAML
"$RANDES" check-config short.yaml >/dev/null || abort "short.yaml refused"
"$RANDES" check-config long.yaml >/dev/null || abort "long.yaml refused"
"$RANDES" sweep sweep.yaml --list --run-root root >sweep.list || abort "sweep.yaml refused"

# ------------------------------------------------------------------ submit
# sb NAME SBATCH-ARGS...: submit from T_TMP, output in NAME.out; prints the id.
sb() {
	local name=$1
	shift
	sbatch --parsable -J "e2e-$name" -o "$T_TMP/$name.out" "$@" | cut -d';' -f1
}
j_tl=$(sb tl -n 2 -t 1 --signal=B:USR1@40 "$SB/train.sbatch" long-tl.yaml run-tl)
j_rs=$(sb req-srun -n 2 "$SB/train.sbatch" long-srun.yaml run-req-srun)
j_rm=$(RANDES_LAUNCHER=mpirun sb req-mpirun -n 2 "$SB/train.sbatch" long-mpirun.yaml run-req-mpirun)
j_arr=$(sbatch --parsable -J e2e-array -o "$T_TMP/array-%a.out" --array=0-2 -n 2 \
	"$SB/sweep-array.sbatch" sweep.yaml root | cut -d';' -f1)
j_sum=$(sb summary -n 1 -d "afterok:$j_arr" "$SB/sweep.sbatch" sweep.yaml root)
j_ss=$(sb short-srun -n 2 "$SB/train.sbatch" short.yaml run-short-srun)
j_sm=$(RANDES_LAUNCHER=mpirun sb short-mpirun -n 2 "$SB/train.sbatch" short.yaml run-short-mpirun)
j_bad=$(sb bad -n 2 "$SB/train.sbatch" bad.yaml run-bad)
note "submitted timelimit=$j_tl req-srun=$j_rs req-mpirun=$j_rm array=$j_arr summary=$j_sum" \
	"short-srun=$j_ss short-mpirun=$j_sm bad=$j_bad"

# -------------------------------------------------------- interrupt mid-run
lines() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }

# ranks JOB: PIDs of the job's randes processes (srun tasks or mpirun's
# children), from the job's own process list.
ranks() {
	local p
	for p in $(scontrol listpids "$1" 2>/dev/null | awk 'NR > 1 { print $1 }'); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" != randes ] || echo "$p"
	done
}
# sigmask PID FIELD: the hex mask of FIELD (SigCgt, SigPnd, ShdPnd) as a number.
sigmask() {
	local v
	v=$(sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" 2>/dev/null)
	echo $((16#${v:-0}))
}
usr1_caught() { (($(sigmask "$1" SigCgt) & 0x200)); }
# stop_pending PID: a stop signal (USR1, USR2, TERM or INT) waits for the
# frozen process; the job scripts should only ever pass SIGUSR1 on, and
# the checks below tell which one came.
stop_pending() { ((($(sigmask "$1" SigPnd) | $(sigmask "$1" ShdPnd)) & 0x4a02)); }
# thaw "PID...": SIGCONT to each.
thaw() {
	local -a p
	read -r -a p <<<"$1"
	[ "${#p[@]}" = 0 ] || kill -CONT "${p[@]}" 2>/dev/null || true
}
stopped() {
	local st
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -z "$st" ] || [ "$st" = T ] || [ "$st" = Z ]
}
# this_start OUT: the output of the job's current start (from its last
# "start N:" line on).
this_start() { awk '/: start [0-9]+: /{ buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }' "$1"; }

# Interruptions: NAME JOBSPEC METRICS CONFIG OUT HOW(scancel|timer).
# The config line "generations: $BIG" (or run.generations: $BIG) becomes
# generations: G, G = metrics lines at the freeze + 40.
declare -A I_JOB I_METRICS I_CONF I_OUT I_HOW I_STATE I_PIDS I_G
I_NAMES=()
interrupt() {
	I_NAMES+=("$1")
	I_JOB[$1]=$2 I_METRICS[$1]=$3 I_CONF[$1]=$4 I_OUT[$1]=$5 I_HOW[$1]=$6
	I_STATE[$1]=run I_PIDS[$1]='' I_G[$1]=''
}
interrupt req-srun "$j_rs" run-req-srun/metrics.jsonl long-srun.yaml req-srun.out scancel
interrupt req-mpirun "$j_rm" run-req-mpirun/metrics.jsonl long-mpirun.yaml req-mpirun.out scancel
interrupt timelimit "$j_tl" run-tl/metrics.jsonl long-tl.yaml tl.out timer
interrupt array-1 "${j_arr}_1" root/arr/b/metrics.jsonl sweep.yaml array-1.out scancel

# step NAME: advance NAME's interruption by one state if it can.
step() {
	local n=$1 job st p
	local -a pids
	job=${I_JOB[$n]}
	st=$(job_field "$job" JobState)
	if job_final "$st"; then
		thaw "${I_PIDS[$n]}"
		if [ "${I_STATE[$n]}" != cont ]; then
			check "$n: interrupted mid-run (the job ended $st while the test was at step '${I_STATE[$n]}')" false
		fi
		I_STATE[$n]=over
		return
	fi
	read -r -a pids <<<"${I_PIDS[$n]}"
	case ${I_STATE[$n]} in
	run)
		mapfile -t pids < <(ranks "$(job_field "$job" JobId)")
		[ "${#pids[@]}" = 2 ] || return 0
		[ "$(lines "${I_METRICS[$n]}")" -ge 3 ] || return 0
		for p in "${pids[@]}"; do usr1_caught "$p" || return 0; done
		kill -STOP "${pids[@]}" 2>/dev/null || true
		I_PIDS[$n]="${pids[*]}"
		I_STATE[$n]=stopping
		;;
	stopping)
		for p in "${pids[@]}"; do stopped "$p" || return 0; done
		if this_start "${I_OUT[$n]}" | grep -q 'got SIGUSR1'; then
			# SLURM's timer was first: let this start stop on its own
			# and freeze the next one.
			note "$n: the signal came before the freeze; trying the next start"
			kill -CONT "${pids[@]}" 2>/dev/null || true
			I_STATE[$n]=gone
			return
		fi
		I_G[$n]=$(($(lines "${I_METRICS[$n]}") + 40))
		sed -i "s/generations: $BIG\\b/generations: ${I_G[$n]}/" "${I_CONF[$n]}"
		if [ "${I_HOW[$n]}" = scancel ]; then
			scancel --batch --signal=USR1 "$job"
		fi
		I_STATE[$n]=signalled
		;;
	signalled)
		for p in "${pids[@]}"; do
			[ -e "/proc/$p" ] || continue
			stop_pending "$p" || return 0
		done
		kill -CONT "${pids[@]}" 2>/dev/null || true
		I_STATE[$n]=cont
		;;
	gone)
		# until that start's ranks have exited
		for p in "${pids[@]}"; do
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" != randes ] || return 0
		done
		I_PIDS[$n]=''
		I_STATE[$n]=run
		;;
	esac
}

for ((i = 0; i < JOB_TIMEOUT * 4; i++)); do
	busy=0
	for n in "${I_NAMES[@]}"; do
		case ${I_STATE[$n]} in cont | over) continue ;; esac
		step "$n"
		case ${I_STATE[$n]} in cont | over) ;; *) busy=1 ;; esac
	done
	[ "$busy" = 1 ] || break
	sleep 0.25
done
for n in "${I_NAMES[@]}"; do
	case ${I_STATE[$n]} in
	cont | over) ;;
	*)
		thaw "${I_PIDS[$n]}"
		abort "$n: not interrupted after $JOB_TIMEOUT s (state ${I_STATE[$n]})"
		;;
	esac
done
note "interrupted: $(for n in "${I_NAMES[@]}"; do printf '%s (generations -> %s) ' "$n" "${I_G[$n]}"; done)"
# A run never interrupted still has 10^8 generations: nothing more to learn.
for n in "${I_NAMES[@]}"; do
	if [ -z "${I_G[$n]}" ]; then
		echo "     $n: the end of ${I_OUT[$n]}:"
		tail -n 15 "${I_OUT[$n]}" 2>/dev/null | sed 's/^/     | /'
		abort "$n was not interrupted mid-run; the checks after it need that"
	fi
done

# --------------------------------------------------------------- references
# The same configs, uninterrupted, in one process outside SLURM.
"$RANDES" train short.yaml --run-dir ref-short >ref-short.out 2>&1 || abort "reference short run failed"
for n in srun mpirun tl; do
	"$RANDES" train "long-$n.yaml" --run-dir "ref-$n" >"ref-$n.out" 2>&1 ||
		abort "reference run long-$n.yaml failed"
done
"$RANDES" sweep sweep.yaml --run-root ref-root >ref-sweep.out 2>&1 || abort "reference sweep failed"

# ------------------------------------------------------------------ checks
hashes() { grep -o '"theta_hash": "[0-9a-f]*"' "$1/metrics.jsonl" 2>/dev/null | cut -d'"' -f4; }
gens() { grep -o '"g": [0-9]*' "$1/metrics.jsonl" 2>/dev/null | cut -d' ' -f2 | tr '\n' ' '; }
upto() { seq 0 $(($1 - 1)) | tr '\n' ' '; }
jobcomp() { grep "^JobId=$1 " "$SLURM_LOCAL_DIR/log/jobcomp.log" | grep -o 'JobState=[A-Z]* .*ExitCode=[0-9:]*' | sed 's/JobState=\([A-Z]*\) .*ExitCode=/\1 /' | tr '\n' '|'; }
field_of() { grep -o "$2" "$1" 2>/dev/null | head -n1; }

# same_theta WHAT DIR REF: the theta_hash column, eval.json and the model.
same_theta() {
	check "$1: theta_hash of every generation equal to the uninterrupted run's" \
		equals "$(hashes "$2" | tr '\n' ' ')" "$(hashes "$3" | tr '\n' ' ')"
	check "$1: eval.json equal to the uninterrupted run's" cmp "$2/eval.json" "$3/eval.json"
	check "$1: model.safetensors equal to the uninterrupted run's" cmp "$2/model.safetensors" "$3/model.safetensors"
}

# complete_run WHAT DIR G: the files of a finished run directory.
complete_run() {
	local f
	for f in config.yaml metrics.jsonl checkpoint.bin model.safetensors eval.json; do
		check "$1: $2/$f written" test -s "$2/$f"
	done
	check "$1: metrics.jsonl holds generations 0..$(($3 - 1)), each once" equals "$(gens "$2")" "$(upto "$3")"
	check "$1: model.safetensors well formed, at generation $3" \
		/usr/bin/python3 "$REPO/tests/safetensors_check.py" "$2/model.safetensors" --quiet \
		--meta task=cycle_coloring --meta "generation=$3"
}

# short-srun, short-mpirun
for name in short-srun short-mpirun; do
	job=$j_ss
	[ "$name" = short-mpirun ] && job=$j_sm
	dir=run-$name
	res=$(wait_job "$job") || true
	check "$name: COMPLETED 0:0, no requeue (scontrol)" equals "$res" "COMPLETED 0:0 0"
	check "$name: jobcomp record COMPLETED 0:0" equals "$(jobcomp "$job")" "COMPLETED 0:0|"
	complete_run "$name" "$dir" 30
	check "$name: eval.json on 300 inputs x 10 seeds" equals \
		"$(field_of "$dir/eval.json" '"inputs":[0-9]*') $(field_of "$dir/eval.json" '"seeds":[0-9]*')" '"inputs":300 "seeds":10'
	check "$name: two ranks trained" contains "$name.out" "30 generations, 2 ranks, run dir $dir"
	check "$name: two ranks evaluated" contains "$name.out" "eval: 300 inputs x 10 seeds on 2 ranks"
	check "$name: one start, without --resume" equals \
		"$(grep -c ': start [0-9]*: ' "$name.out") $(grep -c -- '--resume' "$name.out")" "1 0"
	same_theta "$name" "$dir" ref-short
done
check "short-srun: launched by srun --mpi=pmix" contains short-srun.out "start 1: 2 tasks on .*: srun --mpi=pmix"
check "short-mpirun: launched by mpirun -np 2" contains short-mpirun.out "start 1: 2 tasks on .*: mpirun .* -np 2"

# bad
res=$(wait_job "$j_bad") || true
check "bad: refused config shows as FAILED 2:0, no requeue" equals "$res" "FAILED 2:0 0"
check "bad: the config error is in the job output" contains bad.out "es.population: expected"
check "bad: no run directory" test ! -e run-bad/checkpoint.bin

# req-srun, req-mpirun, timelimit
for name in req-srun req-mpirun timelimit; do
	case $name in
	req-srun) job=$j_rs dir=run-req-srun ref=ref-srun out=req-srun.out ;;
	req-mpirun) job=$j_rm dir=run-req-mpirun ref=ref-mpirun out=req-mpirun.out ;;
	timelimit) job=$j_tl dir=run-tl ref=ref-tl out=tl.out ;;
	esac
	G=${I_G[$name]}
	res=$(wait_job "$job") || true
	restarts=${res##* }
	if [ "$name" = timelimit ]; then
		check "$name: COMPLETED 0:0 after at least one requeue" equals \
			"${res% *} $([ "${restarts:-0}" -ge 1 ] 2>/dev/null && echo requeued)" "COMPLETED 0:0 requeued"
		check "$name: -t 1 is the job's limit" equals "$(job_field "$job" TimeLimit)" "00:01:00"
		check "$name: never reached the time limit" lacks "$out" "DUE TO TIME LIMIT"
	else
		check "$name: COMPLETED 0:0 after one requeue (scontrol Restarts=1)" equals "$res" "COMPLETED 0:0 1"
	fi
	check "$name: jobcomp records a requeue per start, then COMPLETED 0:0" equals \
		"$(jobcomp "$job")" "$(for ((r = 0; r < ${restarts:-0}; r++)); do printf 'PENDING 0:0|'; done)COMPLETED 0:0|"
	check "$name: every start but the last got SIGUSR1 in the batch shell" equals \
		"$(grep -c 'got SIGUSR1: sending SIGUSR1 to the launcher' "$out")" "${restarts:-x}"
	check "$name: every start but the last requeued itself" equals \
		"$(grep -c "clean stop after SIGUSR1: requeueing job $job" "$out")" "${restarts:-x}"
	check "$name: every start but the last: randes checkpointed on the signal" equals \
		"$(grep -c 'stop requested (signal): checkpoint written at generation' "$out")" "${restarts:-x}"
	check "$name: SLURM_RESTART_COUNT counted the starts (start 1..$((${restarts:-0} + 1)))" equals \
		"$(grep -o ': start [0-9]*: ' "$out" | tr -dc '0-9\n' | tr '\n' ' ')" "$(seq 1 $((${restarts:-0} + 1)) | tr '\n' ' ')"
	check "$name: the first start without --resume, every later one with it" equals \
		"$(grep ': start [0-9]*: ' "$out" | sed 's/.* --run-dir //' | tr '\n' '|')" \
		"$dir|$(for ((r = 0; r < ${restarts:-0}; r++)); do printf '%s --resume|' "$dir"; done)"
	# Each stop's generation is the next start's resume point.
	stops=$(grep -o 'checkpoint written at generation [0-9]*' "$out" | grep -o '[0-9]*$' | tr '\n' ' ') || true
	resumes=$(grep -o "resuming $dir at generation [0-9]*" "$out" | grep -o '[0-9]*$' | tr '\n' ' ') || true
	check "$name: resumed from the generation it checkpointed ($stops)" equals "$resumes" "$stops"
	mid=1
	for s in ${stops:-0}; do [ "$s" -ge 1 ] && [ "$s" -lt "${G:-0}" ] || mid=0; done
	check "$name: every stop was mid-run (1 <= generation < $G)" equals "$mid" 1
	complete_run "$name" "$dir" "$G"
	check "$name: every start ran two ranks" equals \
		"$(grep -c "generations, 2 ranks, run dir $dir" "$out")" "$((${restarts:-0} + 1))"
	same_theta "$name" "$dir" "$ref"
done
check "req-srun: launched by srun --mpi=pmix" contains req-srun.out "start 1: 2 tasks on .*: srun --mpi=pmix"
check "req-mpirun: launched by mpirun -np 2" contains req-mpirun.out "start 1: 2 tasks on .*: mpirun .* -np 2"
check "timelimit: launched by srun --mpi=pmix" contains tl.out "start 1: 2 tasks on .*: srun --mpi=pmix"

# array + summary
for t in 0 1 2; do
	want=0
	[ "$t" = 1 ] && want=1
	res=$(wait_job "${j_arr}_$t") || true
	check "array: task $t COMPLETED 0:0 with $want requeue(s)" equals "$res" "COMPLETED 0:0 $want"
	check "array: task $t ran --only $t" contains "array-$t.out" "sweep sweep.yaml --run-root root --only $t"
done
check "array: task 1 requeued itself after SIGUSR1" contains array-1.out "clean stop after SIGUSR1: requeueing job"
check "array: task 1 restarted (start 2) and resumed run b" equals \
	"$(grep -c ': start 2: ' array-1.out) $(grep -c 'resuming root/arr/b at generation' array-1.out)" "1 1"
check "array: tasks 0 and 2 ran once" equals "$(grep -c ': start ' array-0.out) $(grep -c ': start ' array-2.out)" "1 1"
res=$(wait_job "$j_sum") || true
check "array: the afterok summary job COMPLETED 0:0" equals "$res" "COMPLETED 0:0 0"
i=0
for r in a b c; do
	g=30
	[ "$r" = b ] && g=${I_G[array-1]}
	complete_run "array run $r" "root/arr/$r" "$g"
	same_theta "array run $r" "root/arr/$r" "ref-root/arr/$r"
	i=$((i + 1))
done
check "array: summary.csv is ROOT/<sweep name>/summary.csv (none in ROOT)" \
	test -s root/arr/summary.csv -a ! -e root/summary.csv
check "array: summary.csv has 3 rows: a, b, c, all done" equals \
	"$(/usr/bin/python3 -c 'import csv,sys; print(" ".join(r["index"]+":"+r["run"]+":"+r["status"] for r in csv.DictReader(open(sys.argv[1]))))' root/arr/summary.csv 2>&1)" \
	"0:a:done 1:b:done 2:c:done"
check "array: summary.csv equal to the uninterrupted sweep's but for wall_seconds" \
	/usr/bin/python3 - root/arr/summary.csv ref-root/arr/summary.csv <<'PY'
import csv, sys
a, b = ([{k: v for k, v in r.items() if k != "wall_seconds"} for r in csv.DictReader(open(p))] for p in sys.argv[1:3])
if a != b:
    print("     differs:", [(x, y) for x, y in zip(a, b) if x != y][:1])
    sys.exit(1)
PY
