/*
 * serve.c - the worker's event-driven HTTP/1.1 server on the connections
 * the supervisor accepts and passes to it.  A request is answered by the
 * callback at once or later (server_defer(), for coalesced collects);
 * pipelined requests are answered in order.  Each connection's slot in
 * the page shared with the supervisor says whether a request waits for
 * its reply (docs/ARCHITECTURE.md, "Request path").
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
/* ... or this much input: a whole request and more (see conn_process()). */
#define INPUT_HIGH_WATER (HTTP_MAX_HEAD + 4 * HTTP_MAX_BODY)

enum conn_state { CONN_HEAD, CONN_BODY };

struct server_conn {
	struct server		*srv;
	struct bufferevent	*bev;
	enum conn_state		 state;
	int			 closing;	/* close once output drains */
	int			 throttled;	/* reading paused on output */
	int			 waiting;	/* request deferred, no reply yet */
	int			 eof;		/* the client sent all it will */
	struct conn_slot	*slot;		/* shared with the supervisor */
	unsigned		 served;	/* requests answered so far */
	uint64_t		 req_start;	/* first byte of this request */
	uint64_t		 idle_since;	/* accepted or last answered */
	struct http_request	 req;
	struct evbuffer		*body;
	TAILQ_ENTRY(server_conn) entry;
};

struct server {
	struct event_base	*base;
	struct http_limits	 limits;
	server_request_cb	 cb;
	void			*arg;
	uint64_t		*heartbeat;	/* shared: reads so far */
	unsigned		 nconns;
	TAILQ_HEAD(, server_conn) conns;
};

static void
slot_set(struct conn_slot *slot, enum slot_state to)
{
	if (slot != NULL)
		__atomic_store_n(&slot->state, to, __ATOMIC_RELEASE);
}

/* Moves slot from one state to another unless the supervisor took it. */
static int
slot_move(struct conn_slot *slot, enum slot_state from, enum slot_state to)
{
	uint32_t	expect = from;

	if (slot == NULL)
		return 1;
	return __atomic_compare_exchange_n(&slot->state, &expect, to, 0,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

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

/*
 * Closes c.  The supervisor holds a duplicate of every connection, so the
 * client sees the end only through shutdown(2); then the slot says the
 * supervisor may close its duplicate and reuse the slot.
 */
static void
conn_free(struct server_conn *c)
{
	TAILQ_REMOVE(&c->srv->conns, c, entry);
	c->srv->nconns--;
	if (c->slot != NULL)
		shutdown(bufferevent_getfd(c->bev), SHUT_RDWR);
	bufferevent_free(c->bev);
	slot_set(c->slot, SLOT_CLOSED);
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

	/* Owed a reply now, as a whole request would be. */
	if (!slot_move(c->slot, SLOT_IDLE, SLOT_REQUEST))
		slot_move(c->slot, SLOT_REPLYING, SLOT_REQUEST);

	memset(&req, 0, sizeof req);
	req.keep_alive = 0;
	server_reply_error(c, &req, status, NULL, why);
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
}

/* After a reply was queued: ready for the next request; 1: stop reading. */
static int
conn_request_done(struct server_conn *c)
{
	evbuffer_drain(c->body, evbuffer_get_length(c->body));
	c->served++;
	c->req_start = 0;
	c->idle_since = now_ms();
	if (c->slot != NULL)
		c->slot->active_ms = c->idle_since;
	if (!c->req.keep_alive)
		c->closing = 1;
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) >
	    OUTPUT_HIGH_WATER) {
		bufferevent_disable(c->bev, EV_READ);
		c->throttled = 1;
		return 1;
	}
	return c->closing;
}

