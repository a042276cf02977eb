/*
 * options.c - the settings table and the command line: one row per flag
 * and configuration key drives getopt, the configuration file (config.c),
 * --help and the settings workers get over the channel.
 */
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

#define O(field) offsetof(struct options, field)
#define M(field) offsetof(struct module_settings, field)
#define W(field) offsetof(struct worker_settings, field)
#define DEFAULT_CONFIG SPH_SYSCONFDIR "/" HOST_NAME ".conf"

/*
 * Flag-only rows (no SET_GLOBAL or SET_MODULE) are not keys of the file.
 * A setting with moff is resolved per module by options_module(); with
 * woff it is in struct worker_settings.  --help lists the rows in this
 * order, a section heading before the row that has one.
 */
const struct setting settings_table[] = {
	{ .name = "config", .type = ST_PATH, .where = SET_FLAG,
	  .off = O(config_file), .moff = NO_FIELD, .woff = NO_FIELD,
	  .arg = "FILE", .help = "read settings from FILE, which must exist; "
	  "options given here override it (scope-plugin-host.conf(5))" },
	{ .name = "no-config", .type = ST_BOOL, .where = SET_FLAG,
	  .flag_value = 1, .off = O(no_config), .moff = NO_FIELD,
	  .woff = NO_FIELD, .help = "read no configuration file; by default "
	  DEFAULT_CONFIG " is read if it exists" },
	{ .name = "module-dir", .type = ST_PATH, .where = SET_GLOBAL | SET_FLAG,
	  .defstr = SPH_MODULE_DIR, .off = O(module_dir), .moff = NO_FIELD,
	  .woff = NO_FIELD, .arg = "DIR", .help = "modules to load" },
	{ .name = "socket-dir", .type = ST_PATH, .where = SET_GLOBAL | SET_FLAG,
	  .defstr = SPH_SOCKET_DIR, .off = O(socket_dir), .moff = NO_FIELD,
	  .woff = NO_FIELD, .arg = "DIR", .help = "Scope's plugin directory" },
	{ .name = "foreground", .short_flag = 'f', .type = ST_BOOL,
	  .where = SET_FLAG, .flag_value = 1, .off = O(foreground),
	  .moff = NO_FIELD, .woff = NO_FIELD,
	  .help = "stay in the foreground, log to stderr" },
	{ .name = "check", .type = ST_BOOL, .where = SET_FLAG | SET_WORKER,
	  .flag_value = 1, .off = O(check_mode), .moff = NO_FIELD,
	  .woff = W(check_mode), .help = "load every module, run one collect "
	  "each, validate the reports as Scope's probe would, print a verdict, "
	  "exit" },
	{ .name = "log-level", .type = ST_LEVEL,
	  .where = SET_GLOBAL | SET_FLAG | SET_WORKER, .def = LOG_INFO,
	  .off = O(log_level), .moff = NO_FIELD, .woff = W(log_level),
	  .arg = "LEVEL", .help = "err, warning, info or debug" },
	{ .name = "syslog", .type = ST_BOOL,
	  .where = SET_GLOBAL | SET_FLAG | SET_WORKER, .flag_value = 1,
	  .off = O(use_syslog), .moff = NO_FIELD, .woff = W(use_syslog),
	  .help = "log to syslog (the default when in the background)" },
	/*
	 * The probe gives a plugin 500 ms: every request is answered by the
	 * deadline (a 503 if the collect is not done), with room left for
	 * the reply to reach the probe; a collect or control still running
	 * at its module's deadline is stuck, not slow: the worker is killed.
	 * Interval modules collect in the background and may be given more.
	 */
	{ .name = "deadline", .type = ST_UINT,
	  .where = SET_GLOBAL | SET_MODULE | SET_FLAG, .min = 10,
	  .max = 3600000, .def = 400, .off = O(deadline_ms),
	  .moff = M(deadline_ms), .woff = NO_FIELD, .arg = "MS",
	  .help = "answer every request by then; kill a worker whose collect runs longer" },
	{ .name = "budget", .type = ST_UINT,
	  .where = SET_GLOBAL | SET_MODULE | SET_FLAG | SET_WORKER, .min = 0,
	  .max = 3600000, .def = 100, .off = O(budget_ms), .moff = M(budget_ms),
	  .woff = NO_FIELD, .arg = "MS",
	  .help = "warn when a collect takes longer" },
	{ .name = "param", .type = ST_PARAM,
	  .where = SET_GLOBAL | SET_MODULE | SET_FLAG | SET_WORKER,
	  .off = NO_FIELD, .moff = NO_FIELD, .woff = NO_FIELD,
	  .arg = "ID.KEY=VAL", .help = "parameter KEY for module ID, or for "
	  "every module when ID is * (repeatable)" },
	{ .name = "set", .type = ST_SET, .where = SET_FLAG, .off = NO_FIELD,
	  .moff = NO_FIELD, .woff = NO_FIELD, .arg = "ID.KEY=VAL",
	  .help = "per-module host setting KEY of module ID (repeatable):" },
	{ .name = "backoff-min", .type = ST_UINT, .where = SET_GLOBAL | SET_FLAG,
	  .min = 1, .max = 3600000, .def = 100, .off = O(backoff_min_ms),
	  .moff = NO_FIELD, .woff = NO_FIELD, .arg = "MS",
	  .help = "first restart delay after a crash" },
	{ .name = "backoff-max", .type = ST_UINT, .where = SET_GLOBAL | SET_FLAG,
	  .min = 1, .max = 86400000, .def = 30000, .off = O(backoff_max_ms),
	  .moff = NO_FIELD, .woff = NO_FIELD, .arg = "MS",
	  .help = "longest restart delay" },
	{ .name = "max-failures", .type = ST_UINT,
	  .where = SET_GLOBAL | SET_FLAG, .min = 0, .max = 1000000, .def = 10,
	  .off = O(max_failures), .moff = NO_FIELD, .woff = NO_FIELD,
	  .arg = "N", .help = "crashes in a row before a module is marked "
	  "failed", .def_note = "0 = never" },
	{ .name = "healthy-after", .type = ST_UINT,
	  .where = SET_GLOBAL | SET_FLAG, .min = 1, .max = 86400000,
	  .def = 60000, .off = O(healthy_ms), .moff = NO_FIELD,
	  .woff = NO_FIELD, .arg = "MS",
	  .help = "running this long resets the backoff" },
	{ .name = "stop-grace", .type = ST_UINT, .where = SET_GLOBAL | SET_FLAG,
	  .min = 1, .max = 600000, .def = 3000, .off = O(stop_grace_ms),
	  .moff = NO_FIELD, .woff = NO_FIELD, .arg = "MS",
	  .help = "SIGTERM to SIGKILL delay for workers" },
	{ .name = "start-timeout", .type = ST_UINT,
	  .where = SET_GLOBAL | SET_FLAG, .min = 100, .max = 600000,
	  .def = 10000, .off = O(start_timeout_ms), .moff = NO_FIELD,
	  .woff = NO_FIELD, .arg = "MS",
	  .help = "load + init must finish within" },
	{ .name = "rescan", .type = ST_UINT, .where = SET_GLOBAL | SET_FLAG,
	  .min = 100, .max = 86400000, .def = 30000, .off = O(rescan_ms),
	  .moff = NO_FIELD, .woff = NO_FIELD, .arg = "MS",
	  .help = "periodic rescan besides inotify; also checks for removed sockets "
	  "and every worker's memory" },
	{ .name = "settle", .type = ST_UINT, .where = SET_GLOBAL | SET_FLAG,
	  .min = 0, .max = 60000, .def = 300, .off = O(settle_ms),
	  .moff = NO_FIELD, .woff = NO_FIELD, .arg = "MS",
	  .help = "a module file must be unchanged this long" },
	{ .name = "memory-limit", .type = ST_UINT,
	  .where = SET_GLOBAL | SET_MODULE | SET_FLAG, .min = 0,
	  .max = 1048576, .def = 512, .off = O(memory_limit_mb),
	  .moff = M(memory_limit_mb), .woff = NO_FIELD, .arg = "MB",
	  .help = "kill a worker whose RSS exceeds this",
	  .def_note = "0 = no limit" },
	{ .name = "interval", .type = ST_UINT,
	  .where = SET_MODULE | SET_WORKER | SET_MODULE_DEFAULT, .min = 0,
	  .max = 86400000, .off = NO_FIELD, .moff = M(interval_ms),
	  .woff = NO_FIELD, .arg = "MS", .help = "collect in the background "
	  "this often (0: at each request)" },
	{ .name = "enabled", .type = ST_BOOL, .where = SET_MODULE, .def = 1,
	  .off = NO_FIELD, .moff = M(enabled), .woff = NO_FIELD,
	  .help = "0 keeps the module from being served" },
	{ .name = "version", .type = ST_ACTION, .where = SET_FLAG,
	  .off = NO_FIELD, .moff = NO_FIELD, .woff = NO_FIELD,
	  .help = "print the version and exit" },
	{ .name = "help", .short_flag = 'h', .type = ST_ACTION,
	  .where = SET_FLAG, .off = NO_FIELD, .moff = NO_FIELD,
	  .woff = NO_FIELD, .help = "print this help and exit" },
	{ .name = "worker", .type = ST_PATH, .where = SET_FLAG | SET_HIDDEN,
	  .off = O(worker), .moff = NO_FIELD, .woff = NO_FIELD },

	/* Hardening (docs/SECURITY.md). */
	{ .name = "user", .section = "Security (see docs/SECURITY.md):",
	  .type = ST_NAME, .where = SET_GLOBAL | SET_FLAG, .off = O(user),
	  .moff = NO_FIELD, .woff = NO_FIELD, .arg = "USER",
	  .help = "run workers (and so all module code) as USER, with its "
	  "groups; the supervisor stays root to manage the sockets (default: "
	  "workers run as the host does)" },
	{ .name = "socket-group", .type = ST_NAME, .where = SET_GLOBAL | SET_FLAG,
	  .off = O(socket_group), .moff = NO_FIELD, .woff = NO_FIELD,
	  .arg = "GROUP", .help = "sockets 0660 and their <id>/ dirs 0750, "
	  "group GROUP (default: the host's group; dirs 0755, sockets 0660; "
	  "the socket dir itself is created 0755)" },
	{ .name = "strict-modes", .flag = "no-strict-modes", .type = ST_BOOL,
	  .where = SET_GLOBAL | SET_FLAG, .def = 1, .flag_value = 0,
	  .off = O(strict_modes), .moff = NO_FIELD, .woff = NO_FIELD,
	  .help = "as root, also load modules that are not owned by root or "
	  "are group/other writable, or whose directory (or a parent) is "
	  "(default: refused, logged once)" },
	{ .name = "cgroups", .flag = "no-cgroups", .type = ST_BOOL,
	  .where = SET_GLOBAL | SET_FLAG, .def = 1, .flag_value = 0,
	  .off = O(cgroups), .moff = NO_FIELD, .woff = NO_FIELD,
	  .help = "do not put each worker, and what its module starts, in "
	  "a cgroup of its own (default: done where the host can create "
	  "one, cgroup v2; else process groups and an environment marker)" },
	{ .name = "allow-symlinks", .type = ST_BOOL,
	  .where = SET_GLOBAL | SET_FLAG, .flag_value = 1,
	  .off = O(allow_symlinks), .moff = NO_FIELD, .woff = NO_FIELD,
	  .help = "follow module symlinks that point outside the module "
	  "directory (default: refused; links inside are fine)" },
	{ .name = "max-conns", .type = ST_UINT, .where = SET_GLOBAL | SET_FLAG | SET_WORKER,
	  .min = 1, .max = 65536, .def = 128, .off = O(max_conns),
	  .moff = M(max_conns), .woff = NO_FIELD, .arg = "N",
	  .help = "connections per socket; at the limit the oldest idle (else "
	  "slowest incomplete) one is closed" },
	{ .name = "read-timeout", .type = ST_UINT, .where = SET_GLOBAL | SET_FLAG | SET_WORKER,
	  .min = 100, .max = 600000, .def = 5000, .off = O(read_timeout_ms),
	  .moff = M(read_timeout_ms), .woff = NO_FIELD, .arg = "MS",
	  .help = "a request must be complete this long after its first byte, "
	  "else 408 and close; also a silent new connection and a stalled "
	  "response write" },
	{ .name = "idle-timeout", .type = ST_UINT, .where = SET_GLOBAL | SET_FLAG | SET_WORKER,
	  .min = 100, .max = 86400000, .def = 60000, .off = O(idle_timeout_ms),
	  .moff = M(idle_timeout_ms), .woff = NO_FIELD, .arg = "MS",
	  .help = "close a kept-alive connection idle this long" },
};
const size_t settings_count = sizeof settings_table / sizeof settings_table[0];

