# man build fragment, included from Makefile.am
dist_man_MANS += man/scope-plugin-report.3
dist_man_MANS += man/scope-plugin.3
dist_man_MANS += man/scope-plugin-host.8
dist_man_MANS += man/scope-plugin-exec.8
dist_man_MANS += man/scope-plugin-prometheus.8
dist_man_MANS += man/scope-plugin-containers.8
