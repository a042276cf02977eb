/*
 * fields.c - line fields, display options, targets and quoting shared by
 * the exec and prometheus modules (see fields.h).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fields.h"

int
fields_split(char *line, char **fields, int max, const char **err)
{
	char	*r = line, *w;
	int	 n = 0, quoted;

	for (;;) {
		while (*r == ' ' || *r == '\t')
			r++;
		if (*r == '\0')
			return n;
		if (n == max) {
			*err = "too many fields";
			return -1;
		}
		fields[n++] = w = r;
		quoted = 0;
		for (; *r != '\0'; r++) {
			if (!quoted && (*r == ' ' || *r == '\t'))
				break;
			if (*r == '"') {
				quoted = !quoted;
				continue;
			}
			if (quoted && *r == '\\' && r[1] != '\0') {
				r++;
				*w++ = *r == 'n' ? '\n' : *r;
				continue;
			}
			*w++ = *r;
		}
		if (quoted) {
			*err = "unterminated quote";
			return -1;
		}
		if (*r != '\0')
			r++;
		*w = '\0';
	}
}

int
parse_finite(const char *s, double *out)
{
	char	*end;
	double	 v;

	if (*s == '\0' || *s == ' ')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (*end != '\0' || !isfinite(v) || (errno == ERANGE && v != 0))
		return -1;
	*out = v;
	return 0;
}

static const struct {
	const char	*name;
	enum sph_format	 format;
} formats[] = {
	{ "number", SPH_FORMAT_NONE },
	{ "integer", SPH_FORMAT_INTEGER },
	{ "percent", SPH_FORMAT_PERCENT },
	{ "filesize", SPH_FORMAT_FILESIZE },
};

static const struct {
	const char		*name;
	enum sph_datatype	 type;
} datatypes[] = {
	{ "text", SPH_DATATYPE_TEXT },
	{ "number", SPH_DATATYPE_NUMBER },
	{ "ip", SPH_DATATYPE_IP },
	{ "datetime", SPH_DATATYPE_DATETIME },
	{ "duration", SPH_DATATYPE_DURATION },
	{ "link", SPH_DATATYPE_LINK },
};

int
spec_option(struct series_spec *spec, const char *opt, char *err,
    size_t errlen)
{
	const char	*eq = strchr(opt, '='), *v;
	size_t		 nlen, i;
	double		 d;

	if (eq == NULL)
		return 1;
	nlen = (size_t)(eq - opt);
	v = eq + 1;
#define IS(s) (nlen == strlen(s) && strncmp(opt, (s), nlen) == 0)
	if (IS("label")) {
		if (*v == '\0' || strlen(v) >= sizeof spec->label) {
			snprintf(err, errlen, "label must be 1 to %zu bytes",
			    sizeof spec->label - 1);
			return -1;
		}
		strcpy(spec->label, v);
		spec->has_label = 1;
		return 0;
	}
	if (IS("format")) {
		for (i = 0; i < sizeof formats / sizeof formats[0]; i++)
			if (strcmp(v, formats[i].name) == 0) {
				spec->format = formats[i].format;
				return 0;
			}
		snprintf(err, errlen, "format must be number, integer, "
		    "percent or filesize");
		return -1;
	}
	if (IS("type")) {
		for (i = 0; i < sizeof datatypes / sizeof datatypes[0]; i++)
			if (strcmp(v, datatypes[i].name) == 0) {
				spec->datatype = datatypes[i].type;
				return 0;
			}
		snprintf(err, errlen, "type must be text, number, ip, "
		    "datetime, duration or link");
		return -1;
	}
	if (IS("priority") || IS("min") || IS("max")) {
		if (parse_finite(v, &d) != 0) {
			snprintf(err, errlen, "%.*s must be a finite number",
			    (int)nlen, opt);
			return -1;
		}
		if (IS("priority")) {
			spec->priority = d;
			spec->has_priority = 1;
		} else if (IS("min")) {
			spec->min = d;
			spec->has_min = 1;
		} else {
			spec->max = d;
			spec->has_max = 1;
		}
		if (spec->has_min && spec->has_max && spec->min > spec->max) {
			snprintf(err, errlen, "min is above max");
			return -1;
		}
		return 0;
	}
#undef IS
	return 1;
}

void
spec_range(const struct series_spec *spec, double value, double *min,
    double *max)
{
	if (spec->format == SPH_FORMAT_PERCENT) {
		*min = 0;
		*max = 100;
	} else {
		*min = value < 0 ? value : 0;
		*max = value > 0 ? value : 0;
	}
	if (spec->has_min)
		*min = spec->min;
	if (spec->has_max)
		*max = spec->max;
	if (value < *min)
		*min = value;
	if (value > *max)
		*max = value;
}

int
target_parse(const char *s, struct target *t, char *err, size_t errlen)
{
	char	*end;
	long	 pid;

	memset(t, 0, sizeof *t);
	if (strcmp(s, "host") == 0) {
		t->kind = TARGET_HOST;
		return 0;
	}
	if (strncmp(s, "container:", 10) == 0 && s[10] != '\0') {
		t->kind = TARGET_CONTAINER;
		t->arg = s + 10;
		return 0;
	}
	if (strncmp(s, "process:", 8) == 0) {
		errno = 0;
		pid = strtol(s + 8, &end, 10);
		if (s[8] >= '0' && s[8] <= '9' && *end == '\0' && errno == 0 &&
		    pid > 0 && pid <= 0x3fffffff) {
			t->kind = TARGET_PROCESS;
			t->pid = (pid_t)pid;
			t->arg = s + 8;
			return 0;
		}
		snprintf(err, errlen, "process:PID needs a pid above 0");
		return -1;
	}
	snprintf(err, errlen, "node must be host, container:ID or "
	    "process:PID");
	return -1;
}

const char *
target_topology(enum target_kind kind)
{
	switch (kind) {
	case TARGET_CONTAINER:
		return "Container";
	case TARGET_PROCESS:
		return "Process";
	case TARGET_HOST:
		break;
	}
	return "Host";
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t		need, i;
	unsigned	cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		need = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		need = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		need = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (n < need)
		return 0;
	for (i = 1; i < need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((need == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (need == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return need;
}

int
text_printable(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, n;

	while (i < len) {
		if ((n = utf8_len(p + i, len - i)) == 0)
			return 0;
		if (n == 1 && (p[i] < 0x20 || p[i] == 0x7f) && p[i] != '\t')
			return 0;
		i += n;
	}
	return 1;
}

void
text_quote(const char *in, size_t len, char *out, size_t outlen)
{
	const unsigned char	*p = (const unsigned char *)in;
	size_t			 i = 0, o = 0, n;

	if (outlen == 0)
		return;
	while (i < len) {
		n = utf8_len(p + i, len - i);
		if (n == 1 && (p[i] < 0x20 || p[i] == 0x7f) && p[i] != '\t')
			n = 0;
		/* Room for this piece and a closing "..." */
		if (o + (n == 0 ? 4 : n) + 4 > outlen) {
			/* Earlier pieces left room for it (or outlen < 4). */
			if (o + 4 <= outlen) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (n == 0) {
			snprintf(out + o, 5, "\\x%02x", p[i]);
			o += 4;
			i++;
		} else {
			memcpy(out + o, p + i, n);
			o += n;
			i += n;
		}
	}
	out[o < outlen ? o : outlen - 1] = '\0';
}

