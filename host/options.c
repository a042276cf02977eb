/* options.c - command line: defaults, parsing, --help, worker argv. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "host.h"

enum {
	OPT_MODULE_DIR = 256, OPT_SOCKET_DIR, OPT_CHECK, OPT_VERSION,
	OPT_LOG_LEVEL, OPT_SYSLOG, OPT_DEADLINE, OPT_BUDGET, OPT_PARAM,
	OPT_SET, OPT_BACKOFF_MIN, OPT_BACKOFF_MAX, OPT_MAX_FAILURES,
	OPT_HEALTHY, OPT_STOP_GRACE, OPT_RESCAN, OPT_SETTLE, OPT_MEMORY_LIMIT,
	OPT_START_TIMEOUT, OPT_WORKER, OPT_CONFIG, OPT_NO_CONFIG,
	/* hardening (issue 5) */
	OPT_MAX_CONNS, OPT_READ_TIMEOUT, OPT_IDLE_TIMEOUT, OPT_NO_STRICT_MODES,
	OPT_ALLOW_SYMLINKS, OPT_USER, OPT_SOCKET_GROUP
};

static const struct option long_options[] = {
	{ "module-dir",		required_argument, NULL, OPT_MODULE_DIR },
	{ "socket-dir",		required_argument, NULL, OPT_SOCKET_DIR },
	{ "foreground",		no_argument,	   NULL, 'f' },
	{ "check",		no_argument,	   NULL, OPT_CHECK },
	{ "version",		no_argument,	   NULL, OPT_VERSION },
	{ "help",		no_argument,	   NULL, 'h' },
	{ "log-level",		required_argument, NULL, OPT_LOG_LEVEL },
	{ "syslog",		no_argument,	   NULL, OPT_SYSLOG },
	{ "deadline",		required_argument, NULL, OPT_DEADLINE },
	{ "budget",		required_argument, NULL, OPT_BUDGET },
	{ "param",		required_argument, NULL, OPT_PARAM },
	{ "set",		required_argument, NULL, OPT_SET },
	{ "backoff-min",	required_argument, NULL, OPT_BACKOFF_MIN },
	{ "backoff-max",	required_argument, NULL, OPT_BACKOFF_MAX },
	{ "max-failures",	required_argument, NULL, OPT_MAX_FAILURES },
	{ "healthy-after",	required_argument, NULL, OPT_HEALTHY },
	{ "stop-grace",		required_argument, NULL, OPT_STOP_GRACE },
	{ "rescan",		required_argument, NULL, OPT_RESCAN },
	{ "settle",		required_argument, NULL, OPT_SETTLE },
	{ "memory-limit",	required_argument, NULL, OPT_MEMORY_LIMIT },
	{ "start-timeout",	required_argument, NULL, OPT_START_TIMEOUT },
	{ "worker",		required_argument, NULL, OPT_WORKER },
	{ "config",		required_argument, NULL, OPT_CONFIG },
	{ "no-config",		no_argument,	   NULL, OPT_NO_CONFIG },
	/* hardening (issue 5) */
	{ "max-conns",		required_argument, NULL, OPT_MAX_CONNS },
	{ "read-timeout",	required_argument, NULL, OPT_READ_TIMEOUT },
	{ "idle-timeout",	required_argument, NULL, OPT_IDLE_TIMEOUT },
	{ "no-strict-modes",	no_argument,	   NULL, OPT_NO_STRICT_MODES },
	{ "allow-symlinks",	no_argument,	   NULL, OPT_ALLOW_SYMLINKS },
	{ "user",		required_argument, NULL, OPT_USER },
	{ "socket-group",	required_argument, NULL, OPT_SOCKET_GROUP },
	{ NULL, 0, NULL, 0 }
};

static const char *const level_names[] = {
	"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"
};