/* Parses and dispatches as many complete requests as the input holds. */
static void
conn_process(struct server_conn *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	const struct http_limits *l = &c->srv->limits;

	if (c->waiting)
		return;
	while (!c->closing) {
		size_t		 len = evbuffer_get_length(in);
		const char	*why;
		int		 status, r;

		if (len == 0)
			break;
		if (c->req_start == 0) {
			c->req_start = now_ms();
			/* If we die now, the client is owed an answer too. */
			if (c->slot != NULL) {
				c->slot->partial = 1;
				c->slot->active_ms = c->req_start;
			}
		}
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
		/*
		 * A whole request: from now on it is owed a reply, by us or,
		 * past the deadline or if we die, by the supervisor.  Taken:
		 * the supervisor answered already; the connection is over.
		 */
		if (c->slot != NULL) {
			c->slot->req_start_ns = now_ns();
			c->slot->partial = 0;
			if (!slot_move(c->slot, SLOT_IDLE, SLOT_REQUEST) &&
			    !slot_move(c->slot, SLOT_REPLYING, SLOT_REQUEST)) {
				c->closing = 1;
				break;
			}
		}
		c->srv->cb(c, &c->req, c->body, c->srv->arg);
		/* Nothing more is parsed until the reply (pipelining); input
		 * is left to accumulate, up to the watermark, rather than
		 * reading turned off and on again for every request. */
		if (c->waiting)
			return;
		if (conn_request_done(c) != 0)
			break;
	}
	/* Half-closed and no whole request left: answered all, close. */
	if (c->eof && !c->throttled)
		c->closing = 1;
	if (c->closing)
		bufferevent_disable(c->bev, EV_READ);
	else if (!c->throttled)
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
	/* The reply is out whole: a death from here on loses nothing. */
	if (!c->waiting)
		slot_move(c->slot, SLOT_REPLYING, SLOT_IDLE);
	return 0;
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct server_conn	*c = arg;

	(void)bev;
	if (c->srv->heartbeat != NULL)
		(*c->srv->heartbeat)++;
	if (c->slot != NULL)
		c->slot->reads++;
	for (;;) {
		conn_process(c);
		if (conn_flush(c) != 0)
			return;
		/* Output drained at once: a throttled reader may go on. */
		if (!c->throttled ||
		    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
			return;
		c->throttled = 0;
		if (!c->eof)
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
	slot_move(c->slot, SLOT_REPLYING, SLOT_IDLE);
	if (c->throttled) {
		c->throttled = 0;
		if (!c->eof)
			bufferevent_enable(c->bev, EV_READ);
		conn_read_cb(bev, c);
	}
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct server_conn	*c = arg;

	(void)bev;
	if (c->waiting) {
		/* The owner still holds it.  A half-close still gets the
		 * answers to what was asked; else the reply finds it closed. */
		bufferevent_disable(c->bev, EV_READ);
		if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_READING))
			c->eof = 1;
		else {
			bufferevent_disable(c->bev, EV_WRITE);
			c->closing = 1;
		}
		return;
	}
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
 * Serves fd, a connection the supervisor accepted; slot (may be NULL) is
 * its place in the shared page.  Connection limits are the supervisor's.
 */
void
server_adopt(struct server *srv, int fd, struct conn_slot *slot)
{
	struct server_conn	*c;

	if (set_nonblock(fd) == -1)
		log_warn("fcntl O_NONBLOCK on a connection: %s", strerror(errno));
	c = xcalloc(1, sizeof *c);
	c->srv = srv;
	c->slot = slot;
	c->idle_since = now_ms();
	if ((c->body = evbuffer_new()) == NULL)
		fatal("evbuffer_new: out of memory");
	c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		fatal("bufferevent_socket_new: out of memory");
	TAILQ_INSERT_TAIL(&srv->conns, c, entry);
	srv->nconns++;
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	/* What a client may send ahead while its request waits. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, INPUT_HIGH_WATER);
	conn_set_timeout(c);
	/* EV_WRITE only while output waits: see conn_flush(). */
	bufferevent_enable(c->bev, EV_READ);
}

struct server *
server_new(struct event_base *base, const struct http_limits *limits,
    server_request_cb cb, void *arg, uint64_t *heartbeat)
{
	struct server	*srv;

	srv = xcalloc(1, sizeof *srv);
	srv->base = base;
	srv->limits = *limits;
	srv->cb = cb;
	srv->arg = arg;
	srv->heartbeat = heartbeat;
	TAILQ_INIT(&srv->conns);
	return srv;
}

/*
 * Lets go of every connection without ending it: the supervisor holds
 * them and passes them to the next worker (a request left unanswered gets
 * its 503 from the supervisor).
 */
void
server_free(struct server *srv)
{
	struct server_conn	*c;

	if (srv == NULL)
		return;
	while ((c = TAILQ_FIRST(&srv->conns)) != NULL) {
		c->slot = NULL;		/* no shutdown(2), no SLOT_CLOSED */
		conn_free(c);
	}
	free(srv);
}

/* The request callback answers later, with server_complete(). */
void
server_defer(struct server_conn *c)
{
	c->waiting = 1;
}

const struct http_request *
server_request(const struct server_conn *c)
{
	return &c->req;
}

/*
 * Sends the reply queued for a deferred request and goes on reading.
 * Returns -1 if c is gone (closed after its reply, or by its peer).
 */
int
server_complete(struct server_conn *c)
{
	c->waiting = 0;
	if (c->closing && evbuffer_get_length(bufferevent_get_output(c->bev))
	    == 0) {
		conn_free(c);
		return -1;
	}
	conn_request_done(c);
	if (conn_flush(c) != 0)
		return -1;
	/* Output drained at once: a throttled reader may go on. */
	if (c->throttled &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		c->throttled = 0;
	if (!c->closing && !c->throttled) {
		if (!c->eof)
			bufferevent_enable(c->bev, EV_READ);
		if (c->eof ||
		    evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
			conn_read_cb(c->bev, c);
			return 0;
		}
		conn_set_timeout(c);
	}
	return 0;
}

/*
 * Whether c may answer: its request was not taken by the supervisor (past
 * the deadline).  If it was, c closes without a word.
 */
static int
conn_may_reply(struct server_conn *c)
{
	if (slot_move(c->slot, SLOT_REQUEST, SLOT_REPLYING)) {
		if (c->slot != NULL)
			c->slot->replies++;
		return 1;
	}
	c->closing = 1;
	return 0;
}

void
server_reply(struct server_conn *c, const struct http_request *req, int status,
    const char *content_type, struct evbuffer *body, const char *extra)
{
	int	keep_alive = req->keep_alive && !c->closing;

	if (!conn_may_reply(c))
		return;
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

	if (!conn_may_reply(c))
		return;
	if (status == 405)
		extra = req->route == ROUTE_CONTROL ? "Allow: POST\r\n" :
		    "Allow: GET, HEAD\r\n";
	http_respond_error(bufferevent_get_output(c->bev), status, reason,
	    module, message, keep_alive, req->method == HTTP_HEAD, extra);
	if (!keep_alive)
		c->closing = 1;
}

