/*
 * fuzz-control.c - libFuzzer target for control_parse().
 *
 * Invariants: no crash, no leak, no read past size; on success every
 * string is non-NULL and NUL-free (strlen is the whole string), at most
 * 64 arguments with distinct keys, NodeID and Control non-empty; on
 * failure *out is NULL and a cause is set.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct control_request	*req = (struct control_request *)1;
	const struct sph_control *c;
	char			*cause = (char *)1;
	size_t			 i, j;

	if (control_parse((const char *)data, size, &req, &cause) == -1) {
		if (req != NULL || cause == NULL || *cause == '\0')
			abort();
		free(cause);
		return 0;
	}
	if (req == NULL || cause != NULL)
		abort();
	c = control_get(req);
	if (c->app_id == NULL || c->node_id == NULL || c->control == NULL)
		abort();
	if (*c->node_id == '\0' || *c->control == '\0')
		abort();
	/* Nothing can be longer than the input it came from. */
	if (strlen(c->app_id) > size || strlen(c->node_id) > size ||
	    strlen(c->control) > size)
		abort();
	if (c->nargs > 64 || (c->nargs > 0 &&
	    (c->arg_keys == NULL || c->arg_values == NULL)))
		abort();
	for (i = 0; i < c->nargs; i++) {
		if (c->arg_keys[i] == NULL || c->arg_values[i] == NULL)
			abort();
		(void)strlen(c->arg_values[i]);
		for (j = 0; j < i; j++) {
			if (strcmp(c->arg_keys[i], c->arg_keys[j]) == 0)
				abort();
		}
	}
	control_free(req);
	return 0;
}
