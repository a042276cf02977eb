/*
 * worker.c - one module, one process: take the settings the supervisor
 * sends, load the module, say hello, receive its settings, then serve
 * HTTP on the connections the supervisor passes until told to stop.
 * Everything that can crash or hang (module code) runs here, never in the
 * supervisor.
 */
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/timerfd.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"
#include "sph-host.h"

/* Log the same fault at most this often (a failing module is polled every second). */
#define FAULT_LOG_INTERVAL_MS 60000

struct worker {
	struct worker_settings	 ws;
	struct module_settings	 ms;
	struct msg_identity	 ident;		/* what to serve as */
	struct msg_param	*params;	/* this module's, from MSG_PARAM */
	size_t			 nparams;
	struct module		 mod;
	struct sph_host		 host;
	char			 probe_id[HTTP_QUERY_MAX];
	struct reporter		*reporter;
	struct worker_stats	*stats;
	struct worker_stats	 local_stats;	/* when no shared page */
	size_t			 stats_size;	/* mapped */
	struct event_base	*base;
	struct server		*server;
	struct evbuffer		*body;

	/*
	 * Coalesced collects (docs/ARCHITECTURE.md, "Request path"): the
	 * report requests read before a collect starts wait in this list
	 * and are all answered by it; collect_ev runs it once the requests
	 * read in this round of the event loop are in.
	 */
	struct server_conn	**waiting;
	size_t			 nwaiting, waiting_cap;
	struct event		*collect_ev;
	int			 per_request;	/* the module opted out */
	int			 adopted;	/* connections came this round */
	struct event		*watchdog_ev;	/* interval collect's deadline,
						 * without a busy alarm */

	/*
	 * The busy alarm (fallback.c): armed while module code runs, from
	 * the loop or the collector thread (alarm_lock), so that a collect
	 * past BUSY_ALARM_MS wakes the supervisor and a quick one does not.
	 */
	int			 alarm_fd;	/* -1: none */
	unsigned		 busy;		/* module calls running */
	long			 rss_alarmed_kb;	/* peak reported */
	pthread_mutex_t		 alarm_lock;

	/*
	 * Interval mode: a collector thread refreshes the cache so that a
	 * slow collect never delays a reply.  module_lock keeps module
	 * callbacks (collect, control) from ever running concurrently;
	 * cache_lock guards cache, cache_fault and cache_reason.
	 */
	struct evbuffer		*cache;
	char			*cache_fault;
	char			*cache_reason;	/* its status-line form */
	pthread_t		 collector;
	int			 collector_running;
	int			 stopping;
	pthread_mutex_t		 module_lock;
	pthread_mutex_t		 cache_lock;
	pthread_cond_t		 stop_cond;

	char			*last_fault;
	uint64_t		 last_fault_log;
	uint64_t		 last_slow_log;

	/*
	 * The module's last error line (sph_log at SPH_LOG_ERR or worse)
	 * since the current collect or init began: the reason a failure
	 * gives.  A module may log from threads of its own: log_lock.
	 */
	pthread_mutex_t		 log_lock;
	char			 err_line[1024];
};

static void
host_log_cb(void *ctx, int level, const char *line)
{
	struct worker	*w = ctx;

	if (level < 0)
		level = 0;
	if (level > 7)
		level = 7;
	log_msg(level, "%s", line);
	if (level <= SPH_LOG_ERR && line[0] != '\0') {
		pthread_mutex_lock(&w->log_lock);
		snprintf(w->err_line, sizeof w->err_line, "%s", line);
		pthread_mutex_unlock(&w->log_lock);
	}
}

/* The module's error line logged since the last call, or NULL; forgets it. */
static char *
worker_take_error_line(struct worker *w)
{
	char	*line = NULL;

	pthread_mutex_lock(&w->log_lock);
	if (w->err_line[0] != '\0')
		line = xstrdup(w->err_line);
	w->err_line[0] = '\0';
	pthread_mutex_unlock(&w->log_lock);
	return line;
}

static const char *
host_param_cb(void *ctx, const char *key)
{
	struct worker	*w = ctx;
	size_t		 i;

	for (i = 0; i < w->nparams; i++)
		if (strcmp(w->params[i].key, key) == 0)
			return w->params[i].value;
	return NULL;
}

static int
host_param_at_cb(void *ctx, size_t index, const char **key,
    const char **value)
{
	struct worker	*w = ctx;

	if (index >= w->nparams)
		return -1;
	*key = w->params[index].key;
	*value = w->params[index].value;
	return 0;
}

/*
 * Logs a fault once per interval unless it changed; the supervisor sees
 * every one (the last error in `status`).
 */
