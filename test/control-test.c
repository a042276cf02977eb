/*
 * control-test.c - cases for control_parse(): the probe's exact body, key
 * order, escapes, ControlArgs shapes, bad types, missing members, NULs,
 * bounds and malformed input.  JSON is written with ' for ".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

struct ccase {
	const char	*name;
	const char	*body;
	const char	*want;		/* NULL: accepted; else cause substring */
	const char	*node_id;	/* expected when accepted */
	const char	*control;
	const char	*app_id;
	const char	*args;		/* "k=v;k=v" expected, NULL: none */
};

static const struct ccase cases[] = {
	/* The probe's exact body (docs/ARCHITECTURE.md, "What Scope's probe
	 * expects" 4). */
	{ "probe-body", "{'AppID':'app1','Control':'ctl-a','ControlArgs':null,"
	    "'NodeID':'h1;\\u003chost\\u003e'}", NULL, "h1;<host>", "ctl-a",
	    "app1", NULL },
	{ "key-order", "{'NodeID':'n','ControlArgs':null,'AppID':'a',"
	    "'Control':'c'}", NULL, "n", "c", "a", NULL },
	{ "key-order-2", "{'Control':'c','NodeID':'n'}", NULL, "n", "c", "",
	    NULL },
	{ "amp-escape", "{'NodeID':'a\\u0026b','Control':'c'}", NULL, "a&b",
	    "c", "", NULL },
	{ "all-escapes", "{'NodeID':'\\\"\\\\\\/\\b\\f\\n\\r\\t','Control':"
	    "'c'}", NULL, "\"\\/\b\f\n\r\t", "c", "", NULL },
	{ "bmp-escape", "{'NodeID':'caf\\u00e9','Control':'\\u20ac'}", NULL,
	    "caf\xc3\xa9", "\xe2\x82\xac", "", NULL },
	{ "surrogate-pair", "{'NodeID':'\\ud83d\\ude00','Control':'c'}", NULL,
	    "\xf0\x9f\x98\x80", "c", "", NULL },
	{ "raw-utf8", "{'NodeID':'\xc3\xa9','Control':'c'}", NULL,
	    "\xc3\xa9", "c", "", NULL },
	{ "whitespace", " \r\n\t{ 'NodeID' : 'n' , 'Control' : 'c' } \n", NULL,
	    "n", "c", "", NULL },
	{ "args", "{'NodeID':'n','Control':'c','ControlArgs':{'a':'1',"
	    "'b':'2'}}", NULL, "n", "c", "", "a=1;b=2" },
	{ "args-empty", "{'NodeID':'n','Control':'c','ControlArgs':{}}", NULL,
	    "n", "c", "", "" },
	{ "args-first", "{'ControlArgs':{'k':'\\u003cv\\u003e'},'NodeID':'n',"
	    "'Control':'c'}", NULL, "n", "c", "", "k=<v>" },
	{ "args-dup-key", "{'NodeID':'n','Control':'c','ControlArgs':{'a':'1',"
	    "'b':'2','a':'3'}}", NULL, "n", "c", "", "a=3;b=2" },
	{ "args-null-value", "{'NodeID':'n','Control':'c','ControlArgs':"
	    "{'a':null}}", NULL, "n", "c", "", "a=" },
	{ "args-then-null", "{'NodeID':'n','Control':'c','ControlArgs':"
	    "{'a':'1'},'ControlArgs':null}", NULL, "n", "c", "", "" },
	{ "args-empty-key", "{'NodeID':'n','Control':'c','ControlArgs':"
	    "{'':''}}", NULL, "n", "c", "", "=" },
	{ "unknown-members", "{'X':{'a':[1,{'b':null}],'c':true},'NodeID':'n',"
	    "'Y':[[],{}],'Control':'c','Z':1.5e10,'W':false,'V':null}", NULL,
	    "n", "c", "", NULL },
	{ "unknown-nodeid-nested", "{'X':{'NodeID':5,'Control':[]},'NodeID':"
	    "'n','Control':'c'}", NULL, "n", "c", "", NULL },
	{ "appid-null", "{'AppID':null,'NodeID':'n','Control':'c'}", NULL,
	    "n", "c", "", NULL },
	{ "dup-member-last-wins", "{'NodeID':'a','NodeID':'b','Control':"
	    "'c'}", NULL, "b", "c", "", NULL },
	{ "tilde-control", "{'NodeID':'n','Control':'p~c'}", NULL, "n", "p~c",
	    "", NULL },

	/* Refused. */
	{ "empty-body", "", "not valid JSON", NULL, NULL, NULL, NULL },
	{ "spaces-only", "   ", "not valid JSON", NULL, NULL, NULL, NULL },
	{ "truncated", "{'NodeID':'n','Control':'c'", "not valid JSON", NULL,
	    NULL, NULL, NULL },
	{ "truncated-string", "{'NodeID':'n", "not valid JSON", NULL, NULL,
	    NULL, NULL },
	{ "trailing-garbage", "{'NodeID':'n','Control':'c'}x",
	    "not valid JSON", NULL, NULL, NULL, NULL },
	{ "two-objects", "{'NodeID':'n','Control':'c'}{}", "not valid JSON",
	    NULL, NULL, NULL, NULL },
	{ "bare-key", "{NodeID:'n','Control':'c'}", "not valid JSON", NULL,
	    NULL, NULL, NULL },
	{ "missing-colon", "{'NodeID' 'n','Control':'c'}", "not valid JSON",
	    NULL, NULL, NULL, NULL },
	{ "nan", "{'NodeID':'n','Control':'c','X':NaN}", "not valid JSON",
	    NULL, NULL, NULL, NULL },
	{ "bad-escape", "{'NodeID':'\\x41','Control':'c'}", "not valid JSON",
	    NULL, NULL, NULL, NULL },
	{ "short-unicode-escape", "{'NodeID':'\\u12','Control':'c'}",
	    "not valid JSON", NULL, NULL, NULL, NULL },
	{ "bad-utf8", "{'NodeID':'\xff','Control':'c'}", "not valid JSON",
	    NULL, NULL, NULL, NULL },
	{ "raw-newline", "{'NodeID':'a\nb','Control':'c'}", "not valid JSON",
	    NULL, NULL, NULL, NULL },
	{ "comment", "{/**/'NodeID':'n','Control':'c'}", "not valid JSON",
	    NULL, NULL, NULL, NULL },
	{ "top-array", "[]", "request must be a JSON object, not array", NULL,
	    NULL, NULL, NULL },
	{ "top-string", "'x'", "request must be a JSON object, not string",
	    NULL, NULL, NULL, NULL },
	{ "top-null", "null", "request must be a JSON object, not null", NULL,
	    NULL, NULL, NULL },
	{ "top-number", "1", "request must be a JSON object, not number",
	    NULL, NULL, NULL, NULL },
	{ "empty-object", "{}", "NodeID missing", NULL, NULL, NULL, NULL },
	{ "nodeid-missing", "{'AppID':'a','Control':'c'}", "NodeID missing",
	    NULL, NULL, NULL, NULL },
	{ "nodeid-null", "{'NodeID':null,'Control':'c'}", "NodeID missing",
	    NULL, NULL, NULL, NULL },
	{ "nodeid-wrong-case", "{'nodeID':'n','Control':'c'}",
	    "NodeID missing", NULL, NULL, NULL, NULL },
	{ "control-missing", "{'NodeID':'n'}", "Control missing", NULL, NULL,
	    NULL, NULL },
	{ "control-lowercase", "{'NodeID':'n','control':'c'}",
	    "Control missing", NULL, NULL, NULL, NULL },
	{ "nodeid-empty", "{'NodeID':'','Control':'c'}", "NodeID is empty",
	    NULL, NULL, NULL, NULL },
	{ "control-empty", "{'NodeID':'n','Control':''}", "Control is empty",
	    NULL, NULL, NULL, NULL },
	{ "nodeid-number", "{'NodeID':1,'Control':'c'}",
	    "NodeID: expected string, got number", NULL, NULL, NULL, NULL },
	{ "control-bool", "{'NodeID':'n','Control':true}",
	    "Control: expected string, got boolean", NULL, NULL, NULL, NULL },
	{ "control-object", "{'NodeID':'n','Control':{}}",
	    "Control: expected string, got object", NULL, NULL, NULL, NULL },
	{ "appid-array", "{'AppID':[],'NodeID':'n','Control':'c'}",
	    "AppID: expected string, got array", NULL, NULL, NULL, NULL },
	{ "args-string", "{'NodeID':'n','Control':'c','ControlArgs':'a=1'}",
	    "ControlArgs: expected object or null, got string", NULL, NULL,
	    NULL, NULL },
	{ "args-array", "{'NodeID':'n','Control':'c','ControlArgs':[]}",
	    "ControlArgs: expected object or null, got array", NULL, NULL,
	    NULL, NULL },
	{ "args-value-number", "{'NodeID':'n','Control':'c','ControlArgs':"
	    "{'a':1}}", "ControlArgs[\"a\"]: expected string, got number",
	    NULL, NULL, NULL, NULL },
	{ "args-value-object", "{'NodeID':'n','Control':'c','ControlArgs':"
	    "{'a':{}}}", "ControlArgs[\"a\"]: expected string, got object",
	    NULL, NULL, NULL, NULL },
	{ "args-value-bool", "{'NodeID':'n','Control':'c','ControlArgs':"
	    "{'a':false}}", "expected string, got boolean", NULL, NULL, NULL,
	    NULL },
	{ "nul-nodeid", "{'NodeID':'a\\u0000b','Control':'c'}",
	    "NodeID: contains a NUL character", NULL, NULL, NULL, NULL },
	{ "nul-control", "{'NodeID':'n','Control':'\\u0000'}",
	    "Control: contains a NUL", NULL, NULL, NULL, NULL },
	{ "nul-appid", "{'AppID':'\\u0000','NodeID':'n','Control':'c'}",
	    "AppID: contains a NUL", NULL, NULL, NULL, NULL },
	{ "nul-arg-key", "{'NodeID':'n','Control':'c','ControlArgs':"
	    "{'a\\u0000':'v'}}", "ControlArgs key: contains a NUL", NULL, NULL,
	    NULL, NULL },
	{ "nul-arg-value", "{'NodeID':'n','Control':'c','ControlArgs':"
	    "{'a':'v\\u0000'}}", "ControlArgs value: contains a NUL", NULL,
	    NULL, NULL, NULL },
	{ "nul-unknown-ignored", "{'X':'\\u0000','NodeID':'n','Control':'c'}",
	    NULL, "n", "c", "", NULL },
};

