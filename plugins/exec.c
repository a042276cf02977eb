/*
 * exec.c - any program as a Scope plugin: run the command in the
 * "command" parameter and turn its standard output into the report.
 *
 * The output is either lines of the protocol in scope-plugin-exec(8)
 * (metric, info, table, row) or, when it begins with "{", a JSON object
 * of report topologies that is passed on as it is and then checked by
 * the host like any module's report.  Running the command is
 * exec-run.c's job; this file reads parameters, prepares argv and the
 * environment, and turns the output into the report.  A command that
 * fails (exit status, signal, time, size) or writes a line that is not
 * in the protocol fails the poll, with that reason logged at error level
 * and returned to the host.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "exec-run.h"
#include "fields.h"
#include "scope-plugin.h"
#include "strmap.h"

#define DEFAULT_MAX_OUTPUT	(1024 * 1024)
#define MAX_ERRLINES		20	/* stderr lines logged per run */
#define KEY_MAX			64	/* metric, info and table names */
#define ROW_MAX			128
#define TABLE_COLS_MAX		16
#define REASON_LINE_MAX		160	/* bytes of a bad line in the reason */

extern char **environ;

struct exec {
	struct sph_host	*host;
	struct runner	 runner;
};

/* A table declared by a "table" line. */
struct table {
	char	label[FIELDS_TEXT_MAX];
	size_t	ncols;
	char	cols[TABLE_COLS_MAX][FIELDS_TEXT_MAX];
	int	templated[3];	/* per target kind */
};

/* State of one parse of the line protocol. */
struct lines {
	struct sph_host		*host;
	struct sph_report	*r;
	const char		*id;
	struct strmap		 seen;	/* templates added: "<kind>/<topo>/<key>" */
	struct strmap		 tables;
	unsigned		 seq;	/* for default priorities */
	char			 err[1024];
};

static void
exec_errline(void *arg, const char *line)
{
	struct exec	*ex = arg;

	sph_log(ex->host, SPH_LOG_WARNING, "stderr: %s", line);
}

/* "NAME=value" into a new string. */
static char *
env_entry(const char *name, const char *value)
{
	size_t	 n = strlen(name), v = strlen(value);
	char	*s;

	if ((s = malloc(n + v + 2)) == NULL)
		return NULL;
	memcpy(s, name, n);
	s[n] = '=';
	memcpy(s + n + 1, value, v + 1);
	return s;
}

static int
env_ours(const char *entry)
{
	return strncmp(entry, "SCOPE_PLUGIN_ID=", 16) == 0 ||
	    strncmp(entry, "SCOPE_PROBE_ID=", 15) == 0 ||
	    strncmp(entry, "SCOPE_HOSTNAME=", 15) == 0 ||
	    strncmp(entry, "SCOPE_PARAM_", 12) == 0;
}

static void
env_free(char **env, size_t from)
{
	size_t	i;

	for (i = from; env != NULL && env[i] != NULL; i++)
		free(env[i]);
	free(env);
}

/* SCOPE_PARAM_<KEY>: upper case, anything but letters and digits as "_". */
static char *
param_env_entry(const char *key, const char *value)
{
	char	name[128];
	size_t	i;

	snprintf(name, sizeof name, "SCOPE_PARAM_%s", key);
	for (i = 12; name[i] != '\0'; i++)
		name[i] = isalnum((unsigned char)name[i]) ?
		    (char)toupper((unsigned char)name[i]) : '_';
	return env_entry(name, value);
}

/*
 * The worker's environment without our names, then SCOPE_HOSTNAME,
 * SCOPE_PROBE_ID, SCOPE_PLUGIN_ID and SCOPE_PARAM_<KEY> for every param
 * of the instance.  Entries from *nown on are ours to free.
 */
