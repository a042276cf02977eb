/*
 * disk.c - per-disk throughput and utilisation, and IO pressure, on the
 * Host node.
 *
 * Reads <proc_root>/diskstats at every collect; bytes are sectors * 512
 * (the kernel counts 512-byte sectors whatever the device's block size).
 * Only whole disks are shown: devices listed in <sys_root>/block, minus
 * loop, ram and zram devices.  Reports:
 *   - table "Disks": Device, Read /s, Write /s (sizes for people) and
 *     Busy, the share of the interval the disk had IO in flight (the
 *     io_ticks counter, as iostat's %util);
 *   - metric disk_io_bytes_per_second "Disk IO /s", read + write over all
 *     shown disks;
 *   - with PSI (<proc_root>/pressure/io): the "IO" row of the shared
 *     pressure table (no metric: the hosts' metric selector is kept
 *     short, and IO wait is one already).
 * Rates need two samples: a disk new since the last one, or whose
 * counters went back, is left out of that report.  Parameters: proc_root
 * (default /proc), sys_root (default /sys).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#include "common.h"
#include "counters.h"

#define PREFIX		"disk-dev-"
#define SECTOR		512

/* A whole disk worth showing: in /sys/block, not loop or ram. */
static int
disk_wanted(struct sph_host *host, const char *name)
{
	char	rel[64], path[4096];

	if (strncmp(name, "loop", 4) == 0 || strncmp(name, "ram", 3) == 0 ||
	    strncmp(name, "zram", 4) == 0 || strchr(name, '/') != NULL)
		return 0;
	if (snprintf(rel, sizeof rel, "block/%s", name) >= (int)sizeof rel)
		return 0;
	if (sph_root_path(host, "sys_root", "/sys", rel, path,
	    sizeof path) != 0)
		return 0;
	return access(path, F_OK) == 0;
}

/* Rows: read sectors, written sectors, ms with IO in flight. */
static int
disk_read(struct ctr *c, struct ctr_sample *s)
{
	struct sph_host	*host = c->host;
	char		 buf[65536], *line, *next, name[64];
	uint64_t	 v[CTR_NVALS];

	if (kfile_read(host, &c->kf, "proc_root", "/proc", "diskstats", buf,
	    sizeof buf) == -1 && errno != EFBIG) {
		sph_log(host, SPH_LOG_ERR, "diskstats: %s", strerror(errno));
		return -1;
	}
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		/*
		 * major minor name reads merged sectors ms writes merged
		 * sectors ms in-flight io_ticks ...
		 */
		if (sscanf(line, " %*u %*u %63s %*u %*u %" SCNu64 " %*u %*u"
		    " %*u %" SCNu64 " %*u %*u %" SCNu64, name, &v[0], &v[1],
		    &v[2]) != 4)
			continue;
		if (disk_wanted(host, name))
			ctr_add(s, name, v);
	}
	return 0;
}

static int
disk_init(struct sph_host *host, void **state)
{
	return (*state = ctr_new(host, disk_read)) != NULL ? 0 : -1;
}

static int
disk_collect(void *state, yajl_gen gen)
{
	static const struct sph_table_column cols[] = {
		{ "read", "Read /s", SPH_DATATYPE_TEXT },
		{ "write", "Write /s", SPH_DATATYPE_TEXT },
		{ "busy", "Busy", SPH_DATATYPE_TEXT },
	};
	struct ctr		*c = state;
	struct sph_report	*r;
	struct psi		 psi;
	const char		*name;
	char			 b[32];
	double			 rate[CTR_NVALS], sum = 0, busy;
	size_t			 i;
	int			 any = 0;

	if (ctr_sample(c) != 0)
		return -1;
	if ((r = sph_report_begin(c->host, gen)) == NULL)
		return -1;
	sph_topology(r, "Host");
	sph_node_host(r);
	for (i = 0; i < c->cur.n; i++) {
		if (ctr_rates(c, i, rate) != 0)
			continue;
		name = c->cur.row[i].name;
		fmt_bytes(b, sizeof b, rate[0] * SECTOR, "/s");
		sph_table_cell(r, PREFIX, name, "read", b);
		fmt_bytes(b, sizeof b, rate[1] * SECTOR, "/s");
		sph_table_cell(r, PREFIX, name, "write", b);
		/* io_ticks are ms; more than 100 % is clock skew. */
		busy = rate[2] / 10;
		sph_table_cellf(r, PREFIX, name, "busy", "%.0f %%",
		    busy > 100 ? 100 : busy);
		sum += (rate[0] + rate[1]) * SECTOR;
		any = 1;
	}
	if (any) {
		sph_table_template_named(r, "disk-devs", "Disks", PREFIX,
		    "Device", cols, 3);
		sph_metric_template(r, "disk_io_bytes_per_second",
		    "Disk IO /s", SPH_FORMAT_FILESIZE, 7.1);
		sph_metric(r, "disk_io_bytes_per_second", sum, 0, sum);
	}
	if (psi_read(c->host, &c->extra, "io", &psi) == 0)
		psi_report(r, "io", "IO", &psi, 0);
	ctr_advance(c);
	return sph_report_end(r);
}

static void
disk_fini(void *state)
{
	ctr_free(state);
}

SPH_MODULE(
	.id = "disk",
	.label = "Disk",
	.description = "Adds per-disk throughput and utilisation, and IO "
	    "pressure, to hosts",
	.init = disk_init,
	.collect = disk_collect,
	.fini = disk_fini,
);
