/*
 * host.h - private declarations of scope-plugin-host, grouped by file.
 *
 * Process model (docs/ARCHITECTURE.md): the supervisor never loads module
 * code.  It owns the socket directory, every listening socket and all
 * state; each module runs in a worker, a fresh exec of this binary in
 * worker mode, which dlopens the module and serves HTTP on the
 * connections the supervisor accepts and passes to it.
 */
#ifndef HOST_H
#define HOST_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>

#include <event2/event.h>
#include <event2/buffer.h>
#include <yajl/yajl_gen.h>

#include "scope-plugin.h"

/* glibc's sys/queue.h lacks the _SAFE variants. */
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST((head));				\
	    (var) && ((tvar) = TAILQ_NEXT((var), field), 1);		\
	    (var) = (tvar))
#endif

#define HOST_NAME "scope-plugin-host"

/*
 * The host's limit on a plugin id's length; the probe's id pattern
 * (docs/ARCHITECTURE.md, "What Scope's probe expects" 1) fixes only the
 * characters.
 */
#define PLUGIN_ID_MAX 64

/* Worker exit code for a permanent refusal (sysexits' EX_CONFIG). */
#define WORKER_EXIT_REFUSED 78

/* Refusal reason (prefix) of a module with "enabled no": not an error. */
#define WORKER_DISABLED "disabled by configuration"
/* Refusal reason (prefix) of an instances-only module under its own id:
 * not an error either. */
#define WORKER_INSTANCES_ONLY "served only as instances"

/* File descriptors a worker is started with. */
#define WORKER_CHANNEL_FD 3
#define WORKER_STATS_FD 4
#define WORKER_LOG_FD 5		/* the worker's log lines, to the supervisor */
#define WORKER_ALARM_FD 6	/* a timerfd the supervisor watches (fallback.c) */
/*
 * A collect or control that runs longer than this wakes the supervisor,
 * which then watches the worker's connections until its requests are
 * answered (fallback.c); a quicker one costs it nothing.  A quarter of
 * a reply deadline shorter than 40 ms.
 */
#define BUSY_ALARM_MS 10

/*
 * Operator settings (the table in options.c says which flag and key sets
 * each field, its range and default).  Workers get theirs over the
 * channel as struct worker_settings and struct module_settings.
 */
struct options {
	const char	*module_dir;
	const char	*socket_dir;
	int		 foreground;
	int		 log_level;	/* syslog level, LOG_INFO by default */
	int		 use_syslog;
	unsigned	 deadline_ms;	/* a request's reply, a callback's run */
	unsigned	 budget_ms;	/* soft limit: warn above it */
	unsigned	 start_timeout_ms; /* load + init must finish within */
	unsigned	 backoff_min_ms;
	unsigned	 backoff_max_ms;
	unsigned	 healthy_ms;	/* running this long resets the backoff */
	unsigned	 max_failures;	/* consecutive crashes before "failed" */
	unsigned	 stop_grace_ms;	/* SIGTERM -> SIGKILL */
	unsigned	 rescan_ms;	/* periodic rescan fallback to inotify */
	unsigned	 settle_ms;	/* a file must be this old to be loaded */
	unsigned	 memory_limit_mb; /* worker RSS limit, 0 = none */
	int		 cgroups;	/* a cgroup per worker when possible */
	int		 check_mode;
	const char	*worker;	/* --worker: the module to run */
	const char	*config_file;	/* --config; NULL: the default file */
	int		 no_config;	/* --no-config: read no file */
	/* "id.key=value" strings: module parameters (--param, id "*" for
	 * every module). */
	char		**params;
	size_t		 nparams;
	/* Per-module host settings (--set ID.KEY=VALUE, module blocks), in
	 * the order given: the last one for an id and key wins. */
	struct module_override *overrides;
	size_t		 noverrides;
	char		**owned;	/* strings the config file allocated */
	size_t		 nowned;
	/* The file's module blocks, in file order (config.c). */
	struct module_block *blocks;
	size_t		 nblocks;
	/* The command line, applied again on top of a reloaded file. */
	int		 argc;
	char		**argv;
	/* Hardening (issue 5, docs/SECURITY.md). */
	unsigned	 max_conns;	/* per socket; the oldest idle is evicted */
	unsigned	 read_timeout_ms; /* a request, from its first byte */
	unsigned	 idle_timeout_ms; /* keep-alive connection between requests */
	int		 strict_modes;	/* as root: refuse unsafe module files */
	int		 allow_symlinks; /* follow module links out of the dir */
	const char	*user;		/* workers run as this user; NULL: as we do */
	uid_t		 user_uid;
	gid_t		 user_gid;
	gid_t		*user_groups;	/* supplementary groups of user */
	int		 user_ngroups;
	const char	*socket_group;	/* group owning the sockets; NULL: ours */
	gid_t		 socket_gid;
};

