/*
 * fuzz-prom.c - libFuzzer target for prom_parse() (plugins/prom-parse.c).
 *
 * Invariants: no crash, no leak, no read past size; every sample's name
 * is a metric name, every label name a label name, no string longer than
 * the input, at most PROM_LABELS_MAX labels, line numbers rising; on
 * failure the message says "line N: ...".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "prom-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct seen {
	size_t		size;
	unsigned	line;
};

static int
name_ok(const char *s, int colon)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || s[i] == '_' || (colon && s[i] == ':') ||
		    (i > 0 && s[i] >= '0' && s[i] <= '9')))
			return 0;
	return i > 0;
}

static int
check(void *arg, const struct prom_sample *s)
{
	struct seen	*sn = arg;
	size_t		 i;

	if (!name_ok(s->name, 1) || strlen(s->name) > sn->size)
		abort();
	if (s->nlabels > PROM_LABELS_MAX || (s->nlabels > 0 && s->labels == NULL))
		abort();
	for (i = 0; i < s->nlabels; i++)
		if (!name_ok(s->labels[i].name, 0) ||
		    strlen(s->labels[i].value) > sn->size)
			abort();
	if (s->kind != PROM_GAUGE && s->kind != PROM_COUNTER)
		abort();
	if (s->line < sn->line)
		abort();
	sn->line = s->line;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen	sn = { size, 0 };
	char		err[256];

	if (prom_parse((const char *)data, size, check, &sn, err,
	    sizeof err) != 0) {
		if (strncmp(err, "line ", 5) != 0)
			abort();
	}
	return 0;
}
