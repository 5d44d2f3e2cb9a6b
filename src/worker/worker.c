/* worker: scores assigned pairs and gathers fitness (see worker.h). */
#include "worker.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/blas.h"
#include "common/err.h"
#include "common/log.h"
#include "common/rng.h"

/* Message tags of the dynamic assignment. */
enum {
	TAG_REQUEST = 101, /* worker -> 0: {chunk index done or -1, ...}   */
	TAG_RESULT = 102,  /* worker -> 0: 2 floats per pair of the chunk  */
	TAG_GRANT = 103,   /* 0 -> worker: chunk index to do, or -1        */
};

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int worker_init(struct worker *w, struct comm *comm, struct objective *obj,
		const struct config *cfg, char *err)
{
	size_t P = cfg->es.population;

	memset(w, 0, sizeof(*w));
	w->comm = comm;
	w->obj = obj;
	w->cfg = cfg;
	w->dim = objective_n_params(obj);
	w->pairs = P / 2;
	w->noise = malloc(sizeof(float) * w->dim);
	w->plus = malloc(sizeof(float) * w->dim);
	w->minus = malloc(sizeof(float) * w->dim);
	w->fitness = malloc(sizeof(float) * P);
	w->done = malloc(w->pairs);
	if (!w->noise || !w->plus || !w->minus || !w->fitness || !w->done)
		goto fail;
	if (comm->rank == 0) {
		w->reports = calloc((size_t)comm->size, sizeof(*w->reports));
		w->counts = calloc((size_t)comm->size, sizeof(int));
		w->displs = calloc((size_t)comm->size, sizeof(int));
		if (!w->reports || !w->counts || !w->displs)
			goto fail;
		/* Noise kept for the update (it would rebuild it otherwise),
		 * up to WORKER_KEEP_NOISE_BYTES: every pair's if it fits
		 * (its own pairs, and under static assignment the others'
		 * built while it waits for them, generation_static), else
		 * under static assignment its own block's. */
		w->keep_first = 0;
		w->keep_count = w->pairs;
		if (w->pairs * w->dim >
			    WORKER_KEEP_NOISE_BYTES / sizeof(float) &&
		    !(cfg->es.assign == ES_ASSIGN_DYNAMIC && comm->size > 1))
			comm_block(w->pairs, 0, comm->size, &w->keep_first,
				   &w->keep_count);
		if (w->keep_count * w->dim <=
		    WORKER_KEEP_NOISE_BYTES / sizeof(float)) {
			w->noise_kept = malloc(sizeof(float) *
					       (w->keep_count ? w->keep_count : 1) *
					       w->dim);
			w->kept = calloc(w->keep_count ? w->keep_count : 1, 1);
			if (!w->noise_kept || !w->kept)
				goto fail;
		}
		for (int r = 0; r < comm->size; r++) {
			size_t first, count;
			comm_block(w->pairs, r, comm->size, &first, &count);
			w->counts[r] = (int)(2 * count);
			w->displs[r] = (int)(2 * first);
		}
		/* Once per run: a BLAS far below the CPU (Debian's 0.3.21
		 * falls back to Prescott on CPUs it does not know). */
		char msg[RANDES_ERR_LEN];
		if (blas_core_check(msg, sizeof(msg)))
			log_msg(LOG_WARN, "%s", msg);
	}
	return 0;
fail:
	worker_free(w);
	return randes_errf(err, RANDES_ENOMEM,
			   "out of memory for the worker scratch (D = %zu)",
			   (size_t)objective_n_params(obj));
}

void worker_free(struct worker *w)
{
	if (!w)
		return;
	free(w->noise);
	free(w->plus);
	free(w->minus);
	free(w->fitness);
	free(w->done);
	free(w->noise_kept);
	free(w->kept);
	free(w->reports);
	free(w->counts);
	free(w->displs);
	memset(w, 0, sizeof(*w));
}