/* Global settings a worker needs from its first moment (MSG_WORKER). */
struct worker_settings {
	int32_t		 log_level;
	uint32_t	 use_syslog;
	uint32_t	 check_mode;	/* one collect, verdict, exit */
	uint32_t	 log_pipe;	/* log lines to WORKER_LOG_FD (spawn.c) */
};

/* One module's settings, resolved by the supervisor (MSG_MODULE). */
struct module_settings {
	uint32_t	 enabled;
	uint32_t	 interval_ms;	/* 0: collect on each request */
	uint32_t	 budget_ms;
	uint32_t	 deadline_ms;	/* reply by then; kill a callback above */
	uint32_t	 memory_limit_mb; /* supervisor: kill above; 0 none */
	uint32_t	 max_conns;
	uint32_t	 read_timeout_ms;
	uint32_t	 idle_timeout_ms;
	/* Not a setting: every request is answered by then, a 503 if need
	 * be (the deadline, before an interval lengthens it). */
	uint32_t	 reply_ms;
};

/* log.c */
void		 log_open(const char *ident, int use_syslog, int level);
void		 log_set_prefix(const char *prefix);
const char	*log_level_name(int);
int		 log_level_parse(const char *);
void		 log_msg(int level, const char *fmt, ...)
		     __attribute__((format(printf, 2, 3)));
void		 log_vmsg(int level, const char *fmt, va_list ap)
		     __attribute__((format(printf, 2, 0)));
void		 log_pid_msg(int level, pid_t, const char *fmt, ...)
		     __attribute__((format(printf, 3, 4)));
void		 log_to_pipe(int);
noreturn void	 fatal(const char *fmt, ...)
		     __attribute__((format(printf, 1, 2)));
#define log_err(...)	log_msg(3, __VA_ARGS__)
#define log_warn(...)	log_msg(4, __VA_ARGS__)
#define log_info(...)	log_msg(6, __VA_ARGS__)
#define log_debug(...)	log_msg(7, __VA_ARGS__)

/* util.c */
void		*xmalloc(size_t);
void		*xcalloc(size_t, size_t);
void		*xrealloc(void *, size_t);
char		*xstrdup(const char *);
int		 xasprintf(char **, const char *, ...)
		     __attribute__((format(printf, 2, 3)));
int		 xvasprintf(char **, const char *, va_list)
		     __attribute__((format(printf, 2, 0)));
uint64_t	 now_ms(void);
uint64_t	 now_ns(void);
int		 valid_plugin_id(const char *);
int		 plugin_id_from_file(const char *, char *);
const char	*signal_name(int);
int		 set_nonblock(int);
void		 json_escape(struct evbuffer *, const char *, size_t);
int		 parse_uint(const char *, unsigned, unsigned, unsigned *);

/* http.c: HTTP/1.1 request parsing and response framing, no I/O. */
enum http_method { HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_OTHER };
enum http_route { ROUTE_OTHER, ROUTE_REPORT, ROUTE_CONTROL };
#define HTTP_PATH_MAX 256
/* Fixed limits of every socket (docs/SECURITY.md): the probe's requests
 * are a few hundred bytes and a control body a few hundred more. */
#define HTTP_MAX_HEAD 8192
#define HTTP_MAX_BODY (64 * 1024)
#define HTTP_QUERY_MAX 256
struct http_request {
	enum http_method method;
	enum http_route	 route;
	int		 minor;		/* HTTP/1.<minor> */
	int		 keep_alive;
	int		 chunked;
	int		 expect_continue;
	size_t		 content_length;
	size_t		 head_len;	/* request line + headers + CRLF */
	char		 path[HTTP_PATH_MAX];	/* truncated if longer */
	char		 probe_id[HTTP_QUERY_MAX];
};
struct http_limits {
	size_t		 max_head;	/* request line + headers */
	size_t		 max_body;
	unsigned	 read_timeout_ms;	/* a request must arrive within */
	unsigned	 idle_timeout_ms;	/* keep-alive idle */
	unsigned	 max_conns;
};
#define HTTP_INCOMPLETE	0
#define HTTP_DONE	1
#define HTTP_ERROR	(-1)
int		 http_parse_head(const char *, size_t, size_t,
		     struct http_request *, int *, const char **);
int		 http_dechunk(const char *, size_t, size_t, struct evbuffer *,
		     size_t *, int *, const char **);
