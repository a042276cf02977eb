# lib build fragment, included from Makefile.am
