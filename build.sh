#!/usr/bin/env bash
# build.sh - set up, build, run and test scope-plugin-host on Debian.
#
#   ./build.sh demo   install the build dependencies (apt-get, as root or via
#                     sudo), build, and run the host in the foreground with the
#                     bundled modules, sockets under ./run/plugins (no root)
#   ./build.sh test   install the dependencies, build, and run the whole test
#                     suite: make check, the same under ASan+UBSan, the
#                     integration tests under valgrind, a short fuzz run,
#                     make distcheck.
#                     Ends with "N passed, N failed".
#   ./build.sh deb    build the Debian packages (debian/) from a copy of the
#                     tree and check them (test/deb-package.sh); the .deb
#                     files land in _build/deb (DEB_BUILD_OPTIONS=nocheck
#                     skips make check inside the package build)
#   ./build.sh deps   only install the dependencies
#
# Environment: JOBS (parallel make, default nproc), FUZZ_SECONDS (per fuzz
# target, default 15), SKIP_VALGRIND=1, SKIP_FUZZ=1, SKIP_ASAN=1,
# SKIP_DISTCHECK=1, SKIP_DEB=1.
set -euo pipefail

top=$(cd "$(dirname "$0")" && pwd)
cd "$top"
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
# The one list of packages, shared with .ci/run.
DEPS=$(sed -e 's/#.*//' "$top/build-deps")

log() { printf '==> %s\n' "$*"; }

deps() {
	local missing=() p
	for p in $DEPS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		    missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing ${missing[*]}"
	local sudo=
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || {
			echo "build.sh: need root or sudo to install: ${missing[*]}" >&2
			exit 1
		}
		sudo=sudo
	fi
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
}

# configure_build DIR [configure args...]: an out-of-tree build in DIR.
configure_build() {
	local dir=$1
	shift
	mkdir -p m4
	[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi >/dev/null
	mkdir -p "$dir"
	(cd "$dir" && { [ -f Makefile ] || "$top/configure" -q "$@"; } &&
	    make -s -j"$JOBS" >/dev/null)
}

demo() {
	deps
	log "building in _build/plain"
	configure_build _build/plain
	local mods="$top/run/modules" socks="$top/run/plugins" m
	mkdir -p "$mods"
	for m in _build/plain/plugins/.libs/*.so; do
		cp "$m" "$mods/.tmp" && mv "$mods/.tmp" "$mods/$(basename "$m")"
	done
	cat <<EOM
==> scope-plugin-host with the bundled modules: $(cd "$mods" && ls *.so | tr '\n' ' ')
    sockets in $socks/<id>/<id>.sock; in another shell try:
      curl -s --unix-socket $socks/iowait/iowait.sock http://plugin/report
    For Scope's probe: --socket-dir /var/run/scope/plugins (as root).
    Ctrl-C stops the host and removes its sockets.
EOM
	exec _build/plain/scope-plugin-host --foreground --no-config \
	    --module-dir "$mods" --socket-dir "$socks" "$@"
}

# Sums the per-case counts of an automake test directory into $passed/$failed.
passed=0 failed=0 skipped=0
count_tests() {
	local dir=$1 trs logf line result p f
	while IFS= read -r trs; do
		logf=${trs%.trs}.log
		result=$(sed -n 's/^:test-result: //p' "$trs" | head -1)
		line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$logf" 2>/dev/null | tail -1 || true)
		if [ -n "$line" ]; then
			p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
			f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
			case $line in *skipped*)
				skipped=$((skipped + $(echo "$line" | sed -E 's/.*, ([0-9]+) skipped.*/\1/'))) ;;
			esac
			case $result in PASS|SKIP) ;; *) [ "$f" -eq 0 ] && f=1 ;; esac
		else
			case $result in
			PASS) p=1 f=0 ;;
			SKIP) p=0 f=0 skipped=$((skipped + 1)) ;;
			*) p=0 f=1 ;;
			esac
		fi
		passed=$((passed + p))
		failed=$((failed + f))
	done < <(find "$dir" -name '*.trs' | sort)
}

stage() {
	local name=$1
	shift
	log "$name"
	if "$@"; then log "$name: ok"; else log "$name: FAILED"; stage_failures=$((stage_failures + 1)); fi
}

run_check() {
	local dir=$1
	shift
	(cd "$dir" && make -j"$JOBS" check "$@" >"$top/$dir/check.out" 2>&1)
	local rc=$?
	grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP):' "$dir/check.out" || true
	count_tests "$dir/test"
	if [ $rc -ne 0 ]; then
		find "$dir/test" -name '*.log' -newer "$dir/Makefile" -print0 |
		    xargs -0 grep -l -E '^(FAIL|ERROR)' 2>/dev/null |
		    while read -r l; do echo "--- $l"; tail -40 "$l"; done
	fi
	return $rc
}

