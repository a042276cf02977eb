#!/usr/bin/env bash
# deb-package.sh - builds the Debian packages (debian/) and checks them.
#
#   test/deb-package.sh [-o OUTDIR]
#
# The build runs dpkg-buildpackage -us -uc -b on a copy of the source tree
# in a scratch directory (dpkg-buildpackage writes the .deb files to the
# parent of the tree), so the checkout is left as it was.  DEB_BUILD_OPTIONS
# is passed through (nocheck skips make check inside the build).  Then:
#   - the contents of each package (dpkg -c) and its maintainer scripts;
#   - the packaged unit and tmpfiles.d entry (test/unit-file-test.sh);
#   - lintian: no error, no warning, no unused override;
#   - as root: install, upgrade, remove and purge into a scratch root
#     (dpkg --root with chrootless maintainer scripts, DPKG_ROOT; a
#     policy-rc.d there keeps the real init system from starting anything,
#     at most a systemctl daemon-reload reaches it), running the
#     installed daemon from it and building the example module against the
#     installed SDK.
# With -o the .deb files are copied to OUTDIR.
# Prints "N passed, N failed, N skipped"; exits 1 on a failure, 77 when
# the packaging tools are missing.

set -u
top=$(cd "$(dirname "$0")/.." && pwd)
out=
while getopts o: opt; do
	case $opt in
	o) out=$OPTARG ;;
	*) echo "usage: $0 [-o OUTDIR]" >&2; exit 2 ;;
	esac
done

pass=0 fail=0 skip=0
ok()  { pass=$((pass + 1)); echo "ok   $1"; }
no()  { fail=$((fail + 1)); echo "FAIL $1"; }
skp() { skip=$((skip + 1)); echo "skip $1"; }
check() { # check DESCRIPTION COMMAND...
	local d=$1
	shift
	if "$@"; then ok "$d"; else no "$d"; fi
}
finish() {
	echo "$pass passed, $fail failed, $skip skipped"
	[ "$fail" -eq 0 ]
	exit
}

