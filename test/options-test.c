/*
 * options-test.c - the settings table (options.c): every row parses from
 * the command line at the ends of its range and is refused just outside
 * with the flag and the range in the message; the configuration file and
 * the command line give the same values; defaults come from the table;
 * --help lists every flag and per-module key; workers get every setting
 * marked for them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "host.h"
#include "unit.h"

static const char *
flag_of(const struct setting *s)
{
	return s->flag != NULL ? s->flag : s->name;
}

static int
parse_args(struct options *o, char **cause, va_list ap)
{
	char	*argv[16], *worker = NULL;
	int	 argc = 0;

	argv[argc++] = "sph";
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	argv[argc] = NULL;
	*cause = NULL;
	options_defaults(o);
	return options_parse(o, argc, argv, &worker, cause);
}

/* options_parse() of defaults and the given arguments (NULL-terminated). */
static int
parse(struct options *o, char **cause, ...)
{
	va_list	 ap;
	int	 r;

	va_start(ap, cause);
	r = parse_args(o, cause, ap);
	va_end(ap);
	return r;
}

/* The arguments (NULL-terminated) must be refused with want in the error. */
static void
refused(const char *name, const char *want, ...)
{
	struct options	 o;
	char		*cause;
	va_list		 ap;
	int		 r;

	va_start(ap, want);
	r = parse_args(&o, &cause, ap);
	va_end(ap);
	options_free(&o);
	result(name, r == -1 && cause != NULL && strstr(cause, want) != NULL,
	    cause != NULL ? cause : "accepted");
	free(cause);
}

/* The configuration file text parsed into o. */
static int
parse_file(struct options *o, const char *text, char **first_error)
{
	FILE	*f;
	char	**errors;
	size_t	 n;
	int	 r;

	options_defaults(o);
	if ((f = fmemopen((void *)text, strlen(text), "r")) == NULL) {
		perror("fmemopen");
		exit(2);
	}
	r = config_parse_file(o, f, "t.conf", &errors, &n);
	fclose(f);
	*first_error = n > 0 ? xstrdup(errors[0]) : NULL;
	config_free_errors(errors, n);
	return r;
}

static unsigned
field(const struct options *o, const struct setting *s)
{
	const char	*p = (const char *)o + s->off;

	return s->type == ST_UINT ? *(const unsigned *)p :
	    (unsigned)*(const int *)p;
}

/* Defaults: every field is its row's default. */
static void
test_defaults(void)
{
	struct options		 o;
	const struct setting	*s;
	size_t			 i;
	char			 why[128];

	options_defaults(&o);
	for (i = 0; i < settings_count; i++) {
		s = &settings_table[i];
		if (s->off == NO_FIELD)
			continue;
		snprintf(why, sizeof why, "default of %s", s->name);
		if (s->type == ST_PATH || s->type == ST_NAME) {
			const char *v = *(const char **)((const char *)&o +
			    s->off);
			if ((v == NULL) != (s->defstr == NULL) ||
			    (v != NULL && strcmp(v, s->defstr) != 0))
				result("defaults", 0, why);
		} else if (field(&o, s) != s->def)
			result("defaults", 0, why);
	}
	result("defaults", o.deadline_ms == 400 && o.log_level == LOG_INFO &&
	    o.strict_modes == 1 && o.memory_limit_mb == 512 &&
	    strcmp(o.module_dir, SPH_MODULE_DIR) == 0, "spot check");
	options_free(&o);
}

