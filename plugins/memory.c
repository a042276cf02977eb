/*
 * memory.c - what Scope's host panel lacks about memory: pressure, what
 * is still available, swap and the page cache.
 *
 * Scope already plots Memory (used) on every host, so this module does
 * not.  From <proc_root>/meminfo, as metadata formatted for people:
 * memory_available "RAM available" ("21.3 GiB of 23.5 GiB":
 * MemAvailable of MemTotal, what can be had without swapping),
 * memory_swap "Swap used" (SwapTotal - SwapFree of SwapTotal, or "no
 * swap space") and memory_cache "Page cache" (Cached + Buffers).  From
 * <proc_root>/pressure/memory (when the kernel has PSI): metric
 * memory_pressure "Memory pressure" (some, 10 s) and the "Memory" row of
 * the shared pressure table.  Parameters: proc_root (default /proc).
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

struct memory {
	struct sph_host	*host;
	struct kfile	 meminfo;
	struct kfile	 psi;
};

static int
memory_init(struct sph_host *host, void **state)
{
	struct memory	*m;

	if ((m = state_alloc(host, sizeof *m)) == NULL)
		return -1;
	m->host = host;
	kfile_init(&m->meminfo);
	kfile_init(&m->psi);
	*state = m;
	return 0;
}

static void
memory_fini(void *state)
{
	struct memory	*m = state;

	kfile_close(&m->meminfo);
	kfile_close(&m->psi);
	free(m);
}

/* "<a> of <b>" with both sizes for people, into latest key. */
static void
size_of(struct sph_report *r, const char *key, uint64_t a, uint64_t b)
{
	char	x[32], y[32];

	fmt_bytes(x, sizeof x, (double)a, "");
	fmt_bytes(y, sizeof y, (double)b, "");
	sph_latestf(r, key, "%s of %s", x, y);
}

static int
memory_collect(void *state, yajl_gen gen)
{
	struct memory		*m = state;
	struct sph_host		*host = m->host;
	struct sph_report	*r;
	struct psi		 psi;
	char			 buf[16384], b[32];
	uint64_t		 total, avail, stotal, sfree, cached, buffers;

	if (kfile_read(host, &m->meminfo, "proc_root", "/proc", "meminfo", buf,
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

	if ((r = sph_report_begin(host, gen)) == NULL)
		return -1;
	sph_topology(r, "Host");
	sph_node_host(r);
	sph_metadata_template(r, "memory_available", "RAM available", 5.1,
	    SPH_FROM_LATEST, SPH_DATATYPE_TEXT);
	size_of(r, "memory_available", avail, total);
	if (meminfo_get(buf, "SwapTotal", &stotal) == 0 &&
	    meminfo_get(buf, "SwapFree", &sfree) == 0) {
		sph_metadata_template(r, "memory_swap", "Swap used", 5.2,
		    SPH_FROM_LATEST, SPH_DATATYPE_TEXT);
		if (stotal == 0)
			sph_latest(r, "memory_swap", "no swap space");
		else
			size_of(r, "memory_swap",
			    sfree < stotal ? stotal - sfree : 0, stotal);
	}
	if (meminfo_get(buf, "Cached", &cached) == 0 &&
	    meminfo_get(buf, "Buffers", &buffers) == 0) {
		sph_metadata_template(r, "memory_cache", "Page cache", 5.3,
		    SPH_FROM_LATEST, SPH_DATATYPE_TEXT);
		fmt_bytes(b, sizeof b, (double)cached + (double)buffers, "");
		sph_latest(r, "memory_cache", b);
	}
	if (psi_read(host, &m->psi, "memory", &psi) == 0)
		psi_report(r, "memory", "Memory", &psi, 5.2);
	return sph_report_end(r);
}

SPH_MODULE(
	.id = "memory",
	.label = "Memory",
	.description = "Adds memory pressure, available memory, swap and page "
	    "cache to hosts",
	.init = memory_init,
	.collect = memory_collect,
	.fini = memory_fini,
);
