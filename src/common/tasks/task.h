/*
 * task: the problems a model is trained on, behind one interface.
 *
 * What it does: a task turns the config's task group into the shape of the
 * model's input and output (struct model_io), generates inputs (training
 * inputs of generation g, the exhaustive adversary set, the evaluation set)
 * as pure functions of (run seed, purpose, index), runs a model on a batch
 * of (input, seed) pairs and scores every pair: loss >= 0, success 0/1, the
 * whole argmax output as a 64-bit code, the exact probability that a
 * *sampled* output is correct, and the per-output probabilities used for the
 * predictive variance.
 *
 * Tasks (PAPER.md; docs/tasks.md gives token layouts position by position):
 *   associative_recall  section 2.1: N key/value tokens and a query token
 *   cycle_coloring      section 3.1: a relabelled N-cycle, graph mask
 *   gridworld           section 4.1-4.2: explore/exploit roll-outs
 *   sphere, rastrigin   test functions of theta itself; no model
 *
 * What it does not do: pool losses over inputs (objective), choose seeds
 * (objective, evaluate), or know about ES or MPI.
 *
 * Dimension letters follow model.h: B sequences (= NIn inputs x NS seeds,
 * sequence b = i * NS + j), Lx task tokens, L model positions, F float
 * features, NI index features, O outputs, S floats per seed.  Task-local
 * letters: G target words per input (target_len), P probabilities per
 * sequence (n_prob), Rw logit rows per sequence in a dump (dump_rows).
 */
#ifndef RANDES_TASK_H
#define RANDES_TASK_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/model.h"

/* Upper bound on the exhaustive adversary set (inputs per generation). */
#define TASK_EXHAUSTIVE_MAX 65536u

/* Largest N for cycle_coloring: the argmax colouring is a base-3 code of N
 * digits and must fit in 64 bits (3^40 < 2^64). */
#define TASK_COLORING_MAX_N 40u

/* Largest d for associative_recall: the evaluation set has N * 2^d * F
 * inputs. */
#define TASK_RECALL_MAX_BITS 16u

/* Colours of cycle_coloring. */
#define TASK_COLORS 3u

/* Grid-world actions, in logit order; argmax ties go to the lower index. */
enum grid_action {
	GRID_LEFT = 0,  /* x - 1 */
	GRID_UP = 1,    /* y + 1 */
	GRID_RIGHT = 2, /* x + 1 */
	GRID_DOWN = 3,  /* y - 1 */
};

struct task;

/*
 * A buffer of task inputs, sized once for `cap` inputs.  Slot s holds one
 * input: its model tokens (absent for gridworld, whose tokens are produced
 * during the roll-out), its graph mask (cycle_coloring only) and its target
 * (what scoring needs: recall [query position, target code]; colouring the
 * cycle order, G = N vertex ids with succ(order[k]) = order[k+1 mod N];
 * gridworld [treasure x, treasure y]).
 */
struct task_inputs {
	size_t cap;         /* slots allocated                       */
	size_t n;           /* slots filled                          */
	float *feat;        /* (cap, Lx, F) or NULL                  */
	int32_t *index;     /* (cap, Lx, NI) or NULL                 */
	uint8_t *mask;      /* (cap, L, L) or NULL (graph mask only) */
	uint32_t *target;   /* (cap, G)                              */
};

/*
 * Per-sequence results of task_run.  loss and success are required; the
 * others may be NULL when not wanted.  The dump_* pointers, when non-NULL,
 * receive the exact tokens the model saw and the logits it produced, for
 * checking by an outside implementation.
 */
struct task_out {
	float *loss;          /* (B) >= 0, NaN/inf when the model's are      */
	uint8_t *success;     /* (B) 0/1                                     */
	uint64_t *code;       /* (B) the whole argmax output                 */
	double *sampled;      /* (B) P(a sampled output is correct); NaN
				 where the task has no sampled output    */
	float *prob;          /* (B, P) per-output probabilities             */
	float *dump_feat;     /* (B, Lx, F) tokens fed (zeros past length)   */
	int32_t *dump_index;  /* (B, Lx, NI)                                 */
	float *dump_logits;   /* (B, Rw, O) logits (zeros past length)       */
	int32_t *dump_len;    /* (B) valid task tokens / logit rows          */
};

