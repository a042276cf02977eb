/*
 * disk.c - disk throughput and IO pressure on the Host node.
 *
 * Reads <proc_root>/diskstats twice; bytes are sectors * 512 (the kernel
 * counts 512-byte sectors whatever the device's block size).  Only whole
 * disks are shown: devices listed in <sys_root>/block, minus loop and
 * ram devices.  Reports a multicolumn table "Disks" (latest
 * disk-dev-<name>___read and ___write, bytes/s), the totals as metrics
 * disk_read_bytes_per_second and disk_write_bytes_per_second, and, when
 * the kernel has PSI, io_pressure_* percentages from
 * <proc_root>/pressure/io.  A device new since the last sample or whose
 * counters went back is left out of that report.  Parameters: proc_root
 * (default /proc), sys_root (default /sys).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#include "common.h"

#define MAX_DISKS	256
#define PREFIX		"disk-dev-"
#define SECTOR		512

struct disk {
	char		name[32];
	uint64_t	rd;	/* sectors */
	uint64_t	wr;
};

struct sample {
	struct disk	d[MAX_DISKS];
	size_t		n;
	struct timespec	ts;
};

struct diskmod {
	struct sph_host	*host;
	struct sample	 prev;
};

/* A whole disk worth showing: in /sys/block, not loop or ram. */
static int
disk_wanted(struct sph_host *host, const char *name)
{
	const unsigned char	*p;
	char			 rel[64], path[4096];

	/* Table rows must be valid UTF-8: keep to printable ASCII. */
	for (p = (const unsigned char *)name; *p != '\0'; p++)
		if (*p < 0x21 || *p > 0x7e)
			return 0;
	if (strncmp(name, "loop", 4) == 0 || strncmp(name, "ram", 3) == 0 ||
	    strncmp(name, "zram", 4) == 0 || strstr(name, "___") != NULL)
		return 0;
	if (snprintf(rel, sizeof rel, "block/%s", name) >= (int)sizeof rel)
		return 0;
	if (sph_root_path(host, "sys_root", "/sys", rel, path,
	    sizeof path) != 0)
		return 0;
	return access(path, F_OK) == 0;
}

static int
disk_sample(struct sph_host *host, struct sample *s)
{
	char		 buf[65536], *line, *next, name[64];
	struct disk	*d;

	if (sph_root_read(host, "proc_root", "/proc", "diskstats", buf,
	    sizeof buf) == -1 && errno != EFBIG) {
		sph_log(host, SPH_LOG_ERR, "diskstats: %s", strerror(errno));
		return -1;
	}
	s->n = 0;
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (s->n == MAX_DISKS)
			break;
		d = &s->d[s->n];
		/* major minor name reads merged sectors ms writes merged sectors */
		if (sscanf(line, " %*u %*u %63s %*u %*u %" SCNu64 " %*u %*u"
		    " %*u %" SCNu64, name, &d->rd, &d->wr) != 3)
			continue;
		if (strlen(name) >= sizeof d->name || !disk_wanted(host, name))
			continue;
		strcpy(d->name, name);
		s->n++;
	}
	sph_now(host, &s->ts);
	return 0;
}

static int
disk_init(struct sph_host *host, void **state)
{
	struct diskmod	*dm;

	if ((dm = calloc(1, sizeof *dm)) == NULL) {
		sph_log(host, SPH_LOG_ERR, "out of memory");
		return -1;
	}
	dm->host = host;
	if (disk_sample(host, &dm->prev) != 0) {
		free(dm);
		return -1;
	}
	*state = dm;
	return 0;
}

static const struct disk *
find(const struct sample *s, const char *name)
{
	size_t	i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->d[i].name, name) == 0)
			return &s->d[i];
	return NULL;
}

static int
disk_collect(void *state, yajl_gen gen)
{
	static const struct sph_table_column cols[] = {
		{ "read", "Read bytes/s", SPH_DATATYPE_NUMBER },
		{ "write", "Write bytes/s", SPH_DATATYPE_NUMBER },
	};
	struct diskmod		*dm = state;
	struct sph_report	*r;
	struct sample		*cur;
	const struct disk	*a, *b;
	struct psi		 psi;
	double			 dt, rd, wr, rdsum = 0, wrsum = 0;
	size_t			 i;
	int			 any = 0;

	if ((cur = malloc(sizeof *cur)) == NULL) {
		sph_log(dm->host, SPH_LOG_ERR, "out of memory");
		return -1;
	}
	if (disk_sample(dm->host, cur) != 0) {
		free(cur);
		return -1;
	}
	if ((r = sph_report_begin(dm->host, gen)) == NULL) {
		free(cur);
		return -1;
	}
	sph_topology(r, "Host");
	sph_table_template(r, "disk-devs", "Disks", PREFIX,
	    SPH_TABLE_MULTICOLUMN, cols, 2);
	sph_node_host(r);
	dt = elapsed(&cur->ts, &dm->prev.ts);
	for (i = 0; i < cur->n && dt > 0; i++) {
		b = &cur->d[i];
		if ((a = find(&dm->prev, b->name)) == NULL || b->rd < a->rd ||
		    b->wr < a->wr)
			continue;
		rd = (double)(b->rd - a->rd) * SECTOR / dt;
		wr = (double)(b->wr - a->wr) * SECTOR / dt;
		sph_table_cellf(r, PREFIX, b->name, "read", "%.0f", rd);
		sph_table_cellf(r, PREFIX, b->name, "write", "%.0f", wr);
		rdsum += rd;
		wrsum += wr;
		any = 1;
	}
	if (any) {
		sph_metric_template(r, "disk_read_bytes_per_second",
		    "Disk read /s", SPH_FORMAT_FILESIZE, 7.1);
		sph_metric(r, "disk_read_bytes_per_second", rdsum, 0, rdsum);
		sph_metric_template(r, "disk_write_bytes_per_second",
		    "Disk write /s", SPH_FORMAT_FILESIZE, 7.11);
		sph_metric(r, "disk_write_bytes_per_second", wrsum, 0, wrsum);
	}
	if (psi_read(dm->host, "io", &psi) == 0)
		psi_report(r, "io", "IO", &psi, 7.2);
	if (dt > 0)
		dm->prev = *cur;
	free(cur);
	return sph_report_end(r);
}

static void
disk_fini(void *state)
{
	free(state);
}

SPH_MODULE(
	.id = "disk",
	.label = "Disk",
	.description = "Adds per-disk throughput and IO pressure to hosts",
	.init = disk_init,
	.collect = disk_collect,
	.fini = disk_fini,
);
