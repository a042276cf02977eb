/*
 * hello.c - the smallest useful scope-plugin-host module: a "Hello" row
 * and the host's uptime on the Host node.  Build with the Makefile next
 * to it (pkg-config scope-plugin), copy hello.so into the module
 * directory; see scope-plugin-report(3).
 */
#include <stdio.h>

#include <scope-plugin.h>

static struct sph_host *hello_host;

static int
hello_init(struct sph_host *host, void **state)
{
	hello_host = host;
	*state = NULL;
	return 0;
}

/* Seconds since boot from /proc/uptime (or the proc_root parameter). */
static double
hello_uptime(void)
{
	char	buf[128];
	double	up;

	if (sph_root_read(hello_host, "proc_root", "/proc", "uptime", buf,
	    sizeof buf) == -1 || sscanf(buf, "%lf", &up) != 1 || up < 0)
		return 0;
	return up;
}

static int
hello_collect(void *state, yajl_gen gen)
{
	struct sph_report	*r;
	double			 up = hello_uptime();

	(void)state;
	if ((r = sph_report_begin(hello_host, gen)) == NULL)
		return -1;
	sph_topology(r, "Host");
	sph_metadata_template(r, "hello_greeting", "Hello", 1.0,
	    SPH_FROM_LATEST, SPH_DATATYPE_TEXT);
	sph_metric_template(r, "hello_uptime_hours", "Uptime (hours)",
	    SPH_FORMAT_NONE, 1.1);
	sph_node_host(r);
	sph_latestf(r, "hello_greeting", "hello from %s",
	    sph_report_hostname(r));
	sph_metric(r, "hello_uptime_hours", up / 3600, 0, up / 3600);
	return sph_report_end(r);
}

SPH_MODULE(
	.id = "hello",
	.label = "Hello",
	.description = "Example module: a greeting and the uptime on hosts",
	.init = hello_init,
	.collect = hello_collect,
);
