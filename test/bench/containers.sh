#!/bin/sh
# containers.sh - CPU time of one collect of the containers module over
# 200 containers (see docs/BENCHMARKS.md).  Run from the top build
# directory (`make bench-containers`, also part of `make bench`).
#
# Builds three trees in a temporary directory from the committed fixtures
# (every container cgroup a copy of a fixture container with all the
# files the module reads):
#   docker-v2   cgroup v2, 200 x system.slice/docker-<id>.scope
#   kubepods-v2 cgroup v2, 50 Burstable pods x 4 containers (250 nodes)
#   docker-v1   cgroup v1 hybrid, 200 docker-<id>.scope in cpu,cpuacct,
#               memory, blkio, pids and unified
# and runs test/bench/collect-time on each (200 measured collects after
# 10 warmup ones; the module keeps its previous counters, so every
# measured collect computes its rates as in production).
set -eu
srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
fix=$srcdir/test/fixtures/containers
so=plugins/.libs/containers.so
ct=test/bench/collect-time
[ -x "$ct" ] && [ -f "$so" ] || { echo "containers.sh: build first (make bench-containers)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sph-bench-containers.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

id() { printf '%064x' "$1"; }

# docker-v2
r=$tmp/docker-v2
mkdir -p "$r/system.slice"
cp "$fix/v2-docker-systemd/cgroup.controllers" "$r/"
src=$fix/v2-docker-systemd/system.slice/docker-$(printf 'a%.0s' $(seq 64)).scope
for i in $(seq 1 200); do
	cp -R "$src" "$r/system.slice/docker-$(id "$i").scope"
done
# kubepods-v2
r=$tmp/kubepods-v2
b=$r/kubepods.slice/kubepods-burstable.slice
mkdir -p "$b"
cp "$fix/v2-kubepods/cgroup.controllers" "$r/"
pod=$fix/v2-kubepods/kubepods.slice/kubepods-pod11111111_2222_3333_4444_555555555555.slice
for p in $(seq 1 50); do
	d=$b/kubepods-burstable-pod$(printf '%08x_0000_0000_0000_000000000000' "$p").slice
	mkdir "$d"
	for f in "$pod"/*; do [ -f "$f" ] && cp "$f" "$d/"; done
	for c in 1 2 3 4; do
		cp -R "$pod/cri-containerd-$(printf '1%.0s' $(seq 64)).scope" \
		    "$d/cri-containerd-$(id $((p * 10 + c))).scope"
	done
done
# docker-v1
r=$tmp/docker-v1
cp -R "$fix/v1-hybrid" "$r"
a=system.slice/docker-$(printf 'a%.0s' $(seq 64)).scope
for h in cpu,cpuacct memory blkio pids unified; do
	for i in $(seq 1 200); do
		cp -R "$r/$h/$a" "$r/$h/system.slice/docker-$(id "$i").scope"
	done
	rm -rf "${r:?}/$h/kubepods" "${r:?}/$h/$a"
done

printf '%-12s %6s %10s %10s %10s %10s\n' tree nodes "median us" "p90 us" \
    "max us" "bytes"
for t in docker-v2 kubepods-v2 docker-v1; do
	case $t in kubepods-v2) nodes=250 ;; *) nodes=200 ;; esac
	out=$("$ct" -n 200 -w 10 -p "cgroup_root=$tmp/$t" \
	    -p "proc_root=$tmp/no-proc" "$so")
	set -- $out
	printf '%-12s %6s %10s %10s %10s %10s\n' "$t" "$nodes" \
	    "${3#median_us=}" "${4#p90_us=}" "${5#max_us=}" "${6#bytes=}"
done
echo "target: one collect over 200 containers under 5000 us of CPU (issue 13)"
