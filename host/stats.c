/*
 * stats.c - the last error in the page a worker shares with its
 * supervisor (WORKER_STATS_FD), so that `scope-plugin-host status` shows
 * why a module answers 500 without a message on the channel.
 *
 * The worker writes, the supervisor only reads: a sequence count makes a
 * torn read detectable (a seqlock).  A worker writes it under its
 * module_lock, so there is one writer at a time.
 */
#include <string.h>

#include "host.h"

void
stats_set_error(struct worker_stats *st, const char *text)
{
	size_t	len = strlen(text);

	if (len >= sizeof st->error)
		len = sizeof st->error - 1;
	__atomic_add_fetch(&st->error_seq, 1, __ATOMIC_ACQ_REL);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memcpy(st->error, text, len);
	st->error[len] = '\0';
	__atomic_store_n(&st->error_ms, now_ms(), __ATOMIC_RELAXED);
	__atomic_add_fetch(&st->error_seq, 1, __ATOMIC_RELEASE);
}

/*
 * Copies the last error into buf (size > 0) and its time into *ms.
 * Returns 1, or 0 when there is none or the worker kept rewriting it.
 */
int
stats_get_error(const struct worker_stats *st, char *buf, size_t size,
    uint64_t *ms)
{
	uint64_t	seq;
	size_t		n;
	int		tries;

	for (tries = 0; tries < 8; tries++) {
		seq = __atomic_load_n(&st->error_seq, __ATOMIC_ACQUIRE);
		if (seq & 1)
			continue;
		*ms = __atomic_load_n(&st->error_ms, __ATOMIC_RELAXED);
		n = size - 1 < sizeof st->error ? size - 1 : sizeof st->error;
		memcpy(buf, st->error, n);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&st->error_seq, __ATOMIC_RELAXED) != seq)
			continue;
		buf[n] = '\0';
		return seq != 0 && *ms != 0;
	}
	return 0;
}
