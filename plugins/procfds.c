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
 *
 * Cost: a machine has hundreds of processes, and reading them all is
 * milliseconds of kernel and JSON work.  So the module collects in the
 * background every INTERVAL_MS (10 s; the operator's interval setting
 * overrides it, 0 collects on every request) and each request gets the
 * last report.  A collect reads <pid>/stat (state, and the start time
 * that tells a reused pid) and <pid>/io through descriptors kept open
 * and re-read from offset 0 (two per process, the soft open-files limit
 * raised for them when it is low), and counts <pid>/fd from the
 * directory's size (Linux 6.2 and later report the number of open
 * descriptors there; elsewhere, and under a proc_root that is not
 * procfs, by reading the directory).  What rarely changes (user, limit,
 * swap, the start time as text, whether fd may be read) is kept per pid
 * and start time and re-read about every REFRESH_S seconds, a share of
 * the processes at each collect, and when a process is new; the user
 * database and btime are re-read as often.  Paths are opened relative
 * to a kept descriptor of <proc_root>.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "common.h"

#define DEFAULT_MAX	512
#define PASSWD_MAX	(256 * 1024)
#define INTERVAL_MS	10000		/* collect in the background this often */
#define REFRESH_S	30		/* seconds between re-reads of slow facts */
#define PROC_MAGIC	0x9fa0		/* statfs f_type of procfs */

/*
 * One process as of the last collect, found again by pid; its facts
 * hold while the start time is the same.  -1 where unknown.
 */
struct proc {
	pid_t		 pid;
	uint64_t	 start;		/* ticks after boot: tells a reused pid */
	char		 state;
	/* Slow facts, re-read about every REFRESH_S seconds. */
	long		 uid;
	long		 swap_kb;
	long		 soft;		/* 0: unlimited */
	long		 hard;
	int		 fd_ok;		/* <pid>/fd may be read (size mode) */
	char		 user[64];	/* "" if uid unknown */
	char		 started[SPH_TIMESTAMP_MAX];	/* "" if unknown */
	/* Read every collect, through descriptors kept open (-1: none). */
	int		 stat_fd;
	int		 io_fd;
	long		 fds;
	int		 have_io;
	uint64_t	 rd;
	uint64_t	 wr;
	int		 denied;	/* fd or io: EACCES/EPERM */
};

struct procfds {
	struct sph_host	*host;
	struct kfile	 stat;		/* <proc_root>/stat, for btime */
	int		 root;		/* <proc_root>, or -1 */
	char		 root_path[4096];
	int		 fd_size;	/* root is procfs with fd counts as sizes */
	struct proc	*seen;		/* last collect's, sorted by pid */
	size_t		 nseen;
	size_t		 seen_cap;
	struct proc	*next;		/* this collect's; swapped with seen */
	size_t		 next_cap;
	struct timespec	 seen_ts;
	unsigned long	 ncollect;
	size_t		 nkept;		/* descriptors held in seen */
	size_t		 kept_max;	/* at most this many */
	long long	 btime;		/* -1: unknown */
	char		*passwd;	/* user database, NUL-terminated */
	long		 tck;		/* clock ticks per second */
	int		 warned;	/* logged the missing privileges */
};

static int
pid_cmp(const void *a, const void *b)
{
	pid_t	x = *(const pid_t *)a, y = *(const pid_t *)b;

	return x < y ? -1 : x > y;
}

