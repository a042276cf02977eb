/*
 * supervisor.c - the parent: owns the socket directory, every listening
 * socket and all module state; runs each module in a worker it forks and
 * execs, restarts crashed workers with backoff, kills hung or bloated ones,
 * follows the module directory, answers for modules that are down, and
 * cleans up on SIGTERM.  It never loads module code.
 */
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"

/* glibc's sys/queue.h lacks the _SAFE variants. */
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST((head));				\
	    (var) && ((tvar) = TAILQ_NEXT((var), field), 1);		\
	    (var) = (tvar))
#endif

enum mstate {
	M_STARTING,	/* worker forked, not READY yet */
	M_RUNNING,	/* worker serving */
	M_BACKOFF,	/* crashed; restart timer armed */
	M_FAILED,	/* crashed too often; waits for a new file or SIGHUP */
	M_REFUSED,	/* refused this file version (ABI, id, init, ...) */
	M_STOPPING,	/* SIGTERM sent; see after */
	M_WAITING,	/* file too fresh (being written) or id taken */
};

static const char *const state_names[] = {
	"starting", "running", "restarting", "failed", "refused", "stopping",
	"waiting"
};

enum after_stop { AFTER_NOTHING, AFTER_RESTART, AFTER_REMOVE };

struct supervisor;
struct modent {
	struct supervisor	*sv;
	char			*name;		/* file name in the module dir */
	char			*path;
	struct stat		 st;		/* version being run */
	enum mstate		 state;
	enum after_stop		 after;
	int			 present;	/* seen by the last scan */

	char			 id[PLUGIN_ID_MAX + 1];
	char			*label;
	unsigned		 deadline_ms;
	unsigned		 memory_limit_mb;	/* 0: none */
	struct plugsock		*sock;

	pid_t			 pid;
	int			 chan;
	struct event		*chan_ev;
	struct worker_stats	*stats;
	struct event		*timer;		/* backoff, start timeout, grace */
	uint64_t		 spawned_ms;
	uint64_t		 ready_ms;
	uint64_t		 retry_at_ms;	/* M_BACKOFF: when */

	unsigned		 failures;	/* in a row */
	unsigned		 restarts;	/* total */
	uint64_t		 backoff_ms;
	char			*reason;	/* last error, for logs and replies */
	uint64_t		 reason_ms;	/* when (CLOCK_MONOTONIC) */
	char			*kill_reason;	/* why we killed it, if we did */
	int			 refused_dup;	/* id taken: retry when it frees */
	int			 unsafe;	/* refused by the scan (file modes) */
	int			 refused_sock;	/* sock: the refusal's, see below */
	int			 refused_sock_warned;

	TAILQ_ENTRY(modent)	 entry;
};
TAILQ_HEAD(modlist, modent);

struct supervisor {
	const struct options	*o;
	struct event_base	*base;
	struct modlist		 mods;
	struct http_limits	 limits;
	int			 lockfd;
	int			 watch_fd;
	struct event		*watch_ev;
	struct event		*rescan_ev;	/* debounced, one-shot */
	struct event		*periodic_ev;
	struct event		*tick_ev;	/* deadlines and memory */
	struct event		*grace_ev;	/* shutdown */
	struct event		*sig_ev[5];
	int			 shutting_down;
	uint64_t		 last_mem_check;
	uint64_t		 started_ms;
	int			 ready_pending;	/* READY=1 owed to systemd */
	int			 status_fd;
	struct event		*status_ev;
};

static void	mod_spawn(struct supervisor *, struct modent *);
static void	mod_stop(struct supervisor *, struct modent *, enum after_stop);
static void	mod_release_socket(struct modent *);
static void	supervisor_rescan(struct supervisor *, int);
static void	schedule_rescan(struct supervisor *, unsigned);
static void	watch_cb(evutil_socket_t, short, void *);
static void	mod_channel_drain(struct modent *);
static struct modent *mod_new(struct supervisor *, const struct modfile *);