/* The row a file key (or --set key) names, or NULL. */
const struct setting *
options_find(const char *name)
{
	size_t	i;

	for (i = 0; i < settings_count; i++)
		if (strcmp(settings_table[i].name, name) == 0)
			return &settings_table[i];
	return NULL;
}

static const char *
flag_name(const struct setting *s)
{
	return s->flag != NULL ? s->flag : s->name;
}

/* The value of an ST_UINT, ST_BOOL or ST_LEVEL field of o. */
static unsigned
field_get(const struct options *o, const struct setting *s)
{
	const char	*p = (const char *)o + s->off;

	return s->type == ST_UINT ? *(const unsigned *)p :
	    (unsigned)*(const int *)p;
}

/* Sets an ST_UINT, ST_BOOL or ST_LEVEL global setting. */
void
options_set(struct options *o, const struct setting *s, unsigned v)
{
	char	*p = (char *)o + s->off;

	if (s->type == ST_UINT)
		*(unsigned *)p = v;
	else
		*(int *)p = (int)v;
}

/*
 * Parses text as a value of s (ST_UINT or ST_LEVEL; ST_BOOL as 0 or 1)
 * into *v.  Returns 0, or -1 with *cause saying what was expected (the
 * caller adds where the value came from).
 */
int
options_value(const struct setting *s, const char *text, unsigned *v,
    char **cause)
{
	int	lvl;

	switch (s->type) {
	case ST_UINT:
		if (parse_uint(text, s->min, s->max, v) == 0)
			return 0;
		xasprintf(cause, "expected a number from %u to %u, got \"%s\"",
		    s->min, s->max, text);
		return -1;
	case ST_LEVEL:
		if ((lvl = log_level_parse(text)) >= 0) {
			*v = (unsigned)lvl;
			return 0;
		}
		xasprintf(cause, "expected err, warning, info or debug, got "
		    "\"%s\"", text);
		return -1;
	case ST_BOOL:
		if (parse_uint(text, 0, 1, v) == 0)
			return 0;
		xasprintf(cause, "expected 0 or 1, got \"%s\"", text);
		return -1;
	default:
		xasprintf(cause, "not a value setting");
		return -1;
	}
}