/* Scratch for task_run: the model workspace, logits and roll-out state. */
struct task_ws;

/* Most labels a task gives one evaluation input (task_eval_labels). */
#define TASK_EVAL_LABELS 3

/*
 * A task's operations.  Internal to src/common/tasks; everything else goes
 * through the task_* functions below.
 */

struct task_ops {
	const char *name;
	/* Validates cfg's task group and fills the sizes of t. */
	int (*init)(struct task *t, const struct config *cfg, char *err);
	/* Fills slot `slot` with training input k of generation g. */
	void (*make_train)(const struct task *t, uint64_t run_seed,
			   uint32_t g, uint64_t k, int exhaustive,
			   struct task_inputs *in, size_t slot);
	/* Fills slot `slot` with evaluation input k (k < n_eval_full). */
	void (*make_eval)(const struct task *t, uint64_t run_seed, uint64_t k,
			  struct task_inputs *in, size_t slot);
	/* Runs and scores B = ni * ns <= ws capacity sequences. */
	int (*run)(const struct task *t, const struct model *m,
		   const float *theta, const struct task_inputs *in,
		   size_t i0, size_t ni, const float *seeds, size_t ns,
		   struct task_ws *ws, const struct task_out *out,
		   size_t out_off, char *err);
	/* One-shot tasks: scores one sequence's logits (task_score_logits);
	 * NULL for roll-out and model-free tasks. */
	void (*score)(const struct task *t, const struct task_inputs *in,
		      size_t slot, const float *logits, float *loss,
		      uint8_t *success, uint64_t *code, double *sampled,
		      float *prob);
	/* Model-free tasks: the loss of theta itself. */
	double (*direct_loss)(const struct task *t, const float *theta,
			      size_t n);
	/* What evaluation input k is, as TASK_EVAL_LABELS integers named by
	 * eval_label_names (per-input output, `randes eval --per-input`);
	 * NULL when the index is all there is to say. */
	void (*eval_labels)(const struct task *t, uint64_t k, uint64_t *v);
	const char *eval_label_names[TASK_EVAL_LABELS];
};

struct task {
	const struct task_ops *ops;
	enum task_kind kind;
	int has_model;          /* 0 for sphere and rastrigin                */
	struct model_io io;     /* for model_init (zeros without a model)    */
	size_t target_len;      /* G                                         */
	size_t n_prob;          /* P: recall d, colouring 3N, grid 0         */
	size_t dump_rows;       /* Rw: recall 1, colouring N, grid Lx        */
	size_t mask_len;        /* L of the graph mask, 0 without one        */
	int has_sampled;        /* the task defines a sampled success        */
	uint64_t n_adversary;   /* exhaustive adversary set size (0: none)   */
	uint64_t n_eval_full;   /* evaluation inputs k enumerable            */
	int eval_is_sample;     /* the evaluation set is a random sample     */
	uint64_t eval_set_size; /* the full set's size (colouring: (N-1)!/2) */
	/* task parameters, copied from cfg->task */
	uint32_t n;             /* recall N, colouring N, grid size          */
	uint32_t bits;          /* recall d                                  */
	uint32_t exhaustive_values;
	uint32_t fillings;      /* recall evaluation fillings                */
	uint32_t episode_steps, episodes; /* gridworld                       */
	uint32_t dim;           /* sphere/rastrigin D                        */
	int coloring_float;     /* colouring: task.coloring_numerics float   */
};

/*
 * Creates the task of cfg->task.kind.  Returns 0 and a heap task in *out,
 * or RANDES_ECONFIG (sizes out of range, an exhaustive set too large) /
 * RANDES_ENOMEM with a message in err and *out NULL.
 */
int task_new(struct task **out, const struct config *cfg, char *err);
void task_free(struct task *t);

/*
 * Checks that the model built from t->io fits the task (seed placement,
 * graph mask size, roll-out needs).  RANDES_ECONFIG with a message if not.
 */
int task_check_model(const struct task *t, const struct model *m, char *err);

/*
 * Inputs per generation: the exhaustive set's size for
 * ADVERSARY_EXHAUSTIVE, cfg->objective.inputs for ADVERSARY_SAMPLED, 1 for
 * model-free tasks.
 */
size_t task_train_count(const struct task *t, const struct config *cfg);