static void
worker_fault(struct worker *w, const char *what, const char *cause)
{
	uint64_t	now = now_ms();

	stats_set_error(w->stats, cause);
	if (w->last_fault != NULL && strcmp(w->last_fault, cause) == 0 &&
	    now - w->last_fault_log < FAULT_LOG_INTERVAL_MS)
		return;
	log_warn("%s: %s", what, cause);
	free(w->last_fault);
	w->last_fault = xstrdup(cause);
	w->last_fault_log = now;
}

/* Sets the busy alarm to go off in ns nanoseconds; 0 disarms it. */
static void
alarm_set(struct worker *w, uint64_t ns)
{
	struct itimerspec	its;

	if (w->alarm_fd == -1)
		return;
	memset(&its, 0, sizeof its);
	its.it_value.tv_sec = (time_t)(ns / 1000000000);
	its.it_value.tv_nsec = (long)(ns % 1000000000);
	/* Without it the supervisor would not see a stuck collect. */
	if (timerfd_settime(w->alarm_fd, 0, &its, NULL) != 0)
		fatal("busy alarm: %s", strerror(errno));
}

/* BUSY_ALARM_MS, or a quarter of a short reply deadline, in ns. */
static uint64_t
alarm_after_ns(const struct worker *w)
{
	uint64_t	ms = w->ms.reply_ms / 4;

	if (ms > BUSY_ALARM_MS)
		ms = BUSY_ALARM_MS;
	return (ms > 0 ? ms : 1) * 1000000;
}

/*
 * Module code is about to run (a collect or control): the alarm goes off
 * if it is still running BUSY_ALARM_MS from now, and the supervisor
 * watches the requests waiting for it from then on.
 */
static void
worker_busy(struct worker *w)
{
	pthread_mutex_lock(&w->alarm_lock);
	if (w->busy++ == 0)
		alarm_set(w, alarm_after_ns(w));
	pthread_mutex_unlock(&w->alarm_lock);
}

/*
 * Module code ended: disarm the alarm, or sound it at once if the peak
 * resident size passed the memory limit since it last did (the
 * supervisor measures and decides, health.c).
 */
static void
worker_idle(struct worker *w)
{
	struct rusage	ru;
	uint32_t	limit;
	int		sound = 0;

	/* No alarm (--check): nobody to tell. */
	limit = w->alarm_fd == -1 ? 0 :
	    __atomic_load_n(&w->stats->rss_limit_mb, __ATOMIC_RELAXED);
	pthread_mutex_lock(&w->alarm_lock);
	if (limit != 0 && getrusage(RUSAGE_SELF, &ru) == 0 &&
	    ru.ru_maxrss > (long)limit * 1024 &&
	    ru.ru_maxrss > w->rss_alarmed_kb) {
		w->rss_alarmed_kb = ru.ru_maxrss;
		sound = 1;
	}
	if (--w->busy == 0)
		alarm_set(w, sound);
	else
		/* The other thread's code runs on: timed from now, as the
		 * supervisor may have stopped watching since it went off. */
		alarm_set(w, sound ? 1 : alarm_after_ns(w));
	pthread_mutex_unlock(&w->alarm_lock);
}

/*
 * Runs collect into out; warns when over the soft budget.  On failure
 * *cause is the full text and, if reason is not NULL, *reason the short
 * one for the status line: the module's own error line when it logged
 * one (the contract: log why, return -1), else the host's finding.
 */
static int
worker_collect(struct worker *w, struct evbuffer *out, char **cause,
    char **reason)
{
	char		*line;
	uint64_t	 us;
	int		 rc;

	/* Callers hold module_lock whenever a collector thread exists. */
	free(worker_take_error_line(w));
	rc = reporter_build(w->reporter, out, cause);
	if (rc != 0) {
		if ((line = worker_take_error_line(w)) != NULL) {
			char	*full;

			xasprintf(&full, "%s (%s)", line, *cause);
			free(*cause);
			*cause = full;
		}
		if (reason != NULL)
			*reason = line != NULL ? line : xstrdup(*cause);
		else
			free(line);
	}
	us = reporter_last_us(w->reporter);
	if (w->ms.budget_ms > 0 && us > (uint64_t)w->ms.budget_ms * 1000 &&
	    now_ms() - w->last_slow_log >= FAULT_LOG_INTERVAL_MS) {
		log_warn("collect took %llu ms, over the %u ms budget (Scope "
		    "allows 500 ms for every plugin in turn)%s",
		    (unsigned long long)(us / 1000), w->ms.budget_ms,
		    w->ms.interval_ms == 0 ? "; consider an interval" : "");
		w->last_slow_log = now_ms();
	}
	return rc;
}

