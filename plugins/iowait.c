/*
 * iowait.c - CPU IO wait (or idle) percentage on the Host node, after
 * Scope's own iowait example plugin, with its two controls.
 *
 * The value is the share of CPU time spent in iowait (or idle) between
 * two samples of the "cpu" line of <proc_root>/stat.  The first sample is
 * taken at init so the first report already has a value; when no CPU
 * time passed between two samples (two requests within one tick) the
 * share since boot is shown instead.
 *
 * Controls: "switchToIdle" and "switchToIOWait" switch the graph; the one
 * that would not change anything is reported dead so the UI offers only
 * the other.  Unlike the upstream example the module starts in iowait
 * mode, the metric it is named after.
 *
 * Parameters: proc_root (default /proc).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kfile.h"
#include "scope-plugin.h"

#define CTL_IDLE	"switchToIdle"
#define CTL_IOWAIT	"switchToIOWait"

struct cpu {
	uint64_t	idle;
	uint64_t	iowait;
	uint64_t	total;
};

struct iowait {
	struct sph_host	*host;
	struct kfile	 stat;
	struct cpu	 prev;
	int		 show_idle;	/* graph idle instead of iowait */
};

/* Read the aggregate "cpu" line of /proc/stat. */
static int
iowait_sample(struct iowait *io, struct cpu *c)
{
	char		buf[65536], *line;
	uint64_t	v[8];
	int		n;

	if (kfile_read(io->host, &io->stat, "proc_root", "/proc", "stat", buf,
	    sizeof buf) == -1 && errno != EFBIG) {
		sph_log(io->host, SPH_LOG_ERR, "stat: %s", strerror(errno));
		return -1;
	}
	/* Big machines have long files; the cpu line comes first anyway. */
	buf[sizeof buf - 1] = '\0';
	if ((line = strstr(buf, "cpu ")) == NULL || (line != buf &&
	    line[-1] != '\n')) {
		sph_log(io->host, SPH_LOG_ERR, "stat: no cpu line");
		return -1;
	}
	memset(v, 0, sizeof v);
	/* user nice system idle iowait irq softirq steal (guest in user) */
	n = sscanf(line, "cpu %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
	    " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64, &v[0], &v[1],
	    &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	if (n < 5) {
		sph_log(io->host, SPH_LOG_ERR, "stat: short cpu line");
		return -1;
	}
	c->idle = v[3];
	c->iowait = v[4];
	c->total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
	return 0;
}

static int
iowait_init(struct sph_host *host, void **state)
{
	struct iowait	*io;

	if ((io = calloc(1, sizeof *io)) == NULL) {
		sph_log(host, SPH_LOG_ERR, "out of memory");
		return -1;
	}
	io->host = host;
	kfile_init(&io->stat);
	if (iowait_sample(io, &io->prev) != 0) {
		kfile_close(&io->stat);
		free(io);
		return -1;
	}
	*state = io;
	return 0;
}

static int
iowait_collect(void *state, yajl_gen gen)
{
	struct iowait		*io = state;
	struct sph_report	*r;
	struct cpu		 cur, d;
	const char		*id, *label;
	double			 pct;

	if (iowait_sample(io, &cur) != 0)
		return -1;
	if (cur.total > io->prev.total && cur.idle >= io->prev.idle &&
	    cur.iowait >= io->prev.iowait) {
		d.total = cur.total - io->prev.total;
		d.idle = cur.idle - io->prev.idle;
		d.iowait = cur.iowait - io->prev.iowait;
	} else
		d = cur;	/* no time passed (or a reset): since boot */
	io->prev = cur;
	if (d.total == 0)
		pct = 0;
	else if (io->show_idle)
		pct = 100.0 * (double)d.idle / (double)d.total;
	else
		pct = 100.0 * (double)d.iowait / (double)d.total;
	if (pct > 100)
		pct = 100;

	if (io->show_idle) {
		id = "idle";
		label = "Idle";
	} else {
		id = "iowait";
		label = "IO wait";
	}
	if ((r = sph_report_begin(io->host, gen)) == NULL)
		return -1;
	sph_topology(r, "Host");
	sph_metric_template(r, id, label, SPH_FORMAT_PERCENT, 0.1);
	sph_control_def(r, CTL_IDLE, "Switch to idle", "fa fa-gears", 1);
	sph_control_def(r, CTL_IOWAIT, "Switch to IO wait", "fa fa-clock-o", 1);
	sph_node_host(r);
	sph_metric(r, id, pct, 0, 100);
	sph_node_control(r, CTL_IDLE, !io->show_idle);
	sph_node_control(r, CTL_IOWAIT, io->show_idle);
	return sph_report_end(r);
}

static int
iowait_control(void *state, const struct sph_control *ctl, char *errbuf,
    size_t errlen)
{
	struct iowait	*io = state;
	char		 node[SPH_NODE_ID_MAX];

	if (sph_host_node_id(node, sizeof node) != 0) {
		snprintf(errbuf, errlen, "cannot get the host name");
		return SPH_CONTROL_ERROR;
	}
	if (strcmp(ctl->node_id, node) != 0) {
		snprintf(errbuf, errlen, "iowait has no node \"%s\"",
		    ctl->node_id);
		return SPH_CONTROL_ERROR;
	}
	if (strcmp(ctl->control, CTL_IDLE) == 0)
		io->show_idle = 1;
	else if (strcmp(ctl->control, CTL_IOWAIT) == 0)
		io->show_idle = 0;
	else {
		snprintf(errbuf, errlen, "unknown control \"%s\"",
		    ctl->control);
		return SPH_CONTROL_ERROR;
	}
	/* Send the new graph and control state at once. */
	return SPH_CONTROL_REFRESH;
}

static void
iowait_fini(void *state)
{
	struct iowait	*io = state;

	kfile_close(&io->stat);
	free(io);
}

SPH_MODULE(
	.id = "iowait",
	.label = "IO wait",
	.description = "Adds a graph of CPU IO wait (or idle) to hosts",
	.init = iowait_init,
	.collect = iowait_collect,
	.control = iowait_control,
	.fini = iowait_fini,
);