valgrind_run() {
	local out rc=0 one suite line
	for suite in integration contain; do
		out=_build/valgrind-$suite.out one=0
		python3 test/$suite.py --builddir _build/plain --valgrind >"$out" 2>&1 || one=$?
		grep -E '^(ok|FAIL) ' "$out" || true
		[ $one -ne 0 ] && tail -60 "$out" && rc=$one
		line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1 || true)
		if [ -n "$line" ]; then
			passed=$((passed + ${line%% passed*}))
			line=${line#*passed, }
			failed=$((failed + ${line%% failed*}))
		else
			failed=$((failed + 1))
		fi
	done
	return $rc
}

# make distcheck: the tarball builds, installs, uninstalls and tests from a
# read-only source tree.  The long suites already ran above; here a quick
# subset proves the tarball holds what they need.
distcheck_run() {
	local out=_build/distcheck.out rc=0
	(cd _build/plain && make distcheck \
	    TESTS="test/sdk-install.test test/config-test test/validate-test test/control-test test/golden-iowait.test test/http-test test/frame-test test/fixtures/modules-mk.test" \
	    >"$top/$out" 2>&1) || rc=$?
	if [ $rc -eq 0 ]; then
		grep -A2 'archives ready' "$out" || true
		passed=$((passed + 1))
	else
		tail -40 "$out"
		failed=$((failed + 1))
	fi
	return $rc
}

fuzz_run() {
	local out=_build/fuzz.out rc=0
	OUT=_build/fuzz test/fuzz/run.sh -t "${FUZZ_SECONDS:-15}" >"$out" 2>&1 || rc=$?
	grep -E 'fuzz-|Done|crash|ERROR' "$out" | tail -20 || true
	if [ $rc -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); tail -40 "$out"; fi
	return $rc
}

# The Debian packages: built from a copy of the tree, contents, lintian,
# install/upgrade/purge in a scratch root.  make check already ran above,
# so the package build skips it (nocheck).
deb_run() {
	local out=_build/deb.out rc=0 line
	DEB_BUILD_OPTIONS="nocheck parallel=$JOBS" test/deb-package.sh -o _build/deb >"$out" 2>&1 || rc=$?
	grep -E '^(FAIL|[EW]: )' "$out" || true
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1 || true)
	if [ $rc -eq 77 ]; then
		skipped=$((skipped + 1))
		rc=0
	elif [ -n "$line" ]; then
		passed=$((passed + ${line%% passed*}))
		line=${line#*passed, }
		failed=$((failed + ${line%% failed*}))
		line=${line#*failed, }
		skipped=$((skipped + ${line%% skipped*}))
	else
		tail -40 "$out"
		failed=$((failed + 1))
	fi
	return $rc
}

test_all() {
	local start=$SECONDS
	stage_failures=0
	deps
	stage "build" configure_build _build/plain
	stage "make check" run_check _build/plain
	if [ "${SKIP_ASAN:-0}" != 1 ]; then
		stage "build with ASan+UBSan" configure_build _build/asan --enable-sanitizers
		ASAN_OPTIONS=handle_segv=0:handle_abort=0:detect_leaks=1:abort_on_error=0 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		SPH_TEST_EXTRA_ARGS="--deadline 3000 --memory-limit 0" SPH_TEST_SANITIZED=1 \
		    stage "make check under ASan+UBSan" run_check _build/asan
	fi
	[ "${SKIP_VALGRIND:-0}" = 1 ] || stage "integration tests under valgrind" valgrind_run
	[ "${SKIP_FUZZ:-0}" = 1 ] || stage "fuzz smoke run" fuzz_run
	[ "${SKIP_DISTCHECK:-0}" = 1 ] || stage "make distcheck" distcheck_run
	[ "${SKIP_DEB:-0}" = 1 ] || stage "Debian packages" deb_run
	log "finished in $((SECONDS - start)) s"
	if [ $stage_failures -gt 0 ] && [ $failed -eq 0 ]; then
		failed=$stage_failures
	fi
	echo "$passed passed, $failed failed, $skipped skipped"
	[ $failed -eq 0 ]
}

case ${1:-} in
demo) shift; demo "$@" ;;
test) test_all ;;
deb) deps; test/deb-package.sh -o "$top/_build/deb" ;;
deps) deps ;;
*) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
esac
