/*
 * prometheus.c - a Prometheus exporter's series on Scope's hosts and
 * containers.
 *
 * Every interval the module fetches the exposition at the "url" param
 * (prom-http.c), parses it (prom-parse.c) and maps the series the
 * operator named: "metric.<name> host [options]" sums the matching
 * series of <name> onto the host node, "metric.<name> container:<label>
 * [options]" onto the container whose id the label holds.  Counters
 * become per-second rates from two scrapes; gauges are taken as they
 * are; NaN, infinities and stale series are dropped.  The mappings are
 * read once, at init, from the params that begin with "metric.".
 * See scope-plugin-prometheus(8).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fields.h"
#include "prom-http.h"
#include "prom-parse.h"
#include "scope-plugin.h"
#include "strmap.h"

#define DEFAULT_MAX_SIZE	(16 * 1024 * 1024)
#define DEFAULT_STALE_S		300	/* Prometheus's own lookback */
#define WHERE_MAX		8
#define SERIES_MAX		100000	/* counters followed for rates */
#define NAME_MAX_LEN		200

struct where {
	char	label[64];
	char	value[FIELDS_TEXT_MAX];
	int	negate;
};

/* What one "metric.<name>" param says. */
struct mapping {
	char			name[NAME_MAX_LEN + 1];
	enum target_kind	kind;
	char			cid_label[64];	/* containers: the label */
	struct series_spec	spec;
	struct where		where[WHERE_MAX];
	size_t			nwhere;
	int			templated[2];	/* host, container */
	unsigned		seen_gen;	/* last scrape that had it */
	int			warned;		/* missing: said once */
};

/* The last value of a counter series, for its rate. */
struct series {
	double		value;
	double		at;		/* scrape time, monotonic seconds */
	unsigned	gen;
};

/* One metric on one node: the sum over its series this scrape. */
struct agg {
	struct mapping	*m;
	char		 cid[65];	/* "" for the host */
	double		 sum;
	int		 counter;
};

struct prom {
	struct sph_host	*host;
	struct prom_url	 url;
	struct strmap	 names;		/* name -> mapping */
	struct strmap	 series;	/* series key -> struct series */
	unsigned	 gen;
	/* During one scrape. */
	struct strmap	 aggs;		/* "<name>\x1f<cid>" -> struct agg */
	double		 now;
	time_t		 wall;
	unsigned	 stale_s;
	unsigned	 dropped_nonfinite, dropped_stale, dropped_noid;
	char		 err[512];
};

