/*
 * status.c - the operator's view of a running supervisor.
 *
 * The supervisor listens on an abstract unix socket named after its socket
 * directory, so nothing appears in the directory Scope's probe scans (any
 * socket there would be taken for a plugin).  A client connects and gets
 * one JSON document; `scope-plugin-host status` renders it as a table.
 * Only root and the supervisor's own user may read it (SO_PEERCRED).
 * The supervisor's side (status_start) builds the document from the
 * module table; the client's side (status_main) reads it back.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <yajl/yajl_tree.h>

#include "host.h"

/* The abstract address for a socket directory: "\0scope-plugin-host:<realpath>". */
static int
status_addr(const char *socket_dir, struct sockaddr_un *sun, socklen_t *len,
    char **cause)
{
	char	real[PATH_MAX], name[sizeof sun->sun_path];
	int	n;

	if (realpath(socket_dir, real) == NULL) {
		xasprintf(cause, "%s: %s", socket_dir, strerror(errno));
		return -1;
	}
	n = snprintf(name, sizeof name, "%s:%s", HOST_NAME, real);
	if (n < 0 || (size_t)n >= sizeof name - 1) {
		xasprintf(cause, "%s: path too long for a status socket", real);
		return -1;
	}
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path + 1, name, (size_t)n);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	return 0;
}

/* Clients served at once; more wait in the listen backlog. */
#define STATUS_MAX_CLIENTS 16
/* A client that reads nothing for this long is dropped. */
#define STATUS_WRITE_TIMEOUT_MS 1000

struct status_client {
	struct status_server		*srv;
	struct bufferevent		*bev;
	TAILQ_ENTRY(status_client)	 entry;
};

struct status_server {
	struct supervisor		*sv;
	int				 fd;
	struct event			*ev;
	TAILQ_HEAD(, status_client)	 clients;
	unsigned			 nclients;
};

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

/* The document status_main() reads. */
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
		/* An instance: the file's module under an id of the config's. */
		evbuffer_add_printf(b, ",\"instance\":%s", m->inst != NULL ?
		    "true" : "false");
		json_kv_str(b, "state", mod_state_name(m->state), 1);
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
		json_kv_str(b, "last_error", mod_last_error(m, err, sizeof err),
		    1);
		evbuffer_add(b, "}", 1);
	}
	evbuffer_add(b, "]}\n", 3);
}

static void
status_client_free(struct status_client *c)
{
	struct status_server	*srv = c->srv;

	TAILQ_REMOVE(&srv->clients, c, entry);
	bufferevent_free(c->bev);	/* closes the connection */
	free(c);
	/* Room again: take the next client from the backlog. */
	if (srv->nclients == STATUS_MAX_CLIENTS && event_add(srv->ev, NULL) != 0)
		log_err("status: cannot listen again");
	srv->nclients--;
}

/* The whole document is in the kernel: done with this client. */
static void
status_write_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	status_client_free(arg);
}

/* The client went away or read nothing for too long. */
static void
status_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & BEV_EVENT_TIMEOUT)
		log_debug("status: client read nothing for %u ms; dropped",
		    STATUS_WRITE_TIMEOUT_MS);
	status_client_free(arg);
}

/*
 * Accepts one client and queues its document; the event loop writes it
 * as the client reads, so a slow client never holds up the supervisor.
 */