/* Longest reason phrase we send (Scope shows it in the plugin's tooltip). */
#define HTTP_REASON_MAX 200
const char	*http_reason(int);
size_t		 http_reason_phrase(char *, size_t, const char *);
void		 http_respond(struct evbuffer *, int, const char *, const char *,
		     struct evbuffer *, int, int, const char *);
void		 http_error_body(struct evbuffer *, const char *, const char *);
void		 http_respond_error(struct evbuffer *, int, const char *,
		     const char *, const char *, int, int, const char *);

/* serve.c: the worker's event-driven HTTP server on passed connections. */
struct server;
struct server_conn;
struct conn_slot;
/*
 * Called once per complete request; queues exactly one response with
 * server_reply(), either before returning or later after server_defer()
 * (the connection reads nothing more until then; server_complete() sends
 * it).  Returns the request, which stays valid until the reply.
 */
typedef void (*server_request_cb)(struct server_conn *,
    const struct http_request *, struct evbuffer *body, void *);
struct server	*server_new(struct event_base *, const struct http_limits *,
		     server_request_cb, void *, uint64_t *);
void		 server_adopt(struct server *, int, struct conn_slot *);
void		 server_free(struct server *);
void		 server_defer(struct server_conn *);
const struct http_request *server_request(const struct server_conn *);
int		 server_complete(struct server_conn *);
void		 server_reply(struct server_conn *, const struct http_request *,
		     int, const char *, struct evbuffer *, const char *);
void		 server_reply_error(struct server_conn *,
		     const struct http_request *, int, const char *, const char *);
void		 server_reply_failure(struct server_conn *,
		     const struct http_request *, int, const char *, const char *,
		     const char *);
void		 server_limits_init(struct http_limits *, unsigned, unsigned,
		     unsigned);

/*
 * frame.c: one collect() framed into one complete report (the module's
 * members, the host's Plugins entry, the closing brace), or into nothing.
 * Used by the worker, test/modrun and test/bench/modcat alike.
 */
struct module;
struct reporter;
struct worker_stats;
/* A framer for mod; stats (may be NULL) gets the collect timings. */
struct reporter	*reporter_new(const struct module *, struct worker_stats *);
void		 reporter_free(struct reporter *);
/* Runs collect() once and appends the report to out: 0, or -1 with
 * *cause set and out as it was. */
int		 reporter_build(struct reporter *, struct evbuffer *, char **);
/* How long the last collect() took, in microseconds. */
uint64_t	 reporter_last_us(const struct reporter *);

/*
 * yajl-wrap.c: the yajl_gen_* entry points modules bind to.  Each records
 * the first failure on a watched generator; the framer asks for it after
 * collect() (the wrapper never calls back into its users).
 */
void		 yajl_wrap_init(void);
void		 yajl_wrap_watch(yajl_gen);
void		 yajl_wrap_unwatch(yajl_gen);
/* Forgets the recorded fault, before the next collect(). */
void		 yajl_wrap_clear(yajl_gen);
/* The function that failed first (status in *status), or NULL. */
const char	*yajl_wrap_fault(yajl_gen, int *);
const char	*yajl_wrap_strstatus(int);
int		 json_number_valid(const char *, size_t);

/* validate.c: check a report as Scope's probe would. */
int		 validate_report(const char *, size_t, const char *, int,
		     char **);
int		 validate_report_warn(const char *, size_t, const char *, int,
		     char **, char **);

/* module.c: loading and checking a module (worker side). */
struct module {
	char			*path;
	void			*handle;	/* dlopen */
	char			 id[PLUGIN_ID_MAX + 1];
	const char		*label;
	const char		*description;
	unsigned		 interval_ms;
	int			 per_request;	/* SPH_MODULE_PER_REQUEST */
	int			 instances_only; /* SPH_MODULE_INSTANCES_ONLY */
	sph_init_fn		 init;
	sph_collect_fn		 collect;
	sph_control_fn		 control;	/* NULL: not a controller */
	sph_fini_fn		 fini;
	void			*state;		/* from init() */
	struct sph_host		*host;
};
int		 module_load(const char *, struct module *, char **);
int		 module_check_elf(int, char **);
int		 module_check_descriptor(const struct sph_module *, char **);
void		 module_fill(struct module *, const struct sph_module *);
int		 module_init(struct module *, struct sph_host *, char **);
void		 module_unload(struct module *);

/* control.c: POST /control requests. */
struct control_request;
int		 control_parse(const char *, size_t, struct control_request **,
		     char **);
const struct sph_control *control_get(const struct control_request *);
void		 control_free(struct control_request *);

