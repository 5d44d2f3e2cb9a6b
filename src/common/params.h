/*
 * params: the flat parameter vector theta and its named layout.
 *
 * Every trainable number of a model lives in one contiguous float array.
 * The layout, computed once from the config, names each tensor with its
 * shape and offset; named pointers are views into theta.  Broadcast, ES
 * perturbation and update, checkpoints and safetensors export all work on
 * the flat vector and this table.
 */
#ifndef RANDES_PARAMS_H
#define RANDES_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#define PARAMS_NAME_LEN 64
#define PARAMS_MAX_DIMS 4
#define PARAMS_MAX_TENSORS 256

struct params_tensor {
	char name[PARAMS_NAME_LEN];     /* e.g. "blocks.0.attn.wq"      */
	unsigned ndim;
	size_t shape[PARAMS_MAX_DIMS];  /* row-major                     */
	size_t offset;                  /* first element in theta        */
	size_t count;                   /* product of shape              */
};

struct params_layout {
	struct params_tensor tensors[PARAMS_MAX_TENSORS];
	size_t n_tensors;
	size_t total;                   /* D: elements in theta          */
};

void params_layout_init(struct params_layout *l);

/*
 * Appends a tensor of the given shape at the end of theta and returns its
 * offset.  Aborts (RANDES_ASSERT) on a duplicate name, too many tensors or
 * ndim out of range: layouts are built from validated configs, so these are
 * programming errors.
 */
size_t params_add(struct params_layout *l, const char *name, unsigned ndim,
		  const size_t *shape);

/* The tensor with this name, or NULL. */
const struct params_tensor *params_tensor_find(const struct params_layout *l,
					       const char *name);

/* FNV-1a 64 over the bytes of theta[0..n): the theta hash in metrics. */
uint64_t params_hash(const float *theta, size_t n);

#endif