static void
set_reason(struct modent *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
set_reason(struct modent *m, const char *fmt, ...)
{
	va_list	 ap;
	char	*reason;

	/* Formatted first: the arguments may point into the old reason. */
	va_start(ap, fmt);
	xvasprintf(&reason, fmt, ap);
	va_end(ap);
	free(m->reason);
	m->reason = reason;
	m->reason_ms = now_ms();
}

/* The name to log a module by: its id once known, else its file. */
static const char *
mod_name(const struct modent *m)
{
	return m->id[0] != '\0' ? m->id : m->name;
}

/*
 * The module's last error: the newer of the supervisor's own (a crash, a
 * refusal) and the one its worker wrote in the stats page (a failed
 * collect).  buf holds the latter if it is chosen.
 */
static const char *
mod_last_error(const struct modent *m, char *buf, size_t size)
{
	uint64_t	ms;

	if (m->stats != NULL && m->pid > 0 &&
	    stats_get_error(m->stats, buf, size, &ms) &&
	    (m->reason == NULL || ms >= m->reason_ms))
		return buf;
	return m->reason;
}

/* A worker that exits takes its page along: keep its last error. */
static void
mod_keep_worker_error(struct modent *m)
{
	char		buf[STATS_ERROR_MAX];
	uint64_t	ms;

	if (m->stats != NULL && stats_get_error(m->stats, buf, sizeof buf, &ms) &&
	    (m->reason == NULL || ms >= m->reason_ms)) {
		set_reason(m, "%s", buf);
		m->reason_ms = ms;
	}
}

static struct modent *
mod_find_pid(struct supervisor *sv, pid_t pid)
{
	struct modent	*m;

	TAILQ_FOREACH(m, &sv->mods, entry)
		if (m->pid == pid)
			return m;
	return NULL;
}

/* The module holding the socket id, refused ones included. */
static struct modent *
mod_find_sock(struct supervisor *sv, const char *id, const struct modent *skip)
{
	struct modent	*m;

	TAILQ_FOREACH(m, &sv->mods, entry)
		if (m != skip && m->sock != NULL && strcmp(m->sock->id, id) == 0)
			return m;
	return NULL;
}

/* The module serving (or starting with) id: a refusal's socket gives way. */
static struct modent *
mod_find_id(struct supervisor *sv, const char *id, const struct modent *skip)
{
	struct modent	*m = mod_find_sock(sv, id, skip);

	return m != NULL && !m->refused_sock ? m : NULL;
}

static void
timer_arm(struct modent *m, uint64_t ms)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	if (evtimer_add(m->timer, &tv) != 0)
		log_err("module %s: cannot arm timer", mod_name(m));
}

/*
 * While no worker serves a module's socket, the supervisor answers on it:
 * at once, with an error that says why.  A silent socket would cost the
 * probe 500 ms of every poll round (PROTOCOL.md 5).
 */
static void
fallback_cb(struct server_conn *c, const struct http_request *req,
    struct evbuffer *body, void *arg)
{
	struct modent	*m = arg;
	char		*msg, *reason;
	uint64_t	 now = now_ms();

	(void)body;
	switch (m->state) {
	case M_BACKOFF:
		xasprintf(&reason, "%s; restarting in %llu ms",
		    m->reason != NULL ? m->reason : "crashed",
		    (unsigned long long)(m->retry_at_ms > now ?
		    m->retry_at_ms - now : 0));
		xasprintf(&msg, "module %s is down: %s", m->id, reason);
		break;
	case M_FAILED:
		xasprintf(&reason, "%s; failed %u time%s in a row, not "
		    "restarting until the file changes or SIGHUP",
		    m->reason != NULL ? m->reason : "crashed", m->failures,
		    m->failures == 1 ? "" : "s");
		xasprintf(&msg, "module %s failed: %s; replace the module file "
		    "or send SIGHUP to retry", m->id,
		    m->reason != NULL ? m->reason : "crashed repeatedly");
		break;
	case M_REFUSED:
		xasprintf(&reason, "refused: %s", m->reason != NULL ?
		    m->reason : "cannot be loaded");
		xasprintf(&msg, "module file %s refused: %s", m->path,
		    m->reason != NULL ? m->reason : "cannot be loaded");
		break;
	case M_STOPPING:
		reason = xstrdup("restarting");
		xasprintf(&msg, "module %s is restarting", m->id);
		break;
	default:
		reason = xstrdup("starting");
		xasprintf(&msg, "module %s is starting", m->id);
		break;
	}
	/* Close after answering so the client reconnects to the worker. */
	server_reply_failure(c, &(struct http_request){ .method = req->method,
	    .route = req->route, .keep_alive = 0 }, 503,
	    m->id[0] != '\0' ? m->id : m->sock->id, reason, msg);
	free(reason);
	free(msg);
}

static void
fallback_on(struct supervisor *sv, struct modent *m)
{
	if (m->sock == NULL)
		return;
	if (m->sock->fallback == NULL)
		m->sock->fallback = server_new(sv->base, m->sock->fd, &sv->limits,
		    fallback_cb, m);
	else if (server_resume(m->sock->fallback) != 0)
		log_err("module %s: cannot answer on its socket", m->id);
}

static void
fallback_off(struct modent *m)
{
	if (m->sock != NULL && m->sock->fallback != NULL)
		server_pause(m->sock->fallback);
}

static void
mod_release_socket(struct modent *m)
{
	if (m->sock == NULL)
		return;
	plugsock_close(m->sock);
	m->sock = NULL;
	m->refused_sock = 0;
}

/*
 * A refused module (not one the operator disabled) keeps a socket named
 * after its file, on which the fallback answers every poll with 503 and
 * the refusal: Scope lists it red, with why, instead of showing nothing.
 * It is second to any module serving or starting with that id: it never
 * takes such an id, gives it up when one wants it (refused_sock_yield) and
 * gets it when it frees (refused_socks_retry).
 */
