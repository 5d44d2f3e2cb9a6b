/* modelfile: exported models read back (see modelfile.h). */
#include "modelfile.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fsutil.h"
#include "log.h"
#include "json.h"
#include "params.h"
#include "safetensors.h"

int modelfile_load(const char *path, struct config *cfg, float **theta,
		   size_t *D, char *err)
{
	struct objective *obj = NULL;
	struct params_layout flat;
	const struct params_layout *layout;
	struct json_doc *doc = NULL;
	const struct json_value *meta, *text;
	char *buf = NULL;
	size_t len = 0;
	uint64_t n = 0;
	int rc;

	*theta = NULL;
	rc = fsutil_read_file(path, (size_t)1 << 32, &buf, &len, err);
	if (rc)
		return rc;
	if (len < 8) {
		rc = randes_errf(err, RANDES_EDATA,
				 "%s: %zu bytes, too short for safetensors",
				 path, len);
		goto out;
	}
	for (int i = 7; i >= 0; i--)
		n = (n << 8) | (unsigned char)buf[i];
	if (n > len - 8 || n > SAFETENSORS_MAX_HEADER) {
		rc = randes_errf(err, RANDES_EDATA,
				 "%s: header length %llu runs past the end of "
				 "the file",
				 path, (unsigned long long)n);
		goto out;
	}
	rc = json_parse(buf + 8, (size_t)n, &doc, err);
	if (rc) {
		randes_err_prefix(err, "%s: header", path);
		rc = RANDES_EDATA;
		goto out;
	}
	meta = json_object_get(json_doc_root(doc), "__metadata__");
	text = json_object_get(meta, "config");
	if (!text || text->type != JSON_STRING) {
		rc = randes_errf(err, RANDES_EDATA,
				 "%s: no randes config in the metadata (was it "
				 "written by randes export?)",
				 path);
		goto out;
	}
	rc = config_load_string(cfg, text->str, text->str_len, path, NULL, 0,
				err);
	if (rc) {
		rc = RANDES_EDATA;
		goto out;
	}
	rc = objective_new(&obj, cfg, err);
	if (rc)
		goto out;
	*D = objective_n_params(obj);
	if (obj->task->has_model) {
		layout = &obj->model.layout;
	} else {
		size_t shape[1] = {*D};
		params_layout_init(&flat);
		params_add(&flat, "x", 1, shape);
		layout = &flat;
	}
	*theta = malloc(sizeof(float) * (*D ? *D : 1));
	if (!*theta) {
		rc = randes_errf(err, RANDES_ENOMEM, "out of memory");
		goto out;
	}
	rc = safetensors_decode((const unsigned char *)buf, len, layout, *theta,
				NULL, err);
	if (rc) {
		randes_err_prefix(err, "%s", path);
		free(*theta);
		*theta = NULL;
	}
out:
	objective_free(obj);
	json_doc_free(doc);
	free(buf);
	return rc;
}

/* "[a, b]": a tensor's shape, for messages. */
static void shape_text(const struct params_tensor *t, char *buf, size_t cap)
{
	size_t at = 0;

	at += (size_t)snprintf(buf, cap, "[");
	for (unsigned k = 0; k < t->ndim && at < cap; k++)
		at += (size_t)snprintf(buf + at, cap - at, "%s%zu",
				       k ? ", " : "", t->shape[k]);
	if (at < cap)
		snprintf(buf + at, cap - at, "]");
}

static int same_shape(const struct params_tensor *a,
		      const struct params_tensor *b)
{
	if (a->ndim != b->ndim)
		return 0;
	for (unsigned k = 0; k < a->ndim; k++)
		if (a->shape[k] != b->shape[k])
			return 0;
	return 1;
}

/*
 * embed.w of associative recall when the two models differ in num_tokens
 * only: rows are [keys (N) | value bits | seed], so row r < min(N) is the
 * same key in both, the rows after the keys are the same features shifted
 * by the difference, and keys only this run has keep their rows.  0 if the
 * shapes do not fit that pattern.
 */