/* A buffer for cap inputs (NULL on ENOMEM).  Free with task_inputs_free. */
struct task_inputs *task_inputs_new(const struct task *t, size_t cap);
void task_inputs_free(struct task_inputs *in);

/*
 * Fills in[0..count) with training inputs 0..count-1 of generation g:
 * exhaustive != 0 enumerates the adversary set (count <= n_adversary),
 * otherwise draws.  Input k uses stream (run_seed, RNG_PURPOSE_INPUTS, g,
 * k) only, so the batch is a pure function of (run_seed, g) and any input
 * can be rebuilt alone.
 */
void task_fill_train(const struct task *t, uint64_t run_seed, uint32_t g,
		     int exhaustive, struct task_inputs *in, size_t count);

/*
 * Fills slot `slot` with evaluation input k (0 <= k < n_eval_full); input
 * k depends only on (run_seed, k).  Sets in->n to at least slot + 1.
 */
void task_fill_eval(const struct task *t, uint64_t run_seed, uint64_t k,
		    struct task_inputs *in, size_t slot);

/*
 * A workspace for task_run with at most max_seqs sequences per model call
 * (it owns a model_ws of that size when the task has a model).  NULL on
 * ENOMEM.  m may be NULL for model-free tasks.
 */
struct task_ws *task_ws_new(const struct task *t, const struct model *m,
			    size_t max_seqs);
void task_ws_free(struct task_ws *ws);
size_t task_ws_capacity(const struct task_ws *ws);

/*
 * Runs the model with parameters theta on inputs [i0, i0 + ni) of `in`
 * paired with seeds (ns, S), and scores every pair: out arrays are indexed
 * by (i - i0) * ns + j.  Works through the pairs in chunks of the
 * workspace's capacity: whole inputs at a time when ns fits, otherwise
 * seeds in chunks; the chunking depends only on (ni, ns, capacity).  The
 * result for a pair depends only on (theta, input, seed, ns-chunking).
 * Makes no allocation.  Returns 0 (or a negative error from the model with
 * a message).
 */
int task_run(const struct task *t, const struct model *m, const float *theta,
	     const struct task_inputs *in, size_t i0, size_t ni,
	     const float *seeds, size_t ns, struct task_ws *ws,
	     const struct task_out *out, char *err);

/*
 * Scores one sequence from its logits (recall: (O); colouring: (Lx, O))
 * against input slot `slot` of `in`.  Writes *loss, *success, *code,
 * *sampled and prob (n_prob floats; may be NULL).  The path task_run uses;
 * exposed so tests can drive it with constructed logits.  Not for
 * gridworld or the model-free tasks (RANDES_ASSERT).
 */
void task_score_logits(const struct task *t, const struct task_inputs *in,
		       size_t slot, const float *logits, float *loss,
		       uint8_t *success, uint64_t *code, double *sampled,
		       float *prob);

/* Loss of theta (n floats) for sphere and rastrigin. */
double task_direct_loss(const struct task *t, const float *theta, size_t n);

/* "associative_recall", ... */
const char *task_name(const struct task *t);

/*
 * How many labels the task gives an evaluation input (0..TASK_EVAL_LABELS;
 * recall: position, value, filling; grid world: treasure_x, treasure_y),
 * with their names in *names when names is not NULL.
 */
size_t task_eval_label_names(const struct task *t, const char *const **names);

/* The labels of evaluation input k (k < n_eval_full) into v. */
void task_eval_labels(const struct task *t, uint64_t k, uint64_t *v);

/* ---- associative recall: pure helpers (associative_recall.c) ---------- */

/*
 * BCE-with-logits averaged over d bits: (1/d) sum_b [softplus(z_b) - y_b
 * z_b], with bit b of `target` as y_b; computed as max(+-z, 0) +
 * log1p(exp(-|z|)) so it is >= 0 exactly.  Double accumulator, bit order.
 */
double recall_bce_mean(const float *z, uint64_t target, size_t d);

/* Bit b of the code is z_b > 0 (NaN counts as 0). */
uint64_t recall_code(const float *z, size_t d);

/* Exact probability that sampling bit b ~ Bernoulli(sigmoid(z_b)) for every
 * b gives the target: prod_b sigmoid(s_b z_b), s_b = +1 / -1 for bit 1 / 0. */
