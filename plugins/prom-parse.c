/*
 * prom-parse.c - Prometheus text exposition parser (see prom-parse.h).
 *
 * One pass over the buffer, line by line.  Each line is copied into a
 * scratch buffer where names and decoded label values are NUL-terminated
 * in place, so a sample costs no allocation beyond the scratch buffer
 * (grown to the longest line) and the family types seen in TYPE lines.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom-parse.h"
#include "strmap.h"

/* Family types from TYPE lines, stored in the map as pointers. */
enum family_type {
	FT_NONE,
	FT_COUNTER,
	FT_GAUGE,
	FT_SUMMARY,
	FT_HISTOGRAM,
	FT_OTHER	/* untyped, unknown, info, stateset, gaugehistogram */
};

struct parser {
	char		*scratch;
	size_t		 cap;
	struct strmap	 types;
	char		*err;
	size_t		 errlen;
	unsigned	 line;
};

static int
perr(struct parser *p, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	n = snprintf(p->err, p->errlen, "line %u: ", p->line);
	if (n < 0 || (size_t)n >= p->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int
name_start(int c, int colon)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	    (colon && c == ':');
}

static int
name_char(int c, int colon)
{
	return name_start(c, colon) || (c >= '0' && c <= '9');
}

/* Length of the name at s (metric names may hold ':'), 0 if none. */
static size_t
name_len(const char *s, int colon)
{
	size_t	n = 0;

	if (!name_start((unsigned char)s[0], colon))
		return 0;
	while (name_char((unsigned char)s[n], colon))
		n++;
	return n;
}

static int
utf8_ok(const unsigned char *s)
{
	unsigned	cp;
	int		need, i;

	while (*s != '\0') {
		if (*s < 0x80) {
			s++;
			continue;
		}
		if (*s >= 0xc2 && *s <= 0xdf) {
			need = 1;
			cp = *s & 0x1f;
		} else if (*s >= 0xe0 && *s <= 0xef) {
			need = 2;
			cp = *s & 0x0f;
		} else if (*s >= 0xf0 && *s <= 0xf4) {
			need = 3;
			cp = *s & 0x07;
		} else
			return 0;
		for (i = 1; i <= need; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i] & 0x3f);
		}
		if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 &&
		    cp <= 0xdfff))) || (need == 3 && (cp < 0x10000 ||
		    cp > 0x10ffff)))
			return 0;
		s += need + 1;
	}
	return 1;
}