/*
 * channel.c: supervisor <-> worker messages over a SOCK_SEQPACKET pair,
 * one message per packet: a struct msg_hdr, then the payload struct of its
 * type, exactly that long (both ends are this binary, so the structs go as
 * they are in memory).  Text fields are NUL-terminated within their
 * arrays; text that does not fit is refused (EMSGSIZE), never cut.  Only
 * MSG_CONN carries a descriptor (SCM_RIGHTS).  The exchange:
 *
 *	s->w	MSG_WORKER	struct worker_settings (right after exec)
 *	w->s	MSG_HELLO	struct msg_hello (module loaded)
 *	s->w	MSG_IDENTITY	struct msg_identity: the id, label and
 *				description to serve under (an instance's)
 *	s->w	MSG_PARAM	struct msg_param, one per parameter
 *	s->w	MSG_MODULE	struct module_settings (ends the settings)
 *	w->s	MSG_READY	no payload: init done, serving
 *	s->w	MSG_CONN	struct msg_conn: an accepted connection, any
 *				number of them, from READY on
 *	w->s	MSG_CHECK	struct msg_check (--check instead of READY)
 *	both	MSG_REFUSE	struct msg_refuse; the worker then exits
 */
enum msg_type {
	MSG_WORKER = 1,
	MSG_HELLO,
	MSG_PARAM,
	MSG_MODULE,
	MSG_CONN,
	MSG_READY,
	MSG_CHECK,
	MSG_REFUSE,
	MSG_IDENTITY,
};
#define MSG_TEXT_MAX 4096	/* reasons, details, descriptions */
#define MSG_LABEL_MAX 1024
#define PARAM_KEY_MAX 255
#define PARAM_VALUE_MAX 4095
struct msg_hdr {
	uint32_t	 type;		/* enum msg_type */
	uint32_t	 len;		/* payload bytes after the header */
};
struct msg_hello {
	char		 id[PLUGIN_ID_MAX + 1];
	char		 label[MSG_LABEL_MAX];
	char		 description[MSG_TEXT_MAX];
	uint32_t	 interval_ms;	/* the module's own; 0: on demand */
	uint32_t	 controller;	/* 1: it has a control callback */
	uint32_t	 instances_only; /* 1: SPH_MODULE_INSTANCES_ONLY */
};
struct msg_identity {
	char		 id[PLUGIN_ID_MAX + 1];
	char		 label[MSG_LABEL_MAX];
	char		 description[MSG_TEXT_MAX];
};
struct msg_param {
	char		 key[PARAM_KEY_MAX + 1];
	char		 value[PARAM_VALUE_MAX + 1];
};
struct msg_check {
	uint32_t	 ok;		/* 1: the report is valid */
	char		 id[PLUGIN_ID_MAX + 1];
	char		 detail[MSG_TEXT_MAX];
};
struct msg_refuse {
	char		 reason[MSG_TEXT_MAX];
};
struct msg_conn {
	uint32_t	 slot;		/* its slot in the shared page */
};
struct msg {
	struct msg_hdr	 hdr;
	int		 fd;		/* received descriptor or -1 */
	union {
		struct worker_settings	 worker;
		struct msg_hello	 hello;
		struct msg_identity	 identity;
		struct msg_param	 param;
		struct module_settings	 module;
		struct msg_check	 check;
		struct msg_refuse	 refuse;
		struct msg_conn		 conn;
	}		 u;
};
#define MSG_MAX_SIZE (sizeof(struct msg_hdr) + sizeof(((struct msg *)0)->u))
struct iovec;
int		 channel_sendv(int, struct iovec *, int, int);
int		 channel_send(int, enum msg_type, const void *, size_t, int);
int		 channel_recv(int, struct msg *);
int		 channel_decode(const void *, size_t, struct msg *);
int		 channel_text(char *, size_t, const char *);
int		 channel_refuse(int, const char *);
int		 channel_refusal_quiet(const char *);
int		 channel_identity(const struct options *, const char *,
		     const struct msg_hello *, struct msg_identity *, char **);
int		 channel_send_module(int, const struct options *,
		     const struct msg_identity *, const struct module_settings *,
		     char **);

/*
 * One connection the supervisor accepted and passed to the worker, as the
 * two share it (docs/ARCHITECTURE.md, "Request path").  The state says
 * who may write a reply: whoever moves it out of SLOT_IDLE or
 * SLOT_REQUEST with a compare-and-swap, so a reply and the supervisor's
 * 503 never mix.
 */
