# contrib build fragment, included from Makefile.am
#
# The systemd unit is generated from its template with the configured
# $(bindir) and always built (the unit-file test reads it).  It and the
# tmpfiles.d entry that creates the plugin root at boot are installed into
# the directories configure chose (=no turns either off).

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

# configure chooses both directories: under the prefix, or systemd's own
# for --prefix=/usr (--with-systemdsystemunitdir, --with-tmpfilesdir).
if HAVE_SYSTEMD_UNIT
systemdsystemunit_DATA = $(contrib_unit)
endif
if HAVE_TMPFILES
tmpfiles_DATA = $(contrib_tmpfiles)
endif

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

# Installing without root: configure --prefix=$HOME/x, make install and the
# installed host, as nobody (or the calling user).  Debian packages:
# ./build.sh deb and its test stage (test/deb-package.sh, not in make check:
# it builds the whole package).
TESTS += test/user-install.test
EXTRA_DIST += test/user-install.test test/get-report.py test/deb-package.sh

# The Debian packaging, so that a release tarball builds the packages too.
EXTRA_DIST += debian/changelog debian/control debian/copyright debian/rules \
	debian/source/format debian/scope-plugin-host.install \
	debian/scope-plugin-host.docs debian/scope-plugin-host.postrm \
	debian/scope-plugin-host.lintian-overrides \
	debian/libscope-plugin-dev.install debian/libscope-plugin-dev.examples
# Retakes the README's screenshots (docs/images) in the real Scope UI.
EXTRA_DIST += contrib/screenshots.sh contrib/nocode-shots.sh
# Examples for the exec and prometheus modules (scope-plugin-exec(8),
# scope-plugin-prometheus(8)); test/exec.py runs log-errors.sh.
examplesdir = $(docdir)/examples
dist_examples_SCRIPTS = contrib/exec/log-errors.sh contrib/exec/clock-offset.sh
dist_examples_DATA = contrib/prometheus/node-exporter.conf
# Screenshots in the README.
EXTRA_DIST += docs/images/exec-log-errors.png docs/images/prometheus-node-exporter.png
