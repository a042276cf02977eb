# man build fragment, included from Makefile.am
