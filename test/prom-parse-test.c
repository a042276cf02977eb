/*
 * prom-parse-test.c - unit tests of the Prometheus text parser
 * (plugins/prom-parse.c): kinds from TYPE lines, label escapes, special
 * values, timestamps, comments, OpenMetrics lines, and the line number
 * and reason of every kind of malformed line.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom-parse.h"

static int	failures;

#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		printf("FAIL %s:%d: ", __FILE__, __LINE__);		\
		printf(__VA_ARGS__);					\
		printf("\n");						\
		failures++;						\
	}								\
} while (0)

/* Every sample as one line of text: name{l=v,...} kind value [ts]. */
struct out {
	char	text[8192];
	size_t	n;
};

static int
record(void *arg, const struct prom_sample *s)
{
	struct out	*o = arg;
	size_t		 i;
	int		 n;

	n = snprintf(o->text + o->n, sizeof o->text - o->n, "%s{", s->name);
	o->n += (size_t)n;
	for (i = 0; i < s->nlabels; i++) {
		n = snprintf(o->text + o->n, sizeof o->text - o->n, "%s%s=%s",
		    i > 0 ? "," : "", s->labels[i].name, s->labels[i].value);
		o->n += (size_t)n;
	}
	n = snprintf(o->text + o->n, sizeof o->text - o->n, "} %s %g",
	    s->kind == PROM_COUNTER ? "counter" : "gauge", s->value);
	o->n += (size_t)n;
	if (s->has_timestamp) {
		n = snprintf(o->text + o->n, sizeof o->text - o->n, " @%lld",
		    (long long)s->timestamp_ms);
		o->n += (size_t)n;
	}
	n = snprintf(o->text + o->n, sizeof o->text - o->n, "\n");
	o->n += (size_t)n;
	return 0;
}

static void
expect(const char *in, const char *want)
{
	struct out	o;
	char		err[256];
	int		rc;

	memset(&o, 0, sizeof o);
	rc = prom_parse(in, strlen(in), record, &o, err, sizeof err);
	CHECK(rc == 0, "parse failed: %s\ninput:\n%s", err, in);
	CHECK(strcmp(o.text, want) == 0, "input:\n%s\ngot:\n%s\nwant:\n%s", in,
	    o.text, want);
}

static void
expect_error(const char *in, const char *want)
{
	struct out	o;
	char		err[256];
	int		rc;

	memset(&o, 0, sizeof o);
	rc = prom_parse(in, strlen(in), record, &o, err, sizeof err);
	CHECK(rc == -1 && strstr(err, want) != NULL,
	    "input %s: rc %d, error \"%s\", want \"%s\"", in, rc, err, want);
}

static int
stop_at_second(void *arg, const struct prom_sample *s)
{
	int	*n = arg;

	(void)s;
	return ++*n == 2 ? 7 : 0;
}

int
main(void)
{
	int	n = 0;

	expect("# HELP a A thing\n# TYPE a gauge\na 1\n", "a{} gauge 1\n");
	expect("# TYPE c counter\nc_total{x=\"1\"} 5\nc_created 1.7e9\n",
	    "c_total{x=1} counter 5\nc_created{} gauge 1.7e+09\n");
	expect("# TYPE old_total counter\nold_total 3\n",
	    "old_total{} counter 3\n");
	expect("# TYPE s summary\ns{quantile=\"0.5\"} 0.1\ns_sum 2\ns_count 4\n",
	    "s{quantile=0.5} gauge 0.1\ns_sum{} counter 2\ns_count{} counter 4\n");
	expect("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 4\nh_sum 1\nh_count 4\n",
	    "h_bucket{le=+Inf} counter 4\nh_sum{} counter 1\n"
	    "h_count{} counter 4\n");
	expect("untyped_total 9\n", "untyped_total{} gauge 9\n");
	expect("# TYPE u untyped\nu 1\n# TYPE w weird\nw 2\n",
	    "u{} gauge 1\nw{} gauge 2\n");
	/* Escapes: \" \\ \n; a trailing comma; blanks around everything. */
	expect("m{a=\"x\\\"y\\\\z\\nw\",b=\"\",} 1\n",
	    "m{a=x\"y\\z\nw,b=} gauge 1\n");
	expect("  m { a = \"1\" , b=\"2\" }   3   1700000000000  \n",
	    "m{a=1,b=2} gauge 3 @1700000000000\n");
	expect("m\t4\t-5\n", "m{} gauge 4 @-5\n");
	expect("m NaN\nm +Inf\nm -Inf\nm 1e3\nm -0.5\n",
	    "m{} gauge nan\nm{} gauge inf\nm{} gauge -inf\nm{} gauge 1000\n"
	    "m{} gauge -0.5\n");
	expect("ns:sub_name 1\n", "ns:sub_name{} gauge 1\n");
	expect("m{a=\"\xc3\xa9\"} 1\n", "m{a=\xc3\xa9} gauge 1\n");
	/* Comments, blank lines, CRLF, an exemplar, # EOF. */
	expect("# just a comment\n\n   \nm 1\r\n# TYPE\n", "m{} gauge 1\n");
	expect("m 1 # {trace_id=\"x\"} 1\n# EOF\nthis is not parsed\n",
	    "m{} gauge 1\n");
	expect("", "");
	expect("m 1", "m{} gauge 1\n");

	expect_error("m\n", "line 1: expected a blank or {");
	expect_error("ok 1\n1m 2\n", "line 2: expected a metric name");
	expect_error("m{a=1} 1\n", "expected a quoted label value");
	expect_error("m{a=\"1} 1\n", "unterminated label value");
	expect_error("m{a=\"\\t\"} 1\n", "invalid escape \\t");
	expect_error("m{a=\"1\" b=\"2\"} 1\n", "expected , or }");
	expect_error("m{a=\"1\",a=\"2\"} 1\n", "label a twice");
	expect_error("m{1a=\"1\"} 1\n", "expected a label name");
	expect_error("m{a:b=\"1\"} 1\n", "expected = after a label name");
	expect_error("m{a=\"1\"}1\n", "expected a blank before the value");
	expect_error("m one\n", "value is not a number");
	expect_error("m 1 soon\n", "timestamp is not an integer");
	expect_error("m 1 2 3\n", "unexpected text after the value");
	expect_error("m{a=\"\xff\"} 1\n", "not valid UTF-8");
	{
		char	err[256];

		CHECK(prom_parse("ok 1\nm 1\0\n", 9, record, &(struct out){
		    .n = 0 }, err, sizeof err) == -1 &&
		    strcmp(err, "line 2: NUL byte") == 0, "NUL: %s", err);
	}
	expect_error("# TYPE 9x counter\n", "TYPE without a metric name");
	expect_error("# TYPE x\n", "TYPE without a type");
	{
		char	big[4096];
		size_t	i, o = 0;

		o += (size_t)snprintf(big, sizeof big, "m{");
		for (i = 0; i <= PROM_LABELS_MAX; i++)
			o += (size_t)snprintf(big + o, sizeof big - o,
			    "l%zu=\"v\",", i);
		snprintf(big + o, sizeof big - o, "} 1\n");
		expect_error(big, "more than 64 labels");
	}
	/* The callback can stop the parse; its value is returned. */
	CHECK(prom_parse("a 1\nb 2\nc 3\n", 12, stop_at_second, &n, NULL, 0)
	    == 7 && n == 2, "callback stop: n %d", n);

	if (failures == 0)
		printf("prom-parse-test: all passed\n");
	return failures == 0 ? 0 : 1;
}
