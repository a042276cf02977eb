/* host-services.c - sph_log(), sph_param() and the like: calls into the worker. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sph-host.h"

void
sph_log(struct sph_host *host, int level, const char *fmt, ...)
{
	char	line[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (host != NULL && SPH_HOST_HAS(host, log) && host->log != NULL)
		host->log(host->ctx, level, line);
	else
		fprintf(stderr, "%s\n", line);
}

const char *
sph_param(struct sph_host *host, const char *key)
{
	if (host == NULL || !SPH_HOST_HAS(host, param) || host->param == NULL ||
	    key == NULL)
		return NULL;
	return host->param(host->ctx, key);
}

const char *
sph_module_id(struct sph_host *host)
{
	return host != NULL && SPH_HOST_HAS(host, id) ? host->id : NULL;
}

void
sph_now(struct sph_host *host, struct timespec *ts)
{
	if (host != NULL && SPH_HOST_HAS(host, now) && host->now != NULL)
		host->now(host->ctx, ts);
	else if (clock_gettime(CLOCK_REALTIME, ts) != 0) {
		ts->tv_sec = time(NULL);
		ts->tv_nsec = 0;
	}
}

const char *
sph_probe_id(struct sph_host *host)
{
	if (host == NULL || !SPH_HOST_HAS(host, probe_id) ||
	    host->probe_id == NULL)
		return "";
	return host->probe_id;
}

int
sph_param_next(struct sph_host *host, const char *prefix, size_t *cursor,
    const char **key, const char **value)
{
	const char	*k, *v;
	size_t		 plen = prefix != NULL ? strlen(prefix) : 0;

	if (host == NULL || cursor == NULL || !SPH_HOST_HAS(host, param_at) ||
	    host->param_at == NULL)
		return -1;
	while (host->param_at(host->ctx, *cursor, &k, &v) == 0) {
		(*cursor)++;
		if (k == NULL || v == NULL || strncmp(k, prefix != NULL ?
		    prefix : "", plen) != 0)
			continue;
		if (key != NULL)
			*key = k;
		if (value != NULL)
			*value = v;
		return 1;
	}
	return 0;
}

unsigned
sph_deadline_ms(struct sph_host *host)
{
	if (host == NULL || !SPH_HOST_HAS(host, deadline_ms))
		return 0;
	return host->deadline_ms;
}
