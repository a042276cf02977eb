/*
 * sph-host.h - the layout behind the opaque struct sph_host, shared by
 * libscope-plugin and whatever hosts a module (the worker, test drivers).
 * Private: not installed.
 */
#ifndef SPH_HOST_H
#define SPH_HOST_H

#include <stddef.h>

#include "scope-plugin.h"

/*
 * The SDK is linked into each module, so this layout is ABI: it only grows
 * at the end (docs/ARCHITECTURE.md, "ABI rules").  A module built against
 * a newer SDK may be hosted by an older host, so size says how much of the
 * layout the host filled in: every host sets it (module_init() in the
 * daemon), and the SDK reads a member only if SPH_HOST_HAS() says the host
 * knows it.  New members go after ctx and are read only through it.
 */
struct sph_host {
	uint32_t	 size;		/* sizeof(struct sph_host) in the host */
	const char	*id;
	/* Writes one finished log line (no newline) at level. */
	void		(*log)(void *ctx, int level, const char *line);
	/* Looks up an operator parameter, NULL if unset. */
	const char	*(*param)(void *ctx, const char *key);
	/* Test clock; NULL means CLOCK_REALTIME. */
	void		(*now)(void *ctx, struct timespec *ts);
	/* probe_id of the current request, NUL-terminated; never NULL once set. */
	const char	*probe_id;
	void		*ctx;
	/* ABI 1.1: the index-th parameter in the operator's order; 0, or -1
	 * past the last.  Backs sph_param_next(). */
	int		(*param_at)(void *ctx, size_t index, const char **key,
			    const char **value);
	/* ABI 1.1: the collect deadline in force for this worker, 0 unknown. */
	uint32_t	 deadline_ms;
};

/* Hosts from before size was set leave it 0: they filled the members up to ctx. */
#define SPH_HOST_SIZE_FIRST (offsetof(struct sph_host, ctx) + sizeof(void *))

/* Whether host h filled in member m (it is inside h->size). */
#define SPH_HOST_HAS(h, m) \
	(((h)->size != 0 ? (h)->size : SPH_HOST_SIZE_FIRST) >= \
	    offsetof(struct sph_host, m) + sizeof((h)->m))

#endif
