/*
 * serve.c - an event-driven HTTP/1.1 server on one listening socket: used
 * by workers to serve their module and by the supervisor to answer for a
 * module whose worker is down.  Requests are handled synchronously by the
 * callback; pipelined requests are answered in order.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>

#include "host.h"

/* Stop reading from a client while this much output is queued. */
#define OUTPUT_HIGH_WATER (1024 * 1024)
/* How long a new connection may stay silent before eviction prefers it. */
#define NEWCOMER_GRACE_MS 100
/* Accept at most this many connections per wakeup, to stay fair. */
#define ACCEPT_BURST 32

enum conn_state { CONN_HEAD, CONN_BODY };

struct server_conn {
	struct server		*srv;
	struct bufferevent	*bev;
	enum conn_state		 state;
	int			 closing;	/* close once output drains */
	int			 throttled;	/* reading paused on output */
	unsigned		 served;	/* requests answered so far */
	uint64_t		 req_start;	/* first byte of this request */
	uint64_t		 idle_since;	/* accepted or last answered */
	struct http_request	 req;
	struct evbuffer		*body;
	TAILQ_ENTRY(server_conn) entry;
};

struct server {
	struct event_base	*base;
	int			 fd;
	struct event		*accept_ev;
	struct event		*retry_ev;	/* accept backoff after EMFILE */
	struct http_limits	 limits;
	server_request_cb	 cb;
	void			*arg;
	int			 paused;
	unsigned		 nconns;
	uint64_t		 evict_logged;	/* rate limit for the log */
	uint64_t		 evictions;
	TAILQ_HEAD(, server_conn) conns;
};

static void	conn_read_cb(struct bufferevent *, void *);
static void	conn_write_cb(struct bufferevent *, void *);
static void	conn_event_cb(struct bufferevent *, short, void *);

/* The fixed limits, and the operator's (--max-conns, --read-timeout, ...). */
void
server_limits_init(struct http_limits *l, unsigned max_conns,
    unsigned read_timeout_ms, unsigned idle_timeout_ms)
{
	l->max_head = HTTP_MAX_HEAD;
	l->max_body = HTTP_MAX_BODY;
	l->read_timeout_ms = read_timeout_ms;
	l->idle_timeout_ms = idle_timeout_ms;
	l->max_conns = max_conns;
}

static void
conn_free(struct server_conn *c)
{
	TAILQ_REMOVE(&c->srv->conns, c, entry);
	c->srv->nconns--;
	bufferevent_free(c->bev);
	evbuffer_free(c->body);
	free(c);
}

/* Arms the read timeout for the state the connection is in. */
static void
conn_set_timeout(struct server_conn *c)
{
	const struct http_limits	*l = &c->srv->limits;
	struct timeval			 rtv, wtv;
	uint64_t			 ms, elapsed;

	if (evbuffer_get_length(bufferevent_get_input(c->bev)) == 0 &&
	    c->state == CONN_HEAD)
		/* A client must speak soon after connecting; between requests
		 * a kept-alive connection may idle much longer (probe polls). */
		ms = c->served == 0 ? l->read_timeout_ms : l->idle_timeout_ms;
	else {
		/* A request must be complete within read_timeout of its start. */
		elapsed = now_ms() - c->req_start;
		ms = elapsed < l->read_timeout_ms ? l->read_timeout_ms - elapsed : 1;
	}
	rtv.tv_sec = (time_t)(ms / 1000);
	rtv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	wtv.tv_sec = (time_t)(l->read_timeout_ms / 1000);
	wtv.tv_usec = (suseconds_t)((l->read_timeout_ms % 1000) * 1000);
	bufferevent_set_timeouts(c->bev, &rtv, &wtv);
}

static void
conn_fail(struct server_conn *c, int status, const char *why)
{
	struct http_request	req;

	memset(&req, 0, sizeof req);
	req.keep_alive = 0;
	server_reply_error(c, &req, status, NULL, why);
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
}

