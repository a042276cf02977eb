/*
 * scope-plugin.h - module ABI and report SDK for scope-plugin-host.
 *
 * A module is a shared object that exports exactly one symbol, the
 * descriptor SPH_MODULE_SYMBOL, filled by the SPH_MODULE() macro:
 *
 *	#include <scope-plugin.h>
 *
 *	static int
 *	hello_collect(void *state, yajl_gen gen)
 *	{
 *		(void)state;
 *		// write "Host": {...} members; see scope-plugin-report(3)
 *		return 0;
 *	}
 *
 *	SPH_MODULE(
 *		.id = "hello",
 *		.label = "Hello",
 *		.description = "Says hello",
 *		.collect = hello_collect,
 *	);
 *
 * The host loads each module in its own worker process, calls init()
 * once, then collect() for every GET /report (or every interval_ms when
 * set).  collect() writes the *members* of the top-level report object
 * (topology keys such as "Host") into the generator it is given; the
 * host has already opened the object and adds the "Plugins" entry and
 * the closing brace itself.  See scope-plugin(3).
 *
 * ABI rules: the descriptor begins with abi_version and size so the host
 * can check compatibility; it only ever grows at the end.  A module built
 * against an older minor version still loads; a different major version
 * is refused.
 */
#ifndef SCOPE_PLUGIN_H
#define SCOPE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <yajl/yajl_gen.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SPH_ABI_MAJOR 1
#define SPH_ABI_MINOR 2
/* Packed as major << 16 | minor. */
#define SPH_ABI_VERSION ((uint32_t)((SPH_ABI_MAJOR << 16) | SPH_ABI_MINOR))

/* Name of the one symbol a module exports. */
#define SPH_MODULE_SYMBOL sph_module_descriptor
#define SPH_MODULE_SYMBOL_NAME "sph_module_descriptor"

/*
 * Opaque handle to the host, given to init().  Modules keep it in their
 * state to call sph_param() and sph_log() later.
 */
struct sph_host;

/*
 * A parsed POST /control request (Scope's xfer.Request).  All strings are
 * NUL-terminated UTF-8 with \uXXXX escapes already decoded; none is NULL
 * (absent members are "").  ControlArgs is a string-to-string map given as
 * nargs parallel arrays.
 */
struct sph_control {
	const char *app_id;
	const char *node_id;
	const char *control;
	size_t nargs;
	const char *const *arg_keys;
	const char *const *arg_values;
};

/* Return values of the control callback. */
#define SPH_CONTROL_OK		0	/* reply {} */
#define SPH_CONTROL_REFRESH	1	/* reply {"shortcutReport": <fresh report>} */
#define SPH_CONTROL_ERROR	(-1)	/* reply {"error": errbuf} */

/*
 * init: called once in the worker before the first collect.  Set *state to
 * whatever the module needs (it is passed back to every other callback).
 * Return 0, or -1 after sph_log()ing why; the module is then refused.
 * Optional.
 */
typedef int (*sph_init_fn)(struct sph_host *host, void **state);

/*
 * collect: write the report's topology members into gen and return 0.
 * Return -1 (after sph_log()ing why) to make the host answer 500 for this
 * poll.  Any generator error, unbalanced container, non-finite number,
 * invalid UTF-8 or a "Plugins" key of the module's own is a fault: the
 * host drops the document and answers 500 naming the module and the fault.
 * Required.
 */
typedef int (*sph_collect_fn)(void *state, yajl_gen gen);

/*
 * control: act on a Scope control (makes the plugin a Scope "controller").
 * Return SPH_CONTROL_OK, SPH_CONTROL_REFRESH (the host collects a fresh
 * report and sends it as the shortcutReport so the UI updates at once) or
 * SPH_CONTROL_ERROR with a message written to errbuf (errlen bytes,
 * always at least 256).  Must return quickly: the probe waits 500 ms.
 * Optional.
 */
typedef int (*sph_control_fn)(void *state, const struct sph_control *ctl,
    char *errbuf, size_t errlen);

/* fini: release the state at worker shutdown.  Optional. */
typedef void (*sph_fini_fn)(void *state);

/*
 * The module descriptor.  Fill it with SPH_MODULE(); never set abi_version
 * or size by hand.
 */
struct sph_module {
	uint32_t	 abi_version;	/* SPH_ABI_VERSION at build time */
	uint32_t	 size;		/* sizeof(struct sph_module) at build time */

