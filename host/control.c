/*
 * control.c - parse a POST /control body (Scope's xfer.Request).
 *
 *	{"AppID":"app1","Control":"ctl-a","ControlArgs":null,
 *	 "NodeID":"h1;\u003chost\u003e"}
 *
 * Members may come in any order; yajl decodes \uXXXX escapes (surrogate
 * pairs included) and checks UTF-8.  Unknown members are skipped whatever
 * they hold, up to CONTROL_MAX_DEPTH levels; a known member of the wrong
 * type is an error, as it is for the probe's decoder.  A null string
 * reads as absent ("") as in Go; NodeID and Control are required and must
 * not be empty.  Strings must not contain NUL: modules get C strings.
 * The parse is a yajl stream with a depth counter: nothing recurses.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "host.h"

#define CONTROL_MAX_DEPTH	16
#define CONTROL_MAX_ARGS	64

struct control_request {
	struct sph_control	 ctl;	/* points into the members below */
	char			*app_id;
	char			*node_id;
	char			*control;
	char			**keys;
	char			**values;
	size_t			 nargs;
};

enum member {
	M_OTHER,
	M_APPID,
	M_NODEID,
	M_CONTROL,
	M_ARGS,
};

static const char *const member_names[] = {
	"", "AppID", "NodeID", "Control", "ControlArgs"
};

struct control_parser {
	struct control_request	*req;
	char			*cause;
	int			 depth;		/* open containers */
	int			 in_args;	/* depth 2 is ControlArgs */
	enum member		 member;	/* current top-level member */
	char			*argkey;	/* pending ControlArgs key */
	int			 seen_node;
	int			 seen_control;
};