static void
refused_sock_open(struct supervisor *sv, struct modent *m)
{
	char	id[PLUGIN_ID_MAX + 1], *cause = NULL;

	if (m->state != M_REFUSED || sv->shutting_down || m->reason == NULL ||
	    strcmp(m->reason, WORKER_DISABLED) == 0 ||
	    plugin_id_from_file(m->name, id) != 0) {
		mod_release_socket(m);
		return;
	}
	if (m->sock == NULL || strcmp(m->sock->id, id) != 0) {
		mod_release_socket(m);
		if (mod_find_sock(sv, id, m) != NULL)
			return;
		if ((m->sock = plugsock_open(sv->o->socket_dir, id, &cause)) ==
		    NULL) {
			if (!m->refused_sock_warned)
				log_warn("module %s: no socket to show its "
				    "refusal on: %s", m->name, cause);
			m->refused_sock_warned = 1;
			free(cause);
			return;
		}
		log_debug("module %s: refusal shown on %s", m->name,
		    m->sock->path);
	}
	m->refused_sock = 1;
	fallback_on(sv, m);
}

/* m is about to serve id: a refusal showing on that socket moves out. */
static void
refused_sock_yield(struct supervisor *sv, const char *id,
    const struct modent *m)
{
	struct modent	*r = mod_find_sock(sv, id, m);

	if (r != NULL && r->refused_sock) {
		log_debug("module %s: socket %s goes to %s", r->name, id,
		    m->name);
		mod_release_socket(r);
	}
}

/* Refused modules whose socket was taken or could not be made try again. */
static void
refused_socks_retry(struct supervisor *sv)
{
	struct modent	*m;

	TAILQ_FOREACH(m, &sv->mods, entry)
		if (m->state == M_REFUSED && m->sock == NULL)
			refused_sock_open(sv, m);
}

/*
 * Tells systemd we are ready once every module has been tried: none is
 * still starting or waiting for its file to settle.
 */
static void
maybe_ready(struct supervisor *sv)
{
	struct modent	*m;
	char		 msg[128];
	unsigned	 running = 0, total = 0;

	if (!sv->ready_pending || sv->shutting_down ||
	    evtimer_pending(sv->rescan_ev, NULL))
		return;
	TAILQ_FOREACH(m, &sv->mods, entry) {
		if (m->state == M_STARTING || m->state == M_WAITING)
			return;
		total++;
		running += m->state == M_RUNNING;
	}
	sv->ready_pending = 0;
	snprintf(msg, sizeof msg, "READY=1\nSTATUS=%u of %u modules serving",
	    running, total);
	notify_send(msg);
	log_debug("ready: %u of %u modules serving", running, total);
}

static void
mod_close_channel(struct modent *m)
{
	if (m->chan_ev != NULL) {
		event_free(m->chan_ev);
		m->chan_ev = NULL;
	}
	if (m->chan != -1) {
		close(m->chan);
		m->chan = -1;
	}
}

static void
mod_free(struct supervisor *sv, struct modent *m)
{
	TAILQ_REMOVE(&sv->mods, m, entry);
	mod_close_channel(m);
	mod_release_socket(m);
	if (m->stats != NULL)
		munmap(m->stats, sizeof *m->stats);
	event_free(m->timer);
	free(m->name);
	free(m->path);
	free(m->label);
	free(m->reason);
	free(m->kill_reason);
	free(m);
}

/* Refused, already logged: the refusal's socket, if any, shows why. */
static void
mod_set_refused(struct supervisor *sv, struct modent *m, const char *reason)
{
	set_reason(m, "%s", reason);
	m->state = M_REFUSED;
	refused_sock_open(sv, m);
	maybe_ready(sv);
}

/* Permanent for this file version: only a new file or SIGHUP retries. */
static void
mod_refuse(struct supervisor *sv, struct modent *m, const char *reason)
{
	if (strcmp(reason, WORKER_DISABLED) == 0)
		log_info("module %s: not loaded: %s", m->name, reason);
	else
		log_err("module %s: refused: %s", m->name, reason);
	mod_set_refused(sv, m, reason);
}

/*
 * A file the scan refused as unsafe to load (it logged why, once): no
 * worker; one still running an older version is stopped first, and the
 * rescan after it exits refuses the file.
 */
