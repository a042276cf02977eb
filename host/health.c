/*
 * health.c - kills a worker whose resident set grows past the memory
 * limit.  Nothing here wakes the supervisor (an idle host sleeps): a
 * worker checks its own peak resident size after every collect and
 * sounds its alarm when it passes the limit (fallback.c), and the
 * periodic rescan looks at every worker, for growth between collects.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "host.h"

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

/* Kills m's worker if its resident set is over m's memory limit. */
void
health_check_mod(struct modent *m)
{
	unsigned long	mb;

	if (m->pid <= 0 || m->memory_limit_mb == 0 ||
	    m->kill_reason != NULL ||
	    (m->state != M_RUNNING && m->state != M_STARTING))
		return;
	if ((mb = rss_mb(m->pid)) <= m->memory_limit_mb)
		return;
	xasprintf(&m->kill_reason, "memory: resident size %lu MiB over the %u "
	    "MiB limit", mb, m->memory_limit_mb);
	log_err("module %s: %s; killing worker %ld", mod_name(m),
	    m->kill_reason, (long)m->pid);
	kill(m->pid, SIGKILL);
}

void
health_check(struct supervisor *sv)
{
	struct modent	*m;

	TAILQ_FOREACH(m, &sv->mods, entry)
		health_check_mod(m);
}
