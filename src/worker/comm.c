/* comm: checked MPI helpers (see comm.h). */
#include "comm.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"

int comm_init_world(struct comm *c, int *argc, char ***argv, char *err)
{
	int inited = 0, rc;

	memset(c, 0, sizeof(*c));
	MPI_Initialized(&inited);
	if (!inited) {
		rc = MPI_Init(argc, argv);
		if (rc != MPI_SUCCESS)
			return randes_errf(err, RANDES_EMPI,
					   "MPI_Init failed (code %d)", rc);
	}
	return comm_wrap(c, MPI_COMM_WORLD, err);
}

int comm_wrap(struct comm *c, MPI_Comm mc, char *err)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->comm = mc;
	rc = MPI_Comm_set_errhandler(mc, MPI_ERRORS_RETURN);
	if (rc == MPI_SUCCESS)
		rc = MPI_Comm_rank(mc, &c->rank);
	if (rc == MPI_SUCCESS)
		rc = MPI_Comm_size(mc, &c->size);
	if (rc != MPI_SUCCESS)
		return randes_errf(err, RANDES_EMPI,
				   "cannot set up the MPI communicator (code %d)",
				   rc);
	return 0;
}

void comm_finalize(void)
{
	int inited = 0, finalized = 0;

	MPI_Initialized(&inited);
	MPI_Finalized(&finalized);
	if (inited && !finalized)
		MPI_Finalize();
}

void comm_fail(const struct comm *c, int mpi_rc, const char *what,
	       const char *file, int line)
{
	char text[MPI_MAX_ERROR_STRING] = "";
	int len = 0;

	MPI_Error_string(mpi_rc, text, &len);
	log_msg(LOG_ERROR, "MPI error in %s at %s:%d (rank %d of %d): %s", what,
		file, line, c ? c->rank : -1, c ? c->size : -1, text);
	MPI_Abort(c ? c->comm : MPI_COMM_WORLD, RANDES_EXIT_MPI);
	/* MPI_Abort should not return; make sure the exit code is right
	 * even if it does. */
	exit(RANDES_EXIT_MPI);
}

void comm_bcast(struct comm *c, void *buf, size_t bytes)
{
	/* MPI counts are int: split huge buffers into 1 GiB pieces. */
	const size_t piece = (size_t)1 << 30;
	char *p = buf;

	for (size_t done = 0; done < bytes; done += piece) {
		size_t n = bytes - done < piece ? bytes - done : piece;
		COMM_CHECK(c, MPI_Bcast(p + done, (int)n, MPI_BYTE, 0, c->comm));
	}
	if (c->rank == 0)
		c->bytes_sent += (uint64_t)bytes * (uint64_t)(c->size - 1);
	else
		c->bytes_received += bytes;
}

int comm_bcast_string(struct comm *c, char **s, char *err)
{
	uint64_t len = 0;

	if (c->rank == 0)
		len = strlen(*s) + 1;
	comm_bcast(c, &len, sizeof(len));
	if (c->rank != 0) {
		*s = malloc(len);
		if (!*s)
			return randes_errf(err, RANDES_ENOMEM,
					   "out of memory receiving %llu bytes",
					   (unsigned long long)len);
	}
	comm_bcast(c, *s, len);
	return 0;
}

int comm_any(struct comm *c, int flag)
{
	int in = flag ? 1 : 0, out = 0;

	COMM_CHECK(c, MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_MAX, c->comm));
	return out;
}

int comm_max_int(struct comm *c, int v)
{
	int out = 0;

	COMM_CHECK(c, MPI_Allreduce(&v, &out, 1, MPI_INT, MPI_MAX, c->comm));
	return out;
}

void comm_block(size_t total, int rank, int size, size_t *first,
		size_t *count)
{
	size_t r = (size_t)rank, s = (size_t)size;
	size_t base = total / s, extra = total % s;

	*count = base + (r < extra ? 1 : 0);
	*first = r * base + (r < extra ? r : extra);
}
