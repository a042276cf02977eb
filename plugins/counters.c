/*
 * counters.c - rates from rows of monotonic kernel counters (see
 * counters.h): the sampling, matching and reset handling that disk.c and
 * network.c would otherwise each repeat.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "counters.h"

struct ctr *
ctr_new(struct sph_host *host, ctr_read_fn read)
{
	struct ctr	*c;

	if ((c = calloc(1, sizeof *c)) == NULL) {
		sph_log(host, SPH_LOG_ERR, "out of memory");
		return NULL;
	}
	c->host = host;
	c->read = read;
	kfile_init(&c->kf);
	kfile_init(&c->extra);
	if (read(c, &c->prev) != 0) {
		ctr_free(c);
		return NULL;
	}
	sph_now(host, &c->prev.ts);
	return c;
}

void
ctr_free(struct ctr *c)
{
	kfile_close(&c->kf);
	kfile_close(&c->extra);
	free(c);
}

void
ctr_add(struct ctr_sample *s, const char *name, const uint64_t v[CTR_NVALS])
{
	const unsigned char	*p;

	if (s->n == CTR_MAX_ROWS || strlen(name) >= sizeof s->row[0].name ||
	    *name == '\0' || strstr(name, "___") != NULL)
		return;
	/* Names are bytes; table rows must be UTF-8: keep to ASCII. */
	for (p = (const unsigned char *)name; *p != '\0'; p++)
		if (*p < 0x21 || *p > 0x7e)
			return;
	strcpy(s->row[s->n].name, name);
	memcpy(s->row[s->n].v, v, sizeof s->row[0].v);
	s->n++;
}

int
ctr_sample(struct ctr *c)
{
	c->cur.n = 0;
	if (c->read(c, &c->cur) != 0)
		return -1;
	sph_now(c->host, &c->cur.ts);
	c->dt = elapsed(&c->cur.ts, &c->prev.ts);
	return 0;
}

int
ctr_rates(const struct ctr *c, size_t i, double rate[CTR_NVALS])
{
	const struct ctr_row	*b = &c->cur.row[i], *a = NULL;
	size_t			 j, k;

	if (!(c->dt > 0) || i >= c->cur.n)
		return -1;
	/* The same row is usually at the same index. */
	if (i < c->prev.n && strcmp(c->prev.row[i].name, b->name) == 0)
		a = &c->prev.row[i];
	for (j = 0; a == NULL && j < c->prev.n; j++)
		if (strcmp(c->prev.row[j].name, b->name) == 0)
			a = &c->prev.row[j];
	if (a == NULL)
		return -1;
	for (k = 0; k < CTR_NVALS; k++) {
		if (b->v[k] < a->v[k])
			return -1;
		rate[k] = (double)(b->v[k] - a->v[k]) / c->dt;
	}
	return 0;
}

void
ctr_advance(struct ctr *c)
{
	/* Keep the old base when no time passed, for a rate next time. */
	if (c->dt > 0)
		c->prev = c->cur;
}
