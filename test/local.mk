# test build fragment, included from Makefile.am

# modrun: run a module's collect() against fixture trees with a fake clock,
# framed and validated by the host's own code (libhost.la).
check_PROGRAMS += test/modrun
test_modrun_SOURCES = test/modrun.c
test_modrun_CPPFLAGS = $(HOST_CPPFLAGS)
test_modrun_LDADD = libhost.la libscope-plugin.la $(YAJL_LIBS) $(DL_LIBS)
# Exports the yajl wrappers, and its statvfs() to the module under test
# (see modrun.c).
test_modrun_LDFLAGS = $(EXPORT_YAJL_WRAP) -export-dynamic

# A module that misuses the SDK on request (modrun must refuse it).
check_LTLIBRARIES += test/modules/misuse.la
test_modules_misuse_la_SOURCES = test/modules/misuse.c
test_modules_misuse_la_LDFLAGS = $(FIXTURE_MODULE_FLAGS)
test_modules_misuse_la_LIBADD = libscope-plugin.la $(YAJL_LIBS) -lm

# Golden tests of the bundled modules: test/golden-<module>.test runs the
# module over test/fixtures/<module>/ and compares with
# test/golden/<module>.json (the expected values are derived in each
# .test file's comment).
EXTRA_DIST += test/golden-run.sh test/jsoncmp.py test/golden \
	test/fixtures/iowait test/fixtures/load test/fixtures/memory \
	test/fixtures/network test/fixtures/disk test/fixtures/procfds \
	test/fixtures/filesystems test/fixtures/sensors
TESTS += test/golden-iowait.test
EXTRA_DIST += test/golden-iowait.test
TESTS += test/golden-load.test test/golden-memory.test test/golden-network.test \
	test/golden-disk.test test/golden-procfds.test \
	test/golden-filesystems.test test/golden-sensors.test
EXTRA_DIST += test/golden-load.test test/golden-memory.test \
	test/golden-network.test test/golden-disk.test test/golden-procfds.test \
	test/golden-filesystems.test test/golden-sensors.test

# Report SDK unit tests, including every misuse the SDK detects.
check_PROGRAMS += test/sdk-test
test_sdk_test_SOURCES = test/sdk-test.c
test_sdk_test_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/lib
test_sdk_test_LDADD = libscope-plugin.la $(YAJL_LIBS) -lm
TESTS += test/sdk-test

# modrun itself must refuse broken modules.
TESTS += test/modrun-misuse.test
EXTRA_DIST += test/modrun-misuse.test

# Integration tests: the daemon end to end over unix sockets, probe style.
TESTS += test/integration.test
EXTRA_DIST += test/integration.test test/integration.py
TESTS += test/contain.test
EXTRA_DIST += test/contain.test test/contain.py
# Parsers: report validation and POST /control bodies (unit tests).
check_PROGRAMS += test/validate-test test/control-test
test_validate_test_SOURCES = test/validate-test.c
test_validate_test_CPPFLAGS = $(HOST_CPPFLAGS)
test_validate_test_LDADD = libhost.la
test_control_test_SOURCES = test/control-test.c
test_control_test_CPPFLAGS = $(HOST_CPPFLAGS)
test_control_test_LDADD = libhost.la
TESTS += test/validate-test test/control-test

# The HTTP request parser and the report framer (unit tests).
check_PROGRAMS += test/http-test test/frame-test
test_http_test_SOURCES = test/http-test.c test/unit.h
test_http_test_CPPFLAGS = $(HOST_CPPFLAGS)
test_http_test_LDADD = libhost.la
test_frame_test_SOURCES = test/frame-test.c test/unit.h
test_frame_test_CPPFLAGS = $(HOST_CPPFLAGS)
test_frame_test_LDADD = libhost.la
test_frame_test_LDFLAGS = $(EXPORT_YAJL_WRAP)
TESTS += test/http-test test/frame-test
# libFuzzer targets are built by test/fuzz/run.sh (clang), not by automake.
EXTRA_DIST += test/fuzz/run.sh test/fuzz/fuzz-validate.c \
	test/fuzz/fuzz-control.c test/fuzz/fuzz-http.c \
	test/fuzz/fuzz-channel.c test/fuzz/fuzz-containers.c \
	test/fuzz/fuzz-elf.c test/fuzz-corpus

# The installed SDK builds the out-of-tree example module.
TESTS += test/sdk-install.test
EXTRA_DIST += test/sdk-install.test

