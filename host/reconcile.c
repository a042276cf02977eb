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
static void	reconcile_schedule(struct supervisor *, unsigned);

/* Look at the directory again shortly (a module was stopped for its file). */
void
reconcile_soon(struct supervisor *sv)
{
	reconcile_schedule(sv, 10);
}

/*
 * An entry (the file's own module, or inst, one of its instances) of a
 * file the scan refused as unsafe to load (it logged why, once): refused
 * without a worker.  One still running an older version is stopped first;
 * its entry goes, and the look after (reconcile_soon) refuses the file.
 */
static void
reconcile_unsafe(struct supervisor *sv, struct modent *m,
    const struct modfile *f, const char *inst)
{
	if (m == NULL) {
		m = mod_new(sv, f, inst);
		m->present = 1;
	}
	if (m->pid > 0) {
		if (m->state != M_STOPPING || m->after != AFTER_REMOVE) {
			log_info("module %s: %s is unsafe to load now; stopping",
			    mod_name(m), m->name);
			mod_stop(sv, m, AFTER_REMOVE);
		}
		return;
	}
	if (m->state == M_REFUSED && m->unsafe && m->reason != NULL &&
	    strcmp(m->reason, f->refused) == 0 && scan_same_file(&m->st, &f->st))
		return;
	m->st = f->st;
	m->unsafe = 1;
	evtimer_del(m->timer);
	mod_set_refused(sv, m, f->refused);
}

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

/* The entry for file name, or for its instance inst if not NULL. */
static struct modent *
mod_lookup(struct supervisor *sv, const char *name, const char *inst)
{
	struct modent	*m;

	TAILQ_FOREACH(m, &sv->mods, entry)
		if (strcmp(m->name, name) == 0 && (inst == NULL ?
		    m->inst == NULL : m->inst != NULL &&
		    strcmp(m->inst, inst) == 0))
			return m;
	return NULL;
}

/*
 * One entry of file f: the file's own module (inst NULL) or one of its
 * instances.  A new entry starts; a replaced file restarts it; with
 * retry_failed (SIGHUP) one that gave up starts again.
 */
static void
reconcile_entry(struct supervisor *sv, const struct modfile *f,
    const char *inst, int settling, int retry_failed)
{
	struct modent	*m = mod_lookup(sv, f->name, inst);

	if (m != NULL)
		m->present = 1;
	/* A file still being written is left until it settles. */
	if (settling)
		return;
	if (f->refused != NULL) {
		reconcile_unsafe(sv, m, f, inst);
		return;
	}
	if (m == NULL) {
		m = mod_new(sv, f, inst);
		m->present = 1;
		mod_spawn(sv, m);
		return;
	}
	if (!scan_same_file(&m->st, &f->st) || m->unsafe) {
		log_info("module %s: %s changed", mod_name(m), m->name);
		m->st = f->st;
		m->unsafe = 0;
		if (m->pid > 0) {
			mod_backoff_reset(m);
			mod_stop(sv, m, AFTER_RESTART);
		} else
			mod_start_afresh(sv, m);
		return;
	}
	/* Never two workers for one module: wait for the old one. */
	if (m->pid > 0) {
		if (retry_failed && m->state == M_REFUSED)
			m->retry_pending = 1;
		return;
	}
	if ((retry_failed && (m->state == M_FAILED ||
	    m->state == M_REFUSED || m->state == M_BACKOFF)) ||
	    (m->state == M_REFUSED && m->refused_dup &&
	    mod_find_id(sv, m->id, m) == NULL) ||
	    m->state == M_WAITING)
		mod_start_afresh(sv, m);
}

/*
 * Reconciles the module table with the directory and the instances the
 * configuration defines: one entry per file, and one per instance of it.
 * retry_failed (SIGHUP) also restarts failed, refused and backing-off
 * modules at once.
 */
void
reconcile(struct supervisor *sv, int retry_failed)
{
	const struct options	*o = sv->o;
	struct modfile		*files;
	struct modent		*m, *next;
	size_t			 n, i, j;
	char			*cause = NULL;
	uint64_t		 wall = (uint64_t)time(NULL) * 1000;
	unsigned		 wait_ms = 0;

	if (sv->shutting_down)
		return;
	if (scan_dir(o, &files, &n, &cause) != 0) {
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
		int		 settling = 0;

		if (mtime + o->settle_ms > wall && mtime <= wall + 1000) {
			unsigned w = (unsigned)(mtime + o->settle_ms - wall);
			if (wait_ms == 0 || w < wait_ms)
				wait_ms = w;
			settling = 1;
		}
		reconcile_entry(sv, f, NULL, settling, retry_failed);
		for (j = 0; j < o->nblocks; j++)
			if (o->blocks[j].file != NULL &&
			    strcmp(o->blocks[j].file, f->name) == 0)
				reconcile_entry(sv, f, o->blocks[j].id, settling,
				    retry_failed);
	}
	scan_free(files, n);

	TAILQ_FOREACH_SAFE(m, &sv->mods, entry, next) {
		const struct module_block *b;
		int		 dropped;

		if (m->present)
			continue;
		/* An instance whose file is still there left the configuration. */
		dropped = m->inst != NULL && ((b = options_block(o, m->inst)) ==
		    NULL || b->file == NULL || strcmp(b->file, m->name) != 0);
		if (m->pid > 0) {
			log_info("module %s: %s; stopping", mod_name(m), dropped ?
			    "instance no longer in the configuration" :
			    "file removed");
			mod_stop(sv, m, AFTER_REMOVE);
		} else if (m->state != M_STOPPING) {
			log_info("module %s: %s", mod_name(m), dropped ?
			    "instance no longer in the configuration" :
			    "file removed");
			mod_free(sv, m);
		}
	}
	refused_socks_retry(sv);
	if (wait_ms > 0)
		reconcile_schedule(sv, wait_ms + 10);
}