void
options_defaults(struct options *o)
{
	memset(o, 0, sizeof *o);
	o->module_dir = SPH_MODULE_DIR;
	o->socket_dir = SPH_SOCKET_DIR;
	o->log_level = LOG_INFO;
	/*
	 * The probe gives a plugin 500 ms and polls every second.  A collect
	 * still running after 1 s has cost two polls and is stuck, not slow:
	 * kill it.  100 ms is where it starts to delay the other plugins.
	 */
	o->deadline_ms = 1000;
	o->budget_ms = 100;
	o->start_timeout_ms = 10000;
	o->backoff_min_ms = 100;
	o->backoff_max_ms = 30000;
	o->healthy_ms = 60000;
	o->max_failures = 10;
	o->stop_grace_ms = 3000;
	o->rescan_ms = 5000;
	o->settle_ms = 300;
	o->memory_limit_mb = 512;
	/* hardening (issue 5) */
	o->max_conns = 128;
	o->read_timeout_ms = 5000;
	o->idle_timeout_ms = 60000;
	o->strict_modes = 1;
	o->socket_gid = (gid_t)-1;
}

/* Frees the parameter and setting lists. */
void
options_free(struct options *o)
{
	size_t	i;

	for (i = 0; i < o->nparams; i++)
		free(o->params[i]);
	free(o->params);
	for (i = 0; i < o->nsettings; i++)
		free(o->settings[i]);
	free(o->settings);
	for (i = 0; i < o->nowned; i++)
		free(o->owned[i]);
	free(o->owned);
	o->params = o->settings = o->owned = NULL;
	o->nparams = o->nsettings = o->nowned = 0;
}

void
options_usage(FILE *f)
{
	fprintf(f,
"usage: %s [options]\n"
"       %s status [--json] [--socket-dir DIR]\n"
"Serves every module (*.so) in the module directory as a Weave Scope plugin\n"
"on <socket-dir>/<id>/<id>.sock.\n"
"\n"
"  --config FILE        read settings from FILE, which must exist; options\n"
"                       given here override it (scope-plugin-host.conf(5))\n"
"  --no-config          read no configuration file; by default\n"
"                       %s is read if it exists\n"
"  --module-dir DIR     modules to load (default %s)\n"
"  --socket-dir DIR     Scope's plugin directory (default %s)\n"
"  -f, --foreground     stay in the foreground, log to stderr\n"
"  --check              load every module, run one collect each, validate the\n"
"                       reports as Scope's probe would, print a verdict, exit\n"
"  --log-level LEVEL    err, warning, info or debug (default info)\n"
"  --syslog             log to syslog (the default when in the background)\n"
"  --deadline MS        kill a worker whose collect runs longer (default 1000)\n"
"  --budget MS          warn when a collect takes longer (default 100)\n"
"  --param ID.KEY=VAL   parameter KEY for module ID, or for every module\n"
"                       when ID is * (repeatable)\n"
"  --set ID.KEY=VAL     per-module host setting: interval, deadline, budget,\n"
"                       memory-limit, enabled (0 or 1) (repeatable)\n"
"  --backoff-min MS     first restart delay after a crash (default 100)\n"
"  --backoff-max MS     longest restart delay (default 30000)\n"
"  --max-failures N     crashes in a row before a module is marked failed\n"
"                       (default 10; 0 = never)\n"
"  --healthy-after MS   running this long resets the backoff (default 60000)\n"
"  --stop-grace MS      SIGTERM to SIGKILL delay for workers (default 3000)\n"
"  --start-timeout MS   load + init must finish within (default 10000)\n"
"  --rescan MS          periodic rescan besides inotify (default 5000)\n"
"  --settle MS          a module file must be unchanged this long (default 300)\n"
"  --memory-limit MB    kill a worker whose RSS exceeds this (default 512,\n"
"                       0 = no limit)\n"
"  --version            print the version and exit\n"
"  -h, --help           print this help and exit\n"
"\n"
"Security (see docs/SECURITY.md):\n"
"  --user USER          run workers (and so all module code) as USER, with\n"
"                       its groups; the supervisor stays root to manage the\n"
"                       sockets (default: workers run as the host does)\n"
"  --socket-group GROUP sockets 0660 and their <id>/ dirs 0750, group GROUP\n"
"                       (default: the host's group; dirs 0755, sockets 0660;\n"
"                       the socket dir itself is created 0755)\n"
"  --no-strict-modes    as root, also load modules that are not owned by\n"
"                       root or are group/other writable, or whose directory\n"
"                       (or a parent) is (default: refused, logged once)\n"
"  --allow-symlinks     follow module symlinks that point outside the module\n"
"                       directory (default: refused; links inside are fine)\n"
"  --max-conns N        connections per socket; at the limit the oldest idle\n"
"                       (else slowest incomplete) one is closed (default 128)\n"
"  --read-timeout MS    a request must be complete this long after its first\n"
"                       byte, else 408 and close; also a silent new connection\n"
"                       and a stalled response write (default 5000)\n"
"  --idle-timeout MS    close a kept-alive connection idle this long\n"
"                       (default 60000)\n"
"  Fixed limits: request head 8 KiB (431), request body 64 KiB (413).\n"
"\n"
"Signals: SIGHUP rescans and retries failed modules; SIGUSR1 logs every\n"
"module's state; SIGTERM/SIGINT remove the sockets and exit.\n"
"See scope-plugin-host(8) and scope-plugin(3).\n",
	    HOST_NAME, HOST_NAME, SPH_SYSCONFDIR "/" HOST_NAME ".conf",
	    SPH_MODULE_DIR, SPH_SOCKET_DIR);
}