static int copy_recall_embed(const struct params_tensor *to, float *dst,
			     size_t n_to, const struct params_tensor *from,
			     const float *src, size_t n_from)
{
	size_t cols = to->shape[1], rest;

	if (to->ndim != 2 || from->ndim != 2 || from->shape[1] != cols ||
	    to->shape[0] < n_to || from->shape[0] < n_from ||
	    to->shape[0] - n_to != from->shape[0] - n_from)
		return 0;
	rest = to->shape[0] - n_to;
	memcpy(dst, src, sizeof(float) * cols * (n_to < n_from ? n_to : n_from));
	memcpy(dst + n_to * cols, src + n_from * cols,
	       sizeof(float) * cols * rest);
	return 1;
}

/* The mean of one seed feature under the run's seed distribution. */
static double rse_mean(enum rse_kind kind)
{
	return kind == RSE_KIND_NORMAL ? 0.0 : 0.5;
}

/*
 * A model trained with its one fixed seed r0 (E_r0, q_r0) read into a run
 * with fresh seeds (E_R, q_R).  Its seed rows of embed.w only ever met r0,
 * so they act as a bias: under other seeds the model is lost (an N = 10
 * recall model at 100 % with r0 drops to 8 % with fresh seeds).  They are
 * folded into the bias, embed.b += r0 W_seed and W_seed = 0, so the start
 * computes for every seed what the file's model computed for r0 (the bias
 * summed in double, then rounded): a deterministic start, from which
 * training decides how to use the seed.  Only where the seed is the same
 * vector appended to every token; 0 if not folded.
 */
static int fold_r0(const struct objective *run, const struct objective *file,
		   float *theta)
{
	const struct model_spec *s = &run->model.spec;
	size_t W = s->width, R = s->rse_dim, first = s->din - R;
	float *w = theta + run->model.off.embed_w;
	float *b = theta + run->model.off.embed_b;

	if (!file->uses_r0 || run->uses_r0 ||
	    s->rse_placement != RSE_PLACEMENT_EVERY_TOKEN ||
	    s->embed == MODEL_EMBED_NONE || R == 0 ||
	    file->model.spec.seed_size != R)
		return 0;
	for (size_t c = 0; c < W; c++) {
		double acc = b[c];

		for (size_t r = 0; r < R; r++)
			acc += (double)file->r0[r] * w[(first + r) * W + c];
		b[c] = (float)acc;
	}
	for (size_t r = 0; r < R; r++)
		memset(w + (first + r) * W, 0, sizeof(float) * W);
	return 1;
}

/*
 * model.init_seed_scale = a > 0, after fold_r0: the seed rows restart at a
 * times their random initialisation in this run (fresh, the run's own θ
 * before the file was read), centred on the seed's mean: embed.b -= E[s]
 * W_seed, so the average over seeds of the first layer's input is the
 * folded one and each seed moves it a little.  A seed-blind start sits
 * where L^q has no slope towards using the seed; this gives it some to
 * shape.
 */
static void restart_seed_rows(const struct objective *run, const float *fresh,
			      float *theta)
{
	const struct model_spec *s = &run->model.spec;
	size_t W = s->width, R = s->rse_dim, first = s->din - R;
	size_t off = run->model.off.embed_w;
	float *b = theta + run->model.off.embed_b;
	float a = (float)run->cfg.model.init_seed_scale;
	double m = rse_mean(s->rse_kind);

	for (size_t c = 0; c < W; c++) {
		double mean = 0;

		for (size_t r = 0; r < R; r++) {
			size_t i = off + (first + r) * W + c;

			theta[i] = a * fresh[i];
			mean += m * theta[i];
		}
		b[c] = (float)((double)b[c] - mean);
	}
}

