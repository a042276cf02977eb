/*
 * http-test.c - cases for the request parser (host/http.c): the probe's
 * requests, the other valid forms, pipelining, the limits and malformed
 * input, each with the exact verdict (DONE with the fields it must set,
 * INCOMPLETE, or ERROR with the status to answer).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "unit.h"

#define MAX_HEAD 8192
#define MAX_BODY 65536

struct hcase {
	const char	*name;
	const char	*in;
	int		 result;	/* HTTP_DONE, HTTP_INCOMPLETE, HTTP_ERROR */
	int		 status;	/* for HTTP_ERROR */
	enum http_method method;
	enum http_route	 route;
	int		 keep_alive;
	size_t		 content_length;
	int		 chunked;
	const char	*probe_id;	/* NULL: "" */
};

#define DONE(n, in, m, r, ka, cl, ch, pid) \
	{ n, in, HTTP_DONE, 0, m, r, ka, cl, ch, pid }
#define ERR(n, in, st) \
	{ n, in, HTTP_ERROR, st, HTTP_OTHER, ROUTE_OTHER, 0, 0, 0, NULL }
#define MORE(n, in) \
	{ n, in, HTTP_INCOMPLETE, 0, HTTP_OTHER, ROUTE_OTHER, 0, 0, 0, NULL }