/* A syslog level by name (err, warning, info, debug, ...), or -1. */
int
options_parse_level(const char *s)
{
	int	i;

	for (i = 0; i < 8; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	if (strcmp(s, "error") == 0)
		return LOG_ERR;
	if (strcmp(s, "warn") == 0)
		return LOG_WARNING;
	return -1;
}

/* "id.key=value" with a valid id (or "*" if star) and a non-empty key. */
static int
check_kv(const char *s, int star)
{
	const char	*dot = strchr(s, '.'), *eq = strchr(s, '=');
	char		 id[PLUGIN_ID_MAX + 1];

	if (dot == NULL || eq == NULL || eq < dot || dot == s ||
	    (size_t)(dot - s) > PLUGIN_ID_MAX || eq == dot + 1)
		return -1;
	memcpy(id, s, (size_t)(dot - s));
	id[dot - s] = '\0';
	if (star && strcmp(id, "*") == 0)
		return 0;
	return valid_plugin_id(id) ? 0 : -1;
}

static void
push(char ***list, size_t *n, const char *s)
{
	*list = xrealloc(*list, (*n + 2) * sizeof **list);
	(*list)[(*n)++] = xstrdup(s);
	(*list)[*n] = NULL;
}

#define UINT_ARG(field, min, max) do {					\
	if (parse_uint(optarg, (min), (max), &o->field) != 0) {		\
		xasprintf(cause, "--%s: expected a number from %u to %u, "	\
		    "got \"%s\"", long_options[idx].name, (unsigned)(min),	\
		    (unsigned)(max), optarg);				\
		return -1;						\
	}								\
} while (0)

/* hardening (issue 5): --user and --socket-group to ids, now, as root. */
static int
options_resolve_ids(struct options *o, char **cause)
{
	struct passwd	*pw;
	struct group	*gr;
	unsigned	 u;
	int		 n;

	if (o->user != NULL) {
		errno = 0;
		if ((pw = getpwnam(o->user)) == NULL) {
			xasprintf(cause, "--user %s: %s", o->user, errno != 0 ?
			    strerror(errno) : "no such user");
			return -1;
		}
		if (pw->pw_uid == 0) {
			xasprintf(cause, "--user %s: that is root; name an "
			    "unprivileged user", o->user);
			return -1;
		}
		if (geteuid() != 0 && pw->pw_uid != geteuid()) {
			xasprintf(cause, "--user %s: only root can switch users "
			    "(running as uid %ld)", o->user, (long)geteuid());
			return -1;
		}
		o->user_uid = pw->pw_uid;
		o->user_gid = pw->pw_gid;
		n = 0;
		getgrouplist(pw->pw_name, pw->pw_gid, NULL, &n);
		if (n < 1)
			n = 1;
		o->user_groups = xcalloc((size_t)n, sizeof *o->user_groups);
		if (getgrouplist(pw->pw_name, pw->pw_gid, o->user_groups,
		    &n) == -1) {
			xasprintf(cause, "--user %s: cannot list its groups",
			    o->user);
			return -1;
		}
		o->user_ngroups = n;
	}
	if (o->socket_group != NULL) {
		errno = 0;
		if ((gr = getgrnam(o->socket_group)) != NULL)
			o->socket_gid = gr->gr_gid;
		else if (parse_uint(o->socket_group, 0, 0x7fffffff, &u) == 0)
			o->socket_gid = (gid_t)u;
		else {
			xasprintf(cause, "--socket-group %s: %s", o->socket_group,
			    errno != 0 ? strerror(errno) : "no such group");
			return -1;
		}
	}
	return 0;
}