static void
status_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	static const char	 denied[] = "{\"error\":\"permission denied\"}\n";
	static const struct timeval wtv = {
		STATUS_WRITE_TIMEOUT_MS / 1000,
		(STATUS_WRITE_TIMEOUT_MS % 1000) * 1000
	};
	struct status_server	*srv = arg;
	struct status_client	*c;
	struct bufferevent	*bev;
	struct evbuffer		*out;
	struct ucred		 cred;
	socklen_t		 clen = sizeof cred;
	int			 fd;

	(void)what;
	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) == -1)
		return;
	bev = bufferevent_socket_new(srv->sv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		log_err("status: bufferevent_socket_new failed");
		close(fd);
		return;
	}
	c = xcalloc(1, sizeof *c);
	c->srv = srv;
	c->bev = bev;
	TAILQ_INSERT_TAIL(&srv->clients, c, entry);
	if (++srv->nclients == STATUS_MAX_CLIENTS)
		event_del(srv->ev);

	out = bufferevent_get_output(bev);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0 ||
	    (cred.uid != 0 && cred.uid != geteuid()))
		evbuffer_add(out, denied, sizeof denied - 1);
	else
		status_json(srv->sv, out);
	bufferevent_setcb(bev, NULL, status_write_cb, status_event_cb, c);
	bufferevent_set_timeouts(bev, NULL, &wtv);
	if (bufferevent_enable(bev, EV_WRITE) != 0) {
		log_err("status: cannot write to a client");
		status_client_free(c);
	}
}

/*
 * Listens for `scope-plugin-host status` clients; NULL with *cause if
 * the socket cannot be made.
 */
struct status_server *
status_start(struct supervisor *sv, char **cause)
{
	struct status_server	*srv;
	struct sockaddr_un	 sun;
	socklen_t		 len;
	int			 fd;

	if (status_addr(sv->o->socket_dir, &sun, &len, cause) != 0)
		return NULL;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		xasprintf(cause, "status socket: %s", strerror(errno));
		return NULL;
	}
	if (bind(fd, (struct sockaddr *)&sun, len) != 0 || listen(fd, 8) != 0) {
		xasprintf(cause, "status socket: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	srv = xcalloc(1, sizeof *srv);
	srv->sv = sv;
	srv->fd = fd;
	TAILQ_INIT(&srv->clients);
	srv->ev = event_new(sv->base, fd, EV_READ | EV_PERSIST,
	    status_accept_cb, srv);
	if (srv->ev == NULL || event_add(srv->ev, NULL) != 0)
		fatal("event_add: status socket");
	return srv;
}

/* Closes the socket and drops clients still being written to. */
void
status_stop(struct status_server *srv)
{
	struct status_client	*c;

	if (srv == NULL)
		return;
	while ((c = TAILQ_FIRST(&srv->clients)) != NULL) {
		TAILQ_REMOVE(&srv->clients, c, entry);
		bufferevent_free(c->bev);
		free(c);
	}
	event_free(srv->ev);
	close(srv->fd);
	free(srv);
}

/* SIGUSR1: one log line per module. */
void
status_log(struct supervisor *sv)
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
		    m->name, mod_state_name(m->state), (long)m->pid, m->restarts,
		    (unsigned long long)req, (unsigned long long)err,
		    last != NULL ? " last_error=" : "", last != NULL ? last : "");
		n++;
	}
	log_info("status: %u module%s", n, n == 1 ? "" : "s");
}

static const char *
jstr(yajl_val v, const char *key)
{
	const char	*path[] = { key, NULL };
	yajl_val	 x = yajl_tree_get(v, path, yajl_t_any);

	if (x == NULL)
		return "-";
	if (YAJL_IS_STRING(x))
		return YAJL_GET_STRING(x)[0] != '\0' ? YAJL_GET_STRING(x) : "-";
	if (YAJL_IS_NUMBER(x))
		return YAJL_GET_NUMBER(x);
	return "-";
}

