/*
 * health.c - kills a worker whose collect() runs past its deadline or
 * whose resident set grows past the memory limit.  Workers publish when
 * a collect started in their shared statistics page; a periodic tick
 * reads it, and reads /proc for memory once a second.
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

/*
 * Enforces collect deadlines and the memory limit.  The tick also
 * retries telling systemd we are ready: a rescan pending at the time
 * (a file settling) may have put that off.
 */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct supervisor	*sv = arg;
	struct modent		*m;
	uint64_t		 now = now_ns(), start;
	int			 check_mem = 0;

	(void)fd;
	(void)what;
	supervisor_ready_check(sv);
	if (now / 1000000 - sv->last_mem_check >= 1000) {
		check_mem = 1;
		sv->last_mem_check = now / 1000000;
	}
	TAILQ_FOREACH(m, &sv->mods, entry) {
		if (m->pid <= 0 || m->stats == NULL || m->kill_reason != NULL ||
		    (m->state != M_RUNNING && m->state != M_STARTING))
			continue;
		start = __atomic_load_n(&m->stats->collect_start_ns,
		    __ATOMIC_ACQUIRE);
		if (start != 0 && now > start &&
		    now - start > (uint64_t)m->deadline_ms * 1000000) {
			xasprintf(&m->kill_reason, "collect hung: killed after "
			    "%llu ms (deadline %u ms)",
			    (unsigned long long)((now - start) / 1000000),
			    m->deadline_ms);
			log_err("module %s: %s", mod_name(m), m->kill_reason);
			kill(m->pid, SIGKILL);
			continue;
		}
		if (check_mem && m->memory_limit_mb > 0) {
			unsigned long mb = rss_mb(m->pid);
			if (mb > m->memory_limit_mb) {
				xasprintf(&m->kill_reason, "memory: resident "
				    "size %lu MiB over the %u MiB limit", mb,
				    m->memory_limit_mb);
				log_err("module %s: %s; killing worker %ld",
				    mod_name(m), m->kill_reason, (long)m->pid);
				kill(m->pid, SIGKILL);
			}
		}
	}
}

void
health_start(struct supervisor *sv)
{
	struct timeval	tv;
	unsigned	tick;

	/*
	 * A quarter of the global deadline, within 50..250 ms: a hung
	 * collect is killed at most one tick late.  A per-module deadline
	 * (--set id.deadline) does not shorten the tick.
	 */
	tick = sv->o->deadline_ms / 4;
	if (tick < 50)
		tick = 50;
	if (tick > 250)
		tick = 250;
	tv.tv_sec = 0;
	tv.tv_usec = tick * 1000;
	sv->tick_ev = event_new(sv->base, -1, EV_PERSIST, tick_cb, sv);
	if (sv->tick_ev == NULL || event_add(sv->tick_ev, &tv) != 0)
		fatal("event_add: deadline tick");
}

void
health_stop(struct supervisor *sv)
{
	event_free(sv->tick_ev);
}
