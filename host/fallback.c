/*
 * fallback.c - while no worker serves a module's socket, the supervisor
 * answers on it: at once, with a 503 that says why, in the status line
 * (Scope shows it in the plugin's tooltip) and in full in the body; for a
 * refused module on its file's socket (refused.c).  A silent socket
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
	char		*msg, *reason;
	uint64_t	 now = now_ms();

	(void)body;
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
	/* Close after answering so the client reconnects to the worker. */
	server_reply_failure(c, &(struct http_request){ .method = req->method,
	    .route = req->route, .keep_alive = 0 }, 503,
	    m->id[0] != '\0' ? m->id : m->sock != NULL ? m->sock->id : m->name,
	    reason, msg);
	free(reason);
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