/* Parses and dispatches as many complete requests as the input holds. */
static void
conn_process(struct server_conn *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	const struct http_limits *l = &c->srv->limits;

	while (!c->closing) {
		size_t		 len = evbuffer_get_length(in);
		const char	*why;
		int		 status, r;

		if (len == 0)
			break;
		if (c->req_start == 0)
			c->req_start = now_ms();
		if (c->state == CONN_HEAD) {
			size_t		 want = len < l->max_head + 16 ? len : l->max_head + 16;
			const char	*p = (const char *)evbuffer_pullup(in, (ssize_t)want);

			if (p == NULL) {
				conn_fail(c, 500, "out of memory");
				return;
			}
			r = http_parse_head(p, want, l->max_head, &c->req, &status, &why);
			if (r == HTTP_INCOMPLETE)
				break;
			if (r == HTTP_ERROR) {
				conn_fail(c, status, why);
				return;
			}
			evbuffer_drain(in, c->req.head_len);
			if (!c->req.chunked && c->req.content_length > l->max_body) {
				conn_fail(c, 413, "request body too large");
				return;
			}
			if (c->req.chunked || c->req.content_length > 0) {
				if (c->req.expect_continue)
					evbuffer_add(out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
				c->state = CONN_BODY;
				continue;
			}
		} else {
			if (c->req.chunked) {
				const char	*p = (const char *)evbuffer_pullup(in, -1);
				size_t		 used;

				evbuffer_drain(c->body, evbuffer_get_length(c->body));
				r = http_dechunk(p, len, l->max_body, c->body, &used,
				    &status, &why);
				if (r == HTTP_INCOMPLETE) {
					/* Framing overhead is bounded too. */
					if (len > 2 * l->max_body + 65536) {
						conn_fail(c, 413, "request body too large");
						return;
					}
					break;
				}
				if (r == HTTP_ERROR) {
					conn_fail(c, status, why);
					return;
				}
				evbuffer_drain(in, used);
			} else {
				if (len < c->req.content_length)
					break;
				evbuffer_remove_buffer(in, c->body, c->req.content_length);
			}
		}

		c->state = CONN_HEAD;
		c->srv->cb(c, &c->req, c->body, c->srv->arg);
		evbuffer_drain(c->body, evbuffer_get_length(c->body));
		c->served++;
		c->req_start = 0;
		c->idle_since = now_ms();
		if (!c->req.keep_alive)
			c->closing = 1;
		if (evbuffer_get_length(out) > OUTPUT_HIGH_WATER) {
			bufferevent_disable(c->bev, EV_READ);
			c->throttled = 1;
			break;
		}
	}
	if (c->closing)
		bufferevent_disable(c->bev, EV_READ);
	else
		conn_set_timeout(c);
}

/*
 * Writes queued output straight to the socket.  Only what the socket does
 * not take at once is left to libevent (EV_WRITE on until it drains), so
 * the usual small reply costs no epoll_ctl() at all.  Returns -1 when c
 * is gone (freed: closed after its last answer, or the peer went away).
 */
static int
conn_flush(struct server_conn *c)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	evutil_socket_t	 fd = bufferevent_getfd(c->bev);
	int		 n;

	while (evbuffer_get_length(out) > 0) {
		/* bufferevents freeze the start of their output so that only
		 * they drain it; we are the only writer, so briefly thaw it. */
		evbuffer_unfreeze(out, 1);
		n = evbuffer_write(out, fd);
		evbuffer_freeze(out, 1);
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || errno == EAGAIN || errno == EWOULDBLOCK) {
			bufferevent_enable(c->bev, EV_WRITE);
			return 0;
		}
		conn_free(c);
		return -1;
	}
	if (c->closing) {
		conn_free(c);
		return -1;
	}
	return 0;
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct server_conn	*c = arg;

	(void)bev;
	for (;;) {
		conn_process(c);
		if (conn_flush(c) != 0)
			return;
		/* Output drained at once: a throttled reader may go on. */
		if (!c->throttled ||
		    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
			return;
		c->throttled = 0;
		bufferevent_enable(c->bev, EV_READ);
	}
}