/* Numeric entries of the directory root, sorted; *n set.  NULL on error. */
static pid_t *
list_pids(int root, size_t *n)
{
	DIR		*d;
	struct dirent	*de;
	pid_t		*v = NULL, *nv;
	size_t		 cap = 0;
	char		*end;
	long		 pid;
	int		 fd;

	*n = 0;
	if ((fd = openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return NULL;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return NULL;
	}
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

/*
 * The file open on fd, from offset 0, into buf, NUL-terminated (cut at
 * len - 1 bytes); the length, or -1 with errno set.  procfs hands a
 * small file over in one read and a regular file reads short only at
 * its end, so a short read ends it without another call.
 */
static ssize_t
pread_all(int fd, char *buf, size_t len)
{
	size_t	off = 0;
	ssize_t	n;

	while (off < len - 1) {
		if ((n = pread(fd, buf + off, len - 1 - off, (off_t)off)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)n;
		if (n == 0 || (size_t)n < len - 1 - (off - (size_t)n))
			break;
	}
	buf[off] = '\0';
	return (ssize_t)off;
}

/* "<pid>/<name>" under the root directory into buf, as pread_all(). */
static ssize_t
read_pid_file(int root, pid_t pid, const char *name, char *buf, size_t len)
{
	char	rel[64];
	ssize_t	n;
	int	fd, e;

	snprintf(rel, sizeof rel, "%ld/%s", (long)pid, name);
	if ((fd = openat(root, rel, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = pread_all(fd, buf, len);
	e = errno;
	close(fd);
	errno = e;
	return n;
}

/*
 * As read_pid_file(), through *fd kept open between collects and re-read
 * from offset 0 (procfs regenerates the file).  A kept descriptor of a
 * process that exited, or whose pid now names another process, fails
 * (ESRCH): the file is then opened again by name.  New descriptors are
 * kept while pf->kept_max allows.
 */
static ssize_t
read_kept(struct procfds *pf, int *fd, pid_t pid, const char *name,
    char *buf, size_t len)
{
	char	rel[64];
	ssize_t	n;
	int	e;

	if (*fd >= 0) {
		if ((n = pread_all(*fd, buf, len)) >= 0)
			return n;
		close(*fd);
		*fd = -1;
		pf->nkept--;
	}
	if (pf->nkept >= pf->kept_max)
		return read_pid_file(pf->root, pid, name, buf, len);
	snprintf(rel, sizeof rel, "%ld/%s", (long)pid, name);
	if ((*fd = openat(pf->root, rel, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	pf->nkept++;
	if ((n = pread_all(*fd, buf, len)) == -1) {
		e = errno;
		close(*fd);
		*fd = -1;
		pf->nkept--;
		errno = e;
	}
	return n;
}

/* Close p's kept descriptors. */
static void
unkeep(struct procfds *pf, struct proc *p)
{
	if (p->stat_fd >= 0) {
		close(p->stat_fd);
		pf->nkept--;
	}
	if (p->io_fd >= 0) {
		close(p->io_fd);
		pf->nkept--;
	}
	p->stat_fd = p->io_fd = -1;
}

/* Entries of <pid>/fd, or -1 (errno set). */
static long
count_fds(struct procfds *pf, pid_t pid)
{
	char		 rel[64];
	struct stat	 st;
	DIR		*d;
	struct dirent	*de;
	long		 n = 0;
	int		 fd;

	snprintf(rel, sizeof rel, "%ld/fd", (long)pid);
	if (pf->fd_size) {
		if (fstatat(pf->root, rel, &st, 0) == -1)
			return -1;
		return (long)st.st_size;
	}
	if ((fd = openat(pf->root, rel, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
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
fd_limits(struct procfds *pf, struct proc *p)
{
	char	 buf[4096], s[32], h[32], *q;

	if (read_pid_file(pf->root, p->pid, "limits", buf, sizeof buf) == -1 ||
	    (q = strstr(buf, "Max open files")) == NULL ||
	    sscanf(q + 14, " %31s %31s", s, h) != 2)
		return -1;
	p->soft = strcmp(s, "unlimited") == 0 ? 0 : strtol(s, NULL, 10);
	p->hard = strcmp(h, "unlimited") == 0 ? 0 : strtol(h, NULL, 10);
	return p->soft >= 0 && p->hard >= 0 ? 0 : -1;
}

/* State and start time from <pid>/stat; -1 if gone. */
static int
read_stat(struct procfds *pf, struct proc *p)
{
	char		 buf[1024], *q, *end;
	int		 field;

	if (read_kept(pf, &p->stat_fd, p->pid, "stat", buf, sizeof buf) == -1)
		return -1;
	/* The command may hold anything, ")" included: the last one ends it. */
	if ((q = strrchr(buf, ')')) == NULL)
		return -1;
	for (q++; *q == ' '; q++)
		;
	if (*q == '\0')
		return -1;
	p->state = *q++;
	/* Fields 4 to 21 (ppid ... itrealvalue), then starttime. */
	for (field = 4; field < 22; field++) {
		while (*q == ' ')
			q++;
		if (*q == '\0')
			return -1;
		while (*q != ' ' && *q != '\0')
			q++;
	}
	errno = 0;
	p->start = strtoull(q, &end, 10);
	return end == q || errno != 0 ? -1 : 0;
}

/* Real uid and VmSwap from <pid>/status. */
static void
read_status(struct procfds *pf, struct proc *p)
{
	char	 buf[8192], *q;

	p->uid = p->swap_kb = -1;
	if (read_pid_file(pf->root, p->pid, "status", buf, sizeof buf) == -1)
		return;
	if ((q = strstr(buf, "\nUid:")) != NULL)
		sscanf(q + 5, " %ld", &p->uid);
	if ((q = strstr(buf, "\nVmSwap:")) != NULL)
		sscanf(q + 8, " %ld", &p->swap_kb);
}

/* One unsigned counter after key in buf; -1 if missing. */
static int
counter(const char *buf, const char *key, uint64_t *v)
{
	const char	*q;
	char		*end;

	if ((q = strstr(buf, key)) == NULL)
		return -1;
	q += strlen(key);
	errno = 0;
	*v = strtoull(q, &end, 10);
	return end == q || errno != 0 ? -1 : 0;
}

/* read_bytes and write_bytes of <pid>/io. */
static int
read_io(struct procfds *pf, struct proc *p)
{
	char	 buf[1024];

	if (read_kept(pf, &p->io_fd, p->pid, "io", buf, sizeof buf) == -1)
		return -1;
	if (counter(buf, "\nread_bytes:", &p->rd) != 0 ||
	    counter(buf, "\nwrite_bytes:", &p->wr) != 0) {
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
	char	*buf, *small;

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
	/* Kept between collects: give back what the file did not use. */
	if ((small = realloc(buf, strlen(buf) + 1)) != NULL)
		buf = small;
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

static struct proc *
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

/*
 * How many descriptors to keep open: two per process up to the default
 * max_processes, within half the soft open-files limit, raised towards
 * the hard limit for that (the worker runs this module alone).
 */
static size_t
fd_budget(void)
{
	struct rlimit	rl;
	rlim_t		want = 2 * DEFAULT_MAX + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 0;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ||
		    rl.rlim_max > want ? want : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0 &&
		    getrlimit(RLIMIT_NOFILE, &rl) != 0)
			return 0;
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur / 2 > 2 * DEFAULT_MAX)
		return 2 * DEFAULT_MAX;
	return (size_t)(rl.rlim_cur / 2);
}

static int
procfds_init(struct sph_host *host, void **state)
{
	struct procfds	*pf;

	if ((pf = state_alloc(host, sizeof *pf)) == NULL)
		return -1;
	pf->host = host;
	kfile_init(&pf->stat);
	pf->root = -1;
	pf->btime = -1;
	if ((pf->tck = sysconf(_SC_CLK_TCK)) <= 0)
		pf->tck = 100;
	pf->kept_max = fd_budget();
	if (geteuid() != 0)
		sph_log(host, SPH_LOG_WARNING, "running as uid %ld: open files "
		    "and disk IO only of this user's processes (root with "
		    "CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE sees all)",
		    (long)geteuid());
	*state = pf;
	return 0;
}

/*
 * Keep <proc_root> open; open it again when the parameter names another
 * path (tests switch fixture trees).  Returns 1 when it was (re)opened,
 * 0 when kept, -1 on error (logged).
 */
static int
root_open(struct procfds *pf)
{
	char		 path[sizeof pf->root_path];
	struct statfs	 sfs;
	struct stat	 st;
	size_t		 i;

	if (sph_root_path(pf->host, "proc_root", "/proc", "", path,
	    sizeof path) != 0) {
		sph_log(pf->host, SPH_LOG_ERR, "proc_root: %s", strerror(errno));
		return -1;
	}
	if (pf->root >= 0 && strcmp(path, pf->root_path) == 0)
		return 0;
	if (pf->root >= 0)
		close(pf->root);
	/* Kept descriptors are files of the old root. */
	for (i = 0; i < pf->nseen; i++)
		unkeep(pf, &pf->seen[i]);
	if ((pf->root = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		sph_log(pf->host, SPH_LOG_ERR, "%s: %s", path, strerror(errno));
		return -1;
	}
	memcpy(pf->root_path, path, sizeof path);
	/* Our own fd directory is never empty where the kernel counts. */
	pf->fd_size = fstatfs(pf->root, &sfs) == 0 && sfs.f_type == PROC_MAGIC &&
	    fstatat(pf->root, "self/fd", &st, 0) == 0 && st.st_size > 0;
	return 1;
}

/* Re-read what rarely changes about p (see the top of the file). */
static void
refresh(struct procfds *pf, struct proc *p)
{
	struct timespec	ts;
	char		rel[64];

	read_status(pf, p);
	if (fd_limits(pf, p) != 0)
		p->soft = p->hard = -1;
	p->user[0] = '\0';
	if (p->uid >= 0)
		user_name(pf->passwd ? pf->passwd : "", p->uid, p->user,
		    sizeof p->user);
	p->started[0] = '\0';
	if (pf->btime >= 0) {
		ts.tv_sec = (time_t)(pf->btime +
		    (long long)(p->start / (uint64_t)pf->tck));
		ts.tv_nsec = 0;
		if (sph_rfc3339(&ts, p->started, sizeof p->started) != 0)
			p->started[0] = '\0';
	}
	/*
	 * The kernel's fd count asks for no permission: count only what
	 * reading fd would have shown us.
	 */
	snprintf(rel, sizeof rel, "%ld/fd", (long)p->pid);
	p->fd_ok = !pf->fd_size ||
	    faccessat(pf->root, rel, R_OK, AT_EACCESS) == 0 || !denied();
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

/* One process into the report. */
static void
report_proc(struct sph_report *r, const struct proc *p,
    const struct proc *old, double dt)
{
	const char	*st;
	char		 a[32], b[32];
	double		 rd, wr;

	sph_node_process(r, p->pid);
	if (p->user[0] != '\0')
		sph_latest(r, "procfds_user", p->user);
	if ((st = state_name(p->state)) != NULL)
		sph_latest(r, "procfds_state", st);
	if (p->started[0] != '\0')
		sph_latest(r, "procfds_started", p->started);
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
	if (old == NULL || !old->have_io || old->start != p->start ||
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
	struct proc		*seen, *p;
	struct proc		*old;
	const char		*v;
	char			*end;
	pid_t			*pids;
	size_t			 n, i, max = DEFAULT_MAX, nseen = 0, ndenied = 0, cap;
	unsigned long		 every;
	int			 reopened, slow;
	double			 dt;

	if ((v = sph_param(host, "max_processes")) != NULL) {
		errno = 0;
		max = strtoul(v, &end, 10);
		if (errno != 0 || *end != '\0' || max == 0) {
			sph_log(host, SPH_LOG_ERR, "bad max_processes \"%s\"", v);
			return -1;
		}
	}
	if ((reopened = root_open(pf)) == -1)
		return -1;
	if ((pids = list_pids(pf->root, &n)) == NULL) {
		sph_log(host, SPH_LOG_ERR, "%s: %s", pf->root_path,
		    strerror(errno));
		return -1;
	}
	if (n > max)
		n = max;
	if (n > pf->next_cap) {
		if ((seen = reallocarray(pf->next, n, sizeof *seen)) == NULL) {
			sph_log(host, SPH_LOG_ERR, "out of memory");
			free(pids);
			return -1;
		}
		pf->next = seen;
		pf->next_cap = n;
	}
	seen = pf->next;
	if ((r = sph_report_begin(host, gen)) == NULL) {
		free(pids);
		return -1;
	}
	dt = elapsed(sph_report_time(r), &pf->seen_ts);
	/* Collects between re-reads of the slow facts: REFRESH_S worth. */
	every = dt > 0 && dt < REFRESH_S ? (unsigned long)(REFRESH_S / dt + 0.5) :
	    1;
	slow = reopened || pf->ncollect % every == 0;
	if (slow) {
		free(pf->passwd);
		pf->passwd = passwd_load(host);
		pf->btime = boot_time(pf);
	}
	sph_topology(r, "Process");
	templates(r);
	for (i = 0; i < n; i++) {
		p = &seen[nseen];
		memset(p, 0, sizeof *p);
		p->pid = pids[i];
		p->stat_fd = p->io_fd = -1;
		if ((old = seen_find(pf, p->pid)) != NULL) {
			p->stat_fd = old->stat_fd;
			p->io_fd = old->io_fd;
			old->stat_fd = old->io_fd = -1;
		}
		/* A process without a stat file is gone: skip it. */
		if (read_stat(pf, p) != 0) {
			unkeep(pf, p);
			continue;
		}
		if (old != NULL && old->start == p->start &&
		    (pf->ncollect + (unsigned long)p->pid) % every != 0) {
			memcpy(p->user, old->user, sizeof p->user);
			memcpy(p->started, old->started, sizeof p->started);
			p->uid = old->uid;
			p->swap_kb = old->swap_kb;
			p->soft = old->soft;
			p->hard = old->hard;
			p->fd_ok = old->fd_ok;
		} else
			refresh(pf, p);
		p->fds = -1;
		if (!p->fd_ok)
			p->denied = 1;
		else if ((p->fds = count_fds(pf, p->pid)) < 0 && denied())
			p->denied = 1;
		if (read_io(pf, p) == 0)
			p->have_io = 1;
		else if (denied())
			p->denied = 1;
		ndenied += p->denied;
		report_proc(r, p, old, dt);
		nseen++;
	}
	free(pids);
	/* Processes gone (or now beyond max_processes) keep nothing open. */
	for (i = 0; i < pf->nseen; i++)
		unkeep(pf, &pf->seen[i]);
	if (ndenied > 0 && !pf->warned) {
		sph_log(host, SPH_LOG_WARNING, "open files or disk IO of %zu "
		    "of %zu processes not readable (other users'): needs root "
		    "with CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE", ndenied, n);
		pf->warned = 1;
	}
	cap = pf->next_cap;
	pf->next = pf->seen;
	pf->next_cap = pf->seen_cap;
	pf->seen = seen;
	pf->seen_cap = cap;
	pf->nseen = nseen;
	pf->seen_ts = *sph_report_time(r);
	pf->ncollect++;
	return sph_report_end(r);
}

static void
procfds_fini(void *state)
{
	struct procfds	*pf = state;
	size_t		 i;

	for (i = 0; i < pf->nseen; i++)
		unkeep(pf, &pf->seen[i]);
	kfile_close(&pf->stat);
	if (pf->root >= 0)
		close(pf->root);
	free(pf->passwd);
	free(pf->seen);
	free(pf->next);
	free(pf);
}

SPH_MODULE(
	.id = "procfds",
	.label = "Process details",
	.description = "Adds open files as % of the limit, disk IO, user, "
	    "state and start time to processes",
	.interval_ms = INTERVAL_MS,
	.init = procfds_init,
	.collect = procfds_collect,
	.fini = procfds_fini,
);
