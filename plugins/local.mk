# plugins build fragment, included from Makefile.am

# Each module reads kernel data under the parameters proc_root (/proc) and
# sys_root (/sys) so that test/ can run it against fixture trees.
module_LTLIBRARIES += plugins/iowait.la
plugins_iowait_la_SOURCES = plugins/iowait.c
plugins_iowait_la_LDFLAGS = $(MODULE_LDFLAGS)
plugins_iowait_la_LIBADD = libscope-plugin.la $(YAJL_LIBS)