static int
cfail(struct control_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int
cfail(struct control_parser *p, const char *fmt, ...)
{
	va_list	 ap;

	if (p->cause == NULL) {
		va_start(ap, fmt);
		if (xvasprintf(&p->cause, fmt, ap) == -1)
			p->cause = NULL;
		va_end(ap);
	}
	return 0;
}

/* Copy a decoded string, refusing embedded NULs. */
static char *
cstring(struct control_parser *p, const char *what, const unsigned char *s,
    size_t n)
{
	char	*c;

	if (memchr(s, '\0', n) != NULL) {
		cfail(p, "%s: contains a NUL character (\\u0000)", what);
		return NULL;
	}
	c = xmalloc(n + 1);
	memcpy(c, s, n);
	c[n] = '\0';
	return c;
}

static const char *
type_name(int t)
{
	switch (t) {
	case 'n':
		return "null";
	case 'b':
		return "boolean";
	case '#':
		return "number";
	case 's':
		return "string";
	case '{':
		return "object";
	default:
		return "array";
	}
}

/*
 * A value (scalar or container start) of type t at the current position.
 * Returns 1 to go on, 0 after failing, 2 if it is a string to keep.
 */
static int
value(struct control_parser *p, int t)
{
	if (p->depth == 0) {
		if (t != '{')
			return cfail(p, "request must be a JSON object, not %s",
			    type_name(t));
		return 1;
	}
	if (p->depth == 2 && p->in_args) {
		if (t == 's' || t == 'n')
			return 2;
		return cfail(p, "ControlArgs[\"%s\"]: expected string, got %s",
		    p->argkey, type_name(t));
	}
	if (p->depth > 1)
		return 1;	/* inside an ignored member */
	switch (p->member) {
	case M_OTHER:
		return 1;
	case M_ARGS:
		if (t == 'n' || t == '{')
			return 1;
		return cfail(p, "ControlArgs: expected object or null, got %s",
		    type_name(t));
	default:
		if (t == 's' || t == 'n')
			return 2;
		return cfail(p, "%s: expected string, got %s",
		    member_names[p->member], type_name(t));
	}
}

static void
set_arg(struct control_request *req, char *key, char *val)
{
	size_t	 i;

	/* A repeated key replaces the value, as decoding into a Go map. */
	for (i = 0; i < req->nargs; i++) {
		if (strcmp(req->keys[i], key) == 0) {
			free(key);
			free(req->values[i]);
			req->values[i] = val;
			return;
		}
	}
	req->keys[req->nargs] = key;
	req->values[req->nargs] = val;
	req->nargs++;
}

static int
arg_known(const struct control_request *req, const char *key)
{
	size_t	 i;

	for (i = 0; i < req->nargs; i++) {
		if (strcmp(req->keys[i], key) == 0)
			return 1;
	}
	return 0;
}

/* Store a string (or null: NULL) where the current position says. */
static int
store(struct control_parser *p, const unsigned char *s, size_t n)
{
	struct control_request	*req = p->req;
	char			*c = NULL, **slot;

	if (p->in_args) {
		if (s != NULL && (c = cstring(p, "ControlArgs value", s,
		    n)) == NULL)
			return 0;
		set_arg(req, p->argkey, c != NULL ? c : xstrdup(""));
		p->argkey = NULL;
		return 1;
	}
	if (s != NULL &&
	    (c = cstring(p, member_names[p->member], s, n)) == NULL)
		return 0;
	switch (p->member) {
	case M_APPID:
		slot = &req->app_id;
		break;
	case M_NODEID:
		slot = &req->node_id;
		p->seen_node = c != NULL;
		break;
	default:
		slot = &req->control;
		p->seen_control = c != NULL;
		break;
	}
	free(*slot);
	*slot = c;	/* last one wins, as in Go */
	return 1;
}

static void
clear_args(struct control_request *req)
{
	size_t	 i;

	for (i = 0; i < req->nargs; i++) {
		free(req->keys[i]);
		free(req->values[i]);
		req->keys[i] = req->values[i] = NULL;
	}
	req->nargs = 0;
}

static int
null_cb(void *ctx)
{
	struct control_parser	*p = ctx;
	int			 r = value(p, 'n');

	/* A later "ControlArgs": null empties the map, as in Go. */
	if (r == 1 && p->depth == 1 && p->member == M_ARGS)
		clear_args(p->req);
	return r == 2 ? store(p, NULL, 0) : r;
}

static int
bool_cb(void *ctx, int b)
{
	(void)b;
	return value(ctx, 'b') == 1;
}

static int
number_cb(void *ctx, const char *s, size_t n)
{
	(void)s;
	(void)n;
	return value(ctx, '#') == 1;
}

static int
string_cb(void *ctx, const unsigned char *s, size_t n)
{
	struct control_parser	*p = ctx;
	int			 r = value(p, 's');

	return r == 2 ? store(p, s, n) : r;
}

static int
start_map_cb(void *ctx)
{
	struct control_parser	*p = ctx;

	if (!value(p, '{'))
		return 0;
	if (p->depth == CONTROL_MAX_DEPTH)
		return cfail(p, "nested deeper than %d levels",
		    CONTROL_MAX_DEPTH);
	if (p->depth == 1 && p->member == M_ARGS)
		p->in_args = 1;
	p->depth++;
	return 1;
}

static int
start_array_cb(void *ctx)
{
	struct control_parser	*p = ctx;

	if (!value(p, '['))
		return 0;
	if (p->depth == CONTROL_MAX_DEPTH)
		return cfail(p, "nested deeper than %d levels",
		    CONTROL_MAX_DEPTH);
	p->depth++;
	return 1;
}

static int
end_cb(void *ctx)
{
	struct control_parser	*p = ctx;

	if (--p->depth == 1)
		p->in_args = 0;
	return 1;
}

static int
key_cb(void *ctx, const unsigned char *k, size_t n)
{
	struct control_parser	*p = ctx;
	enum member		 m;

	if (p->depth == 2 && p->in_args) {
		free(p->argkey);
		if ((p->argkey = cstring(p, "ControlArgs key", k, n)) == NULL)
			return 0;
		if (p->req->nargs == CONTROL_MAX_ARGS &&
		    !arg_known(p->req, p->argkey))
			return cfail(p, "ControlArgs: more than %d arguments",
			    CONTROL_MAX_ARGS);
		return 1;
	}
	if (p->depth != 1)
		return 1;
	/* Names are case-sensitive for the probe's decoder too. */
	for (m = M_APPID; m <= M_ARGS; m++) {
		if (strlen(member_names[m]) == n &&
		    memcmp(member_names[m], k, n) == 0)
			break;
	}
	p->member = m <= M_ARGS ? m : M_OTHER;
	return 1;
}

static const yajl_callbacks control_callbacks = {
	null_cb,
	bool_cb,
	NULL,
	NULL,
	number_cb,
	string_cb,
	start_map_cb,
	key_cb,
	end_cb,
	start_array_cb,
	end_cb,
};

static void
fill(struct control_request *req)
{
	if (req->app_id == NULL)
		req->app_id = xstrdup("");
	req->ctl.app_id = req->app_id;
	req->ctl.node_id = req->node_id;
	req->ctl.control = req->control;
	req->ctl.nargs = req->nargs;
	req->ctl.arg_keys = (const char *const *)req->keys;
	req->ctl.arg_values = (const char *const *)req->values;
}

/*
 * Parse a POST /control body.  Returns 0 with *out set (free it with
 * control_free), or -1 with *cause (allocated, caller frees).
 */
int
control_parse(const char *body, size_t len, struct control_request **out,
    char **cause)
{
	struct control_parser	 p;
	struct control_request	*req;
	yajl_handle		 h;
	yajl_status		 st;
	unsigned char		*err;
	int			 at_end;
	char			*nl;

	*out = NULL;
	*cause = NULL;
	memset(&p, 0, sizeof p);
	req = p.req = xcalloc(1, sizeof *req);
	req->keys = xcalloc(CONTROL_MAX_ARGS, sizeof *req->keys);
	req->values = xcalloc(CONTROL_MAX_ARGS, sizeof *req->values);

	if ((h = yajl_alloc(&control_callbacks, NULL, &p)) == NULL)
		fatal("yajl_alloc failed");
	st = yajl_parse(h, (const unsigned char *)(body ? body : ""), len);
	at_end = st == yajl_status_ok;
	if (at_end)
		st = yajl_complete_parse(h);
	if (st == yajl_status_error) {
		err = yajl_get_error(h, 0, NULL, 0);
		if (err != NULL && (nl = strchr((char *)err, '\n')) != NULL)
			*nl = '\0';
		free(p.cause);
		p.cause = NULL;
		/* After complete_parse the offset is meaningless: the end. */
		xasprintf(&p.cause, "not valid JSON (at byte %zu of %zu): %s",
		    at_end ? len : yajl_get_bytes_consumed(h), len,
		    err ? (const char *)err : "parse error");
		if (err != NULL)
			yajl_free_error(h, err);
	} else if (st != yajl_status_ok && p.cause == NULL)
		p.cause = xstrdup("parse cancelled");
	yajl_free(h);
	free(p.argkey);

	if (p.cause == NULL) {
		if (!p.seen_node)
			p.cause = xstrdup("NodeID missing");
		else if (!p.seen_control)
			p.cause = xstrdup("Control missing");
		else if (*req->node_id == '\0')
			p.cause = xstrdup("NodeID is empty");
		else if (*req->control == '\0')
			p.cause = xstrdup("Control is empty");
	}
	if (p.cause != NULL) {
		control_free(req);
		*cause = p.cause;
		return -1;
	}
	fill(req);
	*out = req;
	return 0;
}

const struct sph_control *
control_get(const struct control_request *req)
{
	return &req->ctl;
}

void
control_free(struct control_request *req)
{
	if (req == NULL)
		return;
	clear_args(req);
	free(req->keys);
	free(req->values);
	free(req->app_id);
	free(req->node_id);
	free(req->control);
	free(req);
}
