/*
 * containers.c - what Scope cannot show about containers and pods (CPU
 * throttling, memory against the limit, OOM kills, pressure, IO), read
 * from the kernel's cgroup files, on Scope's own Container nodes
 * "<64-hex id>;<container>" and Pod nodes "<pod uid>;<pod>".
 *
 * Every collect detects the layout under cgroup_root (default
 * /sys/fs/cgroup): cgroup v2 when cgroup.controllers is there, else v1
 * controllers mounted below it (found in <proc_root>/self/mountinfo, or
 * by directory name: cpu, cpu,cpuacct, memory, blkio, pids) with the v2
 * "unified" part for pressure.  It walks one hierarchy (v1: cpu first)
 * at most MAX_DEPTH levels deep, never following symlinks and never
 * descending into a container, and recognises cgroups by their last path
 * component:
 *	containers: docker-<id>.scope, cri-containerd-<id>.scope,
 *	    crio-<id>.scope, libpod-<id>.scope (".scope" optional), and a
 *	    bare <id> under "docker" or a pod cgroup; <id> is 64 lowercase
 *	    hex digits, so crio-conmon-… and libpod-conmon-… never match
 *	pods: kubepods[-burstable|-besteffort]-pod<uid with _>.slice, and
 *	    pod<uid> under kubepods[/burstable|/besteffort]; a static pod's
 *	    pod<hash> there is no Pod node, but its bare ids are containers
 * Each cgroup's files are then opened relative to a directory fd (v2:
 * the cgroup's own, opened once; v1: each hierarchy's, with the cgroup's
 * path) and only the files behind reported values are read.  At most
 * max_cgroups (default 1000) nodes are reported, containers before pods,
 * lowest ids first.  Pods' metrics have keys of their own (metric_key()).
 *
 * Rates (throttled periods, IO bytes) need the counters of the previous
 * collect: a cgroup seen for the first time gets none, never a made-up 0.
 * A cgroup that vanishes while being read is skipped; a file that cannot
 * be read for another reason drops its value and is logged once.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scope-plugin.h"
#include "mountinfo.h"

#define MAX_DEPTH	10		/* below cgroup_root */
#define MAX_FOUND	65536		/* cgroups remembered per walk */
#define DEFAULT_MAX	1000		/* nodes reported */
#define ID_LEN		64		/* container id */
#define UID_LEN		36		/* pod uid, 8-4-4-4-12 */
#define NO_LIMIT	(UINT64_C(1) << 62)	/* v1 "unlimited" is near 2^63 */

enum kind { K_CONTAINER, K_POD };

/* Hierarchies a value comes from; under v2 they are all the root. */
enum hier { H_CPU, H_MEMORY, H_IO, H_PIDS, H_PSI, H_MAX };

/* Every file read, for the log-once mask. */
enum file {
	F_CPU_STAT, F_CPU_MAX, F_CFS_QUOTA, F_CFS_PERIOD,
	F_MEMORY_MAX, F_MEMORY_CURRENT, F_MEMORY_STAT, F_MEMORY_EVENTS,
	F_MEMORY_LIMIT_V1, F_MEMORY_USAGE_V1, F_OOM_CONTROL_V1,
	F_IO_STAT, F_BLKIO_RECURSIVE, F_BLKIO,
	F_PIDS_CURRENT, F_PIDS_MAX,
	F_CPU_PRESSURE, F_MEMORY_PRESSURE, F_IO_PRESSURE,
	F_MAX
};

static const char *const file_names[F_MAX] = {
	"cpu.stat", "cpu.max", "cpu.cfs_quota_us", "cpu.cfs_period_us",
	"memory.max", "memory.current", "memory.stat", "memory.events",
	"memory.limit_in_bytes", "memory.usage_in_bytes", "memory.oom_control",
	"io.stat", "blkio.throttle.io_service_bytes_recursive",
	"blkio.throttle.io_service_bytes",
	"pids.current", "pids.max",
	"cpu.pressure", "memory.pressure", "io.pressure",
};

/* What struct vals holds. */
#define V_PERIODS	0x0001u		/* periods, throttled, throttled_us */
#define V_CPU_LIMIT	0x0002u		/* cores, 0 = none */
#define V_MEM_LIMIT	0x0004u		/* mem_limit, 0 = none */
#define V_MEM_USED	0x0008u
#define V_OOM		0x0010u
#define V_IO		0x0020u		/* rbytes, wbytes */
#define V_PIDS		0x0040u
#define V_PIDS_MAX	0x0080u		/* pids_max, 0 = none */
#define V_PSI_CPU	0x0100u
#define V_PSI_MEMORY	0x0200u
#define V_PSI_IO	0x0400u

struct vals {
	unsigned	 have;
	uint64_t	 periods, throttled, throttled_us;
	double		 cores;
	uint64_t	 mem_limit, mem_used, oom_kills;
	uint64_t	 rbytes, wbytes;
	uint64_t	 pids, pids_max;
	double		 psi_cpu, psi_memory, psi_io;
};

/*
 * One container or pod cgroup.  Sorted by (kind, id); after a collect the
 * array is kept with its counters for the next collect's rates.
 */
struct entry {
	char		 id[ID_LEN + 1];
	char		 pod[UID_LEN + 1];	/* containing pod, or "" */
	unsigned char	 kind;
	size_t		 rel;			/* offset in walk.paths */
	unsigned	 have;			/* V_PERIODS, V_IO */
	uint64_t	 periods, throttled, rbytes, wbytes;
};

struct layout {
	int	 v2;
	int	 fd[H_MAX];	/* -1: not available */
	int	 walk;		/* the hierarchy walked */
};

