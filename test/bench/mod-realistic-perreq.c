/*
 * mod-realistic-perreq.c - benchmark fixture: mod-realistic with one
 * collect per request (SPH_MODULE_PER_REQUEST), the behaviour before
 * coalescing; run.sh measures it alternating with mod-realistic at 1
 * connection.
 */
#define BENCH_ID "bench-realistic-perreq"
#define BENCH_MODULE_FLAGS SPH_MODULE_PER_REQUEST
#include "mod-realistic.c"