static char **
env_build(struct sph_host *host, size_t *nown)
{
	const char	*key, *value;
	char		 hostname[256], **env, *e;
	size_t		 n = 0, k = 0, i, np = 0, cur = 0;

	while (environ[n] != NULL)
		n++;
	while (sph_param_next(host, NULL, &cur, NULL, NULL) == 1)
		np++;
	if ((env = calloc(n + np + 4, sizeof *env)) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (!env_ours(environ[i]))
			env[k++] = environ[i];
	*nown = k;
	if (sph_hostname(hostname, sizeof hostname) != 0)
		hostname[0] = '\0';
#define ADD(make) do {							\
	if ((e = (make)) == NULL)					\
		goto oom;						\
	env[k++] = e;							\
} while (0)
	ADD(env_entry("SCOPE_HOSTNAME", hostname));
	ADD(env_entry("SCOPE_PROBE_ID", sph_probe_id(host)));
	ADD(env_entry("SCOPE_PLUGIN_ID", sph_module_id(host) != NULL ?
	    sph_module_id(host) : ""));
	/* The count above bounds the walk: the list does not change. */
	for (cur = 0, i = 0; i < np &&
	    sph_param_next(host, NULL, &cur, &key, &value) == 1; i++)
		ADD(param_env_entry(key, value));
#undef ADD
	env[k] = NULL;
	return env;
oom:
	env[k] = NULL;
	env_free(env, *nown);
	return NULL;
}

/* --- line protocol ------------------------------------------------------ */

