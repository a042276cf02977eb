/*
 * report.c - the report SDK: build a Scope report in memory, check it
 * against the shapes the probe accepts (docs/ARCHITECTURE.md, "What
 * Scope's probe expects" 3), then write it into the host's generator.
 *
 * Everything is buffered until sph_report_end() so that the calls can
 * come in any order (a node's latest after its metrics, templates after
 * nodes) and a misuse found late still leaves the generator untouched.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sph-host.h"
#include "topologies.h"
#include "utf8.h"

#define SEP "___"	/* multicolumn row/column separator */

/* The error kept when even the message cannot be copied. */
static char oom_msg[] = "out of memory";


enum entry_kind { E_LATEST, E_METRIC, E_SET, E_PARENT, E_CONTROL, E_NKINDS };

/* Node member name per entry kind, in output order. */
static const char *const entry_section[E_NKINDS] = {
	"latest", "metrics", "sets", "parents", "latestControls"
};

struct strlist {
	char		**v;
	size_t		  n;
	size_t		  cap;
};

struct entry {
	enum entry_kind		 kind;
	char			*key;
	char			*str;		/* E_LATEST */
	struct sph_sample	*samples;	/* E_METRIC */
	size_t			 nsamples;
	double			 min;
	double			 max;
	struct strlist		 list;		/* E_SET, E_PARENT */
	int			 live;		/* E_CONTROL */
};

struct node {
	char		*id;
	struct entry	*e;
	size_t		 n;
	size_t		 cap;
	int		 has_controls;
};

enum tmpl_kind { T_CONTROL, T_METADATA, T_METRIC, T_TABLE, T_NKINDS };

static const char *const tmpl_section[T_NKINDS] = {
	"controls", "metadata_templates", "metric_templates", "table_templates"
};

struct column {
	char			*id;
	char			*label;
	enum sph_datatype	 datatype;
};

struct tmpl {
	enum tmpl_kind		 kind;
	char			*id;
	char			*label;		/* human for controls */
	double			 priority;
	enum sph_from		 from;
	enum sph_datatype	 datatype;
	enum sph_format		 format;
	char			*prefix;
	enum sph_table_type	 ttype;
	struct column		*cols;
	size_t			 ncols;
	int			 named;		/* first column names the row */
	char			*icon;
	int			 rank;
};

struct topo {
	const struct sph_topodef *def;
	struct node		*nodes;
	size_t			 nnodes;
	size_t			 capnodes;
	struct tmpl		*t;
	size_t			 nt;
	size_t			 capt;
};

struct sph_report {
	struct sph_host		*host;
	yajl_gen		 gen;
	struct timespec		 ts;
	char			 stamp[SPH_TIMESTAMP_MAX];
	char			 hostname[256];
	struct topo		 topos[SPH_NTOPODEFS];	/* in first-use order */
	size_t			 ntopos;
	struct topo		*cur;
	size_t			 curnode;		/* SIZE_MAX: none */
	char			*err;
};