static void
worker_refresh_cache(struct worker *w)
{
	struct evbuffer	*fresh, *old;
	char		*cause = NULL, *reason = NULL;
	int		 rc;

	if ((fresh = evbuffer_new()) == NULL)
		fatal("evbuffer_new: out of memory");
	pthread_mutex_lock(&w->module_lock);
	worker_busy(w);
	rc = worker_collect(w, fresh, &cause, &reason);
	worker_idle(w);
	if (rc != 0) {
		/* Under module_lock: a control's refresh may fault too. */
		worker_fault(w, "collect", cause);
		/* Serve the fault rather than an ever older report. */
		evbuffer_drain(fresh, evbuffer_get_length(fresh));
	}
	pthread_mutex_unlock(&w->module_lock);
	pthread_mutex_lock(&w->cache_lock);
	old = w->cache;
	w->cache = fresh;
	free(w->cache_fault);
	w->cache_fault = cause;
	free(w->cache_reason);
	w->cache_reason = reason;
	pthread_mutex_unlock(&w->cache_lock);
	evbuffer_free(old);
}

static void *
collector_main(void *arg)
{
	struct worker	*w = arg;
	struct timespec	 next;

	clock_gettime(CLOCK_MONOTONIC, &next);
	pthread_mutex_lock(&w->cache_lock);
	while (!w->stopping) {
		next.tv_sec += w->ms.interval_ms / 1000;
		next.tv_nsec += (long)(w->ms.interval_ms % 1000) * 1000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000;
		}
		while (!w->stopping &&
		    pthread_cond_timedwait(&w->stop_cond, &w->cache_lock,
		    &next) != ETIMEDOUT)
			;
		if (w->stopping)
			break;
		pthread_mutex_unlock(&w->cache_lock);
		worker_refresh_cache(w);
		pthread_mutex_lock(&w->cache_lock);
	}
	pthread_mutex_unlock(&w->cache_lock);
	return NULL;
}

static void
collector_start(struct worker *w)
{
	pthread_condattr_t	attr;
	int			e;

	if ((e = pthread_condattr_init(&attr)) != 0 ||
	    (e = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)) != 0 ||
	    (e = pthread_cond_init(&w->stop_cond, &attr)) != 0)
		fatal("pthread_cond_init: %s", strerror(e));
	pthread_condattr_destroy(&attr);
	if ((e = pthread_create(&w->collector, NULL, collector_main, w)) != 0)
		fatal("pthread_create: %s", strerror(e));
	w->collector_running = 1;
}

static void
collector_stop(struct worker *w)
{
	if (!w->collector_running)
		return;
	pthread_mutex_lock(&w->cache_lock);
	w->stopping = 1;
	pthread_cond_signal(&w->stop_cond);
	pthread_mutex_unlock(&w->cache_lock);
	pthread_join(w->collector, NULL);
	pthread_cond_destroy(&w->stop_cond);
	w->collector_running = 0;
}

/* 500 for a failed collect: the reason in the status line, all in the body. */
static void
reply_fault(struct worker *w, struct server_conn *c,
    const struct http_request *req, char *reason, char *cause)
{
	char	*msg;

	w->stats->errors++;
	xasprintf(&msg, "module %s: %s", w->mod.id, cause);
	server_reply_failure(c, req, 500, w->mod.id, reason, msg);
	free(msg);
	free(reason);
	free(cause);
}

/*
 * One report sent to several clients without a copy: the collect's buffer,
 * referenced by every reply, freed with its last reference.
 */
struct shared_report {
	size_t		 refs;
	struct evbuffer	*buf;
};

static void
shared_report_unref(const void *data, size_t len, void *arg)
{
	struct shared_report	*r = arg;

	(void)data;
	(void)len;
	if (--r->refs == 0) {
		evbuffer_free(r->buf);
		free(r);
	}
}

/* Appends a reference to every byte of r's buffer to out. */
static void
shared_report_add(struct evbuffer *out, struct shared_report *r,
    struct evbuffer_iovec *vec, int nvec)
{
	int	i;

	for (i = 0; i < nvec; i++) {
		r->refs++;
		if (evbuffer_add_reference(out, vec[i].iov_base, vec[i].iov_len,
		    shared_report_unref, r) != 0)
			fatal("evbuffer_add_reference: out of memory");
	}
}

/*
 * Answers the requests waiting now with one collect (one each for a
 * module that opted out): requests read while it runs wait for the next.
 * Several replies share one copy of the report.
 */
