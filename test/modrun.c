/*
 * modrun.c - run a module's collect() outside the host, for tests.
 *
 * usage: modrun [-ae] [-p key=value]... [-r proc_root]... [-s sys_root]...
 *	  [-t unixtime]... [-n count] [-c index:control:node_id]...
 *	  [-P probe_id] module.so
 *
 * init() sees sample 0 (the first -r, -s, -t and -p of each key),
 * collect number i (from 0) sees sample i, the last one repeating.  The
 * number of collects is -n or else the longest of the -r/-s/-t lists.
 * Each collect is framed by the host's own framer (host/frame.c: {, the
 * module's members, the Plugins entry, }), checked by the host's own
 * validator (host/validate.c, as --check does) and the last one (every
 * one with -a, one per line) is printed.  -c runs the module's control()
 * before collect index and prints its verdict on stderr; -e makes an
 * error verdict fatal.  Any collect, framing or validation error exits 1.
 * Like the daemon, modrun exports the yajl wrappers
 * (host/yajl-wrap.list), so a module's ignored generator errors are
 * caught here as they are in a worker.
 *
 * With MODRUN_STATVFS set to a file, the module's statvfs() answers from
 * it instead of the kernel (see statvfs() below), so that a test of a
 * module that measures filesystems does not depend on the disks of the
 * machine it runs on.
 */

#include <sys/statvfs.h>

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host.h"
#include "sph-host.h"

#define MAXLIST 64

struct run {
	const char	*params[MAXLIST];	/* "key=value" */
	size_t		 nparams;
	const char	*proc[MAXLIST];
	size_t		 nproc;
	const char	*sys[MAXLIST];
	size_t		 nsys;
	time_t		 times[MAXLIST];
	size_t		 ntimes;
	size_t		 cur;			/* current sample */
};

/*
 * statvfs() for the module under test.  modrun is linked with
 * -export-dynamic, so this definition comes before libc's when the
 * module's reference is bound.  Lines of $MODRUN_STATVFS:
 *	<frsize> <blocks> <bfree> <bavail> <files> <ffree> <path suffix>
 * The suffix (the rest of the line, spaces included) must match the end
 * of the path, trailing slashes dropped, at a "/" boundary.  A path with
 * no line fails with ENOENT.  Without the variable, libc's statvfs().
 */
int
statvfs(const char *path, struct statvfs *sv)
{
	int		(*real)(const char *, struct statvfs *);
	const char	*file = getenv("MODRUN_STATVFS");
	char		 line[4096], want[4096];
	unsigned long long v[6];
	size_t		 plen, slen;
	int		 off;
	FILE		*f;

	if (file == NULL) {
		*(void **)&real = dlsym(RTLD_NEXT, "statvfs");
		if (real == NULL) {
			errno = ENOSYS;
			return -1;
		}
		return real(path, sv);
	}
	snprintf(want, sizeof want, "%s", path);
	for (plen = strlen(want); plen > 1 && want[plen - 1] == '/'; plen--)
		want[plen - 1] = '\0';
	if ((f = fopen(file, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "%llu %llu %llu %llu %llu %llu %n", &v[0],
		    &v[1], &v[2], &v[3], &v[4], &v[5], &off) != 6)
			continue;
		slen = strlen(line + off);
		if (slen == 0 || slen > plen || strcmp(want + plen - slen,
		    line + off) != 0 || (slen < plen &&
		    want[plen - slen - 1] != '/'))
			continue;
		fclose(f);
		memset(sv, 0, sizeof *sv);
		sv->f_bsize = sv->f_frsize = v[0];
		sv->f_blocks = v[1];
		sv->f_bfree = v[2];
		sv->f_bavail = v[3];
		sv->f_files = v[4];
		sv->f_ffree = sv->f_favail = v[5];
		sv->f_namemax = 255;
		return 0;
	}
	fclose(f);
	errno = ENOENT;
	return -1;
}

