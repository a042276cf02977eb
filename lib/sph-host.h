/*
 * sph-host.h - the layout behind the opaque struct sph_host, shared by
 * libscope-plugin and whatever hosts a module (the worker, test drivers).
 * Private: not installed.
 */
#ifndef SPH_HOST_H
#define SPH_HOST_H

#include "scope-plugin.h"

/*
 * The SDK is linked into each module, so this layout is ABI: it only grows
 * at the end, and size says how much of it the host filled in.
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
};

#endif
