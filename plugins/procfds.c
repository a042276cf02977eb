/*
 * procfds.c - what Scope's process panel lacks, on the Process nodes
 * "<hostname>;<pid>" that Scope's probe reports.
 *
 * Scope already shows CPU, Memory, Open files, # Threads, PID, Parent
 * PID and Command; this module repeats none of them.  For every numeric
 * directory of <proc_root> (lowest pids first, at most the parameter
 * max_processes, default 512, so that a busy machine cannot push a
 * collect past the probe's 500 ms) it reports:
 *   - metric procfds_fd_use "Open files (% of limit)": the entries of
 *     <pid>/fd as a share of the soft "Max open files" limit of
 *     <pid>/limits, so fd exhaustion shows before it happens;
 *   - metric procfds_io "Disk IO /s": read_bytes + write_bytes of
 *     <pid>/io per second since the last collect (a process seen for the
 *     first time, or a pid reused since, has no rate yet);
 *   - metadata, formatted for people: procfds_fd_limit "Open files
 *     limit" (soft, and hard in brackets), procfds_io_rates "Disk IO
 *     rate" ("read 1.2 MiB/s, write 0 B/s"), procfds_io_total "Disk IO
 *     total" (since the process started),
 *     procfds_user "User" (name from PID 1's /etc/passwd, else ours, else
 *     the uid), procfds_state "State", procfds_started "Started" (from
 *     the start time in <pid>/stat and btime of <proc_root>/stat) and
 *     procfds_swap "Swap" (VmSwap of <pid>/status, when not zero).
 *
 * <pid>/fd and <pid>/io of another user's process are readable only
 * with CAP_DAC_READ_SEARCH (fd) and CAP_SYS_PTRACE (io); without them
 * such a process gets the rest and the module logs once how many it
 * could not read and what it needs.  A process that exits while being
 * read is skipped.  Parameters: proc_root (default /proc),
 * max_processes.
 */
#include <sys/types.h>

#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "common.h"

#define DEFAULT_MAX	512
#define PASSWD_MAX	(256 * 1024)

/* Disk IO counters of one process at the last collect. */
struct io_seen {
	pid_t		 pid;
	uint64_t	 start;		/* ticks after boot: tells a reused pid */
	uint64_t	 rd;
	uint64_t	 wr;
};

struct procfds {
	struct sph_host	*host;
	struct kfile	 stat;		/* <proc_root>/stat, for btime */
	struct io_seen	*seen;		/* sorted by pid */
	size_t		 nseen;
	struct timespec	 seen_ts;
	int		 warned;	/* logged the missing privileges */
};

/* What one process yields; -1 (or UINT64_MAX) where unknown. */
struct proc {
	pid_t		 pid;
	char		 state;
	uint64_t	 start;
	long		 uid;
	long		 swap_kb;
	long		 fds;
	long		 soft;		/* 0: unlimited */
	long		 hard;
	int		 have_io;
	uint64_t	 rd;
	uint64_t	 wr;
	int		 denied;	/* fd or io: EACCES/EPERM */
};

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

