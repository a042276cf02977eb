/*
 * config-test.c - cases for the configuration file parser (config.c):
 * every error class with its exact file:line, global keys, module blocks,
 * params, the "*" fallback, and flags overriding the file.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"
#include "unit.h"

/* Parses len bytes of text as file "t.conf"; errors joined with '\n'. */
static int
parse(struct options *o, const char *text, size_t len, char **joined)
{
	FILE	*f;
	char	**errors;
	size_t	 n, i, size = 1;
	int	 r;

	options_defaults(o);
	if ((f = fmemopen((void *)text, len, "r")) == NULL) {
		perror("fmemopen");
		exit(2);
	}
	r = config_parse_file(o, f, "t.conf", &errors, &n);
	fclose(f);
	for (i = 0; i < n; i++)
		size += strlen(errors[i]) + 1;
	*joined = xcalloc(1, size);
	for (i = 0; i < n; i++) {
		if (i > 0)
			strcat(*joined, "\n");
		strcat(*joined, errors[i]);
	}
	config_free_errors(errors, n);
	return r;
}

struct ecase {
	const char	*name;
	const char	*text;
	const char	*want;	/* every error, joined with '\n' */
};

static const struct ecase error_cases[] = {
	{ "unknown-key", "deadline 200\nfrobnicate 1\n",
	  "t.conf:2: unknown key \"frobnicate\"" },
	{ "key-case-sensitive", "\n\nDeadline 200\n",
	  "t.conf:3: unknown key \"Deadline\"" },
	{ "user-not-a-name", "user sc ope\n",
	  "t.conf:1: user: expected a user or group name, got \"sc ope\"" },
	{ "socket-group-in-block", "# c\nmodule a {\nsocket-group scope\n}\n",
	  "t.conf:3: \"socket-group\" is a global setting, not allowed in a "
	  "module block" },
	{ "strict-modes-bool", "strict-modes maybe\n",
	  "t.conf:1: strict-modes: expected yes or no, got \"maybe\"" },
	{ "global-in-block", "module a {\n  module-dir /x\n}\n",
	  "t.conf:2: \"module-dir\" is a global setting, not allowed in a "
	  "module block" },
	{ "module-key-global", "interval 100\nenabled no\n",
	  "t.conf:1: \"interval\" is allowed only in a module block\n"
	  "t.conf:2: \"enabled\" is allowed only in a module block" },
	{ "missing-value", "budget\n  deadline   \t\n",
	  "t.conf:1: \"budget\" needs a value\n"
	  "t.conf:2: \"deadline\" needs a value" },
	{ "missing-value-block", "module a {\ninterval\n}\n",
	  "t.conf:2: \"interval\" needs a value" },
	{ "not-a-number", "deadline 1s\n",
	  "t.conf:1: deadline: expected a number from 10 to 3600000, got \"1s\"" },
	{ "number-then-comment", "budget 5 # five\n",
	  "t.conf:1: budget: expected a number from 0 to 3600000, got "
	  "\"5 # five\"" },
	{ "below-range", "deadline 9\n",
	  "t.conf:1: deadline: expected a number from 10 to 3600000, got \"9\"" },
	{ "above-range", "memory-limit 1048577\n",
	  "t.conf:1: memory-limit: expected a number from 0 to 1048576, got "
	  "\"1048577\"" },
	{ "range-in-block", "module a {\n  deadline 3600001\n}\n",
	  "t.conf:2: deadline: expected a number from 10 to 3600000, got "
	  "\"3600001\"" },
	{ "negative", "settle -1\n",
	  "t.conf:1: settle: expected a number from 0 to 60000, got \"-1\"" },
	{ "rescan-min", "rescan 99\n",
	  "t.conf:1: rescan: expected a number from 100 to 86400000, got "
	  "\"99\"" },
	{ "bad-bool", "syslog true\n",
	  "t.conf:1: syslog: expected yes or no, got \"true\"" },
	{ "bad-level", "log-level loud\n",
	  "t.conf:1: log-level: expected err, warning, info or debug, got "
	  "\"loud\"" },
	{ "relative-path", "module-dir lib/modules\n",
	  "t.conf:1: module-dir: expected an absolute path, got \"lib/modules\"" },
	{ "duplicate-global", "deadline 100\n# x\ndeadline 200\n",
	  "t.conf:3: \"deadline\" given twice in the same global scope (first "
	  "on line 1)" },
	{ "duplicate-in-block", "module a {\nbudget 1\nbudget 2\n}\n",
	  "t.conf:3: \"budget\" given twice in the same module block (first on "
	  "line 2)" },
	{ "duplicate-param", "param x 1\nparam x 2\nmodule a {\nparam x 3\n"
	  "param x 4\n}\n",
	  "t.conf:2: param \"x\" given twice in the same global scope (first on "
	  "line 1)\n"
	  "t.conf:5: param \"x\" given twice in the same module block (first on "
	  "line 4)" },
	{ "param-no-name", "param\n", "t.conf:1: param needs a name and a value" },
	{ "param-bad-name", "param a=b c\n",
	  "t.conf:1: invalid param name \"a=b\" (letters, digits, \"_\", \"-\" "
	  "and \".\")" },
	{ "invalid-id", "module a_b {\n}\nmodule -a {\n}\nmodule a--b {\n}\n",
	  "t.conf:1: invalid module id \"a_b\" (ASCII letters and digits in runs "
	  "separated by single dashes, at most 64)\n"
	  "t.conf:3: invalid module id \"-a\" (ASCII letters and digits in runs "
	  "separated by single dashes, at most 64)\n"
	  "t.conf:5: invalid module id \"a--b\" (ASCII letters and digits in "
	  "runs separated by single dashes, at most 64)" },
	{ "id-too-long", "module "
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa {\n}\n",
	  "t.conf:1: invalid module id "
	  "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" "
	  "(ASCII letters and digits in runs separated by single dashes, at "
	  "most 64)" },
	{ "duplicate-block", "module a {\n}\n\nmodule a {\n}\n",
	  "t.conf:4: second block for module \"a\" (first on line 1)" },
	{ "module-no-id", "module\n", "t.conf:1: module needs an id and \"{\"" },
	{ "module-no-brace", "module a\n  interval 100\n}\n",
	  "t.conf:1: expected \"{\" after the module id" },
	{ "module-glued-brace", "module a{\n}\n",
	  "t.conf:1: put a blank between the module id and \"{\"" },
	{ "module-trailing", "module a { interval 5\n}\n",
	  "t.conf:1: expected only \"{\" after the module id, got "
	  "\"{ interval 5\"" },
	{ "nested-block", "module a {\nmodule b {\n}\n}\n",
	  "t.conf:2: module block inside the block opened on line 1 (blocks do "
	  "not nest)" },
	{ "close-without-block", "deadline 100\n}\n",
	  "t.conf:2: \"}\" without a module block" },
	{ "close-not-alone", "module a {\n} x\n}\n",
	  "t.conf:2: \"}\" must be alone on its line" },
	{ "unclosed-block", "# c\nmodule a {\n  interval 100\n\n",
	  "t.conf:2: module block not closed at the end of the file" },
	{ "unclosed-nested", "module a {\nmodule b {\n}\n",
	  "t.conf:2: module block inside the block opened on line 1 (blocks do "
	  "not nest)\n"
	  "t.conf:1: module block not closed at the end of the file" },
	/* Module instances (file, label, description). */
	{ "file-outside-block", "file exec.so\nlabel X\ndescription Y\n",
	  "t.conf:1: \"file\" is allowed only in a module block\n"
	  "t.conf:2: \"label\" is allowed only in a module block\n"
	  "t.conf:3: \"description\" is allowed only in a module block" },
	{ "file-bad-name", "module a {\nfile ../x.so\n}\nmodule b {\n"
	  "file exec\n}\nmodule c {\nfile .so\n}\nmodule d {\nfile\n}\n",
	  "t.conf:2: file: expected the name of a module in the module "
	  "directory (NAME.so, no \"/\"), got \"../x.so\"\n"
	  "t.conf:5: file: expected the name of a module in the module "
	  "directory (NAME.so, no \"/\"), got \"exec\"\n"
	  "t.conf:8: file: expected the name of a module in the module "
	  "directory (NAME.so, no \"/\"), got \".so\"\n"
	  "t.conf:11: \"file\" needs a value" },
	{ "file-twice", "module a {\nfile x.so\nfile y.so\n}\n",
	  "t.conf:3: \"file\" given twice in the same module block (first on "
	  "line 2)" },
	{ "label-empty-and-bad-utf8", "module a {\nlabel\n}\nmodule b {\n"
	  "label \xc3\x28\ndescription \xff\n}\n",
	  "t.conf:2: \"label\" needs a value\n"
	  "t.conf:5: label: not valid UTF-8\n"
	  "t.conf:6: description: not valid UTF-8" },
	{ "instance-bad-id", "module exec_1 {\nfile exec.so\n}\n",
	  "t.conf:1: invalid module id \"exec_1\" (ASCII letters and digits in "
	  "runs separated by single dashes, at most 64)" },
	{ "instance-and-plain-block", "module ntp {\ndeadline 100\n}\n"
	  "module ntp {\nfile exec.so\n}\n",
	  "t.conf:4: second block for module \"ntp\" (first on line 1)" },
	{ "many-errors", "a 1\nb 2\nmodule x {\nc 3\n}\nd 4\n",
	  "t.conf:1: unknown key \"a\"\nt.conf:2: unknown key \"b\"\n"
	  "t.conf:4: unknown key \"c\"\nt.conf:6: unknown key \"d\"" },
};

