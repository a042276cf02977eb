#!/bin/sh
# shellcheck disable=SC2016  # single-quoted sh -c bodies expand $1 themselves
# unit-file-test.sh - checks the generated systemd unit and the tmpfiles.d
# entry of scope-plugin-host.
#
# Run by `make check` from the top build directory (the unit is generated
# by make), or by hand: UNIT=path/to/scope-plugin-host.service sh
# test/unit-file-test.sh.  Without a generated unit it makes one from the
# template.  systemd-analyze and systemd-tmpfiles checks are skipped when
# those tools are missing.
#
# Prints "N passed, N failed, N skipped" and exits non-zero on a failure.

: "${srcdir:=$(dirname "$0")/..}"
UNIT=${UNIT:-contrib/scope-plugin-host.service}
TMPFILES=${TMPFILES:-$srcdir/contrib/scope-plugin-host.tmpfiles.conf}
TEMPLATE=$srcdir/contrib/scope-plugin-host.service.in

pass=0 fail=0 skip=0
ok()   { pass=$((pass + 1)); echo "PASS: $1"; }
nok()  { fail=$((fail + 1)); echo "FAIL: $1"; }
skp()  { skip=$((skip + 1)); echo "SKIP: $1"; }
check() { # check DESCRIPTION COMMAND...
	d=$1; shift
	if "$@"; then ok "$d"; else nok "$d"; fi
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/unit-test.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM

if [ ! -f "$UNIT" ]; then
	if [ ! -f "$TEMPLATE" ]; then
		echo "ERROR: neither $UNIT nor $TEMPLATE found" >&2
		exit 99
	fi
	echo "note: $UNIT not built; generating it from the template"
	sed 's|@bindir[@]|/usr/local/bin|g' "$TEMPLATE" >"$tmp/gen.service"
	UNIT=$tmp/gen.service
fi

# values KEY: every value of KEY= in the unit (comments ignored), one a line
values() { sed -n "s/^[[:space:]]*$1=//p" "$UNIT"; }
has() { values "$1" | grep -q -- "$2"; }
# the last assignment wins for single-valued keys
last() { values "$1" | tail -n 1; }

check "template fully substituted (no @var@ left)" \
	sh -c '! grep -n "@[a-z_]*@" "$1"' _ "$UNIT"
check "Type=notify" test "$(last Type)" = notify
check "NotifyAccess=main (workers cannot send READY)" test "$(last NotifyAccess)" = main
check "ExecStart is absolute and runs --foreground" \
	sh -c 'printf "%s\n" "$1" | grep -Eq "^/[^ ]*/scope-plugin-host( .*)? --foreground( |\$)"' _ "$(last ExecStart)"
check "ExecStartPre runs scope-plugin-host --check" has ExecStartPre 'scope-plugin-host --check'
check "ExecStartPre --check is advisory ('-' prefix)" \
	sh -c 'values() { sed -n "s/^[[:space:]]*ExecStartPre=//p" "$1"; }; values "$1" | grep -- "--check" | grep -q "^-/"' _ "$UNIT"
check "ExecReload sends SIGHUP to \$MAINPID" has ExecReload 'kill -HUP \$MAINPID'
check "Restart=on-failure" test "$(last Restart)" = on-failure
check "KillMode=mixed (SIGTERM to the supervisor only)" test "$(last KillMode)" = mixed
check "WantedBy=multi-user.target" has WantedBy multi-user.target

# The plugin root must survive a stop: RuntimeDirectory= removes what it
# lists on stop unless RuntimeDirectoryPreserve=yes.
rtd=$(values RuntimeDirectory | tr ' ' '\n' | grep -E '^scope(/plugins)?/?$')
if [ -n "$rtd" ]; then
	check "RuntimeDirectory=$rtd is preserved on stop" \
		test "$(last RuntimeDirectoryPreserve)" = yes
else
	ok "plugin root not managed by RuntimeDirectory="
fi
check "no RuntimeDirectory= on /run or /var/run itself" \
	sh -c '! sed -n "s/^[[:space:]]*RuntimeDirectory=//p" "$1" | tr " " "\n" | grep -Eq "^(run|var)"' _ "$UNIT"
check "no Exec line removes the plugin root" \
	sh -c '! grep -E "^[[:space:]]*Exec[A-Za-z]*=.*(rm|rmdir)[[:space:]].*(/var)?/run/scope" "$1"' _ "$UNIT"
check "no tmpfs/inaccessible mount hides /run/scope" \
	sh -c '! grep -E "^[[:space:]]*(TemporaryFileSystem|InaccessiblePaths)=.*/run(/scope)?( |\$)" "$1"' _ "$UNIT"
check "socket dir writable under ProtectSystem=strict (ReadWritePaths=/run/scope)" \
	sh -c 'test "$2" != strict || sed -n "s/^[[:space:]]*ReadWritePaths=//p" "$1" | tr " " "\n" | grep -qx -- "-\{0,1\}/run/scope"' _ "$UNIT" "$(last ProtectSystem)"
check "CAP_DAC_READ_SEARCH kept (procfds reads /proc/PID/fd)" \
	has CapabilityBoundingSet CAP_DAC_READ_SEARCH
check "CAP_SYS_PTRACE kept (procfds reads /proc/PID/io)" \
	has CapabilityBoundingSet CAP_SYS_PTRACE
check "AF_UNIX allowed" has RestrictAddressFamilies AF_UNIX
check "/proc fully visible (no ProtectProc=/ProcSubset=)" \
	sh -c '! grep -Eq "^[[:space:]]*(ProtectProc=(invisible|noaccess|ptraceable)|ProcSubset=pid)" "$1"' _ "$UNIT"
check "host network namespace kept (network module reads /proc/net/dev)" \
	sh -c '! grep -Eq "^[[:space:]]*PrivateNetwork=(yes|true|1|on)" "$1"' _ "$UNIT"
check "no legacy /var/run paths in settings" \
	sh -c '! grep -Eq "^[[:space:]]*[A-Za-z]+=.*/var/run" "$1"' _ "$UNIT"

# tmpfiles.d entry: creates the root at boot, never ages it.
if [ -f "$TMPFILES" ]; then
	check "tmpfiles.d creates /run/scope/plugins (type d, 0755)" \
		grep -Eq '^d[[:space:]]+/run/scope/plugins[[:space:]]+0755[[:space:]]' "$TMPFILES"
	check "tmpfiles.d sets no age (nothing is cleaned)" \
		sh -c '! grep -v "^[[:space:]]*#" "$1" | awk "NF >= 6 && \$6 != \"-\" { bad = 1 } END { exit !bad }"' _ "$TMPFILES"
	if command -v systemd-tmpfiles >/dev/null 2>&1; then
		root=$tmp/root
		mkdir -p "$root"
		abs=$(cd "$(dirname "$TMPFILES")" && pwd)/$(basename "$TMPFILES")
		if systemd-tmpfiles --root="$root" --create "$abs" >"$tmp/tf.out" 2>&1 &&
		    [ ! -s "$tmp/tf.out" ] && [ -d "$root/run/scope/plugins" ]; then
			ok "systemd-tmpfiles --create makes run/scope/plugins, no warnings"
		else
			nok "systemd-tmpfiles --create"; cat "$tmp/tf.out"
		fi
		check "created mode is 0755" \
			test "$(stat -c %a "$root/run/scope/plugins" 2>/dev/null)" = 755
		systemd-tmpfiles --root="$root" --clean --remove "$abs" >/dev/null 2>&1
		check "systemd-tmpfiles --clean --remove keeps the root" \
			test -d "$root/run/scope/plugins"
	else
		skp "systemd-tmpfiles not installed (apt-get install systemd)"
	fi
else
	nok "tmpfiles.d entry $TMPFILES missing"
fi

# systemd-analyze verify: needs the binaries the unit names to exist, so it
# checks a copy whose ExecStart points at a stub.  Any message is a
# failure (verify exits 0 on unknown keys and bad values).
if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir -p "$tmp/bin" "$tmp/unit"
	printf '#!/bin/sh\nexit 0\n' >"$tmp/bin/scope-plugin-host"
	chmod +x "$tmp/bin/scope-plugin-host"
	sed "s|^\\(Exec[A-Za-z]*=[-@+!:]*\\)/[^ ]*/scope-plugin-host|\\1$tmp/bin/scope-plugin-host|" \
		"$UNIT" >"$tmp/unit/scope-plugin-host.service"
	if systemd-analyze verify --man=no "$tmp/unit/scope-plugin-host.service" \
	    >"$tmp/verify.out" 2>&1 && [ ! -s "$tmp/verify.out" ]; then
		ok "systemd-analyze verify: no errors or warnings"
	else
		nok "systemd-analyze verify"; sed 's/^/    /' "$tmp/verify.out"
	fi
	# Offline security score (systemd >= 250); lower is better, 10 = none.
	if systemd-analyze security --offline=true --no-pager \
	    "$tmp/unit/scope-plugin-host.service" >"$tmp/sec.out" 2>&1; then
		score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$tmp/sec.out")
		if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 3.0) }'; then
			ok "systemd-analyze security exposure $score <= 3.0"
		else
			nok "systemd-analyze security exposure '${score:-?}' > 3.0"
			grep '✗' "$tmp/sec.out" | sed 's/^/    /'
		fi
	else
		skp "systemd-analyze security --offline unsupported here"
	fi
else
	skp "systemd-analyze not installed (apt-get install systemd)"
fi

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