	/* Plugin id: ^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$, also the socket name. */
	const char	*id;
	const char	*label;		/* shown in Scope's plugin list; required */
	const char	*description;	/* tooltip; optional but recommended */

	/*
	 * 0: collect on every GET /report.  Otherwise collect every
	 * interval_ms in the background and serve the last complete report
	 * at once (for modules whose collect is slow).  The operator can
	 * override it.
	 */
	uint32_t	 interval_ms;
	uint32_t	 flags;		/* SPH_MODULE_* flags below, or 0 */

	sph_init_fn	 init;
	sph_collect_fn	 collect;
	sph_control_fn	 control;
	sph_fini_fn	 fini;

	/* Room to grow without changing size; must be zero. */
	void		*reserved[8];
};

/*
 * Descriptor flags.  A host refuses a module with a flag it does not
 * know, so a module that sets one needs a host of at least the ABI
 * version given.
 */

/*
 * SPH_MODULE_INSTANCES_ONLY (ABI 1.1): the module makes sense only as
 * instances the operator defines, each with its own plugin id and
 * parameters (a block "module ID { file NAME.so ... }" in
 * scope-plugin-host.conf(5)); the host does not also serve it under the
 * id of its descriptor.  For generic modules that do nothing without
 * parameters, such as one that runs a command.  sph_module_id() tells an
 * instance its id.
 */
#define SPH_MODULE_INSTANCES_ONLY	0x1u

/*
 * SPH_MODULE_PER_REQUEST (ABI 1.2): one collect() per GET /report.  By
 * default the host coalesces: every request it has read when a collect
 * starts gets that collect's report, and a request read while a collect
 * runs waits for the next one (never a report older than the request), so
 * concurrent polls cost one collect.  Set this flag if each request must
 * run its own collect (say, a collect that counts the polls).  POST
 * /control is always one call per request.
 */
#define SPH_MODULE_PER_REQUEST		0x2u

#if defined(__GNUC__)
#define SPH_EXPORT __attribute__((visibility("default")))
#else
#define SPH_EXPORT
#endif

/* Define the module's descriptor: SPH_MODULE(.id = "x", .label = ..., ...); */
#define SPH_MODULE(...)							\
	SPH_EXPORT extern const struct sph_module SPH_MODULE_SYMBOL;	\
	SPH_EXPORT const struct sph_module SPH_MODULE_SYMBOL = {	\
		.abi_version = SPH_ABI_VERSION,				\
		.size = sizeof(struct sph_module),			\
		__VA_ARGS__						\
	}

/*
 * Host services (libscope-plugin).
 */

/* Log levels for sph_log(), as syslog's. */
#define SPH_LOG_ERR	3
#define SPH_LOG_WARNING	4
#define SPH_LOG_INFO	6
#define SPH_LOG_DEBUG	7

/*
 * Log one line prefixed with the module id.  Safe to call from any
 * callback; host may be NULL (then the line has no module prefix).
 */
void sph_log(struct sph_host *host, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * The operator's value for parameter key of this module (from the
 * configuration or --param id.key=value), or NULL when it is not set.
 * The string lives as long as the worker.
 */
const char *sph_param(struct sph_host *host, const char *key);

/*
 * The plugin id this worker serves: the descriptor's id, or, when the
 * module runs as an instance (scope-plugin-host.conf(5)), the instance's
 * id.  Two instances of one module run in two workers, each with its own
 * id and parameters; use the id where instances must not collide (keys
 * in the report, log lines, files).
 */
const char *sph_module_id(struct sph_host *host);

/*
 * The time to stamp samples with: the wall clock (CLOCK_REALTIME), unless
 * the host runs the module under a test clock.  Use it rather than
 * clock_gettime() so that reports are reproducible in tests.
 */
void sph_now(struct sph_host *host, struct timespec *ts);

/*
 * The probe_id query parameter of the request being served ("" before the
 * first request or when the client sent none).  Nodes that only this
 * plugin reports need it as their latest "control_probe_id" value for
 * Scope to offer their controls.
 */
const char *sph_probe_id(struct sph_host *host);

/*
 * Walks this module's parameters in the operator's order, those whose key
 * begins with prefix (NULL or "": all).  Start with *cursor = 0; each
 * call returns 1 and sets *key and *value (either may be NULL if not
 * wanted) to the next match, 0 when there is none left, or -1 when the
 * host cannot list parameters (a host older than this SDK).  The strings
 * live as long as the worker.  For modules whose parameter names are
 * data, such as "metric.<name>":
 *
 *	size_t cur = 0;
 *	const char *k, *v;
 *	while (sph_param_next(host, "metric.", &cur, &k, &v) == 1)
 *		...
 */
