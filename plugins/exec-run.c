/*
 * exec-run.c - run one command for the exec module, bounded in time and
 * output, and leave nothing behind.
 *
 * The command runs in a process group of its own so that one kill reaches
 * whatever it started.  Its exit is watched through a pidfd (or, on
 * kernels without one, by polling waitid() every 10 ms) without reaping
 * it: a zombie leader keeps the group id from being reused, so killing
 * the group before reaping the leader can never hit an unrelated process.
 * The worker that loads this module may be multithreaded (interval
 * mode), so between fork() and exec the child only makes async-signal-
 * safe calls: the program path, argv and environment are all prepared
 * before the fork.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exec-run.h"
#include "fields.h"

#define ERRLINE_MAX	512	/* longest stderr line passed on */
#define TICK_MS		10	/* exit polling without a pidfd */

struct pipe_in {
	int	 fd;		/* -1 once at EOF */
};

struct run {
	const struct run_limits	*lim;
	run_errline_fn		 errline;
	void			*arg;
	pid_t			 pid;
	int			 pidfd;
	int			 exited;	/* leader is a zombie or reaped */
	int			 reaped;
	int			 status;
	struct pipe_in		 out, err;
	char			*buf;
	size_t			 len, cap;
	int			 overflow;
	char			 errbuf[ERRLINE_MAX];
	size_t			 errlen;
	int			 errtrunc;
	unsigned		 errlines;
	unsigned		 errdropped;
	char			 lasterr[ERRLINE_MAX * 4 + 12];
};

static uint64_t
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
fail(struct run_result *res, const char *fmt, ...)
{
	va_list	ap;
	char	buf[3072];

	if (res->failure != NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	/* Out of memory: the caller still sees a failure. */
	if ((res->failure = strdup(buf)) == NULL)
		res->failure = (char *)"out of memory";
}

void
run_result_free(struct run_result *res)
{
	free(res->out);
	if (res->failure != NULL && strcmp(res->failure, "out of memory") != 0)
		free(res->failure);
	res->out = res->failure = NULL;
	res->outlen = 0;
}

/* Finds argv0 in $PATH as execvp() would; the result is malloc'ed. */
static char *
resolve(const char *argv0)
{
	const char	*path, *p, *colon;
	char		 cand[PATH_MAX];
	struct stat	 st;
	size_t		 dlen;

	if (strchr(argv0, '/') != NULL)
		return strdup(argv0);
	if ((path = getenv("PATH")) == NULL || *path == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; ; p = colon + 1) {
		colon = strchr(p, ':');
		dlen = colon != NULL ? (size_t)(colon - p) : strlen(p);
		if (dlen == 0)
			dlen = 1, p = ".";
		if (snprintf(cand, sizeof cand, "%.*s/%s", (int)dlen, p,
		    argv0) < (int)sizeof cand && stat(cand, &st) == 0 &&
		    S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
			return strdup(cand);
		if (colon == NULL)
			break;
	}
	errno = ENOENT;
	return NULL;
}

/* In the child: only async-signal-safe calls until exec. */
static void
child(const char *path, char *const argv[], char *const envp[], int out,
    int err, int report, int maxfd)
{
	struct sigaction	sa;
	sigset_t		none;
	int			sig, fd, e;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)setpgid(0, 0);
	if ((fd = open("/dev/null", O_RDONLY)) == -1 ||
	    dup2(fd, 0) == -1 || dup2(out, 1) == -1 || dup2(err, 2) == -1)
		goto fail;
	/*
	 * Nothing of the worker's (its socket, its channel) leaks in:
	 * close_range() where the kernel has it (5.9), else one by one.
	 */
#ifdef SYS_close_range
	if ((report == 3 || syscall(SYS_close_range, 3, report - 1, 0) == 0) &&
	    syscall(SYS_close_range, report + 1, ~0U, 0) == 0)
		maxfd = 0;
#endif
	for (fd = 3; fd < maxfd; fd++)
		if (fd != report)
			(void)close(fd);
	execve(path, argv, envp);
fail:
	e = errno;
	(void)!write(report, &e, sizeof e);
	_exit(127);
}

static void
errline_flush(struct run *rn)
{
	char	quoted[ERRLINE_MAX * 4 + 8];

	if (rn->errlen == 0 && !rn->errtrunc)
		return;
	text_quote(rn->errbuf, rn->errlen, quoted, sizeof quoted);
	snprintf(rn->lasterr, sizeof rn->lasterr, "%s%s", quoted,
	    rn->errtrunc ? "..." : "");
	if (rn->errlines < rn->lim->max_errlines) {
		rn->errline(rn->arg, rn->lasterr);
		rn->errlines++;
	} else
		rn->errdropped++;
	rn->errlen = 0;
	rn->errtrunc = 0;
}

static void
errline_add(struct run *rn, const char *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n') {
			errline_flush(rn);
			continue;
		}
		if (rn->errlen < sizeof rn->errbuf)
			rn->errbuf[rn->errlen++] = p[i];
		else
			rn->errtrunc = 1;
	}
}

