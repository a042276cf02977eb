#!/usr/bin/env python3
"""The containers module on the real kernel's cgroups.

Usage: containers-kernel.py --builddir DIR [--cgroup-root /sys/fs/cgroup]

As root, with writable cgroups (v2, or v1 cpu and memory controllers),
creates two cgroups named like Docker's systemd-driver scopes under a
private slice, and serves the containers module with scope-plugin-host:
 - a busy loop under a CPU quota of 10 % of a core: the module must
   report "0.1 cores" and a throttled share well above zero;
 - a process allocating 64 MiB under a 32 MiB memory limit: it is
   OOM-killed, and the module must count the kill.
Every process and cgroup is removed afterwards, also on failure.  Exits
77 (skip) with the reason when this is not possible here.
"""
import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from containers_host import (Cgroups, Host, Skip, latest, metric,  # noqa: E402
                             wait_for, write)

SKIP = 77
MIB = 1 << 20


def node(report, cid):
    return report.get("Container", {}).get("nodes", {}).get(
        "%s;<container>" % cid)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builddir", default=".")
    ap.add_argument("--cgroup-root", default="/sys/fs/cgroup")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("SKIP: needs root to create cgroups")
        return SKIP
    if not os.path.isdir(args.cgroup_root):
        print("SKIP: no cgroup filesystem at %s" % args.cgroup_root)
        return SKIP
    so = os.path.join(args.builddir, "plugins", ".libs", "containers.so")
    host = os.path.join(args.builddir, "scope-plugin-host")
    if not os.path.exists(so) or not os.path.exists(host):
        print("FAIL: %s or %s not built" % (so, host))
        return 99

    try:
        cg = Cgroups(args.cgroup_root, ["cpu", "memory"])
    except Skip as e:
        print("SKIP: %s" % e)
        return SKIP
    procs = []
    tmp = tempfile.mkdtemp(prefix="sph-containers-kernel.")
    hostproc = None
    busy_id, oom_id = secrets.token_hex(32), secrets.token_hex(32)
    slice_ = "sph-test-%d.slice" % os.getpid()
    busy = "%s/docker-%s.scope" % (slice_, busy_id)
    oom = "%s/docker-%s.scope" % (slice_, oom_id)
    try:
        if cg.v2:
            cg.enable(cg.root, ["cpu", "memory"])
        cg.mkdir(slice_, ["cpu", "memory"])
        if cg.v2:
            cg.enable(os.path.join(cg.root, slice_), ["cpu", "memory"])
        # Like a runtime: each container in every hierarchy.
        cg.mkdir(busy, ["cpu", "memory"])
        cg.mkdir(oom, ["cpu", "memory"])
        if cg.v2:
            write(cg.path("cpu", busy, "cpu.max"), "10000 100000\n")
            write(cg.path("memory", oom, "memory.max"), "%d\n" % (32 * MIB))
            swap = cg.path("memory", oom, "memory.swap.max")
            if os.path.exists(swap):
                write(swap, "0\n")
        else:
            write(cg.path("cpu", busy, "cpu.cfs_period_us"), "100000\n")
            write(cg.path("cpu", busy, "cpu.cfs_quota_us"), "10000\n")
            write(cg.path("memory", oom, "memory.limit_in_bytes"),
                  "%d\n" % (32 * MIB))
            memsw = cg.path("memory", oom, "memory.memsw.limit_in_bytes")
            if os.path.exists(memsw):
                write(memsw, "%d\n" % (32 * MIB))

        # Serve the module on the real cgroup root and /proc.
        hostproc = Host(args.builddir, tmp,
                        {"cgroup_root": args.cgroup_root})

        p = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        procs.append(p)
        cg.join(["cpu"], busy, p.pid)
        hostproc.report()       # the first collect: counters, no rates

        def throttled():
            n = node(hostproc.report(), busy_id)
            v = metric(n, "containers_cpu_throttled")
            return n if v is not None and v > 50 else None
        n = wait_for("throttling above 50 %", throttled, 30)
        assert latest(n, "containers_cpu_limit") == "0.1 cores", n
        print("ok: busy loop under 10 %% of a core: throttled %.1f %% of "
              "periods, CPU limit %s, throttled time %s"
              % (metric(n, "containers_cpu_throttled"),
                 latest(n, "containers_cpu_limit"),
                 latest(n, "containers_throttled_time")))

        a = subprocess.Popen(
            [sys.executable, "-c", "import sys\nsys.stdin.readline()\n"
             "b = b'x' * (64 << 20)\nprint('not killed')"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        procs.append(a)
        cg.join(["memory"], oom, a.pid)
        out, _ = a.communicate(b"go\n", timeout=60)
        if a.returncode != -signal.SIGKILL:
            raise AssertionError("the allocating process was not OOM-killed "
                                 "(exit %s, %r)" % (a.returncode, out))

        def oom_counted():
            n = node(hostproc.report(), oom_id)
            v = latest(n, "containers_oom_kills")
            return n if v is not None and int(v) >= 1 else None
        n = wait_for("the OOM kill to be counted", oom_counted, 20)
        assert latest(n, "containers_memory_limit") == "32 MiB", n
        print("ok: 64 MiB allocated under a 32 MiB limit: OOM kills %s, "
              "memory limit %s" % (latest(n, "containers_oom_kills"),
                                   latest(n, "containers_memory_limit")))
        return 0
    except Skip as e:
        print("SKIP: %s" % e)
        return SKIP
    except AssertionError as e:
        print("FAIL: %s" % e)
        if hostproc is not None:
            sys.stdout.write(hostproc.logtext()[-3000:])
        return 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        if hostproc is not None:
            hostproc.stop()
        cg.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