static int	report_fail(struct sph_report *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* ---------------------------------------------------------------------- */

/* Grow *v (of elements sz) so that it holds at least n + 1. */
static int
grow(void *vp, size_t *cap, size_t n, size_t sz)
{
	void	**v = vp, *nv;
	size_t	  ncap;

	if (n < *cap)
		return 0;
	ncap = *cap == 0 ? 4 : *cap * 2;
	if (ncap > SIZE_MAX / sz)
		return -1;
	if ((nv = realloc(*v, ncap * sz)) == NULL)
		return -1;
	*v = nv;
	*cap = ncap;
	return 0;
}

int
sph_id_valid(const char *id)
{
	const char	*p;
	int		 run = 0;

	if (id == NULL || *id == '\0')
		return 0;
	for (p = id; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9'))
			run = 1;
		else if (*p == '-' && run)
			run = 0;	/* a dash must be followed by a run */
		else
			return 0;
	}
	return run;
}

const char *
sph_topology_value(const char *key)
{
	size_t	i;

	if (key == NULL)
		return NULL;
	for (i = 0; i < SPH_NTOPODEFS; i++)
		if (strcmp(sph_topodefs[i].key, key) == 0)
			return sph_topodefs[i].value;
	return NULL;
}

/* A canonical node topology value, as used in "parents". */
static int
topology_value_valid(const char *value)
{
	size_t	i;

	for (i = 0; i < SPH_NTOPODEFS; i++)
		if (strcmp(sph_topodefs[i].value, value) == 0)
			return 1;
	return 0;
}

int
sph_hostname(char *buf, size_t len)
{
	const char	*env;

	if (buf == NULL || len == 0)
		return -1;
	/* The probe's own rule (common/hostname): the variable wins. */
	if ((env = getenv("SCOPE_HOSTNAME")) != NULL && *env != '\0') {
		if (strlen(env) >= len)
			return -1;
		strcpy(buf, env);
		return 0;
	}
	if (gethostname(buf, len) != 0)
		return -1;
	buf[len - 1] = '\0';	/* POSIX leaves truncation unterminated */
	return buf[0] == '\0' ? -1 : 0;
}

int
sph_host_node_id(char *buf, size_t len)
{
	char	name[256];
	int	n;

	if (sph_hostname(name, sizeof name) != 0)
		return -1;
	n = snprintf(buf, len, "%s;<host>", name);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
sph_process_node_id(char *buf, size_t len, pid_t pid)
{
	char	name[256];
	int	n;

	if (pid <= 0 || sph_hostname(name, sizeof name) != 0)
		return -1;
	n = snprintf(buf, len, "%s;%ld", name, (long)pid);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
sph_container_node_id(char *buf, size_t len, const char *container_id)
{
	int	n;

	if (!sph_id_valid(container_id))
		return -1;
	n = snprintf(buf, len, "%s;<container>", container_id);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
sph_rfc3339(const struct timespec *ts, char *buf, size_t len)
{
	struct tm	tm;
	time_t		t;
	char		frac[16];
	size_t		n;
	int		i;

	if (ts == NULL || buf == NULL || ts->tv_nsec < 0 ||
	    ts->tv_nsec > 999999999)
		return -1;
	t = ts->tv_sec;
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 < 0 ||
	    tm.tm_year + 1900 > 9999)
		return -1;	/* Go's time parser takes four-digit years */
	if ((n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm)) == 0)
		return -1;
	frac[0] = '\0';
	if (ts->tv_nsec != 0) {
		snprintf(frac, sizeof frac, ".%09ld", (long)ts->tv_nsec);
		for (i = (int)strlen(frac) - 1; frac[i] == '0'; i--)
			frac[i] = '\0';
	}
	if (n + strlen(frac) + 2 > len)
		return -1;
	strcat(buf, frac);
	strcat(buf, "Z");
	return 0;
}

/* ---------------------------------------------------------------------- */

static int
report_fail(struct sph_report *r, const char *fmt, ...)
{
	va_list	ap;
	char	buf[512];

	if (r == NULL || r->err != NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	sph_log(r->host, SPH_LOG_ERR, "report: %s", buf);
	if ((r->err = strdup(buf)) == NULL)
		r->err = oom_msg;
	return -1;
}

/* Refuse a call on a failed (or NULL) report; check strings. */
static int
report_ok(struct sph_report *r, const char *what, const char *s1,
    const char *s2)
{
	if (r == NULL)
		return -1;
	if (r->err != NULL)
		return -1;
	if ((s1 != NULL && !sph_utf8_valid(s1)) || (s2 != NULL && !sph_utf8_valid(s2)))
		return report_fail(r, "%s: string is not valid UTF-8", what);
	return 0;
}

static struct node *
current_node(struct sph_report *r, const char *what)
{
	if (r->cur == NULL || r->curnode == SIZE_MAX) {
		report_fail(r, "%s: no node selected (call sph_node first)",
		    what);
		return NULL;
	}
	return &r->cur->nodes[r->curnode];
}

static struct topo *
current_topo(struct sph_report *r, const char *what)
{
	if (r->cur == NULL) {
		report_fail(r, "%s: no topology selected (call sph_topology "
		    "first)", what);
		return NULL;
	}
	return r->cur;
}

static void
strlist_free(struct strlist *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static void
entry_free(struct entry *e)
{
	free(e->key);
	free(e->str);
	free(e->samples);
	strlist_free(&e->list);
}

static void
tmpl_free(struct tmpl *t)
{
	size_t	i;

	free(t->id);
	free(t->label);
	free(t->prefix);
	free(t->icon);
	for (i = 0; i < t->ncols; i++) {
		free(t->cols[i].id);
		free(t->cols[i].label);
	}
	free(t->cols);
}

static void
report_free(struct sph_report *r)
{
	struct topo	*t;
	struct node	*n;
	size_t		 i, j, k;

	for (i = 0; i < r->ntopos; i++) {
		t = &r->topos[i];
		for (j = 0; j < t->nnodes; j++) {
			n = &t->nodes[j];
			for (k = 0; k < n->n; k++)
				entry_free(&n->e[k]);
			free(n->e);
			free(n->id);
		}
		free(t->nodes);
		for (j = 0; j < t->nt; j++)
			tmpl_free(&t->t[j]);
		free(t->t);
	}
	if (r->err != oom_msg)
		free(r->err);
	free(r);
}

struct sph_report *
sph_report_begin(struct sph_host *host, yajl_gen gen)
{
	struct sph_report	*r;

	if (gen == NULL) {
		sph_log(host, SPH_LOG_ERR, "report: no generator");
		return NULL;
	}
	if ((r = calloc(1, sizeof *r)) == NULL) {
		sph_log(host, SPH_LOG_ERR, "report: out of memory");
		return NULL;
	}
	r->host = host;
	r->gen = gen;
	r->curnode = SIZE_MAX;
	sph_now(host, &r->ts);
	if (sph_rfc3339(&r->ts, r->stamp, sizeof r->stamp) != 0) {
		sph_log(host, SPH_LOG_ERR, "report: clock out of range");
		free(r);
		return NULL;
	}
	if (sph_hostname(r->hostname, sizeof r->hostname) != 0) {
		sph_log(host, SPH_LOG_ERR, "report: no host name: %s",
		    strerror(errno));
		free(r);
		return NULL;
	}
	return r;
}

void
sph_report_discard(struct sph_report *r)
{
	if (r != NULL)
		report_free(r);
}

const char *
sph_report_error(const struct sph_report *r)
{
	return r != NULL ? r->err : "no report";
}

const struct timespec *
sph_report_time(const struct sph_report *r)
{
	return r != NULL ? &r->ts : NULL;
}

const char *
sph_report_hostname(const struct sph_report *r)
{
	return r != NULL ? r->hostname : NULL;
}

/* ---------------------------------------------------------------------- */

int
sph_topology(struct sph_report *r, const char *key)
{
	size_t	i;

	if (report_ok(r, "sph_topology", NULL, NULL) != 0)
		return -1;
	if (key == NULL || sph_topology_value(key) == NULL)
		return report_fail(r, "\"%s\" is not a Scope topology key "
		    "(exact case, e.g. \"Host\")", key != NULL ? key : "(null)");
	r->curnode = SIZE_MAX;
	for (i = 0; i < r->ntopos; i++) {
		if (strcmp(r->topos[i].def->key, key) == 0) {
			r->cur = &r->topos[i];
			return 0;
		}
	}
	for (i = 0; i < SPH_NTOPODEFS; i++)
		if (strcmp(sph_topodefs[i].key, key) == 0)
			break;
	r->cur = &r->topos[r->ntopos++];	/* at most SPH_NTOPODEFS */
	r->cur->def = &sph_topodefs[i];
	return 0;
}

int
sph_node(struct sph_report *r, const char *id)
{
	struct topo	*t;
	struct node	*n;
	size_t		 i;

	if (report_ok(r, "sph_node", id, NULL) != 0)
		return -1;
	if ((t = current_topo(r, "sph_node")) == NULL)
		return -1;
	if (id == NULL || *id == '\0')
		return report_fail(r, "sph_node: empty node id");
	/* Linear: modules report hundreds of nodes at most. */
	for (i = t->nnodes; i-- > 0;) {
		if (strcmp(t->nodes[i].id, id) == 0) {
			r->curnode = i;
			return 0;
		}
	}
	if (grow(&t->nodes, &t->capnodes, t->nnodes, sizeof *t->nodes) != 0)
		return report_fail(r, "out of memory");
	n = &t->nodes[t->nnodes];
	memset(n, 0, sizeof *n);
	if ((n->id = strdup(id)) == NULL)
		return report_fail(r, "out of memory");
	r->curnode = t->nnodes++;
	return 0;
}

int
sph_node_host(struct sph_report *r)
{
	char	id[SPH_NODE_ID_MAX];

	if (report_ok(r, "sph_node_host", NULL, NULL) != 0)
		return -1;
	if (snprintf(id, sizeof id, "%s;<host>", r->hostname) >=
	    (int)sizeof id)
		return report_fail(r, "host name too long");
	return sph_node(r, id);
}

int
sph_node_process(struct sph_report *r, pid_t pid)
{
	char	id[SPH_NODE_ID_MAX];

	if (report_ok(r, "sph_node_process", NULL, NULL) != 0)
		return -1;
	if (pid <= 0)
		return report_fail(r, "sph_node_process: bad pid %ld",
		    (long)pid);
	if (snprintf(id, sizeof id, "%s;%ld", r->hostname, (long)pid) >=
	    (int)sizeof id)
		return report_fail(r, "host name too long");
	return sph_node(r, id);
}

int
sph_node_container(struct sph_report *r, const char *container_id)
{
	char	id[SPH_NODE_ID_MAX];

	if (report_ok(r, "sph_node_container", NULL, NULL) != 0)
		return -1;
	if (sph_container_node_id(id, sizeof id, container_id) != 0)
		return report_fail(r, "sph_node_container: bad container id "
		    "\"%s\"", container_id != NULL ? container_id : "(null)");
	return sph_node(r, id);
}

/* ---------------------------------------------------------------------- */

/* Is key under a multicolumn prefix of t but without the separator? */
static const struct tmpl *
bad_table_key(const struct topo *t, const char *key)
{
	const struct tmpl	*tm;
	size_t			 i, len;

	for (i = 0; i < t->nt; i++) {
		tm = &t->t[i];
		if (tm->kind != T_TABLE || tm->ttype != SPH_TABLE_MULTICOLUMN)
			continue;
		len = strlen(tm->prefix);
		if (strncmp(key, tm->prefix, len) == 0 &&
		    strstr(key + len, SEP) == NULL)
			return tm;
	}
	return NULL;
}

/* A new entry of kind for key in the selected node, or NULL. */
static struct entry *
node_entry(struct sph_report *r, const char *what, enum entry_kind kind,
    const char *key, int create_only)
{
	struct node	*n;
	struct entry	*e;
	size_t		 i;

	if (report_ok(r, what, key, NULL) != 0)
		return NULL;
	if ((n = current_node(r, what)) == NULL)
		return NULL;
	if (key == NULL || *key == '\0') {
		report_fail(r, "%s: empty key", what);
		return NULL;
	}
	for (i = 0; i < n->n; i++) {
		if (n->e[i].kind == kind && strcmp(n->e[i].key, key) == 0) {
			if (!create_only)
				return &n->e[i];
			report_fail(r, "%s: \"%s\" set twice in node \"%s\"",
			    what, key, n->id);
			return NULL;
		}
	}
	if (grow(&n->e, &n->cap, n->n, sizeof *n->e) != 0) {
		report_fail(r, "out of memory");
		return NULL;
	}
	e = &n->e[n->n];
	memset(e, 0, sizeof *e);
	if ((e->key = strdup(key)) == NULL) {
		report_fail(r, "out of memory");
		return NULL;
	}
	e->kind = kind;
	n->n++;
	return e;
}

static int
latest_set(struct sph_report *r, const char *what, const char *key,
    const char *value)
{
	const struct tmpl	*tm;
	struct entry		*e;

	if (report_ok(r, what, key, value) != 0)
		return -1;
	if (value == NULL)
		return report_fail(r, "%s: NULL value", what);
	if (key != NULL && strcmp(key, "host_node_id") == 0)
		return report_fail(r, "%s: \"host_node_id\" is the probe's",
		    what);
	if (key != NULL && r->cur != NULL &&
	    (tm = bad_table_key(r->cur, key)) != NULL)
		return report_fail(r, "%s: \"%s\" is under multicolumn table "
		    "\"%s\" prefix \"%s\" but has no \"" SEP "\"", what, key,
		    tm->id, tm->prefix);
	if ((e = node_entry(r, what, E_LATEST, key, 1)) == NULL)
		return -1;
	if ((e->str = strdup(value)) == NULL)
		return report_fail(r, "out of memory");
	return 0;
}

int
sph_latest(struct sph_report *r, const char *key, const char *value)
{
	return latest_set(r, "sph_latest", key, value);
}

int
sph_latestf(struct sph_report *r, const char *key, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 n, rv;

	if (report_ok(r, "sph_latestf", NULL, NULL) != 0)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return report_fail(r, "sph_latestf: bad format");
	if ((s = malloc((size_t)n + 1)) == NULL)
		return report_fail(r, "out of memory");
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rv = latest_set(r, "sph_latestf", key, s);
	free(s);
	return rv;
}

int
sph_metric_samples(struct sph_report *r, const char *key,
    const struct sph_sample *samples, size_t n, double min, double max)
{
	struct entry	*e;
	size_t		 i;
	char		 buf[SPH_TIMESTAMP_MAX];

	if (report_ok(r, "sph_metric", key, NULL) != 0)
		return -1;
	if (samples == NULL || n == 0)
		return report_fail(r, "sph_metric: \"%s\" has no samples",
		    key != NULL ? key : "(null)");
	if (!isfinite(min) || !isfinite(max) || min > max)
		return report_fail(r, "sph_metric: \"%s\" range %g..%g is not "
		    "finite and ascending", key != NULL ? key : "(null)", min,
		    max);
	for (i = 0; i < n; i++) {
		if (!isfinite(samples[i].value))
			return report_fail(r, "sph_metric: \"%s\" value is not "
			    "finite", key != NULL ? key : "(null)");
		if (sph_rfc3339(&samples[i].date, buf, sizeof buf) != 0)
			return report_fail(r, "sph_metric: \"%s\" bad date",
			    key != NULL ? key : "(null)");
		if (i > 0 && (samples[i].date.tv_sec <
		    samples[i - 1].date.tv_sec ||
		    (samples[i].date.tv_sec == samples[i - 1].date.tv_sec &&
		    samples[i].date.tv_nsec <= samples[i - 1].date.tv_nsec)))
			return report_fail(r, "sph_metric: \"%s\" sample dates "
			    "not strictly ascending", key != NULL ? key :
			    "(null)");
	}
	if ((e = node_entry(r, "sph_metric", E_METRIC, key, 1)) == NULL)
		return -1;
	if ((e->samples = calloc(n, sizeof *e->samples)) == NULL)
		return report_fail(r, "out of memory");
	memcpy(e->samples, samples, n * sizeof *samples);
	e->nsamples = n;
	e->min = min;
	e->max = max;
	return 0;
}

int
sph_metric(struct sph_report *r, const char *key, double value, double min,
    double max)
{
	struct sph_sample	s;

	if (r == NULL)
		return -1;
	s.date = r->ts;
	s.value = value;
	return sph_metric_samples(r, key, &s, 1, min, max);
}

static int
list_add(struct sph_report *r, const char *what, enum entry_kind kind,
    const char *key, const char *value)
{
	struct entry	*e;
	size_t		 i;

	if (report_ok(r, what, key, value) != 0)
		return -1;
	if (value == NULL)
		return report_fail(r, "%s: NULL value", what);
	if ((e = node_entry(r, what, kind, key, 0)) == NULL)
		return -1;
	for (i = 0; i < e->list.n; i++)
		if (strcmp(e->list.v[i], value) == 0)
			return 0;	/* sets: duplicates collapse */
	if (grow(&e->list.v, &e->list.cap, e->list.n, sizeof *e->list.v) != 0)
		return report_fail(r, "out of memory");
	if ((e->list.v[e->list.n] = strdup(value)) == NULL)
		return report_fail(r, "out of memory");
	e->list.n++;
	return 0;
}

int
sph_set_add(struct sph_report *r, const char *key, const char *value)
{
	return list_add(r, "sph_set_add", E_SET, key, value);
}

int
sph_parent_add(struct sph_report *r, const char *topology, const char *id)
{
	if (report_ok(r, "sph_parent_add", topology, NULL) != 0)
		return -1;
	if (topology == NULL || !topology_value_valid(topology))
		return report_fail(r, "sph_parent_add: \"%s\" is not a node "
		    "topology value (e.g. \"host\")", topology != NULL ?
		    topology : "(null)");
	if (id == NULL || *id == '\0')
		return report_fail(r, "sph_parent_add: empty id");
	return list_add(r, "sph_parent_add", E_PARENT, topology, id);
}

int
sph_table_row(struct sph_report *r, const char *prefix, const char *row,
    const char *value)
{
	char	*key;
	int	 rv;

	if (report_ok(r, "sph_table_row", prefix, row) != 0)
		return -1;
	if (prefix == NULL || row == NULL || *row == '\0')
		return report_fail(r, "sph_table_row: empty prefix or row");
	if (asprintf(&key, "%s%s", prefix, row) < 0)
		return report_fail(r, "out of memory");
	rv = latest_set(r, "sph_table_row", key, value);
	free(key);
	return rv;
}

int
sph_table_cell(struct sph_report *r, const char *prefix, const char *row,
    const char *column, const char *value)
{
	char	*key;
	int	 rv;

	if (report_ok(r, "sph_table_cell", row, column) != 0)
		return -1;
	if (prefix == NULL || row == NULL || column == NULL || *row == '\0' ||
	    *column == '\0')
		return report_fail(r, "sph_table_cell: empty prefix, row or "
		    "column");
	if (strstr(row, SEP) != NULL || strstr(column, SEP) != NULL)
		return report_fail(r, "sph_table_cell: row \"%s\" or column "
		    "\"%s\" contains \"" SEP "\"", row, column);
	if (asprintf(&key, "%s%s" SEP "%s", prefix, row, column) < 0)
		return report_fail(r, "out of memory");
	rv = latest_set(r, "sph_table_cell", key, value);
	free(key);
	return rv;
}

int
sph_table_cellf(struct sph_report *r, const char *prefix, const char *row,
    const char *column, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 rv;

	if (report_ok(r, "sph_table_cellf", NULL, NULL) != 0)
		return -1;
	va_start(ap, fmt);
	rv = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (rv < 0)
		return report_fail(r, "out of memory");
	rv = sph_table_cell(r, prefix, row, column, s);
	free(s);
	return rv;
}

int
sph_node_control(struct sph_report *r, const char *id, int live)
{
	struct node	*n;
	struct entry	*e;
	const char	*probe;

	if (report_ok(r, "sph_node_control", NULL, NULL) != 0)
		return -1;
	if (!sph_id_valid(id))
		return report_fail(r, "sph_node_control: control id \"%s\" "
		    "does not match the id pattern", id != NULL ? id : "(null)");
	if ((e = node_entry(r, "sph_node_control", E_CONTROL, id, 1)) == NULL)
		return -1;
	e->live = live != 0;
	n = &r->cur->nodes[r->curnode];
	if (!n->has_controls) {
		n->has_controls = 1;
		/* Empty before the first request: do not outdate the probe's. */
		probe = sph_probe_id(r->host);
		if (*probe != '\0' &&
		    latest_set(r, "sph_node_control", "control_probe_id",
		    probe) != 0)
			return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */

/* A new template of kind id in the current topology, or NULL. */
static struct tmpl *
topo_tmpl(struct sph_report *r, const char *what, enum tmpl_kind kind,
    const char *id, const char *label)
{
	struct topo	*t;
	struct tmpl	*tm;
	size_t		 i;

	if (report_ok(r, what, id, label) != 0)
		return NULL;
	if ((t = current_topo(r, what)) == NULL)
		return NULL;
	if (id == NULL || *id == '\0' || label == NULL) {
		report_fail(r, "%s: empty id or NULL label", what);
		return NULL;
	}
	for (i = 0; i < t->nt; i++) {
		if (t->t[i].kind == kind && strcmp(t->t[i].id, id) == 0) {
			report_fail(r, "%s: \"%s\" defined twice in %s", what,
			    id, t->def->key);
			return NULL;
		}
	}
	if (grow(&t->t, &t->capt, t->nt, sizeof *t->t) != 0) {
		report_fail(r, "out of memory");
		return NULL;
	}
	tm = &t->t[t->nt];
	memset(tm, 0, sizeof *tm);
	tm->kind = kind;
	if ((tm->id = strdup(id)) == NULL || (tm->label = strdup(label)) ==
	    NULL) {
		t->nt++;	/* so that report_free releases it */
		report_fail(r, "out of memory");
		return NULL;
	}
	t->nt++;
	return tm;
}

int
sph_metadata_template(struct sph_report *r, const char *id, const char *label,
    double priority, enum sph_from from, enum sph_datatype datatype)
{
	struct tmpl	*tm;

	if (report_ok(r, "sph_metadata_template", NULL, NULL) != 0)
		return -1;
	if (!isfinite(priority))
		return report_fail(r, "sph_metadata_template: priority is not "
		    "finite");
	if ((unsigned)from > SPH_FROM_COUNTERS ||
	    (unsigned)datatype > SPH_DATATYPE_LINK)
		return report_fail(r, "sph_metadata_template: bad enum");
	if ((tm = topo_tmpl(r, "sph_metadata_template", T_METADATA, id,
	    label)) == NULL)
		return -1;
	tm->priority = priority;
	tm->from = from;
	tm->datatype = datatype;
	return 0;
}

int
sph_metric_template(struct sph_report *r, const char *id, const char *label,
    enum sph_format format, double priority)
{
	struct tmpl	*tm;

	if (report_ok(r, "sph_metric_template", NULL, NULL) != 0)
		return -1;
	if (!isfinite(priority))
		return report_fail(r, "sph_metric_template: priority is not "
		    "finite");
	if ((unsigned)format > SPH_FORMAT_FILESIZE)
		return report_fail(r, "sph_metric_template: bad format");
	if ((tm = topo_tmpl(r, "sph_metric_template", T_METRIC, id,
	    label)) == NULL)
		return -1;
	tm->priority = priority;
	tm->format = format;
	return 0;
}

int
sph_table_template(struct sph_report *r, const char *id, const char *label,
    const char *prefix, enum sph_table_type type,
    const struct sph_table_column *cols, size_t ncols)
{
	struct tmpl	*tm;
	struct topo	*t;
	struct node	*n;
	size_t		 i, j, len;

	if (report_ok(r, "sph_table_template", prefix, NULL) != 0)
		return -1;
	if (prefix == NULL || *prefix == '\0')
		return report_fail(r, "sph_table_template: empty prefix");
	if (type == SPH_TABLE_PROPERTY_LIST && ncols != 0)
		return report_fail(r, "sph_table_template: a property list "
		    "has no columns");
	if (type == SPH_TABLE_MULTICOLUMN && (cols == NULL || ncols == 0))
		return report_fail(r, "sph_table_template: a multicolumn table "
		    "needs columns");
	if (type != SPH_TABLE_PROPERTY_LIST && type != SPH_TABLE_MULTICOLUMN)
		return report_fail(r, "sph_table_template: bad type");
	for (i = 0; i < ncols; i++) {
		if (cols[i].id == NULL || *cols[i].id == '\0' ||
		    cols[i].label == NULL || strstr(cols[i].id, SEP) != NULL ||
		    (unsigned)cols[i].datatype > SPH_DATATYPE_LINK)
			return report_fail(r, "sph_table_template: bad column "
			    "%zu", i);
		if (report_ok(r, "sph_table_template", cols[i].id,
		    cols[i].label) != 0)
			return -1;
	}
	/* The check sph_latest does, for keys added before this template. */
	if (type == SPH_TABLE_MULTICOLUMN && (t = r->cur) != NULL) {
		len = strlen(prefix);
		for (i = 0; i < t->nnodes; i++) {
			n = &t->nodes[i];
			for (j = 0; j < n->n; j++) {
				if (n->e[j].kind == E_LATEST &&
				    strncmp(n->e[j].key, prefix, len) == 0 &&
				    strstr(n->e[j].key + len, SEP) == NULL)
					return report_fail(r,
					    "sph_table_template: latest \"%s\" "
					    "of node \"%s\" is under prefix "
					    "\"%s\" but has no \"" SEP "\"",
					    n->e[j].key, n->id, prefix);
			}
		}
	}
	if ((tm = topo_tmpl(r, "sph_table_template", T_TABLE, id, label)) ==
	    NULL)
		return -1;
	tm->ttype = type;
	if ((tm->prefix = strdup(prefix)) == NULL)
		return report_fail(r, "out of memory");
	if (ncols > 0 && (tm->cols = calloc(ncols, sizeof *tm->cols)) == NULL)
		return report_fail(r, "out of memory");
	for (i = 0; i < ncols; i++) {
		tm->ncols++;
		tm->cols[i].datatype = cols[i].datatype;
		if ((tm->cols[i].id = strdup(cols[i].id)) == NULL ||
		    (tm->cols[i].label = strdup(cols[i].label)) == NULL)
			return report_fail(r, "out of memory");
	}
	return 0;
}

int
sph_table_template_named(struct sph_report *r, const char *id,
    const char *label, const char *prefix, const char *name_label,
    const struct sph_table_column *cols, size_t ncols)
{
	struct sph_table_column	*all;
	struct topo		*t;
	size_t			 i;
	int			 rv;

	if (report_ok(r, "sph_table_template_named", name_label, NULL) != 0)
		return -1;
	if (name_label == NULL || *name_label == '\0' ||
	    (ncols > 0 && cols == NULL))
		return report_fail(r, "sph_table_template_named: empty name "
		    "label or no columns");
	for (i = 0; i < ncols; i++)
		if (cols[i].id != NULL &&
		    strcmp(cols[i].id, SPH_TABLE_NAME_COLUMN) == 0)
			return report_fail(r, "sph_table_template_named: column "
			    "%zu is the name column \"" SPH_TABLE_NAME_COLUMN
			    "\"", i);
	if ((all = calloc(ncols + 1, sizeof *all)) == NULL)
		return report_fail(r, "out of memory");
	all[0].id = SPH_TABLE_NAME_COLUMN;
	all[0].label = name_label;
	all[0].datatype = SPH_DATATYPE_TEXT;
	for (i = 0; i < ncols; i++)
		all[i + 1] = cols[i];
	rv = sph_table_template(r, id, label, prefix, SPH_TABLE_MULTICOLUMN,
	    all, ncols + 1);
	free(all);
	if (rv == 0 && (t = r->cur) != NULL && t->nt > 0)
		t->t[t->nt - 1].named = 1;
	return rv;
}

/*
 * Give every row of a named table (sph_table_template_named) that has no
 * name cell of its own one holding the row id, so no row reaches Scope
 * without a name.
 */
static int
name_rows(struct sph_report *r, struct topo *t, struct node *n,
    const struct tmpl *tm)
{
	const char	*k, *sep;
	char		*row, *key;
	size_t		 i, len = strlen(tm->prefix), nent = n->n;
	int		 have;

	for (i = 0; i < nent; i++) {
		k = n->e[i].key;
		if (n->e[i].kind != E_LATEST || strncmp(k, tm->prefix, len) != 0 ||
		    (sep = strstr(k + len, SEP)) == NULL)
			continue;
		if (asprintf(&key, "%.*s" SEP SPH_TABLE_NAME_COLUMN,
		    (int)(sep - k), k) < 0)
			return report_fail(r, "out of memory");
		have = 0;
		for (size_t j = 0; j < n->n && !have; j++)
			have = n->e[j].kind == E_LATEST &&
			    strcmp(n->e[j].key, key) == 0;
		if (!have) {
			if ((row = strndup(k + len, (size_t)(sep - k) - len)) ==
			    NULL) {
				free(key);
				return report_fail(r, "out of memory");
			}
			r->cur = t;
			r->curnode = (size_t)(n - t->nodes);
			have = latest_set(r, "sph_table_template_named", key,
			    row);
			free(row);
			if (have != 0) {
				free(key);
				return -1;
			}
		}
		free(key);
	}
	return 0;
}

int
sph_control_def(struct sph_report *r, const char *id, const char *human,
    const char *icon, int rank)
{
	struct tmpl	*tm;

	if (report_ok(r, "sph_control_def", icon, NULL) != 0)
		return -1;
	if (!sph_id_valid(id))
		return report_fail(r, "sph_control_def: control id \"%s\" does "
		    "not match the id pattern", id != NULL ? id : "(null)");
	if (human == NULL || *human == '\0' || icon == NULL || *icon == '\0')
		return report_fail(r, "sph_control_def: \"%s\" needs human and "
		    "icon", id);
	if ((tm = topo_tmpl(r, "sph_control_def", T_CONTROL, id, human)) ==
	    NULL)
		return -1;
	tm->rank = rank;
	if ((tm->icon = strdup(icon)) == NULL)
		return report_fail(r, "out of memory");
	return 0;
}

/* ---------------------------------------------------------------------- */

/* Emission.  Every yajl call goes through these so one check suffices. */
struct out {
	yajl_gen	g;
	yajl_gen_status	st;
};

static void
o_str(struct out *o, const char *s)
{
	if (o->st == yajl_gen_status_ok)
		o->st = yajl_gen_string(o->g, (const unsigned char *)s,
		    strlen(s));
}

/*
 * Finite doubles (checked when added) in the shortest form that reads
 * back exactly: yajl_gen_double's %.20g turns 0.1 into
 * 0.10000000000000000555.
 */
static void
o_dbl(struct out *o, double d)
{
	char	buf[32];
	int	prec, n = 0;

	if (o->st != yajl_gen_status_ok)
		return;
	if (!isfinite(d)) {
		o->st = yajl_gen_invalid_number;
		return;
	}
	for (prec = 15; prec <= 17; prec++) {
		n = snprintf(buf, sizeof buf, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (n <= 0 || (size_t)n >= sizeof buf) {
		o->st = yajl_gen_invalid_number;
		return;
	}
	o->st = yajl_gen_number(o->g, buf, (size_t)n);
}

static void
o_int(struct out *o, long long i)
{
	if (o->st == yajl_gen_status_ok)
		o->st = yajl_gen_integer(o->g, i);
}

static void
o_bool(struct out *o, int b)
{
	if (o->st == yajl_gen_status_ok)
		o->st = yajl_gen_bool(o->g, b);
}

static void
o_open(struct out *o, int map)
{
	if (o->st == yajl_gen_status_ok)
		o->st = map ? yajl_gen_map_open(o->g) :
		    yajl_gen_array_open(o->g);
}

static void
o_close(struct out *o, int map)
{
	if (o->st == yajl_gen_status_ok)
		o->st = map ? yajl_gen_map_close(o->g) :
		    yajl_gen_array_close(o->g);
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
emit_node(struct out *o, const struct topo *t, struct node *n,
    const char *stamp)
{
	struct entry	*e;
	char		 date[SPH_TIMESTAMP_MAX];
	size_t		 i, j;
	int		 k, open;

	o_str(o, n->id);
	o_open(o, 1);
	o_str(o, "id");
	o_str(o, n->id);
	o_str(o, "topology");
	o_str(o, t->def->value);
	for (k = 0; k < E_NKINDS; k++) {
		open = 0;
		for (i = 0; i < n->n; i++) {
			e = &n->e[i];
			if ((int)e->kind != k)
				continue;
			if (!open) {
				o_str(o, entry_section[k]);
				o_open(o, 1);
				open = 1;
			}
			o_str(o, e->key);
			switch (e->kind) {
			case E_LATEST:
			case E_CONTROL:
				o_open(o, 1);
				o_str(o, "timestamp");
				o_str(o, stamp);
				o_str(o, "value");
				if (e->kind == E_LATEST)
					o_str(o, e->str);
				else {
					o_open(o, 1);
					o_str(o, "dead");
					o_bool(o, !e->live);
					o_close(o, 1);
				}
				o_close(o, 1);
				break;
			case E_METRIC:
				o_open(o, 1);
				o_str(o, "samples");
				o_open(o, 0);
				for (j = 0; j < e->nsamples; j++) {
					/* Checked when added. */
					sph_rfc3339(&e->samples[j].date, date,
					    sizeof date);
					o_open(o, 1);
					o_str(o, "date");
					o_str(o, date);
					o_str(o, "value");
					o_dbl(o, e->samples[j].value);
					o_close(o, 1);
				}
				o_close(o, 0);
				o_str(o, "min");
				o_dbl(o, e->min);
				o_str(o, "max");
				o_dbl(o, e->max);
				o_close(o, 1);
				break;
			case E_SET:
			case E_PARENT:
				qsort(e->list.v, e->list.n, sizeof *e->list.v,
				    str_cmp);
				o_open(o, 0);
				for (j = 0; j < e->list.n; j++)
					o_str(o, e->list.v[j]);
				o_close(o, 0);
				break;
			default:
				break;
			}
		}
		if (open)
			o_close(o, 1);
	}
	o_close(o, 1);
}

static const char *
datatype_name(enum sph_datatype d)
{
	static const char *const names[] = {
		"", "number", "ip", "datetime", "duration", "link"
	};

	return names[d];
}

static void
emit_tmpl(struct out *o, const struct tmpl *tm)
{
	static const char *const from[] = { "", "latest", "sets", "counters" };
	static const char *const fmt[] = { "", "integer", "percent",
	    "filesize" };
	size_t	i;

	o_str(o, tm->id);
	o_open(o, 1);
	o_str(o, "id");
	o_str(o, tm->id);
	o_str(o, tm->kind == T_CONTROL ? "human" : "label");
	o_str(o, tm->label);
	switch (tm->kind) {
	case T_CONTROL:
		o_str(o, "icon");
		o_str(o, tm->icon);
		o_str(o, "rank");
		o_int(o, tm->rank);
		break;
	case T_METADATA:
		o_str(o, "priority");
		o_dbl(o, tm->priority);
		if (tm->from != SPH_FROM_ANY) {
			o_str(o, "from");
			o_str(o, from[tm->from]);
		}
		if (tm->datatype != SPH_DATATYPE_TEXT) {
			o_str(o, "dataType");
			o_str(o, datatype_name(tm->datatype));
		}
		break;
	case T_METRIC:
		o_str(o, "format");
		o_str(o, fmt[tm->format]);
		o_str(o, "priority");
		o_dbl(o, tm->priority);
		break;
	case T_TABLE:
		o_str(o, "prefix");
		o_str(o, tm->prefix);
		o_str(o, "type");
		o_str(o, tm->ttype == SPH_TABLE_MULTICOLUMN ?
		    "multicolumn-table" : "property-list");
		if (tm->ncols > 0) {
			o_str(o, "columns");
			o_open(o, 0);
			for (i = 0; i < tm->ncols; i++) {
				o_open(o, 1);
				o_str(o, "id");
				o_str(o, tm->cols[i].id);
				o_str(o, "label");
				o_str(o, tm->cols[i].label);
				o_str(o, "dataType");
				o_str(o, datatype_name(tm->cols[i].datatype));
				o_close(o, 1);
			}
			o_close(o, 0);
		}
		break;
	default:
		break;
	}
	o_close(o, 1);
}

int
sph_report_end(struct sph_report *r)
{
	struct out	 o;
	struct topo	*t;
	size_t		 i, j;
	int		 k, open;

	if (r == NULL)
		return -1;
	for (i = 0; i < r->ntopos && r->err == NULL; i++) {
		t = &r->topos[i];
		for (k = 0; k < (int)t->nt; k++)
			if (t->t[k].kind == T_TABLE && t->t[k].named)
				for (j = 0; j < t->nnodes; j++)
					if (name_rows(r, t, &t->nodes[j],
					    &t->t[k]) != 0)
						break;
	}
	if (r->err != NULL) {
		report_free(r);
		return -1;
	}
	o.g = r->gen;
	o.st = yajl_gen_status_ok;
	for (i = 0; i < r->ntopos; i++) {
		t = &r->topos[i];
		o_str(&o, t->def->key);
		o_open(&o, 1);
		if (t->nnodes > 0) {
			o_str(&o, "nodes");
			o_open(&o, 1);
			for (j = 0; j < t->nnodes; j++)
				emit_node(&o, t, &t->nodes[j], r->stamp);
			o_close(&o, 1);
		}
		for (k = 0; k < T_NKINDS; k++) {
			open = 0;
			for (j = 0; j < t->nt; j++) {
				if ((int)t->t[j].kind != k)
					continue;
				if (!open) {
					o_str(&o, tmpl_section[k]);
					o_open(&o, 1);
					open = 1;
				}
				emit_tmpl(&o, &t->t[j]);
			}
			if (open)
				o_close(&o, 1);
		}
		o_close(&o, 1);
	}
	if (o.st != yajl_gen_status_ok) {
		report_fail(r, "yajl error %d while writing the report "
		    "(was the top-level object open?)", (int)o.st);
		report_free(r);
		return -1;
	}
	report_free(r);
	return 0;
}
