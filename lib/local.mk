# lib build fragment, included from Makefile.am
libscope_plugin_la_SOURCES += lib/report.c
libscope_plugin_la_SOURCES += lib/paths.c