void
options_defaults(struct options *o)
{
	const struct setting	*s;
	size_t			 i;

	memset(o, 0, sizeof *o);
	for (i = 0; i < settings_count; i++) {
		s = &settings_table[i];
		if (s->off == NO_FIELD)
			continue;
		if (s->type == ST_PATH || s->type == ST_NAME)
			*(const char **)((char *)o + s->off) = s->defstr;
		else
			options_set(o, s, s->def);
	}
	o->socket_gid = (gid_t)-1;
}

/* Frees the parameter and override lists and the file's strings. */
void
options_free(struct options *o)
{
	size_t	i;

	for (i = 0; i < o->nparams; i++)
		free(o->params[i]);
	free(o->params);
	free(o->overrides);
	for (i = 0; i < o->nowned; i++)
		free(o->owned[i]);
	free(o->owned);
	free(o->user_groups);
	for (i = 0; i < o->nblocks; i++) {
		free(o->blocks[i].file);
		free(o->blocks[i].label);
		free(o->blocks[i].description);
		free(o->blocks[i].where);
		free(o->blocks[i].file_where);
	}
	free(o->blocks);
	o->params = o->owned = NULL;
	o->overrides = NULL;
	o->user_groups = NULL;
	o->blocks = NULL;
	o->nparams = o->noverrides = o->nowned = o->nblocks = 0;
}

