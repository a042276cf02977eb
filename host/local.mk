# host build fragment, included from Makefile.am: the daemon.
#
# Everything but main() is a convenience library, so the unit tests and
# the test drivers (test/modrun, test/bench/modcat) link the host's own
# code.
bin_PROGRAMS += scope-plugin-host
noinst_LTLIBRARIES += libhost.la
libhost_la_CPPFLAGS = $(HOST_CPPFLAGS)
libhost_la_SOURCES = \
	host/host.h \
	host/channel.c \
	host/check.c \
	host/config.c \
	host/contain.c \
	host/control.c \
	host/fallback.c \
	host/frame.c \
	host/health.c \
	host/http.c \
	host/lifecycle.c \
	host/log.c \
	host/module.c \
	host/notify.c \
	host/options.c \
	host/output.c \
	host/reconcile.c \
	host/refused.c \
	host/scan.c \
	host/serve.c \
	host/sockets.c \
	host/stats.c \
	host/spawn.c \
	host/status.c \
	host/supervisor.c \
	host/util.c \
	host/validate.c \
	host/worker.c \
	host/yajl-wrap.c
libhost_la_LIBADD = $(LIBEVENT_LIBS) $(YAJL_LIBS) $(DL_LIBS) -lpthread -lm
scope_plugin_host_CPPFLAGS = $(HOST_CPPFLAGS)
scope_plugin_host_SOURCES = host/main.c
scope_plugin_host_LDADD = libhost.la
# Export the yajl_gen wrappers so modules bind to them (see yajl-wrap.c).
# Every program that loads modules and frames their reports does the same.
EXPORT_YAJL_WRAP = -Wl,--dynamic-list=$(top_srcdir)/host/yajl-wrap.list
scope_plugin_host_LDFLAGS = $(EXPORT_YAJL_WRAP)
EXTRA_DIST += host/yajl-wrap.list
