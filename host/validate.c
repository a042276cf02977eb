/*
 * validate.c - check a report as Scope's probe would (docs/ARCHITECTURE.md,
 * "What Scope's probe expects" 2 and 3).
 *
 * The report is checked in one pass with yajl's streaming parser and an
 * explicit stack of frames, so nothing recurses on the input's nesting;
 * nesting beyond VALIDATE_MAX_DEPTH is refused.  Every frame knows what
 * shape it is (a topology, a node, a latest entry, ...) and so what each
 * of its keys may hold.  The first problem stops the parse and is
 * reported as "<JSON path>: <rule>".
 *
 * Beyond what the probe's decoder refuses, this enforces the checklist:
 * exact-case topology keys only, no TS/Window/..., RFC 3339 timestamps,
 * string latest values, finite numbers, integer rank/truncate, sorted
 * unique sets, ascending samples, canonical node topology, ids equal to
 * their map keys and multicolumn table keys with "___".  A null is taken
 * as an empty object or array (as Go does) but never as a scalar.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "host.h"
#include "topologies.h"

#define VALIDATE_MAX_BYTES	(50 * 1024 * 1024)	/* maxResponseBytes */
#define VALIDATE_MAX_DEPTH	64
#define SHOW_MAX		80	/* bytes of a key or value in a message */

/* What a JSON value must be. */
enum vt {
	V_ANY,
	V_OBJ,
	V_ARR,
	V_STR,
	V_NUM,
	V_INT,
	V_BOOL,
};

static const char *const vt_names[] = {
	"anything", "object", "array", "string", "number", "integer", "boolean"
};

/* What a frame (an open object or array) is. */
enum kind {
	K_TOP,
	K_TOPOLOGY,
	K_NODES,
	K_NODE,
	K_LATEST,
	K_LATEST_ENTRY,
	K_METRICS,
	K_METRIC,
	K_SAMPLES,
	K_SAMPLE,
	K_SETS,		/* sets and parents */
	K_SET,
	K_ADJACENCY,
	K_LCONTROLS,
	K_LCONTROL,
	K_LCONTROL_VALUE,
	K_COUNTERS,
	K_CONTROLS,
	K_CONTROL,
	K_MDTS,
	K_MDT,
	K_MTTS,
	K_MTT,
	K_TTS,
	K_TT,
	K_COLUMNS,
	K_COLUMN,
	K_FIXEDROWS,
	K_PLUGINS,
	K_PLUGIN,
	K_INTERFACES,
	K_ANY,		/* an ignored value: anything goes */
	K_ANY_ARRAY,
};

/* Fields that need more than a type check. */
enum field {
	F_NONE,
	F_ID,
	F_TOPOLOGY,
	F_TIMESTAMP,
	F_VALUE,
	F_DATE,
	F_FROM,
	F_DATATYPE,
	F_FORMAT,
	F_TYPE,
	F_PREFIX,
	F_LABEL,
	F_API_VERSION,
	F_COLUMN_ID,
};

struct slot {
	enum vt		 want;
	enum kind	 kind;	/* of the frame to open, for V_OBJ/V_ARR */
	enum field	 field;
	int		 bit;	/* index in the frame's seen mask, or -1 */
};

struct field_def {
	const char	*name;
	enum vt		 want;
	enum kind	 kind;
	enum field	 field;
};

static const struct field_def topology_fields[] = {
	{ "nodes", V_OBJ, K_NODES, F_NONE },
	{ "controls", V_OBJ, K_CONTROLS, F_NONE },
	{ "metadata_templates", V_OBJ, K_MDTS, F_NONE },
	{ "metric_templates", V_OBJ, K_MTTS, F_NONE },
	{ "table_templates", V_OBJ, K_TTS, F_NONE },
	{ "shape", V_STR, K_ANY, F_NONE },
	{ "tag", V_STR, K_ANY, F_NONE },
	{ "label", V_STR, K_ANY, F_NONE },
	{ "label_plural", V_STR, K_ANY, F_NONE },
	{ NULL, V_ANY, K_ANY, F_NONE }
};
static const struct field_def node_fields[] = {
	{ "id", V_STR, K_ANY, F_ID },
	{ "topology", V_STR, K_ANY, F_TOPOLOGY },
	{ "latest", V_OBJ, K_LATEST, F_NONE },
	{ "metrics", V_OBJ, K_METRICS, F_NONE },
	{ "sets", V_OBJ, K_SETS, F_NONE },
	{ "parents", V_OBJ, K_SETS, F_NONE },
	{ "adjacency", V_ARR, K_ADJACENCY, F_NONE },
	{ "latestControls", V_OBJ, K_LCONTROLS, F_NONE },
	{ "counters", V_OBJ, K_COUNTERS, F_NONE },
	{ "children", V_ARR, K_ANY_ARRAY, F_NONE },
	{ NULL, V_ANY, K_ANY, F_NONE }
};
static const struct field_def latest_entry_fields[] = {
	{ "timestamp", V_STR, K_ANY, F_TIMESTAMP },
	{ "value", V_STR, K_ANY, F_VALUE },
	{ NULL, V_ANY, K_ANY, F_NONE }
};
static const struct field_def metric_fields[] = {
	{ "samples", V_ARR, K_SAMPLES, F_NONE },
	{ "min", V_NUM, K_ANY, F_NONE },
	{ "max", V_NUM, K_ANY, F_NONE },
	{ NULL, V_ANY, K_ANY, F_NONE }
};
static const struct field_def sample_fields[] = {
	{ "date", V_STR, K_ANY, F_DATE },
	{ "value", V_NUM, K_ANY, F_VALUE },
	{ NULL, V_ANY, K_ANY, F_NONE }
};
static const struct field_def lcontrol_fields[] = {
	{ "timestamp", V_STR, K_ANY, F_TIMESTAMP },
	{ "value", V_OBJ, K_LCONTROL_VALUE, F_VALUE },
	{ NULL, V_ANY, K_ANY, F_NONE }
};
static const struct field_def lcontrol_value_fields[] = {
	{ "dead", V_BOOL, K_ANY, F_NONE },
	{ NULL, V_ANY, K_ANY, F_NONE }
};
static const struct field_def control_fields[] = {
	{ "id", V_STR, K_ANY, F_NONE },
	{ "human", V_STR, K_ANY, F_NONE },
	{ "icon", V_STR, K_ANY, F_NONE },
	{ "confirmation", V_STR, K_ANY, F_NONE },
	{ "rank", V_INT, K_ANY, F_NONE },
	{ "probeId", V_STR, K_ANY, F_NONE },
	{ NULL, V_ANY, K_ANY, F_NONE }
};
static const struct field_def mdt_fields[] = {
	{ "id", V_STR, K_ANY, F_ID },
	{ "label", V_STR, K_ANY, F_NONE },
	{ "priority", V_NUM, K_ANY, F_NONE },
	{ "from", V_STR, K_ANY, F_FROM },
	{ "dataType", V_STR, K_ANY, F_DATATYPE },
	{ "truncate", V_INT, K_ANY, F_NONE },
	{ NULL, V_ANY, K_ANY, F_NONE }
};
static const struct field_def mtt_fields[] = {
	{ "id", V_STR, K_ANY, F_ID },
	{ "label", V_STR, K_ANY, F_NONE },
	{ "format", V_STR, K_ANY, F_FORMAT },
	{ "group", V_STR, K_ANY, F_NONE },
	{ "priority", V_NUM, K_ANY, F_NONE },
	{ NULL, V_ANY, K_ANY, F_NONE }
};
static const struct field_def tt_fields[] = {
	{ "id", V_STR, K_ANY, F_ID },
	{ "label", V_STR, K_ANY, F_NONE },
	{ "prefix", V_STR, K_ANY, F_PREFIX },
	{ "type", V_STR, K_ANY, F_TYPE },
	{ "columns", V_ARR, K_COLUMNS, F_NONE },
	{ "fixedRows", V_OBJ, K_FIXEDROWS, F_NONE },
	{ NULL, V_ANY, K_ANY, F_NONE }
};
static const struct field_def column_fields[] = {
	{ "id", V_STR, K_ANY, F_COLUMN_ID },
	{ "label", V_STR, K_ANY, F_NONE },
	{ "dataType", V_STR, K_ANY, F_DATATYPE },
	{ NULL, V_ANY, K_ANY, F_NONE }
};
static const struct field_def plugin_fields[] = {
	{ "id", V_STR, K_ANY, F_ID },
	{ "label", V_STR, K_ANY, F_LABEL },
	{ "description", V_STR, K_ANY, F_NONE },
	{ "interfaces", V_ARR, K_INTERFACES, F_NONE },
	{ "api_version", V_STR, K_ANY, F_API_VERSION },
	{ "status", V_STR, K_ANY, F_NONE },
	{ NULL, V_ANY, K_ANY, F_NONE }
};

