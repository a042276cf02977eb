/*
 * counters.h - rows of monotonic kernel counters (one row per disk or
 * interface) sampled at every collect and turned into rates per second.
 * Shared by disk.c and network.c; compiled into each (counters.c).
 */
#ifndef PLUGINS_COUNTERS_H
#define PLUGINS_COUNTERS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "scope-plugin.h"
#include "kfile.h"

#define CTR_MAX_ROWS	256
#define CTR_NVALS	3

struct ctr_row {
	char		name[32];
	uint64_t	v[CTR_NVALS];
};

struct ctr_sample {
	struct ctr_row	row[CTR_MAX_ROWS];
	size_t		n;
	struct timespec	ts;
};

struct ctr;

/*
 * Fill s->row[] and s->n from the kernel (ctr_add() does the bounds and
 * name checks), reading through c->kf.  Return 0, or -1 after sph_log()ing
 * why.
 */
typedef int (*ctr_read_fn)(struct ctr *c, struct ctr_sample *s);

struct ctr {
	struct sph_host		*host;
	ctr_read_fn		 read;
	struct kfile		 kf;	/* the counters' file */
	struct kfile		 extra;	/* another file of the module's */
	struct ctr_sample	 prev;
	struct ctr_sample	 cur;
	double			 dt;	/* seconds from prev to cur; 0: no rate */
};

/* A module's state: the first sample is taken here.  NULL on error. */
struct ctr	*ctr_new(struct sph_host *host, ctr_read_fn read);
void		 ctr_free(struct ctr *c);

/*
 * Append a row to s; ignored when s is full or name is not usable as a
 * table row (printable ASCII, no "___", shorter than the name field).
 */
void		 ctr_add(struct ctr_sample *s, const char *name,
		     const uint64_t v[CTR_NVALS]);

/*
 * Take the next sample and make it current.  Returns 0, or -1 (the
 * previous sample is kept for the next try).
 */
int		 ctr_sample(struct ctr *c);

/*
 * Rates per second of row i of the current sample since the previous
 * one.  Returns 0, or -1 when there is no rate: no time passed, the row
 * is new, or a counter went back (reset, wrap).
 */
int		 ctr_rates(const struct ctr *c, size_t i,
		     double rate[CTR_NVALS]);

/* After the report: the current sample becomes the base of the next rates. */
void		 ctr_advance(struct ctr *c);

#endif
