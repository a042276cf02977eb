#!/bin/sh
# containers-golden.sh: sourced by test/golden-containers-*.test after
# they set $layout and define edit().  Runs the containers module over
# test/fixtures/containers/$layout twice, 10 s apart on modrun's clock:
# first over the tree as committed, then over a copy that edit() changed
# (it runs in the copy's top directory), and compares both reports with
# test/golden/containers-$layout.json.  proc_root points nowhere, so the
# hierarchies are found by directory name whatever the machine mounts.
set -u
: "${srcdir:=.}"
command -v python3 >/dev/null 2>&1 || { echo "python3 missing: skip"; exit 77; }
la=plugins/containers.la
[ -f "$la" ] || { echo "$la not built"; exit 99; }
dlname=$(sed -n "s/^dlname='\(.*\)'$/\1/p" "$la")
so=plugins/.libs/$dlname
fix=$srcdir/test/fixtures/containers/$layout
tmp=test/containers-$layout.tmp
out=test/containers-$layout.out
rm -rf "$tmp"
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
mkdir -p "$tmp" && cp -R "$fix" "$tmp/2" && chmod -R u+w "$tmp/2" ||
	exit 99
(cd "$tmp/2" && edit) || { echo "edit failed"; exit 99; }
SCOPE_HOSTNAME=node-a
export SCOPE_HOSTNAME
./test/modrun -a -p "cgroup_root=$fix" -p "cgroup_root=$tmp/2" \
    -r "$tmp/no-proc" -t 1700000000 -t 1700000010 "$so" >"$out" ||
	{ echo "modrun failed"; exit 1; }
if [ -n "${GOLDEN_UPDATE:-}" ]; then
	python3 -c 'import json, sys
print(json.dumps([json.loads(l) for l in open(sys.argv[1])], indent=1))' \
	    "$out" >"$srcdir/test/golden/containers-$layout.json"
fi
python3 "$srcdir/test/jsoncmp.py" "$srcdir/test/golden/containers-$layout.json" \
    "$out" || exit 1
rm -f "$out"
