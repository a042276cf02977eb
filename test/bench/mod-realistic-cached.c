/*
 * mod-realistic-cached.c - benchmark fixture: mod-realistic collected every
 * second in the background (interval mode).
 */
#define BENCH_ID "bench-realistic-cached"
#define BENCH_INTERVAL_MS 1000
#include "mod-realistic.c"
