/*
 * yajl-wrap.c - the host's own definitions of the yajl_gen value functions.
 *
 * A module may ignore a generator error (NaN, invalid UTF-8, a value where
 * a key belongs) and carry on; yajl then silently leaves the value out and
 * the document, though perhaps still valid JSON, is not what the module
 * meant.  The host binary exports these wrappers (see yajl-wrap.list), so
 * a module's calls bind to them before libyajl's; each forwards to libyajl
 * and reports any failure to the reporter, which then refuses the report.
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
	if (st != yajl_gen_status_ok)
		reporter_gen_fault(g, func, (int)st);
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
