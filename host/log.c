/* log.c - one line per event, to stderr (journald) or syslog. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "host.h"

/* A daemon has one log; these are set once at start. */
static int	 log_syslog;
static int	 log_level = LOG_INFO;
static char	 log_prefix[96];

static const char *const level_names[] = {
	"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"
};

void
log_open(const char *ident, int use_syslog, int level)
{
	log_syslog = use_syslog;
	log_level = level;
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_set_prefix(const char *prefix)
{
	if (prefix == NULL)
		log_prefix[0] = '\0';
	else
		snprintf(log_prefix, sizeof log_prefix, "%s: ", prefix);
}

/* A level's name as log lines show it. */
const char *
log_level_name(int level)
{
	return level_names[level & 7];
}

/* A syslog level by name (err or error, warn or warning, ...), or -1. */
int
log_level_parse(const char *s)
{
	int	i;

	for (i = 0; i < 8; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	if (strcmp(s, "err") == 0)
		return LOG_ERR;
	if (strcmp(s, "warn") == 0)
		return LOG_WARNING;
	return -1;
}

void
log_vmsg(int level, const char *fmt, va_list ap)
{
	char	line[2048];
	int	saved = errno;

	if (level > log_level)
		return;
	vsnprintf(line, sizeof line, fmt, ap);
	if (log_syslog)
		syslog(level, "%s%s", log_prefix, line);
	else {
		/*
		 * <N> prefixes are what journald reads as the priority on a
		 * service's stderr; a terminal user sees the level name.
		 */
		if (isatty(STDERR_FILENO))
			fprintf(stderr, "%s[%d] %s: %s%s\n", HOST_NAME,
			    (int)getpid(), log_level_name(level), log_prefix,
			    line);
		else
			fprintf(stderr, "<%d>%s[%d]: %s%s\n", level & 7,
			    HOST_NAME, (int)getpid(), log_prefix, line);
	}
	errno = saved;
}

void
log_msg(int level, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}
