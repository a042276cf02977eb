/*
 * loadgen.c - closed-loop HTTP/1.1 load generator for Scope plugin sockets.
 *
 * N keep-alive connections, each with exactly one request in flight (the
 * probe never pipelines), over a unix socket (or TCP loopback) for a set
 * duration after a warmup.  Every response is checked the way the probe
 * would need it: status 200, Content-Length, the whole body, and a body
 * that is one complete JSON object.  Connection: close is honoured by
 * reconnecting.  Single-threaded epoll, no allocation per request,
 * latency from CLOCK_MONOTONIC into a log-linear histogram.
 *
 * Other modes, for run.sh:
 *   --once [--dump-body FILE]  one request; exit 0 iff it was valid
 *   --wait SOCKET...           poll every socket until each one answers a
 *                              valid report; print the time it took
 *   --poll SOCKET...           Scope's pattern: every --interval seconds
 *                              (1), each socket once, one at a time
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define HDR_MAX		8192
#define READ_CHUNK	65536
#define MAX_CONNS	4096
#define TICK_MS		20
#define RETRY_NS	(5 * 1000 * 1000ULL)	/* after a failed connect */

/* Histogram: values below SUB_COUNT exact, then SUB_HALF buckets per octave. */
#define SUB_BITS	10
#define SUB_COUNT	(1U << SUB_BITS)
#define SUB_HALF	(SUB_COUNT / 2)
#define OCTAVES		40
#define HIST_SIZE	(SUB_COUNT + OCTAVES * SUB_HALF)

enum {
	C_CLOSED,	/* waiting until retry_at to connect */
	C_CONNECTING,	/* nonblocking connect in progress (TCP) */
	C_SENDING,
	C_HEAD,
	C_BODY
};

enum {
	E_CONNECT,	/* connect failed */
	E_STATUS,	/* status other than 200 */
	E_PROTO,	/* bad status line/headers, no Content-Length, chunked */
	E_JSON,		/* body is not one complete JSON object */
	E_EOF,		/* connection closed or reset mid-response */
	E_TIMEOUT,	/* no complete response within --timeout */
	E_COUNT
};
static const char *error_names[E_COUNT] = {
	"connect", "status", "protocol", "json", "eof", "timeout"
};

enum {
	F_MORE,		/* need more bytes */
	F_DONE,		/* a complete, valid response */
	F_ERROR		/* invalid; error kind in conn->err */
};

struct jscan {
	int		 depth;
	int		 first;		/* first non-space byte, -1 if none yet */
	int		 last;		/* last non-space byte */
	int		 in_str;
	int		 esc;
	int		 closed;	/* top-level value has ended */
	int		 bad;
};

struct conn {
	int		 fd;
	int		 state;
	size_t		 woff;
	uint64_t	 t_start;	/* ns, request started */
	uint64_t	 retry_at;	/* ns, C_CLOSED: connect again then */

	char		 hbuf[HDR_MAX];
	size_t		 hlen;
	int		 status;
	long long	 clen;
	long long	 got;
	int		 close_after;
	int		 err;
	struct jscan	 js;

	/* --once: where to copy the body (NULL: nowhere). */
	FILE		*dump;
};

static struct {
	const char	*socket_path;
	const char	*tcp;
	int		 conns;
	double		 duration;
	double		 warmup;
	double		 timeout;
	const char	*path;
	const char	*dump_body;
	int		 once;
	int		 wait;
	int		 quiet;
	unsigned long long t0_ns;	/* --wait: CLOCK_REALTIME origin */
	int		 poll;
	double		 interval;	/* --poll: seconds between rounds */
} opt = {
	.conns = 1,
	.duration = 5,
	.warmup = 1,
	.timeout = 2,
	.interval = 1,
	.path = "/report?api_version=1&probe_id=5f2a9c",
};

static char		 request[1024];
static size_t		 request_len;
static struct sockaddr_storage	 peer_addr;
static socklen_t	 peer_len;

static uint64_t		 hist[HIST_SIZE];
static uint64_t		 n_ok;
static uint64_t		 n_err[E_COUNT];
static uint64_t		 body_bytes;
static uint64_t		 resp_bytes;
static uint64_t		 reconnects;
static uint64_t		 measure_start;
static int		 measuring;