/* Reads what fd has; marks EOF.  Returns -1 only on out of memory. */
static int
drain(struct run *rn, struct pipe_in *in, int is_out)
{
	char	tmp[65536], *nb;
	ssize_t	n;
	size_t	want;

	for (;;) {
		n = read(in->fd, tmp, sizeof tmp);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			close(in->fd);
			in->fd = -1;
			if (!is_out)
				errline_flush(rn);
			return 0;
		}
		if (!is_out) {
			errline_add(rn, tmp, (size_t)n);
			continue;
		}
		if (rn->len + (size_t)n > rn->lim->max_output) {
			rn->overflow = 1;
			return 0;
		}
		if (rn->len + (size_t)n + 1 > rn->cap) {
			want = rn->cap * 2;
			while (want < rn->len + (size_t)n + 1)
				want *= 2;
			if ((nb = realloc(rn->buf, want)) == NULL)
				return -1;
			rn->buf = nb;
			rn->cap = want;
		}
		memcpy(rn->buf + rn->len, tmp, (size_t)n);
		rn->len += (size_t)n;
	}
}

/* Has the leader exited?  Leaves it a zombie (see the top comment). */
static void
check_exit(struct run *rn)
{
	siginfo_t	si;

	if (rn->exited)
		return;
	memset(&si, 0, sizeof si);
	if (waitid(P_PID, (id_t)rn->pid, &si, WEXITED | WNOHANG | WNOWAIT)
	    == 0) {
		if (si.si_pid == rn->pid)
			rn->exited = 1;
	} else if (errno == ECHILD) {
		/* Reaped behind our back (SIGCHLD ignored): status unknown. */
		rn->exited = rn->reaped = 1;
		rn->status = -1;
	}
}

/* Kills the group, then reaps the leader if it is gone within wait_ms. */
static void
kill_and_reap(struct run *rn, unsigned wait_ms)
{
	uint64_t	end;
	pid_t		r;

	if (rn->reaped)
		return;
	(void)kill(-rn->pid, SIGKILL);
	end = mono_ms() + wait_ms;
	for (;;) {
		r = waitpid(rn->pid, &rn->status, WNOHANG);
		if (r == rn->pid || (r == -1 && errno == ECHILD)) {
			if (r == -1)
				rn->status = -1;
			rn->reaped = rn->exited = 1;
			return;
		}
		if (r == -1 && errno != EINTR)
			return;
		if (mono_ms() >= end)
			return;
		if (rn->pidfd >= 0) {
			struct pollfd	pfd = { rn->pidfd, POLLIN, 0 };

			(void)poll(&pfd, 1, (int)(end - mono_ms()));
		} else
			(void)poll(NULL, 0, 1);
	}
}

void
run_reap_leftovers(struct runner *rner, int wait)
{
	uint64_t	end = mono_ms() + (wait ? 1000 : 0);
	size_t		i;
	pid_t		r;

	while (rner->nleftover > 0) {
		for (i = 0; i < rner->nleftover; ) {
			(void)kill(-rner->leftover[i], SIGKILL);
			r = waitpid(rner->leftover[i], NULL, WNOHANG);
			if (r == rner->leftover[i] || (r == -1 && errno == ECHILD))
				rner->leftover[i] =
				    rner->leftover[--rner->nleftover];
			else
				i++;
		}
		if (rner->nleftover == 0 || mono_ms() >= end)
			break;
		(void)poll(NULL, 0, TICK_MS);
	}
}

/*
 * Kills every process, other than ours, that holds the pipe fd is an end
 * of: what is left of a command that put itself outside its process
 * group (setsid) and kept its output open.  Found through /proc.
 */