#define NCASES (sizeof cases / sizeof cases[0])

static char *
unquote(const char *s)
{
	char	*d = xstrdup(s), *p;

	for (p = d; *p != '\0'; p++) {
		if (*p == '\'')
			*p = '"';
	}
	return d;
}

/* The parsed arguments as "k=v;k=v". */
static char *
args_string(const struct sph_control *c)
{
	size_t	 i, len = 1;
	char	*s;

	for (i = 0; i < c->nargs; i++)
		len += strlen(c->arg_keys[i]) + strlen(c->arg_values[i]) + 2;
	s = xmalloc(len);
	*s = '\0';
	for (i = 0; i < c->nargs; i++) {
		if (i > 0)
			strcat(s, ";");
		strcat(s, c->arg_keys[i]);
		strcat(s, "=");
		strcat(s, c->arg_values[i]);
	}
	return s;
}

static int
check_accepted(const struct ccase *c, const struct sph_control *ctl)
{
	char	*args;
	int	 ok;

	if (ctl->app_id == NULL || ctl->node_id == NULL ||
	    ctl->control == NULL)
		return 0;
	args = args_string(ctl);
	ok = strcmp(ctl->node_id, c->node_id) == 0 &&
	    strcmp(ctl->control, c->control) == 0 &&
	    strcmp(ctl->app_id, c->app_id) == 0 &&
	    strcmp(args, c->args ? c->args : "") == 0;
	if (!ok)
		printf("  got node=\"%s\" control=\"%s\" app=\"%s\" args=\"%s\"\n",
		    ctl->node_id, ctl->control, ctl->app_id, args);
	free(args);
	return ok;
}

