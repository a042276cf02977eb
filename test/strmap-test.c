/*
 * strmap-test.c - the hash map behind the exec and prometheus modules
 * (plugins/strmap.c) against a plain array: random puts, gets, deletes
 * and sweeps, so that deletion by backward shift never loses or
 * duplicates an entry, however the probe chains wrap.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

#define KEYS	512

static int	failures;
static int	ref[KEYS];	/* value + 1, or 0 when absent */

static void
key_of(int i, char *buf, size_t len)
{
	snprintf(buf, len, "series-%d", i);
}

static int
sweep_odd(const char *key, void *value, void *arg)
{
	int	v = (int)(long)value;

	(void)arg;
	(void)key;
	return v % 2 == 1;
}

static void
compare(const struct strmap *m, const char *when)
{
	char	k[32];
	size_t	n = 0, i;
	void	*v;

	for (i = 0; i < KEYS; i++) {
		key_of((int)i, k, sizeof k);
		v = strmap_get(m, k);
		if ((ref[i] == 0 && v != NULL) ||
		    (ref[i] != 0 && (long)v != ref[i])) {
			printf("FAIL %s: key %s: map %ld, reference %d\n", when,
			    k, (long)v, ref[i]);
			failures++;
			return;
		}
		n += ref[i] != 0;
	}
	if (m->len != n) {
		printf("FAIL %s: len %zu, reference %zu\n", when, m->len, n);
		failures++;
	}
}

int
main(void)
{
	struct strmap	m = { 0 };
	char		k[32];
	int		round, op, i;
	long		v;

	srand(15);
	for (round = 0; round < 200000; round++) {
		i = rand() % KEYS;
		key_of(i, k, sizeof k);
		op = rand() % 3;
		if (op < 2) {
			v = rand() % 1000 + 1;
			if (strmap_put(&m, k, (void *)v) != 0) {
				printf("FAIL put: out of memory\n");
				return 1;
			}
			ref[i] = (int)v;
		} else {
			v = (long)strmap_del(&m, k);
			if (v != ref[i]) {
				printf("FAIL del %s: %ld, reference %d\n", k, v,
				    ref[i]);
				failures++;
			}
			ref[i] = 0;
		}
		if (round % 5000 == 0)
			compare(&m, "random operations");
		if (round % 20000 == 19999) {
			strmap_sweep(&m, sweep_odd, NULL);
			for (i = 0; i < KEYS; i++)
				if (ref[i] % 2 == 1)
					ref[i] = 0;
			compare(&m, "sweep");
		}
	}
	compare(&m, "end");
	strmap_clear(&m);
	if (m.len != 0 || strmap_get(&m, "series-1") != NULL) {
		printf("FAIL clear\n");
		failures++;
	}
	if (failures == 0)
		printf("strmap-test: all passed\n");
	return failures == 0 ? 0 : 1;
}