static void
test_errors(void)
{
	struct options	 o;
	size_t		 i;
	char		*got, *why;
	int		 r;

	for (i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
		const struct ecase *c = &error_cases[i];

		r = parse(&o, c->text, strlen(c->text), &got);
		xasprintf(&why, "want\n%s\ngot (r=%d)\n%s", c->want, r, got);
		result(c->name, r == -1 && strcmp(got, c->want) == 0, why);
		free(why);
		free(got);
		options_free(&o);
	}
}

/* Errors that need bytes strlen() cannot carry, or long lines. */
static void
test_raw_errors(void)
{
	struct options	 o;
	char		*got, *text;
	size_t		 len;
	int		 r;

	r = parse(&o, "deadline 100\nbud\0get 5\nbudget 6\n", 32, &got);
	result("nul-byte", r == -1 &&
	    strcmp(got, "t.conf:2: NUL byte in the line") == 0 &&
	    o.budget_ms == 6, got);
	free(got);
	options_free(&o);

	/* 4095 bytes are fine, 4096 are not; the next line still counts. */
	len = 4096 + 1 + 4095 + 1 + 12;
	text = xmalloc(len + 1);
	memset(text, ' ', 4096);
	text[4096] = '\n';
	memset(text + 4097, ' ', 4095);
	text[4097 + 4095] = '\n';
	memcpy(text + 4097 + 4096, "budget 7 x\n", 12);
	memcpy(text, "# ", 2);
	memcpy(text + 4097, "# ", 2);
	r = parse(&o, text, len - 1, &got);
	result("long-line", r == -1 && strcmp(got,
	    "t.conf:1: line longer than 4095 bytes\n"
	    "t.conf:3: budget: expected a number from 0 to 3600000, got "
	    "\"7 x\"") == 0, got);
	free(got);
	free(text);
	options_free(&o);

	r = parse(&o, "", 0, &got);
	result("empty-file", r == 0 && *got == '\0', got);
	free(got);
	options_free(&o);
}