/* Every numeric row: both ends accepted, just outside refused. */
static void
test_ranges(void)
{
	struct options		 o;
	const struct setting	*s;
	size_t			 i;
	char			 flag[64], lo[16], hi[16], out[16], *cause;
	char			 name[96], want[128];
	int			 ok;

	for (i = 0; i < settings_count; i++) {
		s = &settings_table[i];
		if (s->type != ST_UINT || (s->where & SET_FLAG) == 0)
			continue;
		snprintf(flag, sizeof flag, "--%s", flag_of(s));
		snprintf(lo, sizeof lo, "%u", s->min);
		snprintf(hi, sizeof hi, "%u", s->max);
		/* --backoff-min 1 first: a lower maximum would be raised. */
		ok = parse(&o, &cause, "--backoff-min", "1", flag, lo,
		    NULL) == 0 && field(&o, s) == s->min;
		options_free(&o);
		ok = ok && parse(&o, &cause, flag, hi, NULL) == 0 &&
		    field(&o, s) == s->max;
		options_free(&o);
		snprintf(name, sizeof name, "range-%s", s->name);
		result(name, ok, cause != NULL ? cause : "value differs");
		free(cause);

		/* One above the top, and one below the bottom if there is:
		 * the error names the flag, the range and the value. */
		snprintf(out, sizeof out, "%u", s->max + 1);
		snprintf(want, sizeof want, "--%s: expected a number from %u to "
		    "%u, got \"%s\"", flag_of(s), s->min, s->max, out);
		snprintf(name, sizeof name, "range-above-%s", s->name);
		refused(name, want, flag, out, NULL);
		if (s->min == 0)
			continue;
		snprintf(out, sizeof out, "%u", s->min - 1);
		snprintf(want, sizeof want, "--%s: expected a number from %u to "
		    "%u, got \"%s\"", flag_of(s), s->min, s->max, out);
		snprintf(name, sizeof name, "range-below-%s", s->name);
		refused(name, want, flag, out, NULL);
	}
}

/* The other kinds of flag. */
static void
test_flags(void)
{
	struct options		 o;
	const struct setting	*s;
	size_t			 i;
	char			 flag[64], name[96], *cause;
	int			 ok;

	for (i = 0; i < settings_count; i++) {
		s = &settings_table[i];
		if (s->type != ST_BOOL || (s->where & SET_FLAG) == 0)
			continue;
		snprintf(flag, sizeof flag, "--%s", flag_of(s));
		ok = parse(&o, &cause, flag, NULL) == 0 &&
		    field(&o, s) == s->flag_value && s->flag_value != s->def;
		options_free(&o);
		snprintf(name, sizeof name, "flag-%s", flag_of(s));
		result(name, ok, cause != NULL ? cause : "no effect");
		free(cause);
	}
	ok = parse(&o, &cause, "--log-level", "debug", NULL) == 0 &&
	    o.log_level == LOG_DEBUG;
	options_free(&o);
	ok = ok && parse(&o, &cause, "--log-level", "err", NULL) == 0 &&
	    o.log_level == LOG_ERR;
	options_free(&o);
	result("flag-log-level", ok, cause != NULL ? cause : "level differs");
	free(cause);
	refused("flag-log-level-bad", "--log-level: expected err, warning, "
	    "info or debug, got \"loud\"", "--log-level", "loud", NULL);
	ok = parse(&o, &cause, "--module-dir", "rel/mods", "-f", NULL) == 0 &&
	    strcmp(o.module_dir, "rel/mods") == 0 && o.foreground == 1;
	options_free(&o);
	result("flag-path-short", ok, cause != NULL ? cause : "differs");
	free(cause);
	ok = parse(&o, &cause, "--socket-group", "0", NULL) == 0 &&
	    o.socket_gid == 0;
	options_free(&o);
	result("flag-socket-group", ok, cause != NULL ? cause : "differs");
	free(cause);
	refused("flag-unknown", "--frobnicate", "--frobnicate", NULL);
	refused("flag-param-bad", "--param: expected ID.KEY=VALUE",
	    "--param", "nokey=1", NULL);
	refused("flag-config-and-no-config", "exclude each other",
	    "--config", "/x.conf", "--no-config", NULL);
	ok = parse(&o, &cause, "--worker", "/x.so", NULL) == 0 &&
	    strcmp(o.worker, "/x.so") == 0;
	options_free(&o);
	result("flag-worker", ok, cause != NULL ? cause : "differs");
	free(cause);
}

