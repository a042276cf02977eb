/*
 * prom-parse.h - the Prometheus text exposition format (0.0.4, and the
 * OpenMetrics text lines it shares), as a pure function: bytes in,
 * samples out through a callback, no I/O and no global state.  Fuzzed by
 * test/fuzz/fuzz-prom.c.
 */
#ifndef PLUGINS_PROM_PARSE_H
#define PLUGINS_PROM_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* Most labels on one sample; more is an error. */
#define PROM_LABELS_MAX	64

/*
 * How a sample's value behaves.  A counter only grows (until a reset):
 * the series of a counter family, and the _sum, _count and _bucket series
 * of summaries and histograms.  Everything else (gauges, untyped,
 * quantiles, OpenMetrics info and stateset) is a gauge.
 */
enum prom_kind {
	PROM_GAUGE,
	PROM_COUNTER
};

struct prom_label {
	const char	*name;
	const char	*value;		/* escapes decoded, valid UTF-8 */
};

struct prom_sample {
	const char		*name;		/* [a-zA-Z_:][a-zA-Z0-9_:]* */
	enum prom_kind		 kind;
	size_t			 nlabels;
	const struct prom_label	*labels;	/* as written, in order */
	double			 value;		/* may be NaN or +-Inf */
	int			 has_timestamp;
	int64_t			 timestamp_ms;
	unsigned		 line;
};

/*
 * Called for every sample; the strings live until it returns.  Return 0
 * to go on, anything else to stop the parse (prom_parse() then returns
 * that value).
 */
typedef int (*prom_sample_fn)(void *arg, const struct prom_sample *s);

/*
 * Parse len bytes of buf.  Returns 0 when every line was well-formed (a
 * "# EOF" line ends the input early), the callback's nonzero value if it
 * stopped, or -1 with "line N: what" in err (errlen bytes) on the first
 * malformed line; samples before it have been passed on.  An untyped or
 * unknown-typed family is a gauge; samples need not follow their TYPE
 * line.
 */
int	prom_parse(const char *buf, size_t len, prom_sample_fn fn, void *arg,
	    char *err, size_t errlen);

#endif