static const struct hcase cases[] = {
	/* What Scope's probe sends (Go net/http over a unix socket). */
	DONE("probe-report", "GET /report?probe_id=5f2a9c HTTP/1.1\r\n"
	    "Host: plugin\r\nUser-Agent: Go-http-client/1.1\r\n"
	    "Accept-Encoding: gzip\r\n\r\n",
	    HTTP_GET, ROUTE_REPORT, 1, 0, 0, "5f2a9c"),
	DONE("probe-control", "POST /control HTTP/1.1\r\nHost: plugin\r\n"
	    "Content-Length: 84\r\nContent-Type: application/json\r\n\r\n",
	    HTTP_POST, ROUTE_CONTROL, 1, 84, 0, NULL),
	DONE("head", "HEAD /report HTTP/1.1\r\n\r\n",
	    HTTP_HEAD, ROUTE_REPORT, 1, 0, 0, NULL),
	DONE("http10-close", "GET /report HTTP/1.0\r\n\r\n",
	    HTTP_GET, ROUTE_REPORT, 0, 0, 0, NULL),
	DONE("http10-keep-alive", "GET /report HTTP/1.0\r\n"
	    "Connection: Keep-Alive\r\n\r\n",
	    HTTP_GET, ROUTE_REPORT, 1, 0, 0, NULL),
	DONE("http11-close", "GET /report HTTP/1.1\r\nConnection: close\r\n\r\n",
	    HTTP_GET, ROUTE_REPORT, 0, 0, 0, NULL),
	DONE("bare-lf", "GET /report HTTP/1.1\nHost: x\n\n",
	    HTTP_GET, ROUTE_REPORT, 1, 0, 0, NULL),
	DONE("leading-crlf", "\r\n\r\nGET /report HTTP/1.1\r\n\r\n",
	    HTTP_GET, ROUTE_REPORT, 1, 0, 0, NULL),
	DONE("absolute-form", "GET http://plugin/report?probe_id=ab HTTP/1.1\r\n"
	    "\r\n", HTTP_GET, ROUTE_REPORT, 1, 0, 0, "ab"),
	DONE("absolute-no-path", "GET http://plugin HTTP/1.1\r\n\r\n",
	    HTTP_GET, ROUTE_OTHER, 1, 0, 0, NULL),
	DONE("other-path", "GET /reports HTTP/1.1\r\n\r\n",
	    HTTP_GET, ROUTE_OTHER, 1, 0, 0, NULL),
	DONE("other-method", "DELETE /report HTTP/1.1\r\n\r\n",
	    HTTP_OTHER, ROUTE_REPORT, 1, 0, 0, NULL),
	DONE("probe-id-filtered", "GET /report?x=1&probe_id=a\"b<c&y HTTP/1.1"
	    "\r\n\r\n", HTTP_GET, ROUTE_REPORT, 1, 0, 0, "abc"),
	DONE("chunked", "POST /control HTTP/1.1\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n",
	    HTTP_POST, ROUTE_CONTROL, 1, 0, 1, NULL),
	DONE("header-case-and-space", "POST /control HTTP/1.1\r\n"
	    "content-length: \t 12 \r\n\r\n",
	    HTTP_POST, ROUTE_CONTROL, 1, 12, 0, NULL),
	DONE("same-content-length-twice", "POST /control HTTP/1.1\r\n"
	    "Content-Length: 5\r\nContent-Length: 5\r\n\r\n",
	    HTTP_POST, ROUTE_CONTROL, 1, 5, 0, NULL),

	MORE("empty", ""),
	MORE("partial-line", "GET /rep"),
	MORE("no-blank-line", "GET /report HTTP/1.1\r\nHost: x\r\n"),
	MORE("half-terminator", "GET /report HTTP/1.1\r\n\r"),

	ERR("garbage-before", "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n", 400),
	ERR("binary-method-early", "\x16\x03\x01", 400),
	ERR("no-target", "GET HTTP/1.1\r\n\r\n", 400),
	ERR("double-space", "GET  /report HTTP/1.1\r\n\r\n", 400),
	ERR("no-version", "GET /report\r\n\r\n", 400),
	ERR("http2", "GET /report HTTP/2.0\r\n\r\n", 505),
	ERR("http12", "GET /report HTTP/1.2\r\n\r\n", 505),
	ERR("not-http", "GET /report FTP/1.1\r\n\r\n", 400),
	ERR("relative-target", "GET report HTTP/1.1\r\n\r\n", 400),
	ERR("method-too-long", "GETGETGETGETGETGETGET /report HTTP/1.1\r\n\r\n",
	    400),
	ERR("folding", "GET /report HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400),
	ERR("no-colon", "GET /report HTTP/1.1\r\nHost plugin\r\n\r\n", 400),
	ERR("empty-name", "GET /report HTTP/1.1\r\n: x\r\n\r\n", 400),
	ERR("space-in-name", "GET /report HTTP/1.1\r\nHo st: x\r\n\r\n", 400),
	ERR("ctl-in-value", "GET /report HTTP/1.1\r\nX: a\x01b\r\n\r\n", 400),
	ERR("bad-content-length", "POST /control HTTP/1.1\r\n"
	    "Content-Length: 1x\r\n\r\n", 400),
	ERR("negative-content-length", "POST /control HTTP/1.1\r\n"
	    "Content-Length: -1\r\n\r\n", 400),
	ERR("huge-content-length", "POST /control HTTP/1.1\r\n"
	    "Content-Length: 1234567890123456\r\n\r\n", 400),
	ERR("conflicting-content-length", "POST /control HTTP/1.1\r\n"
	    "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
	ERR("smuggling", "POST /control HTTP/1.1\r\nContent-Length: 5\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 400),
	ERR("gzip-te", "POST /control HTTP/1.1\r\n"
	    "Transfer-Encoding: gzip\r\n\r\n", 501),
	ERR("te-twice", "POST /control HTTP/1.1\r\nTransfer-Encoding: chunked"
	    "\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
	ERR("chunked-http10", "POST /control HTTP/1.0\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 400),
	ERR("expect-other", "POST /control HTTP/1.1\r\nExpect: 200-ok\r\n\r\n",
	    417),
};

static void
test_cases(void)
{
	struct http_request	 req;
	const struct hcase	*c;
	const char		*why;
	char			 detail[640];
	size_t			 i;
	int			 r, status, ok;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		c = &cases[i];
		status = 0;
		why = NULL;
		r = http_parse_head(c->in, strlen(c->in), MAX_HEAD, &req,
		    &status, &why);
		ok = r == c->result;
		if (ok && r == HTTP_ERROR)
			ok = status == c->status && why != NULL && *why != '\0';
		if (ok && r == HTTP_DONE)
			ok = req.method == c->method && req.route == c->route &&
			    req.keep_alive == c->keep_alive &&
			    req.content_length == c->content_length &&
			    req.chunked == c->chunked &&
			    req.head_len == strlen(c->in) &&
			    strcmp(req.probe_id, c->probe_id != NULL ?
			    c->probe_id : "") == 0;
		snprintf(detail, sizeof detail, "result %d status %d (%s) "
		    "method %d route %d keep-alive %d length %zu probe_id '%s'",
		    r, status, why != NULL ? why : "-", (int)req.method,
		    (int)req.route, req.keep_alive, req.content_length,
		    req.probe_id);
		result(c->name, ok, ok ? NULL : detail);
	}
}

/* Requests back to back in one read: each head ends where it says. */
static void
test_pipelining(void)
{
	static const char	 stream[] =
	    "GET /report?probe_id=a1 HTTP/1.1\r\nHost: p\r\n\r\n"
	    "POST /control HTTP/1.1\r\nContent-Length: 4\r\n\r\n{}{}"
	    "GET /report HTTP/1.1\r\nConnection: close\r\n\r\n"
	    "GET /rep";
	struct http_request	 req;
	const char		*why, *p = stream;
	size_t			 left = sizeof stream - 1;
	int			 status, r;

	r = http_parse_head(p, left, MAX_HEAD, &req, &status, &why);
	result("pipeline-1", r == HTTP_DONE && req.route == ROUTE_REPORT &&
	    strcmp(req.probe_id, "a1") == 0 && req.head_len == 45, NULL);
	p += req.head_len;
	left -= req.head_len;
	r = http_parse_head(p, left, MAX_HEAD, &req, &status, &why);
	result("pipeline-2", r == HTTP_DONE && req.method == HTTP_POST &&
	    req.content_length == 4 && strncmp(p + req.head_len, "{}{}", 4) == 0,
	    NULL);
	p += req.head_len + req.content_length;
	left -= req.head_len + req.content_length;
	r = http_parse_head(p, left, MAX_HEAD, &req, &status, &why);
	result("pipeline-3", r == HTTP_DONE && req.keep_alive == 0 &&
	    req.probe_id[0] == '\0', NULL);
	p += req.head_len;
	left -= req.head_len;
	r = http_parse_head(p, left, MAX_HEAD, &req, &status, &why);
	result("pipeline-partial-tail", r == HTTP_INCOMPLETE && left == 8, NULL);
}

/* The head limit, the path and query bounds. */
static void
test_limits(void)
{
	struct http_request	 req;
	const char		*why;
	char			*buf;
	size_t			 n;
	int			 status = 0, r;

	if ((buf = malloc(2 * MAX_HEAD)) == NULL) {
		result("limits-malloc", 0, "out of memory");
		return;
	}
	/* A head that never ends within the limit: 431, not INCOMPLETE. */
	n = (size_t)snprintf(buf, 2 * MAX_HEAD, "GET /report HTTP/1.1\r\n");
	while (n < MAX_HEAD + 10)
		n += (size_t)snprintf(buf + n, 2 * MAX_HEAD - n, "X-Pad: x\r\n");
	r = http_parse_head(buf, n, MAX_HEAD, &req, &status, &why);
	result("head-over-limit", r == HTTP_ERROR && status == 431, NULL);
	/* Just below the limit it is still waiting for more. */
	r = http_parse_head(buf, MAX_HEAD - 1, MAX_HEAD, &req, &status, &why);
	result("head-under-limit", r == HTTP_INCOMPLETE, NULL);
	/* A complete head past the limit is refused too. */
	memcpy(buf + n, "\r\n", 2);
	r = http_parse_head(buf, n + 2, MAX_HEAD, &req, &status, &why);
	result("complete-head-over-limit", r == HTTP_ERROR && status == 431,
	    NULL);

	/* A long path is kept truncated and NUL-terminated, not overrun. */
	n = (size_t)snprintf(buf, 2 * MAX_HEAD, "GET /");
	memset(buf + n, 'a', 1000);
	n += 1000;
	n += (size_t)snprintf(buf + n, 2 * MAX_HEAD - n,
	    "?probe_id=%0600d HTTP/1.1\r\n\r\n", 7);
	r = http_parse_head(buf, n, MAX_HEAD, &req, &status, &why);
	result("long-path-and-probe-id", r == HTTP_DONE &&
	    req.route == ROUTE_OTHER &&
	    strlen(req.path) == HTTP_PATH_MAX - 1 &&
	    strlen(req.probe_id) == HTTP_QUERY_MAX - 1, NULL);
	free(buf);
}

struct dcase {
	const char	*name;
	const char	*in;
	int		 result;
	int		 status;
	const char	*body;		/* for HTTP_DONE */
	size_t		 consumed;	/* for HTTP_DONE; 0: all of in */
};

static const struct dcase dcases[] = {
	{ "one-chunk", "4\r\n{}{}\r\n0\r\n\r\n", HTTP_DONE, 0, "{}{}", 0 },
	{ "two-chunks-ext", "2;x=y\r\n{}\r\nA\r\n0123456789\r\n0\r\n\r\n",
	    HTTP_DONE, 0, "{}0123456789", 0 },
	{ "trailers", "1\r\na\r\n0\r\nX-T: 1\r\n\r\n", HTTP_DONE, 0, "a", 0 },
	{ "bare-lf", "1\na\n0\n\n", HTTP_DONE, 0, "a", 0 },
	{ "pipelined-after", "1\r\na\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n",
	    HTTP_DONE, 0, "a", 11 },
	{ "partial-size", "1", HTTP_INCOMPLETE, 0, NULL, 0 },
	{ "partial-data", "5\r\nab", HTTP_INCOMPLETE, 0, NULL, 0 },
	{ "no-last-chunk", "1\r\na\r\n", HTTP_INCOMPLETE, 0, NULL, 0 },
	{ "no-size", "\r\na\r\n", HTTP_ERROR, 400, NULL, 0 },
	{ "bad-size", "g\r\na\r\n", HTTP_ERROR, 400, NULL, 0 },
	{ "bad-terminator", "1\r\naXY0\r\n\r\n", HTTP_ERROR, 400, NULL, 0 },
	{ "size-overflow", "123456789\r\n", HTTP_ERROR, 413, NULL, 0 },
	{ "over-max-body", "10001\r\n", HTTP_ERROR, 413, NULL, 0 },
};

static void
test_dechunk(void)
{
	struct evbuffer		*out;
	const struct dcase	*c;
	const char		*why;
	size_t			 i, consumed, len;
	int			 r, status, ok;

	for (i = 0; i < sizeof dcases / sizeof dcases[0]; i++) {
		c = &dcases[i];
		if ((out = evbuffer_new()) == NULL) {
			result(c->name, 0, "evbuffer_new failed");
			continue;
		}
		consumed = 0;
		status = 0;
		r = http_dechunk(c->in, strlen(c->in), MAX_BODY, out,
		    &consumed, &status, &why);
		ok = r == c->result;
		if (ok && r == HTTP_ERROR)
			ok = status == c->status;
		if (ok && r == HTTP_DONE) {
			len = evbuffer_get_length(out);
			ok = len == strlen(c->body) &&
			    memcmp(evbuffer_pullup(out, -1), c->body, len) == 0 &&
			    consumed == (c->consumed ? c->consumed :
			    strlen(c->in));
		}
		result(c->name, ok, ok ? NULL : "wrong verdict");
		evbuffer_free(out);
	}
}

/* What out holds, as a string the caller frees; *len its length. */
static char *
out_text(struct evbuffer *out, size_t *len)
{
	char	*s;

	*len = evbuffer_get_length(out);
	if ((s = malloc(*len + 1)) == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	memcpy(s, evbuffer_pullup(out, -1), *len);
	s[*len] = '\0';
	return s;
}

/* The framing of an answer: status line, length, connection. */
static void
test_respond(void)
{
	struct evbuffer	*out, *body;
	char		*s;
	size_t		 len;

	if ((out = evbuffer_new()) == NULL || (body = evbuffer_new()) == NULL) {
		result("respond", 0, "evbuffer_new failed");
		return;
	}
	evbuffer_add(body, "{}", 2);
	http_respond(out, 200, NULL, "application/json", body, 1, 0, NULL);
	s = out_text(out, &len);
	result("respond-status-line", strncmp(s, "HTTP/1.1 200 OK\r\n", 17) == 0,
	    s);
	result("respond-length", strstr(s, "Content-Length: 2\r\n") != NULL, s);
	result("respond-body-last", len > 6 &&
	    strcmp(s + len - 6, "\r\n\r\n{}") == 0, s);
	result("reason-404", strcmp(http_reason(404), "Not Found") == 0, NULL);
	free(s);
	evbuffer_free(body);
	evbuffer_free(out);
}

/*
 * Reason phrases: what Scope shows in the plugin's tooltip must be one
 * printable ASCII line of at most HTTP_REASON_MAX bytes.
 */
static void
test_reason_phrase(void)
{
	static const struct {
		const char	*name, *in, *want;
	} rcases[] = {
		{ "reason-plain", "cannot read /sys/class/hwmon: permission denied",
		    "cannot read /sys/class/hwmon: permission denied" },
		{ "reason-crlf", "a\r\nHTTP/1.1 200 OK\r\n\r\nb",
		    "a HTTP/1.1 200 OK b" },
		{ "reason-blanks", "  \t lead\t\ttab  trail \v", "lead tab trail" },
		{ "reason-utf8", "temp\xc3\xa9rature \xe2\x82\xac \xf0\x9f\x94\xa5!",
		    "temp?rature ? ?!" },
		{ "reason-bad-bytes", "x\x80\xbfy\xffz\x7f", "xy?z" },
		{ "reason-controls", "a\x01" "b\x1b" "c", "a b c" },
		{ "reason-empty", " \r\n\t", "" },
	};
	char	 buf[HTTP_REASON_MAX + 1], big[HTTP_REASON_MAX * 2 + 1];
	char	 small[8];
	size_t	 i, n;

	for (i = 0; i < sizeof rcases / sizeof rcases[0]; i++) {
		n = http_reason_phrase(buf, sizeof buf, rcases[i].in);
		result(rcases[i].name, strcmp(buf, rcases[i].want) == 0 &&
		    n == strlen(rcases[i].want), buf);
	}
	/* Cut at HTTP_REASON_MAX bytes with "...", never mid-blank. */
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	n = http_reason_phrase(buf, sizeof buf, big);
	result("reason-cut", n == HTTP_REASON_MAX && strlen(buf) == n &&
	    strcmp(buf + n - 4, "x...") == 0, buf);
	memset(big, ' ', sizeof big - 1);
	big[0] = 'a';
	big[HTTP_REASON_MAX - 2] = 'b';
	big[HTTP_REASON_MAX + 5] = 'c';
	n = http_reason_phrase(buf, sizeof buf, big);
	result("reason-cut-blanks", strcmp(buf, "a b c") == 0, buf);
	memset(big, 'y', sizeof big - 1);
	big[HTTP_REASON_MAX - 3] = ' ';
	n = http_reason_phrase(buf, sizeof buf, big);
	result("reason-cut-no-blank-before-dots", n <= HTTP_REASON_MAX &&
	    strcmp(buf + n - 4, "y...") == 0, buf);
	/* A small buffer is respected. */
	n = http_reason_phrase(small, sizeof small, "abcdefghijkl");
	result("reason-small-buffer", n == 7 && strcmp(small, "abcd...") == 0,
	    small);
}

/* An error reply: the reason in the status line, the message in the body. */
static void
test_respond_error(void)
{
	struct evbuffer	*out;
	char		*s;
	size_t		 len;

	if ((out = evbuffer_new()) == NULL) {
		result("respond-error", 0, "evbuffer_new failed");
		return;
	}
	http_respond_error(out, 500, "cannot read\r\nX: y", "m",
	    "module m: cannot read\r\nX: y (collect returned -1)", 1, 0, NULL);
	s = out_text(out, &len);
	result("respond-error-status-line", strncmp(s,
	    "HTTP/1.1 500 cannot read X: y\r\nContent-Type:",
	    strlen("HTTP/1.1 500 cannot read X: y\r\nContent-Type:")) == 0, s);
	result("respond-error-body", strstr(s, "{\"error\":\"module m: cannot "
	    "read\\r\\nX: y (collect returned -1)\",\"module\":\"m\"}") != NULL, s);
	evbuffer_drain(out, len);
	http_respond_error(out, 503, " \r\n", NULL, "x", 0, 0, NULL);
	result("respond-error-standard-phrase", evbuffer_get_length(out) > 33 &&
	    memcmp(evbuffer_pullup(out, -1), "HTTP/1.1 503 Service Unavailable\r\n",
	    34) == 0, NULL);
	free(s);
	evbuffer_free(out);
}

int
main(void)
{
	test_cases();
	test_pipelining();
	test_reason_phrase();
	test_respond_error();
	test_limits();
	test_dechunk();
	test_respond();
	return unit_summary();
}
