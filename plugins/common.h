/*
 * common.h - small helpers shared by the bundled modules (static, so each
 * module stays a single self-contained object).
 */
#ifndef PLUGINS_COMMON_H
#define PLUGINS_COMMON_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scope-plugin.h"
#include "kfile.h"

/* Seconds from b to a. */
static inline double
elapsed(const struct timespec *a, const struct timespec *b)
{
	return (double)(a->tv_sec - b->tv_sec) +
	    (double)(a->tv_nsec - b->tv_nsec) / 1e9;
}

/* calloc(1, size) for a module's state; logs and returns NULL on failure. */
static inline void *
state_alloc(struct sph_host *host, size_t size)
{
	void	*p;

	if ((p = calloc(1, size)) == NULL)
		sph_log(host, SPH_LOG_ERR, "out of memory");
	return p;
}

/* Pressure stall information of one resource (/proc/pressure/<res>). */
struct psi {
	int	have_some;
	int	have_full;
	double	some[3];	/* avg10 avg60 avg300, percent */
	double	full[3];
};

/*
 * Read <proc_root>/pressure/<res> through kf.  Returns 0, or -1 when the
 * kernel has no PSI (file missing or disabled): callers then leave the
 * metrics out.
 */
static inline int
psi_read(struct sph_host *host, struct kfile *kf, const char *res,
    struct psi *p)
{
	char	 buf[1024], rel[64], *line, *next;
	double	 a[3];

	memset(p, 0, sizeof *p);
	snprintf(rel, sizeof rel, "pressure/%s", res);
	if (kfile_read(host, kf, "proc_root", "/proc", rel, buf,
	    sizeof buf) == -1) {
		/* ENOENT: no CONFIG_PSI; EOPNOTSUPP: psi=0 on the cmdline. */
		if (errno != ENOENT && errno != EOPNOTSUPP)
			sph_log(host, SPH_LOG_WARNING, "%s: %s", rel,
			    strerror(errno));
		return -1;
	}
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (sscanf(line + 4, " avg10=%lf avg60=%lf avg300=%lf", &a[0],
		    &a[1], &a[2]) != 3)
			continue;
		/* Percentages; this also drops nan and inf. */
		if (!(a[0] >= 0 && a[0] <= 100 && a[1] >= 0 && a[1] <= 100 &&
		    a[2] >= 0 && a[2] <= 100))
			continue;
		if (strncmp(line, "some", 4) == 0) {
			memcpy(p->some, a, sizeof a);
			p->have_some = 1;
		} else if (strncmp(line, "full", 4) == 0) {
			memcpy(p->full, a, sizeof a);
			p->have_full = 1;
		}
	}
	return p->have_some ? 0 : -1;
}

/*
 * A size for people: "512 B", "1.5 KiB", "23.5 GiB" (binary units, one
 * decimal from KiB up), with suffix appended ("/s" for rates).
 */
static inline void
fmt_bytes(char *buf, size_t len, double bytes, const char *suffix)
{
	static const char *const unit[] = {
		"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"
	};
	size_t	u = 0;

	if (!(bytes >= 0))
		bytes = 0;
	while (bytes >= 1024 && u < sizeof unit / sizeof unit[0] - 1) {
		bytes /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%.0f %s%s", bytes, unit[u], suffix);
	else
		snprintf(buf, len, "%.1f %s%s", bytes, unit[u], suffix);
}

/*
 * Pressure stalls share one table across the modules that report them
 * (load: CPU, memory: Memory, disk: IO): the same template from each,
 * one row per resource, merged by Scope into a single "Pressure" table
 * on the host: the share of the last 10 s, 1 min and 5 min in which some
 * task waited for the resource ("some"), and of the last 10 s in which
 * all did ("full", the kernel has none for CPU before Linux 5.13).  Only
 * "some avg10" is also a metric, in load and memory.
 */
#define PSI_TABLE_PREFIX	"psi-"

static inline void
psi_table(struct sph_report *r, const char *row, const struct psi *p)
{
	static const struct sph_table_column cols[] = {
		{ "some10", "10 s", SPH_DATATYPE_TEXT },
		{ "some60", "1 min", SPH_DATATYPE_TEXT },
		{ "some300", "5 min", SPH_DATATYPE_TEXT },
		{ "full10", "All, 10 s", SPH_DATATYPE_TEXT },
	};
	static const char *const scol[3] = { "some10", "some60", "some300" };
	int	i;

	sph_table_template_named(r, "psi", "Pressure: time tasks waited",
	    PSI_TABLE_PREFIX, "Resource", cols, 4);
	for (i = 0; i < 3; i++)
		sph_table_cellf(r, PSI_TABLE_PREFIX, row, scol[i], "%.2f %%",
		    p->some[i]);
	if (p->have_full)
		sph_table_cellf(r, PSI_TABLE_PREFIX, row, "full10", "%.2f %%",
		    p->full[0]);
}

/*
 * The resource's pressure into the selected host node: its row of the
 * shared pressure table and, with priority > 0, metric <res>_pressure
 * (some, avg10) labelled "<label> pressure".
 */
static inline void
psi_report(struct sph_report *r, const char *res, const char *label,
    const struct psi *p, double priority)
{
	char	key[64], lab[96];

	psi_table(r, label, p);
	if (priority <= 0)
		return;
	snprintf(key, sizeof key, "%s_pressure", res);
	snprintf(lab, sizeof lab, "%s pressure", label);
	sph_metric_template(r, key, lab, SPH_FORMAT_PERCENT, priority);
	sph_metric(r, key, p->some[0], 0, 100);
}

#endif