/* Scores pairs [k0, k0 + count) into w->fitness[2k], [2k + 1]. */
static int score_pairs(struct worker *w, const struct es_view *view,
		       size_t k0, size_t count, char *err)
{
	struct objective_score s;
	int rc;

	for (size_t k = k0; k < k0 + count; k++) {
		size_t slot = k - w->keep_first; /* wraps below the block */
		int keep = w->kept && slot < w->keep_count;
		float *noise = keep ? w->noise_kept + slot * w->dim : w->noise;

		es_member_pair(view, (uint32_t)k, noise, w->plus, w->minus);
		if (keep)
			w->kept[slot] = 1;
		rc = objective_score(w->obj, w->plus, &s, err);
		if (rc)
			return rc;
		w->fitness[2 * k] = (float)s.fitness;
		rc = objective_score(w->obj, w->minus, &s, err);
		if (rc)
			return rc;
		w->fitness[2 * k + 1] = (float)s.fitness;
		w->done[k] = 1;
	}
	return 0;
}

static int score_center(struct worker *w, const struct es_view *view,
			struct worker_report *rep, char *err)
{
	int rc = objective_score(w->obj, view->center, &rep->center, err);

	if (rc == 0)
		rep->has_center = 1;
	return rc;
}

/*
 * Rank 0, done with its own pairs, waits in the gather for the others (the
 * last rank also scores the centre: at least one member more).  Meanwhile
 * it builds the noise of their pairs for the update, one pair at a time,
 * until the gather completes: the update then rebuilds only the rest.
 * The noise is a pure function of (run seed, g, k), so which pairs get
 * built here changes the timing only, never a bit.
 */
static void prebuild_until(struct worker *w, const struct es_view *view,
			   size_t own_end, MPI_Request *req)
{
	struct comm *c = w->comm;
	int flag = 0;

	if (w->kept && w->keep_first == 0 && w->keep_count == w->pairs)
		for (size_t k = own_end; k < w->pairs; k++) {
			COMM_CHECK(c, MPI_Test(req, &flag, MPI_STATUS_IGNORE));
			if (flag)
				return;
			rng_normal_fill(view->run_seed, RNG_PURPOSE_NOISE,
					view->generation, (uint32_t)k,
					w->noise_kept + k * w->dim, w->dim);
			w->kept[k] = 1;
		}
	COMM_CHECK(c, MPI_Wait(req, MPI_STATUS_IGNORE));
}

/*
 * Static assignment: rank r scores the contiguous block comm_block(r) of
 * pairs; the last rank (which never holds more pairs than the others) also
 * scores the centre.  One Igatherv brings 2 floats per pair to rank 0,
 * which builds the others' noise while it waits (prebuild_until).
 */
static int generation_static(struct worker *w, const struct es_view *view,
			     struct worker_report *rep, float *fitness_out,
			     char *err)
{
	struct comm *c = w->comm;
	size_t first, count;
	double t0 = now_seconds(), t1;
	MPI_Request req;
	int rc;

	comm_block(w->pairs, c->rank, c->size, &first, &count);
	rc = score_pairs(w, view, first, count, err);
	if (rc == 0 && c->rank == c->size - 1)
		rc = score_center(w, view, rep, err);
	rep->members = (uint32_t)(2 * count);
	rep->error = rc;
	t1 = now_seconds();
	rep->t_eval = t1 - t0;
	COMM_CHECK(c, MPI_Igatherv(w->fitness + 2 * first, (int)(2 * count),
				   MPI_FLOAT, fitness_out, w->counts,
				   w->displs, MPI_FLOAT, 0, c->comm, &req));
	if (c->rank == 0 && c->size > 1)
		prebuild_until(w, view, first + count, &req);
	else
		COMM_CHECK(c, MPI_Wait(&req, MPI_STATUS_IGNORE));
	if (c->rank != 0)
		c->bytes_sent += 2 * count * sizeof(float);
	else
		for (int r = 1; r < c->size; r++)
			c->bytes_received += (uint64_t)w->counts[r] * sizeof(float);
	rep->t_wait = now_seconds() - t1;
	return rc;
}