int sph_param_next(struct sph_host *host, const char *prefix,
    size_t *cursor, const char **key, const char **value);

/*
 * The deadline in milliseconds the host gives one collect() of this
 * worker before it kills it (scope-plugin-host.conf(5), "deadline"; for a
 * module with an interval, at least the interval), or 0 when the host
 * does not say.  A module that waits on something else (a child process,
 * a server) should give up before it, so that the poll fails with its
 * reason rather than with the worker killed.
 */
unsigned sph_deadline_ms(struct sph_host *host);

/* ====================================================================
 * Report SDK (libscope-plugin).  See scope-plugin-report(3).
 *
 * A struct sph_report collects one report in memory and writes it into
 * the generator only when sph_report_end() finds it complete and valid,
 * so a module can call the helpers in any order and never emits half a
 * document.  Every helper returns 0 on success or -1 on misuse (unknown
 * topology key, id outside the plugin id pattern where one applies,
 * non-finite number, invalid UTF-8, duplicate key, multicolumn table key
 * without "___", call with nothing selected).  Errors are sticky: after
 * the first one every call returns -1, the error is logged once through
 * sph_log() and sph_report_end() returns -1 without writing anything.
 * A collect() can therefore make all its calls and check only the last:
 *
 *	struct sph_report *r;
 *
 *	if ((r = sph_report_begin(host, gen)) == NULL)
 *		return -1;
 *	sph_topology(r, "Host");
 *	sph_metric_template(r, "iowait", "IO Wait", SPH_FORMAT_PERCENT, 0.1);
 *	sph_node_host(r);
 *	sph_metric(r, "iowait", pct, 0, 100);
 *	return sph_report_end(r);
 * ==================================================================== */

#include <sys/types.h>

/* Opaque report builder; one per collect(). */
struct sph_report;

/* Buffer sizes that always fit a node id or an RFC 3339 timestamp. */
#define SPH_NODE_ID_MAX		320
#define SPH_TIMESTAMP_MAX	40

/* metric_templates "format". */
enum sph_format {
	SPH_FORMAT_NONE,	/* plain number, 2 decimals */
	SPH_FORMAT_INTEGER,	/* "integer" */
	SPH_FORMAT_PERCENT,	/* "percent": 0..100 */
	SPH_FORMAT_FILESIZE	/* "filesize": bytes, shown as KB/MB/... */
};

/* metadata_templates "from": where Scope looks the id up. */
enum sph_from {
	SPH_FROM_ANY,		/* omitted: latest, then sets, then counters */
	SPH_FROM_LATEST,
	SPH_FROM_SETS,
	SPH_FROM_COUNTERS
};

/* metadata_templates and table column "dataType". */
enum sph_datatype {
	SPH_DATATYPE_TEXT,	/* omitted */
	SPH_DATATYPE_NUMBER,	/* "number": sorts numerically */
	SPH_DATATYPE_IP,	/* "ip" */
	SPH_DATATYPE_DATETIME,	/* "datetime": RFC 3339 value */
	SPH_DATATYPE_DURATION,	/* "duration" */
	SPH_DATATYPE_LINK	/* "link": value is a URL */
};

/* table_templates "type". */
enum sph_table_type {
	/* Rows are latest keys <prefix><row>; see sph_table_row(). */
	SPH_TABLE_PROPERTY_LIST,
	/* Cells are latest keys <prefix><row>___<column>; sph_table_cell(). */
	SPH_TABLE_MULTICOLUMN
};

/* One column of a multicolumn table template. */
struct sph_table_column {
	const char		*id;	/* the <column> part of the keys */
	const char		*label;
	enum sph_datatype	 datatype;
};

/* One metric sample, for sph_metric_samples(). */
struct sph_sample {
	struct timespec	 date;
	double		 value;
};

/* --- the builder ------------------------------------------------------ */

/*
 * Start a report that will be written into gen, the generator collect()
 * was given.  The report time (every latest timestamp and sample date) is
 * sph_now(host) at this call and the host name for node ids is
 * $SCOPE_HOSTNAME or gethostname(), read now.  Returns NULL (after
 * logging) if memory or the host name cannot be had.
 */
struct sph_report *sph_report_begin(struct sph_host *host, yajl_gen gen);