static int
denied(void)
{
	return errno == EACCES || errno == EPERM;
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

/* Soft and hard "Max open files" (0: unlimited); -1 if unreadable. */
static int
fd_limits(struct sph_host *host, pid_t pid, long *soft, long *hard)
{
	char	 rel[64], buf[4096], s[32], h[32], *p;

	snprintf(rel, sizeof rel, "%ld/limits", (long)pid);
	if (sph_root_read(host, "proc_root", "/proc", rel, buf,
	    sizeof buf) == -1 || (p = strstr(buf, "Max open files")) == NULL ||
	    sscanf(p + 14, " %31s %31s", s, h) != 2)
		return -1;
	*soft = strcmp(s, "unlimited") == 0 ? 0 : strtol(s, NULL, 10);
	*hard = strcmp(h, "unlimited") == 0 ? 0 : strtol(h, NULL, 10);
	return *soft >= 0 && *hard >= 0 ? 0 : -1;
}

/* State and start time from <pid>/stat; -1 if gone. */
static int
read_stat(struct sph_host *host, struct proc *p)
{
	char			 rel[64], buf[4096], *q;
	unsigned long long	 start;

	snprintf(rel, sizeof rel, "%ld/stat", (long)p->pid);
	if (sph_root_read(host, "proc_root", "/proc", rel, buf,
	    sizeof buf) == -1)
		return -1;
	/* The command may hold anything, ")" included: the last one ends it. */
	if ((q = strrchr(buf, ')')) == NULL ||
	    sscanf(q + 1, " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u"
	    " %*d %*d %*d %*d %*d %*d %llu", &p->state, &start) != 2)
		return -1;
	p->start = start;
	return 0;
}

/* Real uid and VmSwap from <pid>/status. */
static void
read_status(struct sph_host *host, struct proc *p)
{
	char	 rel[64], buf[8192], *q;

	snprintf(rel, sizeof rel, "%ld/status", (long)p->pid);
	if (sph_root_read(host, "proc_root", "/proc", rel, buf,
	    sizeof buf) == -1 && errno != EFBIG)
		return;
	if ((q = strstr(buf, "\nUid:")) != NULL)
		sscanf(q + 5, " %ld", &p->uid);
	if ((q = strstr(buf, "\nVmSwap:")) != NULL)
		sscanf(q + 8, " %ld", &p->swap_kb);
}

/* read_bytes and write_bytes of <pid>/io. */
static int
read_io(struct sph_host *host, struct proc *p)
{
	char	 rel[64], buf[1024], *q, *w;

	snprintf(rel, sizeof rel, "%ld/io", (long)p->pid);
	if (sph_root_read(host, "proc_root", "/proc", rel, buf,
	    sizeof buf) == -1)
		return -1;
	if ((q = strstr(buf, "\nread_bytes:")) == NULL ||
	    (w = strstr(buf, "\nwrite_bytes:")) == NULL ||
	    sscanf(q + 12, " %" SCNu64, &p->rd) != 1 ||
	    sscanf(w + 13, " %" SCNu64, &p->wr) != 1) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* btime of <proc_root>/stat: boot time in seconds since the epoch. */
static long long
boot_time(struct procfds *pf)
{
	char		 buf[65536], *p;
	long long	 bt;

	if (kfile_read(pf->host, &pf->stat, "proc_root", "/proc", "stat", buf,
	    sizeof buf) == -1 && errno != EFBIG)
		return -1;
	if ((p = strstr(buf, "\nbtime ")) == NULL ||
	    sscanf(p + 7, "%lld", &bt) != 1)
		return -1;
	return bt;
}

/*
 * The user database of the host's root (PID 1's, as seen through
 * <proc_root>/1/root: in a container that is the node's), else our own.
 * An allocated buffer, or NULL.
 */
static char *
passwd_load(struct sph_host *host)
{
	char	*buf;

	if ((buf = malloc(PASSWD_MAX)) == NULL)
		return NULL;
	if (sph_root_read(host, "proc_root", "/proc", "1/root/etc/passwd", buf,
	    PASSWD_MAX) == -1 && errno != EFBIG) {
		FILE	*f;
		size_t	 n;

		if ((f = fopen("/etc/passwd", "r")) == NULL) {
			free(buf);
			return NULL;
		}
		n = fread(buf, 1, PASSWD_MAX - 1, f);
		buf[n] = '\0';
		fclose(f);
	}
	return buf;
}

/* User name of uid in passwd, into out; the uid when unknown. */
static void
user_name(const char *passwd, long uid, char *out, size_t len)
{
	const char	*line, *c1, *c2, *c3;
	long		 u;

	for (line = passwd; line != NULL && *line != '\0';
	    line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		/* name:password:uid:... */
		if ((c1 = strchr(line, ':')) == NULL ||
		    (c2 = strchr(c1 + 1, ':')) == NULL ||
		    ((c3 = strchr(line, '\n')) != NULL && c3 < c2))
			continue;
		if (sscanf(c2 + 1, "%ld", &u) == 1 && u == uid &&
		    c1 > line && (size_t)(c1 - line) < len) {
			snprintf(out, len, "%.*s", (int)(c1 - line), line);
			return;
		}
	}
	snprintf(out, len, "uid %ld", uid);
}

static const char *
state_name(char s)
{
	switch (s) {
	case 'R':	return "running";
	case 'S':	return "sleeping";
	case 'D':	return "waiting, uninterruptible (D)";
	case 'Z':	return "zombie";
	case 'T':	return "stopped";
	case 't':	return "stopped by a tracer";
	case 'I':	return "idle";
	case 'X':	return "dead";
	case 'P':	return "parked";
	default:	return NULL;
	}
}

static const struct io_seen *
seen_find(const struct procfds *pf, pid_t pid)
{
	size_t	lo = 0, hi = pf->nseen, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (pf->seen[mid].pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < pf->nseen && pf->seen[lo].pid == pid ? &pf->seen[lo] :
	    NULL;
}

static int
procfds_init(struct sph_host *host, void **state)
{
	struct procfds	*pf;

	if ((pf = state_alloc(host, sizeof *pf)) == NULL)
		return -1;
	pf->host = host;
	kfile_init(&pf->stat);
	if (geteuid() != 0)
		sph_log(host, SPH_LOG_WARNING, "running as uid %ld: open files "
		    "and disk IO only of this user's processes (root with "
		    "CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE sees all)",
		    (long)geteuid());
	*state = pf;
	return 0;
}

static void
templates(struct sph_report *r)
{
	static const struct {
		const char		*id;
		const char		*label;
		enum sph_datatype	 type;
	} meta[] = {
		{ "procfds_user", "User", SPH_DATATYPE_TEXT },
		{ "procfds_state", "State", SPH_DATATYPE_TEXT },
		{ "procfds_started", "Started", SPH_DATATYPE_DATETIME },
		{ "procfds_fd_limit", "Open files limit", SPH_DATATYPE_TEXT },
		{ "procfds_io_rates", "Disk IO rate", SPH_DATATYPE_TEXT },
		{ "procfds_io_total", "Disk IO total", SPH_DATATYPE_TEXT },
		{ "procfds_swap", "Swap", SPH_DATATYPE_TEXT },
	};
	size_t	i;

	sph_metric_template(r, "procfds_fd_use", "Open files (% of limit)",
	    SPH_FORMAT_PERCENT, 8.1);
	sph_metric_template(r, "procfds_io", "Disk IO /s",
	    SPH_FORMAT_FILESIZE, 8.2);
	/* After Scope's own rows, before "show more" (priority 10). */
	for (i = 0; i < sizeof meta / sizeof meta[0]; i++)
		sph_metadata_template(r, meta[i].id, meta[i].label,
		    8.1 + 0.1 * (double)i, SPH_FROM_LATEST, meta[i].type);
}

/* One process into the report; its IO counters into *seen. */
static void
report_proc(struct procfds *pf, struct sph_report *r, const struct proc *p,
    const char *passwd, long long btime, double dt)
{
	const struct io_seen	*old;
	struct timespec		 ts;
	const char		*st;
	char			 a[32], b[32], buf[SPH_TIMESTAMP_MAX];
	double			 rd, wr;
	long			 tck = sysconf(_SC_CLK_TCK);

	sph_node_process(r, p->pid);
	if (p->uid >= 0) {
		user_name(passwd, p->uid, buf, sizeof buf);
		sph_latest(r, "procfds_user", buf);
	}
	if ((st = state_name(p->state)) != NULL)
		sph_latest(r, "procfds_state", st);
	if (btime >= 0 && tck > 0) {
		ts.tv_sec = (time_t)(btime + (long long)(p->start / (uint64_t)tck));
		ts.tv_nsec = 0;
		if (sph_rfc3339(&ts, buf, sizeof buf) == 0)
			sph_latest(r, "procfds_started", buf);
	}
	if (p->soft >= 0) {
		if (p->soft == 0)
			sph_latest(r, "procfds_fd_limit", "unlimited");
		else if (p->hard == 0)
			sph_latestf(r, "procfds_fd_limit", "%ld (hard: "
			    "unlimited)", p->soft);
		else
			sph_latestf(r, "procfds_fd_limit", "%ld (hard: %ld)",
			    p->soft, p->hard);
		if (p->fds >= 0 && p->soft > 0)
			sph_metric(r, "procfds_fd_use", 100.0 * (double)p->fds /
			    (double)p->soft, 0, 100);
	}
	if (p->swap_kb > 0) {
		fmt_bytes(a, sizeof a, (double)p->swap_kb * 1024, "");
		sph_latest(r, "procfds_swap", a);
	}
	if (!p->have_io)
		return;
	fmt_bytes(a, sizeof a, (double)p->rd, "");
	fmt_bytes(b, sizeof b, (double)p->wr, "");
	sph_latestf(r, "procfds_io_total", "read %s, written %s", a, b);
	if ((old = seen_find(pf, p->pid)) == NULL || old->start != p->start ||
	    p->rd < old->rd || p->wr < old->wr || !(dt > 0))
		return;
	rd = (double)(p->rd - old->rd) / dt;
	wr = (double)(p->wr - old->wr) / dt;
	sph_metric(r, "procfds_io", rd + wr, 0, rd + wr);
	fmt_bytes(a, sizeof a, rd, "/s");
	fmt_bytes(b, sizeof b, wr, "/s");
	sph_latestf(r, "procfds_io_rates", "read %s, write %s", a, b);
}

static int
procfds_collect(void *state, yajl_gen gen)
{
	struct procfds		*pf = state;
	struct sph_host		*host = pf->host;
	struct sph_report	*r;
	struct io_seen		*seen;
	struct proc		 p;
	const char		*v;
	char			 root[4096], *end, *passwd;
	pid_t			*pids;
	size_t			 n, i, max = DEFAULT_MAX, nseen = 0, ndenied = 0;
	long long		 btime;
	double			 dt;

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
	if ((seen = calloc(n + 1, sizeof *seen)) == NULL ||
	    (r = sph_report_begin(host, gen)) == NULL) {
		if (seen == NULL)
			sph_log(host, SPH_LOG_ERR, "out of memory");
		free(seen);
		free(pids);
		return -1;
	}
	passwd = passwd_load(host);
	btime = boot_time(pf);
	dt = elapsed(sph_report_time(r), &pf->seen_ts);
	sph_topology(r, "Process");
	templates(r);
	for (i = 0; i < n; i++) {
		memset(&p, 0, sizeof p);
		p.pid = pids[i];
		p.uid = p.fds = p.soft = p.hard = -1;
		/* A process without a stat file is gone: skip it. */
		if (read_stat(host, &p) != 0)
			continue;
		read_status(host, &p);
		if (fd_limits(host, p.pid, &p.soft, &p.hard) != 0)
			p.soft = p.hard = -1;
		if ((p.fds = count_fds(host, p.pid)) < 0 && denied())
			p.denied = 1;
		if (read_io(host, &p) == 0) {
			p.have_io = 1;
			seen[nseen].pid = p.pid;
			seen[nseen].start = p.start;
			seen[nseen].rd = p.rd;
			seen[nseen].wr = p.wr;
			nseen++;
		} else if (denied())
			p.denied = 1;
		ndenied += p.denied;
		report_proc(pf, r, &p, passwd ? passwd : "", btime, dt);
	}
	free(passwd);
	free(pids);
	if (ndenied > 0 && !pf->warned) {
		sph_log(host, SPH_LOG_WARNING, "open files or disk IO of %zu "
		    "of %zu processes not readable (other users'): needs root "
		    "with CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE", ndenied, n);
		pf->warned = 1;
	}
	free(pf->seen);
	pf->seen = seen;
	pf->nseen = nseen;
	pf->seen_ts = *sph_report_time(r);
	return sph_report_end(r);
}

static void
procfds_fini(void *state)
{
	struct procfds	*pf = state;

	kfile_close(&pf->stat);
	free(pf->seen);
	free(pf);
}

SPH_MODULE(
	.id = "procfds",
	.label = "Process details",
	.description = "Adds open files as % of the limit, disk IO, user, "
	    "state and start time to processes",
	.init = procfds_init,
	.collect = procfds_collect,
	.fini = procfds_fini,
);