static void
mod_unsafe(struct supervisor *sv, struct modent *m, const struct modfile *f)
{
	if (m == NULL) {
		m = mod_new(sv, f);
		m->present = 1;
	}
	if (m->pid > 0) {
		if (m->after != AFTER_REMOVE)
			mod_stop(sv, m, AFTER_NOTHING);
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

/* HELLO: the worker loaded the module and tells us who it is. */
static void
mod_hello(struct supervisor *sv, struct modent *m, struct msg *msg)
{
	const char	*id = msg->fields[0];
	struct modent	*other;
	char		*cause = NULL;
	unsigned	 interval;

	if (!valid_plugin_id(id)) {
		/* The worker checked it; a mismatch means a broken worker. */
		channel_send(m->chan, MSG_REFUSE, -1, 1, "invalid id");
		mod_refuse(sv, m, "worker sent an invalid id");
		return;
	}
	/*
	 * Two files, one id.  A module already serving keeps it; between
	 * two that are both starting (say at boot) the file that sorts
	 * first wins, so the outcome does not depend on which loads faster.
	 */
	if ((other = mod_find_id(sv, id, m)) != NULL &&
	    other->state == M_STARTING && strcmp(m->name, other->name) < 0) {
		char	*why;

		xasprintf(&why, "id \"%s\" is already served by %s; ids must "
		    "be unique (the socket is named after it)", id, m->path);
		mod_refuse(sv, other, why);
		other->refused_dup = 1;
		if (other->pid > 0)
			kill(other->pid, SIGTERM);
		free(why);
		other = NULL;
	}
	if (other != NULL) {
		char	*why;

		xasprintf(&why, "id \"%s\" is already served by %s; ids must "
		    "be unique (the socket is named after it)", id, other->path);
		channel_send(m->chan, MSG_REFUSE, -1, 1, why);
		mod_refuse(sv, m, why);
		snprintf(m->id, sizeof m->id, "%s", id);
		m->refused_dup = 1;
		free(why);
		return;
	}
	/* A new version of the module may have a new id. */
	if (m->sock != NULL && strcmp(m->sock->id, id) != 0)
		mod_release_socket(m);
	m->refused_sock = 0;	/* the refusal's socket, if kept, is its own now */
	refused_sock_yield(sv, id, m);
	snprintf(m->id, sizeof m->id, "%s", id);
	free(m->label);
	m->label = xstrdup(msg->fields[1]);
	if (parse_uint(msg->fields[3], 0, 86400000, &interval) != 0)
		interval = 0;
	m->deadline_ms = options_module_uint(sv->o, id, "deadline",
	    interval > sv->o->deadline_ms ? interval : sv->o->deadline_ms);
	m->memory_limit_mb = options_module_uint(sv->o, id, "memory-limit",
	    sv->o->memory_limit_mb);

	if (m->sock == NULL &&
	    (m->sock = plugsock_open(sv->o->socket_dir, id, &cause)) == NULL) {
		channel_send(m->chan, MSG_REFUSE, -1, 1, cause);
		mod_refuse(sv, m, cause);
		free(cause);
		return;
	}
	if (channel_send(m->chan, MSG_SOCKET, m->sock->fd, 0) != 0)
		log_err("module %s: cannot pass the socket: %s", id,
		    strerror(errno));
	/* Until READY, the supervisor answers "starting". */
	fallback_on(sv, m);
}

static void
mod_ready(struct supervisor *sv, struct modent *m)
{
	m->state = M_RUNNING;
	m->ready_ms = now_ms();
	evtimer_del(m->timer);
	fallback_off(m);
	log_info("module %s: serving %s (pid %ld, %s)", m->id, m->sock->path,
	    (long)m->pid, m->name);
	maybe_ready(sv);
}

/* Handles one message; returns 0 when the channel is drained or closed. */
static int
mod_channel_read(struct modent *m)
{
	struct supervisor	*sv = m->sv;
	struct msg		 msg;
	int			 r;

	r = channel_recv(m->chan, &msg);
	if (r == 0 || (r == -1 && errno != EAGAIN && errno != EWOULDBLOCK)) {
		/* EOF: the worker is exiting; SIGCHLD tells the rest. */
		mod_close_channel(m);
		return 0;
	}
	if (r != 1)
		return 0;
	if (msg.fd >= 0)
		close(msg.fd);
	switch (msg.type) {
	case MSG_HELLO:
		if (m->state == M_STARTING)
			mod_hello(sv, m, &msg);
		break;
	case MSG_READY:
		if (m->state == M_STARTING && m->sock != NULL)
			mod_ready(sv, m);
		break;
	case MSG_REFUSE:
		if (m->state == M_STARTING)
			mod_refuse(sv, m, msg.fields[0]);
		break;
	default:
		log_warn("module %s: unexpected message %d from worker",
		    mod_name(m), (int)msg.type);
		break;
	}
	return 1;
}

static void
mod_channel_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	mod_channel_read(arg);
}

/* Reads what a dead worker left in the channel (its refusal, say). */
static void
mod_channel_drain(struct modent *m)
{
	int	i;

	for (i = 0; i < 16 && m->chan != -1; i++)
		if (mod_channel_read(m) == 0)
			break;
}

/* Start timeout, backoff expiry and stop grace all come here. */
static void
mod_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct modent		*m = arg;
	struct supervisor	*sv = m->sv;

	(void)fd;
	(void)what;
	{
		switch (m->state) {
		case M_STARTING:
			if (m->pid > 0 && now_ms() - m->spawned_ms >=
			    sv->o->start_timeout_ms) {
				free(m->kill_reason);
				xasprintf(&m->kill_reason, "did not finish loading "
				    "within %u ms", sv->o->start_timeout_ms);
				kill(m->pid, SIGKILL);
			}
			break;
		case M_BACKOFF:
			if (now_ms() >= m->retry_at_ms)
				mod_spawn(sv, m);
			else
				timer_arm(m, m->retry_at_ms - now_ms());
			break;
		case M_STOPPING:
			if (m->pid > 0) {
				log_warn("module %s: worker %ld ignored SIGTERM "
				    "for %u ms; killing it", mod_name(m),
				    (long)m->pid, sv->o->stop_grace_ms);
				kill(m->pid, SIGKILL);
			}
			break;
		default:
			break;
		}
	}
}

