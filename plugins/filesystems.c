/*
 * filesystems.c - space and inodes of every mounted filesystem, on the
 * Host node (Scope shows none).
 *
 * Mounts come from <proc_root>/1/mountinfo, the host's mount table as
 * PID 1 sees it (in a container with the host's PID namespace, the
 * node's), and each is measured with statvfs() through
 * <proc_root>/1/root<mount point>.  When PID 1's root is out of reach
 * (another user without CAP_SYS_PTRACE) the module falls back, with one
 * log line, to <proc_root>/self/mountinfo and the mount points as this
 * process sees them.  Shown: one row per filesystem, skipping pseudo and
 * memory filesystems (proc, sysfs, cgroup, tmpfs, overlay, squashfs, ...:
 * see pseudo[] below), filesystems with no blocks, and every mount of a
 * device but the one of its root closest to "/" (bind mounts and
 * subvolume mounts of the same device count once).  Reports:
 *   - table "Filesystems": Mount point, Type, Used, Size (as df: used =
 *     blocks - free, size = blocks), Use (used / (used + available to
 *     users), rounded up, as df's Use%), Inode use (when the filesystem
 *     has inodes);
 *   - metric fs_used_percent "Disk space used": the fullest shown
 *     filesystem's Use.
 * At most MAX_MOUNTS mounts are read.  Parameters: proc_root (default
 * /proc).
 */
#include <sys/statvfs.h>

#include <math.h>
#include <stdlib.h>

#include "common.h"
#include "mountinfo.h"

#define MAX_MOUNTS	512
#define PREFIX		"fs-"

struct mount {
	unsigned	 major, minor;
	char		 root[1024];	/* of the device, "/" for the whole */
	char		 point[1024];	/* mount point, unescaped */
	char		 type[64];
	int		 skip;
};

struct fsmod {
	struct sph_host	*host;
	struct kfile	 mountinfo;
	int		 warned;
};

/* Filesystems that hold no user data of their own. */
static const char *const pseudo[] = {
	"autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs",
	"debugfs", "devpts", "devtmpfs", "efivarfs", "fusectl", "hugetlbfs",
	"mqueue", "nsfs", "overlay", "proc", "pstore", "ramfs", "rpc_pipefs",
	"securityfs", "selinuxfs", "squashfs", "sysfs", "tmpfs", "tracefs",
	"fuse.lxcfs", "fuse.gvfsd-fuse", "fuse.portal", NULL
};

static int
is_pseudo(const char *type)
{
	size_t	i;

	for (i = 0; pseudo[i] != NULL; i++)
		if (strcmp(type, pseudo[i]) == 0)
			return 1;
	return 0;
}


/* Usable as a table row id: printable ASCII without the separator. */
static int
row_ok(const char *s)
{
	const unsigned char	*p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			return 0;
	return strstr(s, "___") == NULL;
}

/*
 * Parse mountinfo in buf into m (at most max); returns the count.
 * Line: id parent major:minor root point options [optional...] - type
 * source super-options.
 */
static size_t
parse_mountinfo(char *buf, struct mount *m, size_t max)
{
	char	*line, *next, *sep;
	size_t	 n = 0;

	for (line = buf; line != NULL && *line != '\0' && n < max;
	    line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((sep = strstr(line, " - ")) == NULL)
			continue;
		memset(&m[n], 0, sizeof m[n]);
		if (sscanf(line, "%*u %*u %u:%u %1023s %1023s", &m[n].major,
		    &m[n].minor, m[n].root, m[n].point) != 4 ||
		    sscanf(sep + 3, "%63s", m[n].type) != 1)
			continue;
		mountinfo_unescape(m[n].root);
		mountinfo_unescape(m[n].point);
		n++;
	}
	return n;
}

/* Mark pseudo mounts and every mount of a device but the best one. */
static void
pick_mounts(struct mount *m, size_t n)
{
	size_t	i, j, li, lj;

	for (i = 0; i < n; i++)
		if (is_pseudo(m[i].type) || m[i].point[0] != '/' ||
		    !row_ok(m[i].point))
			m[i].skip = 1;
	for (i = 0; i < n; i++) {
		for (j = i + 1; j < n && !m[i].skip; j++) {
			if (m[j].skip || m[i].major != m[j].major ||
			    m[i].minor != m[j].minor)
				continue;
			/* Keep the shorter root, then the shorter point. */
			li = strlen(m[i].root);
			lj = strlen(m[j].root);
			if (li == lj) {
				li = strlen(m[i].point);
				lj = strlen(m[j].point);
			}
			if (lj < li)
				m[i].skip = 1;
			else
				m[j].skip = 1;
		}
	}
}

static int
fs_init(struct sph_host *host, void **state)
{
	struct fsmod	*fm;

	if ((fm = state_alloc(host, sizeof *fm)) == NULL)
		return -1;
	fm->host = host;
	kfile_init(&fm->mountinfo);
	*state = fm;
	return 0;
}