double recall_sampled_success(const float *z, uint64_t target, size_t d);

/* ---- cycle colouring: pure helpers (cycle_coloring.c) ----------------- */

/* (N-1)!/2 for N >= 3 (the number of distinct undirected Hamiltonian
 * cycles on N labelled vertices); UINT64_MAX when it overflows. */
uint64_t coloring_cycle_count(uint32_t N);

/*
 * Cycle number k (k < (N-1)!/2) as a vertex order: order[0] = 0 and
 * (order[1], ..., order[N-1]) = pi with pi[first] < pi[last].  Ranking:
 * k = pair_rank * (N-3)! + rest_rank, where pair_rank numbers the pairs
 * (a, b), 1 <= a < b <= N-1, lexicographically, and rest_rank is the
 * lexicographic rank of (pi[2..N-2]) among the permutations of the
 * remaining N-3 vertices.  order has N entries.
 */
void coloring_cycle_unrank(uint64_t k, uint32_t N, uint32_t *order);

/*
 * The canonical form of a cycle: rotated to start at vertex 0 and, of the
 * two directions, the one whose second vertex is smaller.  Two orders
 * describe the same undirected cycle iff their canonical forms are equal.
 */
void coloring_cycle_canonical(const uint32_t *order, uint32_t N,
			      uint32_t *canon);

/* Softmax over the 3 colour logits of each vertex, in double: z (N, 3) ->
 * p (N, 3). */
void coloring_softmax(const float *z, uint32_t N, double *p);

/* (1/(3N)) sum_k sum_c p[order[k]][c] * p[order[k+1 mod N]][c]. */
double coloring_loss(const double *p, const uint32_t *order, uint32_t N);

/* Exact probability that colouring each vertex v by c ~ p[v] gives a
 * proper colouring: trace(prod_k diag(p[order[k]]) (J - I)), in double. */
double coloring_sampled_success(const double *p, const uint32_t *order,
				uint32_t N);

/* 1 iff no two cycle neighbours share a colour; colour[v] in 0..2. */
int coloring_is_proper(const uint8_t *colour, const uint32_t *order,
		       uint32_t N);

/* Sequences coloring_score_block scores at once (one vector of doubles). */
#define COLORING_LANES 8u

/*
 * The training scores of nb <= COLORING_LANES sequences at once, one per
 * lane of vectors of doubles: z[s] (N, 3) the logits and order[s] (N) the
 * cycle of sequence s.  Each lane does exactly the scalar operations of
 * coloring_softmax, coloring_loss, the argmax of
 * coloring_score (ties to the lower colour, NaN never wins) and
 * coloring_is_proper, in their order, so the results are bitwise those of
 * the one-sequence functions.  Writes loss[s] and success[s]; colour
 * (nb, N) and p (nb, N, 3) too when not NULL.  No allocation.
 */
void coloring_score_block(uint32_t N, size_t nb, const float *const *z,
			  const uint32_t *const *order, double *loss,
			  uint8_t *success, uint8_t *colour, double *p);

/* Sequences coloring_score_block_f scores at once (one vector of floats). */
#define COLORING_LANES_F 16u

/*
 * The scores of task.coloring_numerics: float, nb <= COLORING_LANES_F
 * sequences at once, one per lane of vectors of floats (z, order and the
 * outputs as for coloring_score_block).  Per vertex: mx the max of its
 * three logits (z0, then each later one if greater), the colour its
 * argmax (as coloring_score_block), e_c = vmath_expf_neg(z_c - mx) but 1
 * for the argmax (whose argument is +0 when mx is finite), then
 * t = (e0 + e1) + e2, u = 1 / t, p_c = e_c u.  The loss
 * (sum over the edges k -> k+1 of the cycle, colours in order, of
 * p_u(c) p_v(c)) / (3N), in float; success: no edge joins two vertices
 * of the same colour.  Every lane does the same float operations
 * whatever the instruction set, so the results are bitwise independent
 * of it, of nb and of the other lanes.  Writes loss[s] and success[s];
 * colour (nb, N) and p (nb, N, 3) too when not NULL.  No allocation.
 */
void coloring_score_block_f(uint32_t N, size_t nb, const float *const *z,
			    const uint32_t *const *order, float *loss,
			    uint8_t *success, uint8_t *colour, float *p);

