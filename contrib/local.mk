# contrib build fragment, included from Makefile.am
#
# The systemd unit is generated from its template with the configured
# $(bindir) and always built (the unit-file test reads it); it and the
# tmpfiles.d entry that creates the plugin root at boot are installed only
# when configure found a unit directory (--with-systemdsystemunitdir=no
# turns both off).

contrib_unit = contrib/scope-plugin-host.service
contrib_tmpfiles = contrib/tmpfiles.d/scope-plugin-host.conf

BUILT_SOURCES += $(contrib_unit) $(contrib_tmpfiles)
CLEANFILES += $(contrib_unit) $(contrib_tmpfiles)

$(contrib_unit): $(top_srcdir)/contrib/scope-plugin-host.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) contrib && \
	sed -e 's|@bindir[@]|$(bindir)|g' \
	    $(top_srcdir)/contrib/scope-plugin-host.service.in >$@.tmp && \
	mv -f $@.tmp $@

# tmpfiles.d wants the file named <package>.conf; the source keeps a name
# that says what it is.
$(contrib_tmpfiles): $(top_srcdir)/contrib/scope-plugin-host.tmpfiles.conf
	$(AM_V_GEN)$(MKDIR_P) contrib/tmpfiles.d && \
	cp $(top_srcdir)/contrib/scope-plugin-host.tmpfiles.conf $@

if HAVE_SYSTEMD_UNIT
systemdsystemunit_DATA = $(contrib_unit)
# $(prefix)/lib/tmpfiles.d is searched by systemd-tmpfiles for /usr and
# /usr/local alike.
tmpfilesdir = $(prefix)/lib/tmpfiles.d
tmpfiles_DATA = $(contrib_tmpfiles)
endif

# The unit directory from pkg-config is absolute (/lib/systemd/system);
# make distcheck installs as an ordinary user under a private prefix.
AM_DISTCHECK_CONFIGURE_FLAGS = \
	--with-systemdsystemunitdir='$${dc_install_base}/lib/systemd/system'

dist_man_MANS += man/scope-plugin-host.conf.5

EXTRA_DIST += \
	contrib/scope-plugin-host.service.in \
	contrib/scope-plugin-host.tmpfiles.conf \
	contrib/scope-plugin-host.conf.example \
	contrib/Dockerfile \
	contrib/Dockerfile.dockerignore \
	contrib/kubernetes/scope-plugin-host.yaml \
	contrib/README-deploy.md \
	test/unit-file-test.sh \
	test/k8s-manifest-test.sh

TESTS += test/unit-file-test.sh test/k8s-manifest-test.sh

# Out-of-tree example module (built by a test against the installed SDK).
EXTRA_DIST += contrib/example-module/hello.c contrib/example-module/Makefile

# Examples for the exec and prometheus modules (scope-plugin-exec(8),
# scope-plugin-prometheus(8)); test/exec.py runs log-errors.sh.
examplesdir = $(docdir)/examples
dist_examples_SCRIPTS = contrib/exec/log-errors.sh contrib/exec/clock-offset.sh
dist_examples_DATA = contrib/prometheus/node-exporter.conf
# Screenshots in the README.
EXTRA_DIST += docs/images/exec-log-errors.png docs/images/prometheus-node-exporter.png
