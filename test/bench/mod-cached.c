/*
 * mod-cached.c - benchmark fixture: mod-trivial collected every second in
 * the background (interval mode); the worker serves the cached report.
 */
#define BENCH_ID "bench-cached"
#define BENCH_INTERVAL_MS 1000
#include "mod-trivial.c"
