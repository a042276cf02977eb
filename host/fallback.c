/*
 * fallback.c - the supervisor's side of the request path
 * (docs/ARCHITECTURE.md, "Request path").  It accepts every connection on
 * a module's socket, keeps a duplicate and passes the connection to the
 * worker, so that whatever the worker does, each request gets a complete
 * reply by the deadline: a 503 from here when it is overdue, when its
 * worker dies, or while no worker serves the module.  The supervisor
 * never reads what a client sends (the OpenBSD privilege-separation
 * model): it only asks the kernel whether bytes are waiting, and what it
 * writes is a canned reply.
 *
 * Each held connection has a slot in the worker's shared page.  While
 * the worker answers quickly the supervisor sleeps: the worker arms its
 * busy alarm (a timerfd of ours) whenever a collect or control begins and
 * disarms it when it ends, and only a collect that runs past
 * BUSY_ALARM_MS, or a worker that is stopped, wakes us.  Then we watch:
 * every held connection is watched for input (edge triggered) at most
 * twice per reply deadline: the first arrival arms a check at its
 * deadline, a second one is remembered, and then the connection is left
 * alone until the check.  A client has one request in flight (the probe
 * does), so that is every request whose reply is owed.  When a check
 * finds nothing owed and no collect running, we sleep again.
 *
 * The 503s say why in the status line (Scope shows it in the plugin's
 * tooltip) and in full in the body; a refused module's socket
 * (refused.c) is answered the same way, at once.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"

/* Accept at most this many connections per wakeup, to stay fair. */
#define ACCEPT_BURST 32
/* How long a new connection may stay silent before eviction prefers it. */
#define NEWCOMER_GRACE_MS 100
/* A connection the worker's channel could not take: again after this. */
#define PASS_RETRY_NS (10 * 1000000ULL)
/* With every slot in use, try again after this long. */
#define ACCEPT_FULL_MS 10

struct heldconn {
	struct modent	*m;
	unsigned	 idx;		/* slot */
	int		 fd;		/* our duplicate; -1: none */
	int		 passed;	/* the worker has it */
	int		 taken;		/* answered by us; the worker's copy
					 * closes when it notices */
	struct event	*ev;		/* EV_READ on fd */
	int		 watching;
	uint64_t	 noticed_ns;	/* input seen at; 0: not pending */
	uint32_t	 replies;	/* the slot's replies then */
	uint32_t	 reads;		/* the worker's reads on it then */
	uint64_t	 heartbeat;	/* the worker's then */
	uint64_t	 next_ns;	/* more input seen at, after noticed_ns */
	uint64_t	 next_heartbeat;
	uint32_t	 next_reads;
	uint64_t	 active_ms;	/* accepted or last request: eviction */
};

static void	held_read_cb(evutil_socket_t, short, void *);
static void	held_pass(struct modent *, struct heldconn *);

static struct conn_slot *
held_slot(struct heldconn *h)
{
	struct worker_stats	*st = h->m->stats;

	return st != NULL && h->idx < st->nslots ? &st->slots[h->idx] : NULL;
}

static enum slot_state
slot_get(struct conn_slot *s)
{
	return s != NULL ? __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) :
	    SLOT_FREE;
}

static void
held_watch(struct heldconn *h, int on)
{
	if (on == h->watching || h->fd == -1)
		return;
	if (on ? event_add(h->ev, NULL) != 0 : event_del(h->ev) != 0)
		log_err("module %s: cannot watch a connection", h->m->id);
	h->watching = on;
}

/* Forgets h; the slot is free for the next connection. */
static void
held_release(struct heldconn *h)
{
	struct conn_slot	*s = held_slot(h);

	held_watch(h, 0);
	if (h->ev != NULL) {
		event_free(h->ev);
		h->ev = NULL;
	}
	if (h->fd != -1)
		close(h->fd);
	h->fd = -1;
	h->passed = h->taken = 0;
	h->noticed_ns = h->next_ns = 0;
	if (s != NULL)
		__atomic_store_n(&s->state, SLOT_FREE, __ATOMIC_RELEASE);
}