# Configuration file parser (unit tests).
check_PROGRAMS += test/config-test
test_config_test_SOURCES = test/config-test.c test/unit.h
test_config_test_CPPFLAGS = $(HOST_CPPFLAGS)
test_config_test_LDADD = libhost.la
TESTS += test/config-test

# Abuse tests (issue 5): HTTP limits, slowloris, floods, eviction, huge
# reports, memory; as root also strict modes, --user and --socket-group.
TESTS += test/abuse.test
EXTRA_DIST += test/abuse.test test/abuse.py

# The request-path contract (issue 11): crash, SIGKILL, exit, hang, SIGSTOP
# and slow collects beside a healthy module; coalesced collects (issue 14).
TESTS += test/contract.test
EXTRA_DIST += test/contract.test test/contract.py

# The supervisor's module state machine: the transition table (unit test).
check_PROGRAMS += test/lifecycle-test
test_lifecycle_test_CPPFLAGS = $(HOST_CPPFLAGS)
test_lifecycle_test_SOURCES = test/lifecycle-test.c
test_lifecycle_test_LDADD = libhost.la
TESTS += test/lifecycle-test

# Interop tests (issue 12): every bundled module under the real Scope app
# and probe; skipped without the Scope harness (see test/interop.py).
TESTS += test/interop.test
EXTRA_DIST += test/interop.test test/interop.py

# The supervisor <-> worker channel and the settings table (unit tests).
check_PROGRAMS += test/channel-test test/options-test
test_channel_test_SOURCES = test/channel-test.c test/unit.h
test_channel_test_CPPFLAGS = $(HOST_CPPFLAGS)
test_channel_test_LDADD = libhost.la
test_options_test_SOURCES = test/options-test.c test/unit.h
test_options_test_CPPFLAGS = $(HOST_CPPFLAGS)
test_options_test_LDADD = libhost.la
TESTS += test/channel-test test/options-test

# The exec and prometheus modules (issue 15), end to end through the host.
# With the real Scope (SKIP without it): the values in the details panel.
TESTS += test/exec.test test/prometheus.test test/interop-noconfig.test
EXTRA_DIST += test/exec.test test/exec.py test/prometheus.test \
	test/prometheus.py test/interop-noconfig.test test/interop-noconfig.py
# The Prometheus text parser (unit tests; also fuzzed, test/fuzz/fuzz-prom.c).
check_PROGRAMS += test/prom-parse-test
test_prom_parse_test_SOURCES = test/prom-parse-test.c plugins/prom-parse.c \
	plugins/strmap.c
test_prom_parse_test_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins
test_prom_parse_test_LDADD = -lm
TESTS += test/prom-parse-test
EXTRA_DIST += test/fuzz/fuzz-prom.c test/fuzz/prom.dict
# The modules' hash map (unit test against a plain array).
check_PROGRAMS += test/strmap-test
test_strmap_test_SOURCES = test/strmap-test.c plugins/strmap.c
test_strmap_test_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins
TESTS += test/strmap-test

# The containers module over cgroup fixture trees, one test per layout;
# each runs two collects, the second over a copy its edit() changed.
CONTAINERS_GOLDEN = test/golden-containers-v2-docker-systemd.test \
	test/golden-containers-v2-docker-cgroupfs.test \
	test/golden-containers-v2-kubepods.test \
	test/golden-containers-v2-kubepods-cgroupfs.test \
	test/golden-containers-v2-podman.test \
	test/golden-containers-v1-hybrid.test
TESTS += $(CONTAINERS_GOLDEN)
EXTRA_DIST += $(CONTAINERS_GOLDEN) test/containers-golden.sh \
	test/fixtures/containers
# ... and on the kernel's own cgroups: throttling and an OOM kill (root).
TESTS += test/containers-kernel.test
EXTRA_DIST += test/containers-kernel.test test/containers-kernel.py
# ... and on hostile trees: garbage, bad ids, symlink loops, 10 000 cgroups.
TESTS += test/containers-bad.test
EXTRA_DIST += test/containers-bad.test test/containers-bad.py
# ... and under the real Scope app and probe (skips without the harness).
TESTS += test/containers-interop.test
EXTRA_DIST += test/containers-interop.test test/containers-interop.py \
	test/containers_host.py
# Retakes docs/images/containers-details.png (by hand: root, Scope, chromium).
EXTRA_DIST += test/containers-shot.py

# Failures on screen (issue 12): reasons in status lines, in status, on
# refused modules' sockets, and as the real Scope shows them.
TESTS += test/failures.test
EXTRA_DIST += test/failures.test test/failures.py
