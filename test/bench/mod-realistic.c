/*
 * mod-realistic.c - benchmark fixture shaped like a real reporter plugin
 * (http-statistics style): 50 Process nodes, each with a latest entry,
 * two metrics with one sample and a host parent, plus metadata and metric
 * templates; about 20 KB of JSON, regenerated on every collect.
 * peer.go and peer.py build the same document.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <scope-plugin.h>

#ifndef BENCH_ID
#define BENCH_ID "bench-realistic"
#endif
#ifndef BENCH_INTERVAL_MS
#define BENCH_INTERVAL_MS 0
#endif
#ifndef BENCH_MODULE_FLAGS
#define BENCH_MODULE_FLAGS 0
#endif

#define BENCH_NODES	50

#define GEN_LIT(g, s) \
	yajl_gen_string((g), (const unsigned char *)(s), sizeof (s) - 1)
#define GEN_BUF(g, b, n) \
	yajl_gen_string((g), (const unsigned char *)(b), (size_t)(n))

static int
realistic_init(struct sph_host *host, void **state)
{
	*state = host;
	return 0;
}

static void
gen_metric(yajl_gen g, const char *date, size_t dlen, double value,
    long long max)
{
	yajl_gen_map_open(g);
	GEN_LIT(g, "samples");
	yajl_gen_array_open(g);
	yajl_gen_map_open(g);
	GEN_LIT(g, "date");
	GEN_BUF(g, date, dlen);
	GEN_LIT(g, "value");
	yajl_gen_double(g, value);
	yajl_gen_map_close(g);
	yajl_gen_array_close(g);
	GEN_LIT(g, "min");
	yajl_gen_integer(g, 0);
	GEN_LIT(g, "max");
	yajl_gen_integer(g, max);
	yajl_gen_map_close(g);
}

static void
gen_template(yajl_gen g, const char *id, const char *label, const char *fmt,
    double priority)
{
	yajl_gen_string(g, (const unsigned char *)id, strlen(id));
	yajl_gen_map_open(g);
	GEN_LIT(g, "id");
	yajl_gen_string(g, (const unsigned char *)id, strlen(id));
	GEN_LIT(g, "label");
	yajl_gen_string(g, (const unsigned char *)label, strlen(label));
	if (fmt != NULL) {
		GEN_LIT(g, "format");
		yajl_gen_string(g, (const unsigned char *)fmt, strlen(fmt));
	} else {
		GEN_LIT(g, "from");
		GEN_LIT(g, "latest");
	}
	GEN_LIT(g, "priority");
	yajl_gen_double(g, priority);
	yajl_gen_map_close(g);
}

static int
realistic_collect(void *state, yajl_gen g)
{
	struct sph_host	*host = state;
	struct timespec	 ts;
	struct tm	 tm;
	char		 date[40], id[64], cmd[64];
	int		 dlen, idlen, cmdlen, i;

	sph_now(host, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	dlen = (int)strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
	dlen += snprintf(date + dlen, sizeof date - (size_t)dlen, ".%03ldZ",
	    ts.tv_nsec / 1000000);

	GEN_LIT(g, "Process");
	yajl_gen_map_open(g);
	GEN_LIT(g, "nodes");
	yajl_gen_map_open(g);
	for (i = 0; i < BENCH_NODES; i++) {
		idlen = snprintf(id, sizeof id, "bench-host;%d", 1000 + i);
		cmdlen = snprintf(cmd, sizeof cmd,
		    "/usr/bin/bench-worker --instance %d", i);
		GEN_BUF(g, id, idlen);
		yajl_gen_map_open(g);
		GEN_LIT(g, "id");
		GEN_BUF(g, id, idlen);
		GEN_LIT(g, "topology");
		GEN_LIT(g, "process");
		GEN_LIT(g, "latest");
		yajl_gen_map_open(g);
		GEN_LIT(g, "bench_cmd");
		yajl_gen_map_open(g);
		GEN_LIT(g, "timestamp");
		GEN_BUF(g, date, dlen);
		GEN_LIT(g, "value");
		GEN_BUF(g, cmd, cmdlen);
		yajl_gen_map_close(g);
		yajl_gen_map_close(g);	/* latest */
		GEN_LIT(g, "metrics");
		yajl_gen_map_open(g);
		GEN_LIT(g, "bench_rps");
		gen_metric(g, date, (size_t)dlen, 1.5 * i, 1000);
		GEN_LIT(g, "bench_errors");
		gen_metric(g, date, (size_t)dlen, (double)(i % 7), 100);
		yajl_gen_map_close(g);	/* metrics */
		GEN_LIT(g, "parents");
		yajl_gen_map_open(g);
		GEN_LIT(g, "host");
		yajl_gen_array_open(g);
		GEN_LIT(g, "bench-host;<host>");
		yajl_gen_array_close(g);
		yajl_gen_map_close(g);	/* parents */
		yajl_gen_map_close(g);	/* node */
	}
	yajl_gen_map_close(g);	/* nodes */
	GEN_LIT(g, "metadata_templates");
	yajl_gen_map_open(g);
	gen_template(g, "bench_cmd", "Command", NULL, 1.5);
	yajl_gen_map_close(g);
	GEN_LIT(g, "metric_templates");
	yajl_gen_map_open(g);
	gen_template(g, "bench_rps", "Requests/s", "", 2.5);
	gen_template(g, "bench_errors", "Errors/s", "integer", 3.5);
	yajl_gen_map_close(g);
	yajl_gen_map_close(g);	/* Process */
	return 0;
}

SPH_MODULE(
	.id = BENCH_ID,
	.label = "Bench realistic",
	.description = "Benchmark fixture: 50 process nodes with metrics",
	.interval_ms = BENCH_INTERVAL_MS,
	.flags = BENCH_MODULE_FLAGS,
	.init = realistic_init,
	.collect = realistic_collect,
);
