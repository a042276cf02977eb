/* strmap.c - string-keyed open-addressing hash map (see strmap.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

/* FNV-1a. */
static size_t
hash(const char *s)
{
	uint64_t	h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return (size_t)h;
}

static struct strmap_slot *
find(const struct strmap *m, const char *key, size_t h)
{
	size_t	i;

	if (m->cap == 0)
		return NULL;
	for (i = h & (m->cap - 1); m->slots[i].key != NULL;
	    i = (i + 1) & (m->cap - 1))
		if (m->slots[i].hash == h && strcmp(m->slots[i].key, key) == 0)
			return &m->slots[i];
	return NULL;
}

void *
strmap_get(const struct strmap *m, const char *key)
{
	struct strmap_slot	*s = find(m, key, hash(key));

	return s != NULL ? s->value : NULL;
}

static void
insert(struct strmap_slot *slots, size_t cap, struct strmap_slot *e)
{
	size_t	i;

	for (i = e->hash & (cap - 1); slots[i].key != NULL; i = (i + 1) & (cap - 1))
		;
	slots[i] = *e;
}

static int
grow(struct strmap *m)
{
	struct strmap_slot	*ns;
	size_t			 ncap = m->cap == 0 ? 16 : m->cap * 2, i;

	if ((ns = calloc(ncap, sizeof *ns)) == NULL)
		return -1;
	for (i = 0; i < m->cap; i++)
		if (m->slots[i].key != NULL)
			insert(ns, ncap, &m->slots[i]);
	free(m->slots);
	m->slots = ns;
	m->cap = ncap;
	return 0;
}

int
strmap_put(struct strmap *m, const char *key, void *value)
{
	struct strmap_slot	*s, e;
	size_t			 h = hash(key);

	if ((s = find(m, key, h)) != NULL) {
		s->value = value;
		return 0;
	}
	/* Load factor at most 1/2. */
	if ((m->len + 1) * 2 > m->cap && grow(m) != 0)
		return -1;
	if ((e.key = strdup(key)) == NULL)
		return -1;
	e.value = value;
	e.hash = h;
	insert(m->slots, m->cap, &e);
	m->len++;
	return 0;
}

/* Empties slot i and shifts the entries after it back into place. */
static void
remove_at(struct strmap *m, size_t i)
{
	size_t	j = i, want;

	free(m->slots[i].key);
	m->slots[i].key = NULL;
	m->len--;
	for (;;) {
		j = (j + 1) & (m->cap - 1);
		if (m->slots[j].key == NULL)
			return;
		want = m->slots[j].hash & (m->cap - 1);
		/* Leave j when its home lies cyclically in (i, j]. */
		if (i <= j ? (i < want && want <= j) : (i < want || want <= j))
			continue;
		m->slots[i] = m->slots[j];
		m->slots[j].key = NULL;
		i = j;
	}
}

void *
strmap_del(struct strmap *m, const char *key)
{
	struct strmap_slot	*s = find(m, key, hash(key));
	void			*v;

	if (s == NULL)
		return NULL;
	v = s->value;
	remove_at(m, (size_t)(s - m->slots));
	return v;
}

void
strmap_sweep(struct strmap *m, int (*fn)(const char *, void *, void *),
    void *arg)
{
	size_t	i = 0, n = m->cap;

	/*
	 * A removal may shift a later entry back into slot i: look at i
	 * again.  An entry that wraps around to the front may be visited
	 * twice; fn must give the same answer for it (ours do).
	 */
	while (i < n) {
		if (m->slots[i].key != NULL &&
		    fn(m->slots[i].key, m->slots[i].value, arg))
			remove_at(m, i);
		else
			i++;
	}
}

void
strmap_clear(struct strmap *m)
{
	size_t	i;

	for (i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	m->slots = NULL;
	m->cap = m->len = 0;
}