struct state {
	struct sph_host	*host;
	struct entry	*prev;
	size_t		 nprev;
	struct timespec	 prev_time;
	uint32_t	 logged;	/* 1 << enum file: already logged */
	int		 logged_cap, logged_walk, logged_layout;
};

struct walk {
	struct state	*st;
	struct entry	*v;
	size_t		 n, cap;
	char		*paths;		/* NUL-separated relative paths */
	size_t		 plen, pcap;
	char		 rel[4096];	/* path of the directory being read */
	int		 full;		/* MAX_FOUND reached */
	int		 error;		/* out of memory */
};

/* Context of a directory, which decides what its children can be. */
enum ctx { C_NONE, C_DOCKER, C_KUBEPODS, C_POD };

/* ---- names -------------------------------------------------------------- */

static int
is_hex(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/*
 * The container id in a cgroup name, copied into id, or 0.  A bare id
 * counts only where a runtime puts one (under "docker" or a pod).
 */
static int
container_name(const char *name, enum ctx ctx, char id[ID_LEN + 1])
{
	static const char *const prefixes[] = {
		"docker-", "cri-containerd-", "crio-", "libpod-"
	};
	const char	*p = NULL;
	size_t		 i, len;

	for (i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
		len = strlen(prefixes[i]);
		if (strncmp(name, prefixes[i], len) == 0) {
			p = name + len;
			break;
		}
	}
	if (p == NULL) {
		if (ctx != C_DOCKER && ctx != C_POD)
			return 0;
		p = name;
	}
	if (strlen(p) < ID_LEN || !is_hex(p, ID_LEN) ||
	    (p[ID_LEN] != '\0' && strcmp(p + ID_LEN, ".scope") != 0))
		return 0;
	memcpy(id, p, ID_LEN);
	id[ID_LEN] = '\0';
	return 1;
}

/* s is a pod uid 8-4-4-4-12 with sep for '-': copy it with '-' into uid. */
static int
uid_copy(const char *s, char sep, char uid[UID_LEN + 1])
{
	size_t	i;

	for (i = 0; i < UID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != sep)
				return 0;
			uid[i] = '-';
		} else if (is_hex(s + i, 1))
			uid[i] = s[i];
		else
			return 0;
	}
	uid[UID_LEN] = '\0';
	return 1;
}

/* The pod uid in a cgroup name, or 0. */
static int
pod_name(const char *name, enum ctx ctx, char uid[UID_LEN + 1])
{
	size_t	len = strlen(name);
	size_t	tail = strlen("pod") + UID_LEN + strlen(".slice");

	/* systemd driver: kubepods[-qos]-pod<uid_>.slice */
	if (strstr(name, "kubepods") != NULL && len > tail &&
	    name[len - tail - 1] == '-' &&
	    strncmp(name + len - tail, "pod", 3) == 0 &&
	    strcmp(name + len - strlen(".slice"), ".slice") == 0)
		return uid_copy(name + len - tail + 3, '_', uid);
	/* cgroupfs driver: kubepods[/qos]/pod<uid> */
	if (ctx == C_KUBEPODS && len == 3 + UID_LEN &&
	    strncmp(name, "pod", 3) == 0)
		return uid_copy(name + 3, '-', uid);
	return 0;
}

/*
 * Context for the children of a directory that is neither kind.  A
 * "pod..." directory under kubepods whose name holds no API uid is still
 * a pod cgroup: a static pod's uid is the kubelet's 32-hex hash of its
 * manifest, which no Scope Pod node has, but its containers are bare ids
 * (cgroupfs driver) on Container nodes Scope draws.
 */
static enum ctx
dir_ctx(const char *name, enum ctx parent)
{
	if (strcmp(name, "docker") == 0)
		return C_DOCKER;
	if (parent == C_KUBEPODS && strncmp(name, "pod", 3) == 0)
		return C_POD;
	if (strcmp(name, "kubepods") == 0 ||
	    (parent == C_KUBEPODS && (strcmp(name, "burstable") == 0 ||
	    strcmp(name, "besteffort") == 0)))
		return C_KUBEPODS;
	return C_NONE;
}

/* ---- the walk ----------------------------------------------------------- */

static int
walk_add(struct walk *w, enum kind kind, const char *id, const char *pod,
    const char *name)
{
	struct entry	*e, *nv;
	size_t		 need, rlen = strlen(w->rel), nlen = strlen(name);
	char		*np;

	if (w->n == MAX_FOUND) {
		w->full = 1;
		return -1;
	}
	if (w->n == w->cap) {
		w->cap = w->cap == 0 ? 64 : w->cap * 2;
		if ((nv = realloc(w->v, w->cap * sizeof *nv)) == NULL) {
			w->error = 1;
			return -1;
		}
		w->v = nv;
	}
	need = rlen + 1 + nlen + 1;
	if (w->plen + need > w->pcap) {
		w->pcap = (w->pcap + need) * 2;
		if ((np = realloc(w->paths, w->pcap)) == NULL) {
			w->error = 1;
			return -1;
		}
		w->paths = np;
	}
	e = &w->v[w->n++];
	memset(e, 0, sizeof *e);
	memcpy(e->id, id, strlen(id) + 1);	/* checked by the caller */
	if (pod != NULL)
		memcpy(e->pod, pod, UID_LEN + 1);
	e->kind = (unsigned char)kind;
	e->rel = w->plen;
	if (rlen > 0) {
		memcpy(w->paths + w->plen, w->rel, rlen);
		w->paths[w->plen + rlen] = '/';
		w->plen += rlen + 1;
	}
	memcpy(w->paths + w->plen, name, nlen + 1);
	w->plen += nlen + 1;
	return 0;
}