enum slot_state {
	SLOT_FREE,	/* no connection */
	SLOT_IDLE,	/* between requests */
	SLOT_REQUEST,	/* a request read (or being read), no reply begun */
	SLOT_REPLYING,	/* the worker is writing a reply */
	SLOT_TAKEN,	/* the supervisor answered; the worker drops it */
	SLOT_CLOSED,	/* the worker closed it (after shutdown(2)) */
};
struct conn_slot {
	uint32_t	 state;		/* enum slot_state, atomic */
	uint32_t	 reads;		/* the worker's reads on it */
	uint32_t	 replies;	/* replies the worker began */
	uint32_t	 partial;	/* part of a request read (SLOT_IDLE) */
	uint64_t	 req_start_ns;	/* CLOCK_MONOTONIC: whole request read */
	uint64_t	 active_ms;	/* now_ms(): last answer, or first byte
					 * of the request being read */
};
/* Why a worker ended itself (interval collect past its deadline). */
#define WORKER_EXIT_DEADLINE 79
#define STATS_REASON_MAX 256

/* Counters a worker keeps in a page shared with its supervisor. */
#define STATS_BUCKETS 24	/* collect time, log2 microseconds */
#define STATS_ERROR_MAX 512	/* last error text, with its NUL */
struct worker_stats {
	uint64_t	 collect_start_ns;	/* CLOCK_MONOTONIC; 0: idle */
	uint64_t	 requests;
	uint64_t	 errors;
	uint64_t	 collects;
	uint64_t	 collect_us_last;
	uint64_t	 collect_us_max;
	uint64_t	 collect_us_hist[STATS_BUCKETS];
	uint64_t	 heartbeat;	/* the worker's reads: it is alive */
	uint32_t	 rss_limit_mb;	/* supervisor: the memory limit, 0: none;
					 * the worker sounds the alarm when its
					 * peak resident size passes it */
	uint32_t	 pad2;
	/* The worker's last error; see stats.c. */
	uint64_t	 error_seq;		/* odd while being written */
	uint64_t	 error_ms;		/* CLOCK_MONOTONIC, 0: none */
	char		 error[STATS_ERROR_MAX];
	char		 exit_reason[STATS_REASON_MAX];	/* untrusted */
	uint32_t	 nslots;	/* set by the supervisor */
	uint32_t	 pad;
	struct conn_slot slots[];
};
#define STATS_SIZE(n) (sizeof(struct worker_stats) + \
	    (size_t)(n) * sizeof(struct conn_slot))

/* stats.c: the last error, written by a worker, read by its supervisor. */
void		 stats_set_error(struct worker_stats *, const char *);
int		 stats_get_error(const struct worker_stats *, char *, size_t,
		     uint64_t *);

/* spawn.c */
struct spawn_args {
	const char	*path;		/* the module */
	int		 statsfd;	/* the statistics page, or -1 */
	int		 alarmfd;	/* the busy alarm (timerfd), or -1 */
	int		 cgroup_fd;	/* cgroup.procs to join first, or -1 */
	const char	*marker;	/* "NAME=VALUE" for its environment */
	/* The worker's stdout, stderr and log (WORKER_LOG_FD): a
	 * descriptor of ours to give it, or -1: stdout and stderr as ours,
	 * log lines to its stderr. */
	int		 io[3];
};
pid_t		 spawn_worker(const struct options *, const struct spawn_args *,
		     int *, char **);

/* worker.c */
int		 worker_main(const char *);

/* sockets.c: the socket directory, lock and per-module sockets. */
#define SOCKETS_LOCK_NAME ".scope-plugin-host.lock"
struct plugsock {
	char		 id[PLUGIN_ID_MAX + 1];
	char		*dir;
	char		*path;
	int		 fd;
	struct event	*accept_ev;	/* fallback.c: the supervisor accepts */
	struct event	*retry_ev;	/* accept paused after EMFILE */
};
int		 sockets_prepare(const char *, int *, char **);
void		 sockets_clean_stale(const char *);
struct plugsock	*plugsock_open(const struct options *, const char *, char **);
void		 plugsock_close(struct plugsock *);

/* scan.c: listing the module directory, watching it for changes. */
struct modfile {
	char		*name;
	char		*path;
	struct stat	 st;
	char		*refused;	/* unsafe to load: why; else NULL */
};
int		 scan_dir(const struct options *, struct modfile **, size_t *,
		     char **);
void		 scan_free(struct modfile *, size_t);
int		 scan_same_file(const struct stat *, const struct stat *);
unsigned	 scan_refused(void);
int		 watch_open(const char *, char **);
int		 watch_drain(int);

/* notify.c */
int		 notify_init(void);
void		 notify_send(const char *);
void		 notify_close(void);