/* --set: per-module keys only, each in its own range. */
static void
test_set(void)
{
	struct module_settings	 ms;
	struct options		 o;
	char			*cause;
	int			 ok;

	ok = parse(&o, &cause, "--set", "m.interval=0", "--set",
	    "m.deadline=20", "--set", "m.enabled=0", NULL) == 0;
	options_module(&o, "m", 5000, &ms);
	ok = ok && ms.interval_ms == 0 && ms.deadline_ms == 20 &&
	    ms.enabled == 0;
	options_module(&o, "other", 5000, &ms);
	ok = ok && ms.interval_ms == 5000 && ms.deadline_ms == 5000 &&
	    ms.enabled == 1;
	options_free(&o);
	result("set", ok, cause != NULL ? cause : "settings differ");
	free(cause);

	refused("set-range", "--set m.deadline=5: expected a number from 10 "
	    "to 3600000, got \"5\"", "--set", "m.deadline=5", NULL);
	refused("set-global-key", "\"rescan\" is not a per-module setting",
	    "--set", "m.rescan=500", NULL);
	refused("set-unknown-key", "\"bogus\" is not a per-module setting",
	    "--set", "m.bogus=1", NULL);
	refused("set-enabled-bool", "expected 0 or 1", "--set", "m.enabled=yes",
	    NULL);
	refused("set-star", "--set: expected ID.KEY=VALUE", "--set",
	    "*.deadline=50", NULL);
}

/*
 * The file and the command line agree: every global numeric key gives
 * the same value as its flag, every per-module key the same as --set,
 * and a range error names the setting and the range in both.
 */
static void
test_file_agrees(void)
{
	struct module_settings	 fm, cm;
	struct options		 fo, co;
	const struct setting	*s;
	size_t			 i;
	char			 text[256], flag[64], arg[96], val[16];
	char			 name[96], *cause, *err, *fwhy, *cwhy;
	unsigned		 v;
	int			 ok;

	for (i = 0; i < settings_count; i++) {
		s = &settings_table[i];
		if (s->type != ST_UINT)
			continue;
		/* A value inside the range that is no default. */
		v = s->max > s->min + 1 ? s->min + 1 : s->max;
		snprintf(val, sizeof val, "%u", v);
		if (s->where & SET_GLOBAL) {
			snprintf(text, sizeof text, "%s %u\n", s->name, v);
			snprintf(flag, sizeof flag, "--%s", flag_of(s));
			ok = parse_file(&fo, text, &err) == 0 &&
			    parse(&co, &cause, "--backoff-min", "1", flag, val,
			    NULL) == 0 &&
			    field(&fo, s) == v && field(&co, s) == v;
			snprintf(name, sizeof name, "file-agrees-%s", s->name);
			result(name, ok, err != NULL ? err : cause != NULL ?
			    cause : "values differ");
			free(err);
			free(cause);
			options_free(&fo);
			options_free(&co);

			/* The same complaint, prefixed by where it came from. */
			snprintf(text, sizeof text, "%s %u\n", s->name, s->max + 1);
			snprintf(val, sizeof val, "%u", s->max + 1);
			parse_file(&fo, text, &err);
			parse(&co, &cause, flag, val, NULL);
			fwhy = err != NULL ? strstr(err, ": expected") : NULL;
			cwhy = cause != NULL ? strstr(cause, ": expected") : NULL;
			snprintf(arg, sizeof arg, "t.conf:1: %s: ", s->name);
			ok = fwhy != NULL && cwhy != NULL &&
			    strcmp(fwhy, cwhy) == 0 &&
			    strncmp(err, arg, strlen(arg)) == 0 &&
			    strncmp(cause, flag, strlen(flag)) == 0;
			snprintf(name, sizeof name, "file-error-agrees-%s",
			    s->name);
			result(name, ok, err != NULL ? err : "no error");
			free(err);
			free(cause);
			options_free(&fo);
			options_free(&co);
			snprintf(val, sizeof val, "%u", v);
		}
		if (s->where & SET_MODULE) {
			snprintf(text, sizeof text, "module m {\n%s %u\n}\n",
			    s->name, v);
			snprintf(arg, sizeof arg, "m.%s=%u", s->name, v);
			ok = parse_file(&fo, text, &err) == 0 &&
			    parse(&co, &cause, "--set", arg, NULL) == 0;
			options_module(&fo, "m", 77, &fm);
			options_module(&co, "m", 77, &cm);
			ok = ok && memcmp(&fm, &cm, sizeof fm) == 0 &&
			    *(uint32_t *)((char *)&fm + s->moff) == v;
			snprintf(name, sizeof name, "block-agrees-%s", s->name);
			result(name, ok, err != NULL ? err : cause != NULL ?
			    cause : "values differ");
			free(err);
			free(cause);
			options_free(&fo);
			options_free(&co);
		}
	}
}