static char *
skip_blanks(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* "# TYPE name type" (HELP and other comments are ignored). */
static int
parse_comment(struct parser *p, char *s, int *eof)
{
	static const struct {
		const char		*name;
		enum family_type	 type;
	} types[] = {
		{ "counter", FT_COUNTER },
		{ "gauge", FT_GAUGE },
		{ "summary", FT_SUMMARY },
		{ "histogram", FT_HISTOGRAM },
	};
	char			*name, *type;
	size_t			 n, i;
	enum family_type	 ft = FT_OTHER;

	s = skip_blanks(s + 1);
	if (strcmp(s, "EOF") == 0) {
		*eof = 1;
		return 0;
	}
	if (strncmp(s, "TYPE", 4) != 0 || (s[4] != ' ' && s[4] != '\t'))
		return 0;
	name = skip_blanks(s + 4);
	if ((n = name_len(name, 1)) == 0)
		return perr(p, "TYPE without a metric name");
	type = skip_blanks(name + n);
	if (type == name + n)
		return perr(p, "TYPE without a type");
	name[n] = '\0';
	for (i = 0; i < sizeof types / sizeof types[0]; i++)
		if (strcmp(type, types[i].name) == 0)
			ft = types[i].type;
	if (strmap_put(&p->types, name, (void *)(uintptr_t)ft) != 0)
		return perr(p, "out of memory");
	return 0;
}

static enum family_type
family_type(struct parser *p, const char *name, const char **suffix)
{
	static const char *const suffixes[] = {
		"_total", "_count", "_sum", "_bucket", "_created"
	};
	char		 fam[256];
	size_t		 n = strlen(name), sl, i;
	void		*v;

	*suffix = "";
	if ((v = strmap_get(&p->types, name)) != NULL)
		return (enum family_type)(uintptr_t)v;
	for (i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		sl = strlen(suffixes[i]);
		if (n <= sl || n - sl >= sizeof fam ||
		    strcmp(name + n - sl, suffixes[i]) != 0)
			continue;
		memcpy(fam, name, n - sl);
		fam[n - sl] = '\0';
		if ((v = strmap_get(&p->types, fam)) != NULL) {
			*suffix = suffixes[i];
			return (enum family_type)(uintptr_t)v;
		}
	}
	return FT_NONE;
}

static enum prom_kind
sample_kind(enum family_type ft, const char *suffix)
{
	switch (ft) {
	case FT_COUNTER:
		/* foo_created is when the counter started: not a counter. */
		return strcmp(suffix, "_created") == 0 ? PROM_GAUGE :
		    PROM_COUNTER;
	case FT_SUMMARY:
	case FT_HISTOGRAM:
		return strcmp(suffix, "_sum") == 0 ||
		    strcmp(suffix, "_count") == 0 ||
		    strcmp(suffix, "_bucket") == 0 ? PROM_COUNTER : PROM_GAUGE;
	default:
		return PROM_GAUGE;
	}
}

/* Decodes a quoted label value in place from s (after the quote). */
static char *
label_value(struct parser *p, char *s, char **end)
{
	char	*r = s, *w = s;

	for (;;) {
		if (*r == '\0') {
			perr(p, "unterminated label value");
			return NULL;
		}
		if (*r == '"')
			break;
		if (*r == '\\') {
			r++;
			if (*r == 'n')
				*w++ = '\n';
			else if (*r == '\\' || *r == '"')
				*w++ = *r;
			else {
				perr(p, "invalid escape \\%c in a label value",
				    *r >= 0x20 && *r < 0x7f ? *r : '?');
				return NULL;
			}
			r++;
			continue;
		}
		*w++ = *r++;
	}
	*end = r + 1;
	*w = '\0';
	if (!utf8_ok((unsigned char *)s)) {
		perr(p, "label value is not valid UTF-8");
		return NULL;
	}
	return s;
}

static int
parse_number(char *tok, double *v)
{
	char	*end;

	if (*tok == '\0')
		return -1;
	errno = 0;
	*v = strtod(tok, &end);
	/* strtod also reads "nan(...)" and "infinity": Go's parser too. */
	return *end == '\0' ? 0 : -1;
}

static int
parse_sample(struct parser *p, char *s, prom_sample_fn fn, void *arg)
{
	struct prom_label	 labels[PROM_LABELS_MAX];
	struct prom_sample	 smp;
	enum family_type	 ft;
	const char		*suffix;
	char			*name, *tok, *end, *lname;
	size_t			 n, i;
	long long		 ts;

	memset(&smp, 0, sizeof smp);
	smp.line = p->line;
	if ((n = name_len(s, 1)) == 0)
		return perr(p, "expected a metric name");
	name = s;
	s += n;
	end = skip_blanks(s);
	if (*end == '{') {
		*s = '\0';
		s = skip_blanks(end + 1);
		while (*s != '}') {
			if ((n = name_len(s, 0)) == 0)
				return perr(p, "expected a label name");
			lname = s;
			s = skip_blanks(s + n);
			if (*s != '=')
				return perr(p, "expected = after a label name");
			lname[n] = '\0';
			s = skip_blanks(s + 1);
			if (*s != '"')
				return perr(p, "expected a quoted label value");
			if (smp.nlabels == PROM_LABELS_MAX)
				return perr(p, "more than %d labels",
				    PROM_LABELS_MAX);
			for (i = 0; i < smp.nlabels; i++)
				if (strcmp(labels[i].name, lname) == 0)
					return perr(p, "label %s twice", lname);
			labels[smp.nlabels].name = lname;
			if ((labels[smp.nlabels].value = label_value(p, s + 1,
			    &s)) == NULL)
				return -1;
			smp.nlabels++;
			s = skip_blanks(s);
			if (*s == ',')
				s = skip_blanks(s + 1);
			else if (*s != '}')
				return perr(p, "expected , or } after a label");
		}
		s++;
		if (*s != ' ' && *s != '\t')
			return perr(p, "expected a blank before the value");
	} else if (s == end)
		return perr(p, "expected a blank or { after the metric name");
	else
		*s = '\0';
	s = skip_blanks(s + 1);
	tok = s;
	while (*s != '\0' && *s != ' ' && *s != '\t')
		s++;
	end = s;
	s = skip_blanks(s);
	*end = '\0';
	if (parse_number(tok, &smp.value) != 0)
		return perr(p, "value is not a number");
	if (*s != '\0' && *s != '#') {
		tok = s;
		while (*s != '\0' && *s != ' ' && *s != '\t')
			s++;
		end = s;
		s = skip_blanks(s);
		*end = '\0';
		errno = 0;
		ts = strtoll(tok, &end, 10);
		if (*tok == '\0' || *end != '\0' || errno != 0)
			return perr(p, "timestamp is not an integer");
		smp.has_timestamp = 1;
		smp.timestamp_ms = ts;
	}
	/* An OpenMetrics exemplar ("# {...} v") may follow; ignored. */
	if (*s != '\0' && *s != '#')
		return perr(p, "unexpected text after the value");
	ft = family_type(p, name, &suffix);
	smp.name = name;
	smp.kind = sample_kind(ft, suffix);
	smp.labels = labels;
	return fn(arg, &smp);
}

int
prom_parse(const char *buf, size_t len, prom_sample_fn fn, void *arg,
    char *err, size_t errlen)
{
	struct parser	 p;
	const char	*line, *nl, *end = buf + len;
	size_t		 llen;
	char		*s, *ns;
	int		 rc = 0, eof = 0;

	memset(&p, 0, sizeof p);
	p.err = err;
	p.errlen = errlen;
	if (errlen > 0)
		err[0] = '\0';
	for (line = buf; line < end && !eof && rc == 0;
	    line = nl != NULL ? nl + 1 : end) {
		p.line++;
		nl = memchr(line, '\n', (size_t)(end - line));
		llen = (size_t)((nl != NULL ? nl : end) - line);
		if (llen > 0 && line[llen - 1] == '\r')
			llen--;
		if (memchr(line, '\0', llen) != NULL) {
			rc = perr(&p, "NUL byte");
			break;
		}
		if (llen + 1 > p.cap) {
			if ((ns = realloc(p.scratch, llen + 1)) == NULL) {
				rc = perr(&p, "out of memory");
				break;
			}
			p.scratch = ns;
			p.cap = llen + 1;
		}
		memcpy(p.scratch, line, llen);
		p.scratch[llen] = '\0';
		s = skip_blanks(p.scratch);
		if (*s == '\0')
			continue;
		if (*s == '#')
			rc = parse_comment(&p, s, &eof);
		else
			rc = parse_sample(&p, s, fn, arg);
	}
	free(p.scratch);
	strmap_clear(&p.types);
	return rc;
}