static void
test_values(void)
{
	struct module_settings ms;
	struct options	 o;
	char		*got;
	const char	*v;
	int		 r;
	static const char text[] =
	    "# a comment\n"
	    "   # an indented comment\n"
	    "\n"
	    "module-dir /opt/mods  \n"
	    "socket-dir\t/run/scope/plugins\n"
	    "log-level debug\n"
	    "syslog yes\n"
	    "deadline 250\n"
	    "budget 0\n"
	    "start-timeout 100\n"
	    "backoff-min 20\n"
	    "backoff-max 40\n"
	    "max-failures 0\n"
	    "healthy-after 1000\n"
	    "stop-grace 600000\n"
	    "rescan 100\n"
	    "settle 60000\n"
	    "memory-limit 0\n"
	    "param proc_root /host/proc\n"
	    "param empty\n"
	    "param spaced  a b  c  \n"
	    "module fx-good {\n"
	    "    interval 0\n"
	    "    deadline 5000\n"
	    "    budget 300\n"
	    "    memory-limit 64\n"
	    "    enabled no\n"
	    "    param proc_root /other/proc\n"
	    "    param deadline 1\n"
	    "}\n"
	    "module B2 {\n"
	    "}\n"
	    "module c {\n"
	    "    enabled yes\n"
	    "    param spaced x\n"
	    "}\n"
	    "module ntp {\n"
	    "    file exec.so\n"
	    "    label Clock offset\n"
	    "    description\n"
	    "    interval 2000\n"
	    "    param command chronyc tracking\n"
	    "}\n"
	    "module d2 {\n"
	    "    label Relabelled\n"
	    "}\n";
	const struct module_block *b;
	char		*list;

	r = parse(&o, text, sizeof text - 1, &got);
	result("valid-file", r == 0, got);
	free(got);
	result("global-paths", strcmp(o.module_dir, "/opt/mods") == 0 &&
	    strcmp(o.socket_dir, "/run/scope/plugins") == 0, o.module_dir);
	result("global-bool-level", o.use_syslog == 1 && o.log_level == 7,
	    "syslog/log-level");
	result("global-numbers", o.deadline_ms == 250 && o.budget_ms == 0 &&
	    o.start_timeout_ms == 100 && o.backoff_min_ms == 20 &&
	    o.backoff_max_ms == 40 && o.max_failures == 0 &&
	    o.healthy_ms == 1000 && o.stop_grace_ms == 600000 &&
	    o.rescan_ms == 100 && o.settle_ms == 60000 &&
	    o.memory_limit_mb == 0, "a number differs");
	options_module(&o, "fx-good", 1234, &ms);
	result("block-settings", o.noverrides == 7 && ms.interval_ms == 0 &&
	    ms.deadline_ms == 5000 && ms.budget_ms == 300 &&
	    ms.memory_limit_mb == 64 && ms.enabled == 0, "fx-good");
	options_module(&o, "c", 0, &ms);
	result("block-enabled", ms.enabled == 1 && ms.deadline_ms == 250 &&
	    ms.budget_ms == 0 && ms.memory_limit_mb == 0, "c");
	/* No block: the globals, the module's own interval, and a deadline
	 * no shorter than that interval. */
	options_module(&o, "B2", 1234, &ms);
	result("module-defaults", ms.enabled == 1 && ms.interval_ms == 1234 &&
	    ms.deadline_ms == 1234 && ms.budget_ms == 0 &&
	    ms.max_conns == 128 && ms.read_timeout_ms == 5000 &&
	    ms.idle_timeout_ms == 60000, "B2");

	v = options_lookup(o.params, o.nparams, "fx-good", "proc_root");
	result("block-param-wins", v != NULL && strcmp(v, "/other/proc") == 0,
	    v != NULL ? v : "(null)");
	v = options_lookup(o.params, o.nparams, "B2", "proc_root");
	result("global-param-fallback", v != NULL &&
	    strcmp(v, "/host/proc") == 0, v != NULL ? v : "(null)");
	v = options_lookup(o.params, o.nparams, "B2", "empty");
	result("param-empty-value", v != NULL && *v == '\0',
	    v != NULL ? v : "(null)");
	v = options_lookup(o.params, o.nparams, "B2", "spaced");
	result("param-value-blanks", v != NULL && strcmp(v, "a b  c") == 0,
	    v != NULL ? v : "(null)");
	v = options_lookup(o.params, o.nparams, "c", "spaced");
	result("param-block-over-global", v != NULL && strcmp(v, "x") == 0,
	    v != NULL ? v : "(null)");
	v = options_lookup(o.params, o.nparams, "fx-good", "deadline");
	options_module(&o, "fx-good", 0, &ms);
	result("param-named-like-key", v != NULL && strcmp(v, "1") == 0 &&
	    ms.deadline_ms == 5000, "param and setting mixed up");
	v = options_lookup(o.params, o.nparams, "B2", "nope");
	result("param-absent", v == NULL, v);

	b = options_block(&o, "ntp");
	result("instance-block", o.nblocks == 5 && b != NULL &&
	    b->file != NULL && strcmp(b->file, "exec.so") == 0 &&
	    strcmp(b->label, "Clock offset") == 0 &&
	    b->description != NULL && *b->description == '\0' &&
	    strcmp(b->where, "t.conf:37") == 0 &&
	    strcmp(b->file_where, "t.conf:38") == 0, "ntp");
	options_module(&o, "ntp", 5000, &ms);
	v = options_lookup(o.params, o.nparams, "ntp", "command");
	result("instance-settings", ms.interval_ms == 2000 && v != NULL &&
	    strcmp(v, "chronyc tracking") == 0, "ntp's interval or param");
	b = options_block(&o, "d2");
	result("plain-block-label", b != NULL && b->file == NULL &&
	    strcmp(b->label, "Relabelled") == 0 && b->description == NULL,
	    "d2");
	list = options_instances(&o, "exec.so");
	result("instances-of-file", list != NULL && strcmp(list, "ntp") == 0 &&
	    options_instances(&o, "good.so") == NULL, list);
	free(list);
	options_free(&o);
}

