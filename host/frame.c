/*
 * frame.c - frame one collect() into one complete report, or into nothing.
 *
 * The report path runs one way: the module's generator calls go through
 * the yajl wrappers (yajl-wrap.c) into the print callback here, which
 * stores the bytes and follows them with a small scanner for the nesting
 * depth and the top-level keys.  After collect() returns, the framer asks
 * the wrapper for the generator's first fault; with the scanner's view
 * that lets it refuse anything but a balanced object without a Plugins
 * key of its own, then append the host's Plugins entry and the closing
 * brace.  On any fault the buffer is emptied: never half a document.
 * The same code frames reports in the worker, in test/modrun (the golden
 * tests) and in test/bench/modcat.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

struct reporter {
	const struct module	*mod;
	struct worker_stats	*stats;
	yajl_gen		 gen;
	struct evbuffer		*out;		/* scratch: moved out on success */

	/* Byte scanner over the printed JSON. */
	int			 depth;
	int			 in_string;
	int			 escaped;
	int			 expect_key;	/* at depth 1, next string is a key */
	int			 capturing;	/* copying a top-level key */
	int			 pending_value;	/* top-level key written, no value yet */
	unsigned		 top_keys;	/* top-level keys written */
	size_t			 keylen;
	char			 key[16];
	unsigned		 plugins_keys;
	int			 oom;

	uint64_t		 last_us;

	/* "Plugins":[...]} as bytes: the same for every report of a module. */
	char			*tail;
	size_t			 tail_len;

	int			 too_big;	/* over REPORT_MAX */
	size_t			 staged;
	char			 stage[16384];
};

static void	reporter_make_tail(struct reporter *);

static void
scan_bytes(struct reporter *r, const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		char	c = s[i];

		if (r->in_string) {
			/* Most bytes are string contents: skip them quickly. */
			if (!r->escaped && !r->capturing) {
				while (i < len && s[i] != '"' && s[i] != '\\')
					i++;
				if (i == len)
					break;
				c = s[i];
			}
			if (r->escaped)
				r->escaped = 0;
			else if (c == '\\')
				r->escaped = 1;
			else if (c == '"') {
				r->in_string = 0;
				if (r->capturing) {
					r->capturing = 0;
					r->pending_value = 1;
					r->top_keys++;
					if (r->keylen == 7 &&
					    memcmp(r->key, "Plugins", 7) == 0)
						r->plugins_keys++;
				}
				continue;
			}
			if (r->capturing) {
				if (r->keylen < sizeof r->key)
					r->key[r->keylen] = c;
				r->keylen++;
			}
			continue;
		}
		switch (c) {
		case '"':
			r->in_string = 1;
			if (r->depth == 1 && r->expect_key) {
				r->capturing = 1;
				r->keylen = 0;
				r->expect_key = 0;
			} else if (r->depth == 1)
				r->pending_value = 0;
			break;
		case '{':
			if (r->depth == 1)
				r->pending_value = 0;
			r->depth++;
			if (r->depth == 1)
				r->expect_key = 1;
			break;
		case '[':
			if (r->depth == 1)
				r->pending_value = 0;
			r->depth++;
			break;
		case '}':
		case ']':
			r->depth--;
			break;
		case ',':
			if (r->depth == 1)
				r->expect_key = 1;
			break;
		case ':': case ' ': case '\t': case '\n': case '\r':
			break;
		default:
			if (r->depth == 1)
				r->pending_value = 0;
			break;
		}
	}
}

/* Scope's probe refuses bodies over 50 MiB (maxResponseBytes). */
#define REPORT_MAX (50 * 1024 * 1024)

static void
stage_flush(struct reporter *r)
{
	/* One pass of the scanner over the batch, not one per token. */
	scan_bytes(r, r->stage, r->staged);
	/* Past the limit, stop storing: the report is refused anyway. */
	if (r->staged > 0 && !r->too_big) {
		if (evbuffer_get_length(r->out) + r->staged > REPORT_MAX) {
			r->too_big = 1;
			evbuffer_drain(r->out, evbuffer_get_length(r->out));
		} else if (evbuffer_add(r->out, r->stage, r->staged) != 0)
			r->oom = 1;
	}
	r->staged = 0;
}

