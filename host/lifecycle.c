/*
 * lifecycle.c - one module in the supervisor: its worker from fork to
 * exit, the worker's messages, restarts with backoff, and the module's
 * state.  The state changes in mod_set_state() only, along the
 * transitions the table below allows (docs/ARCHITECTURE.md, "Module
 * lifecycle", draws them).
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"

/* A module entry comes zeroed from xcalloc(): it starts waiting. */
_Static_assert(M_WAITING == 0, "a new module entry must be M_WAITING");

/* As `scope-plugin-host status` shows them. */
static const char *const state_names[M_NSTATES] = {
	[M_WAITING] = "waiting",
	[M_STARTING] = "starting",
	[M_RUNNING] = "running",
	[M_BACKOFF] = "restarting",
	[M_FAILED] = "failed",
	[M_REFUSED] = "refused",
	[M_STOPPING] = "stopping",
};

/*
 * The allowed transitions: for each state, the set of states it may
 * change to.  Nothing enters M_WAITING: it is where an entry starts.
 */
#define TO(s) (1u << (s))
static const unsigned transitions[M_NSTATES] = {
	/* spawned, or the fork failed; the scan refused the file (modes) */
	[M_WAITING] = TO(M_STARTING) | TO(M_BACKOFF) | TO(M_REFUSED),
	/* READY; a refusal; stopped; crashed or hung */
	[M_STARTING] = TO(M_RUNNING) | TO(M_REFUSED) | TO(M_STOPPING) |
	    TO(M_BACKOFF) | TO(M_FAILED),
	/* stopped (file changed or removed, socket lost); crashed; its id
	 * taken by a file that sorts first and started before it was ready */
	[M_RUNNING] = TO(M_STOPPING) | TO(M_BACKOFF) | TO(M_FAILED) |
	    TO(M_REFUSED),
	/* timer expired: spawned, or the fork failed again; the file
	 * became unsafe to load (modes) */
	[M_BACKOFF] = TO(M_STARTING) | TO(M_BACKOFF) | TO(M_REFUSED),
	/* a new file or SIGHUP; the file became unsafe to load */
	[M_FAILED] = TO(M_STARTING) | TO(M_BACKOFF) | TO(M_REFUSED),
	/* a new file, SIGHUP or its id freed; stopped before it exited */
	[M_REFUSED] = TO(M_STARTING) | TO(M_BACKOFF) | TO(M_STOPPING),
	/* exited: restarted on the new file (entries being removed are freed) */
	[M_STOPPING] = TO(M_STARTING) | TO(M_BACKOFF),
};

const char *
mod_state_name(enum mstate s)
{
	return (unsigned)s < M_NSTATES ? state_names[s] : "invalid";
}

int
mod_transition_allowed(enum mstate from, enum mstate to)
{
	if ((unsigned)from >= M_NSTATES || (unsigned)to >= M_NSTATES)
		return 0;
	return (transitions[from] & TO(to)) != 0;
}

/*
 * The one place a module's state changes.  An illegal transition is a
 * bug in the supervisor: it is logged with why (the event that asked for
 * it) and refused, and the module keeps its state.  Returns 0, or -1 if
 * refused.
 */
int
mod_set_state(struct modent *m, enum mstate to, const char *why)
{
	/* Shutdown is final: nothing starts or waits to start again. */
	if (m->sv->shutting_down && (to == M_STARTING || to == M_BACKOFF)) {
		log_err("module %s: illegal state transition %s -> %s during "
		    "shutdown (%s); refused", mod_name(m),
		    mod_state_name(m->state), mod_state_name(to), why);
		return -1;
	}
	if (!mod_transition_allowed(m->state, to)) {
		log_err("module %s: illegal state transition %s -> %s (%s); "
		    "refused", mod_name(m), mod_state_name(m->state),
		    mod_state_name(to), why);
		return -1;
	}
	m->state = to;
	return 0;
}

