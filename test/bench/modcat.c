/*
 * modcat.c - print the report a benchmark module produces, framed by the
 * host's own framer (host/frame.c: the module's members, the Plugins
 * entry, the closing brace).  run.sh uses it to give the floor server
 * byte-for-byte the body the daemon serves, and to check the fixtures
 * without the daemon.
 *
 *   modcat [-p key=value]... MODULE.so > body.json
 *   modcat -n COUNT [-p key=value]... MODULE.so
 *
 * With -n it is a collect benchmark: one untimed collect (a module's
 * first collect sets up what later ones reuse, as in a worker that has
 * served before), then COUNT collects timed in CPU time (user + system,
 * CLOCK_PROCESS_CPUTIME_ID) and wall time, printed as one line
 *   RESULT module=ID collects=N cpu_us=X wall_us=Y bytes=B
 * with X and Y per collect, B the size of the last report.  -p sets a
 * module parameter (proc_root=DIR points a module at a fixture tree).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host.h"
#include "sph-host.h"

#define MAXPARAMS 32

static const char	*params[MAXPARAMS];	/* "key=value" */
static size_t		 nparams;

static const char *
modcat_param(void *ctx, const char *key)
{
	size_t	i, len = strlen(key);

	(void)ctx;
	for (i = 0; i < nparams; i++)
		if (strncmp(params[i], key, len) == 0 && params[i][len] == '=')
			return params[i] + len + 1;
	return NULL;
}

static void
modcat_log(void *ctx, int level, const char *line)
{
	(void)ctx;
	fprintf(stderr, "modcat: module log %d: %s\n", level, line);
}

static double
clock_us(clockid_t id)
{
	struct timespec	ts;

	if (clock_gettime(id, &ts) != 0) {
		perror("modcat: clock_gettime");
		exit(1);
	}
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* One collect into a fresh out, framed; exits on failure. */
static struct evbuffer *
collect(struct reporter *r, const char *id)
{
	struct evbuffer	*out;
	char		*cause = NULL;

	if ((out = evbuffer_new()) == NULL) {
		fprintf(stderr, "modcat: out of memory\n");
		exit(1);
	}
	if (reporter_build(r, out, &cause) != 0) {
		fprintf(stderr, "modcat: %s: %s\n", id, cause);
		exit(1);
	}
	return out;
}

static void
usage(void)
{
	fprintf(stderr, "usage: modcat [-n count] [-p key=value]... "
	    "MODULE.so\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const struct sph_module	*m;
	struct sph_host		 host;
	struct module		 mod;
	struct reporter		*r;
	struct evbuffer		*out;
	void			*dl, *state = NULL;
	char			*cause = NULL, *end;
	size_t			 len;
	unsigned long		 count = 0, i;
	double			 cpu0, wall0;
	int			 c;

	while ((c = getopt(argc, argv, "n:p:")) != -1) {
		switch (c) {
		case 'n':
			errno = 0;
			count = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || count == 0 ||
			    count > 10000000)
				usage();
			break;
		case 'p':
			if (strchr(optarg, '=') == NULL || nparams == MAXPARAMS)
				usage();
			params[nparams++] = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc)
		usage();
	argv += optind;
	if ((dl = dlopen(argv[0], RTLD_NOW | RTLD_LOCAL)) == NULL) {
		fprintf(stderr, "modcat: %s\n", dlerror());
		return 1;
	}
	m = dlsym(dl, SPH_MODULE_SYMBOL_NAME);
	if (module_check_descriptor(m, &cause) != 0) {
		fprintf(stderr, "modcat: %s: %s\n", argv[0], cause);
		return 1;
	}
	memset(&host, 0, sizeof host);
	host.size = sizeof host;
	host.id = m->id;
	host.param = modcat_param;
	host.log = modcat_log;
	/*
	 * Calling into libscope-plugin makes it a direct dependency, loaded
	 * before the module (whose own DT_NEEDED our rpath would not cover).
	 */
	if (sph_module_id(&host) == NULL)
		return 1;
	host.probe_id = "5f2a9c";
	if (m->init != NULL && m->init(&host, &state) != 0) {
		fprintf(stderr, "modcat: %s: init failed\n", m->id);
		return 1;
	}
	module_fill(&mod, m);
	mod.state = state;
	r = reporter_new(&mod, NULL);
	out = collect(r, m->id);
	if (count > 0) {
		cpu0 = clock_us(CLOCK_PROCESS_CPUTIME_ID);
		wall0 = clock_us(CLOCK_MONOTONIC);
		for (i = 0; i < count; i++) {
			evbuffer_free(out);
			out = collect(r, m->id);
		}
		printf("RESULT module=%s collects=%lu cpu_us=%.1f wall_us=%.1f "
		    "bytes=%zu\n", m->id, count,
		    (clock_us(CLOCK_PROCESS_CPUTIME_ID) - cpu0) / (double)count,
		    (clock_us(CLOCK_MONOTONIC) - wall0) / (double)count,
		    evbuffer_get_length(out));
	} else {
		len = evbuffer_get_length(out);
		if (fwrite(evbuffer_pullup(out, -1), 1, len, stdout) != len ||
		    fflush(stdout) != 0) {
			perror("modcat: stdout");
			return 1;
		}
	}
	evbuffer_free(out);
	reporter_free(r);
	if (m->fini != NULL)
		m->fini(state);
	return 0;
}
