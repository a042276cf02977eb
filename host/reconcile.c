/*
 * reconcile.c - the module table follows the module directory: a file
 * added is started, a file replaced is restarted on its new version, a
 * file removed is stopped.  inotify says when to look (debounced); a
 * periodic rescan covers what inotify misses, and also remakes sockets
 * and the lock someone removed from the socket directory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host.h"

static void	watch_cb(evutil_socket_t, short, void *);

static void
reconcile_schedule(struct supervisor *sv, unsigned ms)
{
	struct timeval	tv;

	if (sv->shutting_down)
		return;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (evtimer_pending(sv->rescan_ev, NULL))
		evtimer_del(sv->rescan_ev);
	if (evtimer_add(sv->rescan_ev, &tv) != 0)
		log_err("cannot schedule a rescan");
}

/*
 * Reconciles the module table with the directory.  retry_failed (SIGHUP)
 * also restarts failed, refused and backing-off modules at once.
 */
void
reconcile(struct supervisor *sv, int retry_failed)
{
	struct modfile	*files;
	struct modent	*m, *next;
	size_t		 n, i;
	char		*cause = NULL;
	uint64_t	 wall = (uint64_t)time(NULL) * 1000;
	unsigned	 wait_ms = 0;

	if (scan_dir(sv->o, &files, &n, &cause) != 0) {
		/* Keep serving what runs; a later scan may succeed. */
		log_err("%s", cause);
		free(cause);
		return;
	}
	TAILQ_FOREACH(m, &sv->mods, entry)
		m->present = 0;
	for (i = 0; i < n; i++) {
		struct modfile	*f = &files[i];
		uint64_t	 mtime = (uint64_t)f->st.st_mtim.tv_sec * 1000 +
		    (uint64_t)f->st.st_mtim.tv_nsec / 1000000;

		TAILQ_FOREACH(m, &sv->mods, entry)
			if (strcmp(m->name, f->name) == 0)
				break;
		if (m != NULL)
			m->present = 1;
		/* A file still being written is left until it settles. */
		if (mtime + sv->o->settle_ms > wall && mtime <= wall + 1000) {
			unsigned w = (unsigned)(mtime + sv->o->settle_ms - wall);
			if (wait_ms == 0 || w < wait_ms)
				wait_ms = w;
			continue;
		}
		if (m == NULL) {
			m = mod_new(sv, f);
			m->present = 1;
			mod_spawn(sv, m);
			continue;
		}
		if (!scan_same_file(&m->st, &f->st)) {
			log_info("module %s: %s changed", mod_name(m), m->name);
			m->st = f->st;
			if (m->pid > 0) {
				mod_backoff_reset(m);
				mod_stop(sv, m, AFTER_RESTART);
			} else
				mod_start_afresh(sv, m);
			continue;
		}
		/* Never two workers for one module: wait for the old one. */
		if (m->pid > 0)
			continue;
		if ((retry_failed && (m->state == M_FAILED ||
		    m->state == M_REFUSED || m->state == M_BACKOFF)) ||
		    (m->state == M_REFUSED && m->refused_dup &&
		    mod_find_id(sv, m->id, m) == NULL) ||
		    m->state == M_WAITING)
			mod_start_afresh(sv, m);
	}
	scan_free(files, n);

	TAILQ_FOREACH_SAFE(m, &sv->mods, entry, next) {
		if (m->present)
			continue;
		if (m->pid > 0) {
			log_info("module %s: %s removed; stopping", mod_name(m),
			    m->name);
			mod_stop(sv, m, AFTER_REMOVE);
		} else if (m->state != M_STOPPING) {
			log_info("module %s: %s removed", mod_name(m), m->name);
			mod_free(sv, m);
		}
	}
	if (wait_ms > 0)
		reconcile_schedule(sv, wait_ms + 10);
}

static void
rescan_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	reconcile(arg, 0);
	/* Telling systemd may have waited for this rescan. */
	supervisor_ready_check(arg);
}