/*
 * The supervisor: supervisor.c (event loop, signals, shutdown),
 * lifecycle.c (one module's states), reconcile.c (the module directory),
 * health.c (memory), fallback.c (connections and the replies a worker
 * cannot give), refused.c (a refused module's socket) and status.c (the
 * operator's view).  docs/ARCHITECTURE.md draws
 * the module states and the transitions between them.
 */

/* lifecycle.c: a module's worker, from start to exit, and its states. */
enum mstate {
	M_WAITING,	/* new entry: found in the directory, no worker yet */
	M_STARTING,	/* worker forked, not READY yet */
	M_RUNNING,	/* worker serving */
	M_BACKOFF,	/* crashed or could not start; restart timer armed */
	M_FAILED,	/* crashed too often; waits for a new file or SIGHUP */
	M_REFUSED,	/* refused this file version (ABI, id, init, ...) */
	M_STOPPING,	/* SIGTERM sent; see after */
	M_NSTATES
};
/* What to do once a stopping worker has exited. */
enum after_stop { AFTER_RESTART, AFTER_REMOVE };

/* output.c: a module's output budget (a token bucket), across restarts. */
enum out_stream { OUT_STDOUT, OUT_STDERR, OUT_LOG, OUT_NSTREAMS };
struct outbudget {
	uint64_t	 at_ns;		/* last refill; 0: never used */
	double		 lines, bytes;	/* tokens */
	uint64_t	 dropped_lines, dropped_bytes;	/* not reported yet */
	uint64_t	 reported_ms;
};

struct supervisor;
struct modent {
	struct supervisor	*sv;
	char			*name;		/* file name in the module dir */
	char			*inst;		/* instance id; NULL: the file's own */
	char			*path;
	struct stat		 st;		/* version being run */
	enum mstate		 state;		/* set by mod_set_state() only */
	enum after_stop		 after;		/* M_STOPPING: then what */
	int			 present;	/* seen by the last scan */

	char			 id[PLUGIN_ID_MAX + 1];
	struct msg_hello	*hello;		/* what its worker said, once it did */
	struct worker_settings	 spawn_ws;	/* what its worker was started with */
	char			*settings;	/* what we sent it (mod_settings_text) */
	unsigned		 deadline_ms;
	unsigned		 reply_ms;
	unsigned		 memory_limit_mb;	/* 0: none */
	struct plugsock		*sock;

	pid_t			 pid;
	int			 chan;
	/* contain.c: the worker's identity, for what it starts */
	unsigned long long	 serial;
	char			 marker[64];	/* NAME=VALUE, in its environment */
	char			*cgroup;	/* its cgroup directory, or NULL */
	/* output.c */
	struct output		*output;
	struct outbudget	 budget[2];	/* stdout+stderr, log */
	struct event		*chan_ev;
	struct worker_stats	*stats;
	int			 stats_fd;	/* until HELLO sizes it */
	size_t			 stats_size;
	struct heldconn		*held;		/* fallback.c: one per slot */
	unsigned		 nheld;		/* slots */
	unsigned		 max_conns;
	struct event		*check_ev;	/* fallback.c: overdue replies */
	uint64_t		 check_due_ns;
	uint64_t		 evictions;
	uint64_t		 evict_logged;
	int			 alarm_fd;	/* fallback.c: the worker's busy alarm
						 * (timerfd), -1: none */
	struct event		*alarm_ev;
	int			 watching;	/* fallback.c: held connections
						 * watched, checked at deadlines */
	int			 wstopped;	/* the worker is stopped (SIGSTOP) */
	struct event		*timer;		/* backoff, start timeout, grace */
	uint64_t		 spawned_ms;
	uint64_t		 ready_ms;
	uint64_t		 retry_at_ms;	/* M_BACKOFF: when */

	unsigned		 failures;	/* in a row */
	unsigned		 restarts;	/* total */
	uint64_t		 backoff_ms;
	char			*reason;	/* last error, for logs and replies */
	uint64_t		 reason_ms;	/* when (CLOCK_MONOTONIC) */
	char			*kill_reason;	/* why we killed it, if we did */
	int			 refused_dup;	/* id taken: retry when it frees */
	int			 retry_pending;	/* SIGHUP came before the refused
						   worker exited: retry then */
	int			 unsafe;	/* refused by the scan (file modes) */
	int			 refused_sock;	/* sock: the refusal's (refused.c) */
	struct plugsock		*refusal_kept;	/* the refusal's, while a retry starts */
	int			 refused_sock_warned;

	TAILQ_ENTRY(modent)	 entry;
};
TAILQ_HEAD(modlist, modent);

const char	*mod_state_name(enum mstate);
int		 mod_transition_allowed(enum mstate, enum mstate);
int		 mod_set_state(struct modent *, enum mstate, const char *);
const char	*mod_name(const struct modent *);
struct modent	*mod_find_pid(struct supervisor *, pid_t);
struct modent	*mod_find_id(struct supervisor *, const char *,
		     const struct modent *);