static double
mono_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * The 64-hex container id in a label value: the value itself, or after
 * "docker://" (and other runtimes' "<name>://"), or the last component of
 * a cgroup path, cAdvisor style: "/docker/<id>",
 * "/system.slice/docker-<id>.scope", "/kubepods/.../cri-containerd-<id>".
 */
static int
container_id(const char *v, char out[65])
{
	const char	*s, *p;
	size_t		 n;

	if ((s = strstr(v, "://")) != NULL)
		v = s + 3;
	if ((s = strrchr(v, '/')) != NULL)
		v = s + 1;
	if ((p = strrchr(v, '-')) != NULL)
		v = p + 1;
	n = strspn(v, "0123456789abcdef");
	if (n != 64 || (v[n] != '\0' && strcmp(v + n, ".scope") != 0))
		return -1;
	memcpy(out, v, 64);
	out[64] = '\0';
	return 0;
}

/* Parses the value of a "metric.<name>" param. */
static int
mapping_parse(struct mapping *m, const char *value, char *err, size_t errlen)
{
	char		 copy[1024], *f[FIELDS_MAX], *eq;
	const char	*ferr;
	struct target	 t;
	struct where	*w;
	int		 nf, i, rc;

	if (strlen(value) >= sizeof copy) {
		snprintf(err, errlen, "too long");
		return -1;
	}
	strcpy(copy, value);
	if ((nf = fields_split(copy, f, FIELDS_MAX, &ferr)) < 0) {
		snprintf(err, errlen, "%s", ferr);
		return -1;
	}
	if (nf == 0) {
		snprintf(err, errlen, "empty: give host or container:LABEL");
		return -1;
	}
	if (target_parse(f[0], &t, err, errlen) != 0)
		return -1;
	if (t.kind == TARGET_PROCESS) {
		snprintf(err, errlen, "only host and container:LABEL");
		return -1;
	}
	m->kind = t.kind;
	if (t.kind == TARGET_CONTAINER) {
		if (strlen(t.arg) >= sizeof m->cid_label) {
			snprintf(err, errlen, "label name too long");
			return -1;
		}
		strcpy(m->cid_label, t.arg);
	}
	for (i = 1; i < nf; i++) {
		if (strncmp(f[i], "where=", 6) == 0) {
			if (m->nwhere == WHERE_MAX) {
				snprintf(err, errlen, "at most %d where=",
				    WHERE_MAX);
				return -1;
			}
			w = &m->where[m->nwhere];
			if ((eq = strchr(f[i] + 6, '=')) == NULL ||
			    eq == f[i] + 6 || (eq[-1] == '!' && eq == f[i] + 7)) {
				snprintf(err, errlen, "where=LABEL=VALUE or "
				    "where=LABEL!=VALUE");
				return -1;
			}
			w->negate = eq[-1] == '!';
			*(eq - w->negate) = '\0';
			if (strlen(f[i] + 6) >= sizeof w->label ||
			    strlen(eq + 1) >= sizeof w->value) {
				snprintf(err, errlen, "where= too long");
				return -1;
			}
			strcpy(w->label, f[i] + 6);
			strcpy(w->value, eq + 1);
			m->nwhere++;
			continue;
		}
		if ((rc = spec_option(&m->spec, f[i], err, errlen)) == 1) {
			snprintf(err, errlen, "unknown option \"%.40s\"", f[i]);
			return -1;
		}
		if (rc != 0)
			return -1;
	}
	if (m->spec.datatype != SPH_DATATYPE_TEXT) {
		snprintf(err, errlen, "type= is not for metrics");
		return -1;
	}
	return 0;
}

/*
 * The mappings, from every "metric.<name>" param.  One that does not
 * parse is logged and left out; the others still work.
 */
static int
mappings_load(struct prom *pr)
{
	struct mapping	*m;
	const char	*key, *v, *name;
	char		 err[256];
	size_t		 cur = 0;
	int		 rc;

	while ((rc = sph_param_next(pr->host, "metric.", &cur, &key, &v)) == 1) {
		name = key + 7;
		if (*name == '\0' || strlen(name) > NAME_MAX_LEN) {
			sph_log(pr->host, SPH_LOG_ERR, "param %s: the metric "
			    "name must be 1 to %d bytes; ignored", key,
			    NAME_MAX_LEN);
			continue;
		}
		if ((m = calloc(1, sizeof *m)) == NULL)
			return -1;
		strcpy(m->name, name);
		if (mapping_parse(m, v, err, sizeof err) != 0) {
			sph_log(pr->host, SPH_LOG_ERR, "param %s: %s; "
			    "ignored", key, err);
			free(m);
			continue;
		}
		/* A host sends each key once; were it not so, the last wins. */
		free(strmap_get(&pr->names, name));
		if (strmap_put(&pr->names, name, m) != 0) {
			free(m);
			return -1;
		}
	}
	if (rc == -1) {
		sph_log(pr->host, SPH_LOG_ERR, "the host cannot list this "
		    "module's params (older than the module)");
		return -1;
	}
	if (pr->names.len == 0)
		sph_log(pr->host, SPH_LOG_WARNING, "no param metric.<name>: "
		    "nothing is mapped, see scope-plugin-prometheus(8)");
	return 0;
}

/* The operator's mapping for name; NULL if none. */
static struct mapping *
mapping_for(struct prom *pr, const char *name)
{
	return strmap_get(&pr->names, name);
}

/* Says once per name which mapped names the exposition lacks. */
static int
warn_missing(const char *key, void *value, void *arg)
{
	struct mapping	*m = value;
	struct prom	*pr = arg;

	(void)key;
	if (m->seen_gen != pr->gen && !m->warned) {
		sph_log(pr->host, SPH_LOG_WARNING, "param metric.%s: no series "
		    "%s in the exposition at %s", m->name, m->name,
		    sph_param(pr->host, "url"));
		m->warned = 1;
	}
	return 0;
}

static const char *
label_of(const struct prom_sample *s, const char *name)
{
	size_t	i;

	for (i = 0; i < s->nlabels; i++)
		if (strcmp(s->labels[i].name, name) == 0)
			return s->labels[i].value;
	return NULL;
}

static int
where_ok(const struct mapping *m, const struct prom_sample *s)
{
	const char	*v;
	size_t		 i;
	int		 eq;

	for (i = 0; i < m->nwhere; i++) {
		v = label_of(s, m->where[i].label);
		eq = strcmp(v != NULL ? v : "", m->where[i].value) == 0;
		if (eq == m->where[i].negate)
			return 0;
	}
	return 1;
}

/* name, then each label and value sorted by label name. */
static int
series_key(const struct prom_sample *s, char *buf, size_t len)
{
	const struct prom_label	*sorted[PROM_LABELS_MAX], *t;
	size_t			 i, j, off;
	int			 n;

	for (i = 0; i < s->nlabels; i++) {
		t = &s->labels[i];
		for (j = i; j > 0 && strcmp(sorted[j - 1]->name, t->name) > 0;
		    j--)
			sorted[j] = sorted[j - 1];
		sorted[j] = t;
	}
	if ((n = snprintf(buf, len, "%s", s->name)) < 0 || (size_t)n >= len)
		return -1;
	off = (size_t)n;
	for (i = 0; i < s->nlabels; i++) {
		n = snprintf(buf + off, len - off, "\x1f%s\x1e%s",
		    sorted[i]->name, sorted[i]->value);
		if (n < 0 || (size_t)n >= len - off)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

/* A counter's rate since the last scrape; 0 with *rate set, or -1. */
static int
counter_rate(struct prom *pr, const struct prom_sample *s, double *rate)
{
	struct series	*se;
	char		 key[8192];
	int		 ok = 0;

	if (series_key(s, key, sizeof key) != 0)
		return -1;
	if ((se = strmap_get(&pr->series, key)) == NULL) {
		if (pr->series.len >= SERIES_MAX ||
		    (se = calloc(1, sizeof *se)) == NULL)
			return -1;
		if (strmap_put(&pr->series, key, se) != 0) {
			free(se);
			return -1;
		}
	} else if (se->gen != pr->gen && s->value >= se->value &&
	    pr->now > se->at) {
		/* A value that went down is a reset: no rate this time. */
		*rate = (s->value - se->value) / (pr->now - se->at);
		ok = 1;
	}
	se->value = s->value;
	se->at = pr->now;
	se->gen = pr->gen;
	return ok ? 0 : -1;
}

static int
on_sample(void *arg, const struct prom_sample *s)
{
	struct prom	*pr = arg;
	struct mapping	*m;
	struct agg	*a;
	char		 cid[65] = "", key[NAME_MAX_LEN + 80];
	const char	*v;
	double		 value;

	if ((m = mapping_for(pr, s->name)) == NULL)
		return 0;
	m->seen_gen = pr->gen;
	if (!where_ok(m, s))
		return 0;
	if (!isfinite(s->value)) {
		pr->dropped_nonfinite++;
		return 0;
	}
	if (s->has_timestamp && pr->stale_s > 0 &&
	    s->timestamp_ms / 1000 + (long long)pr->stale_s < (long long)pr->wall) {
		pr->dropped_stale++;
		return 0;
	}
	if (m->kind == TARGET_CONTAINER) {
		if ((v = label_of(s, m->cid_label)) == NULL ||
		    container_id(v, cid) != 0) {
			pr->dropped_noid++;
			return 0;
		}
	}
	value = s->value;
	if (s->kind == PROM_COUNTER && counter_rate(pr, s, &value) != 0)
		value = NAN;	/* the node still gets a rate next time */
	snprintf(key, sizeof key, "%s\x1f%s", s->name, cid);
	if ((a = strmap_get(&pr->aggs, key)) == NULL) {
		if ((a = calloc(1, sizeof *a)) == NULL ||
		    strmap_put(&pr->aggs, key, a) != 0) {
			free(a);
			snprintf(pr->err, sizeof pr->err, "out of memory");
			return 1;
		}
		a->m = m;
		a->sum = NAN;
		strcpy(a->cid, cid);
		a->counter = s->kind == PROM_COUNTER;
	}
	if (!isnan(value))
		a->sum = isnan(a->sum) ? value : a->sum + value;
	return 0;
}

static int
free_value(const char *key, void *value, void *arg)
{
	(void)key;
	(void)arg;
	free(value);
	return 1;
}

static int
prom_init(struct sph_host *host, void **state)
{
	const char	*url = sph_param(host, "url");
	struct prom	*pr;
	char		 err[256];

	if (url == NULL || *url == '\0') {
		sph_log(host, SPH_LOG_ERR, "param url is not set: give the "
		    "exporter's address, see scope-plugin-prometheus(8)");
		return -1;
	}
	if ((pr = calloc(1, sizeof *pr)) == NULL) {
		sph_log(host, SPH_LOG_ERR, "out of memory");
		return -1;
	}
	if (prom_url_parse(url, &pr->url, err, sizeof err) != 0) {
		sph_log(host, SPH_LOG_ERR, "param url %s: %s", url, err);
		free(pr);
		return -1;
	}
	pr->host = host;
	if (mappings_load(pr) != 0) {
		strmap_sweep(&pr->names, free_value, NULL);
		strmap_clear(&pr->names);
		free(pr);
		return -1;
	}
	param_timeout_check(host);
	*state = pr;
	return 0;
}

static int
drop_unseen(const char *key, void *value, void *arg)
{
	struct series	*se = value;
	struct prom	*pr = arg;

	(void)key;
	if (se->gen == pr->gen)
		return 0;
	free(se);
	return 1;
}

struct emit_ctx {
	struct sph_report	*r;
	const char		*id;	/* plugin id, prefixed to keys */
};

/* Writes one aggregate (a strmap_sweep() callback that frees it). */
static int
emit(const char *key, void *value, void *arg)
{
	struct agg		*a = value;
	struct emit_ctx		*ec = arg;
	struct mapping		*m = a->m;
	char			 id[NAME_MAX_LEN + 80], label[FIELDS_TEXT_MAX + 8];
	int			 k = m->kind == TARGET_CONTAINER;
	double			 min, max;

	(void)key;
	if (!isnan(a->sum)) {
		snprintf(id, sizeof id, "%s.%s", ec->id, m->name);
		sph_topology(ec->r, k ? "Container" : "Host");
		if (!m->templated[k]) {
			if (m->spec.has_label)
				snprintf(label, sizeof label, "%s",
				    m->spec.label);
			else
				snprintf(label, sizeof label, "%s%s", m->name,
				    a->counter ? " /s" : "");
			sph_metric_template(ec->r, id, label, m->spec.format,
			    m->spec.has_priority ? m->spec.priority : 5);
			m->templated[k] = 1;
		}
		if (k)
			sph_node_container(ec->r, a->cid);
		else
			sph_node_host(ec->r);
		spec_range(&m->spec, a->sum, &min, &max);
		sph_metric(ec->r, id, a->sum, min, max);
	}
	free(a);
	return 1;
}

static int
clear_templated(const char *key, void *value, void *arg)
{
	struct mapping	*m = value;

	(void)key;
	(void)arg;
	m->templated[0] = m->templated[1] = 0;
	return 0;
}

static int
prom_collect(void *state, yajl_gen gen)
{
	struct prom		*pr = state;
	struct sph_host		*host = pr->host;
	struct sph_report	*r;
	struct emit_ctx		 ec;
	char			*body, err[512];
	size_t			 len;
	unsigned		 timeout;
	size_t			 max;
	int			 rc;

	timeout = param_timeout(host);
	max = param_uint(host, "max_size", DEFAULT_MAX_SIZE, 1024,
	    256 * 1024 * 1024);
	pr->stale_s = param_uint(host, "stale", DEFAULT_STALE_S, 0, 86400);
	if (prom_http_get(&pr->url, timeout, max, &body, &len, err,
	    sizeof err) != 0) {
		sph_log(host, SPH_LOG_ERR, "%s: %s", sph_param(host, "url"), err);
		return -1;
	}
	pr->gen++;
	pr->now = mono_s();
	pr->wall = time(NULL);
	pr->err[0] = '\0';
	pr->dropped_nonfinite = pr->dropped_stale = pr->dropped_noid = 0;
	rc = prom_parse(body, len, on_sample, pr, err, sizeof err);
	free(body);
	if (rc != 0) {
		strmap_sweep(&pr->aggs, free_value, NULL);
		sph_log(host, SPH_LOG_ERR, "%s: %s", sph_param(host, "url"),
		    rc == -1 ? err : pr->err);
		return -1;
	}
	/* Counters that vanished start over when they come back. */
	strmap_sweep(&pr->series, drop_unseen, pr);
	strmap_sweep(&pr->names, warn_missing, pr);
	if (pr->dropped_nonfinite + pr->dropped_stale + pr->dropped_noid > 0)
		sph_log(host, SPH_LOG_DEBUG, "dropped %u NaN/Inf, %u stale and "
		    "%u series without a container id", pr->dropped_nonfinite,
		    pr->dropped_stale, pr->dropped_noid);
	if ((r = sph_report_begin(host, gen)) == NULL) {
		strmap_sweep(&pr->aggs, free_value, NULL);
		return -1;
	}
	strmap_sweep(&pr->names, clear_templated, NULL);
	ec.r = r;
	ec.id = sph_module_id(host) != NULL ? sph_module_id(host) :
	    "prometheus";
	strmap_sweep(&pr->aggs, emit, &ec);
	return sph_report_end(r);
}

static void
prom_fini(void *state)
{
	struct prom	*pr = state;

	strmap_sweep(&pr->names, free_value, NULL);
	strmap_clear(&pr->names);
	strmap_sweep(&pr->series, free_value, NULL);
	strmap_clear(&pr->series);
	strmap_sweep(&pr->aggs, free_value, NULL);
	strmap_clear(&pr->aggs);
	free(pr);
}

SPH_MODULE(
	.id = "prometheus",
	.label = "Prometheus",
	.description = "Shows a Prometheus exporter's series on hosts and "
	    "containers",
	.interval_ms = 5000,
	.flags = SPH_MODULE_INSTANCES_ONLY,
	.init = prom_init,
	.collect = prom_collect,
	.fini = prom_fini,
);
