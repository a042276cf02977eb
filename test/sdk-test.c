/*
 * sdk-test.c - unit tests of the report SDK (lib/report.c, lib/paths.c).
 *
 * Each misuse must make its call return -1, make sph_report_end() return
 * -1 and leave the generator exactly as it was (no broken JSON).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "sph-host.h"
#include "utf8.h"

static int	failures;
static int	checks;

#define CHECK(c) do {							\
	checks++;							\
	if (!(c)) {							\
		failures++;						\
		fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); \
	}								\
} while (0)

static struct timespec	fake_now = { 1700000000, 250000000 };

static void
t_now(void *ctx, struct timespec *ts)
{
	(void)ctx;
	*ts = fake_now;
}

static const char *
t_param(void *ctx, const char *key)
{
	(void)ctx;
	return strcmp(key, "proc_root") == 0 ? "/fixture/proc" : NULL;
}

static void
t_log(void *ctx, int level, const char *line)
{
	(void)ctx;
	(void)level;
	(void)line;	/* misuse tests log on purpose; keep quiet */
}

static struct sph_host	host = {
	.size = sizeof(struct sph_host), .id = "sdk-test", .log = t_log, .param = t_param, .now = t_now,
	.probe_id = "5f2a9c", .ctx = NULL
};

/* A generator in the state collect() gets it: top-level map open. */
static yajl_gen
gen_new(void)
{
	yajl_gen	g;

	if ((g = yajl_gen_alloc(NULL)) == NULL) {
		perror("yajl_gen_alloc");
		exit(99);
	}
	yajl_gen_config(g, yajl_gen_validate_utf8, 1);
	yajl_gen_map_open(g);
	return g;
}

static size_t
gen_len(yajl_gen g)
{
	const unsigned char	*buf;
	size_t			 len;

	yajl_gen_get_buf(g, &buf, &len);
	return len;
}

/* Close the document and parse it; the caller frees. */
static yajl_val
gen_parse(yajl_gen g)
{
	const unsigned char	*buf;
	size_t			 len;
	char			 err[256], *s;
	yajl_val		 v;

	CHECK(yajl_gen_map_close(g) == yajl_gen_status_ok);
	yajl_gen_get_buf(g, &buf, &len);
	if ((s = strndup((const char *)buf, len)) == NULL)
		exit(99);
	v = yajl_tree_parse(s, err, sizeof err);
	if (v == NULL)
		fprintf(stderr, "parse: %s\n%s\n", err, s);
	free(s);
	return v;
}

static yajl_val
get(yajl_val v, const char *path)
{
	const char	*p[16];
	char		 buf[512], *tok, *save;
	int		 n = 0;

	snprintf(buf, sizeof buf, "%s", path);
	for (tok = strtok_r(buf, "/", &save); tok != NULL && n < 15;
	    tok = strtok_r(NULL, "/", &save))
		p[n++] = tok;
	p[n] = NULL;
	return yajl_tree_get(v, p, yajl_t_any);
}

static int
str_is(yajl_val v, const char *path, const char *want)
{
	yajl_val	x = get(v, path);

	if (!YAJL_IS_STRING(x)) {
		fprintf(stderr, "  %s: not a string\n", path);
		return 0;
	}
	if (strcmp(x->u.string, want) != 0) {
		fprintf(stderr, "  %s: \"%s\" != \"%s\"\n", path,
		    x->u.string, want);
		return 0;
	}
	return 1;
}

static int
num_is(yajl_val v, const char *path, double want)
{
	yajl_val	x = get(v, path);

	return YAJL_IS_NUMBER(x) && YAJL_GET_DOUBLE(x) == want;
}

static int
int_is(yajl_val v, const char *path, long long want)
{
	yajl_val	x = get(v, path);

	return YAJL_IS_INTEGER(x) && YAJL_GET_INTEGER(x) == want;
}

/* Array at path equals want[0..n). */
static int
strs_are(yajl_val v, const char *path, const char *const *want, size_t n)
{
	yajl_val	x = get(v, path);
	size_t		i;

	if (!YAJL_IS_ARRAY(x) || x->u.array.len != n)
		return 0;
	for (i = 0; i < n; i++)
		if (!YAJL_IS_STRING(x->u.array.values[i]) ||
		    strcmp(x->u.array.values[i]->u.string, want[i]) != 0)
			return 0;
	return 1;
}

