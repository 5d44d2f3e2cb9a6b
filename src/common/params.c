/* params: flat parameter layout (see params.h). */
#include "params.h"

#include <string.h>

#include "err.h"

void params_layout_init(struct params_layout *l)
{
	memset(l, 0, sizeof(*l));
}

size_t params_add(struct params_layout *l, const char *name, unsigned ndim,
		  const size_t *shape)
{
	struct params_tensor *t;
	size_t count = 1;

	RANDES_ASSERT(l->n_tensors < PARAMS_MAX_TENSORS);
	RANDES_ASSERT(ndim >= 1 && ndim <= PARAMS_MAX_DIMS);
	RANDES_ASSERT(strlen(name) < PARAMS_NAME_LEN);
	RANDES_ASSERT(params_tensor_find(l, name) == NULL);

	t = &l->tensors[l->n_tensors++];
	memset(t, 0, sizeof(*t));
	strcpy(t->name, name);
	t->ndim = ndim;
	for (unsigned i = 0; i < ndim; i++) {
		t->shape[i] = shape[i];
		count *= shape[i];
	}
	t->offset = l->total;
	t->count = count;
	l->total += count;
	return t->offset;
}

const struct params_tensor *params_tensor_find(const struct params_layout *l,
					       const char *name)
{
	for (size_t i = 0; i < l->n_tensors; i++)
		if (!strcmp(l->tensors[i].name, name))
			return &l->tensors[i];
	return NULL;
}

uint64_t params_hash(const float *theta, size_t n)
{
	const unsigned char *p = (const unsigned char *)theta;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n * sizeof(float); i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}
