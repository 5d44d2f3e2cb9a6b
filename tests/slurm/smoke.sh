#!/usr/bin/env bash
# tests/slurm/smoke.sh: SLURM + Open MPI on this machine, end to end, with a
# tiny MPI program instead of randes.  Brings the local SLURM up
# (scripts/slurm-local), submits 2-task batch jobs, waits with
# scontrol/squeue, checks outputs and exit codes, and takes SLURM down at the
# end if it was not up before.
#
#   a  srun --mpi=pmix launches both ranks (Allreduce of the ranks is right)
#   b  mpirun inside the allocation launches both ranks
#   c  pre-termination path, srun and mpirun: `scancel --batch --signal=USR1`
#      reaches only the batch shell (as --signal=B:USR1@N does); its trap
#      forwards to the launcher, every rank gets the signal, the ranks agree
#      through an Allreduce'd flag, rank 0 writes a "checkpoint", all exit 0
#   d  the same, then `scontrol requeue $SLURM_JOB_ID` from inside the job: the
#      job starts again with SLURM_RESTART_COUNT=1, reads the checkpoint, and
#      the output of both starts is kept (--open-mode=append)
#   e  a job script's exit status is what SLURM reports (FAILED, 3:0)
#
# The signal is sent only once the ranks report ready, never after a sleep,
# so no outcome depends on timing.  Run as root:  tests/slurm/smoke.sh
# Exit: 0 pass, 1 fail, 77 SLURM cannot start here (prints SKIP: reason).
set -euo pipefail
# shellcheck source=tests/slurm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

slurm_begin
t_tmpdir
cd "$T_TMP"

cat >mpi-smoke.c <<'EOF'
/* mpi-smoke: "hello" checks an Allreduce over all ranks; "loop DIR" waits
 * for SIGUSR1/SIGTERM, agreeing on a stop through an Allreduce'd flag so
 * that every rank stops at the same iteration, as randes does. */
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

static void write_file(const char *dir, const char *name, long value)
{
	char tmp[4096], path[4096];
	FILE *f;

	snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "iteration %ld\n", value) < 0 || fclose(f) != 0 ||
	    rename(tmp, path) != 0) {
		perror(path);
		MPI_Abort(MPI_COMM_WORLD, 3);
	}
}

int main(int argc, char **argv)
{
	int rank, size, sum = 0;
	struct sigaction sa;
	struct timespec pause = {0, 100000000};
	long it;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
	printf("rank %d of %d: sum of ranks %d, job %s\n", rank, size, sum,
	       getenv("SLURM_JOB_ID") ? getenv("SLURM_JOB_ID") : "-");
	fflush(stdout);
	if (sum != size * (size - 1) / 2)
		MPI_Abort(MPI_COMM_WORLD, 1);
	if (argc < 3 || strcmp(argv[1], "loop") != 0) {
		MPI_Finalize();
		return 0;
	}

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* Every rank has its handler before anyone is told we are ready. */
	MPI_Barrier(MPI_COMM_WORLD);
	if (rank == 0)
		write_file(argv[2], "ready", 0);

	for (it = 0; it < 6000; it++) {
		int mine = got_signal, any = 0;

		MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
		if (any) {
			printf("rank %d stops at iteration %ld: signal %d, own %d\n",
			       rank, it, any, mine);
			fflush(stdout);
			if (rank == 0)
				write_file(argv[2], "checkpoint", it);
			MPI_Finalize();
			return 0;
		}
		nanosleep(&pause, NULL);
	}
	fprintf(stderr, "rank %d: no signal within 10 minutes\n", rank);
	MPI_Abort(MPI_COMM_WORLD, 1);
	return 1;
}
EOF
mpicc -O2 -Wall -o mpi-smoke mpi-smoke.c || abort "mpicc failed"

# The trap-and-wait loop of scripts/slurm/*.sbatch, in small: bash runs a trap
# only between commands, so the launcher runs in the background.
cat >signal-job.sh <<'EOF'
#!/bin/bash
# signal-job.sh LAUNCHER DIR [requeue]
launcher=$1 dir=$2 mode=${3:-}
echo "batch: start, restart count ${SLURM_RESTART_COUNT:-0}"
if [ "${SLURM_RESTART_COUNT:-0}" -gt 0 ]; then
	echo "batch: resumed from $(cat "$dir/checkpoint")"
	exec srun --mpi=pmix ./mpi-smoke hello
fi
child= got=
forward() {
	got=$1
	echo "batch: got SIG$1"
	[ -n "$child" ] && kill -s "$1" "$child" 2>/dev/null
}
trap 'forward USR1' USR1
trap 'forward TERM' TERM
case $launcher in
srun) srun --mpi=pmix ./mpi-smoke loop "$dir" & ;;
mpirun) mpirun ./mpi-smoke loop "$dir" & ;;
esac
child=$!
while :; do
	wait "$child"
	rc=$?
	kill -0 "$child" 2>/dev/null || break