/*
 * Per kind: the fields of a struct-like object, or the one slot every
 * member/element of a map-like object or array has.
 */
struct kind_def {
	int			 array;
	const struct field_def	*fields;
	enum vt			 elem_want;
	enum kind		 elem_kind;
};

static const struct kind_def kinds[] = {
	[K_TOP] =		{ 0, NULL, V_ANY, K_ANY },	/* special */
	[K_TOPOLOGY] =		{ 0, topology_fields, V_ANY, K_ANY },
	[K_NODES] =		{ 0, NULL, V_OBJ, K_NODE },
	[K_NODE] =		{ 0, node_fields, V_ANY, K_ANY },
	[K_LATEST] =		{ 0, NULL, V_OBJ, K_LATEST_ENTRY },
	[K_LATEST_ENTRY] =	{ 0, latest_entry_fields, V_ANY, K_ANY },
	[K_METRICS] =		{ 0, NULL, V_OBJ, K_METRIC },
	[K_METRIC] =		{ 0, metric_fields, V_ANY, K_ANY },
	[K_SAMPLES] =		{ 1, NULL, V_OBJ, K_SAMPLE },
	[K_SAMPLE] =		{ 0, sample_fields, V_ANY, K_ANY },
	[K_SETS] =		{ 0, NULL, V_ARR, K_SET },
	[K_SET] =		{ 1, NULL, V_STR, K_ANY },
	[K_ADJACENCY] =		{ 1, NULL, V_STR, K_ANY },
	[K_LCONTROLS] =		{ 0, NULL, V_OBJ, K_LCONTROL },
	[K_LCONTROL] =		{ 0, lcontrol_fields, V_ANY, K_ANY },
	[K_LCONTROL_VALUE] =	{ 0, lcontrol_value_fields, V_ANY, K_ANY },
	[K_COUNTERS] =		{ 0, NULL, V_INT, K_ANY },
	[K_CONTROLS] =		{ 0, NULL, V_OBJ, K_CONTROL },
	[K_CONTROL] =		{ 0, control_fields, V_ANY, K_ANY },
	[K_MDTS] =		{ 0, NULL, V_OBJ, K_MDT },
	[K_MDT] =		{ 0, mdt_fields, V_ANY, K_ANY },
	[K_MTTS] =		{ 0, NULL, V_OBJ, K_MTT },
	[K_MTT] =		{ 0, mtt_fields, V_ANY, K_ANY },
	[K_TTS] =		{ 0, NULL, V_OBJ, K_TT },
	[K_TT] =		{ 0, tt_fields, V_ANY, K_ANY },
	[K_COLUMNS] =		{ 1, NULL, V_OBJ, K_COLUMN },
	[K_COLUMN] =		{ 0, column_fields, V_ANY, K_ANY },
	[K_FIXEDROWS] =		{ 0, NULL, V_STR, K_ANY },
	[K_PLUGINS] =		{ 1, NULL, V_OBJ, K_PLUGIN },
	[K_PLUGIN] =		{ 0, plugin_fields, V_ANY, K_ANY },
	[K_INTERFACES] =	{ 1, NULL, V_STR, K_ANY },
	[K_ANY] =		{ 0, NULL, V_ANY, K_ANY },
	[K_ANY_ARRAY] =		{ 1, NULL, V_ANY, K_ANY },
};

#define NTOPOLOGIES SPH_NTOPODEFS
#define TOP_PLUGINS_BIT NTOPOLOGIES

