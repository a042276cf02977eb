/*
 * fuzz-validate.c - libFuzzer target for validate_report() and
 * validate_report_warn().  Built by
 * test/fuzz/run.sh with ASan/UBSan; leaks are reported by libFuzzer.
 *
 * Invariants: no crash, no leak, no read past size; a verdict is either
 * 0 with no cause or -1 with one short, NUL-terminated cause; the verdict
 * does not depend on the controller flag except through "controller".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(const uint8_t *data, size_t size, int controller)
{
	char	*cause = (char *)1;
	int	 r;

	r = validate_report((const char *)data, size, "cpu-temp", controller,
	    &cause);
	if (r == 0 && cause != NULL)
		abort();
	if (r == -1 && (cause == NULL || *cause == '\0' ||
	    strlen(cause) > 16384))
		abort();
	if (r != 0 && r != -1)
		abort();
	free(cause);
}

/*
 * validate_report_warn(): the same verdict as validate_report(), and
 * warnings only with a valid report.
 */
static void
check_warn(const uint8_t *data, size_t size)
{
	char	*cause = NULL, *cause2 = NULL, *warnings = (char *)1;
	int	 r, r2;

	r = validate_report((const char *)data, size, "cpu-temp", 0, &cause);
	r2 = validate_report_warn((const char *)data, size, "cpu-temp", 0,
	    &cause2, &warnings);
	if (r != r2 || (r == -1 && warnings != NULL) ||
	    (cause != NULL) != (cause2 != NULL) ||
	    (cause != NULL && strcmp(cause, cause2) != 0) ||
	    (warnings != NULL && *warnings == '\0'))
		abort();
	free(cause);
	free(cause2);
	free(warnings);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*cause = NULL;

	check(data, size, 0);
	check(data, size, 1);
	/* No expected id: must not dereference it. */
	if (validate_report((const char *)data, size, NULL, 0, &cause) == -1 &&
	    cause == NULL)
		abort();
	free(cause);
	check_warn(data, size);
	return 0;
}
