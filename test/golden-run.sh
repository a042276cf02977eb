#!/bin/sh
# golden-run.sh MODULE [modrun args...]: run the bundled module MODULE
# with modrun -a from the build directory, against fixtures under
# $srcdir/test/fixtures/MODULE (args may say @F@ for that directory), and
# compare every report with $srcdir/test/golden/MODULE.json.
set -u
: "${srcdir:=.}"
mod=$1
shift
command -v python3 >/dev/null 2>&1 || { echo "python3 missing: skip"; exit 77; }
la=plugins/$mod.la
[ -f "$la" ] || { echo "$la not built"; exit 99; }
dlname=$(sed -n "s/^dlname='\(.*\)'$/\1/p" "$la")
so=plugins/.libs/$dlname
fix=$srcdir/test/fixtures/$mod
out=test/golden-$mod.out
# The host may export its own: node ids must not depend on the machine.
SCOPE_HOSTNAME=node-a
export SCOPE_HOSTNAME
# GOLDEN_ARGS: whitespace-separated modrun arguments, no globbing.
set -f
# shellcheck disable=SC2086
set -- $GOLDEN_ARGS
n=$#
while [ "$n" -gt 0 ]; do
	a=$1
	shift
	set -- "$@" "$(printf '%s' "$a" | sed "s|@F@|$fix|g")"
	n=$((n - 1))
done
./test/modrun -a "$@" "$so" >"$out" || { echo "modrun failed"; exit 1; }
python3 "$srcdir/test/jsoncmp.py" "$srcdir/test/golden/$mod.json" "$out" ||
	exit 1
rm -f "$out"