static char		 rbuf[READ_CHUNK];

static void
usage(void)
{
	fprintf(stderr,
	    "usage: loadgen (--socket PATH | --tcp HOST:PORT) [--conns N]\n"
	    "               [--duration S] [--warmup S] [--timeout S] [--path P]\n"
	    "       loadgen --once (--socket PATH | --tcp HOST:PORT) [--dump-body FILE]\n"
	    "       loadgen --wait [--timeout S] [--t0-ns NS] SOCKET...\n"
	    "       loadgen --poll [--interval S] [--duration S] [--timeout S] SOCKET...\n");
	exit(2);
}

static uint64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t
realtime_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Histogram of microseconds. */
static unsigned
hist_index(uint64_t v)
{
	unsigned	shift;

	if (v < SUB_COUNT)
		return (unsigned)v;
	shift = 63 - (unsigned)__builtin_clzll(v) - (SUB_BITS - 1);
	if (shift > OCTAVES)
		return HIST_SIZE - 1;
	return SUB_COUNT + (shift - 1) * SUB_HALF +
	    (unsigned)((v >> shift) - SUB_HALF);
}

/* Highest value that falls into bucket i. */
static uint64_t
hist_value(unsigned i)
{
	unsigned	shift;
	uint64_t	base;

	if (i < SUB_COUNT)
		return i;
	shift = (i - SUB_COUNT) / SUB_HALF + 1;
	base = (uint64_t)((i - SUB_COUNT) % SUB_HALF + SUB_HALF);
	return ((base + 1) << shift) - 1;
}

static uint64_t
hist_percentile(double p)
{
	uint64_t	total = 0, want, seen = 0;
	unsigned	i;

	for (i = 0; i < HIST_SIZE; i++)
		total += hist[i];
	if (total == 0)
		return 0;
	want = (uint64_t)(p / 100.0 * (double)total + 0.999999);
	if (want == 0)
		want = 1;
	for (i = 0; i < HIST_SIZE; i++) {
		seen += hist[i];
		if (seen >= want)
			return hist_value(i);
	}
	return hist_value(HIST_SIZE - 1);
}

static uint64_t	max_us;

static void
record(struct conn *c, uint64_t t_end)
{
	uint64_t	us;

	if (!measuring || c->t_start < measure_start)
		return;
	us = (t_end - c->t_start) / 1000;
	hist[hist_index(us)]++;
	if (us > max_us)
		max_us = us;
	n_ok++;
	body_bytes += (uint64_t)c->got;
	resp_bytes += (uint64_t)c->got + c->hlen;
}

static void
count_error(struct conn *c, int kind)
{
	if (!measuring)
		return;
	if (c != NULL && kind != E_CONNECT && c->t_start < measure_start)
		return;
	n_err[kind]++;
}

/* JSON shape check: one object, balanced outside strings, nothing after. */
static void
jscan_reset(struct jscan *js)
{
	memset(js, 0, sizeof *js);
	js->first = -1;
}

static void
jscan_feed(struct jscan *js, const unsigned char *p, size_t n)
{
	size_t	i;
	int	ch;

	for (i = 0; i < n && !js->bad; i++) {
		ch = p[i];
		if (js->in_str) {
			if (js->esc)
				js->esc = 0;
			else if (ch == '\\')
				js->esc = 1;
			else if (ch == '"')
				js->in_str = 0;
			else if (ch < 0x20)
				js->bad = 1;
			continue;
		}
		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
			continue;
		if (js->closed) {
			js->bad = 1;
			break;
		}
		if (js->first == -1) {
			js->first = ch;
			if (ch != '{')
				js->bad = 1;
		}
		js->last = ch;
		switch (ch) {
		case '"':
			js->in_str = 1;
			break;
		case '{':
		case '[':
			js->depth++;
			break;
		case '}':
		case ']':
			if (--js->depth < 0)
				js->bad = 1;
			else if (js->depth == 0)
				js->closed = 1;
			break;
		}
	}
}