done
echo "batch: launcher exited $rc"
if [ "$mode" = requeue ] && [ "$rc" = 0 ] && [ "$got" = USR1 ] &&
	[ -s "$dir/checkpoint" ]; then
	echo "batch: checkpoint written, requeueing"
	scontrol requeue "$SLURM_JOB_ID" || exit 1
fi
exit "$rc"
EOF
chmod +x signal-job.sh

submit() {   # submit NAME SCRIPT ARGS...: job id; output in NAME.out
	local name=$1
	shift
	sbatch --parsable -J "smoke-$name" -n 2 -o "$T_TMP/$name.out" \
		-D "$T_TMP" "$@" | cut -d';' -f1
}

mkdir c-srun c-mpirun d
ja=$(submit a --wrap 'srun --mpi=pmix ./mpi-smoke hello')
jb=$(submit b --wrap 'mpirun ./mpi-smoke hello')
jcs=$(submit c-srun ./signal-job.sh srun "$T_TMP/c-srun")
jcm=$(submit c-mpirun ./signal-job.sh mpirun "$T_TMP/c-mpirun")
jd=$(submit d --requeue --open-mode=append ./signal-job.sh srun "$T_TMP/d" requeue)
je=$(submit e --wrap 'echo failing on purpose; exit 3')
note "submitted a=$ja b=$jb c-srun=$jcs c-mpirun=$jcm d=$jd e=$je"

# Signal each loop job once its ranks are ready.
for pair in "$jcs:c-srun" "$jcm:c-mpirun" "$jd:d"; do
	job=${pair%%:*}
	name=${pair#*:}
	if wait_file "$job" "$T_TMP/$name/ready"; then
		scancel --batch --signal=USR1 "$job"
	else
		check "$name: ranks became ready" false
	fi
done

res=$(wait_job "$ja") || true
check "a: srun --mpi=pmix job COMPLETED 0:0" equals "$res" "COMPLETED 0:0 0"
check "a: rank 0 of 2 with the right sum" contains a.out "rank 0 of 2: sum of ranks 1"
check "a: rank 1 of 2 with the right sum" contains a.out "rank 1 of 2: sum of ranks 1"

res=$(wait_job "$jb") || true
check "b: mpirun job COMPLETED 0:0" equals "$res" "COMPLETED 0:0 0"
check "b: rank 0 of 2 with the right sum" contains b.out "rank 0 of 2: sum of ranks 1"
check "b: rank 1 of 2 with the right sum" contains b.out "rank 1 of 2: sum of ranks 1"

for name in c-srun c-mpirun; do
	job=$jcs
	[ "$name" = c-mpirun ] && job=$jcm
	res=$(wait_job "$job") || true
	check "$name: stopped job COMPLETED 0:0, no requeue" equals "$res" "COMPLETED 0:0 0"
	check "$name: the batch shell got USR1 once" count_is "$name.out" "batch: got SIGUSR1" 1
	check "$name: rank 0 got USR1 itself" contains "$name.out" "rank 0 stops at iteration [0-9]*: signal 10, own 10"
	check "$name: rank 1 got USR1 itself" contains "$name.out" "rank 1 stops at iteration [0-9]*: signal 10, own 10"
	check "$name: checkpoint written" test -s "$name/checkpoint"
	check "$name: launcher exit status 0" contains "$name.out" "batch: launcher exited 0"
done
# Both ranks stop at the same iteration: the flag is agreed, not local.
for name in c-srun c-mpirun; do
	its=$(sed -n 's/^rank [01] stops at iteration \([0-9]*\):.*/\1/p' "$name.out" | sort -u | wc -l)
	check "$name: both ranks stopped at the same iteration" equals "$its" 1
done

res=$(wait_job "$jd") || true
check "d: requeued job COMPLETED 0:0 after 1 restart" equals "$res" "COMPLETED 0:0 1"
check "d: first start logged (append kept it)" contains d.out "batch: start, restart count 0"
check "d: requeue requested after the checkpoint" contains d.out "batch: checkpoint written, requeueing"
check "d: second start sees SLURM_RESTART_COUNT=1" contains d.out "batch: start, restart count 1"
ckpt=$(cat d/checkpoint 2>/dev/null || echo missing)
check "d: second start read the checkpoint" contains d.out "batch: resumed from $ckpt"
check "d: second start ran MPI again" contains d.out "rank 1 of 2: sum of ranks 1"

res=$(wait_job "$je") || true
check "e: exit 3 shows as FAILED 3:0" equals "$res" "FAILED 3:0 0"

check "jobcomp log has a record of every job" test \
	"$(grep -c -E "JobId=($ja|$jb|$jcs|$jcm|$jd|$je) " "$(dirname "$SLURM_CONF")/../log/jobcomp.log")" -ge 6