struct modent	*mod_find_sock(struct supervisor *, const char *,
		     const struct modent *);
struct modent	*mod_new(struct supervisor *, const struct modfile *,
		     const char *);
void		 mod_free(struct supervisor *, struct modent *);
void		 mod_spawn(struct supervisor *, struct modent *);
void		 mod_backoff_reset(struct modent *);
void		 mod_start_afresh(struct supervisor *, struct modent *);
void		 mod_stop(struct supervisor *, struct modent *, enum after_stop);
void		 mod_exited(struct supervisor *, struct modent *, int);
void		 mod_release_socket(struct modent *);
void		 mod_reconfigure(struct supervisor *, struct modent *);
void		 mod_set_refused(struct supervisor *, struct modent *,
		     const char *);
const char	*mod_last_error(const struct modent *, char *, size_t);

/* refused.c: a refused module's socket, named after its file or instance. */
void		 refused_sock_open(struct supervisor *, struct modent *);
void		 refused_sock_keep(struct modent *);
void		 refused_sock_drop(struct modent *);
void		 refused_sock_yield(struct supervisor *, const char *,
		     const struct modent *);
void		 refused_socks_retry(struct supervisor *);

/* reconcile.c: the module table follows the module directory. */
void		 reconcile_start(struct supervisor *);
void		 reconcile_stop(struct supervisor *);
void		 reconcile(struct supervisor *, int);
void		 reconcile_reload(struct supervisor *);
void		 reconcile_soon(struct supervisor *);

/* contain.c: everything a worker starts dies with it. */
#define CONTAIN_MARKER "SCOPE_PLUGIN_HOST_WORKER"
struct cgdead;
TAILQ_HEAD(cgdeadlist, cgdead);
void		 contain_start(struct supervisor *);
void		 contain_prepare(struct supervisor *, struct modent *, int *);
unsigned	 contain_sweep(struct supervisor *, int);
void		 contain_worker_exited(struct supervisor *, struct modent *,
		     pid_t);
void		 contain_orphans(struct supervisor *);
void		 contain_finish(struct supervisor *);

/* output.c: module stdout/stderr and worker log lines, logged. */
struct output;
int		 output_pipes(int *, int *, char **);
void		 output_close_fds(int *);
struct output	*output_new(struct supervisor *, struct modent *, int *);
void		 output_free(struct output *);

/*
 * health.c: the memory limit.  health_check() looks at every worker (the
 * periodic rescan calls it); health_check_mod() at one, when its worker
 * says its peak resident size passed the limit.
 */
void		 health_check(struct supervisor *);
void		 health_check_mod(struct modent *);

/*
 * fallback.c: the supervisor accepts every connection, keeps a duplicate
 * of it and passes it to the worker; it answers with a canned 503, never
 * parsing what was sent, when a request is overdue, its worker died, or
 * no worker serves the module.
 */
struct heldconn;
void		 fallback_on(struct supervisor *, struct modent *);
void		 fallback_off(struct supervisor *, struct modent *);
void		 fallback_worker_gone(struct supervisor *, struct modent *);
void		 fallback_free(struct modent *);
unsigned	 fallback_slots(struct modent *, unsigned);
int		 fallback_alarm_open(struct modent *);
void		 fallback_alarm_close(struct modent *);
void		 fallback_stopped(struct modent *, int);

/* status.c: `scope-plugin-host status`, server and client. */
struct status_server;
struct status_server *status_start(struct supervisor *, char **);
void		 status_stop(struct status_server *);
void		 status_log(struct supervisor *);
int		 status_main(int, char **);

/* supervisor.c */
struct supervisor {
	struct options		*o;	/* replaced by a reload (SIGHUP) */
	struct event_base	*base;
	struct modlist		 mods;
	int			 lockfd;
	int			 shutting_down;
	uint64_t		 started_ms;
	int			 ready_pending;	/* READY=1 owed to systemd */
	unsigned		 reload_errors;	/* in the file the last reload refused */
	struct event		*sig_ev[5];
	struct event		*grace_ev;	/* shutdown */
	/* reconcile.c */
	int			 watch_fd;
	struct event		*watch_ev;
	struct event		*rescan_ev;	/* debounced, one-shot */
	struct event		*periodic_ev;
	/* status.c */
	struct status_server	*status;
	/* contain.c */
	char			*cg_base;	/* workers' cgroups, or NULL */
	char			*cg_rel;	/* the same, in the hierarchy */
	unsigned long long	 worker_serial;
	struct cgdeadlist	 cgdead;	/* to remove once empty */
};
int		 supervisor_main(struct options *);
void		 supervisor_ready_check(struct supervisor *);