/* Bytes the client sent that nobody read yet. */
static int
held_unread(struct heldconn *h)
{
	int	n = 0;

	if (h->fd == -1 || ioctl(h->fd, FIONREAD, &n) != 0)
		return 0;
	return n;
}

/*
 * Writes the canned 503: reason in the status line (made printable and
 * short by http_respond), msg JSON-escaped in the body with the module's
 * id beside it; then ends the connection for everyone: the worker's copy, if it
 * has one, reads end of file.
 */
static void
held_answer(struct heldconn *h, const char *reason, const char *msg)
{
	struct modent	*m = h->m;
	struct evbuffer	*out;
	size_t		 len;
	ssize_t		 n;

	if ((out = evbuffer_new()) == NULL)
		fatal("evbuffer_new: out of memory");
	http_respond_error(out, 503, reason, m->id[0] != '\0' ? m->id :
	    m->sock != NULL ? m->sock->id : m->name, msg, 0, 0, NULL);
	len = evbuffer_get_length(out);
	/* A fresh reply on a socket we own takes one write; best effort. */
	n = write(h->fd, evbuffer_pullup(out, -1), len);
	if (n != (ssize_t)len)
		log_debug("module %s: 503 to a client: %s", h->m->id,
		    n == -1 ? strerror(errno) : "short write");
	evbuffer_free(out);
	shutdown(h->fd, SHUT_RDWR);
}

/* Why the module does not answer itself, for a 503 while it is down. */
static char *
down_reason(struct modent *m, char **reasonp)
{
	char		*msg, *reason;
	uint64_t	 now = now_ms();

	/* reason: for the status line, which Scope shows; msg: the body. */
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
	*reasonp = reason;
	return msg;
}

/*
 * The module's socket has no worker behind it: answer whatever arrives
 * with a 503, and close.  Nothing sent is read: the reply does not
 * depend on it.
 */
static void
held_down(struct heldconn *h)
{
	char	*msg, *reason;

	if (held_unread(h) > 0) {
		msg = down_reason(h->m, &reason);
		held_answer(h, reason, msg);
		free(reason);
		free(msg);
	}
	/* Else the client closed: nothing to say. */
	held_release(h);
}

/* Arms the module's check at at_ns (CLOCK_MONOTONIC), unless sooner. */
static void
check_arm(struct modent *m, uint64_t at_ns)
{
	struct timeval	tv;
	uint64_t	now = now_ns(), d = at_ns > now ? at_ns - now : 0;

	if (m->check_ev == NULL || (m->check_due_ns != 0 &&
	    m->check_due_ns <= at_ns && evtimer_pending(m->check_ev, NULL)))
		return;
	m->check_due_ns = at_ns;
	tv.tv_sec = (time_t)(d / 1000000000);
	tv.tv_usec = (suseconds_t)((d % 1000000000) / 1000);
	if (evtimer_add(m->check_ev, &tv) != 0)
		log_err("module %s: cannot arm the reply deadline", m->id);
}

static uint32_t
slot_replies(struct conn_slot *s)
{
	return s != NULL ? __atomic_load_n(&s->replies, __ATOMIC_RELAXED) : 0;
}

static uint32_t
slot_reads(struct conn_slot *s)
{
	return s != NULL ? __atomic_load_n(&s->reads, __ATOMIC_RELAXED) : 0;
}

static uint64_t
worker_heartbeat(struct modent *m)
{
	return m->stats != NULL ? __atomic_load_n(&m->stats->heartbeat,
	    __ATOMIC_RELAXED) : 0;
}

/*
 * A worker serves h and input came: a request the worker owes a reply by
 * the deadline, or the supervisor will answer it (check_cb).
 */