static int
jscan_ok(const struct jscan *js)
{
	return !js->bad && js->first == '{' && js->last == '}' &&
	    js->closed && js->depth == 0 && !js->in_str;
}

/* Parse the response head in c->hbuf[0..hlen) (ending in CRLFCRLF). */
static int
parse_head(struct conn *c)
{
	char		*p = c->hbuf, *end = c->hbuf + c->hlen, *eol, *colon;
	char		*v;
	int		 http10 = 0, keepalive = 0;
	size_t		 klen;

	c->status = 0;
	c->clen = -1;
	c->close_after = 0;

	eol = memmem(p, (size_t)(end - p), "\r\n", 2);
	if (eol == NULL || eol - p < 12 || strncmp(p, "HTTP/1.", 7) != 0 ||
	    p[8] != ' ')
		return -1;
	if (p[7] == '0')
		http10 = 1;
	if (p[9] < '0' || p[9] > '9' || p[10] < '0' || p[10] > '9' ||
	    p[11] < '0' || p[11] > '9')
		return -1;
	c->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');

	for (p = eol + 2; p < end; p = eol + 2) {
		eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (eol == NULL)
			return -1;
		if (eol == p)
			break;
		colon = memchr(p, ':', (size_t)(eol - p));
		if (colon == NULL)
			return -1;
		klen = (size_t)(colon - p);
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		if (klen == 14 && strncasecmp(p, "content-length", 14) == 0) {
			long long	n = 0;

			if (v == eol)
				return -1;
			for (; v < eol && *v >= '0' && *v <= '9'; v++) {
				if (n > LLONG_MAX / 10 - 10)
					return -1;
				n = n * 10 + (*v - '0');
			}
			if (v != eol && *v != ' ' && *v != '\t')
				return -1;
			if (c->clen != -1 && c->clen != n)
				return -1;
			c->clen = n;
		} else if (klen == 10 && strncasecmp(p, "connection", 10) == 0) {
			if (memmem(v, (size_t)(eol - v), "close", 5) != NULL ||
			    memmem(v, (size_t)(eol - v), "Close", 5) != NULL)
				c->close_after = 1;
			if (strncasecmp(v, "keep-alive", 10) == 0)
				keepalive = 1;
		} else if (klen == 17 &&
		    strncasecmp(p, "transfer-encoding", 17) == 0)
			return -1;	/* the probe copes; we insist on a length */
	}
	if (http10 && !keepalive)
		c->close_after = 1;
	if (c->clen < 0)
		return -1;
	return 0;
}

/*
 * Feed n bytes read from the connection.  Returns F_MORE, F_DONE or
 * F_ERROR (kind in c->err).  Bytes beyond the response are an error: we
 * never pipeline, so the server had no reason to send them.
 */
static int
feed(struct conn *c, const char *buf, size_t n)
{
	size_t	 room, take, scan_from;
	char	*hend;

	if (c->state == C_HEAD) {
		room = sizeof c->hbuf - c->hlen;
		take = n < room ? n : room;
		scan_from = c->hlen > 3 ? c->hlen - 3 : 0;
		memcpy(c->hbuf + c->hlen, buf, take);
		c->hlen += take;
		hend = memmem(c->hbuf + scan_from, c->hlen - scan_from,
		    "\r\n\r\n", 4);
		if (hend == NULL) {
			if (c->hlen == sizeof c->hbuf) {
				c->err = E_PROTO;
				return F_ERROR;
			}
			return F_MORE;
		}
		/* Give back the body bytes that came with the head. */
		take = (size_t)(hend + 4 - c->hbuf) - (c->hlen - take);
		c->hlen = (size_t)(hend + 4 - c->hbuf);
		if (parse_head(c) != 0) {
			c->err = E_PROTO;
			return F_ERROR;
		}
		c->state = C_BODY;
		c->got = 0;
		jscan_reset(&c->js);
		buf += take;
		n -= take;
	}
	if (c->state != C_BODY) {
		c->err = E_PROTO;
		return F_ERROR;
	}
	if ((long long)n > c->clen - c->got) {
		c->err = E_PROTO;
		return F_ERROR;
	}
	jscan_feed(&c->js, (const unsigned char *)buf, n);
	if (c->dump != NULL && n > 0)
		fwrite(buf, 1, n, c->dump);
	c->got += (long long)n;
	if (c->got < c->clen)
		return F_MORE;
	if (c->status != 200) {
		c->err = E_STATUS;
		return F_ERROR;
	}
	if (!jscan_ok(&c->js)) {
		c->err = E_JSON;
		return F_ERROR;
	}
	return F_DONE;
}

