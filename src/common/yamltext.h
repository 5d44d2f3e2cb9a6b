/*
 * yamltext.h: the text of a libyaml scalar node, for the two strict YAML
 * readers (the config loader, config.c, and the sweep file, sweep.c).
 */
#ifndef RANDES_YAMLTEXT_H
#define RANDES_YAMLTEXT_H

#include <string.h>
#include <yaml.h>

/*
 * The text of node if it is a scalar, else NULL (also for a NULL node).
 * A scalar with a NUL byte in it (YAML allows "\0") is refused with NULL
 * too: as a C string it would end early, and the rest would be dropped
 * without a word.
 */
static inline const char *yaml_scalar_text(const yaml_node_t *node)
{
	if (!node || node->type != YAML_SCALAR_NODE)
		return NULL;
	if (memchr(node->data.scalar.value, '\0', node->data.scalar.length))
		return NULL;
	return (const char *)node->data.scalar.value;
}

#endif
