#!/usr/bin/env python3
"""Retake docs/images/containers-details.png: a container's details panel
in the real Scope UI, with values from real cgroups.

Usage (root; Scope's harness; chromium):
  PORT=14045 STATE=/tmp/scope-shot \\
  python3 test/containers-shot.py --builddir _build/plain \\
      --harness ../shared/scope --out docs/images/containers-details.png

Makes a cgroup named like a Docker container (docker-<id>.scope in every
hierarchy, below a private slice) with a CPU limit of a fifth of a core, a
256 MiB memory limit, a PID limit of 100 (and on v1 a write limit of
10 GB/s, see below), and runs in it a busy loop,
a process holding 96 MiB, one allocating past the limit (OOM-killed) and
direct-IO reads and writes.  Serves the containers module on the real
cgroup root, starts the Scope app and probe (chromium refuses some ports,
4045 among them: pick another), waits for the rates and takes the
screenshot.  Everything started is stopped and the cgroups removed.
"""
import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from containers_host import Cgroups, Host, latest, wait_for, write  # noqa: E402

KINDS = ["cpu", "memory", "blkio", "pids", "unified"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builddir", required=True)
    ap.add_argument("--harness", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cgroup-root", default="/sys/fs/cgroup")
    args = ap.parse_args()
    app = os.path.join(args.harness, "scope-app")
    cg = Cgroups(args.cgroup_root, ["cpu", "memory"])
    cid = secrets.token_hex(32)
    rel = "sph-shot-%d.slice/docker-%s.scope" % (os.getpid(), cid)
    tmp = tempfile.mkdtemp(prefix="sph-containers-shot.")
    procs, host = [], None
    try:
        if cg.v2:
            cg.enable(cg.root, ["cpu", "memory", "io", "pids"])
        cg.mkdir(rel.split("/")[0], KINDS)
        if cg.v2:
            cg.enable(os.path.join(cg.root, rel.split("/")[0]),
                      ["cpu", "memory", "io", "pids"])
        cg.mkdir(rel, KINDS)
        if cg.v2:
            write(cg.path("cpu", rel, "cpu.max"), "20000 100000\n")
            write(cg.path("memory", rel, "memory.max"), "%d\n" % (256 << 20))
        else:
            write(cg.path("cpu", rel, "cpu.cfs_quota_us"), "20000\n")
            write(cg.path("memory", rel, "memory.limit_in_bytes"),
                  "%d\n" % (256 << 20))
        if "pids" in cg.hier:
            write(cg.path("pids", rel, "pids.max"), "100\n")
        if not cg.v2 and "blkio" in cg.hier:
            # Newer kernels count v1 blkio.throttle statistics only on a
            # disk with a throttling rule: a generous one for ours.
            st = os.stat(tmp)
            dev = "%d:%d" % (os.major(st.st_dev), os.minor(st.st_dev))
            if os.path.exists("/sys/dev/block/%s/partition" % dev):
                with open("/sys/dev/block/%s/../dev" % dev) as f:
                    dev = f.read().strip()
            write(cg.path("blkio", rel, "blkio.throttle.write_bps_device"),
                  "%s 10000000000\n" % dev)

        def run(cmd, **kw):
            p = subprocess.Popen(cmd, stdin=subprocess.PIPE, **kw)
            cg.join(KINDS, rel, p.pid)
            procs.append(p)
            p.stdin.write(b"go\n")
            p.stdin.flush()
            return p
        py = [sys.executable, "-c"]
        run(py + ["import sys\nsys.stdin.readline()\nwhile True: pass"])
        run(py + ["import sys, time\nsys.stdin.readline()\n"
                  "b = b'x' * (96 << 20)\ntime.sleep(3600)"])
        oom = run(py + ["import sys\nsys.stdin.readline()\n"
                        "b = b'x' * (300 << 20)"])
        oom.wait(timeout=60)
        run(["sh", "-c", "read x; while :; do "
             "dd if=/dev/zero of=%s/io bs=1M count=8 oflag=direct; "
             "dd if=%s/io of=/dev/null bs=1M iflag=direct; sleep 1; done"
             % (tmp, tmp)], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)

        host = Host(args.builddir, tmp, {"cgroup_root": args.cgroup_root})
        env = dict(os.environ)
        subprocess.run([app, "start", host.sockdir], env=env, check=True,
                       timeout=120)
        nid = cid + ";<container>"

        def ready():
            n = host.report().get("Container", {}).get("nodes", {}).get(nid)
            return latest(n, "containers_io_write") not in (None, "0 B/s")
        wait_for("IO rates", ready, 60)
        time.sleep(8)           # the probe's sparklines fill up
        subprocess.run([app, "shot", os.path.abspath(args.out), "containers",
                        nid], env=env, check=True, timeout=180)
        print(args.out)
        return 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        subprocess.run([app, "stop"], env=dict(os.environ), timeout=60)
        if host is not None:
            host.stop()
        cg.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
