# plugins build fragment, included from Makefile.am

# Each module reads kernel data under the parameters proc_root (/proc) and
# sys_root (/sys) so that test/ can run it against fixture trees.
module_LTLIBRARIES += plugins/iowait.la
plugins_iowait_la_SOURCES = plugins/iowait.c plugins/kfile.c plugins/kfile.h
plugins_iowait_la_LDFLAGS = $(MODULE_FLAGS)
plugins_iowait_la_LIBADD = libscope-plugin.la $(YAJL_LIBS)


module_LTLIBRARIES += plugins/load.la
plugins_load_la_SOURCES = plugins/load.c plugins/common.h \
	plugins/kfile.c plugins/kfile.h
plugins_load_la_LDFLAGS = $(MODULE_FLAGS)
plugins_load_la_LIBADD = libscope-plugin.la $(YAJL_LIBS)

module_LTLIBRARIES += plugins/memory.la
plugins_memory_la_SOURCES = plugins/memory.c plugins/common.h \
	plugins/kfile.c plugins/kfile.h
plugins_memory_la_LDFLAGS = $(MODULE_FLAGS)
plugins_memory_la_LIBADD = libscope-plugin.la $(YAJL_LIBS)

module_LTLIBRARIES += plugins/network.la
plugins_network_la_SOURCES = plugins/network.c plugins/counters.c \
	plugins/counters.h plugins/common.h plugins/kfile.c plugins/kfile.h
plugins_network_la_LDFLAGS = $(MODULE_FLAGS)
plugins_network_la_LIBADD = libscope-plugin.la $(YAJL_LIBS)

module_LTLIBRARIES += plugins/disk.la
plugins_disk_la_SOURCES = plugins/disk.c plugins/counters.c \
	plugins/counters.h plugins/common.h plugins/kfile.c plugins/kfile.h
plugins_disk_la_LDFLAGS = $(MODULE_FLAGS)
plugins_disk_la_LIBADD = libscope-plugin.la $(YAJL_LIBS)

module_LTLIBRARIES += plugins/procfds.la
plugins_procfds_la_SOURCES = plugins/procfds.c plugins/common.h \
	plugins/kfile.c plugins/kfile.h
plugins_procfds_la_LDFLAGS = $(MODULE_FLAGS)
plugins_procfds_la_LIBADD = libscope-plugin.la $(YAJL_LIBS)

module_LTLIBRARIES += plugins/filesystems.la
plugins_filesystems_la_SOURCES = plugins/filesystems.c plugins/common.h \
	plugins/kfile.c plugins/kfile.h plugins/mountinfo.h
plugins_filesystems_la_LDFLAGS = $(MODULE_FLAGS)
plugins_filesystems_la_LIBADD = libscope-plugin.la $(YAJL_LIBS) -lm

module_LTLIBRARIES += plugins/sensors.la
plugins_sensors_la_SOURCES = plugins/sensors.c plugins/common.h plugins/kfile.h
plugins_sensors_la_LDFLAGS = $(MODULE_FLAGS)
plugins_sensors_la_LIBADD = libscope-plugin.la $(YAJL_LIBS)

# No-code plugins: exec runs a program, prometheus scrapes an exporter.
# fields.c and strmap.c are shared by both (linked into each).
module_LTLIBRARIES += plugins/exec.la
plugins_exec_la_SOURCES = plugins/exec.c plugins/exec-run.c \
	plugins/exec-run.h plugins/fields.c plugins/fields.h \
	plugins/strmap.c plugins/strmap.h
plugins_exec_la_LDFLAGS = $(MODULE_FLAGS)
plugins_exec_la_LIBADD = libscope-plugin.la $(YAJL_LIBS) -lm

module_LTLIBRARIES += plugins/prometheus.la
plugins_prometheus_la_SOURCES = plugins/prometheus.c plugins/prom-parse.c \
	plugins/prom-parse.h plugins/prom-http.c plugins/prom-http.h \
	plugins/fields.c plugins/fields.h plugins/strmap.c plugins/strmap.h
plugins_prometheus_la_LDFLAGS = $(MODULE_FLAGS)
plugins_prometheus_la_LIBADD = libscope-plugin.la $(YAJL_LIBS) -lm

module_LTLIBRARIES += plugins/containers.la
plugins_containers_la_SOURCES = plugins/containers.c plugins/mountinfo.h
plugins_containers_la_LDFLAGS = $(MODULE_FLAGS)
plugins_containers_la_LIBADD = libscope-plugin.la $(YAJL_LIBS)