/* Records setting s of module id (a module block, --set); last one wins. */
void
options_override(struct options *o, const char *id, const struct setting *s,
    unsigned value)
{
	struct module_override	*mo;

	o->overrides = xrealloc(o->overrides, (o->noverrides + 1) *
	    sizeof *o->overrides);
	mo = &o->overrides[o->noverrides++];
	snprintf(mo->id, sizeof mo->id, "%s", id);
	mo->s = s;
	mo->value = value;
}

/* A parameter name and value fit what the channel carries. */
int
options_param_check(const char *key, size_t keylen, const char *value,
    char **cause)
{
	if (keylen > PARAM_KEY_MAX) {
		xasprintf(cause, "param %.*s...: name longer than %d bytes", 32,
		    key, PARAM_KEY_MAX);
		return -1;
	}
	if (strlen(value) > PARAM_VALUE_MAX) {
		xasprintf(cause, "param %.*s: value longer than %d bytes",
		    (int)keylen, key, PARAM_VALUE_MAX);
		return -1;
	}
	return 0;
}

/* Appends the text of the --help column for s to f, wrapped. */
static void
usage_text(FILE *f, const struct setting *s)
{
	char		*text, *extra = NULL, *p, *word;
	size_t		 col = 23, i;

	if (s->type == ST_SET) {
		/* The keys a module block takes, from the table. */
		for (i = 0; i < settings_count; i++) {
			if ((settings_table[i].where & SET_MODULE) == 0 ||
			    settings_table[i].type == ST_PARAM)
				continue;
			p = extra;
			xasprintf(&extra, "%s%s%s", p != NULL ? p : "",
			    p != NULL ? ", " : " ", settings_table[i].name);
			free(p);
		}
		p = extra;
		xasprintf(&extra, "%s (enabled: 0 or 1)", p);
		free(p);
	} else if (s->type == ST_UINT)
		xasprintf(&extra, " (default %u%s%s)", s->def,
		    s->def_note != NULL ? "; " : "",
		    s->def_note != NULL ? s->def_note : "");
	else if (s->type == ST_LEVEL)
		xasprintf(&extra, " (default %s)", log_level_name((int)s->def));
	else if (s->type == ST_PATH && s->defstr != NULL)
		xasprintf(&extra, " (default %s)", s->defstr);
	/* The default stays on one line: its blanks are not break points. */
	for (p = extra; p != NULL && *p != '\0' && s->type != ST_SET; p++)
		if (*p == ' ' && p != extra)
			*p = '\1';
	xasprintf(&text, "%s%s", s->help, extra != NULL ? extra : "");
	free(extra);

	p = text;
	while ((word = strsep(&p, " ")) != NULL) {
		if (col > 23 && col + 1 + strlen(word) > 79) {
			fprintf(f, "\n%23s", "");
			col = 23;
		}
		if (col > 23) {
			fputc(' ', f);
			col++;
		}
		col += strlen(word);
		for (; *word != '\0'; word++)
			fputc(*word == '\1' ? ' ' : *word, f);
	}
	fputc('\n', f);
	free(text);
}