static void
collect_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker		 *w = arg;
	struct server_conn	**batch;
	struct shared_report	 *shared = NULL;
	struct evbuffer_iovec	 *vec = NULL;
	struct evbuffer		 *body;
	char			 *cause = NULL, *reason = NULL;
	size_t			  i, n;
	int			  rc, nvec = 0;

	(void)fd;
	(void)what;
	if (w->nwaiting == 0)
		return;
	if (w->adopted) {
		/* Requests may wait on connections just taken over: one more
		 * round of the loop reads them (timers run after I/O). */
		static const struct timeval now = { 0, 0 };

		w->adopted = 0;
		if (evtimer_add(w->collect_ev, &now) == 0)
			return;
	}
	n = w->per_request ? 1 : w->nwaiting;
	batch = xmalloc(n * sizeof *batch);
	memcpy(batch, w->waiting, n * sizeof *batch);
	memmove(w->waiting, w->waiting + n, (w->nwaiting - n) * sizeof *batch);
	w->nwaiting -= n;

	evbuffer_drain(w->body, evbuffer_get_length(w->body));
	worker_busy(w);
	if ((rc = worker_collect(w, w->body, &cause, &reason)) != 0)
		worker_fault(w, "collect", cause);
	if (rc == 0 && n > 1) {
		/* The buffer goes to the replies; the next collect gets a new
		 * one.  We hold a reference until every reply has its own. */
		shared = xmalloc(sizeof *shared);
		shared->refs = 1;
		shared->buf = w->body;
		if ((w->body = evbuffer_new()) == NULL)
			fatal("evbuffer_new: out of memory");
		/* One piece: a few references, not one per small chain of
		 * the framer's (which would fragment the heap). */
		if (evbuffer_pullup(shared->buf, -1) == NULL &&
		    evbuffer_get_length(shared->buf) > 0)
			fatal("evbuffer_pullup: out of memory");
		nvec = evbuffer_peek(shared->buf, -1, NULL, NULL, 0);
		vec = xcalloc((size_t)nvec + 1, sizeof *vec);
		evbuffer_peek(shared->buf, -1, NULL, vec, nvec);
	}
	if ((body = evbuffer_new()) == NULL)
		fatal("evbuffer_new: out of memory");
	for (i = 0; i < n; i++) {
		if (rc != 0)
			reply_fault(w, batch[i], server_request(batch[i]),
			    xstrdup(reason), xstrdup(cause));
		else if (shared == NULL)
			server_reply(batch[i], server_request(batch[i]), 200,
			    "application/json", w->body, NULL);
		else {
			shared_report_add(body, shared, vec, nvec);
			server_reply(batch[i], server_request(batch[i]), 200,
			    "application/json", body, NULL);
			/* Not sent (the supervisor answered): let go of it. */
			evbuffer_drain(body, evbuffer_get_length(body));
		}
	}
	if (shared != NULL)
		shared_report_unref(NULL, 0, shared);
	free(vec);
	/* Only now: sending may read the next request, which uses w->body. */
	for (i = 0; i < n; i++)
		server_complete(batch[i]);
	evbuffer_free(body);
	free(reason);
	free(cause);
	free(batch);
	worker_idle(w);
	if (w->nwaiting > 0)
		event_active(w->collect_ev, EV_TIMEOUT, 1);
}

/* A report request waits for the next collect (collect_cb). */
static void
report_wait(struct worker *w, struct server_conn *c)
{
	if (w->nwaiting == w->waiting_cap) {
		w->waiting_cap = w->waiting_cap == 0 ? 16 : 2 * w->waiting_cap;
		w->waiting = xrealloc(w->waiting, w->waiting_cap *
		    sizeof *w->waiting);
	}
	w->waiting[w->nwaiting++] = c;
	server_defer(c);
	/*
	 * Active events run in order: the collect comes after the other
	 * connections found readable in this round of the loop.
	 */
	if (w->nwaiting == 1)
		event_active(w->collect_ev, EV_TIMEOUT, 1);
}

static void
serve_report(struct worker *w, struct server_conn *c,
    const struct http_request *req)
{
	char	*cause = NULL, *reason = NULL;

	if (w->ms.interval_ms > 0) {
		size_t	len;

		pthread_mutex_lock(&w->cache_lock);
		if ((len = evbuffer_get_length(w->cache)) > 0) {
			if (evbuffer_add(w->body, evbuffer_pullup(w->cache, -1),
			    len) != 0)
				fatal("evbuffer_add: out of memory");
		} else {
			cause = xstrdup(w->cache_fault != NULL ?
			    w->cache_fault : "no report collected yet");
			reason = xstrdup(w->cache_reason != NULL ?
			    w->cache_reason : cause);
		}
		pthread_mutex_unlock(&w->cache_lock);
		if (len > 0) {
			server_reply(c, req, 200, "application/json", w->body, NULL);
			return;
		}
	} else {
		report_wait(w, c);
		return;
	}
	reply_fault(w, c, req, reason, cause);
}

/*
 * Takes module_lock, waiting for a background collect at most the reply
 * deadline: a control must not outwait the probe.  Returns 0 or -1.
 */