static void
build_request(void)
{
	int	n;

	n = snprintf(request, sizeof request,
	    "GET %s HTTP/1.1\r\n"
	    "Host: plugin\r\n"
	    "User-Agent: Go-http-client/1.1\r\n"
	    "Accept-Encoding: gzip\r\n"
	    "\r\n", opt.path);
	if (n < 0 || (size_t)n >= sizeof request) {
		fprintf(stderr, "loadgen: --path too long\n");
		exit(2);
	}
	request_len = (size_t)n;
}

static int
set_unix_addr(const char *path)
{
	struct sockaddr_un	*sun = (struct sockaddr_un *)&peer_addr;

	memset(&peer_addr, 0, sizeof peer_addr);
	if (strlen(path) >= sizeof sun->sun_path) {
		fprintf(stderr, "loadgen: socket path too long: %s\n", path);
		return -1;
	}
	sun->sun_family = AF_UNIX;
	strcpy(sun->sun_path, path);
	peer_len = sizeof *sun;
	return 0;
}

static int
set_tcp_addr(const char *hostport)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&peer_addr;
	char			 host[64];
	const char		*colon = strrchr(hostport, ':');
	long			 port;

	memset(&peer_addr, 0, sizeof peer_addr);
	if (colon == NULL || (size_t)(colon - hostport) >= sizeof host)
		return -1;
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = '\0';
	port = strtol(colon + 1, NULL, 10);
	if (port <= 0 || port > 65535)
		return -1;
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host[0] != '\0' ? host : "127.0.0.1",
	    &sin->sin_addr) != 1)
		return -1;
	peer_len = sizeof *sin;
	return 0;
}

/* Start a connect; returns the fd (nonblocking) or -1. *pending set for TCP. */
static int
open_conn(int *pending)
{
	int	fd, one = 1;

	*pending = 0;
	fd = socket(peer_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (peer_addr.ss_family == AF_INET)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&peer_addr, peer_len) == 0)
		return fd;
	if (errno == EINPROGRESS) {
		*pending = 1;
		return fd;
	}
	close(fd);
	return -1;
}

/* ---- load mode ---------------------------------------------------------- */

static int		 epfd;
static struct conn	*conns;

static void
conn_close(struct conn *c, uint64_t now, int retry_later)
{
	if (c->fd != -1) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	c->state = C_CLOSED;
	c->retry_at = retry_later ? now + RETRY_NS : now;
}

static void	conn_connect(struct conn *, uint64_t);

/* Drop a connection after a failed response and start a new one. */
static void
conn_reset(struct conn *c, uint64_t now)
{
	conn_close(c, now, 0);
	conn_connect(c, now);
}

static void
conn_arm(struct conn *c, uint32_t events)
{
	struct epoll_event	ev;

	memset(&ev, 0, sizeof ev);
	ev.events = events;
	ev.data.ptr = c;
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void
conn_start_request(struct conn *c, uint64_t now)
{
	ssize_t	n;

	c->state = C_SENDING;
	c->woff = 0;
	c->hlen = 0;
	c->t_start = now;
	n = write(c->fd, request, request_len);
	if (n == (ssize_t)request_len) {
		c->state = C_HEAD;
		return;	/* already armed for EPOLLIN */
	}
	if (n > 0)
		c->woff = (size_t)n;
	else if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
		count_error(c, E_EOF);
		conn_close(c, now, 1);
		return;
	}
	conn_arm(c, EPOLLOUT);
}

