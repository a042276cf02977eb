/* control.c - placeholder until the control parser lands (branch parsers). */
#include <stdlib.h>
#include "host.h"

int
control_parse(const char *b, size_t l, struct control_request **o, char **c)
{
	(void)b; (void)l; *o = NULL;
	*c = xstrdup("not implemented");
	return -1;
}
const struct sph_control *
control_get(const struct control_request *r) { (void)r; return NULL; }
void
control_free(struct control_request *r) { (void)r; }
