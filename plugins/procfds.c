/*
 * procfds.c - open file descriptors and threads of each process, on the
 * Process nodes "<hostname>;<pid>" that Scope's probe reports.
 *
 * For every numeric directory of <proc_root> (lowest pids first, at most
 * the parameter max_processes, default 512, so that a busy machine cannot
 * push a collect past the probe's 500 ms): metric procfds_open_fds, the
 * entries of <pid>/fd, plotted 0 .. the soft "Max open files" limit of
 * <pid>/limits (or the count itself when unreadable), and metric
 * procfds_threads from the Threads: line of <pid>/status.  A process that
 * exits while being read is skipped; one whose fd directory is not
 * readable (another user's, without privilege) gets threads only.
 * Parameters: proc_root (default /proc), max_processes.
 */
#include <sys/types.h>

#include <dirent.h>
#include <limits.h>
#include <stdlib.h>

#include "common.h"

#define DEFAULT_MAX	512

static int
pid_cmp(const void *a, const void *b)
{
	pid_t	x = *(const pid_t *)a, y = *(const pid_t *)b;

	return x < y ? -1 : x > y;
}

/* Numeric entries of dir, sorted; *n set.  NULL on error. */
static pid_t *
list_pids(const char *dir, size_t *n)
{
	DIR		*d;
	struct dirent	*de;
	pid_t		*v = NULL, *nv;
	size_t		 cap = 0;
	char		*end;
	long		 pid;

	*n = 0;
	if ((d = opendir(dir)) == NULL)
		return NULL;
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (*end != '\0' || pid <= 0 || pid > INT_MAX)
			continue;
		if (*n == cap) {
			cap = cap == 0 ? 256 : cap * 2;
			if ((nv = realloc(v, cap * sizeof *v)) == NULL)
				goto fail;
			v = nv;
		}
		v[(*n)++] = (pid_t)pid;
	}
	if (errno != 0)
		goto fail;
	closedir(d);
	if (v == NULL && (v = malloc(sizeof *v)) == NULL)
		return NULL;	/* empty but not an error */
	qsort(v, *n, sizeof *v, pid_cmp);
	return v;
fail:
	closedir(d);
	free(v);
	return NULL;
}

/* Entries of <proc_root>/<pid>/fd, or -1 (errno set). */
static long
count_fds(struct sph_host *host, pid_t pid)
{
	char		 rel[64], path[4096];
	DIR		*d;
	struct dirent	*de;
	long		 n = 0;

	snprintf(rel, sizeof rel, "%ld/fd", (long)pid);
	if (sph_root_path(host, "proc_root", "/proc", rel, path,
	    sizeof path) != 0 || (d = opendir(path)) == NULL)
		return -1;
	while ((errno = 0, de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	if (errno != 0) {
		closedir(d);
		return -1;
	}
	closedir(d);
	return n;
}

/* The soft "Max open files" limit, or -1 (unlimited, unreadable). */
static long
fd_limit(struct sph_host *host, pid_t pid)
{
	char	 rel[64], buf[4096], *p;
	long	 soft;

	snprintf(rel, sizeof rel, "%ld/limits", (long)pid);
	if (sph_root_read(host, "proc_root", "/proc", rel, buf,
	    sizeof buf) == -1 || (p = strstr(buf, "Max open files")) == NULL ||
	    sscanf(p + 14, " %ld", &soft) != 1 || soft <= 0)
		return -1;
	return soft;
}

/* Threads: from <pid>/status, or -1. */
static long
count_threads(struct sph_host *host, pid_t pid)
{
	char	 rel[64], buf[8192], *p;
	long	 n;

	snprintf(rel, sizeof rel, "%ld/status", (long)pid);
	if (sph_root_read(host, "proc_root", "/proc", rel, buf,
	    sizeof buf) == -1 && errno != EFBIG)
		return -1;
	if ((p = strstr(buf, "\nThreads:")) == NULL ||
	    sscanf(p + 9, " %ld", &n) != 1 || n < 0)
		return -1;
	return n;
}

static int
procfds_init(struct sph_host *host, void **state)
{
	*state = host;
	return 0;
}

static int
procfds_collect(void *state, yajl_gen gen)
{
	struct sph_host		*host = state;
	struct sph_report	*r;
	const char		*v;
	char			 root[4096], *end;
	pid_t			*pids;
	size_t			 n, i, max = DEFAULT_MAX;
	long			 fds, limit, threads;

	if ((v = sph_param(host, "max_processes")) != NULL) {
		errno = 0;
		max = strtoul(v, &end, 10);
		if (errno != 0 || *end != '\0' || max == 0) {
			sph_log(host, SPH_LOG_ERR, "bad max_processes \"%s\"", v);
			return -1;
		}
	}
	if (sph_root_path(host, "proc_root", "/proc", "", root,
	    sizeof root) != 0 || (pids = list_pids(root, &n)) == NULL) {
		sph_log(host, SPH_LOG_ERR, "%s: %s", root, strerror(errno));
		return -1;
	}
	if (n > max)
		n = max;

	if ((r = sph_report_begin(host, gen)) == NULL) {
		free(pids);
		return -1;
	}
	sph_topology(r, "Process");
	sph_metric_template(r, "procfds_open_fds", "Open file descriptors",
	    SPH_FORMAT_INTEGER, 8.1);
	sph_metric_template(r, "procfds_threads", "Threads",
	    SPH_FORMAT_INTEGER, 8.2);
	for (i = 0; i < n; i++) {
		/* Read first: a process may be gone by now. */
		threads = count_threads(host, pids[i]);
		fds = count_fds(host, pids[i]);
		if (threads < 0 && fds < 0)
			continue;
		sph_node_process(r, pids[i]);
		if (fds >= 0) {
			limit = fd_limit(host, pids[i]);
			sph_metric(r, "procfds_open_fds", (double)fds, 0,
			    (double)(limit >= fds ? limit : fds));
		}
		if (threads >= 0)
			sph_metric(r, "procfds_threads", (double)threads, 0,
			    (double)threads);
	}
	free(pids);
	return sph_report_end(r);
}

SPH_MODULE(
	.id = "procfds",
	.label = "Process fds",
	.description = "Adds open file descriptors and threads to processes",
	.init = procfds_init,
	.collect = procfds_collect,
);