static void
conn_connect(struct conn *c, uint64_t now)
{
	struct epoll_event	ev;
	int			pending;

	c->fd = open_conn(&pending);
	if (c->fd == -1) {
		count_error(NULL, E_CONNECT);
		c->state = C_CLOSED;
		c->retry_at = now + RETRY_NS;
		return;
	}
	memset(&ev, 0, sizeof ev);
	ev.events = pending ? EPOLLOUT : EPOLLIN;
	ev.data.ptr = c;
	epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
	if (pending) {
		c->state = C_CONNECTING;
		c->t_start = now;
		return;
	}
	conn_start_request(c, now);
}

static void
conn_writable(struct conn *c, uint64_t now)
{
	int		err = 0;
	socklen_t	len = sizeof err;
	ssize_t		n;

	if (c->state == C_CONNECTING) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
		    err != 0) {
			count_error(NULL, E_CONNECT);
			conn_close(c, now, 1);
			return;
		}
		conn_arm(c, EPOLLIN);
		conn_start_request(c, now);
		return;
	}
	if (c->state != C_SENDING)
		return;
	n = write(c->fd, request + c->woff, request_len - c->woff);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		count_error(c, E_EOF);
		conn_close(c, now, 1);
		return;
	}
	c->woff += (size_t)n;
	if (c->woff == request_len) {
		c->state = C_HEAD;
		conn_arm(c, EPOLLIN);
	}
}

static void
conn_readable(struct conn *c, uint64_t now)
{
	ssize_t	n;
	int	r, rounds;

	/* Bounded: a response larger than 64 reads waits for the next event. */
	for (rounds = 0; rounds < 64; rounds++) {
		n = read(c->fd, rbuf, sizeof rbuf);
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			count_error(c, E_EOF);
			conn_close(c, now, 1);
			return;
		}
		if (n == 0) {
			/* An idle close between requests is the server's right
			 * only if it said so; here a request is always out. */
			count_error(c, E_EOF);
			conn_reset(c, now);
			return;
		}
		r = feed(c, rbuf, (size_t)n);
		if (r == F_MORE)
			continue;
		now = now_ns();
		if (r == F_ERROR) {
			count_error(c, c->err);
			conn_reset(c, now);
			return;
		}
		record(c, now);
		if (c->close_after) {
			if (measuring && c->t_start >= measure_start)
				reconnects++;
			conn_reset(c, now);
		} else
			conn_start_request(c, now);
		return;
	}
}

static void
check_timeouts(uint64_t now, int nconns)
{
	uint64_t	limit = (uint64_t)(opt.timeout * 1e9);
	int		i;
	struct conn	*c;

	for (i = 0; i < nconns; i++) {
		c = &conns[i];
		switch (c->state) {
		case C_CLOSED:
			if (now >= c->retry_at)
				conn_connect(c, now);
			break;
		case C_CONNECTING:
		case C_SENDING:
		case C_HEAD:
		case C_BODY:
			if (now - c->t_start > limit) {
				count_error(c, c->state == C_CONNECTING ?
				    E_CONNECT : E_TIMEOUT);
				conn_reset(c, now);
			}
			break;
		}
	}
}

