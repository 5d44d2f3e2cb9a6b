/*
 * modelfile: a model exported by `randes export` (a safetensors file whose
 * metadata holds the resolved config) read back, for evaluation and as the
 * starting point of a new run (model.init_from).
 */
#ifndef RANDES_MODELFILE_H
#define RANDES_MODELFILE_H

#include <stddef.h>

#include "config.h"
#include "objective.h"

/*
 * Loads the exported model at path: the config from its metadata
 * ("config", the resolved YAML) into *cfg, then theta through the strict
 * decoder against the layout that config gives.  *theta is malloc'd
 * (caller frees), *D its length.  RANDES_EIO if unreadable, RANDES_EDATA if
 * malformed or not written by randes (RANDES_ENOMEM).
 */
int modelfile_load(const char *path, struct config *cfg, float **theta,
		   size_t *D, char *err);

/*
 * Overwrites the freshly initialised theta of obj (objective_init_theta)
 * with the tensors of the exported model at path.  The two models must
 * have the same task kind and the same tensors (names and shapes), with
 * one exception: an associative-recall model with another num_tokens,
 * whose embed.w then differs in its key rows only.  Its value and seed
 * rows are copied, the rows of the keys both models have are copied, and
 * the rows of keys the file lacks keep their fresh values.  Returns 0, or RANDES_EIO / RANDES_EDATA with a message naming the file
 * and the first mismatch; theta is untouched on failure.
 */
int modelfile_init_theta(const struct objective *obj, const char *path,
			 float *theta, char *err);

#endif
