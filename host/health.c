/*
 * health.c - kills a worker whose resident set grows past the memory
 * limit.  The check runs once a second while workers are busy and not
 * at all while nothing happens (issue 14: an idle host sleeps).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "host.h"

/* How often a busy worker's memory is checked. */
#define HEALTH_MEMORY_MS 1000

/* Reads a worker's resident set size in MiB from /proc, 0 if unknown. */
static unsigned long
rss_mb(pid_t pid)
{
	char		 path[64], buf[128];
	unsigned long	 size, rss;
	ssize_t		 n;
	int		 fd;

	snprintf(path, sizeof path, "/proc/%ld/statm", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%lu %lu", &size, &rss) != 2)
		return 0;
	return rss * (unsigned long)sysconf(_SC_PAGESIZE) / (1024 * 1024);
}

/*
 * Checks the memory limit of every worker that did something since the
 * last check; re-arms itself only while some did.  An idle worker's
 * resident set does not grow, so an idle host is not woken for it.
 * Deadlines are fallback.c's (each request is checked at its own).
 */
static void
mem_cb(evutil_socket_t fd, short what, void *arg)
{
	struct supervisor	*sv = arg;
	struct modent		*m;
	unsigned long		 mb;
	uint64_t		 n;
	int			 busy = 0;

	(void)fd;
	(void)what;
	TAILQ_FOREACH(m, &sv->mods, entry) {
		if (m->pid <= 0 || m->memory_limit_mb == 0 ||
		    m->kill_reason != NULL ||
		    (m->state != M_RUNNING && m->state != M_STARTING))
			continue;
		n = m->stats != NULL ? m->stats->collects + m->stats->requests :
		    0;
		if (m->stats != NULL && n == m->mem_collects &&
		    m->state == M_RUNNING)
			continue;
		m->mem_collects = n;
		busy = 1;
		if ((mb = rss_mb(m->pid)) > m->memory_limit_mb) {
			xasprintf(&m->kill_reason, "memory: resident size %lu "
			    "MiB over the %u MiB limit", mb, m->memory_limit_mb);
			log_err("module %s: %s; killing worker %ld", mod_name(m),
			    m->kill_reason, (long)m->pid);
			kill(m->pid, SIGKILL);
		}
	}
	if (busy)
		health_wake(sv);
}

/*
 * Something happened (a request, a worker started): check memory within
 * HEALTH_MEMORY_MS, unless a check is due already.
 */
void
health_wake(struct supervisor *sv)
{
	struct timeval	tv = { HEALTH_MEMORY_MS / 1000,
			    (HEALTH_MEMORY_MS % 1000) * 1000 };

	if (sv->mem_ev == NULL || evtimer_pending(sv->mem_ev, NULL))
		return;
	if (evtimer_add(sv->mem_ev, &tv) != 0)
		log_err("cannot arm the memory check");
}

void
health_start(struct supervisor *sv)
{
	if ((sv->mem_ev = evtimer_new(sv->base, mem_cb, sv)) == NULL)
		fatal("evtimer_new: out of memory");
}

void
health_stop(struct supervisor *sv)
{
	event_free(sv->mem_ev);
	sv->mem_ev = NULL;
}