/*
 * Check the collected report, write its topology members into the
 * generator and free r.  Returns 0, or -1 if any earlier call failed, a
 * check fails or yajl reports an error; then nothing (or, for a yajl
 * error, a document the host will drop) was written.  Return its value
 * from collect().
 */
int sph_report_end(struct sph_report *r);

/* Free r without writing anything (collect() gives up). */
void sph_report_discard(struct sph_report *r);

/* The first error message, or NULL if there was none. */
const char *sph_report_error(const struct sph_report *r);

/* The report time taken by sph_report_begin(). */
const struct timespec *sph_report_time(const struct sph_report *r);

/* The host name used in node ids. */
const char *sph_report_hostname(const struct sph_report *r);

/* --- topologies and nodes --------------------------------------------- */

/*
 * Select topology key ("Host", "Container", "ContainerImage", "Process",
 * "Pod", ... in exact case, as Scope spells them; scope-plugin-report(3)
 * lists them) for the calls that follow,
 * creating it on first use.  Fails for any other key (including
 * "Plugins" and "host").
 */
int sph_topology(struct sph_report *r, const char *key);

/*
 * Select node id in the current topology, creating it on first use.  The
 * node is written with "id" equal to its key and "topology" set to the
 * canonical value ("host", "container", ...).  Selecting an existing node
 * again adds to it.  Fails without a topology or for an empty id.
 */
int sph_node(struct sph_report *r, const char *id);

/* sph_node() with the host node id "<hostname>;<host>". */
int sph_node_host(struct sph_report *r);

/* sph_node() with the process node id "<hostname>;<pid>"; pid > 0. */
int sph_node_process(struct sph_report *r, pid_t pid);

/*
 * sph_node() with the container node id "<container_id>;<container>";
 * container_id (Docker's 64 hex digits) must match the plugin id pattern.
 */
int sph_node_container(struct sph_report *r, const char *container_id);

/* --- node data (into the selected node) ------------------------------- */

/*
 * Set latest key to the string value, stamped with the report time.
 * key must be new in this node and not "host_node_id" (the probe adds
 * it); under a multicolumn table prefix it must contain "___".
 */
int sph_latest(struct sph_report *r, const char *key, const char *value);