/*
 * yajl prints token by token (a quote, a key, a colon...): gather them in
 * a flat buffer, an evbuffer_add() per token costs more than the JSON.
 */
static void
print_cb(void *ctx, const char *s, size_t len)
{
	struct reporter	*r = ctx;

	if (len > sizeof r->stage - r->staged) {
		stage_flush(r);
		if (len >= sizeof r->stage) {
			scan_bytes(r, s, len);
			if (evbuffer_get_length(r->out) + len > REPORT_MAX) {
				r->too_big = 1;
				evbuffer_drain(r->out, evbuffer_get_length(r->out));
			} else if (!r->too_big && evbuffer_add(r->out, s, len) != 0)
				r->oom = 1;
			return;
		}
	}
	/* Most tokens are a byte or two: a call to memcpy costs more. */
	if (len <= 8) {
		char	*d = r->stage + r->staged;
		size_t	 i;

		for (i = 0; i < len; i++)
			d[i] = s[i];
	} else
		memcpy(r->stage + r->staged, s, len);
	r->staged += len;
}

struct reporter *
reporter_new(const struct module *mod, struct worker_stats *stats)
{
	struct reporter	*r;

	yajl_wrap_init();
	r = xcalloc(1, sizeof *r);
	if ((r->out = evbuffer_new()) == NULL)
		fatal("evbuffer_new: out of memory");
	r->mod = mod;
	r->stats = stats;
	if ((r->gen = yajl_gen_alloc(NULL)) == NULL)
		fatal("yajl_gen_alloc: out of memory");
	if (!yajl_gen_config(r->gen, yajl_gen_print_callback, print_cb, r) ||
	    !yajl_gen_config(r->gen, yajl_gen_validate_utf8, 1))
		fatal("yajl_gen_config failed");
	yajl_wrap_watch(r->gen);
	reporter_make_tail(r);
	return r;
}

void
reporter_free(struct reporter *r)
{
	if (r == NULL)
		return;
	yajl_wrap_unwatch(r->gen);
	yajl_gen_free(r->gen);
	evbuffer_free(r->out);
	free(r->tail);
	free(r);
}

uint64_t
reporter_last_us(const struct reporter *r)
{
	return r->last_us;
}

static void
gen_str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

/*
 * The one Plugins entry Scope requires: the probe takes a report only with
 * exactly one entry whose id matches the socket's (docs/ARCHITECTURE.md,
 * "What Scope's probe expects" 2).
 */
static void
gen_plugins(yajl_gen g, const struct module *m)
{
	gen_str(g, "Plugins");
	yajl_gen_array_open(g);
	yajl_gen_map_open(g);
	gen_str(g, "id");
	gen_str(g, m->id);
	gen_str(g, "label");
	gen_str(g, m->label);
	gen_str(g, "description");
	gen_str(g, m->description != NULL ? m->description : "");
	gen_str(g, "interfaces");
	yajl_gen_array_open(g);
	gen_str(g, "reporter");
	if (m->control != NULL)
		gen_str(g, "controller");
	yajl_gen_array_close(g);
	gen_str(g, "api_version");
	gen_str(g, "1");
	yajl_gen_map_close(g);
	yajl_gen_array_close(g);
}

/*
 * Renders the Plugins entry and the closing brace once, through a
 * generator of its own (so the escaping is yajl's), to append as bytes to
 * every report instead of a score of generator calls per poll.
 */
static void
reporter_make_tail(struct reporter *r)
{
	yajl_gen		 g;
	const unsigned char	*buf;
	size_t			 len;

	if ((g = yajl_gen_alloc(NULL)) == NULL)
		fatal("yajl_gen_alloc: out of memory");
	yajl_gen_map_open(g);
	gen_plugins(g, r->mod);
	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok || len < 2)
		fatal("rendering the Plugins entry failed");
	/* Drop the leading "{": the tail continues the module's object. */
	r->tail_len = len - 1;
	r->tail = xmalloc(r->tail_len);
	memcpy(r->tail, buf + 1, r->tail_len);
	yajl_gen_free(g);
}

