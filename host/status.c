/*
 * status.c - the operator's view of a running supervisor.
 *
 * The supervisor listens on an abstract unix socket named after its socket
 * directory, so nothing appears in the directory Scope's probe scans (any
 * socket there would be taken for a plugin).  A client connects and gets
 * one JSON document; `scope-plugin-host status` renders it as a table.
 * Only root and the supervisor's own user may read it (SO_PEERCRED).
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

/* The listening status socket for the supervisor, or -1 with *cause. */
int
status_listen(const char *socket_dir, char **cause)
{
	struct sockaddr_un	sun;
	socklen_t		len;
	int			fd;

	if (status_addr(socket_dir, &sun, &len, cause) != 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		xasprintf(cause, "status socket: %s", strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sun, len) != 0 || listen(fd, 8) != 0) {
		xasprintf(cause, "status socket: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Accepts one client and writes the document to it; best effort. */
void
status_serve(int lfd, struct evbuffer *doc)
{
	struct ucred	cred;
	socklen_t	clen = sizeof cred;
	int		fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0 ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		static const char denied[] = "{\"error\":\"permission denied\"}\n";
		if (write(fd, denied, sizeof denied - 1) == -1)
			log_debug("status: %s", strerror(errno));
		close(fd);
		return;
	}
	/* The client is waiting; a short blocking write with a timeout. */
	{
		struct timeval tv = { 1, 0 };
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	}
	while (evbuffer_get_length(doc) > 0)
		if (evbuffer_write(doc, fd) <= 0)
			break;
	close(fd);
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