static int
run_load(void)
{
	struct epoll_event	 evs[256];
	uint64_t		 start, warm_end, end, now, last_tick;
	int			 i, n, timeout_ms;
	double			 secs;
	uint64_t		 errors = 0;

	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd == -1) {
		perror("loadgen: epoll_create1");
		return 1;
	}
	conns = calloc((size_t)opt.conns, sizeof *conns);
	if (conns == NULL) {
		perror("loadgen: calloc");
		return 1;
	}
	start = now_ns();
	warm_end = start + (uint64_t)(opt.warmup * 1e9);
	end = warm_end + (uint64_t)(opt.duration * 1e9);
	measuring = opt.warmup <= 0;
	measure_start = measuring ? start : warm_end;

	for (i = 0; i < opt.conns; i++) {
		conns[i].fd = -1;
		conn_connect(&conns[i], start);
	}
	last_tick = start;
	for (;;) {
		now = now_ns();
		if (!measuring && now >= warm_end) {
			measuring = 1;
			measure_start = warm_end;
		}
		if (now >= end)
			break;
		if (now - last_tick >= TICK_MS * 1000000ULL) {
			check_timeouts(now, opt.conns);
			last_tick = now;
		}
		timeout_ms = (int)((end - now) / 1000000ULL) + 1;
		if (timeout_ms > TICK_MS)
			timeout_ms = TICK_MS;
		n = epoll_wait(epfd, evs, (int)(sizeof evs / sizeof evs[0]),
		    timeout_ms);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			perror("loadgen: epoll_wait");
			return 1;
		}
		now = now_ns();
		for (i = 0; i < n; i++) {
			struct conn	*c = evs[i].data.ptr;

			if (c->fd == -1)
				continue;
			if (c->state == C_CONNECTING || c->state == C_SENDING)
				conn_writable(c, now);
			else if (c->state == C_HEAD || c->state == C_BODY)
				conn_readable(c, now);
		}
	}
	secs = (double)(end - measure_start) / 1e9;
	for (i = 0; i < E_COUNT; i++)
		errors += n_err[i];

	if (!opt.quiet) {
		printf("target     %s%s\n", opt.socket_path ? "unix:" : "tcp:",
		    opt.socket_path ? opt.socket_path : opt.tcp);
		printf("conns      %d, %.1f s measured after %.1f s warmup\n",
		    opt.conns, secs, opt.warmup);
		printf("requests   %llu (%.0f/s)\n", (unsigned long long)n_ok,
		    (double)n_ok / secs);
		printf("latency    p50 %llu us, p90 %llu us, p99 %llu us, "
		    "max %llu us\n",
		    (unsigned long long)hist_percentile(50),
		    (unsigned long long)hist_percentile(90),
		    (unsigned long long)hist_percentile(99),
		    (unsigned long long)max_us);
		printf("response   %.0f body bytes, %.0f bytes with headers\n",
		    n_ok ? (double)body_bytes / (double)n_ok : 0.0,
		    n_ok ? (double)resp_bytes / (double)n_ok : 0.0);
		printf("errors     %llu", (unsigned long long)errors);
		for (i = 0; i < E_COUNT; i++)
			if (n_err[i] != 0)
				printf(" %s=%llu", error_names[i],
				    (unsigned long long)n_err[i]);
		printf("; reconnects after Connection: close %llu\n",
		    (unsigned long long)reconnects);
	}
	printf("RESULT rps=%.0f p50_us=%llu p90_us=%llu p99_us=%llu "
	    "max_us=%llu errors=%llu bytes=%.0f reqs=%llu conns=%d\n",
	    (double)n_ok / secs,
	    (unsigned long long)hist_percentile(50),
	    (unsigned long long)hist_percentile(90),
	    (unsigned long long)hist_percentile(99),
	    (unsigned long long)max_us, (unsigned long long)errors,
	    n_ok ? (double)body_bytes / (double)n_ok : 0.0,
	    (unsigned long long)n_ok, opt.conns);
	return errors != 0 || n_ok == 0;
}

/* ---- single requests (--once, --wait) ---------------------------------- */

/*
 * One request on fd (connected, or connecting when pending is set),
 * everything bounded by deadline (ns, monotonic).  Returns 0 if the
 * response was valid; fd stays open either way.
 */
static int
exchange(struct conn *c, int fd, int pending, uint64_t deadline)
{
	struct epoll_event	ev;
	int			ep, r = F_MORE, n;
	size_t			off = 0;
	ssize_t			len;
	uint64_t		now;

	c->err = E_CONNECT;
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep == -1)
		return -1;
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLOUT;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	c->state = C_HEAD;
	c->hlen = 0;
	c->close_after = 0;
	while (r == F_MORE) {
		now = now_ns();
		if (now >= deadline) {
			c->err = E_TIMEOUT;
			r = F_ERROR;
			break;
		}
		n = epoll_wait(ep, &ev, 1,
		    (int)((deadline - now) / 1000000ULL) + 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			continue;
		if (off < request_len) {
			if (pending) {
				int		err = 0;
				socklen_t	elen = sizeof err;

				getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
				    &elen);
				if (err != 0) {
					r = F_ERROR;
					break;
				}
				pending = 0;
			}
			len = write(fd, request + off, request_len - off);
			if (len == -1 && errno != EAGAIN) {
				c->err = E_EOF;
				r = F_ERROR;
				break;
			}
			if (len > 0)
				off += (size_t)len;
			if (off == request_len) {
				ev.events = EPOLLIN;
				epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
			}
			continue;
		}
		len = read(fd, rbuf, sizeof rbuf);
		if (len == -1 && errno == EAGAIN)
			continue;
		if (len <= 0) {
			c->err = E_EOF;
			r = F_ERROR;
			break;
		}
		r = feed(c, rbuf, (size_t)len);
	}
	close(ep);
	return r == F_DONE ? 0 : -1;
}

