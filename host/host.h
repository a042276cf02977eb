/*
 * host.h - private declarations of scope-plugin-host, grouped by file.
 *
 * Process model (DESIGN.md): the supervisor never loads module code.  It
 * owns the socket directory, every listening socket and all state; each
 * module runs in a worker, a fresh exec of this binary in worker mode,
 * which dlopens the module and serves HTTP on the inherited socket.
 */
#ifndef HOST_H
#define HOST_H

#include <sys/types.h>
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

#define HOST_NAME "scope-plugin-host"

/* Fixed by Scope: the probe rejects longer or other ids (PROTOCOL.md 1). */
#define PLUGIN_ID_MAX 64

/* Worker exit code for a permanent refusal (sysexits' EX_CONFIG). */
#define WORKER_EXIT_REFUSED 78

/* Refusal reason (prefix) of a module with "enabled no": not an error. */
#define WORKER_DISABLED "disabled by configuration"

/* File descriptors a worker is started with. */
#define WORKER_CHANNEL_FD 3
#define WORKER_STATS_FD 4

/* Operator settings, shared by supervisor and (through argv) workers. */
struct options {
	const char	*module_dir;
	const char	*socket_dir;
	int		 foreground;
	int		 log_level;	/* syslog level, LOG_INFO by default */
	int		 use_syslog;
	unsigned	 deadline_ms;	/* hard limit on one collect() */
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
	int		 check_mode;
	const char	*config_file;	/* --config; NULL: the default file */
	int		 no_config;	/* --no-config: read no file */
	/* "id.key=value" strings: module parameters (--param, id "*" for
	 * every module) and per-module host settings (--set id.interval=MS,
	 * id.deadline=MS, id.budget, id.memory-limit, id.enabled=0|1). */
	char		**params;
	size_t		 nparams;
	char		**settings;
	size_t		 nsettings;
	char		**owned;	/* strings the config file allocated */
	size_t		 nowned;
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

/* log.c */
void		 log_open(const char *ident, int use_syslog, int level);
void		 log_set_prefix(const char *prefix);
int		 log_get_level(void);
void		 log_msg(int level, const char *fmt, ...)
		     __attribute__((format(printf, 2, 3)));
void		 log_vmsg(int level, const char *fmt, va_list ap)
		     __attribute__((format(printf, 2, 0)));
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
int		 set_cloexec(int, int);
void		 json_escape(struct evbuffer *, const char *, size_t);
int		 parse_uint(const char *, unsigned, unsigned, unsigned *);
int		 utf8_valid(const unsigned char *, size_t);

/* http.c: HTTP/1.1 request parsing and response framing, no I/O. */
enum http_method { HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_OTHER };
enum http_route { ROUTE_OTHER, ROUTE_REPORT, ROUTE_CONTROL };
#define HTTP_PATH_MAX 256
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

/* serve.c: an event-driven HTTP server on one listening socket. */
struct server;
struct server_conn;
/*
 * Called once per complete request; must queue exactly one response with
 * server_reply() before returning.
 */
typedef void (*server_request_cb)(struct server_conn *,
    const struct http_request *, struct evbuffer *body, void *);
struct server	*server_new(struct event_base *, int, const struct http_limits *,
		     server_request_cb, void *);
void		 server_pause(struct server *);
int		 server_resume(struct server *);
void		 server_free(struct server *);
unsigned	 server_conns(struct server *);
void		 server_reply(struct server_conn *, const struct http_request *,
		     int, const char *, struct evbuffer *, const char *);
void		 server_reply_error(struct server_conn *,
		     const struct http_request *, int, const char *, const char *);
void		 server_reply_failure(struct server_conn *,
		     const struct http_request *, int, const char *, const char *,
		     const char *);
int		 server_conn_quiet_fd(struct server_conn *);
void		 server_limits_default(struct http_limits *);
void		 server_limits_configure(unsigned, unsigned, unsigned);

/* report.c: framing a module's collect() into a complete report. */
struct module;
struct reporter;
struct worker_stats;
struct reporter	*reporter_new(const struct module *, struct worker_stats *);
void		 reporter_free(struct reporter *);
int		 reporter_build(struct reporter *, struct evbuffer *, char **);
uint64_t	 reporter_last_us(const struct reporter *);
void		 reporter_gen_fault(yajl_gen, const char *, int);
const char	*reporter_status_string(int);

/* yajl-wrap.c: the yajl_gen_* entry points modules bind to. */
void		 yajl_wrap_init(void);
int		 json_number_valid(const char *, size_t);

/* validate.c: check a report as Scope's probe would. */
int		 validate_report(const char *, size_t, const char *, int,
		     char **);

/* module.c: loading and checking a module (worker side). */
struct module {
	char			*path;
	void			*handle;	/* dlopen */
	const struct sph_module	*desc;
	char			 id[PLUGIN_ID_MAX + 1];
	const char		*label;
	const char		*description;
	unsigned		 interval_ms;
	sph_init_fn		 init;
	sph_collect_fn		 collect;
	sph_control_fn		 control;	/* NULL: not a controller */
	sph_fini_fn		 fini;
	void			*state;		/* from init() */
	struct sph_host		*host;
};
int		 module_load(const char *, struct module *, char **);
int		 module_check_descriptor(const struct sph_module *, char **);
int		 module_init(struct module *, struct sph_host *, char **);
void		 module_unload(struct module *);

/* control.c: POST /control requests. */
struct control_request;
int		 control_parse(const char *, size_t, struct control_request **,
		     char **);
const struct sph_control *control_get(const struct control_request *);
void		 control_free(struct control_request *);

/* channel.c: supervisor <-> worker messages over a SOCK_SEQPACKET pair. */
enum msg_type {
	MSG_HELLO = 1,	/* w->s: id, label, description, interval_ms, controller */
	MSG_SOCKET,	/* s->w: the listening socket (SCM_RIGHTS) */
	MSG_REFUSE,	/* both: a reason; the worker then exits */
	MSG_READY,	/* w->s: init done, serving */
	MSG_CHECK,	/* w->s: "ok"|"fail", id, detail */
};
#define MSG_MAX_FIELDS 8
#define MSG_MAX_SIZE 4096
struct msg {
	enum msg_type	 type;
	int		 fd;		/* received descriptor or -1 */
	int		 nfields;
	const char	*fields[MSG_MAX_FIELDS];
	char		 buf[MSG_MAX_SIZE];
};
int		 channel_send(int, enum msg_type, int, int, ...);
int		 channel_recv(int, struct msg *);

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
	/* The worker's last error; see stats.c. */
	uint64_t	 error_seq;		/* odd while being written */
	uint64_t	 error_ms;		/* CLOCK_MONOTONIC, 0: none */
	char		 error[STATS_ERROR_MAX];
};

