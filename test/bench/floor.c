/*
 * floor.c - the benchmark floor: the least a plugin server can do.
 *
 * Listens on a unix socket (or TCP loopback), epoll, nonblocking, and
 * answers every request with one precomputed HTTP/1.1 200 response.  A
 * request is anything up to an empty line (GET has no body); pipelined
 * requests are answered in order.  No routing, no parsing beyond that:
 * whatever a real plugin host costs above this is its own overhead.
 *
 *   floor --socket PATH (--body-file FILE | --size BYTES) [--close]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IN_MAX		8192
#define MAX_EVENTS	256
#define MAX_IOV		16

struct client {
	int		 fd;
	char		 in[IN_MAX];
	size_t		 inlen;
	size_t		 scanned;	/* in[0..scanned) holds no CRLFCRLF */
	unsigned long	 pending;	/* responses owed */
	size_t		 off;		/* bytes of the first one already sent */
	int		 want_out;	/* EPOLLOUT armed */
	int		 closing;	/* --close: close once pending == 0 */
};

static char			*response;
static size_t			 response_len;
static int			 close_after;
static volatile sig_atomic_t	 stop;
static int			 epfd;

static void
usage(void)
{
	fprintf(stderr, "usage: floor (--socket PATH | --tcp PORT) "
	    "(--body-file FILE | --size BYTES) [--close]\n");
	exit(2);
}

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* A JSON object of exactly size bytes (at least 160) with a Plugins entry. */
static char *
make_body(size_t size, size_t *len)
{
	static const char	head[] = "{\"Plugins\":[{\"id\":\"floor\","
	    "\"label\":\"Floor\",\"description\":\"benchmark floor\","
	    "\"interfaces\":[\"reporter\"],\"api_version\":\"1\"}],\"pad\":\"";
	static const char	tail[] = "\"}";
	char			*b;
	size_t			 fixed = sizeof head - 1 + sizeof tail - 1;

	if (size < fixed)
		size = fixed;
	b = malloc(size);
	if (b == NULL)
		return NULL;
	memcpy(b, head, sizeof head - 1);
	memset(b + sizeof head - 1, 'x', size - fixed);
	memcpy(b + size - (sizeof tail - 1), tail, sizeof tail - 1);
	*len = size;
	return b;
}

static char *
read_file(const char *path, size_t *len)
{
	FILE	*f;
	char	*b;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (b = malloc((size_t)n + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	if (fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		fclose(f);
		return NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return b;
}

static void
client_free(struct client *c)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

static void
client_arm(struct client *c, int want_out)
{
	struct epoll_event	ev;

	if (c->want_out == want_out)
		return;
	memset(&ev, 0, sizeof ev);
	ev.events = want_out ? EPOLLOUT : EPOLLIN;
	ev.data.ptr = c;
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
	c->want_out = want_out;
}

/* Write what is owed; returns -1 when the client is gone (freed). */
static int
client_flush(struct client *c)
{
	struct iovec	iov[MAX_IOV];
	int		n;
	ssize_t		w;
	size_t		left;
	int		rounds;

	for (rounds = 0; rounds < 64 && c->pending > 0; rounds++) {
		iov[0].iov_base = response + c->off;
		iov[0].iov_len = response_len - c->off;
		for (n = 1; n < MAX_IOV && (unsigned long)n < c->pending; n++) {
			iov[n].iov_base = response;
			iov[n].iov_len = response_len;
		}
		w = writev(c->fd, iov, n);
		if (w == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				client_arm(c, 1);
				return 0;
			}
			client_free(c);
			return -1;
		}
		left = (size_t)w;
		if (left >= response_len - c->off) {
			left -= response_len - c->off;
			c->off = 0;
			c->pending--;
			c->pending -= left / response_len;
			c->off = left % response_len;
		} else
			c->off += left;
	}
	if (c->pending > 0) {
		client_arm(c, 1);
		return 0;
	}
	if (c->closing) {
		client_free(c);
		return -1;
	}
	client_arm(c, 0);
	return 0;
}

static void
client_read(struct client *c)
{
	ssize_t	 n;
	char	*end;
	size_t	 used, from;

	if (c->closing)
		return;
	n = read(c->fd, c->in + c->inlen, sizeof c->in - c->inlen);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK)) {
		client_free(c);
		return;
	}
	if (n == -1)
		return;
	c->inlen += (size_t)n;
	used = 0;
	for (;;) {
		from = c->scanned > used ? c->scanned : used;
		end = memmem(c->in + from, c->inlen - from, "\r\n\r\n", 4);
		if (end == NULL)
			break;
		used = (size_t)(end + 4 - c->in);
		c->pending++;
		if (close_after) {
			c->closing = 1;
			break;
		}
	}
	if (used > 0) {
		memmove(c->in, c->in + used, c->inlen - used);
		c->inlen -= used;
	}
	c->scanned = c->inlen > 3 ? c->inlen - 3 : 0;
	if (c->inlen == sizeof c->in) {	/* a head bigger than we allow */
		client_free(c);
		return;
	}
	if (c->pending > 0)
		client_flush(c);
}