/* One request on a fresh connection, bounded by deadline; 0 if valid. */
static int
one_request(struct conn *c, uint64_t deadline)
{
	int	fd, pending, r;

	c->err = E_CONNECT;
	if ((fd = open_conn(&pending)) == -1)
		return -1;
	r = exchange(c, fd, pending, deadline);
	close(fd);
	return r;
}

static int
run_once(void)
{
	static struct conn	c;
	int			r;

	if (opt.dump_body != NULL) {
		c.dump = fopen(opt.dump_body, "w");
		if (c.dump == NULL) {
			perror(opt.dump_body);
			return 1;
		}
	}
	r = one_request(&c, now_ns() + (uint64_t)(opt.timeout * 1e9));
	if (c.dump != NULL)
		fclose(c.dump);
	if (r != 0) {
		if (!opt.quiet)
			fprintf(stderr, "loadgen: %s error (status %d)\n",
			    error_names[c.err], c.status);
		return 1;
	}
	if (!opt.quiet)
		printf("RESULT status=%d bytes=%lld\n", c.status, c.clen);
	return 0;
}

static int
run_wait(int argc, char **argv)
{
	static struct conn	c;
	char			*done;
	int			 left = argc, i, rounds = 0;
	uint64_t		 deadline;
	uint64_t		 t0;
	struct timespec		 pause = { 0, 1000000 };	/* 1 ms */

	t0 = opt.t0_ns != 0 ? opt.t0_ns : realtime_ns();
	deadline = now_ns() + (uint64_t)(opt.timeout * 1e9);
	done = calloc((size_t)argc, 1);
	if (done == NULL)
		return 1;
	while (left > 0 && now_ns() < deadline) {
		for (i = 0; i < argc; i++) {
			if (done[i])
				continue;
			if (set_unix_addr(argv[i]) != 0)
				return 2;
			if (one_request(&c, now_ns() + 500000000ULL) == 0) {
				done[i] = 1;
				left--;
			}
		}
		rounds++;
		if (left > 0)
			nanosleep(&pause, NULL);
	}
	if (left > 0) {
		fprintf(stderr, "loadgen: %d of %d sockets not answering after "
		    "%.1f s:", left, argc, opt.timeout);
		for (i = 0; i < argc; i++)
			if (!done[i])
				fprintf(stderr, " %s", argv[i]);
		fprintf(stderr, "\n");
		free(done);
		return 1;
	}
	free(done);
	printf("RESULT ready_ms=%.1f sockets=%d rounds=%d\n",
	    (double)(realtime_ns() - t0) / 1e6, argc, rounds);
	return 0;
}

/*
 * --poll: what Scope's probe does.  Every --interval seconds, for
 * --duration seconds, each socket gets one request in turn (one at a
 * time, the next only after the previous answered), on a keep-alive
 * connection per socket, reopened after an error or Connection: close.
 */
