/*
 * spawn.c - start a worker: fork, then exec this binary in worker mode
 * with the channel on fd 3, the statistics page on fd 4 and the log pipe
 * on fd 5, its stdout and stderr on the supervisor's pipes, in its own
 * process group and cgroup (contain.c), and send it its global settings
 * as the channel's first message.  A fresh exec (not just a fork) gives
 * each module a clean address space with none of the supervisor's state
 * in it.
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

/* In the child: fd moves to target (-1: target is closed). */
static void
child_place(int fd, int target)
{
	if (fd == -1)
		close(target);
	else if (dup2(fd, target) == -1)
		_exit(1);
}

/* In the child between fork and exec: only async-signal-safe calls. */
static noreturn void
child_exec(const struct options *o, pid_t parent, int chan,
    const struct spawn_args *a, char **argv, char **envp)
{
	struct sigaction sa;
	sigset_t	none;
	int		c, st, al, io[3], fd, i, sig;

	/*
	 * Into its cgroup before any module code can fork, and while still
	 * privileged enough to move itself there.
	 */
	if (a->cgroup_fd != -1 && write(a->cgroup_fd, "0", 1) != 1) {
		static const char msg[] = HOST_NAME ": worker: cannot join "
		    "its cgroup; contained by process group only\n";
		ssize_t r = write(STDERR_FILENO, msg, sizeof msg - 1);
		(void)r;
	}
	/* Before PR_SET_PDEATHSIG: a change of credentials clears it. */
	child_drop(o);
	/* Workers die with the supervisor, even if it is SIGKILLed. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(1);
	/* Own process group: a terminal's ^C is the supervisor's to handle. */
	setpgid(0, 0);
	/*
	 * Signals are blocked since before the fork (spawn_worker): drop the
	 * supervisor's handlers before letting any in.  Its libevent handler
	 * would write a signal sent to this child (say a SIGTERM right after
	 * the fork) into the socket pair the child shares with the
	 * supervisor, which would then take it for its own and shut down.
	 */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Out of the way of the targets first, then into place. */
	c = fcntl(chan, F_DUPFD, 10);
	st = a->statsfd >= 0 ? fcntl(a->statsfd, F_DUPFD, 10) : -1;
	al = a->alarmfd >= 0 ? fcntl(a->alarmfd, F_DUPFD, 10) : -1;
	if (c == -1 || (a->statsfd >= 0 && st == -1) ||
	    (a->alarmfd >= 0 && al == -1))
		_exit(1);
	for (i = 0; i < 3; i++)
		if (a->io[i] != -1 && (io[i] = fcntl(a->io[i], F_DUPFD,
		    10)) == -1)
			_exit(1);
	if (a->io[0] != -1)
		child_place(io[0], STDOUT_FILENO);
	if (a->io[1] != -1)
		child_place(io[1], STDERR_FILENO);
	child_place(c, WORKER_CHANNEL_FD);
	child_place(st, WORKER_STATS_FD);
	child_place(a->io[2] != -1 ? io[2] : -1, WORKER_LOG_FD);
	child_place(al, WORKER_ALARM_FD);
	for (fd = WORKER_ALARM_FD + 1; fd < 1024; fd++)
		close(fd);
	execve(host_exe, argv, envp);
	_exit(127);
}

/* environ plus marker, or NULL (then environ as it is). */
static char **
spawn_env(const char *marker)
{
	extern char	**environ;
	char		**env;
	size_t		  n = 0, i, j = 0;
	size_t		  klen;

	if (marker == NULL)
		return NULL;
	klen = strcspn(marker, "=") + 1;
	while (environ[n] != NULL)
		n++;
	env = xcalloc(n + 2, sizeof *env);
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], marker, klen) != 0)
			env[j++] = environ[i];
	env[j++] = (char *)marker;
	env[j] = NULL;
	return env;
}

/*
 * Forks and execs a worker as a says.  Returns its pid with *chan set to
 * our end of the channel (non-blocking), or -1 with *cause.
 */
pid_t
spawn_worker(const struct options *o, const struct spawn_args *a,
    int *chan, char **cause)
{
	extern char		**environ;
	struct worker_settings	 ws;
	char			*argv[] = { HOST_NAME, "--worker", NULL, NULL };
	char			**env;
	sigset_t		 all, old;
	int			 sp[2];
	pid_t			 pid, self = getpid();

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
		xasprintf(cause, "socketpair: %s", strerror(errno));
		return -1;
	}
	/* The channel is empty: this cannot block. */
	options_worker(o, &ws);
	ws.log_pipe = a->io[2] != -1;
	if (channel_send(sp[0], MSG_WORKER, &ws, sizeof ws, -1) != 0) {
		xasprintf(cause, "channel: settings: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		return -1;
	}
	argv[2] = (char *)a->path;
	env = spawn_env(a->marker);
	/* No handler of ours may run in the child: see child_exec(). */
	sigfillset(&all);
	if (sigprocmask(SIG_BLOCK, &all, &old) != 0) {
		xasprintf(cause, "sigprocmask: %s", strerror(errno));
		free(env);
		close(sp[0]);
		close(sp[1]);
		return -1;
	}
	pid = fork();
	if (pid == 0)
		child_exec(o, self, sp[1], a, argv, env != NULL ? env : environ);
	if (sigprocmask(SIG_SETMASK, &old, NULL) != 0)
		log_warn("sigprocmask: %s", strerror(errno));
	free(env);
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