static void
fmt_duration(char *buf, size_t len, const char *secs)
{
	unsigned long	s;

	if (strcmp(secs, "-") == 0) {
		snprintf(buf, len, "-");
		return;
	}
	s = strtoul(secs, NULL, 10);
	if (s >= 86400)
		snprintf(buf, len, "%lud%luh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, len, "%luh%lum", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, len, "%lum%lus", s / 60, s % 60);
	else
		snprintf(buf, len, "%lus", s);
}

/* `scope-plugin-host status [--json] [--socket-dir DIR]` */
int
status_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket-dir", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct sockaddr_un	 sun;
	socklen_t		 alen;
	const char		*dir = SPH_SOCKET_DIR;
	char			*cause = NULL, *doc = NULL, err[256];
	size_t			 len = 0, cap = 0;
	yajl_val		 root, mods;
	int			 json = 0, c, fd, i;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 's': dir = optarg; break;
		case 'h':
			printf("usage: %s status [--json] [--socket-dir DIR]\n",
			    HOST_NAME);
			return 0;
		default:
			fprintf(stderr, "usage: %s status [--json] "
			    "[--socket-dir DIR]\n", HOST_NAME);
			return 2;
		}
	}
	if (status_addr(dir, &sun, &alen, &cause) != 0) {
		fprintf(stderr, "%s status: %s\n", HOST_NAME, cause);
		free(cause);
		return 1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, alen) != 0) {
		fprintf(stderr, "%s status: no host is serving %s (%s)\n",
		    HOST_NAME, dir, strerror(errno));
		return 1;
	}
	for (;;) {
		struct pollfd	pfd = { .fd = fd, .events = POLLIN };
		ssize_t		n;

		if (poll(&pfd, 1, 5000) <= 0) {
			fprintf(stderr, "%s status: no answer\n", HOST_NAME);
			return 1;
		}
		if (cap - len < 4096) {
			cap = cap * 2 + 65536;
			doc = xrealloc(doc, cap);
		}
		if ((n = read(fd, doc + len, cap - len - 1)) <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (doc == NULL) {
		fprintf(stderr, "%s status: empty answer\n", HOST_NAME);
		return 1;
	}
	doc[len] = '\0';
	if (json) {
		fputs(doc, stdout);
		free(doc);
		return 0;
	}
	if ((root = yajl_tree_parse(doc, err, sizeof err)) == NULL) {
		fprintf(stderr, "%s status: bad answer: %s\n", HOST_NAME, err);
		free(doc);
		return 1;
	}
	{
		const char *path[] = { "modules", NULL };
		mods = yajl_tree_get(root, path, yajl_t_array);
	}
	if (mods == NULL) {
		fprintf(stderr, "%s status: %s\n", HOST_NAME, jstr(root, "error"));
		yajl_tree_free(root);
		free(doc);
		return 1;
	}
	printf("%s %s, pid %s, up %s, sockets in %s, modules from %s\n",
	    HOST_NAME, jstr(root, "version"), jstr(root, "pid"),
	    jstr(root, "uptime_s"), jstr(root, "socket_dir"),
	    jstr(root, "module_dir"));
	printf("%-16s %-10s %-7s %-8s %-8s %-9s %-7s %-8s %-8s %s\n", "MODULE",
	    "STATE", "PID", "UPTIME", "RESTARTS", "REQUESTS", "ERRORS",
	    "P50_MS", "P99_MS", "LAST ERROR");
	for (i = 0; i < (int)YAJL_GET_ARRAY(mods)->len; i++) {
		yajl_val	m = YAJL_GET_ARRAY(mods)->values[i];
		char		up[32];
		const char	*id = jstr(m, "id");
		const char	*ipath[] = { "instance", NULL };

		/*
		 * A refused file goes by its name: its id may be another's.
		 * An instance's id is the configuration's, its own.
		 */
		if (strcmp(jstr(m, "state"), "refused") == 0 &&
		    !YAJL_IS_TRUE(yajl_tree_get(m, ipath, yajl_t_any)))
			id = "-";
		fmt_duration(up, sizeof up, jstr(m, "uptime_s"));
		printf("%-16s %-10s %-7s %-8s %-8s %-9s %-7s %-8s %-8s %s\n",
		    strcmp(id, "-") != 0 ? id : jstr(m, "file"), jstr(m, "state"),
		    jstr(m, "pid"), up, jstr(m, "restarts"), jstr(m, "requests"),
		    jstr(m, "errors"), jstr(m, "collect_p50_ms"),
		    jstr(m, "collect_p99_ms"), jstr(m, "last_error"));
	}
	yajl_tree_free(root);
	free(doc);
	return 0;
}