static void
watch_open_dir(struct supervisor *sv)
{
	char	*cause = NULL;

	if (sv->watch_ev != NULL) {
		event_free(sv->watch_ev);
		sv->watch_ev = NULL;
	}
	if (sv->watch_fd != -1)
		close(sv->watch_fd);
	if ((sv->watch_fd = watch_open(sv->o->module_dir, &cause)) == -1) {
		log_warn("%s; relying on the periodic rescan", cause);
		free(cause);
		return;
	}
	sv->watch_ev = event_new(sv->base, sv->watch_fd, EV_READ | EV_PERSIST,
	    watch_cb, sv);
	if (sv->watch_ev == NULL || event_add(sv->watch_ev, NULL) != 0)
		fatal("event_add: inotify");
}

static void
watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct supervisor	*sv = arg;
	int			 r;

	(void)what;
	r = watch_drain(fd);
	if (r == -1) {
		log_warn("module directory %s moved or removed",
		    sv->o->module_dir);
		event_free(sv->watch_ev);
		sv->watch_ev = NULL;
		close(sv->watch_fd);
		sv->watch_fd = -1;
		reconcile_schedule(sv, 50);
	} else if (r == 1)
		reconcile_schedule(sv, 50);	/* coalesce bursts */
}

/*
 * A socket someone removed (a cleaned /run, an rm -r) leaves the module
 * unreachable while its worker looks healthy: make a new one.
 */
static void
check_sockets(struct supervisor *sv)
{
	struct modent	*m;
	struct stat	 st;
	char		*lock, *cause = NULL;
	int		 fd;

	/* The directory went with them: take the lock again first. */
	xasprintf(&lock, "%s/%s", sv->o->socket_dir, SOCKETS_LOCK_NAME);
	if (lstat(lock, &st) != 0 && errno == ENOENT) {
		if (sockets_prepare(sv->o->socket_dir, &fd, &cause) == 0) {
			close(sv->lockfd);
			sv->lockfd = fd;
			log_warn("%s was removed; made it again", lock);
		} else {
			log_err("%s", cause);
			free(cause);
		}
	}
	free(lock);

	TAILQ_FOREACH(m, &sv->mods, entry) {
		if (m->state != M_RUNNING || m->sock == NULL ||
		    lstat(m->sock->path, &st) == 0 || errno != ENOENT)
			continue;
		log_warn("module %s: socket %s was removed; restarting the "
		    "module on a new one", m->id, m->sock->path);
		mod_release_socket(m);
		mod_stop(sv, m, AFTER_RESTART);
	}
}

static void
periodic_cb(evutil_socket_t fd, short what, void *arg)
{
	struct supervisor	*sv = arg;

	(void)fd;
	(void)what;
	if (sv->watch_fd == -1)
		watch_open_dir(sv);
	check_sockets(sv);
	reconcile(sv, 0);
}

/* Sets up the watch and the timers; the first scan is the caller's. */
void
reconcile_start(struct supervisor *sv)
{
	struct timeval	tv;

	sv->watch_fd = -1;
	sv->rescan_ev = evtimer_new(sv->base, rescan_cb, sv);
	sv->periodic_ev = event_new(sv->base, -1, EV_PERSIST, periodic_cb, sv);
	if (sv->rescan_ev == NULL || sv->periodic_ev == NULL)
		fatal("event_new: out of memory");
	tv.tv_sec = sv->o->rescan_ms / 1000;
	tv.tv_usec = (sv->o->rescan_ms % 1000) * 1000;
	if (event_add(sv->periodic_ev, &tv) != 0)
		fatal("event_add: periodic rescan");
	watch_open_dir(sv);
}

void
reconcile_stop(struct supervisor *sv)
{
	event_free(sv->rescan_ev);
	event_free(sv->periodic_ev);
	if (sv->watch_ev != NULL)
		event_free(sv->watch_ev);
	if (sv->watch_fd != -1)
		close(sv->watch_fd);
}