/* ---- grid world: pure dynamics (gridworld.c) -------------------------- */

struct grid_world {
	uint32_t size;          /* cells per side; coordinates 0..size-1      */
	uint32_t episode_steps; /* moves per episode at most                  */
	uint32_t episodes;
	uint32_t tx, ty;        /* treasure (never the start (0, 0))          */
};

struct grid_state {
	uint32_t x, y;          /* current position; start (0, 0)             */
	uint32_t episode;       /* current episode, 0-based                   */
	uint32_t moves;         /* moves made in the current episode          */
	uint32_t total;         /* moves made in all episodes                 */
	uint32_t found;         /* episodes that ended on the treasure        */
	int done;               /* every episode has ended                    */
};

/* What one move produced: the next token's features. */
struct grid_token {
	uint32_t x, y;          /* position after the move (before a reset)   */
	float reward;           /* +1 on the move that finds, -0.1 otherwise  */
	int found;              /* this move reached the treasure             */
	int episode_end;        /* this move ended its episode                */
};

/* The start of the first episode. */
void gridworld_state_init(struct grid_state *s);

/*
 * Applies action a (enum grid_action) to s, which must not be done: a move
 * into a wall keeps the position and still costs a move; stepping onto the
 * treasure ends the episode (reward +1), as does the episode's last
 * allowed move; after an episode ends the position is reset to (0, 0) and
 * the next episode begins, or s->done is set after the last.  Fills *tok
 * with the token that describes the move.
 */
void gridworld_step(const struct grid_world *w, struct grid_state *s,
		    unsigned a, struct grid_token *tok);

/* Argmax of 4 logits, ties to the lowest index (NaN never wins). */
unsigned gridworld_argmax(const float *z);

/* What the grid roll-out asks of a model: the same contract as
 * model_rollout_begin / model_rollout_step (logits (B, 4) per call). */
struct grid_policy {
	int (*begin)(void *ctx, size_t B, const float *seed, float *logits);
	int (*step)(void *ctx, const float *feat, const int32_t *index,
		    float *logits);
	void *ctx;
};

/*
 * Plays B = ni * ns roll-outs of the grid world (treasure of input i from
 * in->target, seed j of seeds (ns, S)) with the given policy and scores
 * them into out at offset out_off (see task_run).  All B sequences step
 * together; a finished sequence keeps being fed a copy of its last token
 * until every sequence is finished (its logits are ignored; wasted work
 * of at most one roll-out length).  ws supplies the scratch (capacity >=
 * B).  Exposed so tests can drive the roll-out with a scripted policy.
 */
int gridworld_rollout(const struct task *t, const struct grid_policy *pol,
		      const struct task_inputs *in, size_t i0, size_t ni,
		      const float *seeds, size_t ns, size_t seed_size,
		      struct task_ws *ws, const struct task_out *out,
		      size_t out_off, char *err);

/* ---- test functions (testfn.c) ---------------------------------------- */

/* sum_i x_i^2, in double. */
double testfn_sphere(const float *x, size_t n);

/* 10 n + sum_i (x_i^2 - 10 cos(2 pi x_i)), in double; 0 at x = 0. */
double testfn_rastrigin(const float *x, size_t n);

/* ---- internal: shared by task.c and the task files -------------------- */

extern const struct task_ops task_ops_associative_recall;
extern const struct task_ops task_ops_cycle_coloring;
extern const struct task_ops task_ops_gridworld;
extern const struct task_ops task_ops_sphere;
extern const struct task_ops task_ops_rastrigin;

/* The workspace's parts, for the task files. */
struct task_ws {
	size_t cap;             /* sequences per model call                  */
	struct model_ws *mws;   /* NULL for model-free tasks                 */
	float *logits;          /* (cap, Rw, O)                              */
	float *seed_rows;       /* (cap, S): per-sequence seeds (roll-outs)  */
	float *feat;            /* (cap, F) roll-out token                   */
	int32_t *index;         /* (cap, NI) roll-out token                  */
	struct grid_state *state; /* (cap)                                   */
	uint8_t *bad;           /* (cap) non-finite logits seen              */
	uint64_t *hash;         /* (cap) action-sequence hash                */
};

#endif