static void
held_noticed(struct heldconn *h)
{
	struct conn_slot	*s = held_slot(h);
	struct modent		*m = h->m;

	switch (slot_get(s)) {
	case SLOT_CLOSED:
	case SLOT_TAKEN:
		held_release(h);
		return;
	default:
		break;
	}
	h->active_ms = now_ms();
	if (h->noticed_ns != 0) {
		/*
		 * After the first request, a second one (a reply went out, or
		 * input waits): when it came is all the check needs, and
		 * the connection is left alone until then.  Other wakeups
		 * (the kernel's, for the worker's own reads and writes) are
		 * no news.
		 */
		if (slot_replies(s) == h->replies && held_unread(h) == 0)
			return;
		h->next_ns = now_ns();
		h->next_heartbeat = worker_heartbeat(m);
		h->next_reads = slot_reads(s);
		held_watch(h, 0);
		return;
	}
	h->noticed_ns = now_ns();
	h->replies = slot_replies(s);
	h->reads = slot_reads(s);
	h->heartbeat = worker_heartbeat(m);
	check_arm(m, h->noticed_ns + (uint64_t)m->reply_ms * 1000000);
}

/* True if m has a worker to pass connections to. */
static int
serving(const struct modent *m)
{
	return m->state == M_RUNNING && m->pid > 0 && m->chan != -1;
}

/*
 * Watching (on): input on the worker's connections wakes us
 * (held_noticed) and its requests are checked at their deadlines.  Off:
 * nothing is owed, sleep until the alarm, unless there is none or the
 * worker is stopped.
 */
static void
watch_set(struct modent *m, int on)
{
	unsigned	i;

	if (on == m->watching || (!on && (m->alarm_fd == -1 || m->wstopped)))
		return;
	m->watching = on;
	for (i = 0; i < m->nheld; i++)
		if (m->held[i].fd != -1 && m->held[i].passed) {
			m->held[i].noticed_ns = m->held[i].next_ns = 0;
			held_watch(&m->held[i], on);
		}
}

static void
held_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct heldconn	*h = arg;

	(void)fd;
	(void)what;
	if (h->passed)
		held_noticed(h);
	else if (!serving(h->m))
		held_down(h);
	/* Else the worker's channel was full: the check passes it. */
}

/* Kills the worker of m for why (the 503s follow when it is reaped). */
static void
worker_kill(struct modent *m, const char *why)
{
	if (m->pid <= 0 || m->kill_reason != NULL)
		return;
	m->kill_reason = xstrdup(why);
	log_err("module %s: %s; killing worker %ld", m->id, why, (long)m->pid);
	kill(m->pid, SIGKILL);
}

/* Takes h from its worker: we answered, the worker's copy reads EOF. */
static void
held_take(struct heldconn *h, const char *reason, const char *msg)
{
	if (msg != NULL)
		held_answer(h, reason, msg);
	else
		shutdown(h->fd, SHUT_RDWR);
	held_watch(h, 0);
	event_free(h->ev);
	h->ev = NULL;
	close(h->fd);
	h->fd = -1;
	h->taken = 1;
	h->noticed_ns = h->next_ns = 0;
}

/*
 * h's request is past the reply deadline.  The 503 says why; a worker
 * that is stuck (a collect or control past the module's deadline) or not
 * running at all (stopped, or wedged outside collect: it read nothing
 * since the request came) is killed and restarted.
 */
