/*
 * gridworld: PAPER.md sections 4.1-4.2, the explore/exploit grid.  A
 * treasure sits on one of the size^2 - 1 cells other than the start (0, 0);
 * the agent plays `episodes` episodes of at most `episode_steps` moves,
 * each ending when it steps onto the treasure, and is reset to the start
 * between episodes.  Actions are the argmax of 4 logits; the first move's
 * logits come from the model's first-token seed, each later move's from
 * the token of the move before: [x, y] as index features and the reward
 * (+1 on the finding move, -0.1 otherwise) as the float feature.  Loss: the
 * moves used in all episodes (fitness -loss is the paper's figure reward).
 *
 * The dynamics are a pure function (gridworld_step) and the roll-out takes
 * the model through a small policy interface, so both are tested without a
 * model.  See docs/tasks.md.
 */
#include "common/tasks/task.h"

#include <math.h>
#include <string.h>

#include "common/err.h"
#include "common/rng.h"

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

void gridworld_state_init(struct grid_state *s)
{
	memset(s, 0, sizeof(*s));
}

void gridworld_step(const struct grid_world *w, struct grid_state *s,
		    unsigned a, struct grid_token *tok)
{
	uint32_t x = s->x, y = s->y;
	int found, end;

	RANDES_ASSERT(!s->done && a < 4);
	switch (a) {
	case GRID_LEFT:
		if (x > 0)
			x--;
		break;
	case GRID_UP:
		if (y + 1 < w->size)
			y++;
		break;
	case GRID_RIGHT:
		if (x + 1 < w->size)
			x++;
		break;
	default: /* GRID_DOWN */
		if (y > 0)
			y--;
		break;
	}
	s->x = x;
	s->y = y;
	s->moves++;
	s->total++;
	found = x == w->tx && y == w->ty;
	end = found || s->moves >= w->episode_steps;
	tok->x = x;
	tok->y = y;
	tok->reward = found ? 1.0f : -0.1f;
	tok->found = found;
	tok->episode_end = end;
	if (end) {
		s->found += found ? 1u : 0u;
		s->episode++;
		s->moves = 0;
		s->x = 0;
		s->y = 0;
		if (s->episode >= w->episodes)
			s->done = 1;
	}
}

unsigned gridworld_argmax(const float *z)
{
	int best = -1;

	for (int k = 0; k < 4; k++) {
		if (isnan(z[k]))
			continue;
		if (best < 0 || z[k] > z[best])
			best = k;
	}
	return best < 0 ? 0u : (unsigned)best;
}

static int logits_finite(const float *z)
{
	for (int k = 0; k < 4; k++)
		if (!isfinite(z[k]))
			return 0;
	return 1;
}

int gridworld_rollout(const struct task *t, const struct grid_policy *pol,
		      const struct task_inputs *in, size_t i0, size_t ni,
		      const float *seeds, size_t ns, size_t seed_size,
		      struct task_ws *ws, const struct task_out *out,
		      size_t off, char *err)
{
	size_t B = ni * ns, Lx = t->io.seq_len, O = 4;
	float *logits = ws->logits; /* (B, O): the current step's logits */
	int rc;

	RANDES_ASSERT(B <= ws->cap);
	for (size_t s = 0; s < B; s++) {
		size_t o = off + s;

		gridworld_state_init(&ws->state[s]);
		ws->bad[s] = 0;
		ws->hash[s] = FNV_OFFSET;
		memcpy(ws->seed_rows + s * seed_size,
		       seeds + (s % ns) * seed_size,
		       seed_size * sizeof(float));
		ws->feat[s] = 0.0f;
		ws->index[2 * s] = 0;
		ws->index[2 * s + 1] = 0;
		if (out->dump_feat)
			memset(out->dump_feat + o * Lx, 0,
			       Lx * sizeof(float));
		if (out->dump_index)
			memset(out->dump_index + o * Lx * 2, 0,
			       Lx * 2 * sizeof(int32_t));
		if (out->dump_logits)
			memset(out->dump_logits + o * Lx * O, 0,
			       Lx * O * sizeof(float));
	}
	rc = pol->begin(pol->ctx, B, ws->seed_rows, logits);
	if (rc < 0)
		return randes_errf(err, rc, "gridworld: roll-out begin "
				   "failed");
	if (rc != 1)
		return randes_errf(err, RANDES_ECONFIG,
				   "gridworld: the model gave no logits for "
				   "the first move (needs a first_token "
				   "seed)");

	for (size_t mv = 0;; mv++) {
		int active = 0;

		for (size_t s = 0; s < B; s++) {
			struct grid_state *st = &ws->state[s];
			const uint32_t *tg = in->target + (i0 + s / ns) * 2;
			struct grid_world w = {
				.size = t->n,
				.episode_steps = t->episode_steps,
				.episodes = t->episodes,
				.tx = tg[0],
				.ty = tg[1],
			};
			const float *z = logits + s * O;
			struct grid_token tok;
			unsigned a;
			size_t o = off + s;

			if (st->done)
				continue; /* keeps feeding its last token */
			RANDES_ASSERT(mv < Lx);
			if (!logits_finite(z))
				ws->bad[s] = 1;
			a = gridworld_argmax(z);
			ws->hash[s] = (ws->hash[s] ^ a) * FNV_PRIME;
			gridworld_step(&w, st, a, &tok);
			ws->feat[s] = tok.reward;
			ws->index[2 * s] = (int32_t)tok.x;
			ws->index[2 * s + 1] = (int32_t)tok.y;
			if (out->dump_logits)
				memcpy(out->dump_logits + (o * Lx + mv) * O, z,
				       O * sizeof(float));
			if (out->dump_feat)
				out->dump_feat[o * Lx + mv] = tok.reward;
			if (out->dump_index) {
				out->dump_index[(o * Lx + mv) * 2] =
					(int32_t)tok.x;
				out->dump_index[(o * Lx + mv) * 2 + 1] =
					(int32_t)tok.y;
			}
			if (!st->done)
				active = 1;
		}
		if (!active)
			break;
		rc = pol->step(pol->ctx, ws->feat, ws->index, logits);
		if (rc < 0)
			return randes_errf(err, rc, "gridworld: roll-out step "
					   "failed");
	}

	for (size_t s = 0; s < B; s++) {
		const struct grid_state *st = &ws->state[s];
		size_t o = off + s;

		out->loss[o] = ws->bad[s] ? NAN : (float)st->total;
		out->success[o] = st->found == t->episodes;
		if (out->code)
			out->code[o] = ws->hash[s];
		if (out->sampled)
			out->sampled[o] = NAN;
		if (out->dump_len)
			out->dump_len[o] = (int32_t)st->total;
	}
	return 0;
}

