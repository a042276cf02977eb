/*
 * prom-http.c - a small HTTP/1.0 GET for the prometheus module.
 *
 * Why not libevent's evhttp: in libevent 2.1, the version Debian ships,
 * evhttp connects only to TCP addresses, and exporters are often reached
 * through unix sockets.  HTTP/1.0 with "Connection: close" keeps the
 * client tiny: no chunked encoding, no keep-alive, the body ends when the
 * server closes (or at Content-Length).  One non-blocking socket and
 * poll() against a single deadline bound connect, send and receive
 * together, so a dead or slow endpoint costs at most the timeout.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "fields.h"
#include "prom-http.h"

#define HEAD_MAX	16384

static long long
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
url_unix(const char *s, struct prom_url *u, char *err, size_t errlen)
{
	struct sockaddr_un	*sun = (struct sockaddr_un *)&u->addr;
	const char		*colon = strrchr(s, ':');
	size_t			 plen;

	/* unix:/run/x.sock:/metrics; the path part starts with "/". */
	if (colon != NULL && colon[1] == '/') {
		plen = (size_t)(colon - s);
		if (snprintf(u->path, sizeof u->path, "%s", colon + 1) >=
		    (int)sizeof u->path) {
			snprintf(err, errlen, "URL path too long");
			return -1;
		}
	} else {
		plen = strlen(s);
		strcpy(u->path, "/metrics");
	}
	if (plen == 0 || s[0] != '/' || plen >= sizeof sun->sun_path) {
		snprintf(err, errlen, "unix: needs an absolute socket path "
		    "shorter than %zu bytes", sizeof sun->sun_path);
		return -1;
	}
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, s, plen);
	sun->sun_path[plen] = '\0';
	u->addrlen = sizeof *sun;
	strcpy(u->host, "localhost");
	return 0;
}

int
prom_url_parse(const char *url, struct prom_url *u, char *err, size_t errlen)
{
	struct addrinfo	 hints, *res;
	const char	*h, *hend, *p, *port = "80";
	char		 host[256], portbuf[8];
	size_t		 n;
	int		 e;

	memset(u, 0, sizeof *u);
	if (strncmp(url, "unix:", 5) == 0)
		return url_unix(url + 5, u, err, errlen);
	if (strncmp(url, "http://", 7) != 0) {
		snprintf(err, errlen, "url must start with http:// or unix:");
		return -1;
	}
	h = url + 7;
	p = h + strcspn(h, "/");
	if (*h == '[') {
		if ((hend = memchr(h, ']', (size_t)(p - h))) == NULL) {
			snprintf(err, errlen, "url: unterminated [IPv6 address]");
			return -1;
		}
		n = (size_t)(hend - h - 1);
		memcpy(host, h + 1, n < sizeof host ? n : 0);
		hend++;
	} else {
		hend = h + strcspn(h, ":/");
		n = (size_t)(hend - h);
		memcpy(host, h, n < sizeof host ? n : 0);
	}
	if (n == 0 || n >= sizeof host) {
		snprintf(err, errlen, "url: no host, or a host name too long");
		return -1;
	}
	host[n] = '\0';
	if (*hend == ':') {
		n = (size_t)(p - hend - 1);
		if (n == 0 || n >= sizeof portbuf ||
		    strspn(hend + 1, "0123456789") != n) {
			snprintf(err, errlen, "url: bad port");
			return -1;
		}
		memcpy(portbuf, hend + 1, n);
		portbuf[n] = '\0';
		port = portbuf;
	} else if (hend != p) {
		snprintf(err, errlen, "url: unexpected text after the host");
		return -1;
	}
	if (snprintf(u->path, sizeof u->path, "%s", *p == '\0' ? "/" : p) >=
	    (int)sizeof u->path) {
		snprintf(err, errlen, "url: path too long");
		return -1;
	}
	snprintf(u->host, sizeof u->host, "%s%s%s", strchr(host, ':') !=
	    NULL ? "[" : "", host, strchr(host, ':') != NULL ? "]" : "");
	if (strcmp(port, "80") != 0)
		snprintf(u->host + strlen(u->host), sizeof u->host -
		    strlen(u->host), ":%s", port);
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "url: %s: %s", host, gai_strerror(e));
		return -1;
	}
	memcpy(&u->addr, res->ai_addr, res->ai_addrlen);
	u->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* Waits for events on fd until the deadline; 0, or -1 on timeout. */
static int
wait_fd(int fd, short events, long long deadline)
{
	struct pollfd	pfd = { fd, events, 0 };
	long long	left;
	int		r;

	for (;;) {
		if ((left = deadline - mono_ms()) <= 0)
			return -1;
		r = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
		if (r > 0)
			return 0;
		if (r == -1 && errno != EINTR)
			return -1;
	}
}