static int
module_lock_timed(struct worker *w)
{
	struct timespec	ts;
	uint64_t	ns;

	if (!w->collector_running) {
		pthread_mutex_lock(&w->module_lock);
		return 0;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	ns = (uint64_t)ts.tv_nsec + (uint64_t)w->ms.reply_ms * 1000000 * 3 / 4;
	ts.tv_sec += (time_t)(ns / 1000000000);
	ts.tv_nsec = (long)(ns % 1000000000);
	return pthread_mutex_timedlock(&w->module_lock, &ts) == 0 ? 0 : -1;
}

static void
serve_control(struct worker *w, struct server_conn *c,
    const struct http_request *req, struct evbuffer *reqbody)
{
	struct control_request	*cr;
	char			 errbuf[512];
	char			*cause = NULL, *reason = NULL, *msg;
	size_t			 len = evbuffer_get_length(reqbody);
	const char		*data;
	int			 rc;

	data = len > 0 ? (const char *)evbuffer_pullup(reqbody, -1) : "";
	if (control_parse(data, len, &cr, &cause) != 0) {
		xasprintf(&msg, "malformed control request: %s", cause);
		server_reply_error(c, req, 400, w->mod.id, msg);
		free(msg);
		free(cause);
		w->stats->errors++;
		return;
	}
	errbuf[0] = '\0';
	if (module_lock_timed(w) != 0) {
		control_free(cr);
		server_reply_error(c, req, 503, w->mod.id, "busy: a collect is "
		    "still running; try again");
		w->stats->errors++;
		return;
	}
	__atomic_store_n(&w->stats->collect_start_ns, now_ns(), __ATOMIC_RELEASE);
	rc = w->mod.control(w->mod.state, control_get(cr), errbuf, sizeof errbuf);
	__atomic_store_n(&w->stats->collect_start_ns, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&w->module_lock);
	errbuf[sizeof errbuf - 1] = '\0';
	log_info("control %s on node %s: %s", control_get(cr)->control,
	    control_get(cr)->node_id, rc == SPH_CONTROL_ERROR ? errbuf :
	    rc == SPH_CONTROL_REFRESH ? "done, refreshing" : "done");
	control_free(cr);

	if (rc == SPH_CONTROL_ERROR) {
		/* Scope shows this text to the user; status must be 200. */
		if (errbuf[0] == '\0')
			snprintf(errbuf, sizeof errbuf, "control failed");
		evbuffer_add(w->body, "{\"error\":\"", 10);
		json_escape(w->body, errbuf, strlen(errbuf));
		evbuffer_add(w->body, "\"}", 2);
	} else if (rc == SPH_CONTROL_REFRESH) {
		struct evbuffer	*report;

		if ((report = evbuffer_new()) == NULL)
			fatal("evbuffer_new: out of memory");
		pthread_mutex_lock(&w->module_lock);
		rc = worker_collect(w, report, &cause, &reason);
		if (rc != 0)
			worker_fault(w, "collect after control", cause);
		pthread_mutex_unlock(&w->module_lock);
		if (rc != 0) {
			evbuffer_free(report);
			reply_fault(w, c, req, reason, cause);
			return;
		}
		if (w->ms.interval_ms > 0) {
			/* The UI should not flip back to the old state. */
			pthread_mutex_lock(&w->cache_lock);
			evbuffer_drain(w->cache, evbuffer_get_length(w->cache));
			evbuffer_add(w->cache, evbuffer_pullup(report, -1),
			    evbuffer_get_length(report));
			free(w->cache_fault);
			w->cache_fault = NULL;
			free(w->cache_reason);
			w->cache_reason = NULL;
			pthread_mutex_unlock(&w->cache_lock);
		}
		evbuffer_add(w->body, "{\"shortcutReport\":", 18);
		evbuffer_add_buffer(w->body, report);
		evbuffer_add(w->body, "}", 1);
		evbuffer_free(report);
	} else
		evbuffer_add(w->body, "{}", 2);
	server_reply(c, req, 200, "application/json", w->body, NULL);
}

static void
worker_request_cb(struct server_conn *c, const struct http_request *req,
    struct evbuffer *reqbody, void *arg)
{
	struct worker	*w = arg;

	w->stats->requests++;
	if (req->probe_id[0] != '\0' && strcmp(req->probe_id, w->probe_id) != 0)
		memcpy(w->probe_id, req->probe_id, sizeof w->probe_id);
	evbuffer_drain(w->body, evbuffer_get_length(w->body));

	switch (req->route) {
	case ROUTE_REPORT:
		if (req->method == HTTP_GET || req->method == HTTP_HEAD)
			serve_report(w, c, req);
		else
			server_reply_error(c, req, 405, w->mod.id,
			    "method not allowed: /report takes GET");
		return;
	case ROUTE_CONTROL:
		if (w->mod.control == NULL)
			break;
		if (req->method == HTTP_POST) {
			/* Waiting for a background collect counts too. */
			worker_busy(w);
			serve_control(w, c, req, reqbody);
			worker_idle(w);
		} else
			server_reply_error(c, req, 405, w->mod.id,
			    "method not allowed: /control takes POST");
		return;
	case ROUTE_OTHER:
		break;
	}
	server_reply_error(c, req, 404, w->mod.id, "not found: this plugin "
	    "serves GET /report" );
}

static void
worker_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct worker	*w = arg;

	(void)what;
	log_debug("signal %d: stopping", (int)sig);
	event_base_loopbreak(w->base);
}