void
options_usage(FILE *f)
{
	const struct setting	*s;
	size_t			 i;
	int			 n;

	fprintf(f,
"usage: %s [options]\n"
"       %s status [--json] [--socket-dir DIR]\n"
"Serves every module (*.so) in the module directory as a Weave Scope plugin\n"
"on <socket-dir>/<id>/<id>.sock.\n"
"\n", HOST_NAME, HOST_NAME);
	for (i = 0; i < settings_count; i++) {
		s = &settings_table[i];
		if ((s->where & SET_FLAG) == 0 || (s->where & SET_HIDDEN))
			continue;
		if (s->section != NULL)
			fprintf(f, "\n%s\n", s->section);
		if (s->short_flag != 0)
			n = fprintf(f, "  -%c, --%s", s->short_flag, flag_name(s));
		else
			n = fprintf(f, "  --%s", flag_name(s));
		if (s->arg != NULL)
			n += fprintf(f, " %s", s->arg);
		if (n >= 23)
			fprintf(f, " ");
		else
			fprintf(f, "%*s", 23 - n, "");
		usage_text(f, s);
	}
	fprintf(f,
"  Fixed limits: request head %u KiB (431), request body %u KiB (413).\n"
"\n"
"The configuration file takes these settings by name (strict-modes no for\n"
"--no-strict-modes); a module block takes the per-module ones.\n"
"A module block with a file key serves that module again under the block's\n"
"id (an instance), with its own params and settings.\n"
"Signals: SIGHUP rereads the configuration file, rescans and retries failed\n"
"modules; SIGUSR1 logs every module's state; SIGTERM/SIGINT remove the\n"
"sockets and exit.\n"
"See scope-plugin-host(8), scope-plugin-host.conf(5) and scope-plugin(3).\n",
	    HTTP_MAX_HEAD / 1024, HTTP_MAX_BODY / 1024);
}

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

