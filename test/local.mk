# test build fragment, included from Makefile.am