/* libevent drained what conn_flush() could not write at once. */
static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct server_conn	*c = arg;

	bufferevent_disable(c->bev, EV_WRITE);
	if (c->closing) {
		conn_free(c);
		return;
	}
	if (c->throttled) {
		c->throttled = 0;
		bufferevent_enable(c->bev, EV_READ);
		conn_read_cb(bev, c);
	}
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct server_conn	*c = arg;

	(void)bev;
	if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_READING)) {
		/* Half-close: answer what was asked, then close. */
		c->closing = 1;
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
			return;
	} else if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) &&
	    (c->state == CONN_BODY ||
	    evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)) {
		/* A partial request took too long: say so, then close. */
		conn_fail(c, 408, "request not complete in time");
		conn_flush(c);
		return;
	}
	conn_free(c);
}

/*
 * At max_conns, the connection to drop so that a newcomer (the probe) gets
 * in: among those we owe nothing (no output pending), the least recently
 * active, counting an idle connection from its last answer (or accept) and
 * one with a request in progress from that request's first byte.  The
 * probe writes a request in one go and polls every second, so its
 * connection is the newest; a hostile client's idle or trickling ones are
 * older.  (Go's transport retries a GET whose idle connection was closed.)
 * NULL if every connection is being answered: the newcomer is refused.
 */
static struct server_conn *
server_pick_victim(struct server *srv)
{
	struct server_conn	*c, *victim = NULL;
	uint64_t		 t, oldest = 0;

	TAILQ_FOREACH(c, &srv->conns, entry) {
		if (c->closing || c->throttled ||
		    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
			continue;
		if (c->state == CONN_HEAD &&
		    evbuffer_get_length(bufferevent_get_input(c->bev)) == 0) {
			t = c->idle_since;
			/*
			 * A connection that has not spoken yet may have its
			 * request already queued in the kernel (accepted in
			 * this very burst): give it a moment before it counts
			 * as idle.
			 */
			if (c->served == 0)
				t += NEWCOMER_GRACE_MS;
		} else
			t = c->req_start;
		if (victim == NULL || t < oldest) {
			victim = c;
			oldest = t;
		}
	}
	return victim;
}

static int
server_evict(struct server *srv)
{
	struct server_conn	*victim;
	uint64_t		 now = now_ms();

	if ((victim = server_pick_victim(srv)) == NULL)
		return -1;
	srv->evictions++;
	/* One line a minute at most: a flood must not flood the log. */
	if (srv->evict_logged == 0 || now - srv->evict_logged >= 60000) {
		log_warn("connection limit (%u) reached: closing the least "
		    "recently active (%s) connection (%llu evicted so far)", srv->limits.max_conns,
		    victim->state == CONN_HEAD &&
		    evbuffer_get_length(bufferevent_get_input(victim->bev)) == 0 ?
		    "idle" : "incomplete", (unsigned long long)srv->evictions);
		srv->evict_logged = now;
	}
	conn_free(victim);
	return 0;
}

static void
server_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server		*srv = arg;
	struct server_conn	*c;
	int			 cfd, i;

	(void)what;
	for (i = 0; i < ACCEPT_BURST; i++) {
		cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				struct timeval tv = { 0, 100000 };

				log_warn("accept: %s; pausing 100 ms", strerror(errno));
				event_del(srv->accept_ev);
				evtimer_add(srv->retry_ev, &tv);
			} else if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		if (srv->nconns >= srv->limits.max_conns &&
		    server_evict(srv) != 0) {
			static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
			    "Content-Type: application/json\r\nContent-Length: 37\r\n"
			    "Connection: close\r\n\r\n{\"error\":\"too many open connections\"}";
			/* A fresh socket's buffer takes this whole; best effort. */
			if (write(cfd, busy, sizeof busy - 1) == -1)
				log_debug("busy reply: %s", strerror(errno));
			close(cfd);
			continue;
		}
		c = xcalloc(1, sizeof *c);
		c->srv = srv;
		c->idle_since = now_ms();
		if ((c->body = evbuffer_new()) == NULL)
			fatal("evbuffer_new: out of memory");
		c->bev = bufferevent_socket_new(srv->base, cfd, BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL)
			fatal("bufferevent_socket_new: out of memory");
		TAILQ_INSERT_TAIL(&srv->conns, c, entry);
		srv->nconns++;
		bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb,
		    conn_event_cb, c);
		conn_set_timeout(c);
		/* EV_WRITE only while output waits: see conn_flush(). */
		bufferevent_enable(c->bev, EV_READ);
	}
}