static int
lines_fail(struct lines *ls, unsigned lineno, const char *line, size_t len,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int
lines_fail(struct lines *ls, unsigned lineno, const char *line, size_t len,
    const char *fmt, ...)
{
	char	what[256], quoted[REASON_LINE_MAX];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	/* Quoted and cut to fit: garbage must not flood the reason. */
	text_quote(line, len, quoted, sizeof quoted);
	snprintf(ls->err, sizeof ls->err, "line %u: %s: \"%s\"", lineno,
	    what, quoted);
	return -1;
}

static int
key_ok(const char *s)
{
	size_t	n = strlen(s), i;

	if (n == 0 || n > KEY_MAX || !isalnum((unsigned char)s[0]))
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return 0;
	return 1;
}

/* Printable UTF-8 (tabs allowed) that fits, for labels, texts, rows. */
static int
text_ok(const char *s)
{
	size_t	n = strlen(s);

	return n < FIELDS_TEXT_MAX && text_printable(s, n);
}

/* target_parse(), and a container must be named by its full id. */
static int
node_parse(const char *s, struct target *t, char *err, size_t errlen)
{
	size_t	n;

	if (target_parse(s, t, err, errlen) != 0)
		return -1;
	if (t->kind == TARGET_CONTAINER) {
		n = strspn(t->arg, "0123456789abcdef");
		if (n != 64 || t->arg[n] != '\0') {
			snprintf(err, errlen, "container id must be 64 lower-case "
			    "hex digits (docker ps --no-trunc)");
			return -1;
		}
	}
	return 0;
}

/* Selects the target's topology and node. */
static int
select_node(struct lines *ls, const struct target *t)
{
	sph_topology(ls->r, target_topology(t->kind));
	switch (t->kind) {
	case TARGET_HOST:
		return sph_node_host(ls->r);
	case TARGET_PROCESS:
		return sph_node_process(ls->r, t->pid);
	case TARGET_CONTAINER:
		return sph_node_container(ls->r, t->arg);
	}
	return -1;
}

/* 1 the first time kind/topology/key is seen (a template is due). */
static int
first_time(struct lines *ls, const char *kind, enum target_kind tk,
    const char *key, int *oom)
{
	char	k[KEY_MAX + 64];

	snprintf(k, sizeof k, "%s/%d/%s", kind, (int)tk, key);
	if (strmap_get(&ls->seen, k) != NULL)
		return 0;
	if (strmap_put(&ls->seen, k, (void *)1) != 0) {
		*oom = 1;
		return 0;
	}
	return 1;
}

/* Options after the positional fields: display options only. */
static int
parse_options(struct lines *ls, char **f, int nf, int from,
    struct series_spec *spec, char *err, size_t errlen)
{
	int	i, rc;

	(void)ls;
	for (i = from; i < nf; i++) {
		if ((rc = spec_option(spec, f[i], err, errlen)) == 1) {
			snprintf(err, errlen, "unknown option \"%.40s\"", f[i]);
			return -1;
		}
		if (rc != 0)
			return -1;
		if (spec->has_label && !text_ok(spec->label)) {
			snprintf(err, errlen, "label is not printable text");
			return -1;
		}
	}
	return 0;
}

/* The NODE and KEY fields that metric and info records share. */
static int
node_and_key(char **f, struct target *t, char *err, size_t errlen)
{
	if (node_parse(f[1], t, err, errlen) != 0)
		return -1;
	if (!key_ok(f[2])) {
		snprintf(err, errlen, "key must be 1 to %d letters, digits, "
		    "\"_\" or \"-\", starting with a letter or digit", KEY_MAX);
		return -1;
	}
	return 0;
}

static int
line_metric(struct lines *ls, char **f, int nf, char *err, size_t errlen)
{
	struct series_spec	 spec;
	struct target		 t;
	char			 key[KEY_MAX + 96];
	double			 v, min, max;
	int			 oom = 0;

	if (nf < 4) {
		snprintf(err, errlen, "expected: metric NODE KEY VALUE "
		    "[OPTION=VALUE...]");
		return -1;
	}
	memset(&spec, 0, sizeof spec);
	if (node_and_key(f, &t, err, errlen) != 0)
		return -1;
	if (parse_finite(f[3], &v) != 0) {
		snprintf(err, errlen, "value is not a finite number");
		return -1;
	}
	if (parse_options(ls, f, nf, 4, &spec, err, errlen) != 0)
		return -1;
	snprintf(key, sizeof key, "%s.%s", ls->id, f[2]);
	if (first_time(ls, "metric", t.kind, f[2], &oom)) {
		sph_topology(ls->r, target_topology(t.kind));
		sph_metric_template(ls->r, key, spec.has_label ? spec.label :
		    f[2], spec.format, spec.has_priority ? spec.priority :
		    5 + ls->seq++ * 0.01);
	}
	if (oom) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	spec_range(&spec, v, &min, &max);
	select_node(ls, &t);
	return sph_metric(ls->r, key, v, min, max);
}

static int
line_info(struct lines *ls, char **f, int nf, char *err, size_t errlen)
{
	struct series_spec	 spec;
	struct target		 t;
	char			 key[KEY_MAX + 96];
	int			 oom = 0;

	if (nf < 4) {
		snprintf(err, errlen, "expected: info NODE KEY TEXT "
		    "[OPTION=VALUE...]");
		return -1;
	}
	memset(&spec, 0, sizeof spec);
	if (node_and_key(f, &t, err, errlen) != 0)
		return -1;
	if (!text_ok(f[3])) {
		snprintf(err, errlen, "text must be printable UTF-8 of at most "
		    "%d bytes", FIELDS_TEXT_MAX - 1);
		return -1;
	}
	if (parse_options(ls, f, nf, 4, &spec, err, errlen) != 0)
		return -1;
	if (spec.format != SPH_FORMAT_NONE || spec.has_min || spec.has_max) {
		snprintf(err, errlen, "format, min and max are for metrics");
		return -1;
	}
	snprintf(key, sizeof key, "%s.%s", ls->id, f[2]);
	if (first_time(ls, "info", t.kind, f[2], &oom)) {
		sph_topology(ls->r, target_topology(t.kind));
		sph_metadata_template(ls->r, key, spec.has_label ? spec.label :
		    f[2], spec.has_priority ? spec.priority :
		    5 + ls->seq++ * 0.01, SPH_FROM_LATEST, spec.datatype);
	}
	if (oom) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	select_node(ls, &t);
	return sph_latest(ls->r, key, f[3]);
}

static int
line_table(struct lines *ls, char **f, int nf, char *err, size_t errlen)
{
	struct table	*tb;
	int		 i;

	if (nf < 4) {
		snprintf(err, errlen, "expected: table NAME LABEL "
		    "ROW-COLUMN-LABEL COLUMN-LABEL...");
		return -1;
	}
	if (!key_ok(f[1])) {
		snprintf(err, errlen, "table name must be 1 to %d letters, "
		    "digits, \"_\" or \"-\"", KEY_MAX);
		return -1;
	}
	if (strmap_get(&ls->tables, f[1]) != NULL) {
		snprintf(err, errlen, "table %s declared twice", f[1]);
		return -1;
	}
	if (nf - 3 > TABLE_COLS_MAX) {
		snprintf(err, errlen, "at most %d columns", TABLE_COLS_MAX);
		return -1;
	}
	for (i = 2; i < nf; i++)
		if (*f[i] == '\0' || !text_ok(f[i])) {
			snprintf(err, errlen, "labels must be printable text "
			    "of 1 to %d bytes", FIELDS_TEXT_MAX - 1);
			return -1;
		}
	if ((tb = calloc(1, sizeof *tb)) == NULL ||
	    strmap_put(&ls->tables, f[1], tb) != 0) {
		free(tb);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	strcpy(tb->label, f[2]);
	tb->ncols = (size_t)nf - 3;
	for (i = 3; i < nf; i++)
		strcpy(tb->cols[i - 3], f[i]);
	return 0;
}

static int
line_row(struct lines *ls, char **f, int nf, char *err, size_t errlen)
{
	struct sph_table_column	 cols[TABLE_COLS_MAX];
	char			 ids[TABLE_COLS_MAX][8];
	char			 prefix[KEY_MAX + 96], id[KEY_MAX + 96];
	struct table		*tb;
	struct target		 t;
	size_t			 i;

	if (nf < 4) {
		snprintf(err, errlen, "expected: row NODE TABLE ROW VALUE...");
		return -1;
	}
	if (node_parse(f[1], &t, err, errlen) != 0)
		return -1;
	if ((tb = strmap_get(&ls->tables, f[2])) == NULL) {
		snprintf(err, errlen, "table %.64s is not declared (a \"table\" "
		    "line must come first)", f[2]);
		return -1;
	}
	if (*f[3] == '\0' || strlen(f[3]) > ROW_MAX || !text_ok(f[3]) ||
	    strstr(f[3], "___") != NULL) {
		snprintf(err, errlen, "row name must be printable text of 1 to "
		    "%d bytes without \"___\"", ROW_MAX);
		return -1;
	}
	if ((size_t)nf - 3 > tb->ncols) {
		snprintf(err, errlen, "table %s has %zu columns, the row has "
		    "%d", f[2], tb->ncols, nf - 3);
		return -1;
	}
	for (i = 4; i < (size_t)nf; i++)
		if (!text_ok(f[i])) {
			snprintf(err, errlen, "values must be printable UTF-8 "
			    "of at most %d bytes", FIELDS_TEXT_MAX - 1);
			return -1;
		}
	snprintf(prefix, sizeof prefix, "%s.%s.", ls->id, f[2]);
	sph_topology(ls->r, target_topology(t.kind));
	if (!tb->templated[t.kind]) {
		for (i = 0; i < tb->ncols; i++) {
			snprintf(ids[i], sizeof ids[i], "c%u", (unsigned)(i % TABLE_COLS_MAX));
			cols[i].id = ids[i];
			cols[i].label = tb->cols[i];
			cols[i].datatype = SPH_DATATYPE_TEXT;
		}
		snprintf(id, sizeof id, "%s.%s", ls->id, f[2]);
		sph_table_template(ls->r, id, tb->label, prefix,
		    SPH_TABLE_MULTICOLUMN, cols, tb->ncols);
		tb->templated[t.kind] = 1;
	}
	select_node(ls, &t);
	/* The first column names the row: Scope shows no row ids. */
	sph_table_cell(ls->r, prefix, f[3], "c0", f[3]);
	for (i = 4; i < (size_t)nf; i++) {
		snprintf(id, sizeof id, "c%zu", i - 3);
		sph_table_cell(ls->r, prefix, f[3], id, f[i]);
	}
	return sph_report_error(ls->r) == NULL ? 0 : -1;
}

static int
free_table(const char *key, void *value, void *arg)
{
	(void)key;
	(void)arg;
	free(value);
	return 1;
}

/* Parses the line protocol into r.  0, or -1 with ls->err set. */
static int
parse_lines(struct lines *ls, const char *out, size_t len)
{
	const char	*start, *nl, *end = out + len, *ferr;
	char		*f[FIELDS_MAX], copy[1024], err[256];
	unsigned	 lineno = 0;
	size_t		 llen;
	int		 nf, rc;

	for (start = out; start < end; start = nl != NULL ? nl + 1 : end) {
		lineno++;
		nl = memchr(start, '\n', (size_t)(end - start));
		llen = (size_t)((nl != NULL ? nl : end) - start);
		if (llen > 0 && start[llen - 1] == '\r')
			llen--;
		if (memchr(start, '\0', llen) != NULL)
			return lines_fail(ls, lineno, start, llen, "NUL byte");
		if (llen >= sizeof copy)
			return lines_fail(ls, lineno, start, llen, "line longer "
			    "than %zu bytes", sizeof copy - 1);
		memcpy(copy, start, llen);
		copy[llen] = '\0';
		if ((nf = fields_split(copy, f, FIELDS_MAX, &ferr)) == -1)
			return lines_fail(ls, lineno, start, llen, "%s", ferr);
		if (nf == 0 || f[0][0] == '#')
			continue;
		err[0] = '\0';
		if (strcmp(f[0], "metric") == 0)
			rc = line_metric(ls, f, nf, err, sizeof err);
		else if (strcmp(f[0], "info") == 0)
			rc = line_info(ls, f, nf, err, sizeof err);
		else if (strcmp(f[0], "table") == 0)
			rc = line_table(ls, f, nf, err, sizeof err);
		else if (strcmp(f[0], "row") == 0)
			rc = line_row(ls, f, nf, err, sizeof err);
		else {
			snprintf(err, sizeof err, "unknown record (metric, "
			    "info, table or row expected)");
			rc = -1;
		}
		if (rc != 0 && err[0] == '\0')
			snprintf(err, sizeof err, "%s", sph_report_error(ls->r)
			    != NULL ? sph_report_error(ls->r) : "failed");
		if (rc != 0)
			return lines_fail(ls, lineno, start, llen, "%s", err);
	}
	return 0;
}

/* --- JSON output ---------------------------------------------------------- */

/*
 * Copies a JSON object's members into the host's generator, whose report
 * object is already open: the outer braces are dropped, each member key
 * must be a Scope topology, and numbers are passed as written (but must
 * be finite).  Everything else is the host's check.
 */
struct jcopy {
	yajl_gen	 g;
	int		 depth;
	char		 err[256];
};

#define JGEN(call) do {							\
	yajl_gen_status st_ = (call);					\
	if (st_ != yajl_gen_status_ok) {				\
		snprintf(j->err, sizeof j->err, "cannot copy the JSON "	\
		    "(generator status %d)", (int)st_);			\
		return 0;						\
	}								\
	return 1;							\
} while (0)

static int
j_top_value(struct jcopy *j)
{
	if (j->depth == 0) {
		snprintf(j->err, sizeof j->err, "output is not a JSON object");
		return 0;
	}
	if (j->depth == 1) {
		snprintf(j->err, sizeof j->err, "a topology must be an object");
		return 0;
	}
	return 1;
}

static int
j_null(void *ctx)
{
	struct jcopy	*j = ctx;

	if (!j_top_value(j))
		return 0;
	JGEN(yajl_gen_null(j->g));
}

static int
j_boolean(void *ctx, int b)
{
	struct jcopy	*j = ctx;

	if (!j_top_value(j))
		return 0;
	JGEN(yajl_gen_bool(j->g, b));
}

static int
j_number(void *ctx, const char *s, size_t len)
{
	struct jcopy	*j = ctx;
	char		 buf[64];
	double		 d;

	if (!j_top_value(j))
		return 0;
	if (len >= sizeof buf) {
		snprintf(j->err, sizeof j->err, "number too long");
		return 0;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (parse_finite(buf, &d) != 0) {
		snprintf(j->err, sizeof j->err, "number %s out of range", buf);
		return 0;
	}
	JGEN(yajl_gen_number(j->g, s, len));
}

static int
j_string(void *ctx, const unsigned char *s, size_t len)
{
	struct jcopy	*j = ctx;

	if (!j_top_value(j))
		return 0;
	JGEN(yajl_gen_string(j->g, s, len));
}

static int
j_start_map(void *ctx)
{
	struct jcopy	*j = ctx;

	if (j->depth++ == 0)
		return 1;
	if (j->depth > 64) {
		snprintf(j->err, sizeof j->err, "nested deeper than 64");
		return 0;
	}
	JGEN(yajl_gen_map_open(j->g));
}

static int
j_map_key(void *ctx, const unsigned char *s, size_t len)
{
	struct jcopy	*j = ctx;
	char		 key[32];

	if (j->depth == 1) {
		if (len >= sizeof key || memchr(s, '\0', len) != NULL)
			len = sizeof key - 1;
		memcpy(key, s, len);
		key[len] = '\0';
		if (strcmp(key, "Plugins") == 0) {
			snprintf(j->err, sizeof j->err, "the output has a "
			    "\"Plugins\" member (the host adds it)");
			return 0;
		}
		if (sph_topology_value(key) == NULL) {
			char	q[sizeof key * 4];

			text_quote(key, strlen(key), q, sizeof q);
			snprintf(j->err, sizeof j->err, "\"%s\" is not a Scope "
			    "topology (Host, Container, Process, ...; exact "
			    "case)", q);
			return 0;
		}
	}
	JGEN(yajl_gen_string(j->g, s, len));
}

static int
j_end_map(void *ctx)
{
	struct jcopy	*j = ctx;

	if (--j->depth == 0)
		return 1;
	JGEN(yajl_gen_map_close(j->g));
}

static int
j_start_array(void *ctx)
{
	struct jcopy	*j = ctx;

	if (!j_top_value(j))
		return 0;
	if (++j->depth > 64) {
		snprintf(j->err, sizeof j->err, "nested deeper than 64");
		return 0;
	}
	JGEN(yajl_gen_array_open(j->g));
}

static int
j_end_array(void *ctx)
{
	struct jcopy	*j = ctx;

	j->depth--;
	JGEN(yajl_gen_array_close(j->g));
}

static const yajl_callbacks jcopy_callbacks = {
	j_null, j_boolean, NULL, NULL, j_number, j_string,
	j_start_map, j_map_key, j_end_map, j_start_array, j_end_array
};

/* 0, or -1 with err set. */
static int
copy_json(yajl_gen g, const char *out, size_t len, char *err, size_t errlen)
{
	struct jcopy	 j;
	yajl_handle	 h;
	yajl_status	 st;
	unsigned char	*msg;

	memset(&j, 0, sizeof j);
	j.g = g;
	if ((h = yajl_alloc(&jcopy_callbacks, NULL, &j)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	st = yajl_parse(h, (const unsigned char *)out, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	if (st != yajl_status_ok) {
		if (j.err[0] != '\0')
			snprintf(err, errlen, "JSON output: %s", j.err);
		else {
			char	q[256];

			msg = yajl_get_error(h, 0, NULL, 0);
			text_quote(msg != NULL ? (const char *)msg : "invalid",
			    msg != NULL ? strlen((const char *)msg) : 7, q,
			    sizeof q);
			snprintf(err, errlen, "JSON output: %s", q);
			if (msg != NULL)
				yajl_free_error(h, msg);
		}
		yajl_free(h);
		return -1;
	}
	yajl_free(h);
	return 0;
}

/* --- the module ------------------------------------------------------------- */

static int
exec_init(struct sph_host *host, void **state)
{
	const char	*cmd = sph_param(host, "command");
	struct exec	*ex;

	if (cmd == NULL || cmd[strspn(cmd, " \t")] == '\0') {
		sph_log(host, SPH_LOG_ERR, "param command is not set: give the "
		    "program to run, see scope-plugin-exec(8)");
		return -1;
	}
	if ((ex = calloc(1, sizeof *ex)) == NULL) {
		sph_log(host, SPH_LOG_ERR, "out of memory");
		return -1;
	}
	ex->host = host;
	*state = ex;
	param_timeout_check(host);
	return 0;
}

/* The basename of argv[0], to say whose output it was. */
static const char *
prog_name(const char *argv0)
{
	const char	*s = strrchr(argv0, '/');

	return s != NULL && s[1] != '\0' ? s + 1 : argv0;
}

static int
exec_collect(void *state, yajl_gen gen)
{
	struct exec		*ex = state;
	struct sph_host		*host = ex->host;
	struct run_limits	 lim;
	struct run_result	 res;
	struct lines		 ls;
	char			*cmd, *argv[FIELDS_MAX + 1], **env, err[512];
	const char		*ferr, *p;
	size_t			 nown;
	int			 argc, rc = -1;

	lim.timeout_ms = param_timeout(host);
	lim.max_output = param_uint(host, "max_output", DEFAULT_MAX_OUTPUT,
	    1024, 64 * 1024 * 1024);
	lim.max_errlines = MAX_ERRLINES;
	if ((cmd = strdup(sph_param(host, "command") != NULL ?
	    sph_param(host, "command") : "")) == NULL) {
		sph_log(host, SPH_LOG_ERR, "out of memory");
		return -1;
	}
	if ((argc = fields_split(cmd, argv, FIELDS_MAX, &ferr)) <= 0) {
		sph_log(host, SPH_LOG_ERR, "param command: %s", argc == 0 ?
		    "empty" : ferr);
		free(cmd);
		return -1;
	}
	argv[argc] = NULL;
	if ((env = env_build(host, &nown)) == NULL) {
		sph_log(host, SPH_LOG_ERR, "out of memory");
		free(cmd);
		return -1;
	}
	if (run_command(&ex->runner, argv, env, &lim, exec_errline, ex,
	    &res) != 0) {
		sph_log(host, SPH_LOG_ERR, "%s: cannot run: %s",
		    prog_name(argv[0]), strerror(errno));
		goto out;
	}
	if (res.failure != NULL) {
		sph_log(host, SPH_LOG_ERR, "%s: %s", prog_name(argv[0]),
		    res.failure);
		goto out;
	}
	p = res.out + strspn(res.out, " \t\r\n");
	if (*p == '{') {
		if (copy_json(gen, p, res.outlen - (size_t)(p - res.out), err,
		    sizeof err) != 0)
			sph_log(host, SPH_LOG_ERR, "%s: %s", prog_name(argv[0]),
			    err);
		else
			rc = 0;
		goto out;
	}
	memset(&ls, 0, sizeof ls);
	ls.host = host;
	ls.id = sph_module_id(host) != NULL ? sph_module_id(host) : "exec";
	if ((ls.r = sph_report_begin(host, gen)) == NULL)
		goto out;
	if (parse_lines(&ls, res.out, res.outlen) != 0) {
		sph_log(host, SPH_LOG_ERR, "%s: %s", prog_name(argv[0]),
		    ls.err);
		sph_report_discard(ls.r);
	} else
		rc = sph_report_end(ls.r);
	strmap_sweep(&ls.tables, free_table, NULL);
	strmap_clear(&ls.tables);
	strmap_clear(&ls.seen);
out:
	run_result_free(&res);
	env_free(env, nown);
	free(cmd);
	return rc;
}

static void
exec_fini(void *state)
{
	struct exec	*ex = state;

	run_reap_leftovers(&ex->runner, 1);
	free(ex);
}

SPH_MODULE(
	.id = "exec",
	.label = "Exec",
	.description = "Runs a program and shows what it prints",
	.interval_ms = 5000,
	.flags = SPH_MODULE_INSTANCES_ONLY,
	.init = exec_init,
	.collect = exec_collect,
	.fini = exec_fini,
);
