#!/bin/sh
# run.sh - build the libFuzzer targets with clang and run each for a while.
#
#   test/fuzz/run.sh [-t SECONDS] [-j JOBS] [-b] [TARGET ...]
#
# TARGET is validate, control, http, channel, prom, containers or elf
# (default: all whose sources exist).
# -t  seconds per target (default 30; -max_total_time)
# -j  parallel libFuzzer jobs/workers per target (default 1)
# -b  build only
# Environment:
#   CC            clang with libFuzzer (default: clang)
#   SUPPORT_SRCS  sources every target links (default: host/util.c
#                 host/log.c, those that exist)
#   OUT           build and work directory (default: build-fuzz)
#   FUZZ_FLAGS    extra libFuzzer flags, e.g. "-max_len=1048576"
# Run from anywhere; paths are relative to the source tree.  The seed
# corpora in test/fuzz-corpus/ are read, never written: new inputs go to
# $OUT/corpus-TARGET, crashes to $OUT/artifacts-TARGET/.  Exits non-zero
# if a target fails to build or a fuzzer finds a problem.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

secs=30
jobs=1
build_only=0
while getopts t:j:b opt; do
	case $opt in
	t) secs=$OPTARG ;;
	j) jobs=$OPTARG ;;
	b) build_only=1 ;;
	*) sed -n '2,20p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

CC=${CC:-clang}
OUT=${OUT:-build-fuzz}
FUZZ_FLAGS=${FUZZ_FLAGS:-}
if [ -z "${SUPPORT_SRCS+x}" ]; then
	SUPPORT_SRCS=
	for f in host/util.c host/log.c; do
		[ -f "$f" ] && SUPPORT_SRCS="$SUPPORT_SRCS $f"
	done
fi

sources() {
	case $1 in
	validate) echo host/validate.c ;;
	control) echo host/control.c ;;
	http) echo host/http.c ;;
	channel) echo host/channel.c ;;
	prom) echo plugins/prom-parse.c plugins/strmap.c ;;
	containers) echo plugins/containers.c ;;	# #included by its target
	elf) echo host/module.c ;;
	*) echo "run.sh: unknown target $1" >&2; exit 2 ;;
	esac
}

if [ $# -eq 0 ]; then
	for t in validate control http channel prom containers elf; do
		[ -f "$(sources $t | cut -d' ' -f1)" ] && set -- "$@" $t
	done
fi

CFLAGS="-std=c11 -g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE \
-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
-Iinclude -Ilib -Ihost -Iplugins"
LIBS="$(pkg-config --libs yajl 2>/dev/null || echo -lyajl) \
$(pkg-config --libs libevent_core 2>/dev/null || echo -levent_core) -lm"

mkdir -p "$OUT"
status=0
for t in "$@"; do
	src=$(sources "$t")
	if [ ! -f "${src%% *}" ]; then
		echo "run.sh: $t: $src does not exist yet, skipped" >&2
		continue
	fi
	bin=$OUT/fuzz-$t
	# A module links the SDK; its own source is #included by the target.
	[ "$t" = containers ] && src="lib/host-services.c lib/paths.c lib/report.c"
	echo "== $t: building $bin"
	# shellcheck disable=SC2086
	$CC $CFLAGS -o "$bin" test/fuzz/fuzz-$t.c $src $SUPPORT_SRCS $LIBS
	[ $build_only -eq 1 ] && continue

	corpus=$OUT/corpus-$t
	art=$OUT/artifacts-$t/
	mkdir -p "$corpus" "$art"
	dict=
	[ -f test/fuzz/$t.dict ] && dict=-dict=test/fuzz/$t.dict
	echo "== $t: fuzzing for ${secs}s ($jobs job(s))"
	par=
	[ "$jobs" -gt 1 ] && par="-fork=$jobs"
	# shellcheck disable=SC2086
	if ! "$bin" $par -max_total_time="$secs" -timeout=10 \
	    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art" \
	    $dict $FUZZ_FLAGS "$corpus" "test/fuzz-corpus/$t"; then
		echo "run.sh: $t: FAILED, see $art" >&2
		status=1
	fi
done
exit $status