for t in dpkg-buildpackage dh lintian; do
	command -v $t >/dev/null || {
		echo "SKIP: $t not installed (apt-get install dpkg-dev debhelper lintian)"
		exit 77
	}
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/deb-package.XXXXXX") || exit 99
hostpid=
cleanup() {
	[ -n "$hostpid" ] && kill "$hostpid" 2>/dev/null && wait "$hostpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# --- build from a copy ---------------------------------------------------------
# From git: the tracked and the new, not ignored files (what a clean
# checkout with the working-tree changes would hold).  From a tarball:
# everything but build directories.
src=$tmp/src
mkdir "$src"
if git -C "$top" rev-parse --show-toplevel >/dev/null 2>&1; then
	(cd "$top" && git ls-files -z --cached --others --exclude-standard |
	    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
	    tar --null -T - -cf -) | tar -C "$src" -xf -
else
	tar -C "$top" --exclude=./_build --exclude=./debian/build -cf - . |
	    tar -C "$src" -xf -
fi
[ -f "$src/debian/control" ] || { no "copy of the source tree has debian/control"; finish; }

if (cd "$src" && dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b"
else
	tail -40 "$tmp/build.log"
	no "dpkg-buildpackage -us -uc -b"
	finish
fi
ver=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
arch=$(dpkg-architecture -q DEB_HOST_ARCH)
triplet=$(dpkg-architecture -q DEB_HOST_MULTIARCH)
hostdeb=$tmp/scope-plugin-host_${ver}_$arch.deb
devdeb=$tmp/libscope-plugin-dev_${ver}_$arch.deb
changes=$tmp/scope-plugin-host_${ver}_$arch.changes
for f in "$hostdeb" "$devdeb" "$changes"; do
	[ -f "$f" ] || { no "built ${f#$tmp/}"; finish; }
done
if [ -n "$out" ]; then
	mkdir -p "$out" && cp "$tmp"/*.deb "$tmp"/*.changes "$tmp"/*.buildinfo "$out"/ &&
	    echo "packages in $out"
fi

# --- contents ----------------------------------------------------------------------
# files DEB: the paths in DEB (dpkg -c), without the leading "."
files() { dpkg -c "$1" | awk '{ print substr($6, 2) }'; }
files "$hostdeb" >"$tmp/host.files"
files "$devdeb" >"$tmp/dev.files"
moddir=/usr/lib/$triplet/scope-plugin-host
unit=$(grep -E '^(/usr)?/lib/systemd/system/scope-plugin-host\.service$' "$tmp/host.files")
check "scope-plugin-host: systemd unit (${unit:-none})" test -n "$unit"
for f in /usr/bin/scope-plugin-host /usr/lib/tmpfiles.d/scope-plugin-host.conf \
    /etc/scope-plugin-host.conf /usr/share/man/man8/scope-plugin-host.8.gz \
    /usr/share/man/man5/scope-plugin-host.conf.5.gz \
    /usr/share/doc/scope-plugin-host/copyright \
    /usr/share/man/man8/scope-plugin-containers.8.gz \
    /usr/share/man/man8/scope-plugin-exec.8.gz \
    /usr/share/man/man8/scope-plugin-prometheus.8.gz \
    /usr/share/doc/scope-plugin-host/examples/log-errors.sh \
    "$moddir"/{iowait,load,memory,network,disk,filesystems,sensors,procfds,containers,exec,prometheus}.so; do
	check "scope-plugin-host: $f" grep -qxF "$f" "$tmp/host.files"
done
check "scope-plugin-host: no SDK files, .la or .a" \
	sh -c '! grep -E "\\.(la|a|h|pc)\$|/man3/" "$1"' _ "$tmp/host.files"
check "scope-plugin-host: /etc/scope-plugin-host.conf is a conffile" \
	sh -c 'dpkg-deb -f "$1" >/dev/null && dpkg-deb -I "$1" conffiles | grep -qx /etc/scope-plugin-host.conf' _ "$hostdeb"
for f in /usr/include/scope-plugin.h /usr/lib/$triplet/libscope-plugin.a \
    /usr/lib/$triplet/pkgconfig/scope-plugin.pc \
    /usr/share/man/man3/scope-plugin.3.gz /usr/share/man/man3/scope-plugin-report.3.gz \
    /usr/share/doc/libscope-plugin-dev/examples/hello.c; do
	check "libscope-plugin-dev: $f" grep -qxF "$f" "$tmp/dev.files"
done
check "libscope-plugin-dev: no daemon, modules or unit" \
	sh -c '! grep -E "/bin/|\\.so\$|systemd|tmpfiles" "$1"' _ "$tmp/dev.files"

x=$tmp/x
mkdir "$x"
dpkg-deb -x "$hostdeb" "$x" && dpkg-deb -x "$devdeb" "$x"
check "packaged unit runs /usr/bin/scope-plugin-host" \
	grep -qx 'ExecStart=/usr/bin/scope-plugin-host --foreground' "$x$unit"
# The daemon, the pkg-config file and the package agree on the module dir.
# --help prints the default on the line after the flag.
helpdir=$("$x/usr/bin/scope-plugin-host" --help 2>&1 |
    sed -n '/--module-dir /,/(default/s/.*(default \([^)]*\)).*/\1/p' | head -1)
pcdir=$(PKG_CONFIG_PATH="$x/usr/lib/$triplet/pkgconfig" pkg-config --variable=moduledir scope-plugin)
check "compiled-in module dir ($helpdir) is the packaged one" test "$helpdir" = "$moddir"
check "pkg-config moduledir ($pcdir) is the packaged one" test "$pcdir" = "$moddir"
check "compiled-in configuration file is /etc/scope-plugin-host.conf" \
	sh -c '"$1" --help 2>&1 | grep -q /etc/scope-plugin-host.conf' _ "$x/usr/bin/scope-plugin-host"
if UNIT=$x$unit TMPFILES=$x/usr/lib/tmpfiles.d/scope-plugin-host.conf srcdir=$top \
    sh "$top/test/unit-file-test.sh" >"$tmp/unit.log" 2>&1; then
	ok "packaged unit and tmpfiles.d entry pass test/unit-file-test.sh"
else
	grep -E '^FAIL' "$tmp/unit.log"
	no "packaged unit and tmpfiles.d entry (test/unit-file-test.sh)"
fi

# --- maintainer scripts ---------------------------------------------------------------
ctl=$tmp/ctl
dpkg-deb -e "$hostdeb" "$ctl"
check "postinst makes the plugin root (systemd-tmpfiles --create)" \
	grep -q 'systemd-tmpfiles .*--create scope-plugin-host.conf' "$ctl/postinst"
check "postinst enables the service" grep -q "deb-systemd-helper enable 'scope-plugin-host.service'" "$ctl/postinst"
check "postinst starts on install, restarts on upgrade" \
	sh -c 'grep -q "_dh_action=restart" "$1" && grep -q "_dh_action=start" "$1"' _ "$ctl/postinst"
check "plugin root made before the service starts" \
	sh -c 'a=$(grep -n "systemd-tmpfiles" "$1" | head -1 | cut -d: -f1); b=$(grep -n "deb-systemd-invoke" "$1" | head -1 | cut -d: -f1); [ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ]' _ "$ctl/postinst"
check "prerm stops the service on remove only (restart after upgrade)" \
	sh -c 'grep "deb-systemd-invoke stop" "$1" >/dev/null && ! grep -B3 "deb-systemd-invoke stop" "$1" | grep -q upgrade && grep -B3 "deb-systemd-invoke stop" "$1" | grep -q "\"\$1\" = remove"' _ "$ctl/prerm"
check "postrm purge removes the enable state" grep -q "deb-systemd-helper purge 'scope-plugin-host.service'" "$ctl/postrm"
for s in postinst prerm postrm; do
	check "$s: sh -n" sh -n "$ctl/$s"
done

# --- lintian ----------------------------------------------------------------------
lintian --info --display-info --pedantic --tag-display-limit 0 "$changes" >"$tmp/lintian.log" 2>&1
sed -e '/running with root privileges/d' "$tmp/lintian.log" >"$tmp/lintian.tags"
cat "$tmp/lintian.tags"
check "lintian: no errors or warnings" sh -c '! grep -Eq "^[EW]: " "$1"' _ "$tmp/lintian.tags"
check "lintian: no unused or mismatched override" \
	sh -c '! grep -Eq "(unused|mismatched)-override" "$1"' _ "$tmp/lintian.tags"

# --- install, upgrade, remove, purge into a scratch root --------------------------------
if [ "$(id -u)" -ne 0 ]; then
	skp "install/upgrade/purge into a scratch root: needs root (dpkg --root)"
	finish
fi
R=$tmp/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/triggers" "$R/usr/sbin"
: >"$R/var/lib/dpkg/status"
: >"$R/var/lib/dpkg/available"
# deb-systemd-invoke asks $DPKG_ROOT/usr/sbin/policy-rc.d: 101 = start nothing.
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
chmod 755 "$R/usr/sbin/policy-rc.d"
rdpkg() {
	dpkg --root="$R" --force-script-chrootless --force-depends \
	    --log="$tmp/dpkg.log" "$@" >>"$tmp/dpkg.out" 2>&1
}
status() { dpkg --root="$R" -s "$1" 2>/dev/null | sed -n "s/^$2: //p"; }
# report ID: GET /report on ID's socket under the scratch plugin root.
report() { python3 "$top/test/get-report.py" "$R/run/scope/plugins/$1/$1.sock" "$1"; }
wait_sock() { # wait_sock PATH: up to 10 s
	local i=0
	while [ ! -S "$1" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ -S "$1" ]
}
mods="iowait load memory network disk filesystems sensors procfds containers"

if rdpkg -i "$hostdeb" "$devdeb"; then ok "dpkg --root -i (both packages)"; else cat "$tmp/dpkg.out"; no "dpkg -i"; finish; fi
check "status: installed $ver" test "$(status scope-plugin-host Status) $(status scope-plugin-host Version)" = "install ok installed $ver"
wants=$R/etc/systemd/system/multi-user.target.wants/scope-plugin-host.service
check "service enabled (multi-user.target.wants link to $unit)" test "$(readlink "$wants")" = "$unit"
if command -v systemd-tmpfiles >/dev/null; then
	check "plugin root made by the postinst (0755 root)" \
		test "$(stat -c '%a %U' "$R/run/scope/plugins" 2>/dev/null)" = "755 root"
else
	skp "plugin root: systemd-tmpfiles not installed"
	mkdir -p "$R/run/scope/plugins"
fi

# The installed daemon with the installed configuration file and modules.
"$R/usr/bin/scope-plugin-host" --foreground --config "$R/etc/scope-plugin-host.conf" \
    --module-dir "$R$moddir" --socket-dir "$R/run/scope/plugins" >"$tmp/host.log" 2>&1 &
hostpid=$!
for m in $mods; do
	if wait_sock "$R/run/scope/plugins/$m/$m.sock" && report "$m" >>"$tmp/report.log" 2>&1; then
		ok "installed host serves $m"
	else
		no "installed host serves $m"
	fi
done

# Installed SDK: the example module builds and the installed host accepts it.
mkdir "$tmp/ex"
cp "$R/usr/share/doc/libscope-plugin-dev/examples/"* "$tmp/ex/"
if PKG_CONFIG_LIBDIR="$R/usr/lib/$triplet/pkgconfig:/usr/lib/$triplet/pkgconfig:/usr/share/pkgconfig" \
    PKG_CONFIG_SYSROOT_DIR="$R" make -s -C "$tmp/ex" >"$tmp/ex.log" 2>&1 &&
    mkdir "$tmp/exmod" && cp "$tmp/ex/hello.so" "$tmp/exmod/" &&
    "$R/usr/bin/scope-plugin-host" --check --no-config --module-dir "$tmp/exmod" \
        --socket-dir "$tmp/exsock" >>"$tmp/ex.log" 2>&1; then
	ok "example module builds against the installed SDK and passes --check"
else
	cat "$tmp/ex.log"
	no "example module against the installed SDK"
fi

# Upgrade to the same package with a higher version, with a local change
# to the conffile and the daemon running (as the service keeps running:
# the restart comes after the upgrade).
up=$tmp/up
dpkg-deb -R "$hostdeb" "$up"
sed -i "s/^Version: .*/Version: $ver+upgradetest/" "$up/DEBIAN/control"
dpkg-deb -b "$up" "$tmp/host-up.deb" >/dev/null
echo "# local change" >>"$R/etc/scope-plugin-host.conf"
if rdpkg -i "$tmp/host-up.deb"; then ok "upgrade to $ver+upgradetest"; else cat "$tmp/dpkg.out"; no "upgrade"; fi
check "status: installed $ver+upgradetest" test "$(status scope-plugin-host Version)" = "$ver+upgradetest"
check "upgrade keeps the local conffile change" grep -qx '# local change' "$R/etc/scope-plugin-host.conf"
check "upgrade keeps the service enabled" test "$(readlink "$wants")" = "$unit"
check "daemon still running after the upgrade" kill -0 "$hostpid"
# dpkg renamed new modules over the old ones: the host reloads them.
for m in $mods; do
	check "$m still served after the upgrade" report "$m"
done

# Remove: the service is stopped first (prerm, on a systemd host).
kill -TERM "$hostpid"
wait "$hostpid"
rc=$?
hostpid=
check "daemon exits 0 on SIGTERM" test "$rc" -eq 0
check "sockets gone, plugin root kept" \
	sh -c 'd=$1/run/scope/plugins; [ -d "$d" ] && [ -z "$(find "$d" -mindepth 1 ! -name .scope-plugin-host.lock)" ]' _ "$R"
if rdpkg -r scope-plugin-host; then ok "dpkg -r"; else cat "$tmp/dpkg.out"; no "dpkg -r"; fi
check "remove: files gone, conffile kept" \
	sh -c '[ ! -e "$1/usr/bin/scope-plugin-host" ] && [ ! -e "$1$2/iowait.so" ] && [ -f "$1/etc/scope-plugin-host.conf" ]' _ "$R" "$moddir"
check "status after remove: config-files" test "$(status scope-plugin-host Status)" = "deinstall ok config-files"
if rdpkg -P scope-plugin-host libscope-plugin-dev; then ok "dpkg -P"; else cat "$tmp/dpkg.out"; no "dpkg -P"; fi
check "purge: conffile gone" test ! -e "$R/etc/scope-plugin-host.conf"
check "purge: enable link and state gone" \
	sh -c '[ ! -L "$1" ] && [ -z "$(find "$2/var/lib/systemd" -name "*scope-plugin-host*" 2>/dev/null)" ]' _ "$wants" "$R"
check "purge: plugin root and lock file gone" test ! -e "$R/run/scope"
left=$(cd "$R" && find . ! -type d ! -path './var/lib/dpkg/*' ! -path ./usr/sbin/policy-rc.d)
check "purge: no file left behind${left:+ ($left)}" test -z "$left"

finish
