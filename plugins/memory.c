/*
 * memory.c - memory use and memory pressure on the Host node.
 *
 * From <proc_root>/meminfo: metrics memory_used_bytes (MemTotal -
 * MemAvailable) and memory_available_bytes, both plotted 0 .. MemTotal,
 * and latest memory_total_bytes.  From <proc_root>/pressure/memory (when
 * the kernel has PSI): memory_pressure_some_* and _full_avg10 percentages.
 * Parameters: proc_root (default /proc).
 */
#include <inttypes.h>
#include <stdlib.h>

#include "common.h"

/* Value of "<name>: <n> kB" in meminfo, in bytes. */
static int
meminfo_get(const char *buf, const char *name, uint64_t *bytes)
{
	const char	*p = buf;
	size_t		 len = strlen(name);
	uint64_t	 kb;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, name, len) == 0 && p[len] == ':') {
			if (sscanf(p + len + 1, " %" SCNu64, &kb) != 1 ||
			    kb > UINT64_MAX / 1024)
				return -1;
			*bytes = kb * 1024;
			return 0;
		}
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return -1;
}

static int
memory_init(struct sph_host *host, void **state)
{
	*state = host;
	return 0;
}

static int
memory_collect(void *state, yajl_gen gen)
{
	struct sph_host		*host = state;
	struct sph_report	*r;
	struct psi		 psi;
	char			 buf[16384];
	uint64_t		 total, avail;
	double			 t;

	if (sph_root_read(host, "proc_root", "/proc", "meminfo", buf,
	    sizeof buf) == -1 && errno != EFBIG) {
		sph_log(host, SPH_LOG_ERR, "meminfo: %s", strerror(errno));
		return -1;
	}
	/* MemAvailable exists since Linux 3.14. */
	if (meminfo_get(buf, "MemTotal", &total) != 0 ||
	    meminfo_get(buf, "MemAvailable", &avail) != 0) {
		sph_log(host, SPH_LOG_ERR, "meminfo: no MemTotal/MemAvailable");
		return -1;
	}
	if (avail > total)
		avail = total;
	t = (double)total;

	if ((r = sph_report_begin(host, gen)) == NULL)
		return -1;
	sph_topology(r, "Host");
	sph_node_host(r);
	sph_metric_template(r, "memory_used_bytes", "Memory used",
	    SPH_FORMAT_FILESIZE, 5.1);
	sph_metric(r, "memory_used_bytes", (double)(total - avail), 0, t);
	sph_metric_template(r, "memory_available_bytes", "Memory available",
	    SPH_FORMAT_FILESIZE, 5.11);
	sph_metric(r, "memory_available_bytes", (double)avail, 0, t);
	sph_metadata_template(r, "memory_total_bytes", "Memory total (bytes)",
	    5.0, SPH_FROM_LATEST, SPH_DATATYPE_NUMBER);
	sph_latestf(r, "memory_total_bytes", "%" PRIu64, total);
	if (psi_read(host, "memory", &psi) == 0)
		psi_report(r, "memory", "Memory", &psi, 5.2);
	return sph_report_end(r);
}

SPH_MODULE(
	.id = "memory",
	.label = "Memory",
	.description = "Adds memory use and memory pressure to hosts",
	.init = memory_init,
	.collect = memory_collect,
);
