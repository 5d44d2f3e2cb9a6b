/*
 * maxrss: runs a command and appends its peak resident set size to a file,
 * so that scripts/bench can report the memory of every MPI rank:
 *
 *     mpirun -np 2 maxrss OUT randes train ...
 *
 * appends one line per rank to OUT: "rank R maxrss_kb N status S cpu_s C
 * wall_s T", R from OMPI_COMM_WORLD_RANK (or PMI_RANK, or "-"), N the
 * child's ru_maxrss (getrusage/wait4: the peak RSS in KiB on Linux), S its
 * exit status, C its user + system CPU seconds and T the wall seconds it
 * ran: C / T is the share of a core the rank got (on a shared machine,
 * less than 1).
 * SIGINT, SIGTERM, SIGUSR1 and SIGUSR2 are passed on to the child.  Exits
 * with the child's status (128 + signal when it was killed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile pid_t child = -1;

static void forward(int sig)
{
	if (child > 0)
		kill(child, sig);
}

int main(int argc, char **argv)
{
	struct rusage ru;
	struct timespec t0, t1;
	int status = 0, code;
	const char *rank;
	FILE *f;

	if (argc < 3) {
		fprintf(stderr, "usage: maxrss OUTFILE COMMAND [ARGS...]\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	child = fork();
	if (child < 0) {
		perror("maxrss: fork");
		return 2;
	}
	if (child == 0) {
		execvp(argv[2], argv + 2);
		fprintf(stderr, "maxrss: %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	signal(SIGINT, forward);
	signal(SIGTERM, forward);
	signal(SIGUSR1, forward);
	signal(SIGUSR2, forward);
	while (wait4(child, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("maxrss: wait4");
			return 2;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	code = WIFEXITED(status) ? WEXITSTATUS(status)
				 : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	rank = getenv("OMPI_COMM_WORLD_RANK");
	if (!rank)
		rank = getenv("PMI_RANK");
	f = fopen(argv[1], "a");
	if (f) {
		fprintf(f, "rank %s maxrss_kb %ld status %d cpu_s %.3f "
			"wall_s %.3f\n", rank ? rank : "-", ru.ru_maxrss, code,
			(double)ru.ru_utime.tv_sec + 1e-6 * ru.ru_utime.tv_usec +
				(double)ru.ru_stime.tv_sec +
				1e-6 * ru.ru_stime.tv_usec,
			(double)(t1.tv_sec - t0.tv_sec) +
				1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
		fclose(f);
	} else {
		fprintf(stderr, "maxrss: %s: %s\n", argv[1], strerror(errno));
	}
	return code;
}
