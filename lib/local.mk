# lib build fragment, included from Makefile.am: the SDK.
#
# The SDK is linked statically into each module (libscope-plugin.a, PIC):
# a module is then one self-contained .so with no run-time dependency on
# where the SDK was installed, and the only interface between module and
# host is the versioned descriptor and struct sph_host.  In-tree modules
# link the same sources as a libtool convenience library.
include_HEADERS = include/scope-plugin.h
noinst_LTLIBRARIES += libscope-plugin.la
libscope_plugin_la_SOURCES = \
	lib/sph-host.h \
	lib/topologies.h \
	lib/utf8.h \
	lib/host-services.c \
	lib/paths.c \
	lib/report.c
libscope_plugin_la_LIBADD = -lm
lib_LIBRARIES = libscope-plugin.a
libscope_plugin_a_SOURCES = $(libscope_plugin_la_SOURCES)
libscope_plugin_a_CFLAGS = $(AM_CFLAGS) -fPIC
pkgconfigdir = $(libdir)/pkgconfig
pkgconfig_DATA = scope-plugin.pc
