/*
 * prom-http.h - fetch one URL over HTTP/1.0 for the prometheus module,
 * from a TCP address or a unix socket, within one deadline.
 */
#ifndef PLUGINS_PROM_HTTP_H
#define PLUGINS_PROM_HTTP_H

#include <stddef.h>

#include <sys/socket.h>
#include <sys/un.h>

/* A parsed target: where to connect and what to ask for. */
struct prom_url {
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	char			 host[300];	/* Host header */
	char			 path[1024];	/* request target */
};

/*
 * Parse "http://HOST[:PORT]/PATH" (HOST an IPv4 address, [IPv6] or a
 * name, PORT 80 by default) or "unix:/SOCKET[:/PATH]" (PATH /metrics by
 * default).  Names are resolved here, once.  Returns 0, or -1 with a
 * message in err.
 */
int	prom_url_parse(const char *url, struct prom_url *u, char *err,
	    size_t errlen);

/*
 * GET u's path and wait at most timeout_ms for the whole answer.  On 200
 * returns 0 with the body in *body (malloc'ed, NUL-terminated, *len
 * bytes, at most max); otherwise -1 with the reason in err: connection
 * refused, timed out, status and reason phrase, body too large, not
 * HTTP.
 */
int	prom_http_get(const struct prom_url *u, unsigned timeout_ms,
	    size_t max, char **body, size_t *len, char *err, size_t errlen);

#endif