/* check.c */
int		 check_main(const struct options *);

/* main.c */
extern const char *host_exe;	/* this binary, exec'd for workers */

/* config.c: the configuration file, scope-plugin-host.conf(5). */
int		 config_parse_file(struct options *, FILE *, const char *,
		     char ***, size_t *);
int		 config_load(struct options *, const char *, int, char ***,
		     size_t *);
void		 config_free_errors(char **, size_t);
int		 config_setup(struct options *, int, char **);
int		 config_reread(const struct options *, struct options *,
		     char ***, size_t *);
const char	*config_path(const struct options *);

/*
 * options.c: the settings table, one row per flag and configuration key
 * (name, type, range, default, scope, whether workers get it, help),
 * which drives getopt, config.c, --help and the settings sent to workers.
 */
enum setting_type {
	ST_PATH,	/* a directory or file */
	ST_NAME,	/* a user or group */
	ST_LEVEL,	/* a syslog level by name */
	ST_BOOL,	/* yes/no in the file; the flag sets flag_value */
	ST_UINT,	/* a number in [min, max] */
	ST_PARAM,	/* --param ID.KEY=VALUE, "param KEY VALUE" */
	ST_SET,		/* --set ID.KEY=VALUE */
	ST_ACTION,	/* --help, --version */
};
#define SET_GLOBAL	0x01	/* a global key in the file */
#define SET_MODULE	0x02	/* in a module block and --set ID.KEY */
#define SET_WORKER	0x04	/* workers get it over the channel */
#define SET_FLAG	0x08	/* a command-line flag */
#define SET_HIDDEN	0x10	/* internal flag: not in --help */
#define SET_MODULE_DEFAULT 0x20	/* default: the module's own (descriptor) */
struct setting {
	const char	*name;		/* key in the file, flag if no flag */
	const char	*flag;		/* command-line name; NULL: name */
	const char	*section;	/* --help heading before this row */
	int		 short_flag;	/* 'f', or 0 */
	enum setting_type type;
	int		 where;		/* SET_* */
	unsigned	 min, max;	/* ST_UINT */
	unsigned	 def;		/* ST_UINT, ST_BOOL, ST_LEVEL */
	const char	*defstr;	/* ST_PATH */
	unsigned	 flag_value;	/* ST_BOOL: what the flag sets */
	size_t		 off;		/* in struct options, or NO_FIELD */
	size_t		 moff;		/* in struct module_settings, or NO_FIELD */
	size_t		 woff;		/* in struct worker_settings, or NO_FIELD */
	const char	*arg;		/* metavariable in --help, "MS" */
	const char	*help;		/* without the default */
	const char	*def_note;	/* after the default: "0 = never" */
};
#define NO_FIELD ((size_t)-1)
extern const struct setting settings_table[];
extern const size_t settings_count;

/*
 * A module block of the configuration file.  With a file it defines an
 * instance: that module served under the block's id, with the block's
 * label and description if set.
 */
struct module_block {
	char			 id[PLUGIN_ID_MAX + 1];
	char			*file;		/* NULL: settings for a module's own id */
	char			*label;		/* NULL: the descriptor's */
	char			*description;	/* NULL: the descriptor's */
	char			*where;		/* "file:line" of the block */
	char			*file_where;	/* "file:line" of its file key */
};

/* One --set ID.KEY=VALUE or a key in a module block, parsed. */
struct module_override {
	char			 id[PLUGIN_ID_MAX + 1];
	const struct setting	*s;
	unsigned		 value;
};

void		 options_defaults(struct options *);
void		 options_free(struct options *);
int		 options_parse(struct options *, int, char **, char **,
		     char **);
const struct setting *options_find(const char *);
int		 options_value(const struct setting *, const char *, unsigned *,
		     char **);
void		 options_set(struct options *, const struct setting *, unsigned);
void		 options_override(struct options *, const char *,
		     const struct setting *, unsigned);
int		 options_param_check(const char *, size_t, const char *,
		     char **);
const char	*options_lookup(char **, size_t, const char *, const char *);
void		 options_worker(const struct options *,
		     struct worker_settings *);
void		 options_module(const struct options *, const char *, unsigned,
		     struct module_settings *);
void		 options_usage(FILE *);
const struct module_block *options_block(const struct options *,
		     const char *);
char		*options_instances(const struct options *, const char *);
int		 options_each_param(const struct options *, const char *,
		     int (*)(const char *, size_t, const char *, void *),
		     void *);

#endif /* HOST_H */