static int
listen_on(const char *path, const char *port)
{
	int	fd, one = 1;

	if (path != NULL) {
		struct sockaddr_un	sun;

		memset(&sun, 0, sizeof sun);
		sun.sun_family = AF_UNIX;
		if (strlen(path) >= sizeof sun.sun_path)
			return -1;
		strcpy(sun.sun_path, path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
		if (fd == -1)
			return -1;
		unlink(path);
		if (bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
			close(fd);
			return -1;
		}
	} else {
		struct sockaddr_in	sin;

		memset(&sin, 0, sizeof sin);
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)atoi(port));
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
		if (fd == -1)
			return -1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
			close(fd);
			return -1;
		}
	}
	if (listen(fd, 1024) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
main(int argc, char **argv)
{
	static const struct option	longopts[] = {
		{ "socket",	required_argument, NULL, 's' },
		{ "tcp",	required_argument, NULL, 't' },
		{ "body-file",	required_argument, NULL, 'b' },
		{ "size",	required_argument, NULL, 'z' },
		{ "close",	no_argument,	   NULL, 'c' },
		{ NULL, 0, NULL, 0 }
	};
	const char		*path = NULL, *port = NULL, *body_file = NULL;
	long			 size = -1;
	char			*body, hdr[256];
	size_t			 body_len = 0;
	int			 ch, lfd, n, i, hlen, one = 1;
	struct epoll_event	 ev, evs[MAX_EVENTS];
	struct sigaction	 sa;
	struct client		*c;

	while ((ch = getopt_long(argc, argv, "s:t:b:z:c", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 's':
			path = optarg;
			break;
		case 't':
			port = optarg;
			break;
		case 'b':
			body_file = optarg;
			break;
		case 'z':
			size = atol(optarg);
			break;
		case 'c':
			close_after = 1;
			break;
		default:
			usage();
		}
	}
	if ((path == NULL) == (port == NULL) ||
	    (body_file == NULL) == (size < 0))
		usage();

	body = body_file != NULL ? read_file(body_file, &body_len) :
	    make_body((size_t)size, &body_len);
	if (body == NULL) {
		perror(body_file != NULL ? body_file : "floor: body");
		return 1;
	}
	hlen = snprintf(hdr, sizeof hdr, "HTTP/1.1 200 OK\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: %zu\r\n%s\r\n", body_len,
	    close_after ? "Connection: close\r\n" : "");
	response_len = (size_t)hlen + body_len;
	if ((response = malloc(response_len)) == NULL)
		return 1;
	memcpy(response, hdr, (size_t)hlen);
	memcpy(response + hlen, body, body_len);
	free(body);

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((lfd = listen_on(path, port)) == -1) {
		perror("floor: listen");
		return 1;
	}
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		perror("floor: epoll_create1");
		return 1;
	}
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);

	while (!stop) {
		n = epoll_wait(epfd, evs, MAX_EVENTS, -1);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			perror("floor: epoll_wait");
			break;
		}
		for (i = 0; i < n; i++) {
			c = evs[i].data.ptr;
			if (c == NULL) {
				int	fd, k;

				/* Bounded: at most 64 accepts per wakeup. */
				for (k = 0; k < 64; k++) {
					fd = accept4(lfd, NULL, NULL,
					    SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (fd == -1)
						break;
					if (port != NULL)
						setsockopt(fd, IPPROTO_TCP,
						    TCP_NODELAY, &one,
						    sizeof one);
					c = calloc(1, sizeof *c);
					if (c == NULL) {
						close(fd);
						continue;
					}
					c->fd = fd;
					memset(&ev, 0, sizeof ev);
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			if (c->want_out)
				client_flush(c);
			else
				client_read(c);
		}
	}
	if (path != NULL)
		unlink(path);
	return 0;
}