/*
 * Dynamic assignment: chunks of es.chunk_pairs pairs.  Workers ask rank 0
 * for a chunk, score it, and send the scores back with the next request.
 * Rank 0 scores chunks itself and answers requests between its chunks.
 * The centre is scored by rank 0 after the last chunk is handed out.
 */
static int generation_dynamic(struct worker *w, const struct es_view *view,
			      struct worker_report *rep, float *fitness_out,
			      char *err)
{
	struct comm *c = w->comm;
	size_t chunk = w->cfg->es.chunk_pairs ? w->cfg->es.chunk_pairs : 1;
	size_t n_chunks = (w->pairs + chunk - 1) / chunk;
	double t_eval = 0, t_wait = 0, t;
	int rc = 0;

	if (c->rank != 0) {
		int64_t msg[2] = {-1, 0}; /* {chunk done, error} */
		for (;;) {
			int64_t grant;
			t = now_seconds();
			COMM_CHECK(c, MPI_Send(msg, 2, MPI_INT64_T, 0,
					       TAG_REQUEST, c->comm));
			if (msg[0] >= 0) {
				size_t k0 = (size_t)msg[0] * chunk;
				size_t n = k0 + chunk > w->pairs ? w->pairs - k0
								 : chunk;
				COMM_CHECK(c, MPI_Send(w->fitness + 2 * k0,
						       (int)(2 * n), MPI_FLOAT,
						       0, TAG_RESULT, c->comm));
				c->bytes_sent += 2 * n * sizeof(float);
			}
			COMM_CHECK(c, MPI_Recv(&grant, 1, MPI_INT64_T, 0,
					       TAG_GRANT, c->comm,
					       MPI_STATUS_IGNORE));
			t_wait += now_seconds() - t;
			if (grant < 0)
				break;
			size_t k0 = (size_t)grant * chunk;
			size_t n = k0 + chunk > w->pairs ? w->pairs - k0 : chunk;
			t = now_seconds();
			if (rc == 0)
				rc = score_pairs(w, view, k0, n, err);
			t_eval += now_seconds() - t;
			rep->members += (uint32_t)(2 * n);
			msg[0] = grant;
			msg[1] = rc;
		}
	} else {
		size_t next = 0, active = (size_t)c->size - 1;

		memset(w->done, 0, w->pairs);
		while (next < n_chunks || active > 0) {
			/* Serve every waiting request first: an idle
			 * worker costs more than a late chunk here. */
			int flag = 1;
			while (flag) {
				MPI_Status st;
				t = now_seconds();
				COMM_CHECK(c, MPI_Iprobe(MPI_ANY_SOURCE,
							 TAG_REQUEST, c->comm,
							 &flag, &st));
				if (!flag && next >= n_chunks && active > 0) {
					/* Nothing left to score here: wait. */
					COMM_CHECK(c, MPI_Probe(MPI_ANY_SOURCE,
								TAG_REQUEST,
								c->comm, &st));
					flag = 1;
				}
				if (flag) {
					int64_t msg[2], grant;
					int src = st.MPI_SOURCE;
					COMM_CHECK(c, MPI_Recv(msg, 2,
							       MPI_INT64_T, src,
							       TAG_REQUEST,
							       c->comm,
							       MPI_STATUS_IGNORE));
					if (msg[0] >= 0) {
						size_t k0 = (size_t)msg[0] *
							    chunk;
						size_t n = k0 + chunk > w->pairs
								   ? w->pairs - k0
								   : chunk;
						COMM_CHECK(c,
							   MPI_Recv(w->fitness +
									    2 * k0,
								    (int)(2 * n),
								    MPI_FLOAT, src,
								    TAG_RESULT,
								    c->comm,
								    MPI_STATUS_IGNORE));
						memset(w->done + k0, 1, n);
						c->bytes_received +=
							2 * n * sizeof(float);
					}
					if (msg[1] != 0 && rc == 0)
						rc = (int)msg[1];
					if (next < n_chunks && rc == 0) {
						grant = (int64_t)next++;
					} else {
						grant = -1;
						active--;
					}
					COMM_CHECK(c, MPI_Send(&grant, 1,
							       MPI_INT64_T, src,
							       TAG_GRANT,
							       c->comm));
				}
				t_wait += now_seconds() - t;
				if (active == 0 && next >= n_chunks)
					break;
			}
			if (rc != 0) {
				/* An error anywhere: hand out nothing more. */
				next = n_chunks;
			} else if (next < n_chunks) {
				size_t k0 = next++ * chunk;
				size_t n = k0 + chunk > w->pairs ? w->pairs - k0
								 : chunk;
				t = now_seconds();
				rc = score_pairs(w, view, k0, n, err);
				t_eval += now_seconds() - t;
				rep->members += (uint32_t)(2 * n);
			}
		}
		t = now_seconds();
		if (rc == 0)
			rc = score_center(w, view, rep, err);
		t_eval += now_seconds() - t;
		if (rc == 0)
			for (size_t k = 0; k < w->pairs; k++)
				RANDES_ASSERT(w->done[k]);
		memcpy(fitness_out, w->fitness,
		       sizeof(float) * 2 * w->pairs);
	}
	rep->t_eval = t_eval;
	rep->t_wait = t_wait;
	rep->error = rc;
	return rc;
}

