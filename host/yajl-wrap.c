/*
 * yajl-wrap.c - the host's own definitions of the yajl_gen value functions.
 *
 * A module may ignore a generator error (NaN, invalid UTF-8, a value where
 * a key belongs) and carry on; yajl then silently leaves the value out and
 * the document, though perhaps still valid JSON, is not what the module
 * meant.  The host binary exports these wrappers (see yajl-wrap.list), so
 * a module's calls bind to them before libyajl's; each forwards to libyajl
 * and records the first failure of a watched generator, which the framer
 * (frame.c) asks for after collect() and then refuses the report.  The
 * record is kept here, per generator, so that nothing calls back up.
 */

#include <dlfcn.h>
#include <string.h>

#include "host.h"

#define REAL(name) real_##name

static yajl_gen_status (*real_yajl_gen_integer)(yajl_gen, long long int);
static yajl_gen_status (*real_yajl_gen_double)(yajl_gen, double);
static yajl_gen_status (*real_yajl_gen_number)(yajl_gen, const char *, size_t);
static yajl_gen_status (*real_yajl_gen_string)(yajl_gen, const unsigned char *, size_t);
static yajl_gen_status (*real_yajl_gen_null)(yajl_gen);
static yajl_gen_status (*real_yajl_gen_bool)(yajl_gen, int);
static yajl_gen_status (*real_yajl_gen_map_open)(yajl_gen);
static yajl_gen_status (*real_yajl_gen_map_close)(yajl_gen);
static yajl_gen_status (*real_yajl_gen_array_open)(yajl_gen);
static yajl_gen_status (*real_yajl_gen_array_close)(yajl_gen);

/*
 * Generators whose first fault is recorded.  A worker frames with one;
 * the bound keeps the lookup on the (rare) error path a short scan.
 */
#define WATCH_MAX 8
struct watch {
	yajl_gen	 gen;
	const char	*func;		/* NULL: no fault since the last clear */
	yajl_gen_status	 status;
};
static struct watch	watches[WATCH_MAX];

static struct watch *
watch_find(yajl_gen g)
{
	size_t	i;

	for (i = 0; i < WATCH_MAX; i++)
		if (watches[i].gen == g)
			return &watches[i];
	return NULL;
}

void
yajl_wrap_watch(yajl_gen g)
{
	struct watch	*w;

	if (g == NULL)
		fatal("yajl_wrap_watch: no generator");
	if ((w = watch_find(g)) == NULL && (w = watch_find(NULL)) == NULL)
		fatal("yajl_wrap_watch: more than %d generators", WATCH_MAX);
	w->gen = g;
	w->func = NULL;
}

void
yajl_wrap_unwatch(yajl_gen g)
{
	struct watch	*w;

	if (g != NULL && (w = watch_find(g)) != NULL)
		w->gen = NULL;
}

void
yajl_wrap_clear(yajl_gen g)
{
	struct watch	*w;

	if (g != NULL && (w = watch_find(g)) != NULL)
		w->func = NULL;
}

const char *
yajl_wrap_fault(yajl_gen g, int *status)
{
	struct watch	*w;

	if (g == NULL || (w = watch_find(g)) == NULL || w->func == NULL)
		return NULL;
	if (status != NULL)
		*status = (int)w->status;
	return w->func;
}

const char *
yajl_wrap_strstatus(int st)
{
	switch (st) {
	case yajl_gen_status_ok: return "ok";
	case yajl_gen_keys_must_be_strings: return "a key that is not a string, or a value where a key belongs";
	case yajl_max_depth_exceeded: return "nesting too deep";
	case yajl_gen_in_error_state: return "generator in error state";
	case yajl_gen_generation_complete: return "value after the end of the document";
	case yajl_gen_invalid_number: return "invalid number (NaN, Inf or malformed)";
	case yajl_gen_no_buf: return "no buffer";
	case yajl_gen_invalid_string: return "invalid UTF-8 string";
	default: return "unknown generator error";
	}
}

static void *
resolve(const char *name)
{
	void	*p;

	if ((p = dlsym(RTLD_NEXT, name)) == NULL)
		fatal("dlsym %s: %s", name, dlerror());
	return p;
}

