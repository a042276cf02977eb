# test build fragment, included from Makefile.am

# Parsers: report validation and POST /control bodies (unit tests).
check_PROGRAMS += test/validate-test test/control-test
test_validate_test_SOURCES = test/validate-test.c
test_validate_test_LDADD = libhost.la
test_control_test_SOURCES = test/control-test.c
test_control_test_LDADD = libhost.la
TESTS += test/validate-test test/control-test
# libFuzzer targets are built by test/fuzz/run.sh (clang), not by automake.
EXTRA_DIST += test/fuzz/run.sh test/fuzz/fuzz-validate.c \
	test/fuzz/fuzz-control.c test/fuzz/fuzz-http.c test/fuzz-corpus