unsigned
param_uint(struct sph_host *host, const char *key, unsigned def,
    unsigned min, unsigned max)
{
	const char	*v = sph_param(host, key);
	char		*end;
	unsigned long	 u;

	if (v == NULL)
		return def;
	errno = 0;
	u = strtoul(v, &end, 10);
	if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 || u < min ||
	    u > max) {
		sph_log(host, SPH_LOG_WARNING, "param %s: expected a number "
		    "from %u to %u, got \"%s\"; using %u", key, min, max, v,
		    def);
		return def;
	}
	return (unsigned)u;
}

static unsigned
timeout_default(struct sph_host *host)
{
	unsigned	d = sph_deadline_ms(host), margin;

	if (d == 0)
		return FIELDS_TIMEOUT_FALLBACK_MS;
	margin = d / 10;
	if (margin < 50)
		margin = 50;
	if (margin > 1000)
		margin = 1000;
	/* A deadline too short for the margin: half of it. */
	return d > 2 * margin ? d - margin : (d / 2 > 10 ? d / 2 : 10);
}

unsigned
param_timeout(struct sph_host *host)
{
	return param_uint(host, "timeout", timeout_default(host), 10, 3600000);
}

void
param_timeout_check(struct sph_host *host)
{
	unsigned	d = sph_deadline_ms(host), t = param_timeout(host);

	if (d != 0 && t >= d)
		sph_log(host, SPH_LOG_WARNING, "param timeout %u ms is not "
		    "below the deadline of %u ms: a slow run is killed by the "
		    "host, without its reason", t, d);
}