static void
held_overdue(struct heldconn *h, struct conn_slot *s, enum slot_state st,
    uint64_t now)
{
	struct modent	*m = h->m;
	uint64_t	 start, hb;
	uint32_t	 expect = st;
	char		*why, *reason, *msg;
	int		 kill_it = 1;

	start = m->stats != NULL ? __atomic_load_n(&m->stats->collect_start_ns,
	    __ATOMIC_ACQUIRE) : 0;
	hb = worker_heartbeat(m);
	if (start != 0 && now > start &&
	    now - start >= (uint64_t)m->deadline_ms * 1000000)
		xasprintf(&why, "collect did not finish within %u ms "
		    "(deadline)", m->deadline_ms);
	else if (start == 0 && (st == SLOT_REQUEST || hb == h->heartbeat))
		xasprintf(&why, "worker not responding for %u ms (stopped, or "
		    "stuck outside collect)", m->reply_ms);
	else {
		xasprintf(&why, "no report within %u ms (deadline): collect "
		    "still running", m->reply_ms);
		kill_it = 0;
	}
	/* The kill's reason is the module's (status, the 503s until it is
	 * back); this reply's says what happens next. */
	xasprintf(&reason, "%s%s", why, kill_it ? "; restarting" : "");
	xasprintf(&msg, "module %s: %s", m->id, reason);
	/* The worker may be answering right now: only one of us does. */
	if (s == NULL)
		held_answer(h, reason, msg), held_release(h);
	else if (__atomic_compare_exchange_n(&s->state, &expect, SLOT_TAKEN, 0,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		held_take(h, reason, msg);
	else {
		/* It did: watch for the next request. */
		h->noticed_ns = h->next_ns = 0;
		held_watch(h, m->watching);
	}
	if (kill_it)
		worker_kill(m, why);
	free(reason);
	free(msg);
	free(why);
}

/* The reply deadline of some held connection of m has come. */
static void
check_cb(evutil_socket_t fd, short what, void *arg)
{
	struct modent		*m = arg;
	struct heldconn		*h;
	struct conn_slot	*s;
	enum slot_state		 st;
	uint64_t		 now = now_ns(), due, next = 0, start;
	uint64_t		 reply_ns = (uint64_t)m->reply_ms * 1000000;
	unsigned		 i;

	(void)fd;
	(void)what;
	m->check_due_ns = 0;
	/* Connections the worker's full channel did not take yet. */
	for (i = 0; i < m->nheld && serving(m); i++)
		if (m->held[i].fd != -1 && !m->held[i].passed)
			held_pass(m, &m->held[i]);
	for (i = 0; i < m->nheld; i++) {
		h = &m->held[i];
		if (h->fd == -1 || !h->passed)
			continue;
		s = held_slot(h);
		st = slot_get(s);
		if (st == SLOT_CLOSED || st == SLOT_TAKEN) {
			held_release(h);
			continue;
		}
		due = 0;
		if (st == SLOT_REQUEST) {
			/* Read by the worker then; or, if no reply went out
			 * since, when we saw it come (read late: busy). */
			due = __atomic_load_n(&s->req_start_ns, __ATOMIC_RELAXED) +
			    reply_ns;
			if (h->noticed_ns != 0 && slot_replies(s) == h->replies &&
			    h->noticed_ns + reply_ns < due)
				due = h->noticed_ns + reply_ns;
		} else if (st == SLOT_IDLE && h->noticed_ns != 0 &&
		    held_unread(h) > 0) {
			/*
			 * Not read yet.  If the worker read or answered since
			 * we saw input, this came later: when we saw it the
			 * second time, or else (not watching) now at the
			 * latest.  (A client trickling its request counts
			 * anew with every read, like the read timeout.)
			 */
			if (slot_replies(s) != h->replies ||
			    slot_reads(s) != h->reads) {
				/* The second one we saw, if it is the one
				 * waiting: one reply since, no read since. */
				if (h->next_ns != 0 &&
				    slot_replies(s) == h->replies + 1 &&
				    slot_reads(s) == h->next_reads) {
					h->noticed_ns = h->next_ns;
					h->heartbeat = h->next_heartbeat;
				} else {
					h->noticed_ns = now;
					h->heartbeat = worker_heartbeat(m);
				}
				h->replies = slot_replies(s);
				h->reads = slot_reads(s);
				h->next_ns = 0;
			}
			due = h->noticed_ns + reply_ns;
		}
		if (due == 0) {
			/* Nothing owed (or a reply on its way). */
			h->noticed_ns = h->next_ns = 0;
			held_watch(h, m->watching);
		} else if (now >= due)
			held_overdue(h, s, st, now);
		else if (next == 0 || due < next)
			next = due;
	}
	/* A collect that a 503 left running is still bounded. */
	start = m->stats != NULL ? __atomic_load_n(&m->stats->collect_start_ns,
	    __ATOMIC_ACQUIRE) : 0;
	if (start != 0 && m->pid > 0 && m->kill_reason == NULL &&
	    m->stats != NULL && m->held != NULL) {
		due = start + (uint64_t)m->deadline_ms * 1000000;
		if (now >= due) {
			char	*why;

			xasprintf(&why, "collect did not finish within %u ms "
			    "(deadline)", m->deadline_ms);
			worker_kill(m, why);
			free(why);
		} else if (next == 0 || due < next)
			next = due;
	}
	if (next != 0)
		check_arm(m, next);
	else
		watch_set(m, 0);
}

/*
 * The worker's alarm: a collect or control has run for BUSY_ALARM_MS,
 * or its peak resident size passed the memory limit.  Watch its
 * connections until every request is answered.
 */
static void
alarm_cb(evutil_socket_t fd, short what, void *arg)
{
	struct modent	*m = arg;
	uint64_t	 n;

	(void)what;
	/* EAGAIN: the worker disarmed it since; look anyway. */
	if (read(fd, &n, sizeof n) == -1 && errno != EAGAIN)
		log_debug("module %s: alarm: %s", m->id, strerror(errno));
	health_check_mod(m);
	if (!serving(m) || m->held == NULL)
		return;
	watch_set(m, 1);
	check_cb(-1, 0, m);
}

/*
 * A new alarm for a worker about to start: a timerfd it arms while busy
 * (WORKER_ALARM_FD) and we watch.  Returns its descriptor, or -1: then
 * the worker's connections are watched all the time.
 */
int
fallback_alarm_open(struct modent *m)
{
	fallback_alarm_close(m);
	m->alarm_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK |
	    TFD_CLOEXEC);
	if (m->alarm_fd == -1) {
		log_warn("module %s: timerfd_create: %s; watching every "
		    "request instead", mod_name(m), strerror(errno));
		return -1;
	}
	m->alarm_ev = event_new(m->sv->base, m->alarm_fd, EV_READ | EV_PERSIST,
	    alarm_cb, m);
	if (m->alarm_ev == NULL || event_add(m->alarm_ev, NULL) != 0)
		fatal("module %s: cannot watch the worker's alarm", mod_name(m));
	return m->alarm_fd;
}

/* The worker is gone: so is its alarm (it may have left it armed). */
void
fallback_alarm_close(struct modent *m)
{
	if (m->alarm_ev != NULL) {
		event_free(m->alarm_ev);
		m->alarm_ev = NULL;
	}
	if (m->alarm_fd != -1)
		close(m->alarm_fd);
	m->alarm_fd = -1;
}

/*
 * m's worker was stopped (SIGSTOP; stopped is 1) or continued (0).  A
 * stopped worker reads nothing: its connections are watched, and a
 * request that comes is answered and the worker restarted at the
 * deadline (held_overdue), as for one stuck outside collect.
 */
void
fallback_stopped(struct modent *m, int stopped)
{
	m->wstopped = stopped;
	if (!serving(m) || m->held == NULL)
		return;
	if (stopped)
		watch_set(m, 1);
	else if (m->check_ev != NULL && !evtimer_pending(m->check_ev, NULL))
		watch_set(m, 0);
}

/* Hands h to the worker of m; on failure h stays ours (fallback). */
static void
held_pass(struct modent *m, struct heldconn *h)
{
	struct conn_slot	*s = held_slot(h);
	struct msg_conn		 mc;

	if (s == NULL) {
		/* No shared page: pass it, keep nothing (no 503 on death). */
		memset(&mc, 0, sizeof mc);
		mc.slot = UINT32_MAX;
		if (channel_send(m->chan, MSG_CONN, &mc, sizeof mc, h->fd) != 0)
			log_debug("module %s: cannot pass a connection: %s",
			    m->id, strerror(errno));
		held_release(h);
		return;
	}
	__atomic_store_n(&s->state, SLOT_IDLE, __ATOMIC_RELEASE);
	s->reads = s->replies = s->partial = 0;
	s->active_ms = 0;
	memset(&mc, 0, sizeof mc);
	mc.slot = h->idx;
	/* Watched (if we watch the worker) first: the worker may read the
	 * request at once, and an edge comes only for input there when
	 * watching begins or later. */
	h->passed = 1;
	h->noticed_ns = h->next_ns = 0;
	held_watch(h, m->watching);
	if (channel_send(m->chan, MSG_CONN, &mc, sizeof mc, h->fd) != 0) {
		/* Its channel is full (a flood of connections): again in a
		 * moment (check_cb); gone: we answer (held_down). */
		log_debug("module %s: cannot pass a connection: %s", m->id,
		    strerror(errno));
		__atomic_store_n(&s->state, SLOT_FREE, __ATOMIC_RELEASE);
		h->passed = 0;
		check_arm(m, now_ns() + PASS_RETRY_NS);
	}
}


/*
 * When h was last active, as the worker saw it: its last answer, or the
 * first byte of a request in progress; else when accepted, with a
 * moment's grace for a newcomer that has not spoken yet.
 */
static uint64_t
held_active(struct heldconn *h)
{
	struct conn_slot	*s = held_slot(h);
	uint64_t		 t;

	if (!h->passed || s == NULL)
		return h->active_ms;
	t = __atomic_load_n(&s->active_ms, __ATOMIC_RELAXED);
	if (t == 0)	/* the worker has read nothing of it yet */
		return h->active_ms + NEWCOMER_GRACE_MS;
	return t > h->active_ms ? t : h->active_ms;
}

/*
 * The least recently active connection the worker holds idle (no whole
 * request, none waiting unread unless it trickles: part of it read
 * already): the probe polls every second on a fresh or kept-alive
 * connection, so the one quiet longest (accepted, or input seen, longest
 * ago) is not the probe's.  NULL if there is none.
 */
static struct heldconn *
held_victim(struct modent *m)
{
	struct heldconn		*h, *victim = NULL;
	struct conn_slot	*s;
	uint64_t		 t, oldest = 0;
	unsigned		 i;

	for (i = 0; i < m->nheld; i++) {
		h = &m->held[i];
		s = held_slot(h);
		if (h->fd == -1 || (h->passed && slot_get(s) != SLOT_IDLE))
			continue;
		/* Maybe a whole request: never closed unanswered. */
		if (held_unread(h) > 0 && (!h->passed || s == NULL ||
		    !s->partial))
			continue;
		t = held_active(h);
		if (victim == NULL || t < oldest) {
			victim = h;
			oldest = t;
		}
	}
	return victim;
}

/*
 * Closes the connection held_victim() picks.  Returns -1 if there is none
 * (every connection is being answered, or its input not read yet).
 */
static int
held_evict(struct modent *m)
{
	struct heldconn		*victim;
	struct conn_slot	*s;
	uint32_t		 expect = SLOT_IDLE;

	victim = held_victim(m);
	if (victim == NULL)
		return -1;
	s = held_slot(victim);
	if (!victim->passed || s == NULL)
		held_release(victim);
	else if (__atomic_compare_exchange_n(&s->state, &expect, SLOT_TAKEN, 0,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		held_take(victim, NULL, NULL);
	else
		return -1;
	m->evictions++;
	/* One line a minute at most: a flood must not flood the log. */
	if (m->evict_logged == 0 || now_ms() - m->evict_logged >= 60000) {
		log_warn("module %s: connection limit (%u) reached: closed the "
		    "least recently active idle connection (%llu evicted so "
		    "far)", m->id, m->max_conns,
		    (unsigned long long)m->evictions);
		m->evict_logged = now_ms();
	}
	return 0;
}

/*
 * A free slot for a new connection, or NULL if every slot is in use.
 * There are twice as many slots as connections allowed: an evicted
 * connection's slot is free only once its worker lets go of it.
 */
static struct heldconn *
held_free_slot(struct modent *m, unsigned *live)
{
	struct heldconn	*h, *free_slot = NULL;
	unsigned	 i;

	*live = 0;
	for (i = 0; i < m->nheld; i++) {
		h = &m->held[i];
		if ((h->fd != -1 && h->passed) || h->taken) {
			if (slot_get(held_slot(h)) == SLOT_CLOSED)
				held_release(h);
		}
		if (h->fd != -1)
			(*live)++;
		else if (!h->taken && free_slot == NULL)
			free_slot = h;
	}
	return free_slot;
}

static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Type: application/json\r\nContent-Length: 37\r\n"
	    "Connection: close\r\n\r\n{\"error\":\"too many open connections\"}";
	struct modent	*m = arg;
	struct heldconn	*h;
	unsigned	 live;
	int		 fd, i;

	(void)what;
	for (i = 0; i < ACCEPT_BURST; i++) {
		if ((h = held_free_slot(m, &live)) == NULL) {
			/* Evicted connections not let go of yet: they will be
			 * soon (or their worker dies).  The backlog waits. */
			struct timeval tv = { 0, ACCEPT_FULL_MS * 1000 };

			event_del(m->sock->accept_ev);
			evtimer_add(m->sock->retry_ev, &tv);
			return;
		}
		/*
		 * At the limit with nothing idle to close (input the worker
		 * is about to read, maybe the probe's whole request; replies
		 * on their way, bounded by the deadline): the newcomer waits
		 * in the backlog a moment rather than being turned away.
		 */
		if (live >= m->max_conns && held_victim(m) == NULL) {
			struct timeval tv = { 0, ACCEPT_FULL_MS * 1000 };

			event_del(m->sock->accept_ev);
			evtimer_add(m->sock->retry_ev, &tv);
			return;
		}
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				struct timeval tv = { 0, 100000 };

				log_warn("module %s: accept: %s; pausing 100 ms",
				    m->id, strerror(errno));
				event_del(m->sock->accept_ev);
				evtimer_add(m->sock->retry_ev, &tv);
			} else if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				log_warn("module %s: accept: %s", m->id,
				    strerror(errno));
			return;
		}
		/* At the limit, the newcomer (the probe) gets in. */
		if (live >= m->max_conns && held_evict(m) != 0 &&
		    held_evict(m) != 0)	/* raced with the worker: again */
			h = NULL;
		if (h == NULL) {
			/* A fresh socket's buffer takes this whole. */
			if (write(fd, busy, sizeof busy - 1) == -1)
				log_debug("busy reply: %s", strerror(errno));
			close(fd);
			continue;
		}
		h->m = m;
		h->fd = fd;
		h->passed = h->taken = 0;
		h->noticed_ns = h->next_ns = 0;
		h->active_ms = now_ms();
		h->watching = 0;
		h->ev = event_new(m->sv->base, fd, EV_READ | EV_PERSIST | EV_ET,
		    held_read_cb, h);
		if (h->ev == NULL)
			fatal("event_new: out of memory");
		if (serving(m))
			held_pass(m, h);
		if (!h->passed)
			held_watch(h, 1);
	}
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct modent	*m = arg;

	(void)fd;
	(void)what;
	if (m->sock != NULL && event_add(m->sock->accept_ev, NULL) != 0)
		log_err("module %s: cannot resume accepting", m->id);
}