/* "<a> %" of a over a + b, rounded up as df does; -1 if b + a is 0. */
static double
use_pct(double used, double avail)
{
	if (used + avail <= 0)
		return -1;
	return ceil(100 * used / (used + avail));
}

static int
fs_collect(void *state, yajl_gen gen)
{
	static const struct sph_table_column cols[] = {
		{ "type", "Type", SPH_DATATYPE_TEXT },
		{ "used", "Used", SPH_DATATYPE_TEXT },
		{ "size", "Size", SPH_DATATYPE_TEXT },
		{ "use", "Use", SPH_DATATYPE_TEXT },
		{ "inodes", "Inode use", SPH_DATATYPE_TEXT },
	};
	struct fsmod		*fm = state;
	struct sph_host		*host = fm->host;
	struct sph_report	*r;
	struct mount		*m;
	struct statvfs		 sv;
	char			*buf, path[4096], base[4096], b[32];
	const char		*info = "1/mountinfo";
	double			 used, size, pct, ipct, worst = -1;
	size_t			 n, i;
	int			 self = 0;

	if ((buf = malloc(256 * 1024)) == NULL ||
	    (m = calloc(MAX_MOUNTS, sizeof *m)) == NULL) {
		free(buf);
		sph_log(host, SPH_LOG_ERR, "out of memory");
		return -1;
	}
	/* PID 1's root: the host's view even from a container. */
	if (sph_root_path(host, "proc_root", "/proc", "1/root", base,
	    sizeof base) != 0 || statvfs(base, &sv) != 0) {
		if (!fm->warned)
			sph_log(host, SPH_LOG_WARNING, "%s: %s: showing this "
			    "process's own mounts instead (the host's need "
			    "root or CAP_SYS_PTRACE)", base, strerror(errno));
		fm->warned = 1;
		self = 1;
		info = "self/mountinfo";
		base[0] = '\0';
	}
	if (kfile_read(host, &fm->mountinfo, "proc_root", "/proc", info, buf,
	    256 * 1024) == -1 && errno != EFBIG) {
		sph_log(host, SPH_LOG_ERR, "%s: %s", info, strerror(errno));
		free(buf);
		free(m);
		return -1;
	}
	n = parse_mountinfo(buf, m, MAX_MOUNTS);
	free(buf);
	pick_mounts(m, n);

	if ((r = sph_report_begin(host, gen)) == NULL) {
		free(m);
		return -1;
	}
	sph_topology(r, "Host");
	sph_table_template_named(r, "filesystems", "Filesystems", PREFIX,
	    "Mount point", cols, 5);
	sph_node_host(r);
	for (i = 0; i < n; i++) {
		if (m[i].skip)
			continue;
		/* "/" under the base is the base itself. */
		if (snprintf(path, sizeof path, "%s%s", base,
		    strcmp(m[i].point, "/") == 0 && !self ? "" : m[i].point) >=
		    (int)sizeof path || statvfs(path, &sv) != 0 ||
		    sv.f_blocks == 0)
			continue;
		size = (double)sv.f_blocks * (double)sv.f_frsize;
		used = (double)(sv.f_blocks - (sv.f_bfree < sv.f_blocks ?
		    sv.f_bfree : sv.f_blocks)) * (double)sv.f_frsize;
		pct = use_pct(used, (double)sv.f_bavail * (double)sv.f_frsize);
		sph_table_cell(r, PREFIX, m[i].point, "type", m[i].type);
		fmt_bytes(b, sizeof b, used, "");
		sph_table_cell(r, PREFIX, m[i].point, "used", b);
		fmt_bytes(b, sizeof b, size, "");
		sph_table_cell(r, PREFIX, m[i].point, "size", b);
		if (pct >= 0) {
			sph_table_cellf(r, PREFIX, m[i].point, "use", "%.0f %%",
			    pct);
			if (pct > worst)
				worst = pct;
		}
		if (sv.f_files > 0) {
			ipct = use_pct((double)(sv.f_files - (sv.f_ffree <
			    sv.f_files ? sv.f_ffree : sv.f_files)),
			    (double)sv.f_ffree);
			sph_table_cellf(r, PREFIX, m[i].point, "inodes",
			    "%.0f %%", ipct);
		}
	}
	if (worst >= 0) {
		sph_metric_template(r, "fs_used_percent", "Disk space used",
		    SPH_FORMAT_PERCENT, 7.3);
		sph_metric(r, "fs_used_percent", worst > 100 ? 100 : worst, 0,
		    100);
	}
	free(m);
	return sph_report_end(r);
}

static void
fs_fini(void *state)
{
	struct fsmod	*fm = state;

	kfile_close(&fm->mountinfo);
	free(fm);
}

SPH_MODULE(
	.id = "filesystems",
	.label = "Filesystems",
	.description = "Adds used space and inodes of every filesystem to "
	    "hosts",
	.init = fs_init,
	.collect = fs_collect,
	.fini = fs_fini,
);
