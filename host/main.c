/*
 * main.c - scope-plugin-host: serve Weave Scope plugins from shared objects.
 * One binary, three roles: the supervisor (default), --check, and the
 * internal --worker mode the supervisor execs for each module.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "host.h"

const char	*host_exe;

static char	 exe_path[PATH_MAX];

/* Detaches from the terminal the classic way (without --foreground). */
static int
daemonize(char **cause)
{
	pid_t	pid;
	int	fd;

	if ((pid = fork()) == -1) {
		xasprintf(cause, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid > 0)
		_exit(0);
	if (setsid() == -1) {
		xasprintf(cause, "setsid: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		xasprintf(cause, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid > 0)
		_exit(0);
	if (chdir("/") != 0) {
		xasprintf(cause, "chdir /: %s", strerror(errno));
		return -1;
	}
	if ((fd = open("/dev/null", O_RDWR)) == -1) {
		xasprintf(cause, "open /dev/null: %s", strerror(errno));
		return -1;
	}
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	static struct options o;	/* static: lists stay reachable at exit */
	char		*cause = NULL, *worker = NULL;
	ssize_t		 n;
	int		 r;

	if (argc > 1 && strcmp(argv[1], "status") == 0)
		return status_main(argc - 1, argv + 1);
	options_defaults(&o);
	r = options_parse(&o, argc, argv, &worker, &cause);
	if (r == 1)
		return 0;
	if (r == -1) {
		fprintf(stderr, "%s: %s\n", HOST_NAME, cause);
		free(cause);
		return 2;
	}
	/* Workers get their settings over the channel, never from the file. */
	if (worker == NULL && config_setup(&o, argc, argv) != 0)
		return 1;

	/* Workers are fresh execs of this very file, wherever it lives. */
	n = readlink("/proc/self/exe", exe_path, sizeof exe_path - 1);
	if (n > 0) {
		exe_path[n] = '\0';
		host_exe = exe_path;
	} else
		host_exe = "/proc/self/exe";

	if (worker != NULL) {
		r = worker_main(worker);
		options_free(&o);
		return r;
	}
	if (o.check_mode) {
		log_open(HOST_NAME, 0, o.log_level < LOG_WARNING ?
		    o.log_level : LOG_WARNING);
		r = check_main(&o);
		options_free(&o);
		return r;
	}
	if (!o.foreground) {
		o.use_syslog = 1;
		if (daemonize(&cause) != 0) {
			fprintf(stderr, "%s: %s\n", HOST_NAME, cause);
			return 1;
		}
	}
	log_open(HOST_NAME, o.use_syslog, o.log_level);
	r = supervisor_main(&o);
	options_free(&o);
	return r;
}