const float *worker_pair_noise(const void *ctx, size_t k)
{
	const struct worker *w = ctx;

	size_t slot = k - w->keep_first;

	RANDES_ASSERT(k < w->pairs);
	return w->kept && slot < w->keep_count && w->kept[slot]
		       ? w->noise_kept + slot * w->dim
		       : NULL;
}

int worker_generation(struct worker *w, const struct es_view *view,
		      int stop_signal, float *fitness_out,
		      struct objective_score *center, char *err)
{
	struct comm *c = w->comm;
	struct worker_report rep;
	int rc, worst;

	memset(&rep, 0, sizeof(rep));
	rep.stop_signal = stop_signal ? 1 : 0;
	if (err)
		err[0] = '\0';
	if (w->kept)
		memset(w->kept, 0, w->keep_count);
	rc = objective_prepare(w->obj, view->generation, err);
	if (rc == 0) {
		if (w->cfg->es.assign == ES_ASSIGN_DYNAMIC && c->size > 1)
			rc = generation_dynamic(w, view, &rep, fitness_out, err);
		else
			rc = generation_static(w, view, &rep, fitness_out, err);
	} else {
		rep.error = rc;
		/* Keep the collective pattern: an empty contribution. */
		if (!(w->cfg->es.assign == ES_ASSIGN_DYNAMIC && c->size > 1))
			COMM_CHECK(c, MPI_Gatherv(w->fitness, 0, MPI_FLOAT,
						  fitness_out, w->counts,
						  w->displs, MPI_FLOAT, 0,
						  c->comm));
	}
	COMM_CHECK(c, MPI_Gather(&rep, (int)sizeof(rep), MPI_BYTE, w->reports,
				 (int)sizeof(rep), MPI_BYTE, 0, c->comm));
	if (c->rank != 0)
		c->bytes_sent += sizeof(rep);
	else
		c->bytes_received += sizeof(rep) * (uint64_t)(c->size - 1);
	if (c->rank == 0) {
		for (int r = 0; r < c->size; r++)
			if (w->reports[r].has_center && center)
				*center = w->reports[r].center;
	}
	/* Every rank learns the most severe error (the most negative code). */
	worst = -comm_max_int(c, -rc);
	return worst;
}

const struct worker_report *worker_reports(const struct worker *w)
{
	return w->reports;
}
