/*
 * load.c - load averages and CPU pressure on the Host node.
 *
 * From <proc_root>/loadavg: metrics loadavg_1m, loadavg_5m, loadavg_15m
 * (plot range 0 .. the number of CPUs or the value, whichever is larger)
 * and latest loadavg_tasks ("<running> running / <total> total").  From
 * <proc_root>/pressure/cpu (when the kernel has PSI): cpu_pressure_some_*
 * percentages, and cpu_stall_percent, the share of the last interval in
 * which some task waited for a CPU, from the "total" stall counter
 * (microseconds) of two samples.  Parameters: proc_root (default /proc).
 */
#include <inttypes.h>
#include <stdlib.h>

#include "common.h"

struct load {
	struct sph_host	*host;
	int		 have_prev;
	uint64_t	 stall_us;	/* "some total=" at prev_ts */
	struct timespec	 prev_ts;
};

/* CPUs online, from the "cpuN" lines of <proc_root>/stat; 1 if unknown. */
static int
load_ncpu(struct sph_host *host)
{
	char	 buf[65536], *p;
	int	 n = 0;

	if (sph_root_read(host, "proc_root", "/proc", "stat", buf,
	    sizeof buf) == -1 && errno != EFBIG)
		return 1;
	for (p = buf; (p = strstr(p, "\ncpu")) != NULL; p += 4)
		if (p[4] >= '0' && p[4] <= '9')
			n++;
	return n > 0 ? n : 1;
}

/* The "some ... total=<us>" counter of <proc_root>/pressure/cpu. */
static int
load_stall(struct sph_host *host, uint64_t *us)
{
	char	 buf[1024], *p;

	if (sph_root_read(host, "proc_root", "/proc", "pressure/cpu", buf,
	    sizeof buf) == -1)
		return -1;
	if (strncmp(buf, "some ", 5) != 0 ||
	    (p = strstr(buf, " total=")) == NULL ||
	    sscanf(p, " total=%" SCNu64, us) != 1)
		return -1;
	return 0;
}

static int
load_init(struct sph_host *host, void **state)
{
	struct load	*l;

	if ((l = calloc(1, sizeof *l)) == NULL) {
		sph_log(host, SPH_LOG_ERR, "out of memory");
		return -1;
	}
	l->host = host;
	sph_now(host, &l->prev_ts);
	l->have_prev = load_stall(host, &l->stall_us) == 0;
	*state = l;
	return 0;
}

static int
load_collect(void *state, yajl_gen gen)
{
	struct load		*l = state;
	struct sph_report	*r;
	struct psi		 psi;
	struct timespec		 now;
	char			 buf[256];
	double			 avg[3], dt, max;
	unsigned long		 running, total;
	uint64_t		 stall;
	int			 i, have_stall, ncpu;
	static const char *const key[3] = {
		"loadavg_1m", "loadavg_5m", "loadavg_15m"
	};
	static const char *const label[3] = {
		"Load (1 min)", "Load (5 min)", "Load (15 min)"
	};

	if (sph_root_read(l->host, "proc_root", "/proc", "loadavg", buf,
	    sizeof buf) == -1) {
		sph_log(l->host, SPH_LOG_ERR, "loadavg: %s", strerror(errno));
		return -1;
	}
	if (sscanf(buf, "%lf %lf %lf %lu/%lu", &avg[0], &avg[1], &avg[2],
	    &running, &total) != 5) {
		sph_log(l->host, SPH_LOG_ERR, "loadavg: cannot parse");
		return -1;
	}
	ncpu = load_ncpu(l->host);

	if ((r = sph_report_begin(l->host, gen)) == NULL)
		return -1;
	now = *sph_report_time(r);
	sph_topology(r, "Host");
	sph_node_host(r);
	for (i = 0; i < 3; i++) {
		max = avg[i] > ncpu ? avg[i] : ncpu;
		sph_metric_template(r, key[i], label[i], SPH_FORMAT_NONE,
		    4.1 + i * 0.01);
		sph_metric(r, key[i], avg[i], 0, max);
	}
	sph_metadata_template(r, "loadavg_tasks", "Tasks", 4.0,
	    SPH_FROM_LATEST, SPH_DATATYPE_TEXT);
	sph_latestf(r, "loadavg_tasks", "%lu running / %lu total", running,
	    total);

	if (psi_read(l->host, "cpu", &psi) == 0)
		psi_report(r, "cpu", "CPU", &psi, 4.2);
	have_stall = load_stall(l->host, &stall) == 0;
	dt = elapsed(&now, &l->prev_ts);
	/* A rate needs two samples and time between them. */
	if (have_stall && l->have_prev && dt > 0 && stall >= l->stall_us) {
		double pct = 100.0 * (double)(stall - l->stall_us) /
		    (dt * 1e6);

		sph_metric_template(r, "cpu_stall_percent", "CPU stalled",
		    SPH_FORMAT_PERCENT, 4.3);
		sph_metric(r, "cpu_stall_percent", pct > 100 ? 100 : pct, 0,
		    100);
	}
	if (have_stall) {
		l->stall_us = stall;
		l->prev_ts = now;
	}
	l->have_prev = have_stall;
	return sph_report_end(r);
}

static void
load_fini(void *state)
{
	free(state);
}

SPH_MODULE(
	.id = "load",
	.label = "Load",
	.description = "Adds load averages and CPU pressure to hosts",
	.init = load_init,
	.collect = load_collect,
	.fini = load_fini,
);
