/*
 * common.h - small helpers shared by the bundled modules (static, so each
 * module stays a single self-contained object).
 */
#ifndef PLUGINS_COMMON_H
#define PLUGINS_COMMON_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "scope-plugin.h"

/* Seconds from b to a. */
static inline double
elapsed(const struct timespec *a, const struct timespec *b)
{
	return (double)(a->tv_sec - b->tv_sec) +
	    (double)(a->tv_nsec - b->tv_nsec) / 1e9;
}

/* Pressure stall information of one resource (/proc/pressure/<res>). */
struct psi {
	int	have_some;
	int	have_full;
	double	some[3];	/* avg10 avg60 avg300, percent */
	double	full[3];
};

/*
 * Read <proc_root>/pressure/<res>.  Returns 0, or -1 when the kernel has
 * no PSI (file missing or disabled): callers then leave the metrics out.
 */
static inline int
psi_read(struct sph_host *host, const char *res, struct psi *p)
{
	char	 buf[1024], rel[64], *line, *next;
	double	 a[3];

	memset(p, 0, sizeof *p);
	snprintf(rel, sizeof rel, "pressure/%s", res);
	if (sph_root_read(host, "proc_root", "/proc", rel, buf,
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
 * Metrics <res>_pressure_some_avg10 (60, 300) and, if the kernel reports
 * it, <res>_pressure_full_avg10, with their templates, into the selected
 * node and topology.
 */
static inline void
psi_report(struct sph_report *r, const char *res, const char *label,
    const struct psi *p, double priority)
{
	static const char *const win[3] = { "10", "60", "300" };
	char	key[64], lab[96];
	int	i;

	for (i = 0; i < 3 && p->have_some; i++) {
		snprintf(key, sizeof key, "%s_pressure_some_avg%s", res, win[i]);
		snprintf(lab, sizeof lab, "%s pressure (some, %ss)", label,
		    win[i]);
		sph_metric_template(r, key, lab, SPH_FORMAT_PERCENT,
		    priority + i * 0.01);
		sph_metric(r, key, p->some[i], 0, 100);
	}
	if (p->have_full) {
		snprintf(key, sizeof key, "%s_pressure_full_avg10", res);
		snprintf(lab, sizeof lab, "%s pressure (full, 10s)", label);
		sph_metric_template(r, key, lab, SPH_FORMAT_PERCENT,
		    priority + 0.03);
		sph_metric(r, key, p->full[0], 0, 100);
	}
}

#endif
