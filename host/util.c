/* util.c - checked allocation, clocks, small validators shared by all files. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host.h"

/*
 * Allocation failure in the supervisor or a worker is not recoverable in
 * any useful way; dying loudly lets the supervisor (or systemd) restart us.
 */
void *
xmalloc(size_t size)
{
	void	*p;

	if (size == 0)
		size = 1;
	if ((p = malloc(size)) == NULL)
		fatal("malloc %zu bytes: %s", size, strerror(errno));
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void	*p;

	if (n == 0 || size == 0)
		n = size = 1;
	if ((p = calloc(n, size)) == NULL)
		fatal("calloc %zu*%zu bytes: %s", n, size, strerror(errno));
	return p;
}

void *
xrealloc(void *ptr, size_t size)
{
	void	*p;

	if (size == 0)
		size = 1;
	if ((p = realloc(ptr, size)) == NULL)
		fatal("realloc %zu bytes: %s", size, strerror(errno));
	return p;
}

char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		fatal("strdup: %s", strerror(errno));
	return p;
}

int
xvasprintf(char **ret, const char *fmt, va_list ap)
{
	va_list	 ap2;
	int	 n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		fatal("vsnprintf: %s", strerror(errno));
	*ret = xmalloc((size_t)n + 1);
	vsnprintf(*ret, (size_t)n + 1, fmt, ap);
	return n;
}

int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = xvasprintf(ret, fmt, ap);
	va_end(ap);
	return n;
}

uint64_t
now_ns(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		fatal("clock_gettime: %s", strerror(errno));
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t
now_ms(void)
{
	return now_ns() / 1000000u;
}

/*
 * Scope's probe accepts only ^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$ as a plugin id
 * and ignores a socket with any other name.
 */
int
valid_plugin_id(const char *id)
{
	size_t	i, n;
	int	prev_dash = 1;

	if (id == NULL || (n = strlen(id)) == 0 || n > PLUGIN_ID_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = id[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9'))
			prev_dash = 0;
		else if (c == '-' && !prev_dash)
			prev_dash = 1;
		else
			return 0;
	}
	return !prev_dash;
}

/*
 * The plugin id a module file goes by while it is refused (no descriptor
 * to take one from): its name without ".so", each run of characters an id
 * may not hold made one '-', cut to PLUGIN_ID_MAX.  id has room for
 * PLUGIN_ID_MAX + 1 bytes.  Returns 0, or -1 when nothing valid is left.
 */
int
plugin_id_from_file(const char *name, char *id)
{
	size_t	len = strlen(name), i, n = 0;

	if (len > 3 && strcmp(name + len - 3, ".so") == 0)
		len -= 3;
	for (i = 0; i < len && n < PLUGIN_ID_MAX; i++) {
		char	c = name[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9'))
			id[n++] = c;
		else if (n > 0 && id[n - 1] != '-')
			id[n++] = '-';
	}
	while (n > 0 && id[n - 1] == '-')
		n--;
	id[n] = '\0';
	return n > 0 ? 0 : -1;
}

/* "SIGSEGV" for the signals a worker dies of; "signal" for others. */
const char *
signal_name(int sig)
{
	switch (sig) {
	case SIGSEGV: return "SIGSEGV";
	case SIGABRT: return "SIGABRT";
	case SIGKILL: return "SIGKILL";
	case SIGTERM: return "SIGTERM";
	case SIGBUS: return "SIGBUS";
	case SIGFPE: return "SIGFPE";
	case SIGILL: return "SIGILL";
	case SIGINT: return "SIGINT";
	default: return "signal";
	}
}

int
set_nonblock(int fd)
{
	int	flags;

	if ((flags = fcntl(fd, F_GETFL)) == -1)
		return -1;
	return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* Appends s as the inside of a JSON string (no quotes). */
void
json_escape(struct evbuffer *out, const char *s, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i, start = 0;

	for (i = 0; i < len; i++) {
		unsigned char	c = (unsigned char)s[i];
		char		esc[7];
		size_t		elen;

		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
			continue;
		evbuffer_add(out, s + start, i - start);
		switch (c) {
		case '"':  memcpy(esc, "\\\"", 2); elen = 2; break;
		case '\\': memcpy(esc, "\\\\", 2); elen = 2; break;
		case '\n': memcpy(esc, "\\n", 2); elen = 2; break;
		case '\r': memcpy(esc, "\\r", 2); elen = 2; break;
		case '\t': memcpy(esc, "\\t", 2); elen = 2; break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		}
		evbuffer_add(out, esc, elen);
		start = i + 1;
	}
	evbuffer_add(out, s + start, len - start);
}

/* Parses a decimal in [min, max]; -1 on anything else. */
int
parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	char		*end;
	unsigned long	 v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}
