# man build fragment, included from Makefile.am
dist_man_MANS += man/scope-plugin-report.3
