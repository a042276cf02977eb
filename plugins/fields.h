/*
 * fields.h - what the exec and prometheus modules share: splitting a line
 * into fields, the per-series display options (label, format, priority,
 * min, max), node targets ("host", "container:ID", "process:PID") and
 * making untrusted text safe to quote in a log line or an error reason.
 * Compiled into each of the two modules.
 */
#ifndef PLUGINS_FIELDS_H
#define PLUGINS_FIELDS_H

#include <stddef.h>
#include <sys/types.h>

#include "scope-plugin.h"

/* Most fields on one line; more is an error. */
#define FIELDS_MAX	64

/* Longest label or metadata text accepted (bytes). */
#define FIELDS_TEXT_MAX	256

/*
 * Split line (modified in place) into at most max fields.  Blanks (space,
 * tab) separate fields; a field may be written "in double quotes", with \"
 * \\ and \n escapes inside, and a quoted part may end an option such as
 * label="Clock offset".  Returns the number of fields, or -1 with *err
 * set to a static message (unterminated quote, too many fields).
 */
int	fields_split(char *line, char **fields, int max, const char **err);

/* How one value is shown: templates and the metric's plot range. */
struct series_spec {
	char		 label[FIELDS_TEXT_MAX];
	enum sph_format	 format;
	double		 priority;
	double		 min;
	double		 max;
	int		 has_label;
	int		 has_priority;
	int		 has_min;
	int		 has_max;
	enum sph_datatype datatype;	/* metadata (exec's "info") only */
};

/*
 * Apply one "name=value" option (label, format, priority, min, max,
 * type) to spec.  Returns 0, 1 when the name is not one of these (the
 * caller may know it), or -1 with a message in err (errlen bytes).
 */
int	spec_option(struct series_spec *spec, const char *opt, char *err,
	    size_t errlen);

/*
 * The plot range for value: min and max when given, else 0..100 for
 * percentages and 0..value (value..0 when negative) otherwise, widened
 * to hold value.
 */
void	spec_range(const struct series_spec *spec, double value, double *min,
	    double *max);

/*
 * The module parameter key as a number from min to max, or def when it is
 * unset or invalid (then with a warning naming it).
 */
unsigned param_uint(struct sph_host *host, const char *key, unsigned def,
	    unsigned min, unsigned max);

/*
 * The "timeout" param in ms (waiting for a command or a server), by
 * default below the host's collect deadline (sph_deadline_ms()) so that
 * the poll fails with the module's reason before the host kills the
 * worker: the deadline less a tenth of it, at least 50 ms and at most
 * 1 s; FIELDS_TIMEOUT_FALLBACK_MS when the host does not say.
 */
#define FIELDS_TIMEOUT_FALLBACK_MS	900
unsigned param_timeout(struct sph_host *host);

/* At init: warn when the "timeout" param is not below the deadline. */
void	param_timeout_check(struct sph_host *host);

/* Parse a finite number, the whole string.  0 or -1. */
int	parse_finite(const char *s, double *out);

/* Where a value goes. */
enum target_kind {
	TARGET_HOST,
	TARGET_CONTAINER,	/* arg: the container id */
	TARGET_PROCESS		/* pid */
};

struct target {
	enum target_kind kind;
	const char	*arg;	/* points into the parsed string */
	pid_t		 pid;
};

/*
 * Parse "host", "container:ARG" or "process:PID".  For containers ARG is
 * kept as is (exec: the id; prometheus: the label holding it).  Returns
 * 0 or -1 with a message in err.
 */
int	target_parse(const char *s, struct target *t, char *err, size_t errlen);

/* The report topology key of a target kind ("Host", ...). */
const char *target_topology(enum target_kind kind);

/*
 * Copy len bytes of untrusted text into out (outlen bytes, always
 * NUL-terminated) for a log line or an error reason: control bytes and
 * invalid UTF-8 become \xNN, and text that does not fit ends in "...".
 */
void	text_quote(const char *in, size_t len, char *out, size_t outlen);

/* 1 if s (len bytes) is valid UTF-8 without control bytes but tab. */
int	text_printable(const char *s, size_t len);

#endif