/* Writes text to a temporary file; returns its malloc'd name. */
static char *
temp_conf(const char *text)
{
	char	*path;
	FILE	*f;
	int	 fd;

	path = xstrdup("/tmp/config-test.XXXXXX");
	if ((fd = mkstemp(path)) == -1 || (f = fdopen(fd, "w")) == NULL) {
		perror("mkstemp");
		exit(2);
	}
	fputs(text, f);
	fclose(f);
	return path;
}

/* defaults, first options_parse, config_setup: what main() does. */
static int
setup(struct options *o, char **argv)
{
	char	*worker = NULL, *cause = NULL;
	int	 argc = 0;

	while (argv[argc] != NULL)
		argc++;
	options_defaults(o);
	if (options_parse(o, argc, argv, &worker, &cause) != 0) {
		printf("     options_parse: %s\n", cause);
		free(cause);
		return -2;
	}
	return config_setup(o, argc, argv);
}

/*
 * The parameters channel_send_module() sends module id, as "key=value\n"
 * lines, equal to want.
 */
static int
sent_params(const struct options *o, const char *id, const char *want)
{
	struct module_settings	 ms;
	struct msg		 m;
	char			 got[1024] = "", *cause = NULL;
	char			 line[PARAM_KEY_MAX + PARAM_VALUE_MAX + 3];
	int			 sp[2], ok;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) != 0) {
		perror("socketpair");
		exit(2);
	}
	options_module(o, id, 0, &ms);
	if (channel_send_module(sp[0], o, identity(id), &ms, &cause) != 0) {
		printf("     %s\n", cause);
		free(cause);
		return 0;
	}
	if (channel_recv(sp[1], &m) != 1 || m.hdr.type != MSG_IDENTITY ||
	    strcmp(m.u.identity.id, id) != 0) {
		printf("     no identity first\n");
		return 0;
	}
	while (channel_recv(sp[1], &m) == 1 && m.hdr.type == MSG_PARAM) {
		snprintf(line, sizeof line, "%s=%s\n", m.u.param.key,
		    m.u.param.value);
		strncat(got, line, sizeof got - strlen(got) - 1);
	}
	ok = m.hdr.type == MSG_MODULE && strcmp(got, want) == 0;
	if (!ok)
		printf("     got \"%s\"\n", got);
	close(sp[0]);
	close(sp[1]);
	return ok;
}

