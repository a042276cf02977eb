/*
 * contain.c - nothing a module starts outlives its worker.  A module may
 * fork helpers, start its own process groups or sessions, or daemonize
 * with a double fork; all of it is killed when its worker exits, and the
 * host's own exit leaves no descendant.  Three nets, for the worst case:
 *
 * - The supervisor is a child subreaper (PR_SET_CHILD_SUBREAPER): an
 *   orphan anywhere below it is re-parented to it, not to init, so it
 *   stays in reach and is reaped by the supervisor's SIGCHLD handler.
 * - Each worker runs in a cgroup of its own when the host can create one
 *   (cgroup v2 mounted and writable: root, or a delegated subtree).  A
 *   process cannot leave it without privilege, whatever it does with
 *   sessions and forks; cgroup.kill ends all of it at once.
 * - Without a cgroup: each worker leads a process group, and carries
 *   SCOPE_PLUGIN_HOST_WORKER=<host pid>.<serial> in its environment,
 *   which its descendants inherit (and keep in /proc/PID/environ even
 *   after clearing their environment, until they exec with another).  A
 *   sweep of /proc kills every process with the marker of a worker that
 *   is gone, and every child of the supervisor that is no worker and
 *   belongs to no live worker (an orphan that exec'd its marker away).
 *
 * The kill is SIGKILL: the worker itself had its SIGTERM and grace.
 */
#include <sys/prctl.h>
#include <sys/wait.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"

#define CGROUP_PREFIX "scope-plugin-host."
#define ENVIRON_MAX (256 * 1024)	/* read of /proc/PID/environ */

/* A worker cgroup waiting for its last process to exit, to be removed. */
struct cgdead {
	char			*path;
	TAILQ_ENTRY(cgdead)	 entry;
};

/* Writes s to the file dir/name; 0 or -1 with errno. */
static int
write_file(const char *dir, const char *name, const char *s)
{
	char	 path[4096];
	ssize_t	 n;
	int	 fd, saved;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >=
	    sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1)
		return -1;
	n = write(fd, s, strlen(s));
	saved = errno;
	close(fd);
	errno = saved;
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