static struct modent *
mod_new(struct supervisor *sv, const struct modfile *f)
{
	struct modent	*m;

	m = xcalloc(1, sizeof *m);
	m->name = xstrdup(f->name);
	m->path = xstrdup(f->path);
	m->st = f->st;
	m->chan = -1;
	m->state = M_WAITING;
	m->sv = sv;
	m->memory_limit_mb = sv->o->memory_limit_mb;	/* until HELLO */
	m->timer = evtimer_new(sv->base, mod_timer_cb, m);
	if (m->timer == NULL)
		fatal("evtimer_new: out of memory");
	TAILQ_INSERT_TAIL(&sv->mods, m, entry);
	return m;
}

static struct worker_stats *
stats_create(int *fdp)
{
	struct worker_stats	*st;
	int			 fd;

#ifdef HAVE_MEMFD_CREATE
	fd = memfd_create("scope-plugin-host-stats", MFD_CLOEXEC);
#else
	fd = -1;
	errno = ENOSYS;
#endif
	if (fd == -1) {
		log_warn("memfd_create: %s; no worker statistics", strerror(errno));
		return NULL;
	}
	if (ftruncate(fd, sizeof *st) != 0) {
		log_warn("ftruncate stats: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	st = mmap(NULL, sizeof *st, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (st == MAP_FAILED) {
		log_warn("mmap stats: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	*fdp = fd;
	return st;
}

static void
mod_spawn(struct supervisor *sv, struct modent *m)
{
	char	*cause = NULL;
	int	 statsfd = -1, chan;
	pid_t	 pid;

	if (m->pid > 0) {
		log_err("module %s: worker %ld still running; not starting another",
		    mod_name(m), (long)m->pid);
		return;
	}
	mod_close_channel(m);
	if (m->stats != NULL) {
		munmap(m->stats, sizeof *m->stats);
		m->stats = NULL;
	}
	m->stats = stats_create(&statsfd);
	pid = spawn_worker(sv->o, m->path, statsfd, &chan, &cause);
	if (statsfd != -1)
		close(statsfd);
	if (pid == -1) {
		log_err("module %s: %s", m->name, cause);
		free(cause);
		m->state = M_BACKOFF;
		m->retry_at_ms = now_ms() + 1000;
		timer_arm(m, 1000);
		return;
	}
	m->pid = pid;
	m->chan = chan;
	m->chan_ev = event_new(sv->base, m->chan, EV_READ | EV_PERSIST,
	    mod_channel_cb, m);
	if (m->chan_ev == NULL || event_add(m->chan_ev, NULL) != 0)
		fatal("event_add: worker channel");
	m->state = M_STARTING;
	m->after = AFTER_NOTHING;
	m->refused_dup = 0;
	m->refused_sock_warned = 0;
	free(m->kill_reason);
	m->kill_reason = NULL;
	m->spawned_ms = now_ms();
	timer_arm(m, sv->o->start_timeout_ms);
	log_debug("module %s: started worker %ld for %s", mod_name(m),
	    (long)pid, m->path);
}

static void
mod_stop(struct supervisor *sv, struct modent *m, enum after_stop after)
{
	if (m->pid <= 0) {
		m->after = after;
		return;
	}
	m->after = after;
	if (m->state != M_STOPPING) {
		m->state = M_STOPPING;
		kill(m->pid, SIGTERM);
		timer_arm(m, sv->o->stop_grace_ms);
	}
	fallback_on(sv, m);
}

/* A worker died without being asked to: restart later, or give up. */
static void
mod_crashed(struct supervisor *sv, struct modent *m, pid_t pid, int status)
{
	uint64_t	now = now_ms(), ran = now - m->spawned_ms;
	char		how[96];

	if (WIFSIGNALED(status))
		snprintf(how, sizeof how, "killed by %s (%d)",
		    signal_name(WTERMSIG(status)), WTERMSIG(status));
	else
		snprintf(how, sizeof how, "exited with status %d",
		    WEXITSTATUS(status));
	if (m->kill_reason != NULL)
		set_reason(m, "%s", m->kill_reason);
	else
		set_reason(m, "%s", how);

	if (m->state == M_RUNNING && now - m->ready_ms >= sv->o->healthy_ms) {
		m->failures = 0;
		m->backoff_ms = 0;
	}
	m->failures++;
	m->restarts++;
	m->backoff_ms = m->backoff_ms == 0 ? sv->o->backoff_min_ms :
	    m->backoff_ms * 2;
	if (m->backoff_ms > sv->o->backoff_max_ms)
		m->backoff_ms = sv->o->backoff_max_ms;

	if (sv->o->max_failures > 0 && m->failures >= sv->o->max_failures) {
		m->state = M_FAILED;
		log_err("module %s: worker %ld %s after %llu ms; %u failures in a "
		    "row: marked failed until its file changes or SIGHUP",
		    mod_name(m), (long)pid, m->reason,
		    (unsigned long long)ran, m->failures);
	} else {
		m->state = M_BACKOFF;
		m->retry_at_ms = now + m->backoff_ms;
		timer_arm(m, m->backoff_ms);
		log_err("module %s: worker %ld %s after %llu ms; restart %u in "
		    "%llu ms", mod_name(m), (long)pid, m->reason,
		    (unsigned long long)ran, m->failures,
		    (unsigned long long)m->backoff_ms);
	}
	if (m->id[0] != '\0' && m->sock != NULL)
		fallback_on(sv, m);
	maybe_ready(sv);
}

static void
mod_exited(struct supervisor *sv, struct modent *m, int status)
{
	pid_t	pid = m->pid;

	m->pid = 0;
	mod_channel_drain(m);
	mod_close_channel(m);
	evtimer_del(m->timer);
	mod_keep_worker_error(m);

	if (m->state == M_STOPPING) {
		switch (m->after) {
		case AFTER_REMOVE:
			log_info("module %s: stopped and removed", mod_name(m));
			mod_free(sv, m);
			return;
		case AFTER_RESTART:
			log_info("module %s: restarting on the new %s",
			    mod_name(m), m->name);
			m->failures = 0;
			m->backoff_ms = 0;
			mod_spawn(sv, m);
			return;
		case AFTER_NOTHING:
			/* Stopped for its file's sake: look at the file again. */
			m->state = M_WAITING;
			schedule_rescan(sv, 10);
			return;
		}
	}
	if (m->state == M_REFUSED)
		return;
	if (WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_REFUSED &&
	    m->state == M_STARTING) {
		if (m->reason == NULL)
			set_reason(m, "refused by the worker");
		mod_refuse(sv, m, m->reason);
		return;
	}
	mod_crashed(sv, m, pid, status);
}

static void
sig_chld(struct supervisor *sv)
{
	struct modent	*m;
	pid_t		 pid;
	int		 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((m = mod_find_pid(sv, pid)) == NULL)
			continue;
		mod_exited(sv, m, status);
	}
	if (sv->shutting_down) {
		TAILQ_FOREACH(m, &sv->mods, entry)
			if (m->pid > 0)
				return;
		event_base_loopexit(sv->base, NULL);
	}
}

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

/* Enforces collect deadlines and the memory limit. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct supervisor	*sv = arg;
	struct modent		*m;
	uint64_t		 now = now_ns(), start;
	int			 check_mem = 0;

	(void)fd;
	(void)what;
	maybe_ready(sv);
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

/* Reconciles the module table with the directory. */
static void
supervisor_rescan(struct supervisor *sv, int retry_failed)
{
	struct modfile	*files;
	struct modent	*m, *next;
	size_t		 n, i;
	char		*cause = NULL;
	uint64_t	 wall = (uint64_t)time(NULL) * 1000;
	unsigned	 wait_ms = 0;

	if (scan_dir(sv->o->module_dir, &files, &n, &cause) != 0) {
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
		if (f->refused != NULL) {
			mod_unsafe(sv, m, f);
			continue;
		}
		if (m == NULL) {
			m = mod_new(sv, f);
			m->present = 1;
			mod_spawn(sv, m);
			continue;
		}
		if (!scan_same_file(&m->st, &f->st) || m->unsafe) {
			log_info("module %s: %s changed", mod_name(m), m->name);
			m->st = f->st;
			m->unsafe = 0;
			m->failures = 0;
			m->backoff_ms = 0;
			if (m->pid > 0)
				mod_stop(sv, m, AFTER_RESTART);
			else
				mod_spawn(sv, m);
			continue;
		}
		/* Never two workers for one module: wait for the old one. */
		if (m->pid > 0)
			continue;
		if ((retry_failed && (m->state == M_FAILED ||
		    m->state == M_REFUSED || m->state == M_BACKOFF)) ||
		    (m->state == M_REFUSED && m->refused_dup &&
		    mod_find_id(sv, m->id, m) == NULL) ||
		    m->state == M_WAITING) {
			m->failures = 0;
			m->backoff_ms = 0;
			evtimer_del(m->timer);
			mod_spawn(sv, m);
		}
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
	refused_socks_retry(sv);
	if (wait_ms > 0)
		schedule_rescan(sv, wait_ms + 10);
}

static void
rescan_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	supervisor_rescan(arg, 0);
}

static void
schedule_rescan(struct supervisor *sv, unsigned ms)
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
		schedule_rescan(sv, 50);
	} else if (r == 1)
		schedule_rescan(sv, 50);	/* coalesce bursts */
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
	supervisor_rescan(sv, 0);
}