/*
 * Connections from the supervisor, or its going away.  All that are
 * queued are taken at once, so that their requests are read in one round
 * of the loop and share one collect.
 */
static void
worker_channel_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;
	struct msg	 m;
	int		 r, i;

	(void)what;
	for (i = 0; i < 256; i++) {
		if ((r = channel_recv(fd, &m)) != 1)
			break;
		if (m.hdr.type == MSG_CONN && m.fd >= 0) {
			server_adopt(w->server, m.fd,
			    m.u.conn.slot < w->stats->nslots &&
			    w->stats != &w->local_stats ?
			    &w->stats->slots[m.u.conn.slot] : NULL);
			w->adopted = 1;
		} else if (m.fd >= 0)
			close(m.fd);
	}
	if (r == 1 || (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EBADMSG)))
		return;
	/* The supervisor is gone: a worker never outlives it. */
	log_info("supervisor gone: stopping");
	event_base_loopbreak(w->base);
}

/*
 * Interval mode without a busy alarm: a background collect past its
 * deadline cannot be cancelled; the worker ends itself so that the
 * supervisor restarts it (nobody waits for that collect, and no alarm
 * wakes the supervisor for it).
 */
static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;
	uint64_t	 start, now = now_ns();

	(void)fd;
	(void)what;
	start = __atomic_load_n(&w->stats->collect_start_ns, __ATOMIC_ACQUIRE);
	if (start == 0 || now < start ||
	    now - start < (uint64_t)w->ms.deadline_ms * 1000000)
		return;
	snprintf(w->stats->exit_reason, sizeof w->stats->exit_reason,
	    "collect did not finish within %u ms (deadline)",
	    w->ms.deadline_ms);
	log_err("%s", w->stats->exit_reason);
	_exit(WORKER_EXIT_DEADLINE);
}

/* The supervisor logs the refusal (one line); we only log if it cannot. */
static noreturn void
refuse(const char *reason)
{
	if (channel_refuse(WORKER_CHANNEL_FD, reason) != 0)
		log_err("refused: %s", reason);
	exit(WORKER_EXIT_REFUSED);
}

/* The next message from the supervisor, of a type we wait for. */
static void
worker_expect(struct msg *m, const char *what)
{
	int	r;

	if ((r = channel_recv(WORKER_CHANNEL_FD, m)) != 1)
		fatal("channel: no %s from the supervisor: %s", what, r == 0 ?
		    "it closed the channel" : strerror(errno));
	if (m->hdr.type == MSG_REFUSE) {
		/* Disabled (or instances only) is the supervisor's to
		 * report, and no error. */
		if (!channel_refusal_quiet(m->u.refuse.reason))
			log_err("refused: %s", m->u.refuse.reason);
		exit(WORKER_EXIT_REFUSED);
	}
}

/*
 * The module's settings: what to serve as, its parameters, then
 * MSG_MODULE.  An instance takes its id, label and description from the
 * identity: the Plugins entry, the log and sph_module_id() all use them.
 */
static void
worker_settings(struct worker *w)
{
	struct msg	m;
	char		prefix[128];

	worker_expect(&m, "identity");
	if (m.hdr.type != MSG_IDENTITY)
		fatal("channel: unexpected message %u instead of the identity",
		    m.hdr.type);
	w->ident = m.u.identity;
	snprintf(w->mod.id, sizeof w->mod.id, "%s", w->ident.id);
	w->mod.label = w->ident.label;
	w->mod.description = w->ident.description;
	snprintf(prefix, sizeof prefix, "module %s", w->mod.id);
	log_set_prefix(prefix);
	for (;;) {
		worker_expect(&m, "settings");
		if (m.hdr.type == MSG_MODULE)
			break;
		if (m.hdr.type != MSG_PARAM)
			fatal("channel: unexpected message %u before the "
			    "settings", m.hdr.type);
		w->params = xrealloc(w->params, (w->nparams + 1) *
		    sizeof *w->params);
		w->params[w->nparams++] = m.u.param;
	}
	w->ms = m.u.module;
}

/* HELLO: who the module is; text that does not fit is a refusal. */
static void
worker_hello(struct worker *w)
{
	struct msg_hello	 h;
	char			*why;

	memset(&h, 0, sizeof h);
	if (channel_text(h.id, sizeof h.id, w->mod.id) != 0 ||
	    channel_text(h.label, sizeof h.label, w->mod.label) != 0 ||
	    channel_text(h.description, sizeof h.description,
	    w->mod.description) != 0) {
		xasprintf(&why, "label longer than %d or description longer "
		    "than %d bytes", MSG_LABEL_MAX - 1, MSG_TEXT_MAX - 1);
		refuse(why);
	}
	h.interval_ms = w->mod.interval_ms;
	h.controller = w->mod.control != NULL;
	h.instances_only = w->mod.instances_only;
	if (channel_send(WORKER_CHANNEL_FD, MSG_HELLO, &h, sizeof h, -1) != 0)
		fatal("channel: hello: %s", strerror(errno));
}