/*
 * Slots for m's connections, max_conns of them open at once.  A new
 * count drops the connections held so far.  Returns the number of slots.
 */
unsigned
fallback_slots(struct modent *m, unsigned max_conns)
{
	unsigned	i, n = 2 * max_conns;

	m->max_conns = max_conns;
	if (m->held != NULL && m->nheld == n)
		return n;
	fallback_free(m);
	m->held = xcalloc(n, sizeof *m->held);
	m->nheld = n;
	for (i = 0; i < n; i++) {
		m->held[i].m = m;
		m->held[i].idx = i;
		m->held[i].fd = -1;
	}
	if (m->check_ev == NULL &&
	    (m->check_ev = evtimer_new(m->sv->base, check_cb, m)) == NULL)
		fatal("evtimer_new: out of memory");
	return n;
}

/*
 * Starts accepting on m's socket, if it has one; whatever the state, the
 * supervisor accepts.  While m has no worker serving, held connections
 * are answered here.
 */
void
fallback_on(struct supervisor *sv, struct modent *m)
{
	struct plugsock	*ps = m->sock;

	if (ps == NULL)
		return;
	/* A refused module has no worker's settings: the defaults. */
	if (m->held == NULL)
		fallback_slots(m, sv->o->max_conns);
	if (ps->accept_ev == NULL) {
		if (set_nonblock(ps->fd) == -1)
			log_warn("fcntl O_NONBLOCK on %s: %s", ps->path,
			    strerror(errno));
		ps->accept_ev = event_new(sv->base, ps->fd, EV_READ | EV_PERSIST,
		    accept_cb, m);
		ps->retry_ev = evtimer_new(sv->base, retry_cb, m);
		if (ps->accept_ev == NULL || ps->retry_ev == NULL ||
		    event_add(ps->accept_ev, NULL) != 0)
			fatal("event_add: cannot watch %s", ps->path);
	}
}