static void
run_log(void *ctx, int level, const char *line)
{
	(void)ctx;
	fprintf(stderr, "modrun: module log %d: %s\n", level, line);
}

static const char *
pick(const char *const *list, size_t n, size_t i)
{
	if (n == 0)
		return NULL;
	return list[i < n ? i : n - 1];
}

static const char *
run_param(void *ctx, const char *key)
{
	struct run	*run = ctx;
	const char	*v;
	size_t		 i, n, len = strlen(key);

	if (strcmp(key, "proc_root") == 0 &&
	    (v = pick(run->proc, run->nproc, run->cur)) != NULL)
		return v;
	if (strcmp(key, "sys_root") == 0 &&
	    (v = pick(run->sys, run->nsys, run->cur)) != NULL)
		return v;
	/* The cur-th -p of key, the last one repeating. */
	for (v = NULL, n = 0, i = 0; i < run->nparams; i++)
		if (strncmp(run->params[i], key, len) == 0 &&
		    run->params[i][len] == '=' && n++ <= run->cur)
			v = run->params[i] + len + 1;
	return v;
}

static void
run_now(void *ctx, struct timespec *ts)
{
	struct run	*run = ctx;

	if (run->ntimes == 0) {
		if (clock_gettime(CLOCK_REALTIME, ts) != 0) {
			ts->tv_sec = time(NULL);
			ts->tv_nsec = 0;
		}
		return;
	}
	ts->tv_sec = run->times[run->cur < run->ntimes ? run->cur :
	    run->ntimes - 1];
	ts->tv_nsec = 0;
}

/* One collect, framed and checked as the host does; printed if print is set. */
static int
collect_one(struct reporter *r, const struct module *mod, int print)
{
	struct evbuffer	*out;
	const char	*buf;
	char		*cause = NULL;
	size_t		 len;
	int		 rv = -1;

	if ((out = evbuffer_new()) == NULL) {
		fprintf(stderr, "modrun: evbuffer_new failed\n");
		return -1;
	}
	if (reporter_build(r, out, &cause) != 0) {
		fprintf(stderr, "modrun: %s\n", cause);
		goto out;
	}
	len = evbuffer_get_length(out);
	buf = (const char *)evbuffer_pullup(out, -1);
	if (validate_report(buf, len, mod->id, mod->control != NULL,
	    &cause) != 0) {
		fprintf(stderr, "modrun: report refused: %s\n", cause);
		goto out;
	}
	if (print) {
		fwrite(buf, 1, len, stdout);
		fputc('\n', stdout);
	}
	rv = 0;
out:
	free(cause);
	evbuffer_free(out);
	return rv;
}

static void
usage(void)
{
	fprintf(stderr, "usage: modrun [-ae] [-p key=value]... [-r proc_root] "
	    "[-s sys_root] [-t unixtime] [-n count]\n"
	    "\t[-c index:control:node_id] [-P probe_id] module.so\n");
	exit(2);
}

struct ctl {
	size_t		 index;
	char		*control;
	char		*node;
};

static int
add(const char **list, size_t *n, const char *v)
{
	if (*n == MAXLIST) {
		fprintf(stderr, "modrun: too many values\n");
		return -1;
	}
	list[(*n)++] = v;
	return 0;
}

