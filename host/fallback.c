/*
 * fallback.c - while no worker serves a module's socket, the supervisor
 * answers on it: at once, with a 503 that says why.  A silent socket
 * would cost the probe 500 ms of every poll round (docs/ARCHITECTURE.md).
 */
#include <stdint.h>
#include <stdlib.h>

#include "host.h"

static void
fallback_cb(struct server_conn *c, const struct http_request *req,
    struct evbuffer *body, void *arg)
{
	struct modent	*m = arg;
	char		*msg;
	uint64_t	 now = now_ms();

	(void)body;
	switch (m->state) {
	case M_BACKOFF:
		xasprintf(&msg, "module %s is down (%s); restarting in %llu ms",
		    m->id, m->reason != NULL ? m->reason : "crashed",
		    (unsigned long long)(m->retry_at_ms > now ?
		    m->retry_at_ms - now : 0));
		break;
	case M_FAILED:
		xasprintf(&msg, "module %s failed: %s; replace the module file "
		    "or send SIGHUP to retry", m->id,
		    m->reason != NULL ? m->reason : "crashed repeatedly");
		break;
	case M_STOPPING:
		xasprintf(&msg, "module %s is restarting", m->id);
		break;
	default:
		xasprintf(&msg, "module %s is starting", m->id);
		break;
	}
	/* Close after answering so the client reconnects to the worker. */
	server_reply_error(c, &(struct http_request){ .method = req->method,
	    .route = req->route, .keep_alive = 0 }, 503, m->id, msg);
	free(msg);
}

/* Starts (or resumes) answering on m's socket, if it has one. */
void
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

/* Leaves m's socket to its worker. */
void
fallback_off(struct modent *m)
{
	if (m->sock != NULL && m->sock->fallback != NULL)
		server_pause(m->sock->fallback);
}
