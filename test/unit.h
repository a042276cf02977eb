/*
 * unit.h - the counting and reporting the C unit tests share: one line
 * per failed case, then "N passed, N failed" (what build.sh counts).
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>

static size_t	unit_passed, unit_failed;

/* Counts one case; prints it with detail (may be NULL) when it failed. */
static void
report(const char *name, int ok, const char *detail)
{
	if (ok) {
		unit_passed++;
		return;
	}
	unit_failed++;
	printf("FAIL %s%s%s\n", name, detail != NULL ? ": " : "",
	    detail != NULL ? detail : "");
}

/* Prints the totals; the exit status of the test program. */
static int
unit_done(void)
{
	printf("%zu passed, %zu failed\n", unit_passed, unit_failed);
	return unit_failed == 0 ? 0 : 1;
}

#endif