/* Collect time at quantile q from the log2 histogram (bucket upper bound). */
static double
stats_quantile_ms(const struct worker_stats *st, double q)
{
	uint64_t	total = 0, seen = 0;
	unsigned	b;

	for (b = 0; b < STATS_BUCKETS; b++)
		total += st->collect_us_hist[b];
	if (total == 0)
		return 0;
	for (b = 0; b < STATS_BUCKETS; b++) {
		seen += st->collect_us_hist[b];
		if ((double)seen >= q * (double)total)
			break;
	}
	return (double)(2ULL << b) / 1000.0;
}

static void
json_kv_str(struct evbuffer *b, const char *k, const char *v, int comma)
{
	evbuffer_add_printf(b, "%s\"%s\":\"", comma ? "," : "", k);
	json_escape(b, v != NULL ? v : "", v != NULL ? strlen(v) : 0);
	evbuffer_add(b, "\"", 1);
}

/* The document `scope-plugin-host status` reads. */
static void
status_json(struct supervisor *sv, struct evbuffer *b)
{
	struct modent	*m;
	uint64_t	 now = now_ms();
	char		 err[STATS_ERROR_MAX];
	int		 first = 1;

	evbuffer_add(b, "{", 1);
	json_kv_str(b, "version", PACKAGE_VERSION, 0);
	evbuffer_add_printf(b, ",\"pid\":%ld,\"uptime_s\":%llu", (long)getpid(),
	    (unsigned long long)((now - sv->started_ms) / 1000));
	json_kv_str(b, "socket_dir", sv->o->socket_dir, 1);
	json_kv_str(b, "module_dir", sv->o->module_dir, 1);
	evbuffer_add(b, ",\"modules\":[", 12);
	TAILQ_FOREACH(m, &sv->mods, entry) {
		const struct worker_stats *st = m->stats;

		evbuffer_add(b, first ? "{" : ",{", first ? 1 : 2);
		first = 0;
		json_kv_str(b, "file", m->name, 0);
		json_kv_str(b, "id", m->id, 1);
		json_kv_str(b, "state", state_names[m->state], 1);
		json_kv_str(b, "socket", m->sock != NULL ? m->sock->path : "", 1);
		evbuffer_add_printf(b, ",\"pid\":%ld,\"restarts\":%u,"
		    "\"failures\":%u,\"deadline_ms\":%u", (long)m->pid,
		    m->restarts, m->failures, m->deadline_ms);
		if (m->state == M_RUNNING)
			evbuffer_add_printf(b, ",\"uptime_s\":%llu",
			    (unsigned long long)((now - m->ready_ms) / 1000));
		if (st != NULL && m->pid > 0)
			evbuffer_add_printf(b, ",\"requests\":%llu,\"errors\":%llu,"
			    "\"collects\":%llu,\"collect_p50_ms\":%.3f,"
			    "\"collect_p99_ms\":%.3f,\"collect_max_ms\":%.3f",
			    (unsigned long long)st->requests,
			    (unsigned long long)st->errors,
			    (unsigned long long)st->collects,
			    stats_quantile_ms(st, 0.5), stats_quantile_ms(st, 0.99),
			    (double)st->collect_us_max / 1000.0);
		json_kv_str(b, "last_error", mod_last_error(m, err, sizeof err), 1);
		evbuffer_add(b, "}", 1);
	}
	evbuffer_add(b, "]}\n", 3);
}