static int
run_case(const struct ccase *c)
{
	char			*body = unquote(c->body), *cause = NULL;
	struct control_request	*req = NULL;
	int			 r, ok;

	r = control_parse(body, strlen(body), &req, &cause);
	if (c->want == NULL)
		ok = r == 0 && req != NULL && cause == NULL &&
		    check_accepted(c, control_get(req));
	else
		ok = r == -1 && req == NULL && cause != NULL &&
		    strstr(cause, c->want) != NULL;
	printf("%s %s", ok ? "ok  " : "FAIL", c->name);
	if (cause != NULL || !ok)
		printf(" -> %s", cause ? cause : "accepted");
	if (!ok && c->want != NULL)
		printf(" (wanted: %s)", c->want);
	printf("\n");
	control_free(req);
	free(cause);
	free(body);
	return ok;
}

static int
report(const char *name, int ok, const char *detail)
{
	printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", name, detail ? " -> " : "",
	    detail ? detail : "");
	return ok;
}

/* Parse buf; on success return the request, else NULL with *cause. */
static struct control_request *
parse(const char *buf, size_t len, char **cause)
{
	struct control_request	*req;

	if (control_parse(buf, len, &req, cause) == -1)
		return NULL;
	return req;
}

int
main(void)
{
	size_t			 i, n, passed = 0, failed = 0;
	struct control_request	*req;
	const struct sph_control *ctl;
	char			*cause, *buf;
	int			 ok;

	for (i = 0; i < NCASES; i++) {
		if (run_case(&cases[i]))
			passed++;
		else
			failed++;
	}

	buf = xmalloc(4 * 1024 * 1024);

	/* 64 arguments are fine, a 65th distinct one is not. */
	for (int nargs = 64; nargs <= 65; nargs++) {
		n = (size_t)sprintf(buf, "{\"NodeID\":\"n\",\"Control\":\"c\","
		    "\"ControlArgs\":{");
		for (int a = 0; a < nargs; a++)
			n += (size_t)sprintf(buf + n, "%s\"k%d\":\"v%d\"",
			    a ? "," : "", a, a);
		/* Repeating a known key does not count. */
		n += (size_t)sprintf(buf + n, ",\"k0\":\"again\"}}");
		req = parse(buf, n, &cause);
		if (nargs == 64) {
			ctl = req ? control_get(req) : NULL;
			ok = ctl != NULL && ctl->nargs == 64 &&
			    strcmp(ctl->arg_values[0], "again") == 0 &&
			    strcmp(ctl->arg_keys[63], "k63") == 0;
			report("args-64", ok, cause) ? passed++ : failed++;
		} else {
			ok = req == NULL && cause != NULL &&
			    strstr(cause, "more than 64 arguments") != NULL;
			report("args-65", ok, cause) ? passed++ : failed++;
		}
		control_free(req);
		free(cause);
	}

	/* Nesting: 16 levels in all are fine, 17 are refused. */
	for (int d = 16; d <= 17; d++) {
		n = (size_t)sprintf(buf, "{\"X\":");
		memset(buf + n, '[', (size_t)d - 1);
		n += (size_t)d - 1;
		memset(buf + n, ']', (size_t)d - 1);
		n += (size_t)d - 1;
		n += (size_t)sprintf(buf + n, ",\"NodeID\":\"n\",\"Control\":"
		    "\"c\"}");
		req = parse(buf, n, &cause);
		if (d == 16)
			ok = req != NULL;
		else
			ok = req == NULL && strstr(cause, "nested deeper") != NULL;
		report(d == 16 ? "depth-16-ok" : "depth-17-refused", ok, cause) ?
		    passed++ : failed++;
		control_free(req);
		free(cause);
	}

	/* A million open brackets: refused at the bound, no recursion. */
	n = (size_t)sprintf(buf, "{\"X\":");
	memset(buf + n, '[', 1000000);
	n += 1000000;
	req = parse(buf, n, &cause);
	ok = req == NULL && cause != NULL && strstr(cause, "nested deeper");
	report("deep-1m", ok, cause) ? passed++ : failed++;
	free(cause);
	n = (size_t)sprintf(buf, "{\"X\":");
	buf[n++] = '{';
	for (i = 0; i < 100000; i++)
		n += (size_t)sprintf(buf + n, "\"a\":{");
	req = parse(buf, n, &cause);
	ok = req == NULL && cause != NULL && strstr(cause, "nested deeper");
	report("deep-objects", ok, cause) ? passed++ : failed++;
	free(cause);

	/* Huge strings are fine (the size limit is the caller's). */
	n = (size_t)sprintf(buf, "{\"Control\":\"c\",\"NodeID\":\"");
	memset(buf + n, 'x', 3 * 1024 * 1024);
	n += 3 * 1024 * 1024;
	n += (size_t)sprintf(buf + n, "\"}");
	req = parse(buf, n, &cause);
	ok = req != NULL && strlen(control_get(req)->node_id) == 3 * 1024 * 1024;
	report("huge-node-id", ok, cause) ? passed++ : failed++;
	control_free(req);
	free(cause);

	/* Only len bytes are read: no NUL terminator needed, garbage after. */
	memcpy(buf, "{\"NodeID\":\"n\",\"Control\":\"c\"}GARBAGE", 36);
	req = parse(buf, 28, &cause);
	ok = req != NULL && strcmp(control_get(req)->control, "c") == 0;
	report("len-bounded", ok, cause) ? passed++ : failed++;
	control_free(req);
	free(cause);

	/* Exactly the bytes the probe sends (Content-Length: 84). */
	n = strlen("{\"AppID\":\"app1\",\"Control\":\"ctl-a\",\"ControlArgs\":"
	    "null,\"NodeID\":\"h1;\\u003chost\\u003e\"}");
	report("probe-body-84-bytes", n == 84, NULL) ? passed++ : failed++;

	/* A lone surrogate does not crash; whatever yajl makes of it is C. */
	memcpy(buf, "{\"NodeID\":\"\\ud800\",\"Control\":\"c\"}", 33);
	req = parse(buf, 33, &cause);
	ok = req == NULL || strlen(control_get(req)->node_id) > 0;
	report("lone-surrogate", ok, req ? control_get(req)->node_id : cause) ?
	    passed++ : failed++;
	control_free(req);
	free(cause);

	/* control_free(NULL) is a no-op. */
	control_free(NULL);
	report("free-null", 1, NULL) ? passed++ : failed++;

	free(buf);
	printf("%zu passed, %zu failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
