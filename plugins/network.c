/*
 * network.c - network throughput on the Host node.
 *
 * Reads <proc_root>/net/dev twice and divides the byte counters' growth
 * by the time between the samples: a multicolumn table "Network
 * interfaces" (latest net-iface-<name>___rx and ___tx, bytes/s) and
 * metrics network_rx_bytes_per_second and network_tx_bytes_per_second,
 * the totals over all interfaces but lo.  An interface new since the
 * last sample, or whose counters went back (reset, wrap), is left out of
 * that report; with no time elapsed there is no rate at all.  At most
 * MAX_IFACES interfaces.  Parameters: proc_root (default /proc).
 */
#include <inttypes.h>
#include <stdlib.h>

#include "common.h"

#define MAX_IFACES	256
#define PREFIX		"net-iface-"

struct iface {
	char		name[32];
	uint64_t	rx;
	uint64_t	tx;
};

struct sample {
	struct iface	if_[MAX_IFACES];
	size_t		n;
	struct timespec	ts;
};

struct network {
	struct sph_host	*host;
	struct sample	 prev;
};

/* Usable as a table row: ASCII (names are bytes) and no separator. */
static int
row_ok(const char *name)
{
	const unsigned char	*p;

	for (p = (const unsigned char *)name; *p != '\0'; p++)
		if (*p < 0x21 || *p > 0x7e)
			return 0;
	return strstr(name, "___") == NULL;
}

static int
network_sample(struct sph_host *host, struct sample *s)
{
	char		 buf[65536], *line, *next, *colon, *name;
	struct iface	*i;

	if (sph_root_read(host, "proc_root", "/proc", "net/dev", buf,
	    sizeof buf) == -1 && errno != EFBIG) {
		sph_log(host, SPH_LOG_ERR, "net/dev: %s", strerror(errno));
		return -1;
	}
	s->n = 0;
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		/* Header lines have no colon after the name. */
		if ((colon = strchr(line, ':')) == NULL)
			continue;
		*colon = '\0';
		name = line + strspn(line, " ");
		if (*name == '\0' || strcmp(name, "lo") == 0 ||
		    strlen(name) >= sizeof s->if_[0].name || !row_ok(name))
			continue;
		if (s->n == MAX_IFACES)
			break;
		i = &s->if_[s->n];
		/* rx: bytes packets errs drop fifo frame compressed multicast */
		if (sscanf(colon + 1, " %" SCNu64 " %*u %*u %*u %*u %*u %*u %*u"
		    " %" SCNu64, &i->rx, &i->tx) != 2)
			continue;
		strcpy(i->name, name);
		s->n++;
	}
	sph_now(host, &s->ts);
	return 0;
}

static int
network_init(struct sph_host *host, void **state)
{
	struct network	*nw;

	if ((nw = calloc(1, sizeof *nw)) == NULL) {
		sph_log(host, SPH_LOG_ERR, "out of memory");
		return -1;
	}
	nw->host = host;
	if (network_sample(host, &nw->prev) != 0) {
		free(nw);
		return -1;
	}
	*state = nw;
	return 0;
}

static const struct iface *
find(const struct sample *s, const char *name)
{
	size_t	i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->if_[i].name, name) == 0)
			return &s->if_[i];
	return NULL;
}

static int
network_collect(void *state, yajl_gen gen)
{
	static const struct sph_table_column cols[] = {
		{ "rx", "RX bytes/s", SPH_DATATYPE_NUMBER },
		{ "tx", "TX bytes/s", SPH_DATATYPE_NUMBER },
	};
	struct network		*nw = state;
	struct sph_report	*r;
	struct sample		*cur;
	const struct iface	*a, *b;
	double			 dt, rx, tx, rxsum = 0, txsum = 0;
	size_t			 i;
	int			 any = 0;

	/* Big (MAX_IFACES) and only needed here. */
	if ((cur = malloc(sizeof *cur)) == NULL) {
		sph_log(nw->host, SPH_LOG_ERR, "out of memory");
		return -1;
	}
	if (network_sample(nw->host, cur) != 0) {
		free(cur);
		return -1;
	}
	if ((r = sph_report_begin(nw->host, gen)) == NULL) {
		free(cur);
		return -1;
	}
	sph_topology(r, "Host");
	sph_table_template(r, "net-ifaces", "Network interfaces", PREFIX,
	    SPH_TABLE_MULTICOLUMN, cols, 2);
	sph_node_host(r);
	dt = elapsed(&cur->ts, &nw->prev.ts);
	for (i = 0; i < cur->n && dt > 0; i++) {
		b = &cur->if_[i];
		if ((a = find(&nw->prev, b->name)) == NULL || b->rx < a->rx ||
		    b->tx < a->tx)
			continue;
		rx = (double)(b->rx - a->rx) / dt;
		tx = (double)(b->tx - a->tx) / dt;
		sph_table_cellf(r, PREFIX, b->name, "rx", "%.0f", rx);
		sph_table_cellf(r, PREFIX, b->name, "tx", "%.0f", tx);
		rxsum += rx;
		txsum += tx;
		any = 1;
	}
	if (any) {
		sph_metric_template(r, "network_rx_bytes_per_second",
		    "Network RX /s", SPH_FORMAT_FILESIZE, 6.1);
		sph_metric(r, "network_rx_bytes_per_second", rxsum, 0, rxsum);
		sph_metric_template(r, "network_tx_bytes_per_second",
		    "Network TX /s", SPH_FORMAT_FILESIZE, 6.11);
		sph_metric(r, "network_tx_bytes_per_second", txsum, 0, txsum);
	}
	/* Keep the old sample when no time passed, for a rate next time. */
	if (dt > 0)
		nw->prev = *cur;
	free(cur);
	return sph_report_end(r);
}

static void
network_fini(void *state)
{
	free(state);
}

SPH_MODULE(
	.id = "network",
	.label = "Network",
	.description = "Adds per-interface network throughput to hosts",
	.init = network_init,
	.collect = network_collect,
	.fini = network_fini,
);