static void
kill_pipe_holders(int fd)
{
	char		 want[64], path[64], link[64];
	struct stat	 st;
	struct dirent	*p, *f;
	DIR		*proc, *fds;
	pid_t		 pid, self = getpid();
	ssize_t		 n;

	if (fstat(fd, &st) != 0 || (proc = opendir("/proc")) == NULL)
		return;
	snprintf(want, sizeof want, "pipe:[%llu]", (unsigned long long)st.st_ino);
	while ((p = readdir(proc)) != NULL) {
		if ((pid = (pid_t)atoi(p->d_name)) <= 0 || pid == self)
			continue;
		snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
		if ((fds = opendir(path)) == NULL)
			continue;
		while ((f = readdir(fds)) != NULL) {
			if (f->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "/proc/%d/fd/%.16s",
			    (int)pid, f->d_name);
			n = readlink(path, link, sizeof link - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			if (strcmp(link, want) == 0) {
				(void)kill(pid, SIGKILL);
				break;
			}
		}
		closedir(fds);
	}
	closedir(proc);
}

static int
set_nonblock(int fd)
{
	int	fl = fcntl(fd, F_GETFL);

	return fl == -1 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* A pipe whose ends are CLOEXEC and at fd 3 or above. */
static int
pipe_high(int p[2])
{
	int	i, fd;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	for (i = 0; i < 2; i++) {
		if (p[i] >= 3)
			continue;
		if ((fd = fcntl(p[i], F_DUPFD_CLOEXEC, 3)) == -1) {
			close(p[0]);
			close(p[1]);
			return -1;
		}
		close(p[i]);
		p[i] = fd;
	}
	return 0;
}

static int
open_max(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		return rl.rlim_cur > 65536 ? 65536 : (int)rl.rlim_cur;
	return 1024;
}

static void
describe_status(struct run *rn, struct run_result *res)
{
	const char	*tail = rn->lasterr[0] != '\0' ? ": " : "";

	if (rn->status == -1)
		fail(res, "exit status lost (reaped elsewhere)");
	else if (WIFEXITED(rn->status) && WEXITSTATUS(rn->status) != 0)
		fail(res, "exited with status %d%s%s", WEXITSTATUS(rn->status),
		    tail, rn->lasterr);
	else if (WIFSIGNALED(rn->status))
		fail(res, "killed by signal %d (%s)%s%s", WTERMSIG(rn->status),
		    strsignal(WTERMSIG(rn->status)), tail, rn->lasterr);
}

int
run_command(struct runner *rner, char *const argv[], char *const envp[],
    const struct run_limits *lim, run_errline_fn errline, void *arg,
    struct run_result *res)
{
	struct run	 rn;
	struct pollfd	 pfd[3];
	int		 outp[2], errp[2], rep[2], e, maxfd, nfd, timeout;
	int		 timed_out = 0, gone = 0;
	char		*path;
	uint64_t	 deadline, now;
	ssize_t		 n;

	memset(res, 0, sizeof *res);
	memset(&rn, 0, sizeof rn);
	rn.lim = lim;
	rn.errline = errline;
	rn.arg = arg;
	rn.pidfd = -1;
	run_reap_leftovers(rner, 0);

	if ((path = resolve(argv[0])) == NULL) {
		fail(res, "%s: %s", argv[0], errno == ENOENT ?
		    "command not found" : strerror(errno));
		return 0;
	}
	if ((rn.buf = malloc(rn.cap = 4096)) == NULL) {
		free(path);
		return -1;
	}
	if (pipe_high(outp) == -1) {
		free(path);
		free(rn.buf);
		return -1;
	}
	if (pipe_high(errp) == -1) {
		e = errno;
		close(outp[0]);
		close(outp[1]);
		free(path);
		free(rn.buf);
		errno = e;
		return -1;
	}
	if (pipe_high(rep) == -1) {
		e = errno;
		close(outp[0]);
		close(outp[1]);
		close(errp[0]);
		close(errp[1]);
		free(path);
		free(rn.buf);
		errno = e;
		return -1;
	}
	maxfd = open_max();
	deadline = mono_ms() + lim->timeout_ms;

	rn.pid = fork();
	if (rn.pid == 0)
		child(path, argv, envp, outp[1], errp[1], rep[1], maxfd);
	e = errno;
	free(path);
	close(outp[1]);
	close(errp[1]);
	close(rep[1]);
	if (rn.pid == -1) {
		close(outp[0]);
		close(errp[0]);
		close(rep[0]);
		fail(res, "fork: %s", strerror(e));
		free(rn.buf);
		return 0;
	}
	/* Also here, so that a kill of the group can never miss it. */
	(void)setpgid(rn.pid, rn.pid);
	rn.pidfd = (int)syscall(SYS_pidfd_open, rn.pid, 0);

	/* EOF: exec worked (CLOEXEC); an int: the errno it failed with. */
	do
		n = read(rep[0], &e, sizeof e);
	while (n == -1 && errno == EINTR);
	close(rep[0]);
	rn.out.fd = outp[0];
	rn.err.fd = errp[0];
	if (set_nonblock(rn.out.fd) == -1 || set_nonblock(rn.err.fd) == -1) {
		fail(res, "fcntl: %s", strerror(errno));
		goto done;
	}
	if (n == (ssize_t)sizeof e) {
		fail(res, "%s: %s", argv[0], e == ENOENT ?
		    "command not found" : strerror(e));
		goto done;
	}

	for (;;) {
		check_exit(&rn);
		if (rn.exited && !gone) {
			/* Its leftovers go with it: no daemons from a probe. */
			kill_and_reap(&rn, lim->timeout_ms);
			gone = 1;
		}
		if (rn.out.fd == -1 && rn.err.fd == -1 && rn.reaped)
			break;
		now = mono_ms();
		if (now >= deadline) {
			timed_out = 1;
			break;
		}
		nfd = 0;
		if (rn.out.fd != -1)
			pfd[nfd++] = (struct pollfd){ rn.out.fd, POLLIN, 0 };
		if (rn.err.fd != -1)
			pfd[nfd++] = (struct pollfd){ rn.err.fd, POLLIN, 0 };
		if (!rn.exited && rn.pidfd >= 0)
			pfd[nfd++] = (struct pollfd){ rn.pidfd, POLLIN, 0 };
		timeout = (int)(deadline - now);
		if (!rn.exited && rn.pidfd < 0 && timeout > TICK_MS)
			timeout = TICK_MS;
		if (poll(pfd, (nfds_t)nfd, timeout) == -1 && errno != EINTR) {
			fail(res, "poll: %s", strerror(errno));
			break;
		}
		if ((rn.out.fd != -1 && drain(&rn, &rn.out, 1) != 0) ||
		    (rn.err.fd != -1 && drain(&rn, &rn.err, 0) != 0)) {
			fail(res, "out of memory reading the output");
			break;
		}
		if (rn.overflow) {
			fail(res, "output larger than %zu bytes (killed)",
			    lim->max_output);
			break;
		}
	}
	if (timed_out) {
		if (!rn.exited)
			fail(res, "timed out after %u ms (killed)%s%s",
			    lim->timeout_ms, rn.lasterr[0] != '\0' ? "; last "
			    "error output: " : "", rn.lasterr);
		else
			fail(res, "exited, but its output was still open "
			    "after %u ms (a process it started left its "
			    "process group)", lim->timeout_ms);
	}

done:
	if (!rn.reaped)
		kill_and_reap(&rn, 100);
	if (!rn.reaped && rner->nleftover < RUN_LEFTOVERS_MAX)
		rner->leftover[rner->nleftover++] = rn.pid;
	/* Still open once the group is dead: someone left the group. */
	if (rn.out.fd != -1 && rn.reaped)
		kill_pipe_holders(rn.out.fd);
	if (rn.err.fd != -1 && rn.reaped)
		kill_pipe_holders(rn.err.fd);
	if (rn.out.fd != -1)
		close(rn.out.fd);
	if (rn.err.fd != -1)
		close(rn.err.fd);
	if (rn.pidfd >= 0)
		close(rn.pidfd);
	if (rn.errdropped > 0) {
		char	msg[96];

		snprintf(msg, sizeof msg, "(%u more standard error lines not "
		    "logged)", rn.errdropped);
		errline(arg, msg);
	}
	if (res->failure == NULL && rn.reaped)
		describe_status(&rn, res);
	rn.buf[rn.len] = '\0';
	res->out = rn.buf;
	res->outlen = rn.len;
	return 0;
}
