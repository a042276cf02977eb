/* host-services.c - sph_log(), sph_param(): calls into the hosting worker. */
#include <stdarg.h>
#include <stdio.h>
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