/* sph_latest() with a printf-formatted value. */
int sph_latestf(struct sph_report *r, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Set metric key to one sample (report time, value) with the plot range
 * min..max.  All three must be finite and min <= max.
 */
int sph_metric(struct sph_report *r, const char *key, double value,
    double min, double max);

/*
 * Set metric key to n >= 1 samples, dates strictly ascending, values
 * finite.  The array is copied.
 */
int sph_metric_samples(struct sph_report *r, const char *key,
    const struct sph_sample *samples, size_t n, double min, double max);

/*
 * Add value to the set key.  Sets are written sorted, without
 * duplicates, whatever the order of the calls.
 */
int sph_set_add(struct sph_report *r, const char *key, const char *value);

/*
 * Add node id as a parent of the selected node in topology, a canonical
 * node topology value such as "host" or "container" (not the key
 * "Host").  Written sorted and unique like sets.
 */
int sph_parent_add(struct sph_report *r, const char *topology,
    const char *id);

/*
 * Property-list table row: latest key <prefix><row> = value.  Pair it
 * with sph_table_template(..., SPH_TABLE_PROPERTY_LIST, ...).
 */
int sph_table_row(struct sph_report *r, const char *prefix, const char *row,
    const char *value);

/*
 * Multicolumn table cell: latest key <prefix><row>___<column> = value.
 * row and column must be non-empty and not contain "___".
 */
int sph_table_cell(struct sph_report *r, const char *prefix, const char *row,
    const char *column, const char *value);

/* sph_table_cell() with a printf-formatted value. */
int sph_table_cellf(struct sph_report *r, const char *prefix, const char *row,
    const char *column, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * Record the state of control id on the selected node: live (offered in
 * the UI) or dead.  Written as the node's "latestControls" map, which
 * Scope 1.12 reads and 1.13 converts to active_controls.  The first call
 * on a node also sets latest "control_probe_id" to sph_probe_id(host)
 * (when known), without which Scope hides the node's controls.  id must
 * match the plugin id pattern.
 */
int sph_node_control(struct sph_report *r, const char *id, int live);

/* --- templates and controls (into the selected topology) -------------- */

/*
 * Metadata template: show latest (or sets/counters) key id as a row
 * labelled label.  Rows sort by ascending priority; >= 10 are hidden
 * behind "show more".
 */
int sph_metadata_template(struct sph_report *r, const char *id,
    const char *label, double priority, enum sph_from from,
    enum sph_datatype datatype);

/* Metric template: render metric id as a sparkline labelled label. */
int sph_metric_template(struct sph_report *r, const char *id,
    const char *label, enum sph_format format, double priority);

/*
 * Table template over the latest keys starting with prefix.  A
 * multicolumn table needs ncols >= 1 columns; every latest key under its
 * prefix, in this topology, must then contain "___" (checked whichever is
 * added first).  A property list takes no columns (cols NULL, ncols 0).
 */
int sph_table_template(struct sph_report *r, const char *id,
    const char *label, const char *prefix, enum sph_table_type type,
    const struct sph_table_column *cols, size_t ncols);

/* Column id of the name column of sph_table_template_named(). */
#define SPH_TABLE_NAME_COLUMN	"name"

/*
 * Multicolumn table template whose first column names the row: column
 * SPH_TABLE_NAME_COLUMN labelled name_label ("Device", "Interface",
 * "Mount point", ...), then cols (none of them with that id; ncols may
 * be 0).  Scope draws only a multicolumn row's cells, never its row id,
 * so a table without such a column shows rows nobody can tell apart.
 * Fill the other cells with sph_table_cell() as usual: at
 * sph_report_end() every row without a name cell of its own gets one
 * holding its row id.  To show another name (a mount point where the
 * row id is a device number), set it with sph_table_cell(r, prefix, row,
 * SPH_TABLE_NAME_COLUMN, name).  Otherwise as sph_table_template(...,
 * SPH_TABLE_MULTICOLUMN, ...).
 */
int sph_table_template_named(struct sph_report *r, const char *id,
    const char *label, const char *prefix, const char *name_label,
    const struct sph_table_column *cols, size_t ncols);

/*
 * Define control id (plugin id pattern) for this topology: human is the
 * tooltip, icon Font Awesome classes ("fa fa-gears"), rank orders the
 * buttons.  The module's control() callback receives id unchanged.
 */
int sph_control_def(struct sph_report *r, const char *id, const char *human,
    const char *icon, int rank);

/* --- ids and time ----------------------------------------------------- */

/* 1 if id matches ^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$, else 0. */
int sph_id_valid(const char *id);

/*
 * The canonical node "topology" value of topology key ("Host" ->
 * "host"), or NULL if key is not a Scope topology.
 */
const char *sph_topology_value(const char *key);

/* Copy $SCOPE_HOSTNAME, else gethostname(), into buf.  0 or -1. */
int sph_hostname(char *buf, size_t len);

/* "<hostname>;<host>" into buf (SPH_NODE_ID_MAX fits).  0 or -1. */
int sph_host_node_id(char *buf, size_t len);

/* "<hostname>;<pid>" into buf.  0 or -1. */
int sph_process_node_id(char *buf, size_t len, pid_t pid);

/* "<container_id>;<container>" into buf.  0 or -1 (also for a bad id). */
int sph_container_node_id(char *buf, size_t len, const char *container_id);

/*
 * Format ts as RFC 3339 UTC: 2024-03-01T10:00:02Z, with a fraction
 * (trailing zeros dropped) when tv_nsec is not 0.  0 or -1.
 */
int sph_rfc3339(const struct timespec *ts, char *buf, size_t len);

/* --- reading kernel data through a configurable root ------------------- */

/*
 * Build "<root>/<rel>" into buf, where root is the module parameter
 * param (e.g. "proc_root") or def (e.g. "/proc") when it is unset, so
 * tests can point a module at a fixture tree.  Read the parameter at
 * every sample rather than caching it.  Returns 0, or -1 with errno
 * ENAMETOOLONG.
 */
int sph_root_path(struct sph_host *host, const char *param, const char *def,
    const char *rel, char *buf, size_t len);

/*
 * Read all of "<root>/<rel>" (as sph_root_path()) into buf, NUL-terminated.
 * Returns the length, or -1 with errno set (ENOENT for a vanished file,
 * EFBIG if it does not fit in len - 1 bytes; buf then holds the first
 * len - 1 bytes, NUL-terminated).
 */
ssize_t sph_root_read(struct sph_host *host, const char *param,
    const char *def, const char *rel, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* SCOPE_PLUGIN_H */