/* The worker is ready: it takes every connection we hold. */
void
fallback_off(struct supervisor *sv, struct modent *m)
{
	unsigned	i;

	fallback_on(sv, m);
	if (!serving(m))
		return;
	/* Without an alarm, nothing would wake us for a stuck collect. */
	m->watching = m->alarm_fd == -1 || m->wstopped;
	for (i = 0; i < m->nheld; i++)
		if (m->held[i].fd != -1 && !m->held[i].passed)
			held_pass(m, &m->held[i]);
}

/*
 * m's worker is gone (crashed, killed, stopped).  A request it read and
 * did not begin to answer gets a 503 with the reason; idle connections
 * stay open, answered here until the next worker takes them.
 */
void
fallback_worker_gone(struct supervisor *sv, struct modent *m)
{
	struct heldconn		*h;
	struct conn_slot	*s;
	char			*msg, *reason;
	unsigned		 i;

	(void)sv;
	if (m->check_ev != NULL)
		evtimer_del(m->check_ev);
	m->check_due_ns = 0;
	m->watching = m->wstopped = 0;
	msg = down_reason(m, &reason);
	for (i = 0; i < m->nheld; i++) {
		h = &m->held[i];
		s = held_slot(h);
		if (h->fd == -1) {
			h->taken = 0;
			h->passed = 0;
			continue;
		}
		if (!h->passed)
			continue;
		switch (slot_get(s)) {
		case SLOT_IDLE:
			if (s != NULL && s->partial) {
				/* It had read part of a request. */
				held_answer(h, reason, msg);
				held_release(h);
				break;
			}
			h->passed = 0;
			h->noticed_ns = h->next_ns = 0;
			if (s != NULL)
				__atomic_store_n(&s->state, SLOT_FREE,
				    __ATOMIC_RELEASE);
			/* Input may have come unseen (edge triggered). */
			if (held_unread(h) > 0)
				held_down(h);
			else
				held_watch(h, 1);
			break;
		case SLOT_REQUEST:
			held_answer(h, reason, msg);
			held_release(h);
			break;
		default:
			/* A reply was on its way, or it is closed. */
			held_release(h);
			break;
		}
	}
	free(reason);
	free(msg);
}

/* Drops every connection held for m (its socket is going away). */
void
fallback_free(struct modent *m)
{
	unsigned	i;

	for (i = 0; i < m->nheld; i++)
		held_release(&m->held[i]);
	free(m->held);
	m->held = NULL;
	m->nheld = 0;
	if (m->check_ev != NULL) {
		event_free(m->check_ev);
		m->check_ev = NULL;
	}
}