int modelfile_init_theta(const struct objective *obj, const char *path,
			 float *theta, char *err)
{
	const struct config *cfg = &obj->cfg;
	struct config fcfg;
	struct objective *fobj = NULL;
	float *ft = NULL, *out = NULL;
	size_t fD = 0, D = objective_n_params(obj);
	int rc;

	rc = modelfile_load(path, &fcfg, &ft, &fD, err);
	if (rc)
		return rc;
	if (fcfg.task.kind != cfg->task.kind) {
		rc = randes_errf(err, RANDES_EDATA,
				 "%s: a %s model; this run trains %s", path,
				 config_task_kind_name(fcfg.task.kind),
				 config_task_kind_name(cfg->task.kind));
		goto out;
	}
	out = malloc(sizeof(float) * (D ? D : 1));
	if (!out) {
		rc = randes_errf(err, RANDES_ENOMEM, "out of memory");
		goto out;
	}
	if (!obj->task->has_model) {
		if (fD != D) {
			rc = randes_errf(err, RANDES_EDATA,
					 "%s: %zu parameters; this run has %zu",
					 path, fD, D);
			goto out;
		}
		memcpy(out, ft, sizeof(float) * D);
	} else {
		const struct params_layout *to = &obj->model.layout, *from;
		char a[64], b[64];

		rc = objective_new(&fobj, &fcfg, err);
		if (rc) {
			randes_err_prefix(err, "%s", path);
			rc = RANDES_EDATA;
			goto out;
		}
		from = &fobj->model.layout;
		memcpy(out, theta, sizeof(float) * D);
		for (size_t i = 0; i < from->n_tensors; i++)
			if (!params_tensor_find(to, from->tensors[i].name)) {
				rc = randes_errf(err, RANDES_EDATA,
						 "%s: tensor %s is not in this "
						 "run's model",
						 path, from->tensors[i].name);
				goto out;
			}
		for (size_t i = 0; i < to->n_tensors; i++) {
			const struct params_tensor *t = &to->tensors[i];
			const struct params_tensor *f =
				params_tensor_find(from, t->name);

			if (!f) {
				rc = randes_errf(err, RANDES_EDATA,
						 "%s: has no tensor %s", path,
						 t->name);
				goto out;
			}
			if (same_shape(t, f)) {
				memcpy(out + t->offset, ft + f->offset,
				       sizeof(float) * t->count);
				continue;
			}
			if (cfg->task.kind == TASK_KIND_ASSOCIATIVE_RECALL &&
			    strcmp(t->name, "embed.w") == 0 &&
			    copy_recall_embed(t, out + t->offset,
					      cfg->task.num_tokens, f,
					      ft + f->offset,
					      fcfg.task.num_tokens))
				continue;
			shape_text(f, a, sizeof(a));
			shape_text(t, b, sizeof(b));
			rc = randes_errf(err, RANDES_EDATA,
					 "%s: tensor %s is %s there and %s in "
					 "this run's model",
					 path, t->name, a, b);
			goto out;
		}
		if (fold_r0(obj, fobj, out)) {
			log_msg(LOG_INFO,
				"%s: trained with a fixed seed r0; its seed "
				"rows of embed.w are folded into embed.b%s",
				path, cfg->model.init_seed_scale > 0 ? "" :
				", so the start answers every seed as it "
				"answered r0");
			if (cfg->model.init_seed_scale > 0) {
				restart_seed_rows(obj, theta, out);
				log_msg(LOG_INFO,
					"%s: seed rows restarted at %g times "
					"their initialisation, centred "
					"(model.init_seed_scale)",
					path, cfg->model.init_seed_scale);
			}
		} else if (cfg->model.init_seed_scale > 0) {
			rc = randes_errf(err, RANDES_EDATA,
					 "%s: model.init_seed_scale needs a "
					 "model trained with a fixed seed "
					 "(E_r0, q_r0) and a run with fresh "
					 "seeds (E_R, q_R), seeds on every "
					 "token",
					 path);
			goto out;
		}
	}
	memcpy(theta, out, sizeof(float) * D);
out:
	objective_free(fobj);
	free(out);
	free(ft);
	return rc;
}
