# contrib build fragment, included from Makefile.am

# Out-of-tree example module (built by a test against the installed SDK).
EXTRA_DIST += contrib/example-module/hello.c contrib/example-module/Makefile