/* The model as a grid policy. */
struct model_policy {
	const struct model *m;
	const float *theta;
	struct model_ws *mws;
};

static int model_policy_begin(void *ctx, size_t B, const float *seed,
			      float *logits)
{
	struct model_policy *p = ctx;

	return model_rollout_begin(p->m, p->theta, p->mws, B, seed, logits);
}

static int model_policy_step(void *ctx, const float *feat,
			     const int32_t *index, float *logits)
{
	struct model_policy *p = ctx;

	return model_rollout_step(p->m, p->theta, p->mws, feat, index,
				  logits);
}

static int grid_run(const struct task *t, const struct model *m,
		    const float *theta, const struct task_inputs *in,
		    size_t i0, size_t ni, const float *seeds, size_t ns,
		    struct task_ws *ws, const struct task_out *out, size_t off,
		    char *err)
{
	struct model_policy mp = {.m = m, .theta = theta, .mws = ws->mws};
	struct grid_policy pol = {
		.begin = model_policy_begin,
		.step = model_policy_step,
		.ctx = &mp,
	};

	return gridworld_rollout(t, &pol, in, i0, ni, seeds, ns,
				 m->spec.seed_size, ws, out, off, err);
}

static int grid_init(struct task *t, const struct config *cfg, char *err)
{
	const struct config_task *c = &cfg->task;

	if (c->size < 2 || c->size > 64)
		return randes_errf(err, RANDES_ECONFIG,
				   "task.size: expected 2..64, got %u",
				   c->size);
	if (c->episode_steps < 1 || c->episode_steps > 4096)
		return randes_errf(err, RANDES_ECONFIG,
				   "task.episode_steps: expected 1..4096, "
				   "got %u", c->episode_steps);
	if (c->episodes < 1 || c->episodes > 64)
		return randes_errf(err, RANDES_ECONFIG,
				   "task.episodes: expected 1..64, got %u",
				   c->episodes);
	t->n = c->size;
	t->episode_steps = c->episode_steps;
	t->episodes = c->episodes;
	t->has_model = 1;
	t->io.seq_len = (size_t)c->episodes * c->episode_steps;
	t->io.feat = 1;
	t->io.n_index = 2;
	t->io.index_vocab = c->size;
	t->io.out_dim = 4;
	t->io.mask = MODEL_MASK_CAUSAL;
	t->io.output = MODEL_OUTPUT_EVERY;
	t->target_len = 2;
	t->n_prob = 0;
	t->dump_rows = t->io.seq_len;
	t->mask_len = 0;
	t->has_sampled = 0;
	t->n_adversary = (uint64_t)c->size * c->size - 1;
	t->n_eval_full = t->n_adversary;
	t->eval_set_size = t->n_adversary;
	t->eval_is_sample = 0;
	return 0;
}

/* Cell c = y * size + x as xy = (x, y). */
static void grid_cell_xy(const struct task *t, uint64_t cell, uint64_t *xy)
{
	xy[0] = cell % t->n;
	xy[1] = cell / t->n;
}

/* Treasure cell c in 1..size^2-1 (0 is the start). */
static void grid_write(const struct task *t, struct task_inputs *in,
		       size_t slot, uint64_t cell)
{
	uint64_t xy[2];

	grid_cell_xy(t, cell, xy);
	in->target[slot * 2 + 0] = (uint32_t)xy[0];
	in->target[slot * 2 + 1] = (uint32_t)xy[1];
}

static void grid_make_train(const struct task *t, uint64_t run_seed,
			    uint32_t g, uint64_t k, int exhaustive,
			    struct task_inputs *in, size_t slot)
{
	if (exhaustive) {
		grid_write(t, in, slot, k + 1);
	} else {
		struct rng_stream s;
		RANDES_ASSERT(k <= UINT32_MAX);
		rng_stream_init(&s, run_seed, RNG_PURPOSE_INPUTS, g,
				(uint32_t)k);
		grid_write(t, in, slot,
			   1u + rng_below(&s, t->n * t->n - 1u));
	}
}

static void grid_make_eval(const struct task *t, uint64_t run_seed,
			   uint64_t k, struct task_inputs *in, size_t slot)
{
	grid_write(t, in, slot, k + 1);
}

/* Evaluation input k is the treasure at cell k + 1: its column and row. */
static void grid_eval_labels(const struct task *t, uint64_t k, uint64_t *v)
{
	grid_cell_xy(t, k + 1, v);
}

const struct task_ops task_ops_gridworld = {
	.name = "gridworld",
	.init = grid_init,
	.make_train = grid_make_train,
	.make_eval = grid_make_eval,
	.run = grid_run,
	.score = NULL,
	.direct_loss = NULL,
	.eval_labels = grid_eval_labels,
	.eval_label_names = {"treasure_x", "treasure_y"},
};
