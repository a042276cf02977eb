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
static int	 log_pipe = -1;	/* a worker's WORKER_LOG_FD */

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

/*
 * A worker whose stderr is its module's (a pipe the supervisor reads and
 * budgets) logs to fd instead: "<level>text" lines the supervisor logs
 * under the module's id (output.c), unless it logs to syslog itself.
 */
void
log_to_pipe(int fd)
{
	log_pipe = fd;
}

static void
log_emit(int level, pid_t pid, const char *line)
{
	char	buf[2100];
	ssize_t	r;
	int	n;

	if (log_syslog)
		syslog(level, "%s%s", log_prefix, line);
	else if (log_pipe != -1) {
		/* One write of less than PIPE_BUF: never mixed with
		 * another thread's line. */
		n = snprintf(buf, sizeof buf, "<%d>%s\n", level & 7, line);
		if (n >= (int)sizeof buf) {
			n = (int)sizeof buf - 1;
			buf[n - 1] = '\n';
		}
		do
			r = write(log_pipe, buf, (size_t)n);
		while (r == -1 && errno == EINTR);
	} else if (isatty(STDERR_FILENO))
		/*
		 * <N> prefixes are what journald reads as the priority on a
		 * service's stderr; a terminal user sees the level name.
		 */
		fprintf(stderr, "%s[%d] %s: %s%s\n", HOST_NAME, (int)pid,
		    log_level_name(level), log_prefix, line);
	else
		fprintf(stderr, "<%d>%s[%d]: %s%s\n", level & 7, HOST_NAME,
		    (int)pid, log_prefix, line);
}

void
log_vmsg(int level, const char *fmt, va_list ap)
{
	char	line[2048];
	int	saved = errno;

	if (level > log_level)
		return;
	vsnprintf(line, sizeof line, fmt, ap);
	log_emit(level, getpid(), line);
	errno = saved;
}

/* A line on behalf of process pid (a worker's, relayed). */
void
log_pid_msg(int level, pid_t pid, const char *fmt, ...)
{
	va_list	ap;
	char	line[8192 + 256];
	int	saved = errno;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	log_emit(level, pid, line);
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
