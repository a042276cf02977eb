/*
 * supervisor.c - the parent: owns the socket directory, every listening
 * socket and all module state; runs each module in a worker it forks and
 * execs, and never loads module code itself.  This file is the event
 * loop, the signals and shutdown; the rest of the supervisor is
 * lifecycle.c (each module's states), reconcile.c (the module
 * directory), health.c (memory), fallback.c (connections, and the
 * replies owed when a worker cannot give them), refused.c (a refused
 * module's socket) and status.c (the operator's view).
 */
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"

/*
 * Tells systemd we are ready once every module has been tried: none is
 * still starting, waiting to be started, stopping to be restarted (on a
 * new file or new settings) or refused but to be retried (SIGHUP).
 */
void
supervisor_ready_check(struct supervisor *sv)
{
	struct modent	*m;
	char		 msg[192];
	unsigned	 running = 0, total = 0;

	if (!sv->ready_pending || sv->shutting_down ||
	    evtimer_pending(sv->rescan_ev, NULL))
		return;
	TAILQ_FOREACH(m, &sv->mods, entry) {
		if (m->state == M_STARTING || m->state == M_WAITING ||
		    (m->state == M_STOPPING && m->after == AFTER_RESTART) ||
		    m->retry_pending)
			return;
		total++;
		running += m->state == M_RUNNING;
	}
	sv->ready_pending = 0;
	snprintf(msg, sizeof msg, "READY=1\nSTATUS=%u of %u modules serving%s",
	    running, total, sv->reload_errors > 0 ? "; the configuration "
	    "file has errors, not reloaded (see the log)" : "");
	notify_send(msg);
	log_debug("ready: %u of %u modules serving", running, total);
}

/*
 * Reaps every exited child: workers, and as a subreaper (contain.c) the
 * orphans of what modules started, whose own leftovers are then swept.
 * During shutdown, ends the loop after the last worker.
 */
static void
sig_chld(struct supervisor *sv)
{
	struct modent	*m;
	pid_t		 pid;
	int		 status, orphans = 0;

	while ((pid = waitpid(-1, &status, WNOHANG | WUNTRACED |
	    WCONTINUED)) > 0) {
		m = mod_find_pid(sv, pid);
		/* A stopped worker answers nothing: fallback.c watches. */
		if (WIFSTOPPED(status) || WIFCONTINUED(status)) {
			if (m != NULL)
				fallback_stopped(m, WIFSTOPPED(status));
			continue;
		}
		if (m == NULL) {
			orphans++;
			continue;
		}
		mod_exited(sv, m, status);
	}
	if (orphans > 0)
		contain_orphans(sv);
	if (sv->shutting_down) {
		TAILQ_FOREACH(m, &sv->mods, entry)
			if (m->pid > 0)
				return;
		event_base_loopexit(sv->base, NULL);
	}
}

static void
shutdown_begin(struct supervisor *sv)
{
	struct modent	*m;
	struct timeval	 tv;
	int		 waiting = 0;

	if (sv->shutting_down)
		return;
	/* From here on, nothing starts (mod_spawn, mod_set_state). */
	sv->shutting_down = 1;
	notify_send("STOPPING=1");
	log_info("shutting down");
	evtimer_del(sv->rescan_ev);
	/* Sockets go first so the probe stops finding us at once. */
	TAILQ_FOREACH(m, &sv->mods, entry)
		mod_release_socket(m);
	/* One grace timer for all (grace_cb), not one per module. */
	TAILQ_FOREACH(m, &sv->mods, entry) {
		evtimer_del(m->timer);
		if (m->pid > 0) {
			kill(m->pid, SIGTERM);
			if (m->state != M_STOPPING)
				mod_set_state(m, M_STOPPING, "shutting down");
			m->after = AFTER_REMOVE;
			waiting = 1;
		}
	}
	if (!waiting) {
		event_base_loopexit(sv->base, NULL);
		return;
	}
	tv.tv_sec = sv->o->stop_grace_ms / 1000;
	tv.tv_usec = (sv->o->stop_grace_ms % 1000) * 1000;
	if (evtimer_add(sv->grace_ev, &tv) != 0)
		log_err("cannot arm the shutdown timer");
}

static void
grace_cb(evutil_socket_t fd, short what, void *arg)
{
	struct supervisor	*sv = arg;
	struct modent		*m;

	(void)fd;
	(void)what;
	TAILQ_FOREACH(m, &sv->mods, entry) {
		if (m->pid > 0) {
			log_warn("module %s: worker %ld still running after "
			    "%u ms; killing it", mod_name(m), (long)m->pid,
			    sv->o->stop_grace_ms);
			kill(m->pid, SIGKILL);
		}
	}
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct supervisor	*sv = arg;

	(void)what;
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		shutdown_begin(sv);
		break;
	case SIGHUP:
		if (!sv->shutting_down)
			reconcile_reload(sv);
		break;
	case SIGCHLD:
		sig_chld(sv);
		break;
	case SIGUSR1:
		status_log(sv);
		break;
	}
}

int
supervisor_main(struct options *o)
{
	static const int	 sigs[5] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1 };
	struct supervisor	 sv;
	struct modent		*m;
	char			*cause = NULL;
	int			 i;

	memset(&sv, 0, sizeof sv);
	sv.o = o;
	sv.started_ms = now_ms();
	sv.ready_pending = 1;
	notify_init();
	TAILQ_INIT(&sv.mods);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fatal("signal SIGPIPE: %s", strerror(errno));

	if (sockets_prepare(o->socket_dir, &sv.lockfd, &cause) != 0) {
		log_err("%s", cause);
		free(cause);
		return 1;
	}
	sockets_clean_stale(o->socket_dir);

	if ((sv.base = event_base_new()) == NULL)
		fatal("event_base_new failed");
	for (i = 0; i < 5; i++) {
		sv.sig_ev[i] = evsignal_new(sv.base, sigs[i], signal_cb, &sv);
		if (sv.sig_ev[i] == NULL || event_add(sv.sig_ev[i], NULL) != 0)
			fatal("cannot install signal handler %d", sigs[i]);
	}
	if ((sv.grace_ev = evtimer_new(sv.base, grace_cb, &sv)) == NULL)
		fatal("event_new: out of memory");
	contain_start(&sv);
	reconcile_start(&sv);
	if ((sv.status = status_start(&sv, &cause)) == NULL) {
		log_warn("%s; `%s status` will not work", cause, HOST_NAME);
		free(cause);
		cause = NULL;
	}
	log_info("%s %s: modules from %s, sockets in %s", HOST_NAME,
	    PACKAGE_VERSION, o->module_dir, o->socket_dir);
	reconcile(&sv, 0);
	supervisor_ready_check(&sv);

	if (event_base_dispatch(sv.base) == -1)
		log_err("event loop failed");

	/* The workers are gone; entries without one (failed, refused) remain. */
	while ((m = TAILQ_FIRST(&sv.mods)) != NULL)
		mod_free(&sv, m);
	/* And so must everything they started: no descendant outlives us. */
	contain_finish(&sv);
	for (i = 0; i < 5; i++)
		event_free(sv.sig_ev[i]);
	event_free(sv.grace_ev);
	reconcile_stop(&sv);
	status_stop(sv.status);
	notify_close();
	event_base_free(sv.base);
	close(sv.lockfd);
	log_info("stopped");
	return 0;
}
