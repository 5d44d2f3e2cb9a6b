/*
 * maxrss: runs a command and appends its peak resident set size to a file,
 * so that scripts/bench can report the memory of every MPI rank:
 *
 *     mpirun -np 2 maxrss OUT randes train ...
 *
 * appends one line per rank to OUT: "rank R maxrss_kb N status S", R from
 * OMPI_COMM_WORLD_RANK (or PMI_RANK, or "-"), N the child's ru_maxrss
 * (getrusage/wait4: the peak RSS in KiB on Linux), S its exit status.
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
	int status = 0, code;
	const char *rank;
	FILE *f;

	if (argc < 3) {
		fprintf(stderr, "usage: maxrss OUTFILE COMMAND [ARGS...]\n");
		return 2;
	}
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
	code = WIFEXITED(status) ? WEXITSTATUS(status)
				 : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	rank = getenv("OMPI_COMM_WORLD_RANK");
	if (!rank)
		rank = getenv("PMI_RANK");
	f = fopen(argv[1], "a");
	if (f) {
		fprintf(f, "rank %s maxrss_kb %ld status %d\n", rank ? rank : "-",
			ru.ru_maxrss, code);
		fclose(f);
	} else {
		fprintf(stderr, "maxrss: %s: %s\n", argv[1], strerror(errno));
	}
	return code;
}
