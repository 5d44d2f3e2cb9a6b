/*
 * task: the generic half of the task interface (task.h): creation by kind,
 * input buffers, workspaces, and the chunking of task_run.  The tasks
 * themselves live in associative_recall.c, cycle_coloring.c, gridworld.c and
 * testfn.c.
 */
#include "common/tasks/task.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

static const struct task_ops *ops_for(enum task_kind kind)
{
	switch (kind) {
	case TASK_KIND_ASSOCIATIVE_RECALL:
		return &task_ops_associative_recall;
	case TASK_KIND_CYCLE_COLORING:
		return &task_ops_cycle_coloring;
	case TASK_KIND_GRIDWORLD:
		return &task_ops_gridworld;
	case TASK_KIND_SPHERE:
		return &task_ops_sphere;
	case TASK_KIND_RASTRIGIN:
		return &task_ops_rastrigin;
	}
	return NULL;
}

int task_new(struct task **out, const struct config *cfg, char *err)
{
	struct task *t = NULL;
	const struct task_ops *ops = ops_for(cfg->task.kind);
	int rc;

	*out = NULL;
	if (!ops) {
		rc = randes_errf(err, RANDES_ECONFIG,
				 "task.kind: unknown task kind %d",
				 (int)cfg->task.kind);
		goto fail;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		rc = randes_errf(err, RANDES_ENOMEM, "task: out of memory");
		goto fail;
	}
	t->ops = ops;
	t->kind = cfg->task.kind;
	rc = ops->init(t, cfg, err);
	if (rc < 0)
		goto fail;
	*out = t;
	return 0;
fail:
	free(t);
	return rc;
}

void task_free(struct task *t)
{
	free(t);
}

const char *task_name(const struct task *t)
{
	return t->ops->name;
}

size_t task_eval_label_names(const struct task *t, const char *const **names)
{
	size_t n = 0;

	if (t->ops->eval_labels)
		while (n < TASK_EVAL_LABELS && t->ops->eval_label_names[n])
			n++;
	if (names)
		*names = t->ops->eval_label_names;
	return n;
}

void task_eval_labels(const struct task *t, uint64_t k, uint64_t *v)
{
	if (t->ops->eval_labels)
		t->ops->eval_labels(t, k, v);
}

int task_check_model(const struct task *t, const struct model *m, char *err)
{
	const struct model_spec *sp = &m->spec;

	if (!t->has_model)
		return 0;
	if (t->kind == TASK_KIND_GRIDWORLD &&
	    sp->rse_placement != RSE_PLACEMENT_FIRST_TOKEN)
		return randes_errf(err, RANDES_ECONFIG,
				   "model.seed_encoding.placement: gridworld "
				   "needs first_token (the seed token's logits "
				   "choose the first move)");
	if (t->kind == TASK_KIND_GRIDWORLD && t->io.mask != MODEL_MASK_CAUSAL)
		return randes_errf(err, RANDES_ECONFIG,
				   "gridworld: roll-outs need a causal mask");
	if (t->mask_len && sp->seq_total != t->mask_len)
		return randes_errf(err, RANDES_ECONFIG,
				   "model.seed_encoding.placement: %s gives "
				   "its graph mask over its %zu tokens; a "
				   "first_token seed would add a position",
				   t->ops->name, t->mask_len);
	return 0;
}

size_t task_train_count(const struct task *t, const struct config *cfg)
{
	if (!t->has_model)
		return 1;
	if (cfg->objective.adversary == ADVERSARY_EXHAUSTIVE)
		return (size_t)t->n_adversary;
	return cfg->objective.inputs;
}

struct task_inputs *task_inputs_new(const struct task *t, size_t cap)
{
	struct task_inputs *in = calloc(1, sizeof(*in));
	const struct model_io *io = &t->io;
	size_t c = cap ? cap : 1;

	if (!in)
		return NULL;
	in->cap = cap;
	if (t->kind != TASK_KIND_GRIDWORLD && io->feat) {
		in->feat = calloc(c * io->seq_len * io->feat, sizeof(float));
		if (!in->feat)
			goto fail;
	}
	if (t->kind != TASK_KIND_GRIDWORLD && io->n_index) {
		in->index = calloc(c * io->seq_len * io->n_index,
				   sizeof(int32_t));
		if (!in->index)
			goto fail;
	}
	if (t->mask_len) {
		in->mask = calloc(c * t->mask_len * t->mask_len, 1);
		if (!in->mask)
			goto fail;
	}
	in->target = calloc(c * (t->target_len ? t->target_len : 1),
			    sizeof(uint32_t));
	if (!in->target)
		goto fail;
	return in;
fail:
	task_inputs_free(in);
	return NULL;
}

void task_inputs_free(struct task_inputs *in)
{
	if (!in)
		return;
	free(in->feat);
	free(in->index);
	free(in->mask);
	free(in->target);
	free(in);
}