/* --param ID.KEY=VALUE: checked, then kept as it is. */
static int
parse_param(struct options *o, const char *arg, char **cause)
{
	const char	*dot = strchr(arg, '.'), *eq = strchr(arg, '=');
	char		*why;

	if (check_kv(arg, 1) != 0) {
		xasprintf(cause, "--param: expected ID.KEY=VALUE with a valid "
		    "module id, got \"%s\"", arg);
		return -1;
	}
	if (options_param_check(dot + 1, (size_t)(eq - dot - 1), eq + 1,
	    &why) != 0) {
		xasprintf(cause, "--param: %s", why);
		free(why);
		return -1;
	}
	push(&o->params, &o->nparams, arg);
	return 0;
}

/* --set ID.KEY=VALUE: a per-module setting of the table, in its range. */
static int
parse_set(struct options *o, const char *arg, char **cause)
{
	const struct setting	*s;
	const char		*dot = strchr(arg, '.'), *eq = strchr(arg, '=');
	char			 id[PLUGIN_ID_MAX + 1], *key, *why;
	unsigned		 v;

	if (check_kv(arg, 0) != 0) {
		xasprintf(cause, "--set: expected ID.KEY=VALUE with a valid "
		    "module id, got \"%s\"", arg);
		return -1;
	}
	memcpy(id, arg, (size_t)(dot - arg));
	id[dot - arg] = '\0';
	key = xstrdup(dot + 1);
	key[eq - dot - 1] = '\0';
	s = options_find(key);
	if (s == NULL || (s->where & SET_MODULE) == 0 || s->type == ST_PARAM) {
		xasprintf(cause, "--set %s: \"%s\" is not a per-module setting "
		    "(see --help)", arg, key);
		free(key);
		return -1;
	}
	free(key);
	if (options_value(s, eq + 1, &v, &why) != 0) {
		xasprintf(cause, "--set %s: %s", arg, why);
		free(why);
		return -1;
	}
	options_override(o, id, s, v);
	return 0;
}