static void
status_cb(evutil_socket_t fd, short what, void *arg)
{
	struct supervisor	*sv = arg;
	struct evbuffer		*b;

	(void)what;
	if ((b = evbuffer_new()) == NULL)
		fatal("evbuffer_new: out of memory");
	status_json(sv, b);
	status_serve(fd, b);
	evbuffer_free(b);
}

static void
dump_states(struct supervisor *sv)
{
	struct modent	*m;
	unsigned	 n = 0;
	char		 buf[STATS_ERROR_MAX];

	TAILQ_FOREACH(m, &sv->mods, entry) {
		uint64_t req = m->stats != NULL ? m->stats->requests : 0;
		uint64_t err = m->stats != NULL ? m->stats->errors : 0;
		const char *last = mod_last_error(m, buf, sizeof buf);

		log_info("status: %s file=%s state=%s pid=%ld restarts=%u "
		    "requests=%llu errors=%llu%s%s", m->id[0] ? m->id : "-",
		    m->name, state_names[m->state], (long)m->pid, m->restarts,
		    (unsigned long long)req, (unsigned long long)err,
		    last != NULL ? " last_error=" : "", last != NULL ? last : "");
		n++;
	}
	log_info("status: %u module%s", n, n == 1 ? "" : "s");
}

static void
shutdown_begin(struct supervisor *sv)
{
	struct modent	*m, *next;
	struct timeval	 tv;
	int		 waiting = 0;

	if (sv->shutting_down)
		return;
	sv->shutting_down = 1;
	notify_send("STOPPING=1");
	log_info("shutting down");
	/* Sockets go first so the probe stops finding us at once. */
	TAILQ_FOREACH(m, &sv->mods, entry)
		mod_release_socket(m);
	TAILQ_FOREACH_SAFE(m, &sv->mods, entry, next) {
		evtimer_del(m->timer);
		if (m->pid > 0) {
			kill(m->pid, SIGTERM);
			m->state = M_STOPPING;
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
	evtimer_add(sv->grace_ev, &tv);
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
		if (!sv->shutting_down) {
			log_info("SIGHUP: rescanning %s and retrying failed "
			    "modules", sv->o->module_dir);
			notify_send("RELOADING=1");
			sv->ready_pending = 1;
			supervisor_rescan(sv, 1);
			maybe_ready(sv);
		}
		break;
	case SIGCHLD:
		sig_chld(sv);
		break;
	case SIGUSR1:
		dump_states(sv);
		break;
	}
}

int
supervisor_main(const struct options *o)
{
	static const int	 sigs[5] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1 };
	struct supervisor	 sv;
	struct modent		*m;
	struct timeval		 tv;
	char			*cause = NULL;
	unsigned		 tick;
	int			 i;

	memset(&sv, 0, sizeof sv);
	sv.o = o;
	sv.watch_fd = -1;
	sv.status_fd = -1;
	sv.started_ms = now_ms();
	sv.ready_pending = 1;
	notify_init();
	TAILQ_INIT(&sv.mods);
	server_limits_default(&sv.limits);
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
	sv.rescan_ev = evtimer_new(sv.base, rescan_cb, &sv);
	sv.periodic_ev = event_new(sv.base, -1, EV_PERSIST, periodic_cb, &sv);
	sv.tick_ev = event_new(sv.base, -1, EV_PERSIST, tick_cb, &sv);
	sv.grace_ev = evtimer_new(sv.base, grace_cb, &sv);
	if (sv.rescan_ev == NULL || sv.periodic_ev == NULL ||
	    sv.tick_ev == NULL || sv.grace_ev == NULL)
		fatal("event_new: out of memory");
	tv.tv_sec = o->rescan_ms / 1000;
	tv.tv_usec = (o->rescan_ms % 1000) * 1000;
	event_add(sv.periodic_ev, &tv);
	/* Deadlines are checked at a quarter of the shortest one. */
	tick = o->deadline_ms / 4;
	if (tick < 50)
		tick = 50;
	if (tick > 250)
		tick = 250;
	tv.tv_sec = 0;
	tv.tv_usec = tick * 1000;
	event_add(sv.tick_ev, &tv);

	watch_open_dir(&sv);
	if ((sv.status_fd = status_listen(o->socket_dir, &cause)) == -1) {
		log_warn("%s; `%s status` will not work", cause, HOST_NAME);
		free(cause);
		cause = NULL;
	} else {
		sv.status_ev = event_new(sv.base, sv.status_fd,
		    EV_READ | EV_PERSIST, status_cb, &sv);
		if (sv.status_ev == NULL || event_add(sv.status_ev, NULL) != 0)
			fatal("event_add: status socket");
	}
	log_info("%s %s: modules from %s, sockets in %s", HOST_NAME,
	    PACKAGE_VERSION, o->module_dir, o->socket_dir);
	supervisor_rescan(&sv, 0);
	maybe_ready(&sv);

	if (event_base_dispatch(sv.base) == -1)
		log_err("event loop failed");

	/* Whatever is left (a worker that survived SIGKILL?) is reaped here. */
	while ((m = TAILQ_FIRST(&sv.mods)) != NULL)
		mod_free(&sv, m);
	for (i = 0; i < 5; i++)
		event_free(sv.sig_ev[i]);
	event_free(sv.rescan_ev);
	event_free(sv.periodic_ev);
	event_free(sv.tick_ev);
	event_free(sv.grace_ev);
	if (sv.watch_ev != NULL)
		event_free(sv.watch_ev);
	if (sv.watch_fd != -1)
		close(sv.watch_fd);
	if (sv.status_ev != NULL)
		event_free(sv.status_ev);
	if (sv.status_fd != -1)
		close(sv.status_fd);
	notify_close();
	event_base_free(sv.base);
	close(sv.lockfd);
	log_info("stopped");
	return 0;
}
