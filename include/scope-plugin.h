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
#define SPH_ABI_MINOR 0
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
	uint32_t	 flags;		/* none defined yet; must be 0 */

	sph_init_fn	 init;
	sph_collect_fn	 collect;
	sph_control_fn	 control;
	sph_fini_fn	 fini;

	/* Room to grow without changing size; must be zero. */
	void		*reserved[8];
};

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

/* This module's id, as in its descriptor. */
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

#ifdef __cplusplus
}
#endif

#endif /* SCOPE_PLUGIN_H */