/* --check: one collect, validated as the probe would, verdict to the supervisor. */
static int
worker_check(struct worker *w)
{
	struct msg_check verdict;
	struct evbuffer	*out;
	char		*cause = NULL, *detail, *warnings = NULL;
	uint64_t	 us;
	size_t		 len;
	int		 ok;

	if ((out = evbuffer_new()) == NULL)
		fatal("evbuffer_new: out of memory");
	if (worker_collect(w, out, &cause, NULL) != 0)
		ok = 0;
	else {
		len = evbuffer_get_length(out);
		ok = validate_report_warn((const char *)evbuffer_pullup(out,
		    -1), len, w->mod.id, w->mod.control != NULL, &cause,
		    &warnings) == 0;
	}
	us = reporter_last_us(w->reporter);
	if (ok)
		xasprintf(&detail, "\"%s\" %s, report %zu bytes, collect "
		    "%llu.%03llu ms%s%s", w->mod.label, w->mod.control != NULL ?
		    "reporter+controller" : "reporter", evbuffer_get_length(out),
		    (unsigned long long)(us / 1000), (unsigned long long)(us % 1000),
		    warnings != NULL ? "; warning: " : "",
		    warnings != NULL ? warnings : "");
	else
		detail = xstrdup(cause);
	memset(&verdict, 0, sizeof verdict);
	verdict.ok = ok;
	if (channel_text(verdict.id, sizeof verdict.id, w->mod.id) != 0 ||
	    channel_text(verdict.detail, sizeof verdict.detail, detail) != 0) {
		/* Whole, in our log, rather than cut short in the verdict. */
		log_err("%s", detail);
		snprintf(verdict.detail, sizeof verdict.detail, "%s; the detail "
		    "is longer than %d bytes: logged above", ok ? "ok" :
		    "failed", MSG_TEXT_MAX - 1);
	}
	if (channel_send(WORKER_CHANNEL_FD, MSG_CHECK, &verdict,
	    sizeof verdict, -1) != 0)
		log_err("channel: verdict: %s", strerror(errno));
	free(detail);
	free(cause);
	free(warnings);
	evbuffer_free(out);
	module_unload(&w->mod);
	free(w->params);
	return ok ? 0 : 1;
}

/* The page shared with the supervisor, sized by it before MSG_MODULE. */
static void
stats_map(struct worker *w)
{
	struct stat	 st;
	void		*p = MAP_FAILED;

	if (fstat(WORKER_STATS_FD, &st) == 0 &&
	    (size_t)st.st_size >= sizeof(struct worker_stats))
		p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
		    MAP_SHARED, WORKER_STATS_FD, 0);
	if (p == MAP_FAILED) {
		log_debug("no shared stats page: %s", strerror(errno));
		w->stats = &w->local_stats;
	} else {
		w->stats = p;
		w->stats_size = (size_t)st.st_size;
		/* The supervisor's count, bounded by what we mapped. */
		if (STATS_SIZE(w->stats->nslots) > w->stats_size)
			w->stats->nslots = 0;
	}
	close(WORKER_STATS_FD);
}