static void
set_reason(struct modent *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
set_reason(struct modent *m, const char *fmt, ...)
{
	va_list	 ap;
	char	*old = m->reason;

	/* Formatted before the old reason is freed: it may be an argument. */
	va_start(ap, fmt);
	xvasprintf(&m->reason, fmt, ap);
	va_end(ap);
	free(old);
	m->reason_ms = now_ms();
}

/*
 * The module's last error: the newer of the supervisor's own (a crash, a
 * refusal) and the one its worker wrote in the stats page (a failed
 * collect).  buf holds the latter if it is chosen.
 */
const char *
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

/* The name to log a module by: its id once known, else its file. */
const char *
mod_name(const struct modent *m)
{
	return m->id[0] != '\0' ? m->id : m->name;
}

struct modent *
mod_find_pid(struct supervisor *sv, pid_t pid)
{
	struct modent	*m;

	TAILQ_FOREACH(m, &sv->mods, entry)
		if (m->pid == pid)
			return m;
	return NULL;
}

/* The entry other than skip that holds a socket for id, refusals too. */
struct modent *
mod_find_sock(struct supervisor *sv, const char *id, const struct modent *skip)
{
	struct modent	*m;

	TAILQ_FOREACH(m, &sv->mods, entry)
		if (m != skip && ((m->sock != NULL &&
		    strcmp(m->sock->id, id) == 0) || (m->refusal_kept != NULL &&
		    strcmp(m->refusal_kept->id, id) == 0)))
			return m;
	return NULL;
}

/*
 * The entry other than skip serving (or starting with) id; a refusal
 * shown on that socket gives way (refused.c).
 */
struct modent *
mod_find_id(struct supervisor *sv, const char *id, const struct modent *skip)
{
	struct modent	*m;

	TAILQ_FOREACH(m, &sv->mods, entry)
		if (m != skip && m->sock != NULL && !m->refused_sock &&
		    strcmp(m->sock->id, id) == 0)
			return m;
	return NULL;
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

void
mod_release_socket(struct modent *m)
{
	refused_sock_drop(m);
	if (m->sock == NULL)
		return;
	fallback_free(m);
	plugsock_close(m->sock);
	m->sock = NULL;
	m->refused_sock = 0;
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
stats_release(struct modent *m)
{
	if (m->stats != NULL)
		munmap(m->stats, m->stats_size);
	m->stats = NULL;
	if (m->stats_fd != -1)
		close(m->stats_fd);
	m->stats_fd = -1;
}

void
mod_free(struct supervisor *sv, struct modent *m)
{
	TAILQ_REMOVE(&sv->mods, m, entry);
	output_free(m->output);
	free(m->cgroup);
	mod_close_channel(m);
	mod_release_socket(m);
	fallback_free(m);
	fallback_alarm_close(m);
	stats_release(m);
	event_free(m->timer);
	free(m->name);
	free(m->inst);
	free(m->hello);
	free(m->settings);
	free(m->path);
	free(m->reason);
	free(m->kill_reason);
	free(m);
}

/*
 * Grows the shared page to hold n connection slots (before the worker
 * maps it, which it does after MSG_MODULE).  Without it the module runs
 * without the supervisor's replies for its requests.
 */
static void
stats_slots(struct modent *m, unsigned n)
{
	struct worker_stats	*st;
	size_t			 size = STATS_SIZE(n);

	if (m->stats == NULL || m->stats_fd == -1)
		return;
	if (ftruncate(m->stats_fd, (off_t)size) != 0 ||
	    (st = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
	    m->stats_fd, 0)) == MAP_FAILED) {
		log_warn("module %s: shared page for %u connections: %s",
		    m->id, n, strerror(errno));
		return;
	}
	munmap(m->stats, m->stats_size);
	m->stats = st;
	m->stats_size = size;
	st->nslots = n;
	close(m->stats_fd);
	m->stats_fd = -1;
}

/*
 * Refused, already logged: the refusal's socket, if any, shows why
 * (refused.c).  An entry refused again (its file still unsafe, for a new
 * reason) stays refused.
 */
void
mod_set_refused(struct supervisor *sv, struct modent *m, const char *reason)
{
	set_reason(m, "%s", reason);
	if (m->state != M_REFUSED)
		mod_set_state(m, M_REFUSED, "refused");
	refused_sock_open(sv, m);
	supervisor_ready_check(sv);
}

/*
 * Permanent for this file version: only a new file or SIGHUP retries.
 * The log names the file, and the instance if it is one.
 */
static void
mod_refuse(struct supervisor *sv, struct modent *m, const char *reason)
{
	char	*who;

	if (m->inst != NULL)
		xasprintf(&who, "%s (%s)", m->inst, m->name);
	else
		who = xstrdup(m->name);
	if (channel_refusal_quiet(reason))
		log_info("module %s: not loaded: %s", who, reason);
	else
		log_err("module %s: refused: %s", who, reason);
	free(who);
	mod_set_refused(sv, m, reason);
}

/*
 * What m's worker is to be sent under o: what it serves as and its
 * settings, from what it said in its hello.  Returns 0, or -1 with
 * *cause.
 */
static int
mod_resolve(const struct options *o, const struct modent *m,
    struct msg_identity *ident, struct module_settings *ms, char **cause)
{
	const char	*id = m->inst != NULL ? m->inst : m->hello->id;

	if (channel_identity(o, id, m->hello, ident, cause) != 0)
		return -1;
	options_module(o, id, m->hello->interval_ms, ms);
	return 0;
}

static int
settings_text_param(const char *key, size_t klen, const char *value,
    void *arg)
{
	char	**text = arg, *old = *text;

	xasprintf(text, "%s\nparam %.*s=%s", old, (int)klen, key, value);
	free(old);
	return 0;
}

/*
 * Everything a worker is started with, as text, so that a reload can
 * tell whether it changed: its global settings ws, what it serves as,
 * its parameters under o and its module settings.
 */
static char *
mod_settings_text(const struct options *o, const struct worker_settings *ws,
    const struct msg_identity *ident, const struct module_settings *ms)
{
	const uint32_t		*u;
	char			*text, *old;
	size_t			 i;

	xasprintf(&text, "worker %d %u %u\nid %s\nlabel %s\ndescription %s",
	    ws->log_level, ws->use_syslog, ws->check_mode, ident->id,
	    ident->label, ident->description);
	options_each_param(o, ident->id, settings_text_param, &text);
	/* struct module_settings is uint32_t fields only. */
	u = (const uint32_t *)ms;
	for (i = 0; i < sizeof *ms / sizeof *u; i++) {
		old = text;
		xasprintf(&text, "%s%s%u", old, i == 0 ? "\nmodule " : " ",
		    u[i]);
		free(old);
	}
	return text;
}

/*
 * Makes other give up the socket of an id m has the stronger claim to:
 * a worker that is starting or serving is refused (and told to stop)
 * with why; one already stopping just loses the socket.
 */
static void
mod_yield(struct supervisor *sv, struct modent *other, const char *why)
{
	if (other->state == M_STARTING || other->state == M_RUNNING) {
		mod_refuse(sv, other, why);
		if (other->pid > 0)
			kill(other->pid, SIGTERM);
	} else
		mod_release_socket(other);
}

/*
 * Refuses m before it gets an id, for a reason other than the module:
 * an instances-only module under its own id, or an id that belongs to
 * an instance.  Returns 1 if it did.
 */
static int
mod_hello_refused(struct supervisor *sv, struct modent *m, const char *id)
{
	const struct module_block	*b;
	char				*why, *list;

	if (m->inst != NULL)
		return 0;
	if (m->hello->instances_only) {
		if ((list = options_instances(sv->o, m->name)) != NULL)
			xasprintf(&why, "%s; its instances: %s",
			    WORKER_INSTANCES_ONLY, list);
		else
			xasprintf(&why, "%s, and none is configured (a block "
			    "\"module ID { file %s }\" in the configuration "
			    "file defines one)", WORKER_INSTANCES_ONLY, m->name);
		free(list);
		channel_refuse(m->chan, WORKER_INSTANCES_ONLY);
		mod_refuse(sv, m, why);
		free(why);
		return 1;
	}
	if ((b = options_block(sv->o, id)) != NULL && b->file != NULL) {
		xasprintf(&why, "id \"%s\" belongs to the instance of %s "
		    "defined at %s; ids must be unique (the socket is named "
		    "after it)", id, b->file, b->where);
		channel_refuse(m->chan, why);
		mod_refuse(sv, m, why);
		snprintf(m->id, sizeof m->id, "%s", id);
		free(why);
		return 1;
	}
	return 0;
}

/*
 * Whether m, saying hello with an id other holds, takes it over.  An
 * instance owns its id (the configuration gave it).  A module on its
 * way out (file removed, instance dropped) gives it up.  Two files, one
 * id: a module that was serving before this one started keeps it;
 * between two started together (say at boot) the file that sorts first
 * wins, even if the other one loaded faster and is serving already, so
 * the outcome does not depend on timing.
 */
static int
mod_takes_id(const struct modent *m, const struct modent *other)
{
	if (m->inst != NULL)
		return 1;
	if (other->state == M_STOPPING && other->after == AFTER_REMOVE)
		return 1;
	return strcmp(m->name, other->name) < 0 &&
	    (other->state == M_STARTING || (other->state == M_RUNNING &&
	    other->ready_ms >= m->spawned_ms));
}

/*
 * HELLO: the worker loaded the module and tells us who it is; we answer
 * with what it serves as, its settings and its socket.  An instance has
 * its id from the configuration; a module under its own id has the one
 * it says.
 */
static void
mod_hello(struct supervisor *sv, struct modent *m, struct msg *msg)
{
	const char		*id;
	struct modent		*other;
	struct msg_identity	 ident;
	struct module_settings	 ms;
	char			*cause = NULL;

	if (!valid_plugin_id(msg->u.hello.id)) {
		/* The worker checked it; a mismatch means a broken worker. */
		channel_refuse(m->chan, "invalid id");
		mod_refuse(sv, m, "worker sent an invalid id");
		return;
	}
	free(m->hello);
	m->hello = xmalloc(sizeof *m->hello);
	*m->hello = msg->u.hello;
	id = m->inst != NULL ? m->inst : m->hello->id;
	if (mod_hello_refused(sv, m, id))
		return;
	if (mod_resolve(sv->o, m, &ident, &ms, &cause) != 0) {
		channel_refuse(m->chan, cause);
		mod_refuse(sv, m, cause);
		free(cause);
		return;
	}
	if (!ms.enabled) {
		channel_refuse(m->chan, WORKER_DISABLED);
		mod_refuse(sv, m, WORKER_DISABLED);
		return;
	}
	if ((other = mod_find_id(sv, id, m)) != NULL && mod_takes_id(m, other)) {
		char	*why;

		if (m->inst != NULL)
			xasprintf(&why, "id \"%s\" belongs to the instance of %s "
			    "defined in the configuration; ids must be unique "
			    "(the socket is named after it)", id, m->name);
		else
			xasprintf(&why, "id \"%s\" is already served by %s; ids "
			    "must be unique (the socket is named after it)", id,
			    m->path);
		if (m->inst == NULL && other->state != M_STOPPING)
			other->refused_dup = 1;
		mod_yield(sv, other, why);
		free(why);
		other = NULL;
	}
	if (other != NULL) {
		char	*why;

		xasprintf(&why, "id \"%s\" is already served by %s; ids must "
		    "be unique (the socket is named after it)", id, other->path);
		channel_refuse(m->chan, why);
		mod_refuse(sv, m, why);
		snprintf(m->id, sizeof m->id, "%s", id);
		m->refused_dup = 1;
		free(why);
		return;
	}
	/* A new version of the module may have a new id. */
	if (m->sock != NULL && strcmp(m->sock->id, id) != 0) {
		if (m->refused_sock)
			refused_sock_keep(m);
		else
			mod_release_socket(m);
	}
	m->refused_sock = 0;	/* the refusal's socket, if kept, is its own now */
	refused_sock_yield(sv, id, m);
	snprintf(m->id, sizeof m->id, "%s", id);
	m->deadline_ms = ms.deadline_ms;
	m->reply_ms = ms.reply_ms;
	m->memory_limit_mb = ms.memory_limit_mb;

	if (m->sock == NULL &&
	    (m->sock = plugsock_open(sv->o, id, &cause)) == NULL) {
		channel_refuse(m->chan, cause);
		mod_refuse(sv, m, cause);
		free(cause);
		return;
	}
	stats_slots(m, fallback_slots(m, ms.max_conns));
	if (m->stats != NULL)
		__atomic_store_n(&m->stats->rss_limit_mb, m->memory_limit_mb,
		    __ATOMIC_RELAXED);
	free(m->settings);
	/* The worker settings went at the spawn, the rest goes now. */
	m->settings = mod_settings_text(sv->o, &m->spawn_ws, &ident, &ms);
	if (channel_send_module(m->chan, sv->o, &ident, &ms, &cause) != 0) {
		log_err("module %s: %s", id, cause);
		free(cause);
	}
	/* Until READY, the supervisor answers "starting". */
	fallback_on(sv, m);
}

/*
 * After a reload: restarts m's worker if what it would be started with
 * now (settings, parameters, label, ...) differs from what it was, or
 * if its id now belongs to an instance.
 */
void
mod_reconfigure(struct supervisor *sv, struct modent *m)
{
	const struct module_block	*b;
	struct worker_settings		 ws;
	struct msg_identity		 ident;
	struct module_settings		 ms;
	char				*text, *cause = NULL;
	int				 changed;

	if (m->pid <= 0 || m->hello == NULL || m->settings == NULL ||
	    (m->state != M_STARTING && m->state != M_RUNNING))
		return;
	if (m->inst == NULL && (b = options_block(sv->o, m->id)) != NULL &&
	    b->file != NULL) {
		log_info("module %s: its id now belongs to the instance of %s "
		    "defined at %s; stopping it", m->id, b->file, b->where);
		changed = 1;
	} else if (mod_resolve(sv->o, m, &ident, &ms, &cause) != 0) {
		log_err("%s; restarting it", cause);
		free(cause);
		changed = 1;
	} else {
		options_worker(sv->o, &ws);
		text = mod_settings_text(sv->o, &ws, &ident, &ms);
		changed = strcmp(text, m->settings) != 0;
		free(text);
		if (changed)
			log_info("module %s: settings changed; restarting it",
			    mod_name(m));
	}
	if (changed) {
		mod_backoff_reset(m);
		mod_stop(sv, m, AFTER_RESTART);
	}
}

static void
mod_ready(struct supervisor *sv, struct modent *m)
{
	mod_set_state(m, M_RUNNING, "worker ready");
	m->ready_ms = now_ms();
	evtimer_del(m->timer);
	fallback_off(sv, m);
	refused_sock_drop(m);
	log_info("module %s: serving %s (pid %ld, %s)", m->id, m->sock->path,
	    (long)m->pid, m->name);
	supervisor_ready_check(sv);
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
	switch (msg.hdr.type) {
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
			mod_refuse(sv, m, msg.u.refuse.reason);
		break;
	default:
		log_warn("module %s: unexpected message %u from worker",
		    mod_name(m), msg.hdr.type);
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

/* A new entry for file f, or for its instance inst if not NULL. */
struct modent *
mod_new(struct supervisor *sv, const struct modfile *f, const char *inst)
{
	struct modent	*m;

	m = xcalloc(1, sizeof *m);	/* M_WAITING */
	m->name = xstrdup(f->name);
	if (inst != NULL) {
		m->inst = xstrdup(inst);
		snprintf(m->id, sizeof m->id, "%s", inst);
	}
	m->path = xstrdup(f->path);
	m->st = f->st;
	m->chan = -1;
	m->stats_fd = -1;
	m->alarm_fd = -1;
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

	*fdp = -1;
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

/*
 * The one way a worker starts.  Never during shutdown: whatever asked
 * (a timer, a rescan, a stopped worker's restart) is too late.
 */
void
mod_spawn(struct supervisor *sv, struct modent *m)
{
	struct spawn_args	 a;
	char			*cause = NULL;
	int			 chan, rd[OUT_NSTREAMS];
	pid_t			 pid;

	if (sv->shutting_down) {
		log_debug("module %s: not started: shutting down", mod_name(m));
		return;
	}
	if (m->pid > 0) {
		log_err("module %s: worker %ld still running; not starting another",
		    mod_name(m), (long)m->pid);
		return;
	}
	mod_close_channel(m);
	stats_release(m);
	memset(&a, 0, sizeof a);
	a.path = m->path;
	a.statsfd = -1;
	m->stats = stats_create(&a.statsfd);
	a.alarmfd = fallback_alarm_open(m);
	m->stats_size = sizeof *m->stats;
	options_worker(sv->o, &m->spawn_ws);	/* what spawn_worker() sends */
	/* A new worker: it has said and been told nothing yet. */
	free(m->hello);
	free(m->settings);
	m->hello = NULL;
	m->settings = NULL;
	contain_prepare(sv, m, &a.cgroup_fd);
	a.marker = m->marker;
	if (output_pipes(rd, a.io, &cause) == 0)
		pid = spawn_worker(sv->o, &a, &chan, &cause);
	else
		pid = -1;
	/* Kept until HELLO: the page grows by the module's connections. */
	m->stats_fd = a.statsfd;
	if (a.cgroup_fd != -1)
		close(a.cgroup_fd);
	output_close_fds(a.io);
	if (pid == -1) {
		output_close_fds(rd);
		fallback_alarm_close(m);
		if (m->cgroup != NULL) {
			rmdir(m->cgroup);
			free(m->cgroup);
			m->cgroup = NULL;
		}
		log_err("module %s: %s", m->name, cause);
		free(cause);
		mod_set_state(m, M_BACKOFF, "cannot start a worker");
		m->retry_at_ms = now_ms() + 1000;
		timer_arm(m, 1000);
		return;
	}
	m->pid = pid;
	m->chan = chan;
	m->output = output_new(sv, m, rd);
	m->chan_ev = event_new(sv->base, m->chan, EV_READ | EV_PERSIST,
	    mod_channel_cb, m);
	if (m->chan_ev == NULL || event_add(m->chan_ev, NULL) != 0)
		fatal("event_add: worker channel");
	mod_set_state(m, M_STARTING, "worker started");
	m->refused_dup = 0;
	m->retry_pending = 0;
	m->refused_sock_warned = 0;
	free(m->kill_reason);
	m->kill_reason = NULL;
	m->wstopped = 0;
	m->spawned_ms = now_ms();
	timer_arm(m, sv->o->start_timeout_ms);
	log_debug("module %s: started worker %ld for %s", mod_name(m),
	    (long)pid, m->path);
}

/* Forgets past crashes: the next one waits backoff_min_ms again. */
void
mod_backoff_reset(struct modent *m)
{
	m->failures = 0;
	m->backoff_ms = 0;
}

/* A worker with a clean slate: for a new file, SIGHUP or a restart asked for. */
void
mod_start_afresh(struct supervisor *sv, struct modent *m)
{
	mod_backoff_reset(m);
	evtimer_del(m->timer);
	mod_spawn(sv, m);
}

/* Asks the worker to exit, then does what after says (mod_exited). */
void
mod_stop(struct supervisor *sv, struct modent *m, enum after_stop after)
{
	m->after = after;
	if (m->pid <= 0)
		return;
	if (m->state != M_STOPPING) {
		mod_set_state(m, M_STOPPING, after == AFTER_REMOVE ?
		    "file removed" : "restart");
		kill(m->pid, SIGTERM);
		timer_arm(m, sv->o->stop_grace_ms);
	}
}

/*
 * The reason a worker wrote in the shared page before ending itself:
 * untrusted text, so only printable ASCII of it, within its field.
 */
static void
worker_reason(struct modent *m, char *buf, size_t len)
{
	const char	*r = m->stats->exit_reason;
	size_t		 i, j = 0;

	for (i = 0; i < sizeof m->stats->exit_reason && r[i] != '\0' &&
	    j + 1 < len; i++)
		buf[j++] = r[i] >= 0x20 && r[i] < 0x7f ? r[i] : '?';
	buf[j] = '\0';
	if (j == 0)
		snprintf(buf, len, "exited with status %d", WORKER_EXIT_DEADLINE);
}

/* A worker died without being asked to: restart later, or give up. */
static void
mod_crashed(struct supervisor *sv, struct modent *m, pid_t pid, int status)
{
	uint64_t	now = now_ms(), ran = now - m->spawned_ms;
	char		how[STATS_REASON_MAX];

	if (WIFSIGNALED(status))
		snprintf(how, sizeof how, "killed by %s (%d)",
		    signal_name(WTERMSIG(status)), WTERMSIG(status));
	else if (WEXITSTATUS(status) == WORKER_EXIT_DEADLINE &&
	    m->stats != NULL && m->kill_reason == NULL)
		worker_reason(m, how, sizeof how);
	else
		snprintf(how, sizeof how, "exited with status %d",
		    WEXITSTATUS(status));
	if (m->kill_reason != NULL)
		set_reason(m, "%s", m->kill_reason);
	else
		set_reason(m, "%s", how);

	if (m->state == M_RUNNING && now - m->ready_ms >= sv->o->healthy_ms)
		mod_backoff_reset(m);
	m->failures++;
	m->restarts++;
	m->backoff_ms = m->backoff_ms == 0 ? sv->o->backoff_min_ms :
	    m->backoff_ms * 2;
	if (m->backoff_ms > sv->o->backoff_max_ms)
		m->backoff_ms = sv->o->backoff_max_ms;

	if (sv->o->max_failures > 0 && m->failures >= sv->o->max_failures) {
		mod_set_state(m, M_FAILED, "too many crashes");
		log_err("module %s: worker %ld %s after %llu ms; %u failures in a "
		    "row: marked failed until its file changes or SIGHUP",
		    mod_name(m), (long)pid, m->reason,
		    (unsigned long long)ran, m->failures);
	} else {
		mod_set_state(m, M_BACKOFF, "crashed");
		m->retry_at_ms = now + m->backoff_ms;
		timer_arm(m, m->backoff_ms);
		log_err("module %s: worker %ld %s after %llu ms; restart %u in "
		    "%llu ms", mod_name(m), (long)pid, m->reason,
		    (unsigned long long)ran, m->failures,
		    (unsigned long long)m->backoff_ms);
	}
	fallback_worker_gone(sv, m);
	supervisor_ready_check(sv);
}

/* The worker of m exited with status (from waitpid). */
void
mod_exited(struct supervisor *sv, struct modent *m, int status)
{
	pid_t	pid = m->pid;

	/* Its last words first (a crash message), then its fate. */
	output_free(m->output);
	m->output = NULL;
	m->pid = 0;
	mod_channel_drain(m);
	mod_close_channel(m);
	fallback_alarm_close(m);
	evtimer_del(m->timer);
	contain_worker_exited(sv, m, pid);
	mod_keep_worker_error(m);

	if (sv->shutting_down) {
		log_info("module %s: stopped and removed", mod_name(m));
		mod_free(sv, m);
		return;
	}
	if (m->state == M_STOPPING) {
		fallback_worker_gone(sv, m);
		switch (m->after) {
		case AFTER_REMOVE:
			log_info("module %s: stopped and removed", mod_name(m));
			mod_free(sv, m);
			/* Its file may still be there, refused now: look. */
			reconcile_soon(sv);
			return;
		case AFTER_RESTART:
			log_info("module %s: restarting on the new %s",
			    mod_name(m), m->name);
			mod_start_afresh(sv, m);
			return;
		}
	}
	if (m->state == M_REFUSED) {
		if (m->retry_pending)
			mod_start_afresh(sv, m);
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_REFUSED &&
	    m->state == M_STARTING) {
		if (m->reason == NULL)
			set_reason(m, "refused by the worker");
		mod_refuse(sv, m, m->reason);
		return;
	}
	mod_crashed(sv, m, pid, status);
}
