/*
 * mod-trivial.c - benchmark fixture: a fixed small report (~300 bytes
 * with the host's Plugins entry): one Host node with one metric sample
 * stamped with the current time.  Measures the host's own per-request
 * cost, since collect() does next to nothing.
 *
 * BENCH_ID, BENCH_INTERVAL_MS and BENCH_MODULE_FLAGS can be set at compile
 * time (run.sh builds 100 copies with distinct ids; mod-cached.c sets an
 * interval, mod-trivial-perreq.c SPH_MODULE_PER_REQUEST).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <scope-plugin.h>

#ifndef BENCH_ID
#define BENCH_ID "bench-trivial"
#endif
#ifndef BENCH_INTERVAL_MS
#define BENCH_INTERVAL_MS 0
#endif
#ifndef BENCH_MODULE_FLAGS
#define BENCH_MODULE_FLAGS 0
#endif

#define GEN_LIT(g, s) \
	yajl_gen_string((g), (const unsigned char *)(s), sizeof (s) - 1)

static int
trivial_init(struct sph_host *host, void **state)
{
	*state = host;
	return 0;
}

static int
trivial_collect(void *state, yajl_gen g)
{
	struct sph_host	*host = state;
	struct timespec	 ts;
	struct tm	 tm;
	char		 date[40];
	int		 n;

	sph_now(host, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = (int)strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(date + n, sizeof date - (size_t)n, ".%03ldZ",
	    ts.tv_nsec / 1000000);

	GEN_LIT(g, "Host");
	yajl_gen_map_open(g);
	GEN_LIT(g, "nodes");
	yajl_gen_map_open(g);
	GEN_LIT(g, "bench-host;<host>");
	yajl_gen_map_open(g);
	GEN_LIT(g, "id");
	GEN_LIT(g, "bench-host;<host>");
	GEN_LIT(g, "topology");
	GEN_LIT(g, "host");
	GEN_LIT(g, "metrics");
	yajl_gen_map_open(g);
	GEN_LIT(g, "bench_value");
	yajl_gen_map_open(g);
	GEN_LIT(g, "samples");
	yajl_gen_array_open(g);
	yajl_gen_map_open(g);
	GEN_LIT(g, "date");
	yajl_gen_string(g, (const unsigned char *)date, (size_t)n);
	GEN_LIT(g, "value");
	yajl_gen_double(g, 42.5);
	yajl_gen_map_close(g);
	yajl_gen_array_close(g);
	GEN_LIT(g, "min");
	yajl_gen_integer(g, 0);
	GEN_LIT(g, "max");
	yajl_gen_integer(g, 100);
	yajl_gen_map_close(g);	/* bench_value */
	yajl_gen_map_close(g);	/* metrics */
	yajl_gen_map_close(g);	/* node */
	yajl_gen_map_close(g);	/* nodes */
	yajl_gen_map_close(g);	/* Host */
	return 0;
}

SPH_MODULE(
	.id = BENCH_ID,
	.label = "Bench trivial",
	.description = "Benchmark fixture: fixed small report",
	.interval_ms = BENCH_INTERVAL_MS,
	.flags = BENCH_MODULE_FLAGS,
	.init = trivial_init,
	.collect = trivial_collect,
);