/* Fields of the probe's own report struct that a plugin must not send. */
static const char *const forbidden_top[] = {
	"TS", "Window", "Shortcut", "DNS", "Sampling", "ID"
};

static const char *const datatypes[] = {
	"", "number", "ip", "datetime", "duration", "link", NULL
};
static const char *const froms[] = { "", "latest", "sets", "counters", NULL };
static const char *const formats[] = {
	"", "integer", "percent", "filesize", NULL
};
static const char *const table_types[] = {
	"", "property-list", "multicolumn-table", NULL
};

struct tstamp {
	int64_t		 sec;
	int32_t		 nsec;
};

struct frame {
	enum kind	 kind;
	char		*key;		/* current member name (objects) */
	size_t		 keylen;
	long		 index;		/* current element (arrays), -1 before */
	struct slot	 slot;		/* what the current member must be */
	uint64_t	 seen;		/* known fields seen (objects) */

	/* Scratch, by kind. */
	char		*last;		/* K_SET/K_ADJACENCY: previous string */
	size_t		 lastlen;
	int		 has_last;
	struct tstamp	 ts;		/* K_SAMPLES: previous date; K_SAMPLE: own */
	char		*prefix;	/* K_TT */
	size_t		 prefixlen;
	int		 multicolumn;	/* K_TT */
	char		*first;		/* K_TT: id of the first column */
	size_t		 firstlen;
	int		 first_number;	/* K_TT: its dataType is "number" */
};

/* A multicolumn table of the open topology, for the warnings. */
struct mc_table {
	char		*id;
	char		*prefix;
	size_t		 prefixlen;
	char		*first;		/* NULL: no columns */
	size_t		 firstlen;
	int		 first_number;
};

/* A latest key without "___", or a multicolumn prefix, kept per topology. */
struct mc_item {
	char		*owner;		/* node id or template key */
	size_t		 ownerlen;
	char		*str;		/* latest key or prefix */
	size_t		 len;
};

struct mc_list {
	struct mc_item	*v;
	size_t		 n;
	size_t		 cap;
};

struct validator {
	const char	*expected_id;
	int		 controller;
	char		*cause;

	struct frame	 frames[VALIDATE_MAX_DEPTH];
	int		 depth;

	size_t		 topology;	/* index into sph_topodefs[] while open */
	struct mc_list	 nodash;	/* latest keys without ___ */
	struct mc_list	 prefixes;	/* multicolumn table prefixes */

	/* Warnings (validate_report_warn() only): not faults for Scope. */
	int		 want_warnings;
	struct mc_list	 cells;		/* latest keys with ___ */
	struct mc_table	*tables;
	size_t		 ntables;
	struct sbuf	*warnings;

	/* The first Plugins entry. */
	size_t		 nplugins;
	char		*pl_id;
	size_t		 pl_idlen;
	char		*pl_api;
	size_t		 pl_apilen;
	int		 pl_label;	/* non-empty label seen */
	int		 pl_reporter;
	int		 pl_controller;
};

/* A small growable string for messages. */
struct sbuf {
	char		*p;
	size_t		 len;
	size_t		 cap;
};

static void
sb_add(struct sbuf *sb, const char *s, size_t n)
{
	if (sb->len + n + 1 > sb->cap) {
		size_t cap = sb->cap ? sb->cap : 128;

		while (cap < sb->len + n + 1)
			cap *= 2;
		sb->p = xrealloc(sb->p, cap);
		sb->cap = cap;
	}
	memcpy(sb->p + sb->len, s, n);
	sb->len += n;
	sb->p[sb->len] = '\0';
}

static void
sb_str(struct sbuf *sb, const char *s)
{
	sb_add(sb, s, strlen(s));
}

/* Append s as a quoted JSON string, cut at SHOW_MAX bytes. */
static void
sb_quote(struct sbuf *sb, const char *s, size_t n)
{
	size_t	 i, show = n;
	char	 esc[8];

	if (show > SHOW_MAX) {
		show = SHOW_MAX;
		/* Do not cut a UTF-8 sequence in half. */
		while (show > 0 && ((unsigned char)s[show] & 0xc0) == 0x80)
			show--;
	}
	sb_add(sb, "\"", 1);
	for (i = 0; i < show; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			sb_add(sb, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof esc, "\\u%04x", c);
			sb_add(sb, esc, 6);
		} else
			sb_add(sb, (const char *)&s[i], 1);
	}
	sb_add(sb, "\"", 1);
	if (show < n)
		sb_str(sb, "...");
}

/* Append one path segment: .name for plain names, ["..."] otherwise. */
static void
sb_segment(struct sbuf *sb, const char *s, size_t n)
{
	size_t	 i;
	int	 plain = n > 0 && n <= SHOW_MAX &&
		    (isalpha((unsigned char)s[0]) || s[0] == '_');

	for (i = 0; plain && i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && c != '_' && c != '-')
			plain = 0;
	}
	if (plain) {
		if (sb->len > 0)
			sb_add(sb, ".", 1);
		sb_add(sb, s, n);
	} else {
		sb_add(sb, "[", 1);
		sb_quote(sb, s, n);
		sb_add(sb, "]", 1);
	}
}

/* The path of the first nframes frames' current members. */
static void
sb_path(struct sbuf *sb, struct validator *v, int nframes)
{
	char	 idx[32];
	int	 i;

	for (i = 0; i < nframes && i < v->depth; i++) {
		struct frame *f = &v->frames[i];

		if (kinds[f->kind].array) {
			if (f->index >= 0) {
				snprintf(idx, sizeof idx, "[%ld]", f->index);
				sb_str(sb, idx);
			}
		} else if (f->key != NULL)
			sb_segment(sb, f->key, f->keylen);
	}
	if (sb->len == 0)
		sb_str(sb, "(report)");
}

/*
 * Record the first problem: path of the first nframes frames, then an
 * optional extra segment, then the message.  Returns 0 so callbacks can
 * "return fail(...)" to stop yajl.
 */
