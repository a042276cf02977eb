/*
 * collect-time.c - CPU time of a module's collect(), for `make bench`.
 *
 *   collect-time [-n collects] [-w warmup] [-p key=value]... MODULE.so
 *
 * Loads the module as the host does, calls init() once, then collect()
 * warmup + collects times into one generator cleared in between (as the
 * host's worker does), and prints the
 * median, 90th percentile and maximum CPU time (user + system of this
 * thread, CLOCK_THREAD_CPUTIME_ID) of the measured collects, with the
 * report size:
 *
 *   RESULT collects=200 median_us=1234 p90_us=1300 max_us=1500 bytes=98765
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <scope-plugin.h>
#include "sph-host.h"

#define MAXPARAMS 32

static const char	*params[MAXPARAMS];
static size_t		 nparams;

static const char *
bench_param(void *ctx, const char *key)
{
	size_t	i, len = strlen(key);

	(void)ctx;
	for (i = 0; i < nparams; i++)
		if (strncmp(params[i], key, len) == 0 && params[i][len] == '=')
			return params[i] + len + 1;
	return NULL;
}

static void
bench_log(void *ctx, int level, const char *line)
{
	(void)ctx;
	fprintf(stderr, "collect-time: module log %d: %s\n", level, line);
}

static double
cpu_us(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) {
		perror("collect-time: clock_gettime");
		exit(1);
	}
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
dbl_cmp(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
usage(void)
{
	fprintf(stderr, "usage: collect-time [-n collects] [-w warmup] "
	    "[-p key=value]... MODULE.so\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	long			 n = 200, warm = 10, i;
	double			*t, t0;
	struct sph_host		 host;
	const struct sph_module	*m;
	const unsigned char	*buf;
	size_t			 len = 0;
	yajl_gen		 g;
	void			*dl, *state = NULL;
	int			 c;

	while ((c = getopt(argc, argv, "n:p:w:")) != -1) {
		switch (c) {
		case 'n':
			n = strtol(optarg, NULL, 10);
			break;
		case 'w':
			warm = strtol(optarg, NULL, 10);
			break;
		case 'p':
			if (nparams == MAXPARAMS || strchr(optarg, '=') == NULL)
				usage();
			params[nparams++] = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc || n < 1 || warm < 0)
		usage();
	if ((dl = dlopen(argv[optind], RTLD_NOW | RTLD_LOCAL)) == NULL) {
		fprintf(stderr, "collect-time: %s\n", dlerror());
		return 1;
	}
	m = dlsym(dl, SPH_MODULE_SYMBOL_NAME);
	if (m == NULL || m->abi_version >> 16 != SPH_ABI_MAJOR ||
	    m->collect == NULL) {
		fprintf(stderr, "collect-time: %s: not a module\n", argv[optind]);
		return 1;
	}
	memset(&host, 0, sizeof host);
	host.size = sizeof host;
	host.id = m->id;
	host.param = bench_param;
	host.log = bench_log;
	host.probe_id = "";
	if (m->init != NULL && m->init(&host, &state) != 0) {
		fprintf(stderr, "collect-time: %s: init failed\n", m->id);
		return 1;
	}
	if ((t = calloc((size_t)n, sizeof *t)) == NULL) {
		perror("collect-time: calloc");
		return 1;
	}
	/* One generator, cleared between collects, as the host's worker. */
	if ((g = yajl_gen_alloc(NULL)) == NULL) {
		fprintf(stderr, "collect-time: yajl_gen_alloc failed\n");
		return 1;
	}
	for (i = -warm; i < n; i++) {
		yajl_gen_clear(g);
		yajl_gen_reset(g, NULL);
		t0 = cpu_us();
		if (yajl_gen_map_open(g) != yajl_gen_status_ok ||
		    m->collect(state, g) != 0 ||
		    yajl_gen_map_close(g) != yajl_gen_status_ok) {
			fprintf(stderr, "collect-time: %s: collect failed\n",
			    m->id);
			return 1;
		}
		if (i >= 0)
			t[i] = cpu_us() - t0;
		if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
			return 1;
	}
	yajl_gen_free(g);
	qsort(t, (size_t)n, sizeof *t, dbl_cmp);
	printf("RESULT collects=%ld median_us=%.0f p90_us=%.0f max_us=%.0f "
	    "bytes=%zu\n", n, t[(n - 1) / 2], t[(n * 9 - 1) / 10], t[n - 1],
	    len);
	if (m->fini != NULL)
		m->fini(state);
	free(t);
	dlclose(dl);
	return 0;
}