/* One flag of the table with its argument (or NULL). */
static int
parse_flag(struct options *o, const struct setting *s, const char *arg,
    char **cause)
{
	char		*why;
	unsigned	 v;

	switch (s->type) {
	case ST_ACTION:
		if (strcmp(s->name, "version") == 0)
			printf("%s %s (module ABI %d.%d)\n", HOST_NAME,
			    PACKAGE_VERSION, SPH_ABI_MAJOR, SPH_ABI_MINOR);
		else
			options_usage(stdout);
		return 1;
	case ST_PATH:
	case ST_NAME:
		*(const char **)((char *)o + s->off) = arg;
		return 0;
	case ST_BOOL:
		options_set(o, s, s->flag_value);
		return 0;
	case ST_UINT:
	case ST_LEVEL:
		if (options_value(s, arg, &v, &why) != 0) {
			xasprintf(cause, "--%s: %s", flag_name(s), why);
			free(why);
			return -1;
		}
		options_set(o, s, v);
		return 0;
	case ST_PARAM:
		return parse_param(o, arg, cause);
	case ST_SET:
		return parse_set(o, arg, cause);
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
	struct option	 longopts[sizeof settings_table /
			     sizeof settings_table[0] + 1];
	const struct setting *s;
	size_t		 i, n = 0;
	int		 c, r;

	for (i = 0; i < settings_count; i++) {
		s = &settings_table[i];
		if ((s->where & SET_FLAG) == 0)
			continue;
		longopts[n].name = flag_name(s);
		longopts[n].has_arg = s->type == ST_BOOL ||
		    s->type == ST_ACTION ? no_argument : required_argument;
		longopts[n].flag = NULL;
		longopts[n++].val = 256 + (int)i;
	}
	memset(&longopts[n], 0, sizeof longopts[n]);

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "fh", longopts, NULL)) != -1) {
		s = NULL;
		if (c >= 256)
			s = &settings_table[c - 256];
		for (i = 0; i < settings_count && s == NULL; i++)
			if (c != 0 && settings_table[i].short_flag == c)
				s = &settings_table[i];
		if (s == NULL) {
			if (optopt != 0 && optopt < 256)
				xasprintf(cause, "unknown option -%c (see --help)",
				    optopt);
			else
				xasprintf(cause, "unknown or incomplete option %s "
				    "(see --help)", argv[optind - 1]);
			return -1;
		}
		if ((r = parse_flag(o, s, optarg, cause)) != 0)
			return r;
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
	*worker_path = (char *)o->worker;
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

/* The module block for id, or NULL. */
const struct module_block *
options_block(const struct options *o, const char *id)
{
	size_t	i;

	for (i = 0; i < o->nblocks; i++)
		if (strcmp(o->blocks[i].id, id) == 0)
			return &o->blocks[i];
	return NULL;
}

/* The ids of the instances of module file file, as "a, b", or NULL. */
char *
options_instances(const struct options *o, const char *file)
{
	char	*list = NULL, *old;
	size_t	 i;

	for (i = 0; i < o->nblocks; i++) {
		if (o->blocks[i].file == NULL ||
		    strcmp(o->blocks[i].file, file) != 0)
			continue;
		old = list;
		xasprintf(&list, "%s%s%s", old != NULL ? old : "",
		    old != NULL ? ", " : "", o->blocks[i].id);
		free(old);
	}
	return list;
}

/*
 * Calls fn(key, keylen, value, arg) once for each parameter that applies
 * to module id (its own, or one for every module), in the order the keys
 * first appear, with the value that wins.  Stops at the first non-zero
 * return of fn and returns it; 0 otherwise.
 */
int
options_each_param(const struct options *o, const char *id,
    int (*fn)(const char *, size_t, const char *, void *), void *arg)
{
	const char	*s, *t, *dot, *tdot, *eq;
	char		*key;
	size_t		 i, j, idlen = strlen(id), klen;
	int		 dup, r;

	for (i = 0; i < o->nparams; i++) {
		s = o->params[i];
		dot = strchr(s, '.');
		eq = strchr(s, '=');
		if (!((size_t)(dot - s) == idlen && strncmp(s, id, idlen) == 0) &&
		    !(dot - s == 1 && s[0] == '*'))
			continue;
		klen = (size_t)(eq - dot - 1);
		/* Each key once: later entries for it are in its value. */
		for (dup = 0, j = 0; j < i && !dup; j++) {
			t = o->params[j];
			tdot = strchr(t, '.');
			dup = ((size_t)(tdot - t) == idlen &&
			    strncmp(t, id, idlen) == 0) ||
			    (tdot - t == 1 && t[0] == '*');
			dup = dup && strncmp(tdot + 1, dot + 1, klen) == 0 &&
			    tdot[1 + klen] == '=';
		}
		if (dup)
			continue;
		key = xmalloc(klen + 1);
		memcpy(key, dot + 1, klen);
		key[klen] = '\0';
		r = fn(key, klen, options_lookup(o->params, o->nparams, id, key),
		    arg);
		free(key);
		if (r != 0)
			return r;
	}
	return 0;
}

/* The global settings a worker needs from its start (MSG_WORKER). */
void
options_worker(const struct options *o, struct worker_settings *ws)
{
	const struct setting	*s;
	size_t			 i;

	memset(ws, 0, sizeof *ws);
	for (i = 0; i < settings_count; i++) {
		s = &settings_table[i];
		if (s->woff != NO_FIELD)
			*(uint32_t *)((char *)ws + s->woff) = field_get(o, s);
	}
}

/*
 * Module id's settings (MSG_MODULE): its own from a module block or
 * --set, else the global ones, else the default; interval defaults to
 * what the module declares.  Unless set for the module, the deadline is
 * never shorter than its interval.
 */
void
options_module(const struct options *o, const char *id, unsigned interval_ms,
    struct module_settings *ms)
{
	const struct setting	*s;
	size_t			 i, j;
	unsigned		 v;
	int			 own_deadline = 0;

	memset(ms, 0, sizeof *ms);
	for (i = 0; i < settings_count; i++) {
		s = &settings_table[i];
		if (s->moff == NO_FIELD)
			continue;
		if (s->where & SET_MODULE_DEFAULT)
			v = interval_ms;
		else
			v = s->off != NO_FIELD ? field_get(o, s) : s->def;
		for (j = 0; j < o->noverrides; j++) {
			if (o->overrides[j].s != s ||
			    strcmp(o->overrides[j].id, id) != 0)
				continue;
			v = o->overrides[j].value;
			if (s->moff == M(deadline_ms))
				own_deadline = 1;
		}
		*(uint32_t *)((char *)ms + s->moff) = v;
	}
	/* Requests are answered by the deadline; an interval's longer
	 * background collect does not make them wait longer. */
	ms->reply_ms = ms->deadline_ms;
	if (!own_deadline && ms->interval_ms > ms->deadline_ms)
		ms->deadline_ms = ms->interval_ms;
}
