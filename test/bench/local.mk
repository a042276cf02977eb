# test/bench build fragment, included from Makefile.am.
#
# Benchmarks are not part of `make check`.  `make bench` builds the load
# generator, the floor server, the bench modules, the bundled modules (the
# poll and collect scenarios) and the daemon, then runs
# test/bench/run.sh from the top build directory (docs/BENCHMARKS.md).
#   make bench BENCH_FLAGS='--runs 5 --idle 30'
#   make bench-quick                    (BENCH_QUICK=1, about a minute)

noinst_PROGRAMS += test/bench/loadgen test/bench/floor test/bench/modcat
test_bench_loadgen_SOURCES = test/bench/loadgen.c
test_bench_floor_SOURCES = test/bench/floor.c
test_bench_modcat_SOURCES = test/bench/modcat.c
test_bench_modcat_CPPFLAGS = $(HOST_CPPFLAGS)
test_bench_modcat_LDADD = libhost.la libscope-plugin.la $(YAJL_LIBS) $(DL_LIBS)
test_bench_modcat_LDFLAGS = $(EXPORT_YAJL_WRAP)

# Fixture modules: mod-cached and mod-realistic-cached #include the
# per-request sources with an interval set, the -perreq ones with
# SPH_MODULE_PER_REQUEST (one collect per request, never coalesced).
noinst_LTLIBRARIES += \
	test/bench/mod-trivial.la \
	test/bench/mod-cached.la \
	test/bench/mod-realistic.la \
	test/bench/mod-realistic-cached.la \
	test/bench/mod-trivial-perreq.la \
	test/bench/mod-realistic-perreq.la
test_bench_mod_trivial_la_SOURCES = test/bench/mod-trivial.c
test_bench_mod_trivial_la_LDFLAGS = $(FIXTURE_MODULE_FLAGS)
test_bench_mod_trivial_la_LIBADD = libscope-plugin.la $(YAJL_LIBS)
test_bench_mod_cached_la_SOURCES = test/bench/mod-cached.c
test_bench_mod_cached_la_LDFLAGS = $(FIXTURE_MODULE_FLAGS)
test_bench_mod_cached_la_LIBADD = libscope-plugin.la $(YAJL_LIBS)
test_bench_mod_realistic_la_SOURCES = test/bench/mod-realistic.c
test_bench_mod_realistic_la_LDFLAGS = $(FIXTURE_MODULE_FLAGS)
test_bench_mod_realistic_la_LIBADD = libscope-plugin.la $(YAJL_LIBS)
test_bench_mod_realistic_cached_la_SOURCES = test/bench/mod-realistic-cached.c
test_bench_mod_realistic_cached_la_LDFLAGS = $(FIXTURE_MODULE_FLAGS)
test_bench_mod_realistic_cached_la_LIBADD = libscope-plugin.la $(YAJL_LIBS)
test_bench_mod_trivial_perreq_la_SOURCES = test/bench/mod-trivial-perreq.c
test_bench_mod_trivial_perreq_la_LDFLAGS = $(FIXTURE_MODULE_FLAGS)
test_bench_mod_trivial_perreq_la_LIBADD = libscope-plugin.la $(YAJL_LIBS)
test_bench_mod_realistic_perreq_la_SOURCES = test/bench/mod-realistic-perreq.c
test_bench_mod_realistic_perreq_la_LDFLAGS = $(FIXTURE_MODULE_FLAGS)
test_bench_mod_realistic_perreq_la_LIBADD = libscope-plugin.la $(YAJL_LIBS)

EXTRA_DIST += test/bench/run.sh test/bench/peer.go test/bench/peer.py

BENCH_DEPS = scope-plugin-host$(EXEEXT) libscope-plugin.la \
	test/bench/loadgen$(EXEEXT) test/bench/floor$(EXEEXT) \
	test/bench/modcat$(EXEEXT) test/bench/collect-time$(EXEEXT) \
	test/bench/mod-trivial.la test/bench/mod-cached.la \
	test/bench/mod-realistic.la test/bench/mod-realistic-cached.la \
	test/bench/mod-trivial-perreq.la test/bench/mod-realistic-perreq.la \
	$(module_LTLIBRARIES)
BENCH_ENV = CC="$(CC)" YAJL_CFLAGS="$(YAJL_CFLAGS)" YAJL_LIBS="$(YAJL_LIBS)"

.PHONY: bench bench-quick
bench: $(BENCH_DEPS)
	$(BENCH_ENV) bash $(srcdir)/test/bench/run.sh --build . \
	    --srcdir $(srcdir) $(BENCH_FLAGS)
bench-quick: $(BENCH_DEPS)
	$(BENCH_ENV) BENCH_QUICK=1 bash $(srcdir)/test/bench/run.sh --build . \
	    --srcdir $(srcdir) $(BENCH_FLAGS)

# collect-time: CPU of one collect (run.sh's collect scenario); the
# containers module's collect over 200 containers (issue 13).
noinst_PROGRAMS += test/bench/collect-time
test_bench_collect_time_SOURCES = test/bench/collect-time.c
test_bench_collect_time_CPPFLAGS = $(HOST_CPPFLAGS)
test_bench_collect_time_LDADD = libscope-plugin.la $(YAJL_LIBS) $(DL_LIBS)
EXTRA_DIST += test/bench/containers.sh
.PHONY: bench-containers
bench-containers: test/bench/collect-time$(EXEEXT) plugins/containers.la
	srcdir=$(srcdir) sh $(srcdir)/test/bench/containers.sh
bench: bench-containers