static int
run_poll(int argc, char **argv)
{
	static struct conn	c;
	struct timespec		at;
	uint64_t		start, next, step, rounds, k, errors = 0, polls = 0;
	int			*fds, i, pending, ok;

	if ((fds = malloc((size_t)argc * sizeof *fds)) == NULL)
		return 1;
	for (i = 0; i < argc; i++)
		fds[i] = -1;
	step = (uint64_t)(opt.interval * 1e9);
	rounds = (uint64_t)(opt.duration / opt.interval + 0.5);
	if (rounds == 0)
		rounds = 1;
	start = now_ns();
	for (k = 0; k < rounds; k++) {
		next = start + k * step;
		at.tv_sec = (time_t)(next / 1000000000ULL);
		at.tv_nsec = (long)(next % 1000000000ULL);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at,
		    NULL) == EINTR)
			;
		for (i = 0; i < argc; i++) {
			if (set_unix_addr(argv[i]) != 0)
				return 2;
			pending = 0;
			if (fds[i] == -1 && (fds[i] = open_conn(&pending)) == -1) {
				errors++;
				continue;
			}
			polls++;
			ok = exchange(&c, fds[i], pending, now_ns() +
			    (uint64_t)(opt.timeout * 1e9)) == 0;
			if (!ok) {
				errors++;
				if (!opt.quiet)
					fprintf(stderr, "loadgen: %s: %s error "
					    "(status %d)\n", argv[i],
					    error_names[c.err], c.status);
			}
			if (!ok || c.close_after) {
				close(fds[i]);
				fds[i] = -1;
			}
		}
	}
	for (i = 0; i < argc; i++)
		if (fds[i] != -1)
			close(fds[i]);
	free(fds);
	printf("RESULT polls=%llu errors=%llu rounds=%llu sockets=%d\n",
	    (unsigned long long)polls, (unsigned long long)errors,
	    (unsigned long long)rounds, argc);
	return errors == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	static const struct option	longopts[] = {
		{ "socket",	required_argument, NULL, 's' },
		{ "tcp",	required_argument, NULL, 't' },
		{ "conns",	required_argument, NULL, 'c' },
		{ "duration",	required_argument, NULL, 'd' },
		{ "warmup",	required_argument, NULL, 'w' },
		{ "timeout",	required_argument, NULL, 'T' },
		{ "path",	required_argument, NULL, 'p' },
		{ "once",	no_argument,	   NULL, 'o' },
		{ "dump-body",	required_argument, NULL, 'D' },
		{ "wait",	no_argument,	   NULL, 'W' },
		{ "t0-ns",	required_argument, NULL, '0' },
		{ "quiet",	no_argument,	   NULL, 'q' },
		{ "poll",	no_argument,	   NULL, 'P' },
		{ "interval",	required_argument, NULL, 'i' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int	ch;

	while ((ch = getopt_long(argc, argv, "s:t:c:d:w:T:p:oD:WqPi:h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 's':
			opt.socket_path = optarg;
			break;
		case 't':
			opt.tcp = optarg;
			break;
		case 'c':
			opt.conns = atoi(optarg);
			break;
		case 'd':
			opt.duration = atof(optarg);
			break;
		case 'w':
			opt.warmup = atof(optarg);
			break;
		case 'T':
			opt.timeout = atof(optarg);
			break;
		case 'p':
			opt.path = optarg;
			break;
		case 'o':
			opt.once = 1;
			break;
		case 'D':
			opt.dump_body = optarg;
			break;
		case 'W':
			opt.wait = 1;
			break;
		case '0':
			opt.t0_ns = strtoull(optarg, NULL, 10);
			break;
		case 'q':
			opt.quiet = 1;
			break;
		case 'P':
			opt.poll = 1;
			break;
		case 'i':
			opt.interval = atof(optarg);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;

	if (opt.conns < 1 || opt.conns > MAX_CONNS || opt.duration <= 0 ||
	    opt.duration > 3600 || opt.warmup < 0 || opt.warmup > 3600 ||
	    opt.timeout <= 0 || opt.timeout > 3600 || opt.path[0] != '/' ||
	    !(opt.interval >= 0.001 && opt.interval <= 3600))
		usage();
	signal(SIGPIPE, SIG_IGN);
	build_request();

	if (opt.wait || opt.poll) {
		if (argc == 0)
			usage();
		return opt.wait ? run_wait(argc, argv) : run_poll(argc, argv);
	}
	if (argc != 0 || (opt.socket_path == NULL) == (opt.tcp == NULL))
		usage();
	if (opt.socket_path != NULL && set_unix_addr(opt.socket_path) != 0)
		return 2;
	if (opt.tcp != NULL && set_tcp_addr(opt.tcp) != 0) {
		fprintf(stderr, "loadgen: bad --tcp %s\n", opt.tcp);
		return 2;
	}
	if (opt.once)
		return run_once();
	return run_load();
}