/*
 * Settings that only a restart can change: the directories, the user
 * and group, where the log goes.  A reload keeps the running value (in
 * fresh, which replaces cur) and says so.
 */
static void
reload_keep(struct options *cur, struct options *fresh)
{
	static const char *const names[] = { "module-dir", "socket-dir",
	    "user", "socket-group" };
	const char	**f[] = { &fresh->module_dir, &fresh->socket_dir,
	    &fresh->user, &fresh->socket_group };
	const char	*c[] = { cur->module_dir, cur->socket_dir, cur->user,
	    cur->socket_group };
	char		*keep;
	size_t		 i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		if ((*f[i] == NULL && c[i] == NULL) ||
		    (*f[i] != NULL && c[i] != NULL && strcmp(*f[i], c[i]) == 0))
			continue;
		log_warn("configuration: %s changed to %s; restart the host to "
		    "apply it (still %s)", names[i], *f[i] != NULL ? *f[i] :
		    "(none)", c[i] != NULL ? c[i] : "(none)");
	}
	/* Strings into cur's file go with it: fresh keeps copies. */
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		keep = c[i] != NULL ? xstrdup(c[i]) : NULL;
		if (keep != NULL) {
			fresh->owned = xrealloc(fresh->owned, (fresh->nowned + 1) *
			    sizeof *fresh->owned);
			fresh->owned[fresh->nowned++] = keep;
		}
		*f[i] = keep;
	}
	fresh->user_uid = cur->user_uid;
	fresh->user_gid = cur->user_gid;
	free(fresh->user_groups);
	fresh->user_groups = NULL;
	fresh->user_ngroups = cur->user_ngroups;
	if (cur->user_ngroups > 0) {
		fresh->user_groups = xcalloc((size_t)cur->user_ngroups,
		    sizeof *fresh->user_groups);
		memcpy(fresh->user_groups, cur->user_groups,
		    (size_t)cur->user_ngroups * sizeof *fresh->user_groups);
	}
	fresh->socket_gid = cur->socket_gid;
	if (fresh->use_syslog != cur->use_syslog)
		log_warn("configuration: syslog changed; restart the host to "
		    "apply it");
	fresh->use_syslog = cur->use_syslog;
}

/*
 * SIGHUP: reads the configuration file again.  A valid file replaces
 * the running configuration: workers whose settings changed restart,
 * new instances start, removed ones stop, and the directory is rescanned
 * with failed modules retried.  A file with errors is refused, every
 * error logged, and nothing changes.  systemd hears RELOADING=1 first
 * and READY=1 once every module has been tried again.
 */
void
reconcile_reload(struct supervisor *sv)
{
	struct options	 fresh, *o = sv->o;
	struct modent	*m, *next;
	struct timeval	 tv;
	char		**errors = NULL, msg[96];
	size_t		 nerrors = 0, i;
	int		 r;

	snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)(now_ns() / 1000));
	notify_send(msg);
	sv->ready_pending = 1;
	if (o->no_config) {
		log_info("SIGHUP: rescanning %s and retrying failed modules "
		    "(no configuration file: --no-config)", o->module_dir);
		sv->reload_errors = 0;
		reconcile(sv, 1);
		supervisor_ready_check(sv);
		return;
	}
	if ((r = config_reread(o, &fresh, &errors, &nerrors)) == -1) {
		for (i = 0; i < nerrors; i++)
			log_err("%s", errors[i]);
		log_err("SIGHUP: %zu error%s in %s; not reloaded: the running "
		    "configuration stays", nerrors, nerrors == 1 ? "" : "s",
		    config_path(o));
		config_free_errors(errors, nerrors);
		sv->reload_errors = nerrors > 0 ? (unsigned)nerrors : 1;
		supervisor_ready_check(sv);
		return;
	}
	reload_keep(o, &fresh);
	if (fresh.rescan_ms != o->rescan_ms) {
		tv.tv_sec = fresh.rescan_ms / 1000;
		tv.tv_usec = (fresh.rescan_ms % 1000) * 1000;
		if (event_add(sv->periodic_ev, &tv) != 0)
			log_err("cannot rearm the periodic rescan");
	}
	options_free(o);
	*o = fresh;
	log_open(HOST_NAME, o->use_syslog, o->log_level);
	sv->reload_errors = 0;
	log_info("SIGHUP: %s %s; rescanning %s and retrying failed modules",
	    config_path(o), r == 1 ? "reloaded" : "absent: the defaults apply",
	    o->module_dir);
	reconcile(sv, 1);
	TAILQ_FOREACH_SAFE(m, &sv->mods, entry, next)
		mod_reconfigure(sv, m);
	supervisor_ready_check(sv);
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
	if (sv->shutting_down)
		return;
	if (sv->watch_fd == -1)
		watch_open_dir(sv);
	check_sockets(sv);
	reconcile(sv, 0);
	/* Growth between collects (a module's own thread, say). */
	health_check(sv);
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