/* The strict UTF-8 check the SDK and the host share (lib/utf8.h). */
static void
test_utf8(void)
{
	CHECK(sph_utf8_valid(""));
	CHECK(sph_utf8_valid("plain ASCII"));
	CHECK(sph_utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
	CHECK(sph_utf8_valid("\xf4\x8f\xbf\xbf"));		/* U+10FFFF */
	CHECK(!sph_utf8_valid("\xc0\x80"));		/* overlong NUL */
	CHECK(!sph_utf8_valid("\xe0\x80\xaf"));		/* overlong / */
	CHECK(!sph_utf8_valid("\xf0\x80\x80\xaf"));	/* overlong / */
	CHECK(!sph_utf8_valid("\xed\xa0\x80"));		/* surrogate */
	CHECK(!sph_utf8_valid("\xf4\x90\x80\x80"));	/* above U+10FFFF */
	CHECK(!sph_utf8_valid("\xe2\x82"));		/* truncated */
	CHECK(!sph_utf8_valid("\x80"));			/* lone continuation */
	CHECK(!sph_utf8_valid("\xff"));
}

static void
test_ids(void)
{
	char	buf[SPH_NODE_ID_MAX];

	CHECK(sph_id_valid("iowait"));
	CHECK(sph_id_valid("ok-Name2"));
	CHECK(sph_id_valid("a-b-c"));
	CHECK(!sph_id_valid(""));
	CHECK(!sph_id_valid(NULL));
	CHECK(!sph_id_valid("bad_name"));
	CHECK(!sph_id_valid("a--b"));
	CHECK(!sph_id_valid("trail-"));
	CHECK(!sph_id_valid("-lead"));
	CHECK(!sph_id_valid("dot.ted"));
	CHECK(!sph_id_valid("sp ace"));
	CHECK(!sph_id_valid("a~b"));

	CHECK(strcmp(sph_topology_value("Host"), "host") == 0);
	CHECK(strcmp(sph_topology_value("ContainerImage"),
	    "container_image") == 0);
	CHECK(strcmp(sph_topology_value("PersistentVolumeClaim"),
	    "persistent_volume_claim") == 0);
	CHECK(sph_topology_value("host") == NULL);
	CHECK(sph_topology_value("Plugins") == NULL);

	setenv("SCOPE_HOSTNAME", "node-a", 1);
	CHECK(sph_hostname(buf, sizeof buf) == 0 &&
	    strcmp(buf, "node-a") == 0);
	CHECK(sph_host_node_id(buf, sizeof buf) == 0 &&
	    strcmp(buf, "node-a;<host>") == 0);
	CHECK(sph_process_node_id(buf, sizeof buf, 4242) == 0 &&
	    strcmp(buf, "node-a;4242") == 0);
	CHECK(sph_process_node_id(buf, sizeof buf, 0) == -1);
	CHECK(sph_container_node_id(buf, sizeof buf, "0123abcd") == 0 &&
	    strcmp(buf, "0123abcd;<container>") == 0);
	CHECK(sph_container_node_id(buf, sizeof buf, "x;y") == -1);
	CHECK(sph_host_node_id(buf, 8) == -1);	/* truncation is an error */
	/* Without the variable: gethostname(), whatever it is. */
	unsetenv("SCOPE_HOSTNAME");
	CHECK(sph_hostname(buf, sizeof buf) == 0 && buf[0] != '\0');
	setenv("SCOPE_HOSTNAME", "node-a", 1);
}

static void
test_time(void)
{
	char		buf[SPH_TIMESTAMP_MAX];
	struct timespec	ts = { 1700000000, 0 };

	CHECK(sph_rfc3339(&ts, buf, sizeof buf) == 0 &&
	    strcmp(buf, "2023-11-14T22:13:20Z") == 0);
	ts.tv_nsec = 250000000;
	CHECK(sph_rfc3339(&ts, buf, sizeof buf) == 0 &&
	    strcmp(buf, "2023-11-14T22:13:20.25Z") == 0);
	ts.tv_nsec = 1;
	CHECK(sph_rfc3339(&ts, buf, sizeof buf) == 0 &&
	    strcmp(buf, "2023-11-14T22:13:20.000000001Z") == 0);
	ts.tv_sec = 0;
	ts.tv_nsec = 0;
	CHECK(sph_rfc3339(&ts, buf, sizeof buf) == 0 &&
	    strcmp(buf, "1970-01-01T00:00:00Z") == 0);
	ts.tv_nsec = 1000000000;
	CHECK(sph_rfc3339(&ts, buf, sizeof buf) == -1);
	ts.tv_nsec = 0;
	CHECK(sph_rfc3339(&ts, buf, 10) == -1);
}

static void
test_paths(void)
{
	char	buf[64];

	CHECK(sph_root_path(&host, "proc_root", "/proc", "stat", buf,
	    sizeof buf) == 0 && strcmp(buf, "/fixture/proc/stat") == 0);
	CHECK(sph_root_path(&host, "sys_root", "/sys", "/block", buf,
	    sizeof buf) == 0 && strcmp(buf, "/sys/block") == 0);
	CHECK(sph_root_path(&host, "sys_root", "/sys", "block", buf, 6) == -1);
	CHECK(sph_root_read(&host, "proc_root", "/proc", "stat", buf,
	    sizeof buf) == -1);	/* /fixture does not exist */
}

/* A report using every helper, then its JSON checked member by member. */
static void
test_full(void)
{
	static const struct sph_table_column cols[] = {
		{ "rx", "RX", SPH_DATATYPE_NUMBER },
		{ "tx", "TX", SPH_DATATYPE_TEXT },
	};
	static const char *const set_want[] = { "a", "b", "c" };
	static const char *const parent_want[] = { "node-a;<host>" };
	struct sph_sample	 s[2] = {
		{ { 1700000000, 0 }, 1.5 }, { { 1700000001, 0 }, 2.5 }
	};
	struct sph_report	*r;
	yajl_gen		 g = gen_new();
	yajl_val		 v;
	char			 id[SPH_NODE_ID_MAX];

	CHECK((r = sph_report_begin(&host, g)) != NULL);
	CHECK(strcmp(sph_report_hostname(r), "node-a") == 0);
	CHECK(sph_report_time(r)->tv_sec == fake_now.tv_sec);
	CHECK(sph_topology(r, "Host") == 0);
	CHECK(sph_metric_template(r, "load", "Load", SPH_FORMAT_NONE, 0.1) ==
	    0);
	CHECK(sph_table_template(r, "ifs", "Interfaces", "if-",
	    SPH_TABLE_MULTICOLUMN, cols, 2) == 0);
	CHECK(sph_table_template(r, "props", "Props", "prop-",
	    SPH_TABLE_PROPERTY_LIST, NULL, 0) == 0);
	CHECK(sph_control_def(r, "switchToIdle", "Switch", "fa fa-gears", 1) ==
	    0);
	CHECK(sph_metadata_template(r, "os", "OS", 1.5, SPH_FROM_LATEST,
	    SPH_DATATYPE_TEXT) == 0);
	CHECK(sph_node_host(r) == 0);
	CHECK(sph_metric(r, "load", 0.1, 0, 4) == 0);
	CHECK(sph_latest(r, "os", "Linux \"quoted\" <x>") == 0);
	CHECK(sph_table_cellf(r, "if-", "eth0", "rx", "%d", 100) == 0);
	CHECK(sph_table_cell(r, "if-", "eth0", "tx", "200") == 0);
	CHECK(sph_table_row(r, "prop-", "kernel", "6.1") == 0);
	CHECK(sph_node_control(r, "switchToIdle", 1) == 0);
	/* A process node with a sorted, unique set and a host parent. */
	CHECK(sph_topology(r, "Process") == 0);
	CHECK(sph_node_process(r, 42) == 0);
	CHECK(sph_set_add(r, "tags", "c") == 0);
	CHECK(sph_set_add(r, "tags", "a") == 0);
	CHECK(sph_set_add(r, "tags", "b") == 0);
	CHECK(sph_set_add(r, "tags", "a") == 0);
	CHECK(sph_host_node_id(id, sizeof id) == 0);
	CHECK(sph_parent_add(r, "host", id) == 0);
	CHECK(sph_parent_add(r, "host", id) == 0);
	CHECK(sph_metric_samples(r, "hist", s, 2, 0, 10) == 0);
	CHECK(sph_latestf(r, "pid", "%d", 42) == 0);
	/* Back to Host: the same node, more data. */
	CHECK(sph_topology(r, "Host") == 0);
	CHECK(sph_node_host(r) == 0);
	CHECK(sph_node_control(r, "switchToIOWait", 0) == 0);
	CHECK(sph_report_error(r) == NULL);
	CHECK(sph_report_end(r) == 0);

	CHECK((v = gen_parse(g)) != NULL);
	if (v != NULL) {
		CHECK(str_is(v, "Host/nodes/node-a;<host>/id", "node-a;<host>"));
		CHECK(str_is(v, "Host/nodes/node-a;<host>/topology", "host"));
		CHECK(str_is(v, "Host/nodes/node-a;<host>/latest/os/value",
		    "Linux \"quoted\" <x>"));
		CHECK(str_is(v, "Host/nodes/node-a;<host>/latest/os/timestamp",
		    "2023-11-14T22:13:20.25Z"));
		CHECK(str_is(v, "Host/nodes/node-a;<host>/latest/"
		    "if-eth0___rx/value", "100"));
		CHECK(str_is(v, "Host/nodes/node-a;<host>/latest/"
		    "if-eth0___tx/value", "200"));
		CHECK(str_is(v, "Host/nodes/node-a;<host>/latest/"
		    "prop-kernel/value", "6.1"));
		CHECK(str_is(v, "Host/nodes/node-a;<host>/latest/"
		    "control_probe_id/value", "5f2a9c"));
		CHECK(num_is(v, "Host/nodes/node-a;<host>/metrics/load/min", 0));
		CHECK(num_is(v, "Host/nodes/node-a;<host>/metrics/load/max", 4));
		CHECK(get(v, "Host/nodes/node-a;<host>/latestControls/"
		    "switchToIdle/value/dead") != NULL &&
		    YAJL_IS_FALSE(get(v, "Host/nodes/node-a;<host>/"
		    "latestControls/switchToIdle/value/dead")));
		CHECK(YAJL_IS_TRUE(get(v, "Host/nodes/node-a;<host>/"
		    "latestControls/switchToIOWait/value/dead")));
		CHECK(str_is(v, "Host/nodes/node-a;<host>/latestControls/"
		    "switchToIOWait/timestamp", "2023-11-14T22:13:20.25Z"));
		CHECK(str_is(v, "Host/controls/switchToIdle/icon",
		    "fa fa-gears"));
		CHECK(str_is(v, "Host/controls/switchToIdle/human", "Switch"));
		CHECK(int_is(v, "Host/controls/switchToIdle/rank", 1));
		CHECK(str_is(v, "Host/metric_templates/load/id", "load"));
		CHECK(num_is(v, "Host/metric_templates/load/priority", 0.1));
		CHECK(str_is(v, "Host/metric_templates/load/format", ""));
		CHECK(str_is(v, "Host/metadata_templates/os/from", "latest"));
		CHECK(get(v, "Host/metadata_templates/os/dataType") == NULL);
		CHECK(str_is(v, "Host/table_templates/ifs/type",
		    "multicolumn-table"));
		CHECK(str_is(v, "Host/table_templates/ifs/prefix", "if-"));
		CHECK(str_is(v, "Host/table_templates/props/type",
		    "property-list"));
		CHECK(get(v, "Host/table_templates/props/columns") == NULL);
		CHECK(str_is(v, "Process/nodes/node-a;42/topology", "process"));
		CHECK(strs_are(v, "Process/nodes/node-a;42/sets/tags",
		    set_want, 3));
		CHECK(strs_are(v, "Process/nodes/node-a;42/parents/host",
		    parent_want, 1));
		{
			yajl_val smp = get(v,
			    "Process/nodes/node-a;42/metrics/hist/samples");

			CHECK(YAJL_IS_ARRAY(smp) && smp->u.array.len == 2);
			if (YAJL_IS_ARRAY(smp) && smp->u.array.len == 2) {
				const char *dp[] = { "date", NULL };
				const char *vp[] = { "value", NULL };
				yajl_val d1 = yajl_tree_get(
				    smp->u.array.values[1], dp, yajl_t_string);
				yajl_val v0 = yajl_tree_get(
				    smp->u.array.values[0], vp, yajl_t_number);

				CHECK(d1 != NULL && strcmp(d1->u.string,
				    "2023-11-14T22:13:21Z") == 0);
				CHECK(v0 != NULL && YAJL_GET_DOUBLE(v0) == 1.5);
			}
		}
		yajl_tree_free(v);
	}
	yajl_gen_free(g);

	/* 0.1 is written as 0.1, not yajl's 0.10000000000000000555. */
	{
		const unsigned char	*buf;
		size_t			 len;

		g = gen_new();
		r = sph_report_begin(&host, g);
		sph_topology(r, "Host");
		sph_node(r, "n");
		sph_metric(r, "m", 0.1, 0, 1);
		sph_metric(r, "third", 1.0 / 3, 0, 1e300);
		CHECK(sph_report_end(r) == 0);
		yajl_gen_get_buf(g, &buf, &len);
		CHECK(memmem(buf, len, "\"value\":0.1}", 12) != NULL);
		/* ... and every double reads back exactly. */
		v = gen_parse(g);
		CHECK(v != NULL && num_is(v,
		    "Host/nodes/n/metrics/third/max", 1e300));
		{
			yajl_val smp = get(v,
			    "Host/nodes/n/metrics/third/samples");

			CHECK(YAJL_IS_ARRAY(smp) && smp->u.array.len == 1 &&
			    num_is(smp->u.array.values[0], "value", 1.0 / 3));
		}
		yajl_tree_free(v);
		yajl_gen_free(g);
	}
}

/* No probe id yet: control_probe_id must not be written (it would be ""). */
static void
test_no_probe_id(void)
{
	struct sph_host		 h = host;
	struct sph_report	*r;
	yajl_gen		 g = gen_new();
	yajl_val		 v;

	h.probe_id = NULL;
	r = sph_report_begin(&h, g);
	sph_topology(r, "Host");
	sph_node_host(r);
	CHECK(sph_node_control(r, "ctl", 1) == 0);
	CHECK(sph_report_end(r) == 0);
	CHECK((v = gen_parse(g)) != NULL);
	CHECK(get(v, "Host/nodes/node-a;<host>/latest/control_probe_id") ==
	    NULL);
	CHECK(get(v, "Host/nodes/node-a;<host>/latestControls/ctl") != NULL);
	yajl_tree_free(v);
	yajl_gen_free(g);
}

/*
 * sph_table_template_named(): the name column comes first, a row without
 * a name cell gets its row id, a name set by the module is kept, and a
 * column that reuses the name column's id is refused.
 */
static void
test_named_table(void)
{
	static const struct sph_table_column cols[] = {
		{ "used", "Used", SPH_DATATYPE_TEXT },
	};
	static const struct sph_table_column bad[] = {
		{ SPH_TABLE_NAME_COLUMN, "Name", SPH_DATATYPE_TEXT },
	};
	struct sph_report	*r;
	yajl_gen		 g = gen_new();
	yajl_val		 v, c;
	const char		*n = "Host/nodes/node-a;<host>/latest/";
	char			 path[256];

	r = sph_report_begin(&host, g);
	sph_topology(r, "Host");
	sph_node_host(r);
	/* Cells before the template: the names are added at the end. */
	CHECK(sph_table_cell(r, "fs-", "vda", "used", "1.0 GiB") == 0);
	CHECK(sph_table_cell(r, "fs-", "8:1", "used", "2.0 GiB") == 0);
	CHECK(sph_table_cell(r, "fs-", "8:1", SPH_TABLE_NAME_COLUMN,
	    "/home") == 0);
	CHECK(sph_table_template_named(r, "fs", "Filesystems", "fs-",
	    "Mount point", cols, 1) == 0);
	CHECK(sph_report_end(r) == 0);
	CHECK((v = gen_parse(g)) != NULL);
	snprintf(path, sizeof path, "%sfs-vda___name/value", n);
	CHECK(str_is(v, path, "vda"));
	snprintf(path, sizeof path, "%sfs-8:1___name/value", n);
	CHECK(str_is(v, path, "/home"));
	c = get(v, "Host/table_templates/fs/columns");
	CHECK(YAJL_IS_ARRAY(c) && c->u.array.len == 2 &&
	    str_is(c->u.array.values[0], "id", SPH_TABLE_NAME_COLUMN) &&
	    str_is(c->u.array.values[0], "label", "Mount point") &&
	    str_is(c->u.array.values[1], "id", "used"));
	CHECK(str_is(v, "Host/table_templates/fs/type", "multicolumn-table"));
	yajl_tree_free(v);
	yajl_gen_free(g);

	g = gen_new();
	r = sph_report_begin(&host, g);
	sph_topology(r, "Host");
	CHECK(sph_table_template_named(r, "t", "T", "t-", "Name", bad, 1) ==
	    -1);
	CHECK(sph_report_end(r) == -1);
	CHECK(gen_len(g) == 1);		/* just the "{" gen_new() wrote */
	yajl_gen_free(g);
	g = gen_new();
	r = sph_report_begin(&host, g);
	sph_topology(r, "Host");
	CHECK(sph_table_template_named(r, "t", "T", "t-", "", cols, 1) == -1);
	sph_report_discard(r);
	yajl_gen_free(g);
}

/* Misuse cases: each is a function that returns the misused call's value. */
typedef int (*misuse_fn)(struct sph_report *);

static int m_nan(struct sph_report *r) { return sph_metric(r, "m", NAN, 0, 1); }
static int m_inf_max(struct sph_report *r) { return sph_metric(r, "m", 1, 0, INFINITY); }
static int m_min_gt_max(struct sph_report *r) { return sph_metric(r, "m", 1, 5, 2); }
static int m_nan_priority(struct sph_report *r) {
	return sph_metric_template(r, "m", "M", SPH_FORMAT_NONE, NAN); }
static int m_ctl_underscore(struct sph_report *r) {
	return sph_control_def(r, "switch_to", "S", "fa fa-x", 1); }
static int m_ctl_dash(struct sph_report *r) {
	return sph_node_control(r, "-lead", 1); }
static int m_ctl_tilde(struct sph_report *r) {
	return sph_node_control(r, "a~b", 1); }
static int m_topology_case(struct sph_report *r) {
	return sph_topology(r, "host"); }
static int m_topology_plugins(struct sph_report *r) {
	return sph_topology(r, "Plugins"); }
static int m_container_id(struct sph_report *r) {
	return sph_node_container(r, "abc;def"); }
static int m_table_key_after(struct sph_report *r) {
	static const struct sph_table_column c[] = { { "c", "C", 0 } };
	sph_table_template(r, "t", "T", "tbl-", SPH_TABLE_MULTICOLUMN, c, 1);
	return sph_latest(r, "tbl-row", "v"); }
static int m_table_key_before(struct sph_report *r) {
	static const struct sph_table_column c[] = { { "c", "C", 0 } };
	sph_latest(r, "tbl-row", "v");
	return sph_table_template(r, "t", "T", "tbl-", SPH_TABLE_MULTICOLUMN,
	    c, 1); }
static int m_table_cell_sep(struct sph_report *r) {
	return sph_table_cell(r, "tbl-", "a___b", "c", "v"); }
static int m_table_no_cols(struct sph_report *r) {
	return sph_table_template(r, "t", "T", "tbl-", SPH_TABLE_MULTICOLUMN,
	    NULL, 0); }
static int m_dup_latest(struct sph_report *r) {
	sph_latest(r, "k", "1");
	return sph_latest(r, "k", "2"); }
static int m_dup_metric(struct sph_report *r) {
	sph_metric(r, "k", 1, 0, 1);
	return sph_metric(r, "k", 1, 0, 1); }
static int m_dup_template(struct sph_report *r) {
	sph_metric_template(r, "k", "K", SPH_FORMAT_NONE, 1);
	return sph_metric_template(r, "k", "K2", SPH_FORMAT_NONE, 1); }
static int m_host_node_id(struct sph_report *r) {
	return sph_latest(r, "host_node_id", "x"); }
static int m_utf8(struct sph_report *r) {
	return sph_latest(r, "k", "bad \xc3\x28 utf8"); }
static int m_utf8_overlong(struct sph_report *r) {
	return sph_latest(r, "k", "\xc0\xaf"); }
static int m_parent_key(struct sph_report *r) {
	return sph_parent_add(r, "Host", "node-a;<host>"); }
static int m_samples_order(struct sph_report *r) {
	struct sph_sample s[2] = { { { 2, 0 }, 1 }, { { 2, 0 }, 2 } };
	return sph_metric_samples(r, "m", s, 2, 0, 1); }
static int m_bad_format(struct sph_report *r) {
	return sph_metric_template(r, "m", "M", (enum sph_format)9, 1); }
static int m_empty_key(struct sph_report *r) {
	return sph_latest(r, "", "v"); }
/* Wrong nesting: data with nothing selected. */
static int m_no_topology(struct sph_report *r) {
	return sph_metric_template(r, "m", "M", SPH_FORMAT_NONE, 1); }
static int m_node_no_topology(struct sph_report *r) {
	return sph_node(r, "n"); }
static int m_latest_no_node(struct sph_report *r) {
	return sph_latest(r, "k", "v"); }
static int m_node_after_topology_switch(struct sph_report *r) {
	sph_topology(r, "Process");	/* deselects the node */
	return sph_metric(r, "m", 1, 0, 1); }

static const struct {
	const char	*name;
	int		 select;	/* 0 none, 1 topology, 2 topology+node */
	misuse_fn	 fn;
} misuses[] = {
	{ "nan value", 2, m_nan },
	{ "infinite max", 2, m_inf_max },
	{ "min > max", 2, m_min_gt_max },
	{ "nan priority", 1, m_nan_priority },
	{ "control id with _", 1, m_ctl_underscore },
	{ "control id with leading -", 2, m_ctl_dash },
	{ "control id with ~", 2, m_ctl_tilde },
	{ "lower-case topology", 0, m_topology_case },
	{ "Plugins topology", 0, m_topology_plugins },
	{ "container id with ;", 1, m_container_id },
	{ "multicolumn key without ___ (after)", 2, m_table_key_after },
	{ "multicolumn key without ___ (before)", 2, m_table_key_before },
	{ "multicolumn row with ___", 2, m_table_cell_sep },
	{ "multicolumn without columns", 1, m_table_no_cols },
	{ "duplicate latest", 2, m_dup_latest },
	{ "duplicate metric", 2, m_dup_metric },
	{ "duplicate template", 1, m_dup_template },
	{ "host_node_id", 2, m_host_node_id },
	{ "invalid utf-8", 2, m_utf8 },
	{ "overlong utf-8", 2, m_utf8_overlong },
	{ "parent under topology key", 2, m_parent_key },
	{ "samples not ascending", 2, m_samples_order },
	{ "bad format enum", 1, m_bad_format },
	{ "empty key", 2, m_empty_key },
	{ "template without topology", 0, m_no_topology },
	{ "node without topology", 0, m_node_no_topology },
	{ "latest without node", 1, m_latest_no_node },
	{ "metric after switching topology", 2, m_node_after_topology_switch },
};

static void
test_misuse(void)
{
	struct sph_report	*r;
	yajl_gen		 g;
	size_t			 i, before;
	int			 rv;

	for (i = 0; i < sizeof misuses / sizeof misuses[0]; i++) {
		g = gen_new();
		before = gen_len(g);
		if ((r = sph_report_begin(&host, g)) == NULL) {
			CHECK(r != NULL);
			continue;
		}
		if (misuses[i].select >= 1)
			sph_topology(r, "Host");
		if (misuses[i].select >= 2)
			sph_node_host(r);
		rv = misuses[i].fn(r);
		if (rv != -1)
			fprintf(stderr, "  misuse \"%s\" returned %d\n",
			    misuses[i].name, rv);
		CHECK(rv == -1);
		CHECK(sph_report_error(r) != NULL);
		/* Sticky: a valid call now fails too. */
		CHECK(sph_topology(r, "Container") == -1);
		CHECK(sph_report_end(r) == -1);
		if (gen_len(g) != before)
			fprintf(stderr, "  misuse \"%s\" wrote output\n",
			    misuses[i].name);
		CHECK(gen_len(g) == before);
		yajl_gen_free(g);
	}

	/* A generator that is not inside the top-level object. */
	g = yajl_gen_alloc(NULL);
	r = sph_report_begin(&host, g);
	sph_topology(r, "Host");
	sph_node_host(r);
	CHECK(sph_report_end(r) == -1);
	yajl_gen_free(g);

	/* NULL handling. */
	CHECK(sph_report_begin(&host, NULL) == NULL);
	CHECK(sph_report_end(NULL) == -1);
	CHECK(sph_latest(NULL, "k", "v") == -1);
	sph_report_discard(NULL);
}

static const char *const t_params[][2] = {
	{ "url", "http://127.0.0.1:9100/metrics" },
	{ "metric.node_load1", "host" },
	{ "timeout", "300" },
	{ "metric.node_cpu_seconds_total", "host format=percent" },
};

static int
t_param_at(void *ctx, size_t index, const char **key, const char **value)
{
	(void)ctx;
	if (index >= sizeof t_params / sizeof t_params[0])
		return -1;
	*key = t_params[index][0];
	*value = t_params[index][1];
	return 0;
}

/* sph_param_next() and sph_deadline_ms(), and what older hosts get. */
static void
test_param_next(void)
{
	struct sph_host	 h = host;
	const char	*k, *v;
	size_t		 cur = 0;

	h.param_at = t_param_at;
	h.deadline_ms = 450;
	/* All, in the host's order. */
	CHECK(sph_param_next(&h, NULL, &cur, &k, &v) == 1 &&
	    strcmp(k, "url") == 0 && strcmp(v, t_params[0][1]) == 0);
	CHECK(sph_param_next(&h, "", &cur, &k, NULL) == 1 &&
	    strcmp(k, "metric.node_load1") == 0);
	CHECK(sph_param_next(&h, NULL, &cur, NULL, &v) == 1 &&
	    strcmp(v, "300") == 0);
	CHECK(sph_param_next(&h, NULL, &cur, &k, &v) == 1 &&
	    strcmp(k, "metric.node_cpu_seconds_total") == 0);
	CHECK(sph_param_next(&h, NULL, &cur, &k, &v) == 0);
	CHECK(sph_param_next(&h, NULL, &cur, &k, &v) == 0);	/* stays at end */
	/* By prefix: only the two metric.* keys. */
	cur = 0;
	CHECK(sph_param_next(&h, "metric.", &cur, &k, &v) == 1 &&
	    strcmp(k, "metric.node_load1") == 0 && strcmp(v, "host") == 0);
	CHECK(sph_param_next(&h, "metric.", &cur, &k, &v) == 1 &&
	    strcmp(k, "metric.node_cpu_seconds_total") == 0);
	CHECK(sph_param_next(&h, "metric.", &cur, &k, &v) == 0);
	cur = 0;
	CHECK(sph_param_next(&h, "nothing.", &cur, &k, &v) == 0);
	CHECK(sph_param_next(&h, "url", &(size_t){ 0 }, &k, &v) == 1 &&
	    strcmp(k, "url") == 0);
	CHECK(sph_deadline_ms(&h) == 450);
	/* Misuse. */
	CHECK(sph_param_next(NULL, NULL, &cur, &k, &v) == -1);
	CHECK(sph_param_next(&h, NULL, NULL, &k, &v) == -1);
	CHECK(sph_deadline_ms(NULL) == 0);
	/* A host that cannot list (no callback) says so with -1. */
	h.param_at = NULL;
	cur = 0;
	CHECK(sph_param_next(&h, NULL, &cur, &k, &v) == -1);
	/* A host built before these members: size stops short of them. */
	h = host;
	h.param_at = t_param_at;
	h.deadline_ms = 450;
	h.size = offsetof(struct sph_host, ctx) + sizeof(void *);
	cur = 0;
	CHECK(sph_param_next(&h, NULL, &cur, &k, &v) == -1);
	CHECK(sph_deadline_ms(&h) == 0);
	h.size = 0;	/* first layout */
	CHECK(sph_param_next(&h, NULL, &cur, &k, &v) == -1);
	CHECK(sph_deadline_ms(&h) == 0);
}

int
main(void)
{
	test_utf8();
	test_ids();
	test_time();
	test_paths();
	test_full();
	test_no_probe_id();
	test_named_table();
	test_misuse();
	test_param_next();
	printf("sdk-test: %d checks, %d failures, %zu misuse cases\n",
	    checks, failures, sizeof misuses / sizeof misuses[0]);
	return failures == 0 ? 0 : 1;
}
