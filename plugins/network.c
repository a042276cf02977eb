/*
 * network.c - per-interface network throughput on the Host node.
 *
 * Reads <proc_root>/net/dev at every collect and divides the byte
 * counters' growth by the time between samples.  Reports a table
 * "Network interfaces" (Interface, Received /s, Sent /s, sizes for
 * people) and metric network_bytes_per_second "Network /s", received +
 * sent over all interfaces but lo.  An interface new since the last
 * sample, or whose counters went back (reset, wrap), is left out of that
 * report; with no time elapsed there is no rate at all.  At most
 * CTR_MAX_ROWS interfaces.  Parameters: proc_root (default /proc).
 */
#include <inttypes.h>
#include <stdlib.h>

#include "common.h"
#include "counters.h"

#define PREFIX		"net-iface-"

/* Rows: received bytes, sent bytes. */
static int
network_read(struct ctr *c, struct ctr_sample *s)
{
	struct sph_host	*host = c->host;
	char		 buf[65536], *line, *next, *colon, *name;
	uint64_t	 v[CTR_NVALS] = { 0 };

	if (kfile_read(host, &c->kf, "proc_root", "/proc", "net/dev", buf,
	    sizeof buf) == -1 && errno != EFBIG) {
		sph_log(host, SPH_LOG_ERR, "net/dev: %s", strerror(errno));
		return -1;
	}
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		/* Header lines have no colon after the name. */
		if ((colon = strchr(line, ':')) == NULL)
			continue;
		*colon = '\0';
		name = line + strspn(line, " ");
		if (strcmp(name, "lo") == 0)
			continue;
		/* rx: bytes packets errs drop fifo frame compressed multicast */
		if (sscanf(colon + 1, " %" SCNu64 " %*u %*u %*u %*u %*u %*u %*u"
		    " %" SCNu64, &v[0], &v[1]) == 2)
			ctr_add(s, name, v);
	}
	return 0;
}

static int
network_init(struct sph_host *host, void **state)
{
	return (*state = ctr_new(host, network_read)) != NULL ? 0 : -1;
}

static int
network_collect(void *state, yajl_gen gen)
{
	static const struct sph_table_column cols[] = {
		{ "rx", "Received /s", SPH_DATATYPE_TEXT },
		{ "tx", "Sent /s", SPH_DATATYPE_TEXT },
	};
	struct ctr		*c = state;
	struct sph_report	*r;
	const char		*name;
	char			 b[32];
	double			 rate[CTR_NVALS], sum = 0;
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
		fmt_bytes(b, sizeof b, rate[0], "/s");
		sph_table_cell(r, PREFIX, name, "rx", b);
		fmt_bytes(b, sizeof b, rate[1], "/s");
		sph_table_cell(r, PREFIX, name, "tx", b);
		sum += rate[0] + rate[1];
		any = 1;
	}
	if (any) {
		sph_table_template_named(r, "net-ifaces", "Network interfaces",
		    PREFIX, "Interface", cols, 2);
		sph_metric_template(r, "network_bytes_per_second",
		    "Network /s", SPH_FORMAT_FILESIZE, 6.1);
		sph_metric(r, "network_bytes_per_second", sum, 0, sum);
	}
	ctr_advance(c);
	return sph_report_end(r);
}

static void
network_fini(void *state)
{
	ctr_free(state);
}

SPH_MODULE(
	.id = "network",
	.label = "Network",
	.description = "Adds per-interface network throughput to hosts",
	.init = network_init,
	.collect = network_collect,
	.fini = network_fini,
);