int
main(int argc, char **argv)
{
	struct run		 run;
	struct sph_host		 host;
	struct module		 mod;
	struct reporter		*r;
	const struct sph_module	*m;
	struct ctl		 ctls[MAXLIST];
	struct sph_control	 req;
	size_t			 nctls = 0, ncollect = 0, i, j;
	void			*dl, *state = NULL;
	char			*p, *end, *cause = NULL, errbuf[512];
	int			 c, all = 0, ctlfatal = 0, rc, rv = 0;

	memset(&run, 0, sizeof run);
	memset(&host, 0, sizeof host);
	host.size = sizeof host;
	host.probe_id = "";
	while ((c = getopt(argc, argv, "aec:n:p:P:r:s:t:")) != -1) {
		switch (c) {
		case 'a':
			all = 1;
			break;
		case 'e':
			ctlfatal = 1;
			break;
		case 'c':
			if (nctls == MAXLIST)
				usage();
			errno = 0;
			ctls[nctls].index = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != ':' ||
			    (p = strchr(end + 1, ':')) == NULL)
				usage();
			*p = '\0';
			ctls[nctls].control = end + 1;
			ctls[nctls].node = p + 1;
			nctls++;
			break;
		case 'n':
			ncollect = strtoul(optarg, NULL, 10);
			break;
		case 'p':
			if (strchr(optarg, '=') == NULL ||
			    add(run.params, &run.nparams, optarg) != 0)
				usage();
			break;
		case 'P':
			host.probe_id = optarg;
			break;
		case 'r':
			if (add(run.proc, &run.nproc, optarg) != 0)
				usage();
			break;
		case 's':
			if (add(run.sys, &run.nsys, optarg) != 0)
				usage();
			break;
		case 't':
			if (run.ntimes == MAXLIST)
				usage();
			errno = 0;
			run.times[run.ntimes++] = (time_t)strtoll(optarg, &end,
			    10);
			if (errno != 0 || *end != '\0')
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc)
		usage();
	if (ncollect == 0) {
		ncollect = run.nproc;
		if (run.nsys > ncollect)
			ncollect = run.nsys;
		if (run.ntimes > ncollect)
			ncollect = run.ntimes;
		if (ncollect == 0)
			ncollect = 1;
	}

	if ((dl = dlopen(argv[optind], RTLD_NOW | RTLD_LOCAL)) == NULL) {
		fprintf(stderr, "modrun: %s\n", dlerror());
		return 1;
	}
	if ((m = dlsym(dl, SPH_MODULE_SYMBOL_NAME)) == NULL) {
		fprintf(stderr, "modrun: no %s in %s\n",
		    SPH_MODULE_SYMBOL_NAME, argv[optind]);
		return 1;
	}
	if (module_check_descriptor(m, &cause) != 0) {
		fprintf(stderr, "modrun: %s: %s\n", argv[optind], cause);
		return 1;
	}
	host.id = m->id;
	host.log = run_log;
	host.param = run_param;
	host.now = run_now;
	host.ctx = &run;

	run.cur = 0;
	if (m->init != NULL && m->init(&host, &state) != 0) {
		fprintf(stderr, "modrun: init failed\n");
		return 1;
	}
	module_fill(&mod, m);
	mod.state = state;
	r = reporter_new(&mod, NULL);
	for (i = 0; i < ncollect; i++) {
		run.cur = i;
		for (j = 0; j < nctls; j++) {
			if (ctls[j].index != i)
				continue;
			if (m->control == NULL) {
				fprintf(stderr, "modrun: no control callback\n");
				return 1;
			}
			memset(&req, 0, sizeof req);
			req.app_id = "modrun";
			req.node_id = ctls[j].node;
			req.control = ctls[j].control;
			errbuf[0] = '\0';
			rc = m->control(state, &req, errbuf, sizeof errbuf);
			fprintf(stderr, "modrun: control %s: %s%s\n",
			    ctls[j].control, rc == SPH_CONTROL_OK ? "ok" :
			    rc == SPH_CONTROL_REFRESH ? "refresh" : "error: ",
			    rc == SPH_CONTROL_ERROR ? errbuf : "");
			if (rc == SPH_CONTROL_ERROR && ctlfatal)
				return 1;
		}
		if (collect_one(r, &mod, all || i + 1 == ncollect) != 0) {
			rv = 1;
			break;
		}
	}
	reporter_free(r);
	if (m->fini != NULL)
		m->fini(state);
	if (fflush(stdout) != 0) {
		perror("modrun: stdout");
		rv = 1;
	}
	dlclose(dl);
	return rv;
}