static int
is_dir(int dfd, const struct dirent *de)
{
	struct stat	sb;

	if (de->d_type == DT_DIR)
		return 1;
	if (de->d_type != DT_UNKNOWN)
		return 0;	/* symlinks included: never followed */
	return fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(sb.st_mode);
}

/* Read directory dfd (closed here), w->rel its path, depth levels down. */
static void
walk_dir(struct walk *w, int dfd, int depth, enum ctx ctx, const char *pod)
{
	DIR		*d;
	struct dirent	*de;
	char		 id[ID_LEN + 1], uid[UID_LEN + 1];
	size_t		 rlen = strlen(w->rel), nlen;
	int		 cfd, is_pod;

	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return;
	}
	/* A directory that vanishes mid-read just ends the listing. */
	while (!w->full && !w->error && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !is_dir(dirfd(d), de))
			continue;
		if (container_name(de->d_name, ctx, id)) {
			walk_add(w, K_CONTAINER, id, pod, de->d_name);
			continue;	/* a container's insides are its own */
		}
		if ((is_pod = pod_name(de->d_name, ctx, uid))) {
			if (walk_add(w, K_POD, uid, NULL, de->d_name) != 0)
				continue;
		} else if (depth + 1 >= MAX_DEPTH)
			continue;
		nlen = strlen(de->d_name);
		if (rlen + 1 + nlen + 1 > sizeof w->rel)
			continue;
		cfd = openat(dirfd(d), de->d_name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd == -1)
			continue;	/* gone, or replaced by a symlink */
		if (rlen > 0)
			w->rel[rlen] = '/';
		memcpy(w->rel + rlen + (rlen > 0), de->d_name, nlen + 1);
		if (is_pod)
			walk_dir(w, cfd, depth + 1, C_POD, uid);
		else
			walk_dir(w, cfd, depth + 1, dir_ctx(de->d_name, ctx),
			    NULL);
		w->rel[rlen] = '\0';
	}
	closedir(d);
}

/* ---- layout ------------------------------------------------------------- */

static void
layout_close(struct layout *L)
{
	int	h, k;

	for (h = 0; h < H_MAX; h++) {
		if (L->fd[h] < 0)
			continue;
		for (k = 0; k < h; k++)
			if (L->fd[k] == L->fd[h])
				break;
		if (k == h)
			close(L->fd[h]);
	}
}


/* 1 if the comma-separated list has word. */
static int
has_word(const char *list, const char *word)
{
	size_t	n = strlen(word);
	const char *p;

	for (p = list; (p = strstr(p, word)) != NULL; p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return 1;
	return 0;
}

/*
 * Names of the cgroup hierarchies mounted directly below root, from the
 * mountinfo text in buf (changed): v1 ones by controller, v2 as H_PSI.
 */
static void
parse_mountinfo(char *buf, const char *root, char names[H_MAX][256])
{
	static const char *const ctl[H_MAX] = { "cpu", "memory", "blkio",
	    "pids", NULL };
	char	*line, *next, *f[6], *sep;
	size_t	 rootlen = strlen(root);
	int	 i;

	while (rootlen > 1 && root[rootlen - 1] == '/')
		rootlen--;
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		/* id parent dev root mountpoint opts [optional...] - type src super */
		for (i = 0; i < 5; i++)
			f[i] = strsep(&line, " ");
		if (line == NULL || (sep = strstr(line, " - ")) == NULL)
			continue;
		sep += 3;
		f[5] = strsep(&sep, " ");	/* fs type */
		if (sep == NULL || strsep(&sep, " ") == NULL || sep == NULL)
			continue;		/* sep: super options */
		mountinfo_unescape(f[4]);
		if (strncmp(f[4], root, rootlen) != 0 || f[4][rootlen] != '/' ||
		    strchr(f[4] + rootlen + 1, '/') != NULL ||
		    strlen(f[4] + rootlen + 1) >= 256)
			continue;
		if (strcmp(f[5], "cgroup2") == 0) {
			snprintf(names[H_PSI], 256, "%s", f[4] + rootlen + 1);
			continue;
		}
		if (strcmp(f[5], "cgroup") != 0)
			continue;
		for (i = 0; i < H_PSI; i++)
			if (names[i][0] == '\0' && has_word(sep, ctl[i]))
				snprintf(names[i], 256, "%s", f[4] + rootlen + 1);
	}
}

/*
 * Names of the hierarchies mounted directly below root, from
 * <proc_root>/self/mountinfo.  Missing or unreadable: names stay "".
 */