static int
failv(struct validator *v, int nframes, const char *extra, const char *fmt,
    va_list ap)
{
	struct sbuf	 sb = { NULL, 0, 0 };
	char		*msg;

	if (v->cause != NULL)
		return 0;
	sb_path(&sb, v, nframes);
	if (extra != NULL)
		sb_segment(&sb, extra, strlen(extra));
	sb_str(&sb, ": ");
	if (xvasprintf(&msg, fmt, ap) == -1)
		msg = xstrdup("(out of memory)");
	sb_str(&sb, msg);
	free(msg);
	v->cause = sb.p;
	return 0;
}

static int
fail(struct validator *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int
fail(struct validator *v, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	failv(v, v->depth, NULL, fmt, ap);
	va_end(ap);
	return 0;
}

static int
fail_at(struct validator *v, int nframes, const char *extra,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int
fail_at(struct validator *v, int nframes, const char *extra,
    const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	failv(v, nframes, extra, fmt, ap);
	va_end(ap);
	return 0;
}

/* A quoted, shortened copy of s for messages; caller frees. */
static char *
quoted(const char *s, size_t n)
{
	struct sbuf	 sb = { NULL, 0, 0 };

	sb_quote(&sb, s, n);
	return sb.p;
}

static int
fail_value(struct validator *v, const char *s, size_t n, const char *rule)
{
	char	*q = quoted(s, n);

	fail(v, "%s: %s", rule, q);
	free(q);
	return 0;
}

static char *
memdup(const void *p, size_t n)
{
	char	*s = xmalloc(n + 1);

	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static int
streq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static int
in_list(const char *s, size_t n, const char *const *list)
{
	for (; *list != NULL; list++) {
		if (streq(s, n, *list))
			return 1;
	}
	return 0;
}

/* Byte-wise order, as Go compares strings. */
static int
bytecmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int	 c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int
digits(const char *s, size_t n, int *out)
{
	int	 v = 0;
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t	 era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/*
 * Parse YYYY-MM-DDTHH:MM:SS(.frac)?(Z|+hh:mm|-hh:mm) as Go's time.Time
 * JSON decoding does: 'T' and 'Z' upper case, every field in range.
 */
static int
rfc3339_parse(const char *s, size_t n, struct tstamp *ts)
{
	static const int mdays[] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	int	 year, mon, day, hour, min, sec, oh = 0, om = 0, dim;
	int32_t	 nsec = 0;
	size_t	 i = 19, nd;
	int	 sign = 0;

	if (n < 20)
		return -1;
	if (digits(s, 4, &year) || s[4] != '-' || digits(s + 5, 2, &mon) ||
	    s[7] != '-' || digits(s + 8, 2, &day) || s[10] != 'T' ||
	    digits(s + 11, 2, &hour) || s[13] != ':' ||
	    digits(s + 14, 2, &min) || s[16] != ':' ||
	    digits(s + 17, 2, &sec))
		return -1;
	if (mon < 1 || mon > 12 || hour > 23 || min > 59 || sec > 59)
		return -1;
	dim = mdays[mon - 1];
	if (mon == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
		dim = 29;
	if (day < 1 || day > dim)
		return -1;
	if (s[i] == '.') {
		i++;
		for (nd = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++, nd++) {
			if (nd < 9)
				nsec = nsec * 10 + (s[i] - '0');
		}
		if (nd == 0)
			return -1;
		for (; nd < 9; nd++)
			nsec *= 10;
	}
	if (i >= n)
		return -1;
	if (s[i] == 'Z') {
		if (i + 1 != n)
			return -1;
	} else if (s[i] == '+' || s[i] == '-') {
		sign = s[i] == '-' ? -1 : 1;
		if (n - i != 6 || digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
		    digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
			return -1;
	} else
		return -1;
	ts->sec = days_from_civil(year, mon, day) * 86400 + hour * 3600 +
	    min * 60 + sec - sign * (oh * 3600 + om * 60);
	ts->nsec = nsec;
	return 0;
}

static int
tstamp_cmp(const struct tstamp *a, const struct tstamp *b)
{
	if (a->sec != b->sec)
		return a->sec < b->sec ? -1 : 1;
	if (a->nsec != b->nsec)
		return a->nsec < b->nsec ? -1 : 1;
	return 0;
}

static void
mc_add(struct mc_list *l, const char *owner, size_t ownerlen, const char *s,
    size_t n)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n].owner = memdup(owner, ownerlen);
	l->v[l->n].ownerlen = ownerlen;
	l->v[l->n].str = memdup(s, n);
	l->v[l->n].len = n;
	l->n++;
}

static void
mc_clear(struct mc_list *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].owner);
		free(l->v[i].str);
	}
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

static int
mc_cmp(const void *a, const void *b)
{
	const struct mc_item *x = a, *y = b;

	return bytecmp(x->str, x->len, y->str, y->len);
}

/*
 * At the end of a topology: a latest key that starts with a multicolumn
 * table's prefix but has no "___" crashes the app's renderer.  Keys are
 * sorted so each prefix is one binary search.
 */
static int
check_multicolumn(struct validator *v)
{
	struct mc_list	*k = &v->nodash, *p = &v->prefixes;
	size_t		 i, lo, hi, mid;

	if (p->n == 0 || k->n == 0)
		return 1;
	qsort(k->v, k->n, sizeof *k->v, mc_cmp);
	for (i = 0; i < p->n; i++) {
		const struct mc_item *pre = &p->v[i], *hit;

		lo = 0;
		hi = k->n;
		while (lo < hi) {
			mid = lo + (hi - lo) / 2;
			if (bytecmp(k->v[mid].str, k->v[mid].len, pre->str,
			    pre->len) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == k->n)
			continue;
		hit = &k->v[lo];
		if (hit->len >= pre->len &&
		    memcmp(hit->str, pre->str, pre->len) == 0) {
			struct sbuf sb = { NULL, 0, 0 };
			char *qp = quoted(pre->str, pre->len);
			char *qt = quoted(pre->owner, pre->ownerlen);

			sb_path(&sb, v, 1);
			sb_str(&sb, ".nodes");
			sb_segment(&sb, hit->owner, hit->ownerlen);
			sb_str(&sb, ".latest");
			sb_segment(&sb, hit->str, hit->len);
			sb_str(&sb, ": key has multicolumn table ");
			sb_str(&sb, qt);
			sb_str(&sb, "'s prefix ");
			sb_str(&sb, qp);
			sb_str(&sb, " but no \"___\" (<prefix><row>___<column>)");
			free(qp);
			free(qt);
			v->cause = sb.p;
			return 0;
		}
	}
	return 1;
}

static void
table_add(struct validator *v, const char *id, size_t idlen,
    const struct frame *tt)
{
	struct mc_table	*t;

	v->tables = xrealloc(v->tables, (v->ntables + 1) * sizeof *v->tables);
	t = &v->tables[v->ntables++];
	memset(t, 0, sizeof *t);
	t->id = memdup(id, idlen);
	t->prefix = memdup(tt->prefix ? tt->prefix : "", tt->prefixlen);
	t->prefixlen = tt->prefixlen;
	if (tt->first != NULL) {
		t->first = memdup(tt->first, tt->firstlen);
		t->firstlen = tt->firstlen;
	}
	t->first_number = tt->first_number;
}

static void
tables_clear(struct validator *v)
{
	size_t	i;

	for (i = 0; i < v->ntables; i++) {
		free(v->tables[i].id);
		free(v->tables[i].prefix);
		free(v->tables[i].first);
	}
	free(v->tables);
	v->tables = NULL;
	v->ntables = 0;
}

static void
warn_add(struct validator *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
warn_add(struct validator *v, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("vasprintf: out of memory");
	va_end(ap);
	if (v->warnings->len > 0)
		sb_str(v->warnings, "; ");
	sb_str(v->warnings, msg);
	free(msg);
}

/*
 * Scope draws a multicolumn row's cells but never its row id, so every
 * table needs a first column that names the row (Device, Interface, ...).
 * Warn, once per table, when the first column is declared numeric or a
 * row has no cell in it.
 */
static void
warn_tables(struct validator *v)
{
	struct mc_list	*c = &v->cells;
	size_t		 i, j, lo, hi, mid, rowlen, len;
	char		*want, *qid, *qfirst, *qrow, *qnode;
	const char	*sep, *topo = sph_topodefs[v->topology].key;
	int		 found;

	if (c->n > 0)
		qsort(c->v, c->n, sizeof *c->v, mc_cmp);
	for (i = 0; i < v->ntables; i++) {
		const struct mc_table *t = &v->tables[i];

		qid = quoted(t->id, strlen(t->id));
		if (t->first == NULL) {
			free(qid);
			continue;
		}
		qfirst = quoted(t->first, t->firstlen);
		if (t->first_number) {
			warn_add(v, "%s table %s: its first column %s is a "
			    "number; Scope never shows a row's id, so the "
			    "first column should name the row (Device, "
			    "Interface, ...)", topo, qid, qfirst);
			free(qid);
			free(qfirst);
			continue;
		}
		for (j = 0; j < c->n; j++) {
			const struct mc_item *k = &c->v[j];

			if (k->len < t->prefixlen ||
			    memcmp(k->str, t->prefix, t->prefixlen) != 0)
				continue;
			sep = memmem(k->str + t->prefixlen, k->len -
			    t->prefixlen, "___", 3);
			if (sep == NULL)
				continue;
			rowlen = (size_t)(sep - k->str);	/* prefix + row */
			len = rowlen + 3 + t->firstlen;
			want = xmalloc(len);
			memcpy(want, k->str, rowlen + 3);
			memcpy(want + rowlen + 3, t->first, t->firstlen);
			found = 0;
			lo = 0;
			hi = c->n;
			while (lo < hi) {
				mid = lo + (hi - lo) / 2;
				if (bytecmp(c->v[mid].str, c->v[mid].len, want,
				    len) < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
			for (; lo < c->n && !found && bytecmp(c->v[lo].str,
			    c->v[lo].len, want, len) == 0; lo++)
				found = c->v[lo].ownerlen == k->ownerlen &&
				    memcmp(c->v[lo].owner, k->owner,
				    k->ownerlen) == 0;
			free(want);
			if (found)
				continue;
			qrow = quoted(k->str + t->prefixlen, rowlen -
			    t->prefixlen);
			qnode = quoted(k->owner, k->ownerlen);
			warn_add(v, "%s table %s: row %s of node %s has no "
			    "cell in the first column %s; Scope never shows a "
			    "row's id, so that row has no name on screen", topo,
			    qid, qrow, qnode, qfirst);
			free(qrow);
			free(qnode);
			break;
		}
		free(qid);
		free(qfirst);
	}
}

static struct frame *
top(struct validator *v)
{
	return v->depth > 0 ? &v->frames[v->depth - 1] : NULL;
}

static int
has_triple_underscore(const char *s, size_t n)
{
	size_t	 i, run = 0;

	for (i = 0; i < n; i++) {
		run = s[i] == '_' ? run + 1 : 0;
		if (run == 3)
			return 1;
	}
	return 0;
}

static int
topology_index(const char *k, size_t n)
{
	size_t	 i;

	for (i = 0; i < NTOPOLOGIES; i++) {
		if (streq(k, n, sph_topodefs[i].key))
			return (int)i;
	}
	return -1;
}

/* The slot for a member of the top-level object, or 0 after failing. */
static int
top_key(struct validator *v, struct frame *f, const char *k, size_t n)
{
	size_t	 i, j;
	int	 t;

	if ((t = topology_index(k, n)) != -1) {
		f->slot.want = V_OBJ;
		f->slot.kind = K_TOPOLOGY;
		f->slot.bit = t;
		return 1;
	}
	if (streq(k, n, "Plugins")) {
		f->slot.want = V_ARR;
		f->slot.kind = K_PLUGINS;
		f->slot.bit = TOP_PLUGINS_BIT;
		return 1;
	}
	for (i = 0; i < sizeof forbidden_top / sizeof forbidden_top[0]; i++) {
		if (streq(k, n, forbidden_top[i]))
			return fail(v, "plugins must not send the report's "
			    "\"%s\" field", forbidden_top[i]);
	}
	for (i = 0; i <= NTOPOLOGIES; i++) {
		const char *want = i < NTOPOLOGIES ? sph_topodefs[i].key :
		    "Plugins";

		if (strlen(want) != n)
			continue;
		for (j = 0; j < n; j++) {
			if (tolower((unsigned char)k[j]) !=
			    tolower((unsigned char)want[j]))
				break;
		}
		if (j == n)
			return fail(v, "wrong case: the probe only knows "
			    "\"%s\" and silently ignores this key", want);
	}
	return fail(v, "unknown top-level key (expected a topology such as "
	    "\"Host\", or \"Plugins\")");
}

/* A member name was read: work out what its value must be. */
static int
key_cb(void *ctx, const unsigned char *key, size_t n)
{
	struct validator	*v = ctx;
	struct frame		*f = top(v);
	const char		*k = (const char *)key;
	const struct field_def	*fd;
	int			 i;

	free(f->key);
	f->key = memdup(k, n);
	f->keylen = n;
	f->slot.field = F_NONE;
	f->slot.bit = -1;

	if (f->kind == K_TOP) {
		if (!top_key(v, f, k, n))
			return 0;
	} else if (f->kind == K_ANY) {
		f->slot.want = V_ANY;
		f->slot.kind = K_ANY;
	} else if ((fd = kinds[f->kind].fields) != NULL) {
		f->slot.want = V_ANY;	/* unknown keys are ignored */
		f->slot.kind = K_ANY;
		for (i = 0; fd[i].name != NULL; i++) {
			if (streq(k, n, fd[i].name)) {
				f->slot.want = fd[i].want;
				f->slot.kind = fd[i].kind;
				f->slot.field = fd[i].field;
				f->slot.bit = i;
				break;
			}
		}
	} else {
		f->slot.want = kinds[f->kind].elem_want;
		f->slot.kind = kinds[f->kind].elem_kind;
		if (f->kind == K_LATEST && !has_triple_underscore(k, n)) {
			/* TOP, topology, nodes (keyed by node id), node. */
			struct frame *nodes = &v->frames[v->depth - 3];

			mc_add(&v->nodash, nodes->key, nodes->keylen, k, n);
		} else if (f->kind == K_LATEST && v->want_warnings) {
			struct frame *nodes = &v->frames[v->depth - 3];

			mc_add(&v->cells, nodes->key, nodes->keylen, k, n);
		}
	}
	if (f->slot.bit >= 0) {
		uint64_t bit = (uint64_t)1 << f->slot.bit;

		if (f->seen & bit)
			return fail(v, "duplicate key");
		f->seen |= bit;
	}
	return 1;
}

/*
 * Every value starts here: find its slot and check its type.  Returns 0
 * after failing.
 */
static int
begin_value(struct validator *v, enum vt got, int is_null, struct slot *s)
{
	struct frame	*f = top(v);

	if (f == NULL) {
		if (got != V_OBJ)
			return fail(v, "a report must be a JSON object, "
			    "not %s", is_null ? "null" : vt_names[got]);
		s->want = V_OBJ;
		s->kind = K_TOP;
		s->field = F_NONE;
		s->bit = -1;
		return 1;
	}
	if (kinds[f->kind].array) {
		f->index++;
		s->want = kinds[f->kind].elem_want;
		s->kind = kinds[f->kind].elem_kind;
		s->field = F_NONE;
		s->bit = -1;
	} else
		*s = f->slot;

	if (s->want == V_ANY)
		return 1;
	if (is_null) {
		if (s->kind == K_PLUGINS)
			return fail(v, "report must contain exactly one "
			    "plugin (found 0)");
		/* Go decodes null into an empty map or slice. */
		if (s->want == V_OBJ || s->want == V_ARR)
			return 1;
		return fail(v, "expected %s, got null", vt_names[s->want]);
	}
	if (got == s->want || (got == V_INT && s->want == V_NUM))
		return 1;
	return fail(v, "expected %s, got %s", vt_names[s->want],
	    vt_names[got]);
}

static int
null_cb(void *ctx)
{
	struct slot	 s;

	return begin_value(ctx, V_ANY, 1, &s);
}

static int
bool_cb(void *ctx, int b)
{
	struct slot	 s;

	(void)b;
	return begin_value(ctx, V_BOOL, 0, &s);
}

/* Numbers arrive as text so that 1.5 vs 1 and overflow can be told. */
static int
number_cb(void *ctx, const char *num, size_t n)
{
	struct validator	*v = ctx;
	struct slot		 s;
	int			 integral = 1;
	size_t			 i;
	char			*copy, *end;

	for (i = 0; i < n; i++) {
		if (num[i] == '.' || num[i] == 'e' || num[i] == 'E')
			integral = 0;
	}
	if (!begin_value(v, integral ? V_INT : V_NUM, 0, &s))
		return 0;
	if (s.want != V_NUM && s.want != V_INT)
		return 1;
	copy = memdup(num, n);
	errno = 0;
	if (s.want == V_INT) {
		(void)strtoll(copy, &end, 10);
		if (errno == ERANGE) {
			free(copy);
			return fail_value(v, num, n,
			    "integer out of range (64 bits)");
		}
	} else {
		double d = strtod(copy, &end);

		if (!isfinite(d)) {
			free(copy);
			return fail_value(v, num, n,
			    "number out of range (not finite)");
		}
	}
	free(copy);
	return 1;
}

static int
set_order(struct validator *v, struct frame *f, const char *s, size_t n)
{
	if (f->has_last) {
		int c = bytecmp(f->last, f->lastlen, s, n);

		if (c == 0)
			return fail_value(v, s, n, "duplicate entry");
		if (c > 0)
			return fail_value(v, s, n,
			    "not sorted ascending (byte order)");
	}
	free(f->last);
	f->last = memdup(s, n);
	f->lastlen = n;
	f->has_last = 1;
	return 1;
}

/* The map key of the object the top frame is a member value of. */
static struct frame *
parent(struct validator *v)
{
	return v->depth >= 2 ? &v->frames[v->depth - 2] : NULL;
}

static int
string_cb(void *ctx, const unsigned char *str, size_t n)
{
	struct validator	*v = ctx;
	struct frame		*f, *p;
	struct slot		 s;
	const char		*t = (const char *)str;
	struct tstamp		 ts;

	if (!begin_value(v, V_STR, 0, &s))
		return 0;
	f = top(v);

	switch (f->kind) {
	case K_SET:
	case K_ADJACENCY:
		return set_order(v, f, t, n);
	case K_INTERFACES:
		p = &v->frames[v->depth - 3];	/* Plugins array */
		if (p->index == 0) {
			if (streq(t, n, "reporter"))
				v->pl_reporter = 1;
			if (streq(t, n, "controller"))
				v->pl_controller = 1;
		}
		return 1;
	default:
		break;
	}

	switch (s.field) {
	case F_ID:
		p = parent(v);
		if (f->kind == K_PLUGIN) {
			if (p->index == 0 && v->pl_id == NULL) {
				v->pl_id = memdup(t, n);
				v->pl_idlen = n;
			}
			return 1;
		}
		if (n != p->keylen || memcmp(t, p->key, n) != 0) {
			return fail_value(v, t, n, f->kind == K_NODE ?
			    "node id differs from its key in \"nodes\"" :
			    "template id differs from its map key");
		}
		return 1;
	case F_TOPOLOGY:
		if (!streq(t, n, sph_topodefs[v->topology].value)) {
			char *q = quoted(t, n);

			fail(v, "%s: must be \"%s\" (or absent) under \"%s\"; "
			    "a different value can crash the probe", q,
			    sph_topodefs[v->topology].value,
			    sph_topodefs[v->topology].key);
			free(q);
			return 0;
		}
		return 1;
	case F_TIMESTAMP:
	case F_DATE:
		if (rfc3339_parse(t, n, &ts) == -1)
			return fail_value(v, t, n, "not RFC 3339");
		if (f->kind == K_SAMPLE)
			f->ts = ts;
		return 1;
	case F_FROM:
		if (!in_list(t, n, froms))
			return fail_value(v, t, n, "must be \"latest\", "
			    "\"sets\", \"counters\" or \"\"");
		return 1;
	case F_DATATYPE:
		if (!in_list(t, n, datatypes))
			return fail_value(v, t, n, "unknown dataType (\"\", "
			    "number, ip, datetime, duration, link)");
		/* TT, columns, column: the first column's type. */
		if (f->kind == K_COLUMN && parent(v)->index == 0)
			v->frames[v->depth - 3].first_number =
			    streq(t, n, "number");
		return 1;
	case F_COLUMN_ID:
		if (parent(v)->index == 0) {
			struct frame *tt = &v->frames[v->depth - 3];

			free(tt->first);
			tt->first = memdup(t, n);
			tt->firstlen = n;
		}
		return 1;
	case F_FORMAT:
		if (!in_list(t, n, formats))
			return fail_value(v, t, n, "unknown format (\"\", "
			    "integer, percent, filesize)");
		return 1;
	case F_TYPE:
		if (!in_list(t, n, table_types))
			return fail_value(v, t, n, "unknown table type "
			    "(property-list, multicolumn-table)");
		f->multicolumn = streq(t, n, "multicolumn-table");
		return 1;
	case F_PREFIX:
		free(f->prefix);
		f->prefix = memdup(t, n);
		f->prefixlen = n;
		return 1;
	case F_LABEL:
		if (f->kind == K_PLUGIN && parent(v)->index == 0 && n > 0)
			v->pl_label = 1;
		return 1;
	case F_API_VERSION:
		if (f->kind == K_PLUGIN && parent(v)->index == 0 &&
		    v->pl_api == NULL) {
			v->pl_api = memdup(t, n);
			v->pl_apilen = n;
		}
		return 1;
	default:
		return 1;
	}
}

static int
open_frame(struct validator *v, enum vt got)
{
	struct frame	*f;
	struct slot	 s;

	if (!begin_value(v, got, 0, &s))
		return 0;
	if (v->depth == VALIDATE_MAX_DEPTH)
		return fail(v, "nested deeper than %d levels",
		    VALIDATE_MAX_DEPTH);
	/* An ignored member may be an object or an array. */
	if (s.want == V_ANY)
		s.kind = got == V_ARR ? K_ANY_ARRAY : K_ANY;
	if (s.kind == K_TOPOLOGY)
		v->topology = (size_t)v->frames[0].slot.bit;

	f = &v->frames[v->depth++];
	memset(f, 0, sizeof *f);
	f->kind = s.kind;
	f->index = -1;
	f->slot.bit = -1;
	return 1;
}

static int
start_map_cb(void *ctx)
{
	return open_frame(ctx, V_OBJ);
}

static int
start_array_cb(void *ctx)
{
	return open_frame(ctx, V_ARR);
}

static void
frame_clear(struct frame *f)
{
	free(f->key);
	free(f->last);
	free(f->prefix);
	free(f->first);
	memset(f, 0, sizeof *f);
}

/*
 * The probe's checks of the Plugins entry, in its order: exactly one
 * entry, its id, then api_version "1", a label and the "reporter"
 * interface (the first failure is what the probe reports).
 */
static int
check_plugin(struct validator *v, int n)
{
	char	*a, *b;

	if (v->nplugins != 1)
		return fail_at(v, n, NULL, "report must contain exactly one "
		    "plugin (found %zu)", v->nplugins);
	if (v->expected_id != NULL && (v->pl_id == NULL ||
	    !streq(v->pl_id, v->pl_idlen, v->expected_id))) {
		a = v->pl_id ? quoted(v->pl_id, v->pl_idlen) : xstrdup("\"\"");
		b = quoted(v->expected_id, strlen(v->expected_id));
		fail_at(v, n + 1, "id", "plugin must not change its id "
		    "(is %s, should be %s)", a, b);
		free(a);
		free(b);
		return 0;
	}
	if (v->pl_api == NULL || !streq(v->pl_api, v->pl_apilen, "1")) {
		a = v->pl_api ? quoted(v->pl_api, v->pl_apilen) :
		    xstrdup("nothing");
		fail_at(v, n + 1, "api_version", "incorrect API version: "
		    "expected \"1\", got %s", a);
		free(a);
		return 0;
	}
	if (!v->pl_label)
		return fail_at(v, n + 1, "label", "spec must contain a label");
	if (!v->pl_reporter)
		return fail_at(v, n + 1, "interfaces", "spec must implement "
		    "the \"reporter\" interface");
	if (v->controller && !v->pl_controller)
		return fail_at(v, n + 1, "interfaces", "\"controller\" "
		    "missing but the module serves POST /control");
	if (!v->controller && v->pl_controller)
		return fail_at(v, n + 1, "interfaces", "\"controller\" "
		    "listed but the module has no control callback");
	return 1;
}

/* Checks that need the whole object, then pop it. */
static int
close_frame(struct validator *v)
{
	struct frame	*f = top(v), *p = parent(v);
	int		 ok = 1, n = v->depth - 1;
	const char	*pk;

	switch (f->kind) {
	case K_TOP:
		if (!(f->seen & ((uint64_t)1 << TOP_PLUGINS_BIT)))
			ok = fail_at(v, 0, "Plugins", "report must contain "
			    "exactly one plugin (found 0)");
		break;
	case K_TOPOLOGY:
		ok = check_multicolumn(v);
		if (ok && v->want_warnings)
			warn_tables(v);
		mc_clear(&v->nodash);
		mc_clear(&v->prefixes);
		mc_clear(&v->cells);
		tables_clear(v);
		break;
	case K_LATEST_ENTRY:
		if (!(f->seen & 1))
			ok = fail_at(v, n, "timestamp", "missing");
		else if (!(f->seen & 2))
			ok = fail_at(v, n, "value", "missing");
		break;
	case K_LCONTROL:
		if (!(f->seen & 1))
			ok = fail_at(v, n, "timestamp", "missing");
		break;
	case K_SAMPLE:
		if (!(f->seen & 1))
			ok = fail_at(v, n, "date", "missing");
		else if (!(f->seen & 2))
			ok = fail_at(v, n, "value", "missing");
		else if (p->has_last && tstamp_cmp(&p->ts, &f->ts) >= 0)
			ok = fail_at(v, n, "date", "%s", tstamp_cmp(&p->ts,
			    &f->ts) == 0 ? "same date as the previous sample" :
			    "earlier than the previous sample (samples must "
			    "be in ascending date order)");
		else {
			p->ts = f->ts;
			p->has_last = 1;
		}
		break;
	case K_MDT:
	case K_MTT:
	case K_TT:
		if (!(f->seen & 1))
			ok = fail_at(v, n, "id", "missing (must equal the map "
			    "key)");
		else if (f->kind == K_TT && f->multicolumn) {
			pk = p->key;
			mc_add(&v->prefixes, pk, p->keylen,
			    f->prefix ? f->prefix : "", f->prefixlen);
			if (v->want_warnings)
				table_add(v, pk, p->keylen, f);
		}
		break;
	case K_PLUGINS:
		v->nplugins = (size_t)(f->index + 1);
		ok = check_plugin(v, n);
		break;
	default:
		break;
	}
	frame_clear(f);
	v->depth--;
	return ok;
}

static int
end_cb(void *ctx)
{
	return close_frame(ctx);
}

static const yajl_callbacks validate_callbacks = {
	null_cb,
	bool_cb,
	NULL,		/* integers and doubles come as text: number_cb */
	NULL,
	number_cb,
	string_cb,
	start_map_cb,
	key_cb,
	end_cb,
	start_array_cb,
	end_cb,
};

/*
 * Check a report as the probe would, plus the rules in the comment at the
 * top of this file.
 * expected_id may be NULL to skip the id comparison.  Returns 0, or -1
 * with *cause (allocated, caller frees) naming the first problem.
 */
int
validate_report(const char *json, size_t len, const char *expected_id,
    int controller, char **cause)
{
	return validate_report_warn(json, len, expected_id, controller, cause,
	    NULL);
}

/*
 * validate_report(), and with warnings non-NULL also what Scope accepts
 * but shows badly (a multicolumn table without a first column naming
 * its rows): *warnings is then an allocated "; "-separated list, or NULL
 * when there is none.  Warnings are only looked for in a valid report.
 */
int
validate_report_warn(const char *json, size_t len, const char *expected_id,
    int controller, char **cause, char **warnings)
{
	struct validator	 v;
	struct sbuf		 wb = { NULL, 0, 0 };
	yajl_handle		 h;
	yajl_status		 st;
	unsigned char		*err;
	int			 at_end;
	int			 i;

	*cause = NULL;
	if (len > VALIDATE_MAX_BYTES) {
		xasprintf(cause, "report is %zu bytes; the probe refuses more "
		    "than 50 MiB (response must be shorter than 50MB)", len);
		return -1;
	}
	if (warnings != NULL)
		*warnings = NULL;
	memset(&v, 0, sizeof v);
	v.expected_id = expected_id;
	v.controller = controller;
	v.want_warnings = warnings != NULL;
	v.warnings = &wb;

	if ((h = yajl_alloc(&validate_callbacks, NULL, &v)) == NULL)
		fatal("yajl_alloc failed");
	st = yajl_parse(h, (const unsigned char *)(json ? json : ""), len);
	at_end = st == yajl_status_ok;
	if (at_end)
		st = yajl_complete_parse(h);
	if (st == yajl_status_client_canceled && v.cause == NULL)
		v.cause = xstrdup("parse cancelled");	/* not reached */
	if (st == yajl_status_error) {
		/* After complete_parse the offset is meaningless: the end. */
		size_t off = at_end ? len : yajl_get_bytes_consumed(h);
		char *nl;

		err = yajl_get_error(h, 0, NULL, 0);
		if (err != NULL && (nl = strchr((char *)err, '\n')) != NULL)
			*nl = '\0';
		free(v.cause);
		v.cause = NULL;
		xasprintf(&v.cause, "not valid JSON (at byte %zu of %zu): %s",
		    off, len, err ? (const char *)err : "parse error");
		if (err != NULL)
			yajl_free_error(h, err);
	}
	yajl_free(h);

	for (i = 0; i < v.depth; i++)
		frame_clear(&v.frames[i]);
	mc_clear(&v.nodash);
	mc_clear(&v.prefixes);
	mc_clear(&v.cells);
	tables_clear(&v);
	free(v.pl_id);
	free(v.pl_api);

	if (v.cause != NULL) {
		free(wb.p);
		*cause = v.cause;
		return -1;
	}
	if (warnings != NULL)
		*warnings = wb.p;
	else
		free(wb.p);
	return 0;
}
