/*
 * mod-trivial-perreq.c - benchmark fixture: mod-trivial with one collect
 * per request (SPH_MODULE_PER_REQUEST), the behaviour before coalescing;
 * run.sh measures it alternating with mod-trivial at 1 connection.
 */
#define BENCH_ID "bench-trivial-perreq"
#define BENCH_MODULE_FLAGS SPH_MODULE_PER_REQUEST
#include "mod-trivial.c"
