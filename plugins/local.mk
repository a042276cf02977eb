# plugins build fragment, included from Makefile.am

# Each module reads kernel data under the parameters proc_root (/proc) and
# sys_root (/sys) so that test/ can run it against fixture trees.
module_LTLIBRARIES += plugins/iowait.la
plugins_iowait_la_SOURCES = plugins/iowait.c
plugins_iowait_la_LDFLAGS = $(MODULE_FLAGS)
plugins_iowait_la_LIBADD = libscope-plugin.la $(YAJL_LIBS)


module_LTLIBRARIES += plugins/load.la
plugins_load_la_SOURCES = plugins/load.c plugins/common.h
plugins_load_la_LDFLAGS = $(MODULE_FLAGS)
plugins_load_la_LIBADD = libscope-plugin.la $(YAJL_LIBS)

module_LTLIBRARIES += plugins/memory.la
plugins_memory_la_SOURCES = plugins/memory.c plugins/common.h
plugins_memory_la_LDFLAGS = $(MODULE_FLAGS)
plugins_memory_la_LIBADD = libscope-plugin.la $(YAJL_LIBS)

module_LTLIBRARIES += plugins/network.la
plugins_network_la_SOURCES = plugins/network.c plugins/common.h
plugins_network_la_LDFLAGS = $(MODULE_FLAGS)
plugins_network_la_LIBADD = libscope-plugin.la $(YAJL_LIBS)

module_LTLIBRARIES += plugins/disk.la
plugins_disk_la_SOURCES = plugins/disk.c plugins/common.h
plugins_disk_la_LDFLAGS = $(MODULE_FLAGS)
plugins_disk_la_LIBADD = libscope-plugin.la $(YAJL_LIBS)

module_LTLIBRARIES += plugins/procfds.la
plugins_procfds_la_SOURCES = plugins/procfds.c plugins/common.h
plugins_procfds_la_LDFLAGS = $(MODULE_FLAGS)
plugins_procfds_la_LIBADD = libscope-plugin.la $(YAJL_LIBS)

module_LTLIBRARIES += plugins/containers.la
plugins_containers_la_SOURCES = plugins/containers.c
plugins_containers_la_LDFLAGS = $(MODULE_FLAGS)
plugins_containers_la_LIBADD = libscope-plugin.la $(YAJL_LIBS)
