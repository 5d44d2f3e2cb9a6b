/*
 * comm: the thin, checked layer over MPI that the master and the workers
 * share.  Every MPI call goes through COMM_CHECK, which names the call site
 * and the rank; the communicator is set to MPI_ERRORS_RETURN first so that
 * the checker actually sees errors instead of MPI aborting on its own.
 *
 * A fatal MPI error is logged and ends the whole job with MPI_Abort and exit
 * code 4 (RANDES_EXIT_MPI): an exit() on one rank would leave the others
 * blocked in a collective.
 */
#ifndef RANDES_COMM_H
#define RANDES_COMM_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

struct comm {
	MPI_Comm comm;
	int rank;
	int size;
	uint64_t bytes_sent;     /* payload bytes this rank put on the wire */
	uint64_t bytes_received; /* payload bytes this rank took off it     */
};

/* MPI_Init (if needed), MPI_ERRORS_RETURN on MPI_COMM_WORLD, rank/size.
 * Returns 0 or RANDES_EMPI with a message. */
int comm_init_world(struct comm *c, int *argc, char ***argv, char *err);

/* Wraps an existing communicator (e.g. a sweep group from MPI_Comm_split);
 * sets MPI_ERRORS_RETURN on it. */
int comm_wrap(struct comm *c, MPI_Comm mc, char *err);

/* MPI_Finalize if initialised and not finalised. */
void comm_finalize(void);

/* Logs "MPI error in <what> at file:line (rank r): <text>" and aborts the
 * job with exit code 4. */
_Noreturn void comm_fail(const struct comm *c, int mpi_rc, const char *what,
			 const char *file, int line);

#define COMM_CHECK(c, call)                                                \
	do {                                                               \
		int comm_rc_ = (call);                                     \
		if (comm_rc_ != MPI_SUCCESS)                               \
			comm_fail((c), comm_rc_, #call, __FILE__,          \
				  __LINE__);                               \
	} while (0)

/* Broadcast from rank 0 with byte accounting (bytes counted once per
 * receiving rank on the root's side, once on each receiver). */
void comm_bcast(struct comm *c, void *buf, size_t bytes);

/* Broadcast a NUL-terminated string owned by rank 0 into a malloc'd copy on
 * every rank (*s is replaced on non-roots; the root keeps its own).
 * Returns 0 or RANDES_ENOMEM. */
int comm_bcast_string(struct comm *c, char **s, char *err);

/* Logical OR of a flag over all ranks. */
int comm_any(struct comm *c, int flag);

/* Maximum of an int over all ranks (e.g. an error code: the most severe
 * has the largest exit code). */
int comm_max_int(struct comm *c, int v);

/* The contiguous block [*first, *first + *count) of `total` items assigned
 * to `rank` of `size` (sizes differ by at most one; lower ranks get the
 * extra items). */
void comm_block(size_t total, int rank, int size, size_t *first,
		size_t *count);

#endif