/* --help names every flag, every per-module key and the defaults. */
static void
test_usage(void)
{
	const struct setting	*s;
	char			*text = NULL, want[96];
	size_t			 size = 0, i;
	FILE			*f;
	int			 ok = 1;

	if ((f = open_memstream(&text, &size)) == NULL) {
		perror("open_memstream");
		exit(2);
	}
	options_usage(f);
	fclose(f);
	for (i = 0; i < settings_count; i++) {
		s = &settings_table[i];
		if ((s->where & SET_FLAG) && !(s->where & SET_HIDDEN)) {
			/* The flag, then its argument, then the text. */
			snprintf(want, sizeof want, "--%s%s%s ", flag_of(s),
			    s->arg != NULL ? " " : "", s->arg != NULL ?
			    s->arg : "");
			if (strstr(text, want) == NULL) {
				result("usage-flag", 0, want);
				ok = 0;
			}
		}
		snprintf(want, sizeof want, "--%s", flag_of(s));
		if ((s->where & SET_HIDDEN) && strstr(text, want) != NULL) {
			result("usage-hidden", 0, s->name);
			ok = 0;
		}
		if ((s->where & SET_MODULE) && s->type != ST_PARAM &&
		    !(s->where & SET_FLAG)) {
			snprintf(want, sizeof want, " %s", s->name);
			if (strstr(text, want) == NULL) {
				result("usage-module-key", 0, s->name);
				ok = 0;
			}
		}
		if (s->type == ST_UINT && (s->where & SET_FLAG)) {
			snprintf(want, sizeof want, "(default %u", s->def);
			if (strstr(text, want) == NULL) {
				result("usage-default", 0, s->name);
				ok = 0;
			}
		}
	}
	result("usage", ok, "see above");
	free(text);
}

/* What the table marks for workers reaches them. */
static void
test_worker(void)
{
	struct worker_settings	 ws;
	struct module_settings	 ms;
	struct options		 o;
	const struct setting	*s;
	size_t			 i;
	int			 ok = 1;
	char			*cause;

	for (i = 0; i < settings_count; i++) {
		s = &settings_table[i];
		if ((s->where & SET_WORKER) && s->woff == NO_FIELD &&
		    s->moff == NO_FIELD && s->type != ST_PARAM) {
			result("worker-row", 0, s->name);
			ok = 0;
		}
	}
	result("worker-rows", ok, "a row for workers has no field");
	ok = parse(&o, &cause, "--log-level", "debug", "--syslog", "--check",
	    "--max-conns", "9", "--budget", "7", NULL) == 0;
	options_worker(&o, &ws);
	options_module(&o, "m", 0, &ms);
	result("worker-settings", ok && ws.log_level == LOG_DEBUG &&
	    ws.use_syslog == 1 && ws.check_mode == 1 && ms.max_conns == 9 &&
	    ms.budget_ms == 7 && ms.read_timeout_ms == 5000, "differ");
	options_free(&o);
	free(cause);
}

int
main(void)
{
	test_defaults();
	test_ranges();
	test_flags();
	test_set();
	test_file_agrees();
	test_usage();
	test_worker();
	return unit_summary();
}