static void
stats_record(struct worker_stats *st, uint64_t us)
{
	unsigned	b = 0;
	uint64_t	v = us;

	while (v > 1 && b < STATS_BUCKETS - 1) {
		v >>= 1;
		b++;
	}
	__atomic_store_n(&st->collect_start_ns, 0, __ATOMIC_RELEASE);
	st->collects++;
	st->collect_us_last = us;
	if (us > st->collect_us_max)
		st->collect_us_max = us;
	st->collect_us_hist[b]++;
}

/*
 * Runs the module's collect() and appends a complete report to out.
 * Returns 0, or -1 with *cause set (out is then left as it was).
 */
int
reporter_build(struct reporter *r, struct evbuffer *out, char **cause)
{
	const struct module	*m = r->mod;
	const char		*fault;
	uint64_t		 start, end;
	int			 rc, status;

	evbuffer_drain(r->out, evbuffer_get_length(r->out));
	r->staged = 0;
	r->too_big = 0;
	r->depth = r->in_string = r->escaped = r->expect_key = 0;
	r->capturing = r->pending_value = 0;
	r->top_keys = 0;
	r->plugins_keys = 0;
	r->oom = 0;
	yajl_gen_reset(r->gen, NULL);
	yajl_wrap_clear(r->gen);

	yajl_gen_map_open(r->gen);
	start = now_ns();
	if (r->stats != NULL)
		__atomic_store_n(&r->stats->collect_start_ns, start,
		    __ATOMIC_RELEASE);
	rc = m->collect(m->state, r->gen);
	end = now_ns();
	r->last_us = (end - start) / 1000;
	if (r->stats != NULL)
		stats_record(r->stats, r->last_us);

	stage_flush(r);		/* brings the scanner up to date */
	if (rc != 0) {
		xasprintf(cause, "collect returned %d", rc);
		goto fail;
	}
	if ((fault = yajl_wrap_fault(r->gen, &status)) != NULL) {
		xasprintf(cause, "collect: %s: %s", fault,
		    yajl_wrap_strstatus(status));
		goto fail;
	}
	if (r->in_string || r->depth != 1) {
		if (r->depth < 1)
			xasprintf(cause, "collect closed the report object");
		else
			xasprintf(cause, "collect left the generator unbalanced "
			    "(%d container%s open)", r->depth - 1,
			    r->depth - 1 == 1 ? "" : "s");
		goto fail;
	}
	if (r->pending_value) {
		xasprintf(cause, "collect wrote a key without a value");
		goto fail;
	}
	if (r->plugins_keys != 0) {
		xasprintf(cause, "collect wrote its own \"Plugins\" key "
		    "(the host adds it)");
		goto fail;
	}
	/* A comma if the module wrote members, then Plugins and "}". */
	if (r->top_keys > 0)
		print_cb(r, ",", 1);
	print_cb(r, r->tail, r->tail_len);
	stage_flush(r);
	/* The tail is bytes, not generator calls: only the scanner sees it. */
	if (r->depth != 0 || r->plugins_keys != 1) {
		xasprintf(cause, "report framing failed: unbalanced");
		goto fail;
	}
	if (r->too_big) {
		xasprintf(cause, "report larger than Scope's limit of %d MiB",
		    REPORT_MAX / (1024 * 1024));
		goto fail;
	}
	if (r->oom) {
		xasprintf(cause, "out of memory building the report");
		goto fail;
	}
	if (evbuffer_add_buffer(out, r->out) != 0) {
		xasprintf(cause, "out of memory moving the report");
		evbuffer_drain(r->out, evbuffer_get_length(r->out));
		return -1;
	}
	return 0;

fail:
	r->staged = 0;
	evbuffer_drain(r->out, evbuffer_get_length(r->out));
	return -1;
}
