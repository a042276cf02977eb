/*
 * unit.h - the verdict lines of the C unit tests: "ok   name" or
 * "FAIL name: why", then "N passed, N failed" (what build.sh counts); the
 * exit status says if any failed.
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>

static unsigned	unit_passed, unit_failed;

/* Counts one case and prints its verdict; why may be NULL. */
static void
result(const char *name, int ok, const char *why)
{
	if (ok) {
		unit_passed++;
		printf("ok   %s\n", name);
	} else {
		unit_failed++;
		printf("FAIL %s: %s\n", name, why != NULL ? why : "failed");
	}
}

/* Prints the count; main() returns this. */
static int
unit_summary(void)
{
	printf("%u passed, %u failed\n", unit_passed, unit_failed);
	return unit_failed > 0 ? 1 : 0;
}

#ifdef HOST_H
#include <string.h>

/* What channel_send_module() tells a worker to serve as: id, "Test". */
static __attribute__((unused)) const struct msg_identity *
identity(const char *id)
{
	static struct msg_identity	ident;

	memset(&ident, 0, sizeof ident);
	snprintf(ident.id, sizeof ident.id, "%s", id);
	snprintf(ident.label, sizeof ident.label, "Test");
	return &ident;
}
#endif

#endif /* UNIT_H */
