/*
 * strmap.h - a string-keyed hash map for the exec and prometheus modules
 * (template bookkeeping, series state).  Keys are copied; values are the
 * caller's.  Open addressing with deletion by backward shift, so lookups
 * stay short however keys come and go.
 */
#ifndef PLUGINS_STRMAP_H
#define PLUGINS_STRMAP_H

#include <stddef.h>

struct strmap_slot {
	char	*key;		/* NULL: empty */
	void	*value;
	size_t	 hash;
};

struct strmap {
	struct strmap_slot	*slots;
	size_t			 cap;	/* 0 or a power of two */
	size_t			 len;
};

/* The value stored under key, or NULL. */
void	*strmap_get(const struct strmap *m, const char *key);

/*
 * Store value under key (replacing any value there; the old one is not
 * freed).  Returns 0, or -1 when out of memory (the map is unchanged).
 */
int	 strmap_put(struct strmap *m, const char *key, void *value);

/* Remove key; returns its value, or NULL when it was not there. */
void	*strmap_del(struct strmap *m, const char *key);

/*
 * Visit every entry; fn returns nonzero to remove the entry (after it
 * freed the value, if it owns it).
 */
void	 strmap_sweep(struct strmap *m, int (*fn)(const char *key,
	    void *value, void *arg), void *arg);

/* Free the keys and the table (values are the caller's). */
void	 strmap_clear(struct strmap *m);

#endif