static void
mountinfo_names(struct state *st, const char *root, char names[H_MAX][256])
{
	char	 path[4096], *buf = NULL, *nb;
	size_t	 len = 0, cap = 0;
	ssize_t	 n;
	int	 fd;

	if (sph_root_path(st->host, "proc_root", "/proc", "self/mountinfo",
	    path, sizeof path) != 0 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	for (;;) {
		if (cap - len < 8192) {
			if (cap >= (4u << 20) ||
			    (nb = realloc(buf, cap + 65536)) == NULL)
				break;
			buf = nb;
			cap += 65536;
		}
		if ((n = read(fd, buf + len, cap - len - 1)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	if (buf == NULL)
		return;
	buf[len] = '\0';
	parse_mountinfo(buf, root, names);
	free(buf);
}

/*
 * Open the hierarchies under cgroup_root into L.  Returns 0 (possibly
 * with none available), or -1 if cgroup_root itself cannot be opened.
 */
static int
layout_open(struct state *st, struct layout *L)
{
	static const char *const byname[H_MAX][3] = {
		{ "cpu", "cpu,cpuacct", "cpuacct,cpu" },
		{ "memory", NULL, NULL },
		{ "blkio", NULL, NULL },
		{ "pids", NULL, NULL },
		{ "unified", NULL, NULL },
	};
	static const int walk_order[] = { H_CPU, H_MEMORY, H_PIDS, H_IO, H_PSI };
	char	 root[4096], names[H_MAX][256];
	size_t	 n;
	int	 rfd, h, i;

	memset(L, 0, sizeof *L);
	for (h = 0; h < H_MAX; h++)
		L->fd[h] = -1;
	L->walk = -1;
	if (sph_root_path(st->host, "cgroup_root", "/sys/fs/cgroup", "", root,
	    sizeof root) != 0) {
		sph_log(st->host, SPH_LOG_ERR, "cgroup_root: %s",
		    strerror(errno));
		return -1;
	}
	for (n = strlen(root); n > 1 && root[n - 1] == '/'; n--)
		root[n - 1] = '\0';	/* as the operator wrote it */
	if ((rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		sph_log(st->host, SPH_LOG_ERR, "cgroup_root %s: %s", root,
		    strerror(errno));
		return -1;
	}
	if (faccessat(rfd, "cgroup.controllers", F_OK, 0) == 0) {
		L->v2 = 1;
		for (h = 0; h < H_MAX; h++)
			L->fd[h] = rfd;
		L->walk = H_CPU;
		return 0;
	}
	memset(names, 0, sizeof names);
	mountinfo_names(st, root, names);
	for (h = 0; h < H_MAX; h++) {
		if (names[h][0] != '\0')
			L->fd[h] = openat(rfd, names[h],
			    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		for (i = 0; i < 3 && L->fd[h] == -1 && byname[h][i] != NULL;
		    i++)
			L->fd[h] = openat(rfd, byname[h][i],
			    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	close(rfd);
	/* The v2 part of a hybrid layout is used for pressure only. */
	if (L->fd[H_PSI] != -1 &&
	    faccessat(L->fd[H_PSI], "cgroup.controllers", F_OK, 0) != 0) {
		close(L->fd[H_PSI]);
		L->fd[H_PSI] = -1;
	}
	for (i = 0; i < H_MAX && L->walk == -1; i++)
		if (L->fd[walk_order[i]] != -1)
			L->walk = walk_order[i];
	if (L->walk == -1 && !st->logged_layout) {
		sph_log(st->host, SPH_LOG_WARNING, "no cgroup hierarchy under "
		    "%s (neither cgroup.controllers nor cpu, memory, blkio, "
		    "pids, unified)", root);
		st->logged_layout = 1;
	}
	return 0;
}

/* ---- reading values ----------------------------------------------------- */

/*
 * Where a cgroup's files are opened from: its own directory (prefix
 * NULL), or a hierarchy's directory with prefix its path there, which
 * saves opening and closing the cgroup's directory where only a few files
 * are read (v1: a handful per hierarchy).  rel names it in messages.
 */
struct at {
	int		 fd;
	const char	*prefix;
	const char	*rel;
};

/*
 * Read file f of the cgroup at `at` into buf, NUL-terminated; a longer
 * file is cut at len - 1 bytes.  Returns the length, or -1: the file is
 * absent (controller off, cgroup gone: silent) or unreadable (logged once
 * per file name).
 */
static ssize_t
read_file(struct state *st, const struct at *at, enum file f, char *buf,
    size_t len)
{
	char		 path[4096 + 64];
	const char	*name = file_names[f];
	size_t		 off = 0, want, plen, flen;
	ssize_t		 n;
	int		 fd, err;

	if (at->fd < 0)
		return -1;
	if (at->prefix != NULL) {
		plen = strlen(at->prefix);
		flen = strlen(name);
		if (plen + 1 + flen + 1 > sizeof path) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		memcpy(path, at->prefix, plen);
		path[plen] = '/';
		memcpy(path + plen + 1, name, flen + 1);
		name = path;
	}
	if ((fd = openat(at->fd, name, O_RDONLY | O_CLOEXEC)) == -1)
		goto fail;
	for (;;) {
		want = len - 1 - off;
		if ((n = read(fd, buf + off, want)) == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
		/*
		 * cgroup files come whole in one read, so a short read is
		 * the end: no second read per file just to see EOF.
		 */
		if ((size_t)n < want || off == len - 1)
			break;
	}
	if (n == -1) {
		err = errno;
		close(fd);
		errno = err;
		goto fail;
	}
	close(fd);
	buf[off] = '\0';
	return (ssize_t)off;
fail:
	/* ENODEV: removed while open; EOPNOTSUPP: pressure off (psi=0). */
	if (errno != ENOENT && errno != ENODEV && errno != ESTALE &&
	    errno != EOPNOTSUPP && !(st->logged & (1u << f))) {
		sph_log(st->host, SPH_LOG_WARNING, "cannot read %s/%s: %s "
		    "(logged once)", at->rel, file_names[f], strerror(errno));
		st->logged |= 1u << f;
	}
	return -1;
}

/* An unsigned decimal at s, ended by a space, newline or NUL; 0 or -1. */
static int
parse_u64(const char *s, uint64_t *v)
{
	char	*e;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &e, 10);
	if (errno != 0 || (*e != '\0' && *e != '\n' && *e != ' '))
		return -1;
	return 0;
}

/* a + b, saturated: counters summed over devices never wrap. */
static uint64_t
add_sat(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

/* The value of "key N" on a line of buf; 0 or -1. */
static int
key_u64(const char *buf, const char *key, uint64_t *v)
{
	size_t		 n = strlen(key);
	const char	*p;

	for (p = buf; p != NULL && *p != '\0';
	    p = (p = strchr(p, '\n')) != NULL ? p + 1 : NULL)
		if (strncmp(p, key, n) == 0 && p[n] == ' ')
			return parse_u64(p + n + 1, v);
	return -1;
}

/* A file holding one number, or "max" (*v = 0); 0 or -1. */
static int
read_u64_or_max(struct state *st, const struct at *at, enum file f,
    uint64_t *v)
{
	char	buf[64];

	if (read_file(st, at, f, buf, sizeof buf) == -1)
		return -1;
	if (strncmp(buf, "max", 3) == 0 && (buf[3] == '\n' || buf[3] == '\0')) {
		*v = 0;
		return 0;
	}
	return parse_u64(buf, v);
}

/* "some avg10=X ..." of a pressure file into *pct; 0 or -1. */
static int
parse_psi(const char *buf, double *pct)
{
	char	*end;

	if (strncmp(buf, "some avg10=", 11) != 0)
		return -1;
	*pct = strtod(buf + 11, &end);
	/* A percentage; this also drops nan and inf. */
	return end != buf + 11 && *end == ' ' && *pct >= 0 && *pct <= 100 ?
	    0 : -1;
}

static int
read_psi(struct state *st, const struct at *at, enum file f, double *pct)
{
	char	buf[256];

	if (read_file(st, at, f, buf, sizeof buf) == -1)
		return -1;
	return parse_psi(buf, pct);
}

/* v2 cpu.max "QUOTA PERIOD" or "max PERIOD" into cores (0: none). */
static int
parse_cpu_max(const char *buf, double *cores)
{
	const char	*p;
	uint64_t	 quota, period;

	if (strncmp(buf, "max ", 4) == 0) {
		*cores = 0;
		return 0;
	}
	if (parse_u64(buf, &quota) != 0 || (p = strchr(buf, ' ')) == NULL ||
	    parse_u64(p + 1, &period) != 0 || period == 0)
		return -1;
	*cores = (double)quota / (double)period;
	return 0;
}

static void
read_cpu(struct state *st, int v2, const struct at *at, struct vals *v)
{
	char		 buf[1024];
	uint64_t	 quota, period, t;

	if (v2) {
		if (read_file(st, at, F_CPU_MAX, buf, sizeof buf) != -1 &&
		    parse_cpu_max(buf, &v->cores) == 0)
			v->have |= V_CPU_LIMIT;
	} else {
		if (read_file(st, at, F_CFS_QUOTA, buf, sizeof buf) != -1) {
			if (strcmp(buf, "-1\n") == 0) {
				v->cores = 0;
				v->have |= V_CPU_LIMIT;
			} else if (parse_u64(buf, &quota) == 0 &&
			    read_file(st, at, F_CFS_PERIOD, buf,
			    sizeof buf) != -1 &&
			    parse_u64(buf, &period) == 0 && period > 0) {
				v->cores = (double)quota / (double)period;
				v->have |= V_CPU_LIMIT;
			}
		}
	}
	/* Throttling means something only under a limit. */
	if (!(v->have & V_CPU_LIMIT) || v->cores == 0 ||
	    read_file(st, at, F_CPU_STAT, buf, sizeof buf) == -1)
		return;
	if (key_u64(buf, "nr_periods", &v->periods) == 0 &&
	    key_u64(buf, "nr_throttled", &v->throttled) == 0) {
		if (v2 && key_u64(buf, "throttled_usec", &t) == 0)
			v->throttled_us = t;
		else if (!v2 && key_u64(buf, "throttled_time", &t) == 0)
			v->throttled_us = t / 1000;
		else
			return;
		v->have |= V_PERIODS;
	}
}

static void
read_memory(struct state *st, int v2, const struct at *at, struct vals *v)
{
	char		 buf[16384];
	uint64_t	 limit, used, inactive;

	if (read_u64_or_max(st, at, v2 ? F_MEMORY_MAX : F_MEMORY_LIMIT_V1,
	    &limit) == 0) {
		v->mem_limit = limit >= NO_LIMIT ? 0 : limit;
		v->have |= V_MEM_LIMIT;
	}
	if (read_file(st, at, v2 ? F_MEMORY_EVENTS : F_OOM_CONTROL_V1,
	    buf, sizeof buf) != -1 &&
	    key_u64(buf, "oom_kill", &v->oom_kills) == 0)
		v->have |= V_OOM;
	if (!(v->have & V_MEM_LIMIT) || v->mem_limit == 0)
		return;
	/* The working set, as the kubelet counts it: usage - inactive file. */
	if (read_u64_or_max(st, at, v2 ? F_MEMORY_CURRENT :
	    F_MEMORY_USAGE_V1, &used) != 0)
		return;
	if (read_file(st, at, F_MEMORY_STAT, buf, sizeof buf) != -1 &&
	    key_u64(buf, v2 ? "inactive_file" : "total_inactive_file",
	    &inactive) == 0)
		used = inactive < used ? used - inactive : 0;
	v->mem_used = used;
	v->have |= V_MEM_USED;
}

/*
 * Bytes read and written, summed over the devices of v2 io.stat or a v1
 * blkio.throttle.io_service_bytes file in buf (changed); 0 or -1.
 */
static int
parse_io(int v2, char *buf, uint64_t *rbytes, uint64_t *wbytes)
{
	char		*line, *next, *p;
	uint64_t	 n, r = 0, w = 0;
	int		 any = v2;	/* v2: empty is no IO yet */

	for (line = buf; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) == NULL)
			break;		/* cut short: a partial line */
		*next++ = '\0';
		if (v2) {
			/* MAJ:MIN rbytes=N wbytes=N rios=N ... */
			if ((p = strstr(line, " rbytes=")) != NULL &&
			    parse_u64(p + 8, &n) == 0)
				r = add_sat(r, n);
			if ((p = strstr(line, " wbytes=")) != NULL &&
			    parse_u64(p + 8, &n) == 0)
				w = add_sat(w, n);
		} else if ((p = strchr(line, ' ')) != NULL) {
			/* MAJ:MIN Read|Write|Sync|Async|Discard|Total N */
			if (strncmp(p, " Read ", 6) == 0 &&
			    parse_u64(p + 6, &n) == 0)
				r = add_sat(r, n), any = 1;
			else if (strncmp(p, " Write ", 7) == 0 &&
			    parse_u64(p + 7, &n) == 0)
				w = add_sat(w, n), any = 1;
			else if (strncmp(line, "Total ", 6) == 0)
				any = 1;
		}
	}
	if (!any)
		return -1;
	*rbytes = r;
	*wbytes = w;
	return 0;
}

static void
read_io(struct state *st, int v2, const struct at *at, struct vals *v)
{
	char	buf[16384];

	if (v2) {
		if (read_file(st, at, F_IO_STAT, buf, sizeof buf) == -1)
			return;
	} else if (read_file(st, at, F_BLKIO_RECURSIVE, buf,
	    sizeof buf) == -1 &&
	    read_file(st, at, F_BLKIO, buf, sizeof buf) == -1)
		return;
	if (parse_io(v2, buf, &v->rbytes, &v->wbytes) == 0)
		v->have |= V_IO;
}

/*
 * Read the values of the cgroup at rel in every hierarchy.  Returns -1
 * when none could be read (gone since the walk).
 */
static int
read_vals(struct state *st, const struct layout *L, const char *rel,
    struct vals *v)
{
	struct at	at[H_MAX];
	int		h, dfd = -1;

	memset(v, 0, sizeof *v);
	if (L->v2) {
		/* A dozen files from one directory: open it once. */
		if ((dfd = openat(L->fd[H_CPU], rel, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC)) == -1)
			return -1;
		for (h = 0; h < H_MAX; h++)
			at[h] = (struct at){ dfd, NULL, rel };
	} else
		for (h = 0; h < H_MAX; h++)
			at[h] = (struct at){ L->fd[h], rel, rel };
	read_cpu(st, L->v2, &at[H_CPU], v);
	read_memory(st, L->v2, &at[H_MEMORY], v);
	read_io(st, L->v2, &at[H_IO], v);
	if (read_u64_or_max(st, &at[H_PIDS], F_PIDS_CURRENT, &v->pids) == 0) {
		v->have |= V_PIDS;
		if (read_u64_or_max(st, &at[H_PIDS], F_PIDS_MAX,
		    &v->pids_max) == 0)
			v->have |= V_PIDS_MAX;
	}
	if (read_psi(st, &at[H_PSI], F_CPU_PRESSURE, &v->psi_cpu) == 0)
		v->have |= V_PSI_CPU;
	if (read_psi(st, &at[H_PSI], F_MEMORY_PRESSURE, &v->psi_memory) == 0)
		v->have |= V_PSI_MEMORY;
	if (read_psi(st, &at[H_PSI], F_IO_PRESSURE, &v->psi_io) == 0)
		v->have |= V_PSI_IO;
	if (dfd != -1)
		close(dfd);
	/* v1: nothing at all is a cgroup gone since the walk. */
	return L->v2 || v->have != 0 ? 0 : -1;
}

/* ---- formatting for people ---------------------------------------------- */

/* A number with at most `dec` decimals, trailing zeros dropped. */
static void
fmt_num(char *buf, size_t len, double x, int dec)
{
	char	*p;

	snprintf(buf, len, "%.*f", dec, x);
	if (strchr(buf, '.') == NULL)
		return;
	p = buf + strlen(buf) - 1;
	while (*p == '0')
		*p-- = '\0';
	if (*p == '.')
		*p = '\0';
}

/* 1536 -> "1.5 KiB"; suffix appended ("/s"). */
static void
fmt_bytes(char *buf, size_t len, double b, const char *suffix)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB",
	    "PiB", "EiB" };
	char	num[64];
	size_t	u = 0;

	while (b >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
		b /= 1024;
		u++;
	}
	fmt_num(num, sizeof num, b, u == 0 ? 0 : b < 10 ? 2 : b < 100 ? 1 : 0);
	snprintf(buf, len, "%s %s%s", num, units[u], suffix);
}

/* Microseconds as "850 ms", "12.5 s", "4 min 5 s", "2 h 3 min", "3 d 4 h". */
static void
fmt_duration(char *buf, size_t len, uint64_t us)
{
	char		num[64];
	uint64_t	s = us / 1000000;

	if (us == 0)
		snprintf(buf, len, "0 s");
	else if (us < 1000000) {
		fmt_num(num, sizeof num, (double)us / 1000, us < 10000 ? 1 : 0);
		snprintf(buf, len, "%s ms", num);
	} else if (s < 60) {
		fmt_num(num, sizeof num, (double)us / 1e6, 1);
		snprintf(buf, len, "%s s", num);
	} else if (s < 3600)
		snprintf(buf, len, "%" PRIu64 " min %" PRIu64 " s", s / 60,
		    s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRIu64 " h %" PRIu64 " min", s / 3600,
		    s / 60 % 60);
	else
		snprintf(buf, len, "%" PRIu64 " d %" PRIu64 " h", s / 86400,
		    s / 3600 % 24);
}

/* ---- the report --------------------------------------------------------- */

/* Metrics first (format >= 0), then metadata rows, in display order. */
static const struct tmpl {
	const char		*id, *label;
	int			 format;	/* enum sph_format, -1: metadata */
	enum sph_datatype	 datatype;
	double			 priority;
} tmpls[] = {
	{ "containers_cpu_throttled", "CPU throttled", SPH_FORMAT_PERCENT, 0,
	    3.1 },
	{ "containers_memory_limit_used", "Memory of limit",
	    SPH_FORMAT_PERCENT, 0, 3.2 },
	{ "containers_cpu_pressure", "CPU pressure", SPH_FORMAT_PERCENT, 0,
	    3.3 },
	{ "containers_memory_pressure", "Memory pressure", SPH_FORMAT_PERCENT,
	    0, 3.4 },
	{ "containers_cpu_limit", "CPU limit", -1, SPH_DATATYPE_TEXT, 6.1 },
	{ "containers_throttled_time", "Throttled for", -1,
	    SPH_DATATYPE_TEXT, 6.2 },
	{ "containers_memory_limit", "Memory limit", -1, SPH_DATATYPE_TEXT,
	    6.3 },
	{ "containers_oom_kills", "OOM kills", -1, SPH_DATATYPE_NUMBER, 6.4 },
	{ "containers_io_read", "IO read", -1, SPH_DATATYPE_TEXT, 6.5 },
	{ "containers_io_write", "IO write", -1, SPH_DATATYPE_TEXT, 6.6 },
	{ "containers_io_pressure", "IO pressure", -1, SPH_DATATYPE_TEXT, 6.7 },
	{ "containers_pids", "PIDs", -1, SPH_DATATYPE_TEXT, 6.8 },
};

/*
 * The metric key of id on a pod: "containers_pod_...".  Scope shows a pod
 * with a single container with that container's metrics merged in
 * (PropagateSingleMetrics); under the same keys the pod's own samples and
 * the container's would mix in one sparkline.  With keys of their own the
 * pod shows its own values only, since Scope renders a node's metrics
 * through its topology's templates.
 */
static const char *
metric_key(char *buf, size_t len, int pod, const char *id)
{
	static const char	prefix[] = "containers_";

	if (!pod)
		return id;
	snprintf(buf, len, "containers_pod_%s", id + sizeof prefix - 1);
	return buf;
}

static void
templates(struct sph_report *r, int pod)
{
	char	key[64];
	size_t	i;

	for (i = 0; i < sizeof tmpls / sizeof tmpls[0]; i++) {
		if (tmpls[i].format >= 0)
			sph_metric_template(r, metric_key(key, sizeof key, pod,
			    tmpls[i].id), tmpls[i].label,
			    (enum sph_format)tmpls[i].format,
			    tmpls[i].priority);
		else
			sph_metadata_template(r, tmpls[i].id, tmpls[i].label,
			    tmpls[i].priority, SPH_FROM_LATEST,
			    tmpls[i].datatype);
	}
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct entry	*x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* The node's values into the selected node; e gets the new counters. */
static void
report_node(struct sph_report *r, struct entry *e, const struct entry *prev,
    double dt, const struct vals *v)
{
	char		buf[128], num[64], key[64];
	uint64_t	dp, dth;
	double		pct;
	int		pod = e->kind == K_POD;

	if (v->have & V_CPU_LIMIT) {
		if (v->cores == 0)
			sph_latest(r, "containers_cpu_limit", "none");
		else {
			fmt_num(num, sizeof num, v->cores, 2);
			sph_latestf(r, "containers_cpu_limit", "%s %s", num,
			    v->cores == 1 ? "core" : "cores");
		}
	}
	if (v->have & V_PERIODS) {
		e->have |= V_PERIODS;
		e->periods = v->periods;
		e->throttled = v->throttled;
		fmt_duration(buf, sizeof buf, v->throttled_us);
		sph_latest(r, "containers_throttled_time", buf);
		if (prev != NULL && (prev->have & V_PERIODS) &&
		    v->periods >= prev->periods &&
		    v->throttled >= prev->throttled) {
			dp = v->periods - prev->periods;
			dth = v->throttled - prev->throttled;
			/* No period ran: nothing was throttled. */
			if (dth >= dp)
				pct = dp == 0 ? 0 : 100;
			else
				pct = 100.0 * (double)dth / (double)dp;
			sph_metric(r, metric_key(key, sizeof key, pod,
			    "containers_cpu_throttled"), pct, 0, 100);
		}
	}
	if (v->have & V_MEM_LIMIT) {
		if (v->mem_limit == 0)
			sph_latest(r, "containers_memory_limit", "none");
		else {
			fmt_bytes(buf, sizeof buf, (double)v->mem_limit, "");
			sph_latest(r, "containers_memory_limit", buf);
		}
	}
	if ((v->have & V_MEM_USED) && v->mem_limit > 0) {
		pct = 100.0 * (double)v->mem_used / (double)v->mem_limit;
		sph_metric(r, metric_key(key, sizeof key, pod,
		    "containers_memory_limit_used"), pct, 0,
		    pct > 100 ? pct : 100);
	}
	if (v->have & V_OOM)
		sph_latestf(r, "containers_oom_kills", "%" PRIu64, v->oom_kills);
	if (v->have & V_IO) {
		e->have |= V_IO;
		e->rbytes = v->rbytes;
		e->wbytes = v->wbytes;
		if (prev != NULL && (prev->have & V_IO) && dt > 0 &&
		    v->rbytes >= prev->rbytes && v->wbytes >= prev->wbytes) {
			fmt_bytes(buf, sizeof buf,
			    (double)(v->rbytes - prev->rbytes) / dt, "/s");
			sph_latest(r, "containers_io_read", buf);
			fmt_bytes(buf, sizeof buf,
			    (double)(v->wbytes - prev->wbytes) / dt, "/s");
			sph_latest(r, "containers_io_write", buf);
		}
	}
	if (v->have & V_PSI_IO) {
		fmt_num(num, sizeof num, v->psi_io, 2);
		sph_latestf(r, "containers_io_pressure", "%s %%", num);
	}
	if (v->have & V_PIDS) {
		if ((v->have & V_PIDS_MAX) && v->pids_max > 0)
			sph_latestf(r, "containers_pids", "%" PRIu64 " of %"
			    PRIu64, v->pids, v->pids_max);
		else
			sph_latestf(r, "containers_pids", "%" PRIu64
			    " (no limit)", v->pids);
	}
	if (v->have & V_PSI_CPU)
		sph_metric(r, metric_key(key, sizeof key, pod,
		    "containers_cpu_pressure"), v->psi_cpu, 0, 100);
	if (v->have & V_PSI_MEMORY)
		sph_metric(r, metric_key(key, sizeof key, pod,
		    "containers_memory_pressure"), v->psi_memory, 0,
		    100);
}

static size_t
max_cgroups(struct state *st)
{
	const char	*p;
	char		*end;
	unsigned long	 n;

	if ((p = sph_param(st->host, "max_cgroups")) == NULL)
		return DEFAULT_MAX;
	errno = 0;
	n = strtoul(p, &end, 10);
	if (errno != 0 || *end != '\0' || n == 0 || *p == '-') {
		if (!(st->logged_cap & 1))
			sph_log(st->host, SPH_LOG_WARNING, "bad max_cgroups "
			    "\"%s\": using %d", p, DEFAULT_MAX);
		st->logged_cap |= 1;
		return DEFAULT_MAX;
	}
	return n;
}

static int
containers_init(struct sph_host *host, void **state)
{
	struct state	*st;

	if ((st = calloc(1, sizeof *st)) == NULL) {
		sph_log(host, SPH_LOG_ERR, "out of memory");
		return -1;
	}
	st->host = host;
	*state = st;
	return 0;
}

static int
containers_collect(void *state, yajl_gen gen)
{
	struct state		*st = state;
	struct sph_report	*r = NULL;
	struct layout		 L;
	struct walk		 w;
	struct vals		 v;
	struct entry		*prev, key;
	const char		*topo = NULL;
	char			 id[SPH_NODE_ID_MAX];
	struct timespec		 now;
	size_t			 i, j, max;
	double			 dt;
	int			 fd, rv = -1;

	memset(&w, 0, sizeof w);
	w.st = st;
	if (layout_open(st, &L) != 0)
		return -1;
	max = max_cgroups(st);
	/* A descriptor of its own: fdopendir() takes it over. */
	if (L.walk != -1 && (fd = openat(L.fd[L.walk], ".", O_RDONLY |
	    O_DIRECTORY | O_CLOEXEC)) != -1)
		walk_dir(&w, fd, 0, C_NONE, NULL);
	if (w.error) {
		sph_log(st->host, SPH_LOG_ERR, "out of memory");
		goto out;
	}
	if (w.full && !st->logged_walk) {
		sph_log(st->host, SPH_LOG_WARNING, "more than %d container "
		    "and pod cgroups: the rest are not looked at", MAX_FOUND);
		st->logged_walk = 1;
	}
	/* Sorted, duplicates (one cgroup seen twice) dropped, capped. */
	if (w.n > 0)
		qsort(w.v, w.n, sizeof *w.v, entry_cmp);
	for (i = j = 0; i < w.n; i++)
		if (j == 0 || entry_cmp(&w.v[j - 1], &w.v[i]) != 0)
			w.v[j++] = w.v[i];
	w.n = j;
	if (w.n > max) {
		if (!(st->logged_cap & 2))
			sph_log(st->host, SPH_LOG_WARNING, "%zu container and "
			    "pod cgroups: reporting the first %zu "
			    "(max_cgroups)", w.n, max);
		st->logged_cap |= 2;
		w.n = max;
	}

	if ((r = sph_report_begin(st->host, gen)) == NULL)
		goto out;
	now = *sph_report_time(r);
	dt = st->prev != NULL ? (double)(now.tv_sec - st->prev_time.tv_sec) +
	    (double)(now.tv_nsec - st->prev_time.tv_nsec) / 1e9 : 0;
	for (i = 0; i < w.n; i++) {
		struct entry *e = &w.v[i];

		if (read_vals(st, &L, w.paths + e->rel, &v) != 0) {
			e->have = 0;
			continue;	/* gone since the walk */
		}
		if (topo == NULL || (e->kind == K_POD) !=
		    (strcmp(topo, "Pod") == 0)) {
			topo = e->kind == K_POD ? "Pod" : "Container";
			sph_topology(r, topo);
			templates(r, e->kind == K_POD);
		}
		if (e->kind == K_POD) {
			snprintf(id, sizeof id, "%s;<pod>", e->id);
			sph_node(r, id);
		} else {
			sph_node_container(r, e->id);
			if (e->pod[0] != '\0') {
				snprintf(id, sizeof id, "%s;<pod>", e->pod);
				sph_parent_add(r, "pod", id);
			}
		}
		key = *e;
		prev = st->prev == NULL ? NULL : bsearch(&key, st->prev,
		    st->nprev, sizeof key, entry_cmp);
		report_node(r, e, prev, dt, &v);
	}
	rv = sph_report_end(r);
	r = NULL;
	/* Keep this collect's counters for the next one's rates. */
	free(st->prev);
	st->prev = w.v;
	st->nprev = w.n;
	st->prev_time = now;
	w.v = NULL;
out:
	if (r != NULL)
		sph_report_discard(r);
	layout_close(&L);
	free(w.v);
	free(w.paths);
	return rv;
}

static void
containers_fini(void *state)
{
	struct state	*st = state;

	if (st != NULL)
		free(st->prev);
	free(st);
}

SPH_MODULE(
	.id = "containers",
	.label = "Containers",
	.description = "Adds CPU throttling, memory against the limit, OOM "
	    "kills, pressure and IO to containers and pods, from cgroups",
	.init = containers_init,
	.collect = containers_collect,
	.fini = containers_fini,
);