/* Reads up to size - 1 bytes of path, NUL-terminated; length or -1. */
static ssize_t
read_file(const char *path, char *buf, size_t size)
{
	ssize_t	n, got = 0;
	int	fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while ((size_t)got < size - 1) {
		n = read(fd, buf + got, size - 1 - (size_t)got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	buf[got] = '\0';
	return got;
}

/* The cgroup v2 mount point, or NULL. */
static char *
cgroup2_mount(void)
{
	FILE	*f;
	char	*line = NULL, *found = NULL, *p, *mnt, *sep;
	size_t	 cap = 0;
	int	 i;

	if ((f = fopen("/proc/self/mountinfo", "re")) == NULL)
		return NULL;
	while (found == NULL && getline(&line, &cap, f) != -1) {
		/* id parent maj:min root mountpoint opts [tags] - fstype ... */
		if ((sep = strstr(line, " - ")) == NULL ||
		    strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		for (p = line, i = 0; i < 4 && p != NULL; i++)
			if ((p = strchr(p, ' ')) != NULL)
				p++;
		if (p == NULL || (mnt = strsep(&p, " ")) == NULL)
			continue;
		found = xstrdup(mnt);	/* octal escapes: refused by mkdir */
	}
	free(line);
	fclose(f);
	return found;
}

/* This process's cgroup v2 path ("0::/path"), or NULL. */
static char *
cgroup_self(void)
{
	char	buf[4096], *p, *nl;

	if (read_file("/proc/self/cgroup", buf, sizeof buf) <= 0)
		return NULL;
	for (p = buf; p != NULL && *p != '\0'; p = nl) {
		if ((nl = strchr(p, '\n')) != NULL)
			*nl++ = '\0';
		if (strncmp(p, "0::", 3) == 0)
			return xstrdup(p + 3);
	}
	return NULL;
}

/*
 * Kills every process in the cgroup at dir: cgroup.kill (Linux 5.14),
 * else each listed process, a few rounds (a fork in between is caught by
 * the next round, or by the removal that retries).
 */
static void
cgroup_kill(const char *dir)
{
	char		 path[4096], buf[8192], *p, *end;
	unsigned	 signalled;
	int		 round;

	if (write_file(dir, "cgroup.kill", "1") == 0)
		return;
	snprintf(path, sizeof path, "%s/cgroup.procs", dir);
	for (round = 0; round < 8; round++) {
		if (read_file(path, buf, sizeof buf) <= 0)
			return;
		signalled = 0;
		for (p = buf; *p != '\0'; p = end) {
			long pid = strtol(p, &end, 10);
			if (end == p)
				break;
			if (pid > 0 && kill((pid_t)pid, SIGKILL) == 0)
				signalled++;
		}
		if (signalled == 0)
			return;
	}
}

/* Removes dead worker cgroups that have emptied. */
static void
cgroups_collect(struct supervisor *sv)
{
	struct cgdead	*c, *next;

	TAILQ_FOREACH_SAFE(c, &sv->cgdead, entry, next) {
		if (rmdir(c->path) != 0) {
			if (errno == EBUSY) {
				/* Not empty yet: a fork may have raced the kill. */
				cgroup_kill(c->path);
				continue;
			}
			if (errno != ENOENT)
				log_warn("rmdir %s: %s", c->path,
				    strerror(errno));
		}
		TAILQ_REMOVE(&sv->cgdead, c, entry);
		free(c->path);
		free(c);
	}
}

/*
 * Cgroups of hosts that were killed (SIGKILL, a crash) before they could
 * clean up: their workers died with them (PR_SET_PDEATHSIG), but what
 * the modules started may still run there.  A host that still runs (with
 * another socket directory) is left alone.
 */
static void
cgroups_clean_stale(const char *parent)
{
	DIR		*d, *sub;
	struct dirent	*e, *w;
	char		 path[4096], wpath[4096 + 300];
	long		 pid;
	char		*end;

	if ((d = opendir(parent)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, CGROUP_PREFIX, strlen(CGROUP_PREFIX)) != 0)
			continue;
		pid = strtol(e->d_name + strlen(CGROUP_PREFIX), &end, 10);
		if (*end != '\0' || pid <= 0 || kill((pid_t)pid, 0) == 0 ||
		    errno != ESRCH)
			continue;
		snprintf(path, sizeof path, "%s/%s", parent, e->d_name);
		if ((sub = opendir(path)) != NULL) {
			while ((w = readdir(sub)) != NULL) {
				if (strncmp(w->d_name, "worker-", 7) != 0)
					continue;
				snprintf(wpath, sizeof wpath, "%s/%s", path,
				    w->d_name);
				cgroup_kill(wpath);
				rmdir(wpath);	/* busy until they exit */
			}
			closedir(sub);
		}
		if (rmdir(path) == 0)
			log_info("removed the cgroup %s of a host that is gone",
			    path);
		else
			log_warn("cgroup %s of a host that is gone: %s; its "
			    "processes were killed", path, strerror(errno));
	}
	closedir(d);
}

/*
 * Becomes a subreaper and, unless --no-cgroups, makes the cgroup the
 * workers' cgroups go in.  Without one, containment falls back to
 * process groups and the environment marker (logged once).
 */
void
contain_start(struct supervisor *sv)
{
	char	*mnt = NULL, *self = NULL, *parent = NULL;

	TAILQ_INIT(&sv->cgdead);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
		log_warn("PR_SET_CHILD_SUBREAPER: %s; a module's daemons "
		    "are found by their marker only", strerror(errno));
	if (!sv->o->cgroups)
		return;
	if ((mnt = cgroup2_mount()) == NULL || (self = cgroup_self()) == NULL) {
		log_info("no cgroup v2 hierarchy; workers are contained by "
		    "process group and environment marker");
		goto out;
	}
	xasprintf(&parent, "%s%s", mnt, strcmp(self, "/") == 0 ? "" : self);
	cgroups_clean_stale(parent);
	xasprintf(&sv->cg_rel, "%s%s%s%ld", strcmp(self, "/") == 0 ? "" : self,
	    "/", CGROUP_PREFIX, (long)getpid());
	xasprintf(&sv->cg_base, "%s%s", mnt, sv->cg_rel);
	if (mkdir(sv->cg_base, 0755) != 0 && errno != EEXIST) {
		log_info("cannot make the cgroup %s: %s; workers are "
		    "contained by process group and environment marker",
		    sv->cg_base, strerror(errno));
		free(sv->cg_base);
		free(sv->cg_rel);
		sv->cg_base = sv->cg_rel = NULL;
		goto out;
	}
	log_debug("workers run in cgroups under %s", sv->cg_base);
out:
	free(mnt);
	free(self);
	free(parent);
}

/*
 * A new worker's identity: its marker and, if cgroups work, its cgroup,
 * with *procs_fd open on its cgroup.procs for the child to join (-1 if
 * none).  The marker is "NAME=VALUE" in m->marker.
 */
void
contain_prepare(struct supervisor *sv, struct modent *m, int *procs_fd)
{
	char	*path;

	*procs_fd = -1;
	m->serial = ++sv->worker_serial;
	snprintf(m->marker, sizeof m->marker, "%s=%ld.%llu", CONTAIN_MARKER,
	    (long)getpid(), (unsigned long long)m->serial);
	free(m->cgroup);
	m->cgroup = NULL;
	if (sv->cg_base == NULL)
		return;
	xasprintf(&m->cgroup, "%s/worker-%llu", sv->cg_base,
	    (unsigned long long)m->serial);
	xasprintf(&path, "%s/cgroup.procs", m->cgroup);
	if (mkdir(m->cgroup, 0755) != 0 ||
	    (*procs_fd = open(path, O_WRONLY | O_CLOEXEC)) == -1) {
		log_warn("module %s: cgroup %s: %s; contained by process "
		    "group and marker only", mod_name(m), m->cgroup,
		    strerror(errno));
		rmdir(m->cgroup);
		free(m->cgroup);
		m->cgroup = NULL;
	}
	free(path);
}

/* The serial of the worker a process belongs to (0: none of ours). */
static unsigned long long
proc_serial(const struct supervisor *sv, const char *pid)
{
	static char	 buf[ENVIRON_MAX];
	char		 path[300], want[64], *p, *end;
	ssize_t		 n;
	size_t		 wl;
	unsigned long long s;

	if (sv->cg_rel != NULL) {
		snprintf(path, sizeof path, "/proc/%s/cgroup", pid);
		if (read_file(path, buf, 8192) > 0 &&
		    (p = strstr(buf, "0::")) != NULL &&
		    strncmp(p + 3, sv->cg_rel, strlen(sv->cg_rel)) == 0 &&
		    strncmp(p + 3 + strlen(sv->cg_rel), "/worker-", 8) == 0) {
			s = strtoull(p + 3 + strlen(sv->cg_rel) + 8, &end, 10);
			if (s != 0)
				return s;
		}
	}
	snprintf(path, sizeof path, "/proc/%s/environ", pid);
	if ((n = read_file(path, buf, sizeof buf)) <= 0)
		return 0;
	wl = (size_t)snprintf(want, sizeof want, "%s=%ld.", CONTAIN_MARKER,
	    (long)getpid());
	for (p = buf; p < buf + n; p += strlen(p) + 1)
		if (strncmp(p, want, wl) == 0)
			return strtoull(p + wl, NULL, 10);
	return 0;
}

static const struct modent *
live_worker(const struct supervisor *sv, unsigned long long serial)
{
	const struct modent	*m;

	TAILQ_FOREACH(m, &sv->mods, entry)
		if (m->pid > 0 && m->serial == serial)
			return m;
	return NULL;
}

/*
 * Kills what belongs to no live worker: processes with the marker or
 * the cgroup of a worker that is gone, and children of ours that are
 * not workers and belong to no live worker.  all (shutdown): everything
 * of ours.  Returns how many processes it signalled.
 */
unsigned
contain_sweep(struct supervisor *sv, int all)
{
	DIR			*d;
	struct dirent		*e;
	char			 path[300], buf[1024], *p;
	unsigned long long	 serial;
	unsigned		 killed = 0;
	pid_t			 self = getpid(), pid;
	long			 ppid;
	char			 state;

	if ((d = opendir("/proc")) == NULL) {
		log_warn("opendir /proc: %s", strerror(errno));
		return 0;
	}
	while ((e = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		pid = (pid_t)strtol(e->d_name, NULL, 10);
		if (pid == self || (!all && mod_find_pid(sv, pid) != NULL))
			continue;
		snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
		if (read_file(path, buf, sizeof buf) <= 0 ||
		    (p = strrchr(buf, ')')) == NULL ||
		    sscanf(p + 1, " %c %ld", &state, &ppid) != 2 ||
		    state == 'Z')	/* dead: its parent (or we) reaps it */
			continue;
		serial = proc_serial(sv, e->d_name);
		if (serial == 0 && ppid != (long)self)
			continue;
		if (!all && serial != 0 && live_worker(sv, serial) != NULL)
			continue;
		if (kill(pid, SIGKILL) == 0) {
			killed++;
			log_debug("killed process %ld (%s of worker %llu)",
			    (long)pid, serial != 0 ? "left over" : "orphan",
			    serial);
		}
	}
	closedir(d);
	return killed;
}

/*
 * The worker of m has exited (and was reaped): kill everything it
 * started.  Its cgroup is removed once empty.
 */
void
contain_worker_exited(struct supervisor *sv, struct modent *m, pid_t pid)
{
	struct cgdead	*c;

	if (m->cgroup != NULL) {
		cgroup_kill(m->cgroup);
		c = xcalloc(1, sizeof *c);
		c->path = m->cgroup;
		m->cgroup = NULL;
		TAILQ_INSERT_TAIL(&sv->cgdead, c, entry);
	}
	/* The worker led its process group; its members may remain. */
	if (killpg(pid, SIGKILL) == 0)
		log_debug("module %s: killed process group %ld", mod_name(m),
		    (long)pid);
	contain_sweep(sv, 0);
	cgroups_collect(sv);
}

/* A child that was no worker was reaped: what it left may be orphaned. */
void
contain_orphans(struct supervisor *sv)
{
	contain_sweep(sv, 0);
	cgroups_collect(sv);
}

/*
 * Shutdown, after the last worker exited: kill and reap everything that
 * is left, until we have no child and no cgroup.  Bounded: a process in
 * uninterruptible sleep is reported, not waited for.
 */
void
contain_finish(struct supervisor *sv)
{
	struct cgdead	*c;
	struct timespec	 ts = { 0, 10 * 1000000 };
	int		 round, status, children = 0;

	for (round = 0; round < 300; round++) {
		TAILQ_FOREACH(c, &sv->cgdead, entry)
			cgroup_kill(c->path);
		contain_sweep(sv, 1);
		while (waitpid(-1, &status, WNOHANG) > 0)
			;
		children = !(waitpid(-1, &status, WNOHANG) == -1 &&
		    errno == ECHILD);
		cgroups_collect(sv);
		if (!children && TAILQ_EMPTY(&sv->cgdead))
			break;
		nanosleep(&ts, NULL);
	}
	if (children)
		log_warn("processes started by modules survived SIGKILL (in "
		    "uninterruptible sleep?)");
	while ((c = TAILQ_FIRST(&sv->cgdead)) != NULL) {
		log_warn("cgroup %s still holds processes; left in place",
		    c->path);
		TAILQ_REMOVE(&sv->cgdead, c, entry);
		free(c->path);
		free(c);
	}
	if (sv->cg_base != NULL && rmdir(sv->cg_base) != 0)
		log_warn("rmdir %s: %s", sv->cg_base, strerror(errno));
	free(sv->cg_base);
	free(sv->cg_rel);
	sv->cg_base = sv->cg_rel = NULL;
}