static void
test_precedence(void)
{
	struct module_settings ms;
	struct options	 o;
	char		*path;
	const char	*v;
	int		 r;

	path = temp_conf("deadline 2000\nbudget 50\nsettle 10\n"
	    "param p file\nparam q file-global\n"
	    "module m1 {\n  deadline 3000\n  param p block\n}\n");
	{
		char *argv[] = { "sph", "--config", path, "--deadline", "400",
		    "--param", "m1.p=flag", "--set", "m1.deadline=4000", NULL };

		r = setup(&o, argv);
		result("setup-ok", r == 0, "config_setup failed");
		result("flag-over-global", o.deadline_ms == 400 &&
		    o.budget_ms == 50 && o.settle_ms == 10, "deadline/budget");
		v = options_lookup(o.params, o.nparams, "m1", "p");
		result("flag-param-over-block", v != NULL &&
		    strcmp(v, "flag") == 0, v != NULL ? v : "(null)");
		v = options_lookup(o.params, o.nparams, "m2", "q");
		result("global-param-kept", v != NULL &&
		    strcmp(v, "file-global") == 0, v != NULL ? v : "(null)");
		options_module(&o, "m1", 0, &ms);
		result("flag-set-over-block", ms.deadline_ms == 4000,
		    "m1.deadline");

		/* Workers get their parameters over the channel. */
		result("worker-params-m1", sent_params(&o, "m1",
		    "p=flag\nq=file-global\n"), "m1");
		result("worker-params-m2", sent_params(&o, "m2",
		    "p=file\nq=file-global\n"), "m2");
		options_free(&o);
	}
	{
		char *argv[] = { "sph", "--no-config", NULL };

		r = setup(&o, argv);
		result("no-config", r == 0 && o.deadline_ms == 400 &&
		    o.nparams == 0, "defaults expected");
		options_free(&o);
	}
	{
		char *argv[] = { "sph", "--config", path, "--no-config", NULL };

		r = setup(&o, argv);
		result("config-and-no-config", r == -2, "accepted both");
		options_free(&o);
	}
	{
		char *argv[] = { "sph", "--param", "*.k=v", "--param", "a.k=w",
		    "--no-config", NULL };

		r = setup(&o, argv);
		v = options_lookup(o.params, o.nparams, "b", "k");
		result("star-param-flag", r == 0 && v != NULL &&
		    strcmp(v, "v") == 0 && strcmp(options_lookup(o.params,
		    o.nparams, "a", "k"), "w") == 0, "* fallback");
		options_free(&o);
	}
	{
		char *argv[] = { "sph", "--set", "*.deadline=5", "--no-config",
		    NULL };

		r = setup(&o, argv);
		result("star-set-refused", r == -2, "--set accepted *");
		options_free(&o);
	}
	unlink(path);
	free(path);

	path = temp_conf("deadline 1\n");
	{
		char *argv[] = { "sph", "--config", path, "--deadline", "400",
		    NULL };

		/* A flag does not excuse an error in the file. */
		r = setup(&o, argv);
		result("bad-file-fails", r == -1, "bad file accepted");
		options_free(&o);
	}
	unlink(path);
	free(path);
	{
		char *argv[] = { "sph", "--config", "/nonexistent/x.conf", NULL };

		r = setup(&o, argv);
		result("missing-config-fails", r == -1, "missing file accepted");
		options_free(&o);
	}
}