static void
server_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;

	(void)fd;
	(void)what;
	if (!srv->paused && event_add(srv->accept_ev, NULL) != 0)
		log_err("event_add: cannot resume accepting");
}

struct server *
server_new(struct event_base *base, int fd, const struct http_limits *limits,
    server_request_cb cb, void *arg)
{
	struct server	*srv;

	srv = xcalloc(1, sizeof *srv);
	srv->base = base;
	srv->fd = fd;
	srv->limits = *limits;
	srv->cb = cb;
	srv->arg = arg;
	srv->paused = 1;
	TAILQ_INIT(&srv->conns);
	srv->accept_ev = event_new(base, fd, EV_READ | EV_PERSIST,
	    server_accept_cb, srv);
	srv->retry_ev = evtimer_new(base, server_retry_cb, srv);
	if (srv->accept_ev == NULL || srv->retry_ev == NULL)
		fatal("event_new: out of memory");
	if (set_nonblock(fd) == -1)
		log_warn("fcntl O_NONBLOCK on listening socket: %s", strerror(errno));
	if (server_resume(srv) != 0)
		fatal("event_add: cannot watch listening socket");
	return srv;
}

/* Stops accepting; established connections keep being served. */
void
server_pause(struct server *srv)
{
	srv->paused = 1;
	event_del(srv->accept_ev);
	event_del(srv->retry_ev);
}

int
server_resume(struct server *srv)
{
	srv->paused = 0;
	return event_add(srv->accept_ev, NULL);
}

/* Closes every connection; the listening socket is the caller's. */
void
server_free(struct server *srv)
{
	struct server_conn	*c;

	if (srv == NULL)
		return;
	while ((c = TAILQ_FIRST(&srv->conns)) != NULL)
		conn_free(c);
	event_free(srv->accept_ev);
	event_free(srv->retry_ev);
	free(srv);
}

void
server_reply(struct server_conn *c, const struct http_request *req, int status,
    const char *content_type, struct evbuffer *body, const char *extra)
{
	int	keep_alive = req->keep_alive && !c->closing;

	http_respond(bufferevent_get_output(c->bev), status, NULL, content_type,
	    body, keep_alive, req->method == HTTP_HEAD, extra);
	if (!keep_alive)
		c->closing = 1;
}

/* An error reply whose status line carries the message (see below). */
void
server_reply_error(struct server_conn *c, const struct http_request *req,
    int status, const char *module, const char *message)
{
	server_reply_failure(c, req, status, module, message, message);
}

/*
 * An error reply: reason (short, for the status line, where Scope shows
 * it) and message (the full text, in the JSON body).
 */
void
server_reply_failure(struct server_conn *c, const struct http_request *req,
    int status, const char *module, const char *reason, const char *message)
{
	int		keep_alive = req->keep_alive && !c->closing;
	const char	*extra = NULL;

	if (status == 405)
		extra = req->route == ROUTE_CONTROL ? "Allow: POST\r\n" :
		    "Allow: GET, HEAD\r\n";
	http_respond_error(bufferevent_get_output(c->bev), status, reason,
	    module, message, keep_alive, req->method == HTTP_HEAD, extra);
	if (!keep_alive)
		c->closing = 1;
}

/*
 * The connection's descriptor when nothing waits to be written on it, else
 * -1: bytes written straight to it (a dying worker's last reply) then
 * arrive whole and after every earlier reply.
 */
int
server_conn_quiet_fd(struct server_conn *c)
{
	if (c->closing ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		return -1;
	return bufferevent_getfd(c->bev);
}
