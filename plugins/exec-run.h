/*
 * exec-run.h - run one command under hard bounds for the exec module.
 */
#ifndef PLUGINS_EXEC_RUN_H
#define PLUGINS_EXEC_RUN_H

#include <stddef.h>
#include <sys/types.h>

/* Called for each standard error line (bounded in number and length). */
typedef void (*run_errline_fn)(void *arg, const char *line);

struct run_limits {
	unsigned	timeout_ms;	/* from start to everything reaped */
	size_t		max_output;	/* standard output bytes */
	unsigned	max_errlines;	/* standard error lines passed on */
};

/* Processes killed but not yet reaped, kept for the next call. */
#define RUN_LEFTOVERS_MAX	16
struct runner {
	pid_t		leftover[RUN_LEFTOVERS_MAX];
	size_t		nleftover;
};

struct run_result {
	char		*out;		/* standard output, NUL-terminated */
	size_t		 outlen;
	/*
	 * NULL when the command ran to completion and exited 0 within the
	 * bounds; otherwise why not (exit status, signal, timeout, output
	 * too large, cannot start), for the error reason.
	 */
	char		*failure;
};

/*
 * Run argv[0] (searched in $PATH when it has no "/") with envp, stdin
 * /dev/null, stdout and stderr on pipes, in a process group of its own.
 * When the command exits, whatever else is left in its group is killed;
 * at the deadline or when stdout outgrows max_output the whole group is
 * killed.  Everything started is reaped before returning (a process that
 * does not die at once is kept in rn and reaped at a later call).  Returns 0 with res
 * filled (free it with run_result_free()), or -1 with errno when not even
 * the pipes could be made.
 */
int	run_command(struct runner *rn, char *const argv[], char *const envp[],
	    const struct run_limits *lim, run_errline_fn errline, void *arg,
	    struct run_result *res);

void	run_result_free(struct run_result *res);

/* Reap what earlier calls could not; with wait set, wait up to 1 s. */
void	run_reap_leftovers(struct runner *rn, int wait);

#endif
