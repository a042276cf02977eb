/*
 * spawn.c - start a worker: fork, then exec this binary in worker mode
 * with the channel on fd 3 and the statistics page on fd 4, and send it
 * its global settings as the channel's first message.  A fresh exec
 * (not just a fork) gives each module a clean address space with none of
 * the supervisor's state in it.
 */
#include <sys/prctl.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"

/* In the child: a fixed message to stderr, then exit as refused. */
static noreturn void
child_refuse(const char *msg)
{
	ssize_t	r;

	r = write(STDERR_FILENO, msg, strlen(msg));
	(void)r;
	_exit(WORKER_EXIT_REFUSED);
}

/*
 * --user: give up root for good before exec, so that nothing of the
 * module (its constructors run at dlopen) ever runs privileged.  The
 * worker needs no privilege: it gets its connections over the channel
 * and reads a module that root made world-readable.
 */
static void
child_drop(const struct options *o)
{
	uid_t	ruid, euid, suid;
	gid_t	rgid, egid, sgid;

	if (o->user == NULL)
		return;
	if (setgroups((size_t)o->user_ngroups, o->user_groups) != 0)
		child_refuse(HOST_NAME ": worker: setgroups failed; "
		    "not running module code as root\n");
	if (setresgid(o->user_gid, o->user_gid, o->user_gid) != 0)
		child_refuse(HOST_NAME ": worker: setresgid failed; "
		    "not running module code as root\n");
	if (setresuid(o->user_uid, o->user_uid, o->user_uid) != 0)
		child_refuse(HOST_NAME ": worker: setresuid failed; "
		    "not running module code as root\n");
	if (getresuid(&ruid, &euid, &suid) != 0 || getresgid(&rgid, &egid,
	    &sgid) != 0 || ruid != o->user_uid || euid != o->user_uid ||
	    suid != o->user_uid || rgid != o->user_gid ||
	    egid != o->user_gid || sgid != o->user_gid ||
	    setuid(0) != -1)
		child_refuse(HOST_NAME ": worker: privileges not fully "
		    "dropped; not running module code\n");
}

/* In the child between fork and exec: only async-signal-safe calls. */
static noreturn void
child_exec(const struct options *o, pid_t parent, int chan, int statsfd,
    char **argv)
{
	sigset_t	none;
	int		a, b, fd;

	/* Before PR_SET_PDEATHSIG: a change of credentials clears it. */
	child_drop(o);
	/* Workers die with the supervisor, even if it is SIGKILLed. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(1);
	/* Own process group: a terminal's ^C is the supervisor's to handle. */
	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	a = fcntl(chan, F_DUPFD, 10);
	b = statsfd >= 0 ? fcntl(statsfd, F_DUPFD, 10) : -1;
	if (a == -1 || dup2(a, WORKER_CHANNEL_FD) == -1)
		_exit(1);
	if (b != -1) {
		if (dup2(b, WORKER_STATS_FD) == -1)
			_exit(1);
	} else
		close(WORKER_STATS_FD);
	for (fd = WORKER_STATS_FD + 1; fd < 1024; fd++)
		close(fd);
	execv(host_exe, argv);
	_exit(127);
}

/*
 * Forks and execs a worker for the module at path.  Returns its pid with
 * *chan set to our end of the channel (non-blocking), or -1 with *cause.
 */
pid_t
spawn_worker(const struct options *o, const char *path, int statsfd,
    int *chan, char **cause)
{
	struct worker_settings	 ws;
	char			*argv[] = { HOST_NAME, "--worker", NULL, NULL };
	int			 sp[2];
	pid_t			 pid, self = getpid();

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
		xasprintf(cause, "socketpair: %s", strerror(errno));
		return -1;
	}
	/* The channel is empty: this cannot block. */
	options_worker(o, &ws);
	if (channel_send(sp[0], MSG_WORKER, &ws, sizeof ws, -1) != 0) {
		xasprintf(cause, "channel: settings: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		return -1;
	}
	argv[2] = (char *)path;
	pid = fork();
	if (pid == 0)
		child_exec(o, self, sp[1], statsfd, argv);
	close(sp[1]);
	if (pid == -1) {
		xasprintf(cause, "fork: %s", strerror(errno));
		close(sp[0]);
		return -1;
	}
	if (set_nonblock(sp[0]) == -1)
		log_warn("fcntl O_NONBLOCK: %s", strerror(errno));
	*chan = sp[0];
	return pid;
}