/*
 * Parses argv into o.  Returns 0 to run, 1 when --help or --version was
 * answered, -1 with *cause on a usage error.  *worker_path is set for the
 * internal --worker mode.
 */
int
options_parse(struct options *o, int argc, char **argv, char **worker_path,
    char **cause)
{
	char	 *worker = NULL;
	int	  c, idx, lvl;

	opterr = 0;
	optind = 1;
	for (;;) {
		idx = 0;
		c = getopt_long(argc, argv, "fh", long_options, &idx);
		if (c == -1)
			break;
		/* getopt_long leaves idx alone for short options. */
		for (idx = 0; long_options[idx].name != NULL; idx++)
			if (long_options[idx].val == c)
				break;
		switch (c) {
		case OPT_MODULE_DIR: o->module_dir = optarg; break;
		case OPT_SOCKET_DIR: o->socket_dir = optarg; break;
		case 'f': o->foreground = 1; break;
		case OPT_CHECK: o->check_mode = 1; break;
		case OPT_VERSION:
			printf("%s %s (module ABI %d.%d)\n", HOST_NAME,
			    PACKAGE_VERSION, SPH_ABI_MAJOR, SPH_ABI_MINOR);
			return 1;
		case 'h':
			options_usage(stdout);
			return 1;
		case OPT_LOG_LEVEL:
			if ((lvl = options_parse_level(optarg)) < 0) {
				xasprintf(cause, "--log-level: unknown level \"%s\" "
				    "(err, warning, info, debug)", optarg);
				return -1;
			}
			o->log_level = lvl;
			break;
		case OPT_SYSLOG: o->use_syslog = 1; break;
		case OPT_DEADLINE: UINT_ARG(deadline_ms, 10, 3600000); break;
		case OPT_BUDGET: UINT_ARG(budget_ms, 0, 3600000); break;
		case OPT_PARAM:
		case OPT_SET:
			if (check_kv(optarg, c == OPT_PARAM) != 0) {
				xasprintf(cause, "--%s: expected ID.KEY=VALUE with a "
				    "valid module id, got \"%s\"",
				    long_options[idx].name, optarg);
				return -1;
			}
			if (c == OPT_PARAM)
				push(&o->params, &o->nparams, optarg);
			else
				push(&o->settings, &o->nsettings, optarg);
			break;
		case OPT_BACKOFF_MIN: UINT_ARG(backoff_min_ms, 1, 3600000); break;
		case OPT_BACKOFF_MAX: UINT_ARG(backoff_max_ms, 1, 86400000); break;
		case OPT_MAX_FAILURES: UINT_ARG(max_failures, 0, 1000000); break;
		case OPT_HEALTHY: UINT_ARG(healthy_ms, 1, 86400000); break;
		case OPT_STOP_GRACE: UINT_ARG(stop_grace_ms, 1, 600000); break;
		case OPT_RESCAN: UINT_ARG(rescan_ms, 100, 86400000); break;
		case OPT_SETTLE: UINT_ARG(settle_ms, 0, 60000); break;
		case OPT_MEMORY_LIMIT: UINT_ARG(memory_limit_mb, 0, 1048576); break;
		case OPT_START_TIMEOUT: UINT_ARG(start_timeout_ms, 100, 600000); break;
		case OPT_WORKER: worker = optarg; break;
		case OPT_CONFIG: o->config_file = optarg; break;
		case OPT_NO_CONFIG: o->no_config = 1; break;
		/* hardening (issue 5) */
		case OPT_MAX_CONNS: UINT_ARG(max_conns, 1, 65536); break;
		case OPT_READ_TIMEOUT: UINT_ARG(read_timeout_ms, 100, 600000); break;
		case OPT_IDLE_TIMEOUT: UINT_ARG(idle_timeout_ms, 100, 86400000); break;
		case OPT_NO_STRICT_MODES: o->strict_modes = 0; break;
		case OPT_ALLOW_SYMLINKS: o->allow_symlinks = 1; break;
		case OPT_USER: o->user = optarg; break;
		case OPT_SOCKET_GROUP: o->socket_group = optarg; break;
		default:
			if (optopt != 0 && optopt < 256)
				xasprintf(cause, "unknown option -%c (see --help)", optopt);
			else
				xasprintf(cause, "unknown or incomplete option %s "
				    "(see --help)", argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		xasprintf(cause, "unexpected argument \"%s\" (see --help)",
		    argv[optind]);
		return -1;
	}
	if (o->config_file != NULL && o->no_config) {
		xasprintf(cause, "--config and --no-config exclude each other");
		return -1;
	}
	if (o->backoff_max_ms < o->backoff_min_ms)
		o->backoff_max_ms = o->backoff_min_ms;
	if (options_resolve_ids(o, cause) != 0)
		return -1;
	*worker_path = worker;
	return 0;
}

/* The value for id.key in a list of "id.key=value" strings, last one wins. */
static const char *
lookup_one(char **list, size_t n, const char *id, const char *key)
{
	size_t		 idlen = strlen(id), keylen = strlen(key), i;
	const char	*found = NULL;

	for (i = 0; i < n; i++) {
		const char *s = list[i];
		if (strncmp(s, id, idlen) == 0 && s[idlen] == '.' &&
		    strncmp(s + idlen + 1, key, keylen) == 0 &&
		    s[idlen + 1 + keylen] == '=')
			found = s + idlen + keylen + 2;
	}
	return found;
}

/* As lookup_one(), falling back to "*.key" (a value for every module). */
const char *
options_lookup(char **list, size_t n, const char *id, const char *key)
{
	const char	*found = lookup_one(list, n, id, key);

	return found != NULL ? found : lookup_one(list, n, "*", key);
}

unsigned
options_module_uint(const struct options *o, const char *id, const char *key,
    unsigned def)
{
	const char	*v = options_lookup(o->settings, o->nsettings, id, key);
	unsigned	 u;

	if (v == NULL)
		return def;
	if (parse_uint(v, 0, 86400000, &u) != 0) {
		log_warn("--set %s.%s=%s: not a number; using %u", id, key, v, def);
		return def;
	}
	return u;
}

/* argv for a worker: the options a worker needs, then --worker path. */
char **
options_worker_argv(const struct options *o, const char *path)
{
	char	**argv = NULL, buf[32];
	size_t	  n = 0, i;

	push(&argv, &n, HOST_NAME);
	/* Everything the file said is in the options below. */
	push(&argv, &n, "--no-config");
	push(&argv, &n, "--log-level");
	push(&argv, &n, level_names[o->log_level & 7]);
	if (o->use_syslog)
		push(&argv, &n, "--syslog");
	snprintf(buf, sizeof buf, "%u", o->budget_ms);
	push(&argv, &n, "--budget");
	push(&argv, &n, buf);
	for (i = 0; i < o->nparams; i++) {
		push(&argv, &n, "--param");
		push(&argv, &n, o->params[i]);
	}
	for (i = 0; i < o->nsettings; i++) {
		push(&argv, &n, "--set");
		push(&argv, &n, o->settings[i]);
	}
	if (o->check_mode)
		push(&argv, &n, "--check");
	/* hardening (issue 5): the HTTP limits apply in workers too. */
	snprintf(buf, sizeof buf, "%u", o->max_conns);
	push(&argv, &n, "--max-conns");
	push(&argv, &n, buf);
	snprintf(buf, sizeof buf, "%u", o->read_timeout_ms);
	push(&argv, &n, "--read-timeout");
	push(&argv, &n, buf);
	snprintf(buf, sizeof buf, "%u", o->idle_timeout_ms);
	push(&argv, &n, "--idle-timeout");
	push(&argv, &n, buf);
	push(&argv, &n, "--worker");
	push(&argv, &n, path);
	return argv;
}
