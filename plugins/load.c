/*
 * load.c - what Scope's host panel lacks about CPU demand: CPU pressure
 * and the 5 and 15 minute load averages.
 *
 * Scope already shows CPU and Load (1m) on every host, so this module
 * repeats neither.  From <proc_root>/loadavg: metadata loadavg_5m and
 * loadavg_15m ("Load (5m)", "Load (15m)") and loadavg_tasks ("<running>
 * running / <total> total"); from the "cpuN" lines of <proc_root>/stat:
 * metadata load_cpus, the number of CPUs a load is measured against.
 * From <proc_root>/pressure/cpu (when the kernel has PSI): metric
 * cpu_pressure "CPU pressure", the share of the last 10 s in which some
 * task waited for a CPU, and the "CPU" row of the shared pressure table.
 * Parameters: proc_root (default /proc).
 */
#include <stdlib.h>

#include "common.h"

struct load {
	struct sph_host	*host;
	struct kfile	 loadavg;
	struct kfile	 stat;
	struct kfile	 psi;
};

/* CPUs online, from the "cpuN" lines of <proc_root>/stat; 0 if unknown. */
static int
load_ncpu(struct load *l)
{
	char	 buf[65536], *p;
	int	 n = 0;

	if (kfile_read(l->host, &l->stat, "proc_root", "/proc", "stat", buf,
	    sizeof buf) == -1 && errno != EFBIG)
		return 0;
	for (p = buf; (p = strstr(p, "\ncpu")) != NULL; p += 4)
		if (p[4] >= '0' && p[4] <= '9')
			n++;
	return n;
}

static int
load_init(struct sph_host *host, void **state)
{
	struct load	*l;

	if ((l = state_alloc(host, sizeof *l)) == NULL)
		return -1;
	l->host = host;
	kfile_init(&l->loadavg);
	kfile_init(&l->stat);
	kfile_init(&l->psi);
	*state = l;
	return 0;
}

static void
load_fini(void *state)
{
	struct load	*l = state;

	kfile_close(&l->loadavg);
	kfile_close(&l->stat);
	kfile_close(&l->psi);
	free(l);
}

static int
load_collect(void *state, yajl_gen gen)
{
	struct load		*l = state;
	struct sph_host		*host = l->host;
	struct sph_report	*r;
	struct psi		 psi;
	char			 buf[256];
	double			 avg[3];
	unsigned long		 running, total;
	int			 ncpu;

	if (kfile_read(host, &l->loadavg, "proc_root", "/proc", "loadavg", buf,
	    sizeof buf) == -1) {
		sph_log(host, SPH_LOG_ERR, "loadavg: %s", strerror(errno));
		return -1;
	}
	if (sscanf(buf, "%lf %lf %lf %lu/%lu", &avg[0], &avg[1], &avg[2],
	    &running, &total) != 5) {
		sph_log(host, SPH_LOG_ERR, "loadavg: cannot parse");
		return -1;
	}
	ncpu = load_ncpu(l);

	if ((r = sph_report_begin(host, gen)) == NULL)
		return -1;
	sph_topology(r, "Host");
	sph_node_host(r);
	sph_metadata_template(r, "loadavg_5m", "Load (5m)", 4.1,
	    SPH_FROM_LATEST, SPH_DATATYPE_NUMBER);
	sph_latestf(r, "loadavg_5m", "%.2f", avg[1]);
	sph_metadata_template(r, "loadavg_15m", "Load (15m)", 4.2,
	    SPH_FROM_LATEST, SPH_DATATYPE_NUMBER);
	sph_latestf(r, "loadavg_15m", "%.2f", avg[2]);
	if (ncpu > 0) {
		sph_metadata_template(r, "load_cpus", "CPUs", 4.3,
		    SPH_FROM_LATEST, SPH_DATATYPE_NUMBER);
		sph_latestf(r, "load_cpus", "%d", ncpu);
	}
	sph_metadata_template(r, "loadavg_tasks", "Tasks", 4.4,
	    SPH_FROM_LATEST, SPH_DATATYPE_TEXT);
	sph_latestf(r, "loadavg_tasks", "%lu running / %lu total", running,
	    total);
	if (psi_read(host, &l->psi, "cpu", &psi) == 0)
		psi_report(r, "cpu", "CPU", &psi, 4.2);
	return sph_report_end(r);
}

SPH_MODULE(
	.id = "load",
	.label = "Load",
	.description = "Adds CPU pressure, 5 and 15 minute load and tasks to "
	    "hosts",
	.init = load_init,
	.collect = load_collect,
	.fini = load_fini,
);