/* Resolves every real function; called early, before any module runs. */
void
yajl_wrap_init(void)
{
	if (real_yajl_gen_integer != NULL)
		return;
	*(void **)&real_yajl_gen_integer = resolve("yajl_gen_integer");
	*(void **)&real_yajl_gen_double = resolve("yajl_gen_double");
	*(void **)&real_yajl_gen_number = resolve("yajl_gen_number");
	*(void **)&real_yajl_gen_string = resolve("yajl_gen_string");
	*(void **)&real_yajl_gen_null = resolve("yajl_gen_null");
	*(void **)&real_yajl_gen_bool = resolve("yajl_gen_bool");
	*(void **)&real_yajl_gen_map_open = resolve("yajl_gen_map_open");
	*(void **)&real_yajl_gen_map_close = resolve("yajl_gen_map_close");
	*(void **)&real_yajl_gen_array_open = resolve("yajl_gen_array_open");
	*(void **)&real_yajl_gen_array_close = resolve("yajl_gen_array_close");
}

static yajl_gen_status
check(yajl_gen g, const char *func, yajl_gen_status st)
{
	struct watch	*w;

	if (st != yajl_gen_status_ok && g != NULL &&
	    (w = watch_find(g)) != NULL && w->func == NULL) {
		w->func = func;
		w->status = st;
	}
	return st;
}

/* A JSON number per RFC 8259: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
int
json_number_valid(const char *s, size_t len)
{
	size_t	i = 0, d;

	if (i < len && s[i] == '-')
		i++;
	if (i < len && s[i] == '0')
		i++;
	else {
		for (d = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			d++;
		if (d == 0)
			return 0;
	}
	if (i < len && s[i] == '.') {
		i++;
		for (d = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			d++;
		if (d == 0)
			return 0;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		for (d = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			d++;
		if (d == 0)
			return 0;
	}
	return i == len;
}

yajl_gen_status
yajl_gen_integer(yajl_gen g, long long int number)
{
	yajl_wrap_init();
	return check(g, "yajl_gen_integer", REAL(yajl_gen_integer)(g, number));
}

yajl_gen_status
yajl_gen_double(yajl_gen g, double number)
{
	yajl_wrap_init();
	return check(g, "yajl_gen_double", REAL(yajl_gen_double)(g, number));
}

yajl_gen_status
yajl_gen_number(yajl_gen g, const char *num, size_t len)
{
	yajl_wrap_init();
	/* libyajl copies this text verbatim: "NaN" would break the JSON. */
	if (num == NULL || !json_number_valid(num, len))
		return check(g, "yajl_gen_number", yajl_gen_invalid_number);
	return check(g, "yajl_gen_number", REAL(yajl_gen_number)(g, num, len));
}

yajl_gen_status
yajl_gen_string(yajl_gen g, const unsigned char *str, size_t len)
{
	yajl_wrap_init();
	return check(g, "yajl_gen_string", REAL(yajl_gen_string)(g, str, len));
}

yajl_gen_status
yajl_gen_null(yajl_gen g)
{
	yajl_wrap_init();
	return check(g, "yajl_gen_null", REAL(yajl_gen_null)(g));
}

yajl_gen_status
yajl_gen_bool(yajl_gen g, int boolean)
{
	yajl_wrap_init();
	return check(g, "yajl_gen_bool", REAL(yajl_gen_bool)(g, boolean));
}

yajl_gen_status
yajl_gen_map_open(yajl_gen g)
{
	yajl_wrap_init();
	return check(g, "yajl_gen_map_open", REAL(yajl_gen_map_open)(g));
}

yajl_gen_status
yajl_gen_map_close(yajl_gen g)
{
	yajl_wrap_init();
	return check(g, "yajl_gen_map_close", REAL(yajl_gen_map_close)(g));
}

yajl_gen_status
yajl_gen_array_open(yajl_gen g)
{
	yajl_wrap_init();
	return check(g, "yajl_gen_array_open", REAL(yajl_gen_array_open)(g));
}

yajl_gen_status
yajl_gen_array_close(yajl_gen g)
{
	yajl_wrap_init();
	return check(g, "yajl_gen_array_close", REAL(yajl_gen_array_close)(g));
}
