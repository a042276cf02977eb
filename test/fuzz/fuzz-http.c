/*
 * fuzz-http.c - libFuzzer target for http_parse_head() and http_dechunk().
 *
 * The input is a request stream.  Invariants: no read past len (ASan: the
 * fuzzer's buffer ends exactly there), head_len <= len, consumed <= len,
 * the body never exceeds max_body, errors carry a 4xx/5xx status and a
 * reason, path/probe_id are NUL-terminated; and both parsers are
 * self-delimiting: a result of DONE over n bytes is the same DONE when
 * given exactly those n bytes.  Pipelined requests are walked in turn.
 * The input as text is also made a reason phrase (what a module logged):
 * at most HTTP_REASON_MAX bytes of printable ASCII, no blank at either end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "host.h"

#define MAX_HEAD	8192
#define MAX_BODY	65536

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_error(int r, int status, const char *why)
{
	if (r == HTTP_ERROR && (status < 400 || status > 599 || why == NULL ||
	    *why == '\0'))
		abort();
	if (r != HTTP_ERROR && r != HTTP_DONE && r != HTTP_INCOMPLETE)
		abort();
}

/* Dechunk buf[0..len); returns bytes consumed on DONE, else 0. */
static size_t
dechunk(const char *buf, size_t len)
{
	struct evbuffer	*out, *again;
	size_t		 consumed = (size_t)-1, c2 = (size_t)-1, n;
	int		 status = 0, r, r2;
	const char	*why = NULL;

	if ((out = evbuffer_new()) == NULL || (again = evbuffer_new()) == NULL)
		abort();
	r = http_dechunk(buf, len, MAX_BODY, out, &consumed, &status, &why);
	check_error(r, status, why);
	n = 0;
	if (r == HTTP_DONE) {
		if (consumed > len || evbuffer_get_length(out) > MAX_BODY)
			abort();
		/* Exactly the consumed bytes decode to the same body. */
		char *copy = malloc(consumed ? consumed : 1);

		if (copy == NULL)
			abort();
		memcpy(copy, buf, consumed);
		r2 = http_dechunk(copy, consumed, MAX_BODY, again, &c2,
		    &status, &why);
		if (r2 != HTTP_DONE || c2 != consumed ||
		    evbuffer_get_length(again) != evbuffer_get_length(out))
			abort();
		if (evbuffer_get_length(out) > 0 &&
		    memcmp(evbuffer_pullup(out, -1), evbuffer_pullup(again, -1),
		    evbuffer_get_length(out)) != 0)
			abort();
		free(copy);
		n = consumed;
	}
	evbuffer_free(out);
	evbuffer_free(again);
	return n;
}

/* Parse one request at buf; returns its total length, or 0 to stop. */
static size_t
one_request(const char *buf, size_t len)
{
	struct http_request	 req, req2;
	int			 status = 0, r;
	const char		*why = NULL;
	size_t			 body;

	r = http_parse_head(buf, len, MAX_HEAD, &req, &status, &why);
	check_error(r, status, why);
	if (r != HTTP_DONE)
		return 0;
	if (req.head_len == 0 || req.head_len > len)
		abort();
	if (memchr(req.path, '\0', sizeof req.path) == NULL ||
	    memchr(req.probe_id, '\0', sizeof req.probe_id) == NULL)
		abort();
	if (req.minor != 0 && req.minor != 1)
		abort();

	/* The head alone parses the same. */
	char *head = malloc(req.head_len);

	if (head == NULL)
		abort();
	memcpy(head, buf, req.head_len);
	if (http_parse_head(head, req.head_len, MAX_HEAD, &req2, &status,
	    &why) != HTTP_DONE || req2.head_len != req.head_len ||
	    req2.method != req.method || req2.route != req.route ||
	    req2.content_length != req.content_length ||
	    req2.chunked != req.chunked ||
	    strcmp(req2.path, req.path) != 0)
		abort();
	free(head);

	if (req.chunked) {
		body = dechunk(buf + req.head_len, len - req.head_len);
		if (body == 0)
			return 0;
	} else {
		if (req.content_length > len - req.head_len)
			return 0;
		body = req.content_length;
	}
	return req.head_len + body;
}

/* A reason phrase from any text (a module's log line). */
static void
reason_phrase(const uint8_t *data, size_t size)
{
	char	*text, out[HTTP_REASON_MAX + 1];
	size_t	 n, i;

	if ((text = malloc(size + 1)) == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	n = http_reason_phrase(out, sizeof out, text);
	if (n > HTTP_REASON_MAX || strlen(out) != n ||
	    (n > 0 && (out[0] == ' ' || out[n - 1] == ' ')))
		abort();
	for (i = 0; i < n; i++)
		if (out[i] < ' ' || out[i] > '~')
			abort();
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*buf = (const char *)data;
	size_t		 off = 0, n;
	int		 i;

	/* Pipelined requests, as a connection would see them. */
	for (i = 0; i < 16 && off < size; i++) {
		if ((n = one_request(buf + off, size - off)) == 0)
			break;
		off += n;
	}
	/* The chunk decoder on its own, on the raw input. */
	(void)dechunk(buf, size);
	reason_phrase(data, size);
	return 0;
}