/* stats.c: the last error, written by a worker, read by its supervisor. */
void		 stats_set_error(struct worker_stats *, const char *);
int		 stats_get_error(const struct worker_stats *, char *, size_t,
		     uint64_t *);

/* spawn.c */
pid_t		 spawn_worker(const struct options *, const char *, int, int *,
		     char **);

/* worker.c */
int		 worker_main(const char *, const struct options *, int);

/* sockets.c: the socket directory, lock and per-module sockets. */
#define SOCKETS_LOCK_NAME ".scope-plugin-host.lock"
struct plugsock {
	char		 id[PLUGIN_ID_MAX + 1];
	char		*dir;
	char		*path;
	int		 fd;
	struct server	*fallback;	/* answers while no worker serves */
};
int		 sockets_prepare(const char *, int *, char **);
void		 sockets_clean_stale(const char *);
void		 sockets_configure(const char *, gid_t);
struct plugsock	*plugsock_open(const char *, const char *, char **);
void		 plugsock_close(struct plugsock *);

/* scan.c: listing the module directory, watching it for changes. */
struct modfile {
	char		*name;
	char		*path;
	struct stat	 st;
	char		*refused;	/* unsafe to load: why; else NULL */
};
int		 scan_dir(const char *, struct modfile **, size_t *, char **);
void		 scan_free(struct modfile *, size_t);
int		 scan_same_file(const struct stat *, const struct stat *);
void		 scan_configure(int, int);
unsigned	 scan_refused(void);
int		 watch_open(const char *, char **);
int		 watch_drain(int);

/* notify.c */
int		 notify_init(void);
void		 notify_send(const char *);
void		 notify_close(void);

/* status.c */
int		 status_listen(const char *, char **);
void		 status_serve(int, struct evbuffer *);
int		 status_main(int, char **);

/* supervisor.c */
int		 supervisor_main(const struct options *);

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

/* options.c */
void		 options_defaults(struct options *);
void		 options_free(struct options *);
int		 options_parse_level(const char *);
int		 options_parse(struct options *, int, char **, char **,
		     char **);
const char	*options_lookup(char **, size_t, const char *, const char *);
unsigned	 options_module_uint(const struct options *, const char *,
		     const char *, unsigned);
char		**options_worker_argv(const struct options *, const char *);
void		 options_usage(FILE *);

#endif /* HOST_H */
