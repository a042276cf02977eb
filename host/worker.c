/*
 * worker.c - one module, one process: take the settings the supervisor
 * sends, load the module, say hello, receive its settings and the
 * listening socket, serve HTTP until told to stop.
 * Everything that can crash or hang (module code) runs here, never in the
 * supervisor.
 */
#include <sys/mman.h>

#include <errno.h>
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
	struct event_base	*base;
	struct server		*server;
	struct evbuffer		*body;

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

/*
 * Last words.  A module that crashes in collect or control takes its worker
 * down in the middle of the probe's request, and Scope would show only
 * "EOF".  While such a call runs for a request, crash_fd is that request's
 * connection; a handler for the fatal signals writes a 500 naming the
 * signal to it, prepared beforehand (write() is all a handler may do
 * safely), and the worker then dies of the signal as it would have.
 */
static const int	 crash_signals[] = {
	SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT
};
#define NCRASH_SIGNALS (sizeof crash_signals / sizeof crash_signals[0])
static char		*crash_replies[NCRASH_SIGNALS];
static size_t		 crash_lens[NCRASH_SIGNALS];
static volatile sig_atomic_t crash_fd = -1;

static void
crash_handler(int sig)
{
	int	fd = crash_fd;
	size_t	i;

	for (i = 0; i < NCRASH_SIGNALS && fd >= 0; i++)
		if (crash_signals[i] == sig && crash_replies[i] != NULL &&
		    write(fd, crash_replies[i], crash_lens[i]) < 0)
			break;
	/* SA_RESETHAND | SA_NODEFER: this is the default action now. */
	raise(sig);
}

/* Prepares the replies and installs the handler (on its own stack). */
static void
crash_replies_init(const char *id)
{
	static char		 altstack[64 * 1024];
	struct sigaction	 sa;
	stack_t			 ss;
	struct evbuffer		*b;
	char			*reason, *msg;
	size_t			 i;

	ss.ss_sp = altstack;
	ss.ss_size = sizeof altstack;
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL) != 0)
		log_debug("sigaltstack: %s", strerror(errno));
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = crash_handler;
	sa.sa_flags = SA_ONSTACK | SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < NCRASH_SIGNALS; i++) {
		if ((b = evbuffer_new()) == NULL)
			fatal("evbuffer_new: out of memory");
		xasprintf(&reason, "killed by %s (%d); restarting",
		    signal_name(crash_signals[i]), crash_signals[i]);
		xasprintf(&msg, "module %s: killed by %s (%d) while answering; "
		    "the host restarts it", id, signal_name(crash_signals[i]),
		    crash_signals[i]);
		http_respond_error(b, 500, reason, id, msg, 0, 0, NULL);
		crash_lens[i] = evbuffer_get_length(b);
		crash_replies[i] = xmalloc(crash_lens[i]);
		evbuffer_remove(b, crash_replies[i], crash_lens[i]);
		evbuffer_free(b);
		free(reason);
		free(msg);
		if (sigaction(crash_signals[i], &sa, NULL) != 0)
			log_warn("sigaction %d: %s", crash_signals[i],
			    strerror(errno));
	}
}

/* Module code is about to run for this request: see above. */
static void
crash_watch(struct server_conn *c, const struct http_request *req)
{
	crash_fd = req->method == HTTP_HEAD ? -1 : server_conn_quiet_fd(c);
}

static void
crash_unwatch(void)
{
	crash_fd = -1;
}

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
	rc = worker_collect(w, fresh, &cause, &reason);
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
		int	rc;

		crash_watch(c, req);
		rc = worker_collect(w, w->body, &cause, &reason);
		crash_unwatch();
		if (rc == 0) {
			server_reply(c, req, 200, "application/json", w->body,
			    NULL);
			return;
		}
		worker_fault(w, "collect", cause);
	}
	reply_fault(w, c, req, reason, cause);
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
	pthread_mutex_lock(&w->module_lock);
	__atomic_store_n(&w->stats->collect_start_ns, now_ns(), __ATOMIC_RELEASE);
	crash_watch(c, req);
	rc = w->mod.control(w->mod.state, control_get(cr), errbuf, sizeof errbuf);
	crash_unwatch();
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
		crash_watch(c, req);
		rc = worker_collect(w, report, &cause, &reason);
		crash_unwatch();
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
		if (req->method == HTTP_POST)
			serve_control(w, c, req, reqbody);
		else
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

static void
worker_channel_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;
	struct msg	 m;
	int		 r;

	(void)what;
	r = channel_recv(fd, &m);
	if (r == 1) {
		if (m.fd >= 0)
			close(m.fd);
		return;
	}
	/* The supervisor is gone: a worker never outlives it. */
	log_info("supervisor gone: stopping");
	event_base_loopbreak(w->base);
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

static void
stats_map(struct worker *w)
{
	void	*p;

	p = mmap(NULL, sizeof(struct worker_stats), PROT_READ | PROT_WRITE,
	    MAP_SHARED, WORKER_STATS_FD, 0);
	if (p == MAP_FAILED) {
		log_debug("no shared stats page: %s", strerror(errno));
		w->stats = &w->local_stats;
	} else
		w->stats = p;
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
	int		 sock, check;

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
	base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
	snprintf(prefix, sizeof prefix, "module %s", base);
	log_set_prefix(prefix);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fatal("signal SIGPIPE: %s", strerror(errno));
	stats_map(&w);
	yajl_wrap_init();

	if (module_load(path, &w.mod, &cause) != 0)
		refuse(cause);
	snprintf(prefix, sizeof prefix, "module %s", w.mod.id);
	log_set_prefix(prefix);
	worker_hello(&w);
	worker_settings(&w);

	sock = -1;
	if (!check) {
		worker_expect(&m, "socket");
		if (m.hdr.type != MSG_SOCKET)
			fatal("channel: unexpected message %u instead of the "
			    "socket", m.hdr.type);
		sock = m.fd;
	}

	w.host.id = w.mod.id;
	w.host.log = host_log_cb;
	w.host.param = host_param_cb;
	w.host.param_at = host_param_at_cb;
	w.host.deadline_ms = w.ms.deadline_ms;
	w.host.probe_id = w.probe_id;
	w.host.ctx = &w;
	/* Before init: a module's own handlers, if it has any, win. */
	if (!check)
		crash_replies_init(w.mod.id);
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
	    (w.cache = evbuffer_new()) == NULL)
		fatal("libevent: out of memory");
	if (w.ms.interval_ms > 0) {
		/* The first report is ready before we say READY. */
		worker_refresh_cache(&w);
		collector_start(&w);
	}
	server_limits_init(&limits, w.ms.max_conns, w.ms.read_timeout_ms,
	    w.ms.idle_timeout_ms);
	w.server = server_new(w.base, sock, &limits, worker_request_cb, &w);
	sigterm = evsignal_new(w.base, SIGTERM, worker_signal_cb, &w);
	sigint = evsignal_new(w.base, SIGINT, worker_signal_cb, &w);
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

	server_free(w.server);
	close(sock);
	collector_stop(&w);
	module_unload(&w.mod);
	reporter_free(w.reporter);
	event_free(sigterm);
	event_free(sigint);
	event_free(chan_ev);
	evbuffer_free(w.body);
	evbuffer_free(w.cache);
	for (size_t i = 0; i < NCRASH_SIGNALS; i++)
		free(crash_replies[i]);
	free(w.cache_fault);
	free(w.cache_reason);
	free(w.last_fault);
	free(w.params);
	event_base_free(w.base);
	return 0;
}