/* Rewrites the file at path with text. */
static void
rewrite(const char *path, const char *text)
{
	FILE	*f;

	if ((f = fopen(path, "w")) == NULL) {
		perror(path);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
}

/*
 * A reload (config_reread): the file read again with the same flags on
 * top; a file with errors leaves nothing behind.
 */
static void
test_reread(void)
{
	struct module_settings	 ms;
	struct options		 o, fresh;
	char			*path, *dir, **errors = NULL, *mod;
	size_t			 nerrors = 0;
	const char		*v;
	int			 r;

	dir = xstrdup("/tmp/config-test-dir.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(2);
	}
	xasprintf(&mod, "%s/exec.so", dir);
	rewrite(mod, "");
	path = temp_conf("deadline 2000\nmodule a {\n  param p file\n}\n");
	{
		char *argv[] = { "sph", "--config", path, "--module-dir", dir,
		    "--deadline", "400", "--param", "a.q=flag", NULL };

		r = setup(&o, argv);
		result("reread-setup", r == 0 && o.argc == 9, "setup");
		rewrite(path, "deadline 3000\nbudget 7\nmodule a {\n"
		    "  param p file2\n  param q file2\n}\n"
		    "module b {\n  file exec.so\n  label B\n  interval 5\n}\n");
		r = config_reread(&o, &fresh, &errors, &nerrors);
		result("reread-ok", r == 1 && nerrors == 0, errors != NULL ?
		    errors[0] : "failed");
		if (r == 1) {
			v = options_lookup(fresh.params, fresh.nparams, "a", "p");
			result("reread-file-applies", fresh.budget_ms == 7 &&
			    v != NULL && strcmp(v, "file2") == 0, "budget, a.p");
			v = options_lookup(fresh.params, fresh.nparams, "a", "q");
			result("reread-flags-still-win", fresh.deadline_ms == 400 &&
			    v != NULL && strcmp(v, "flag") == 0 &&
			    strcmp(fresh.module_dir, dir) == 0, "deadline, a.q");
			options_module(&fresh, "b", 0, &ms);
			result("reread-new-instance", fresh.nblocks == 2 &&
			    options_block(&fresh, "b") != NULL &&
			    ms.interval_ms == 5, "b");
			options_free(&fresh);
		}
		config_free_errors(errors, nerrors);

		rewrite(path, "deadline x\nmodule c {\n  file nothere.so\n}\n");
		r = config_reread(&o, &fresh, &errors, &nerrors);
		result("reread-parse-errors", r == -1 && nerrors == 1 &&
		    strstr(errors[0], ":1: deadline: expected a number") != NULL,
		    nerrors > 0 ? errors[0] : "accepted");
		config_free_errors(errors, nerrors);
		rewrite(path, "module c {\n  file nothere.so\n}\n");
		r = config_reread(&o, &fresh, &errors, &nerrors);
		result("reread-unknown-file", r == -1 && nerrors == 1 &&
		    strstr(errors[0], ":2: module c: file nothere.so: no such "
		    "file in the module directory") != NULL,
		    nerrors > 0 ? errors[0] : "accepted");
		config_free_errors(errors, nerrors);
		result("reread-running-kept", o.deadline_ms == 400 &&
		    o.nblocks == 1, "the running options changed");
		options_free(&o);
	}
	unlink(path);
	unlink(mod);
	rmdir(dir);
	free(path);
	free(mod);
	free(dir);
}

/*
 * Only a regular file of a sane size is read: the supervisor rereads it on
 * SIGHUP in its event loop, where a FIFO or /dev/zero would stall it.
 */
static void
test_not_a_file(void)
{
	struct options	 o;
	char		 dir[] = "/tmp/config-test-nf.XXXXXX", *fifo, *big;
	char		**errors = NULL;
	size_t		 nerrors = 0;
	FILE		*f;
	int		 r;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(2);
	}
	xasprintf(&fifo, "%s/fifo.conf", dir);
	xasprintf(&big, "%s/big.conf", dir);
	if (mkfifo(fifo, 0600) != 0 || (f = fopen(big, "w")) == NULL) {
		perror(dir);
		exit(2);
	}
	for (r = 0; r < (1 << 20) / 16 + 1; r++)
		fputs("# comment line.\n", f);
	fclose(f);

	options_defaults(&o);
	r = config_load(&o, fifo, 1, &errors, &nerrors);
	result("fifo-refused", r == -1 && nerrors == 1 &&
	    strstr(errors[0], "not a regular file") != NULL,
	    nerrors > 0 ? errors[0] : "accepted");
	config_free_errors(errors, nerrors);
	r = config_load(&o, "/dev/zero", 1, &errors, &nerrors);
	result("device-refused", r == -1 && nerrors == 1 &&
	    strstr(errors[0], "not a regular file") != NULL,
	    nerrors > 0 ? errors[0] : "accepted");
	config_free_errors(errors, nerrors);
	r = config_load(&o, dir, 1, &errors, &nerrors);
	result("directory-refused", r == -1 && nerrors == 1 &&
	    strstr(errors[0], "not a regular file") != NULL,
	    nerrors > 0 ? errors[0] : "accepted");
	config_free_errors(errors, nerrors);
	r = config_load(&o, big, 1, &errors, &nerrors);
	result("huge-file-refused", r == -1 && nerrors == 1 &&
	    strstr(errors[0], "larger than 1048576 bytes") != NULL,
	    nerrors > 0 ? errors[0] : "accepted");
	config_free_errors(errors, nerrors);
	options_free(&o);
	unlink(fifo);
	unlink(big);
	rmdir(dir);
	free(fifo);
	free(big);
}

int
main(void)
{
	test_errors();
	test_raw_errors();
	test_values();
	test_precedence();
	test_reread();
	test_not_a_file();
	return unit_summary();
}
