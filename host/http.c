/*
 * http.c - HTTP/1.1 request parsing and response framing.  Pure functions
 * over memory, so that they can be unit-tested and fuzzed without I/O.
 *
 * We parse requests ourselves rather than use evhttp: the probe's requests
 * are tiny and uniform, a dedicated parser allocates nothing per request,
 * enforces our limits exactly, and is one small fuzzable function.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "host.h"

static int
is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Finds the end of the head: returns the offset just past the blank line. */
static size_t
find_head_end(const char *buf, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* Next line in [*pos, end): sets line and llen, without the (CR)LF. */
static int
next_line(const char *buf, size_t end, size_t *pos, const char **line,
    size_t *llen)
{
	const char	*nl;
	size_t		 n;

	if (*pos >= end)
		return 0;
	nl = memchr(buf + *pos, '\n', end - *pos);
	if (nl == NULL)
		return 0;
	n = (size_t)(nl - (buf + *pos));
	*line = buf + *pos;
	*pos += n + 1;
	if (n > 0 && (*line)[n - 1] == '\r')
		n--;
	*llen = n;
	return 1;
}

static int
token_in_list(const char *v, size_t vlen, const char *token)
{
	size_t	tlen = strlen(token), i = 0;

	while (i < vlen) {
		size_t	start, stop;

		while (i < vlen && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		start = i;
		while (i < vlen && v[i] != ',')
			i++;
		stop = i;
		while (stop > start && (v[stop - 1] == ' ' || v[stop - 1] == '\t'))
			stop--;
		if (stop - start == tlen && strncasecmp(v + start, token, tlen) == 0)
			return 1;
	}
	return 0;
}

static void
parse_target(const char *t, size_t tlen, struct http_request *req)
{
	const char	*q, *p;
	size_t		 plen, qlen;

	/* absolute-form: http://authority/path (RFC 9112 3.2.2) */
	if (tlen > 7 && strncasecmp(t, "http://", 7) == 0) {
		const char *slash = memchr(t + 7, '/', tlen - 7);
		if (slash == NULL) {
			t = "/";
			tlen = 1;
		} else {
			tlen -= (size_t)(slash - t);
			t = slash;
		}
	}
	q = memchr(t, '?', tlen);
	plen = q != NULL ? (size_t)(q - t) : tlen;
	memcpy(req->path, t, plen < HTTP_PATH_MAX ? plen : HTTP_PATH_MAX - 1);
	req->path[plen < HTTP_PATH_MAX ? plen : HTTP_PATH_MAX - 1] = '\0';
	if (plen == 7 && memcmp(t, "/report", 7) == 0)
		req->route = ROUTE_REPORT;
	else if (plen == 8 && memcmp(t, "/control", 8) == 0)
		req->route = ROUTE_CONTROL;
	else
		req->route = ROUTE_OTHER;
	if (q == NULL)
		return;

	/* The query is otherwise ignored; probe_id is kept for the SDK. */
	qlen = tlen - plen - 1;
	p = q + 1;
	while (qlen > 0) {
		const char	*amp = memchr(p, '&', qlen);
		size_t		 n = amp != NULL ? (size_t)(amp - p) : qlen;

		if (n > 9 && memcmp(p, "probe_id=", 9) == 0) {
			size_t	i, o = 0;
			for (i = 9; i < n && o < HTTP_QUERY_MAX - 1; i++) {
				unsigned char c = (unsigned char)p[i];
				/* Probe ids are hex; keep only harmless bytes. */
				if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
				    (c >= 'A' && c <= 'Z') || c == '-' || c == '_')
					req->probe_id[o++] = (char)c;
			}
			req->probe_id[o] = '\0';
		}
		if (amp == NULL)
			break;
		qlen -= n + 1;
		p = amp + 1;
	}
}

#define BAD(code, msg) do { *status = (code); *why = (msg); return HTTP_ERROR; } while (0)

/*
 * Parses the request line and headers at the start of buf.  Returns
 * HTTP_DONE (req filled, req->head_len bytes used), HTTP_INCOMPLETE, or
 * HTTP_ERROR with the status to answer and a reason.
 */
int
http_parse_head(const char *buf, size_t len, size_t max_head,
    struct http_request *req, int *status, const char **why)
{
	const char	*line, *sp1, *sp2;
	size_t		 end, pos = 0, llen, skip = 0, scan;
	int		 have_cl = 0, conn_close = 0, conn_keep = 0, te = 0;

	memset(req, 0, sizeof *req);
	/* RFC 9112 2.2: ignore empty lines before the request line. */
	while (skip < len && (buf[skip] == '\r' || buf[skip] == '\n'))
		skip++;
	if (skip > 8)
		BAD(400, "garbage before the request line");
	scan = len - skip;
	if (scan > max_head)
		scan = max_head;
	if ((end = find_head_end(buf + skip, scan)) == 0) {
		if (len - skip >= max_head)
			BAD(431, "request head too large");
		/* Fail early on a request line that cannot be HTTP. */
		for (pos = skip; pos < len && buf[pos] != ' '; pos++) {
			if (!is_tchar((unsigned char)buf[pos]))
				BAD(400, "malformed request line");
		}
		return HTTP_INCOMPLETE;
	}
	end += skip;
	pos = skip;

	if (!next_line(buf, end, &pos, &line, &llen) || llen == 0)
		BAD(400, "malformed request line");
	sp1 = memchr(line, ' ', llen);
	if (sp1 == NULL || sp1 == line || sp1 - line > 16)
		BAD(400, "malformed request line");
	for (const char *c = line; c < sp1; c++)
		if (!is_tchar((unsigned char)*c))
			BAD(400, "malformed method");
	sp2 = memchr(sp1 + 1, ' ', llen - (size_t)(sp1 + 1 - line));
	if (sp2 == NULL || sp2 == sp1 + 1)
		BAD(400, "malformed request line");
	if ((size_t)(line + llen - (sp2 + 1)) != 8 ||
	    memcmp(sp2 + 1, "HTTP/1.", 7) != 0) {
		if ((size_t)(line + llen - (sp2 + 1)) >= 5 &&
		    memcmp(sp2 + 1, "HTTP/", 5) == 0)
			BAD(505, "HTTP version not supported");
		BAD(400, "malformed request line");
	}
	if (sp2[8] == '1')
		req->minor = 1;
	else if (sp2[8] == '0')
		req->minor = 0;
	else
		BAD(505, "HTTP version not supported");
	for (const char *c = sp1 + 1; c < sp2; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c == 0x7f)
			BAD(400, "malformed request target");

	if (sp1 - line == 3 && memcmp(line, "GET", 3) == 0)
		req->method = HTTP_GET;
	else if (sp1 - line == 4 && memcmp(line, "HEAD", 4) == 0)
		req->method = HTTP_HEAD;
	else if (sp1 - line == 4 && memcmp(line, "POST", 4) == 0)
		req->method = HTTP_POST;
	else
		req->method = HTTP_OTHER;
	if (sp1[1] != '/' && (sp2 - sp1 - 1 < 8 ||
	    strncasecmp(sp1 + 1, "http://", 7) != 0)) {
		if (!(sp2 - sp1 - 1 == 1 && sp1[1] == '*'))
			BAD(400, "malformed request target");
	}
	parse_target(sp1 + 1, (size_t)(sp2 - sp1 - 1), req);

	while (next_line(buf, end, &pos, &line, &llen) && llen > 0) {
		const char	*colon, *v;
		size_t		 nlen, vlen;

		if (line[0] == ' ' || line[0] == '\t')
			BAD(400, "obsolete header line folding");
		colon = memchr(line, ':', llen);
		if (colon == NULL || colon == line)
			BAD(400, "malformed header");
		nlen = (size_t)(colon - line);
		for (size_t i = 0; i < nlen; i++)
			if (!is_tchar((unsigned char)line[i]))
				BAD(400, "malformed header name");
		v = colon + 1;
		vlen = llen - nlen - 1;
		while (vlen > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			vlen--;
		}
		while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		for (size_t i = 0; i < vlen; i++) {
			unsigned char c = (unsigned char)v[i];
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				BAD(400, "control character in header");
		}

		if (nlen == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
			size_t	cl = 0;

			if (vlen == 0 || vlen > 15)
				BAD(400, "bad Content-Length");
			for (size_t i = 0; i < vlen; i++) {
				if (v[i] < '0' || v[i] > '9')
					BAD(400, "bad Content-Length");
				cl = cl * 10 + (size_t)(v[i] - '0');
			}
			if (have_cl && cl != req->content_length)
				BAD(400, "conflicting Content-Length");
			have_cl = 1;
			req->content_length = cl;
		} else if (nlen == 17 &&
		    strncasecmp(line, "Transfer-Encoding", 17) == 0) {
			if (vlen == 7 && strncasecmp(v, "chunked", 7) == 0 && !te)
				req->chunked = 1;
			else
				BAD(501, "unsupported Transfer-Encoding");
			te = 1;
		} else if (nlen == 10 && strncasecmp(line, "Connection", 10) == 0) {
			if (token_in_list(v, vlen, "close"))
				conn_close = 1;
			if (token_in_list(v, vlen, "keep-alive"))
				conn_keep = 1;
		} else if (nlen == 6 && strncasecmp(line, "Expect", 6) == 0) {
			if (vlen == 12 && strncasecmp(v, "100-continue", 12) == 0)
				req->expect_continue = 1;
			else
				BAD(417, "unsupported Expect");
		}
	}
	/* Both framings at once is how requests are smuggled: refuse. */
	if (have_cl && req->chunked)
		BAD(400, "both Content-Length and Transfer-Encoding");
	if (req->minor == 0 && req->chunked)
		BAD(400, "chunked encoding in HTTP/1.0");
	if (req->minor == 1)
		req->keep_alive = !conn_close;
	else
		req->keep_alive = conn_keep && !conn_close;
	req->head_len = end;
	return HTTP_DONE;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes a complete chunked body at the start of buf into out.  Returns
 * HTTP_DONE with *consumed set, HTTP_INCOMPLETE (out may hold a partial
 * body: the caller discards it and calls again with more data), or
 * HTTP_ERROR with a status and reason.
 */
int
http_dechunk(const char *buf, size_t len, size_t max_body, struct evbuffer *out,
    size_t *consumed, int *status, const char **why)
{
	size_t	pos = 0, total = 0;

	for (;;) {
		const char	*line;
		size_t		 llen, size = 0, i;
		int		 digits = 0;

		if (!next_line(buf, len, &pos, &line, &llen)) {
			if (len - pos > 1024)
				BAD(400, "chunk size line too long");
			return HTTP_INCOMPLETE;
		}
		for (i = 0; i < llen && hexval(line[i]) >= 0; i++) {
			if (++digits > 8)
				BAD(413, "chunk too large");
			size = size * 16 + (size_t)hexval(line[i]);
		}
		if (digits == 0 || (i < llen && line[i] != ';' && line[i] != ' ' &&
		    line[i] != '\t'))
			BAD(400, "malformed chunk size");
		if (size == 0)
			break;
		if (size > max_body || total + size > max_body)
			BAD(413, "request body too large");
		if (len - pos < size + 1)
			return HTTP_INCOMPLETE;
		if (evbuffer_add(out, buf + pos, size) != 0)
			BAD(500, "out of memory");
		total += size;
		pos += size;
		if (buf[pos] == '\n')
			pos += 1;
		else if (len - pos < 2)
			return HTTP_INCOMPLETE;
		else if (buf[pos] == '\r' && buf[pos + 1] == '\n')
			pos += 2;
		else
			BAD(400, "malformed chunk terminator");
	}
	/* Trailers, ignored, up to the blank line. */
	for (;;) {
		const char	*line;
		size_t		 llen;

		if (!next_line(buf, len, &pos, &line, &llen)) {
			if (len - pos > 4096)
				BAD(431, "trailers too large");
			return HTTP_INCOMPLETE;
		}
		if (llen == 0)
			break;
	}
	*consumed = pos;
	return HTTP_DONE;
}

const char *
http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

/*
 * Writes text as a reason phrase into dst (size > 0): printable ASCII only
 * (a control character or a run of blanks becomes one space, each non-ASCII
 * UTF-8 sequence one '?'), no leading or trailing blank, at most
 * HTTP_REASON_MAX bytes (cut with "...").  Scope's probe copies the status
 * line into the plugin's status, which its UI shows in the tooltip, so this
 * is where a person reads why a plugin failed.  Returns the length; 0 when
 * nothing printable is left.
 */
size_t
http_reason_phrase(char *dst, size_t size, const char *text)
{
	const unsigned char	*p = (const unsigned char *)text;
	size_t			 max = size - 1, n = 0;
	int			 blank = 0, cut = 0;

	if (max > HTTP_REASON_MAX)
		max = HTTP_REASON_MAX;
	for (; *p != '\0'; p++) {
		char	c;

		if (*p >= 0x80 && *p < 0xc0)
			continue;	/* UTF-8 continuation: '?' already out */
		if (*p <= ' ' || *p == 0x7f) {
			blank = n > 0;
			continue;
		}
		c = *p >= 0x80 ? '?' : (char)*p;
		if (n + blank + 1 > max) {
			cut = 1;
			break;
		}
		if (blank)
			dst[n++] = ' ';
		blank = 0;
		dst[n++] = c;
	}
	if (cut && max >= 3) {
		n = n + 3 > max ? max - 3 : n;
		while (n > 0 && dst[n - 1] == ' ')
			n--;
		memcpy(dst + n, "...", 3);
		n += 3;
	}
	dst[n] = '\0';
	return n;
}

/*
 * Frames a response into out, moving body (may be NULL) after the head.
 * Content-Length is always sent: the probe needs it to reuse connections.
 * reason replaces the standard reason phrase (see http_reason_phrase);
 * NULL or nothing printable keeps the standard one.
 */
void
http_respond(struct evbuffer *out, int status, const char *reason,
    const char *content_type, struct evbuffer *body, int keep_alive,
    int head_only, const char *extra)
{
	size_t	len = body != NULL ? evbuffer_get_length(body) : 0;
	char	phrase[HTTP_REASON_MAX + 1];

	if (reason == NULL ||
	    http_reason_phrase(phrase, sizeof phrase, reason) == 0)
		snprintf(phrase, sizeof phrase, "%s", http_reason(status));
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n",
	    status, phrase, content_type, len,
	    keep_alive ? "" : "Connection: close\r\n",
	    extra != NULL ? extra : "");
	if (body == NULL)
		return;
	if (head_only)
		evbuffer_drain(body, len);
	else
		evbuffer_add_buffer(out, body);
}

/* {"error": "<message>", "module": "<id>"} */
void
http_error_body(struct evbuffer *body, const char *module, const char *message)
{
	evbuffer_add(body, "{\"error\":\"", 10);
	json_escape(body, message, strlen(message));
	evbuffer_add(body, "\"", 1);
	if (module != NULL) {
		evbuffer_add(body, ",\"module\":\"", 11);
		json_escape(body, module, strlen(module));
		evbuffer_add(body, "\"", 1);
	}
	evbuffer_add(body, "}", 1);
}

/* An error reply: reason in the status line, the full message in the body. */
void
http_respond_error(struct evbuffer *out, int status, const char *reason,
    const char *module, const char *message, int keep_alive, int head_only,
    const char *extra)
{
	struct evbuffer	*body;

	if ((body = evbuffer_new()) == NULL)
		fatal("evbuffer_new: out of memory");
	http_error_body(body, module, message);
	http_respond(out, status, reason, "application/json", body, keep_alive,
	    head_only, extra);
	evbuffer_free(body);
}
