# plugins build fragment, included from Makefile.am