int
worker_main(const char *path)
{
	struct worker	 w;
	struct msg	 m;
	struct event	*sigterm, *sigint, *chan_ev;
	struct http_limits limits;
	char		*cause = NULL, prefix[128];
	const char	*base;
	int		 check;

	memset(&w, 0, sizeof w);
	/* First, how to log and whether this is --check. */
	worker_expect(&m, "settings");
	if (m.hdr.type != MSG_WORKER)
		fatal("channel: unexpected message %u instead of the settings",
		    m.hdr.type);
	w.ws = m.u.worker;
	check = w.ws.check_mode;
	log_open(HOST_NAME, w.ws.use_syslog, w.ws.log_level);
	if (w.ws.log_pipe)
		log_to_pipe(WORKER_LOG_FD);
	pthread_mutex_init(&w.module_lock, NULL);
	pthread_mutex_init(&w.cache_lock, NULL);
	pthread_mutex_init(&w.log_lock, NULL);
	pthread_mutex_init(&w.alarm_lock, NULL);
	/* Not there under --check (spawn.c). */
	w.alarm_fd = fcntl(WORKER_ALARM_FD, F_SETFD, FD_CLOEXEC) == 0 ?
	    WORKER_ALARM_FD : -1;
	base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
	snprintf(prefix, sizeof prefix, "module %s", base);
	log_set_prefix(prefix);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fatal("signal SIGPIPE: %s", strerror(errno));
	yajl_wrap_init();

	if (module_load(path, &w.mod, &cause) != 0)
		refuse(cause);
	snprintf(prefix, sizeof prefix, "module %s", w.mod.id);
	log_set_prefix(prefix);
	worker_hello(&w);
	worker_settings(&w);
	stats_map(&w);
	w.per_request = w.mod.per_request;
#ifdef M_MMAP_THRESHOLD
	/*
	 * A fixed threshold: a big report's buffer is mapped and given back
	 * when sent, instead of glibc raising the threshold after the first
	 * one and keeping every later one in the heap (resident for good).
	 */
	if (mallopt(M_MMAP_THRESHOLD, 256 * 1024) != 1)
		log_debug("mallopt M_MMAP_THRESHOLD failed");
#endif

	w.host.id = w.mod.id;
	w.host.log = host_log_cb;
	w.host.param = host_param_cb;
	w.host.param_at = host_param_at_cb;
	w.host.deadline_ms = w.ms.deadline_ms;
	w.host.probe_id = w.probe_id;
	w.host.ctx = &w;
	free(worker_take_error_line(&w));
	if (module_init(&w.mod, &w.host, &cause) != 0) {
		char	*line = worker_take_error_line(&w);

		w.mod.host = NULL;	/* no fini after a failed init */
		if (line != NULL) {
			/* What the module logged is the reason worth showing. */
			free(cause);
			xasprintf(&cause, "init failed: %s", line);
			free(line);
		}
		refuse(cause);
	}
	w.reporter = reporter_new(&w.mod, w.stats);
	if (check)
		return worker_check(&w);

	if ((w.base = event_base_new()) == NULL ||
	    (w.body = evbuffer_new()) == NULL ||
	    (w.cache = evbuffer_new()) == NULL ||
	    (w.collect_ev = event_new(w.base, -1, 0, collect_cb, &w)) == NULL)
		fatal("libevent: out of memory");
	if (w.ms.interval_ms > 0) {
		/* The first report is ready before we say READY. */
		worker_refresh_cache(&w);
		collector_start(&w);
	}
	if (w.ms.interval_ms > 0 && w.alarm_fd == -1) {
		struct timeval	tv;

		/* Else the alarm wakes the supervisor, which kills it. */
		tv.tv_sec = w.ms.deadline_ms / 1000;
		tv.tv_usec = (suseconds_t)(w.ms.deadline_ms % 1000) * 1000;
		if ((w.watchdog_ev = event_new(w.base, -1, EV_PERSIST,
		    watchdog_cb, &w)) == NULL ||
		    event_add(w.watchdog_ev, &tv) != 0)
			fatal("libevent: cannot install the collect watchdog");
	}
	server_limits_init(&limits, w.ms.max_conns, w.ms.read_timeout_ms,
	    w.ms.idle_timeout_ms);
	w.server = server_new(w.base, &limits, worker_request_cb, &w,
	    &w.stats->heartbeat);
	sigterm = evsignal_new(w.base, SIGTERM, worker_signal_cb, &w);
	sigint = evsignal_new(w.base, SIGINT, worker_signal_cb, &w);
	if (set_nonblock(WORKER_CHANNEL_FD) == -1)
		fatal("fcntl O_NONBLOCK on the channel: %s", strerror(errno));
	chan_ev = event_new(w.base, WORKER_CHANNEL_FD, EV_READ | EV_PERSIST,
	    worker_channel_cb, &w);
	if (sigterm == NULL || sigint == NULL || chan_ev == NULL ||
	    event_add(sigterm, NULL) != 0 || event_add(sigint, NULL) != 0 ||
	    event_add(chan_ev, NULL) != 0)
		fatal("libevent: cannot install events");
	if (channel_send(WORKER_CHANNEL_FD, MSG_READY, NULL, 0, -1) != 0)
		fatal("channel: ready: %s", strerror(errno));
	log_debug("serving (interval %u ms)", w.ms.interval_ms);

	if (event_base_dispatch(w.base) == -1)
		log_err("event loop failed");

	/* Requests still waiting get their 503 from the supervisor. */
	server_free(w.server);
	collector_stop(&w);
	if (w.watchdog_ev != NULL)
		event_free(w.watchdog_ev);
	event_free(w.collect_ev);
	free(w.waiting);
	module_unload(&w.mod);
	reporter_free(w.reporter);
	event_free(sigterm);
	event_free(sigint);
	event_free(chan_ev);
	evbuffer_free(w.body);
	evbuffer_free(w.cache);
	free(w.cache_fault);
	free(w.cache_reason);
	free(w.last_fault);
	free(w.params);
	event_base_free(w.base);
	return 0;
}