void task_fill_train(const struct task *t, uint64_t run_seed, uint32_t g,
		     int exhaustive, struct task_inputs *in, size_t count)
{
	RANDES_ASSERT(count <= in->cap);
	if (exhaustive)
		RANDES_ASSERT(count <= t->n_adversary);
	for (size_t k = 0; k < count; k++)
		t->ops->make_train(t, run_seed, g, k, exhaustive, in, k);
	in->n = count;
}

void task_fill_eval(const struct task *t, uint64_t run_seed, uint64_t k,
		    struct task_inputs *in, size_t slot)
{
	RANDES_ASSERT(slot < in->cap);
	RANDES_ASSERT(k < t->n_eval_full);
	t->ops->make_eval(t, run_seed, k, in, slot);
	if (in->n < slot + 1)
		in->n = slot + 1;
}

struct task_ws *task_ws_new(const struct task *t, const struct model *m,
			    size_t max_seqs)
{
	struct task_ws *ws = calloc(1, sizeof(*ws));
	size_t cap = max_seqs ? max_seqs : 1;

	if (!ws)
		return NULL;
	ws->cap = cap;
	if (!t->has_model)
		return ws;
	RANDES_ASSERT(m != NULL);
	/* One-shot tasks: model_forward chunks a call itself, so its
	 * activations need only a cache-sized chunk; roll-outs keep all of a
	 * call's sequences in the KV cache. */
	ws->mws = model_ws_new(m, t->kind == TASK_KIND_GRIDWORLD ||
					  cap < MODEL_WS_CHUNK_SEQS
				  ? cap : MODEL_WS_CHUNK_SEQS);
	ws->logits = calloc(cap * t->dump_rows * t->io.out_dim,
			    sizeof(float));
	if (!ws->mws || !ws->logits)
		goto fail;
	/* task.coloring_numerics: float also takes the model's last layer
	 * in its faster Gram form */
	if (t->kind == TASK_KIND_CYCLE_COLORING && t->coloring_float &&
	    model_ws_set_gram(ws->mws, 1) < 0)
		goto fail;
	if (t->kind == TASK_KIND_GRIDWORLD) {
		size_t S = m->spec.seed_size;
		ws->seed_rows = calloc(cap * S, sizeof(float));
		ws->feat = calloc(cap * t->io.feat, sizeof(float));
		ws->index = calloc(cap * t->io.n_index, sizeof(int32_t));
		ws->state = calloc(cap, sizeof(*ws->state));
		ws->bad = calloc(cap, 1);
		ws->hash = calloc(cap, sizeof(uint64_t));
		if (!ws->seed_rows || !ws->feat || !ws->index ||
		    !ws->state || !ws->bad || !ws->hash)
			goto fail;
	}
	return ws;
fail:
	task_ws_free(ws);
	return NULL;
}

void task_ws_free(struct task_ws *ws)
{
	if (!ws)
		return;
	model_ws_free(ws->mws);
	free(ws->logits);
	free(ws->seed_rows);
	free(ws->feat);
	free(ws->index);
	free(ws->state);
	free(ws->bad);
	free(ws->hash);
	free(ws);
}

size_t task_ws_capacity(const struct task_ws *ws)
{
	return ws->cap;
}

int task_run(const struct task *t, const struct model *m, const float *theta,
	     const struct task_inputs *in, size_t i0, size_t ni,
	     const float *seeds, size_t ns, struct task_ws *ws,
	     const struct task_out *out, char *err)
{
	size_t cap = ws->cap;
	int rc;

	RANDES_ASSERT(t->has_model && m != NULL);
	RANDES_ASSERT(i0 + ni <= in->n);
	RANDES_ASSERT(out->loss && out->success);
	if (ni == 0 || ns == 0)
		return 0;
	if (ns <= cap) {
		/* Whole inputs per call: as many as fit. */
		size_t per = cap / ns;
		for (size_t i = 0; i < ni; i += per) {
			size_t c = ni - i < per ? ni - i : per;
			rc = t->ops->run(t, m, theta, in, i0 + i, c, seeds, ns,
					 ws, out, i * ns, err);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	/* More seeds than fit: one input at a time, seeds in chunks. */
	for (size_t i = 0; i < ni; i++) {
		for (size_t j = 0; j < ns; j += cap) {
			size_t c = ns - j < cap ? ns - j : cap;
			rc = t->ops->run(t, m, theta, in, i0 + i, 1,
					 seeds + j * m->spec.seed_size, c, ws,
					 out, i * ns + j, err);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

void task_score_logits(const struct task *t, const struct task_inputs *in,
		       size_t slot, const float *logits, float *loss,
		       uint8_t *success, uint64_t *code, double *sampled,
		       float *prob)
{
	RANDES_ASSERT(t->ops->score != NULL);
	RANDES_ASSERT(slot < in->n);
	t->ops->score(t, in, slot, logits, loss, success, code, sampled,
		      prob);
}

double task_direct_loss(const struct task *t, const float *theta, size_t n)
{
	RANDES_ASSERT(!t->has_model && t->ops->direct_loss);
	return t->ops->direct_loss(t, theta, n);
}