/* Status code and the end of the head, once the head is complete. */
static int
parse_head(const char *buf, size_t len, int *status, char *phrase,
    size_t phlen, size_t *bodyoff, long long *clen, int *chunked)
{
	const char	*end = NULL, *line, *nl;
	size_t		 i, n;

	for (i = 0; i + 3 < len; i++)
		if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
			end = buf + i;
			*bodyoff = i + 4;
			break;
		}
	if (end == NULL)
		return 0;
	if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ' ||
	    buf[9] < '1' || buf[9] > '5' || buf[10] < '0' || buf[10] > '9' ||
	    buf[11] < '0' || buf[11] > '9')
		return -1;
	*status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + buf[11] - '0';
	nl = memchr(buf, '\r', (size_t)(end - buf) + 1);
	n = nl != NULL && nl > buf + 13 ? (size_t)(nl - buf - 13) : 0;
	text_quote(buf + 13, n, phrase, phlen);
	*clen = -1;
	*chunked = 0;
	for (line = nl + 2; line < end; line = nl + 2) {
		nl = memchr(line, '\r', (size_t)(end - line) + 1);
		n = (size_t)(nl - line);
		if (n > 15 && strncasecmp(line, "content-length:", 15) == 0)
			*clen = strtoll(line + 15, NULL, 10);
		else if (n > 18 && strncasecmp(line, "transfer-encoding:",
		    18) == 0 && memmem(line, n, "chunked", 7) != NULL)
			*chunked = 1;
	}
	return 1;
}

int
prom_http_get(const struct prom_url *u, unsigned timeout_ms, size_t max,
    char **body, size_t *len, char *err, size_t errlen)
{
	char		 req[1536], phrase[128], *buf = NULL, *nb;
	size_t		 blen = 0, cap = 0, off = 0, bodyoff = 0, rlen;
	long long	 deadline = mono_ms() + timeout_ms, clen = -1;
	ssize_t		 n;
	int		 fd, status = 0, have_head = 0, chunked = 0, e;
	socklen_t	 sl = sizeof e;

	*body = NULL;
	*len = 0;
	rlen = (size_t)snprintf(req, sizeof req, "GET %s HTTP/1.0\r\n"
	    "Host: %s\r\nAccept: text/plain;version=0.0.4;q=1,*/*;q=0.1\r\n"
	    "User-Agent: scope-plugin-host-prometheus\r\n"
	    "Connection: close\r\n\r\n", u->path, u->host);
	if (rlen >= sizeof req) {
		snprintf(err, errlen, "request too long");
		return -1;
	}
	fd = socket(u->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&u->addr, u->addrlen) == -1) {
		if (errno != EINPROGRESS && errno != EAGAIN) {
			snprintf(err, errlen, "connect: %s", strerror(errno));
			goto fail;
		}
		if (wait_fd(fd, POLLOUT, deadline) != 0) {
			snprintf(err, errlen, "connect: timed out after %u ms",
			    timeout_ms);
			goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) != 0 ||
		    e != 0) {
			snprintf(err, errlen, "connect: %s", strerror(e));
			goto fail;
		}
	}
	while (off < rlen) {
		n = send(fd, req + off, rlen - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			snprintf(err, errlen, "send: %s", strerror(errno));
			goto fail;
		}
		if (wait_fd(fd, POLLOUT, deadline) != 0) {
			snprintf(err, errlen, "no answer within %u ms",
			    timeout_ms);
			goto fail;
		}
	}
	for (;;) {
		if (blen + 65536 + 1 > cap) {
			cap = cap == 0 ? 131072 : cap * 2;
			if ((nb = realloc(buf, cap)) == NULL) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			buf = nb;
		}
		n = recv(fd, buf + blen, 65536, 0);
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(fd, POLLIN, deadline) != 0) {
				snprintf(err, errlen, "%s within %u ms",
				    have_head ? "answer not complete" :
				    "no answer", timeout_ms);
				goto fail;
			}
			continue;
		}
		if (n == -1) {
			snprintf(err, errlen, "recv: %s", strerror(errno));
			goto fail;
		}
		blen += (size_t)n;
		if (!have_head) {
			have_head = parse_head(buf, blen, &status, phrase,
			    sizeof phrase, &bodyoff, &clen, &chunked);
			if (have_head == -1) {
				snprintf(err, errlen, "the answer is not HTTP");
				goto fail;
			}
			if (have_head == 0 && blen > HEAD_MAX) {
				snprintf(err, errlen, "answer head larger than "
				    "%d bytes", HEAD_MAX);
				goto fail;
			}
			if (have_head == 0 && n == 0) {
				snprintf(err, errlen, blen == 0 ? "connection "
				    "closed without an answer" : "the answer "
				    "is not HTTP");
				goto fail;
			}
			if (have_head && status != 200) {
				snprintf(err, errlen, "HTTP %d %s", status,
				    phrase);
				goto fail;
			}
			if (have_head && chunked) {
				snprintf(err, errlen, "chunked answer to an "
				    "HTTP/1.0 request");
				goto fail;
			}
		}
		if (have_head && blen - bodyoff > max) {
			snprintf(err, errlen, "answer larger than %zu bytes",
			    max);
			goto fail;
		}
		if (have_head && clen >= 0 && (long long)(blen - bodyoff) >=
		    clen) {
			blen = bodyoff + (size_t)clen;
			break;
		}
		if (n == 0) {
			if (clen >= 0) {
				snprintf(err, errlen, "connection closed after "
				    "%zu of %lld bytes", blen - bodyoff, clen);
				goto fail;
			}
			break;
		}
	}
	close(fd);
	memmove(buf, buf + bodyoff, blen - bodyoff);
	*len = blen - bodyoff;
	buf[*len] = '\0';
	*body = buf;
	return 0;
fail:
	free(buf);
	close(fd);
	return -1;
}
