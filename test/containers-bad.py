#!/usr/bin/env python3
"""The containers module against hostile cgroup trees.

Usage: containers-bad.py --builddir DIR

Builds trees in a private temporary directory and runs the module with
test/modrun (and, for 10 000 cgroups, under scope-plugin-host with its
collect deadline): truncated and garbage files, ids of the wrong length,
symlink loops and symlinked cgroups, a file where a directory belongs,
nesting deeper than the walk goes, an empty hierarchy, a missing root,
static pods (a uid no Scope Pod node has).
Every report must parse and hold only what can be derived; nothing may
crash; an unreadable file is logged once, not per collect.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from containers_host import Host, latest  # noqa: E402

FAILS = []


def check(cond, what):
    print("%s: %s" % ("ok" if cond else "FAIL", what))
    if not cond:
        FAILS.append(what)


def w(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def hexid(c, n=64):
    return (c * n)[:n]


def modrun(builddir, root, ncollect=1, extra=()):
    so = os.path.join(builddir, "plugins", ".libs", "containers.so")
    cmd = [os.path.join(builddir, "test", "modrun"), "-a", "-n", str(ncollect),
           "-p", "cgroup_root=%s" % root, "-r", os.path.join(root, "no-proc")]
    cmd += list(extra) + [so]
    env = dict(os.environ, SCOPE_HOSTNAME="node-a")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                       env=env)
    docs = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    return r.returncode, docs, r.stderr


def containers(doc):
    return doc.get("Container", {}).get("nodes", {})


def build_garbage(root):
    w(root + "/cgroup.controllers", "cpu memory io pids\n")
    s = root + "/system.slice"
    # Truncated mid-line and garbage in every file the module reads.
    t = s + "/docker-%s.scope" % hexid("a")
    w(t + "/cpu.max", "50000")                      # no period
    w(t + "/cpu.stat", "nr_periods 10\nnr_thr")      # cut short
    w(t + "/memory.max", "12ab\n")
    w(t + "/memory.current", "")
    w(t + "/memory.stat", b"\xff\xfe\x00inactive_file \x80\x81\n")
    w(t + "/memory.events", "oom_kill")
    w(t + "/io.stat", "8:0 rbytes=99999999999999999999999 wbytes=12")
    w(t + "/pids.current", "-5\n")
    w(t + "/pids.max", "\x00\x00")
    w(t + "/cpu.pressure", "some avg10=nan avg60=0 avg300=0 total=0\n")
    w(t + "/memory.pressure", "some avg10=1e308 avg60=0 avg300=0 total=0\n")
    w(t + "/io.pressure", "some avg10=-3 avg60=0\n")
    # Plausible but hostile values.
    g = s + "/docker-%s.scope" % hexid("b")
    w(g + "/cpu.max", "0 0\n")                      # period 0
    w(g + "/memory.max", "18446744073709551615\n")
    w(g + "/memory.current", "18446744073709551615\n")
    w(g + "/pids.current", "1\n")
    w(g + "/pids.max", "max garbage\n")
    w(g + "/io.stat", "8:0 rbytes=18446744073709551615 wbytes=1\n"
      "8:1 rbytes=18446744073709551615 wbytes=1\n")
    # A file where a directory is expected: unreadable, logged once.
    os.makedirs(s + "/docker-%s.scope/cpu.stat" % hexid("c"))
    w(s + "/docker-%s.scope/cpu.max" % hexid("c"), "10000 100000\n")
    # Ids of the wrong length or alphabet, malformed pods.
    for name in ("docker-%s.scope" % hexid("d", 63),
                 "docker-%s.scope" % hexid("d", 65),
                 "docker-%s.scope" % hexid("D"),
                 "docker-%s.scope" % hexid("g"),
                 "docker-.scope", "docker-", "crio-conmon-%s.scope" % hexid("e"),
                 "libpod-conmon-%s.scope" % hexid("e"),
                 "cri-containerd-%s.scope.scope" % hexid("e"),
                 "kubepods-pod1234.slice", "kubepods-podzzzzzzzz_2222_3333_4444_555555555555.slice",
                 "kubepods-pod11111111-2222-3333-4444-555555555555.slice"):
        w(s + "/" + name + "/cpu.max", "max 100000\n")
    # Symlink loops and a symlinked container: never followed.
    os.symlink(".", s + "/loop")
    os.symlink("..", s + "/up")
    os.symlink(s + "/docker-%s.scope" % hexid("a"),
               s + "/docker-%s.scope" % hexid("f"))
    os.symlink("missing", s + "/dangling")
    # Deeper than the walk goes: found at depth 5, not at depth 30.
    d = root
    for i in range(30):
        d += "/n%d" % i
        if i == 4:
            w(d + "/docker-%s.scope/pids.current" % hexid("1"), "3\n")
    w(d + "/docker-%s.scope/pids.current" % hexid("2"), "4\n")


def test_garbage(builddir, tmp):
    root = os.path.join(tmp, "garbage")
    build_garbage(root)
    rc, docs, err = modrun(builddir, root, ncollect=3)
    check(rc == 0 and len(docs) == 3, "garbage tree: 3 collects, valid "
          "reports (rc %d, stderr %s)" % (rc, err.strip()[-300:]))
    if len(docs) != 3:
        return
    nodes = containers(docs[-1])
    ids = sorted(k.split(";")[0][:1] + "*" for k in nodes)
    check(ids == ["1*", "a*", "b*", "c*"],
          "containers found: a, b, c and the one at depth 5; none with a "
          "bad id, behind a symlink or below the depth limit: %s" % ids)
    a = nodes.get(hexid("a") + ";<container>", {})
    check(set(a.get("latest", {})) <= {"containers_io_read",
                                       "containers_io_write",
                                       "containers_oom_kills"} and
          not a.get("metrics"),
          "truncated/garbage files give no value, no metric: %s"
          % sorted(a.get("latest", {})))
    check(latest(a, "containers_io_read") == "0 B/s",
          "io.stat cut short: its partial line ignored")
    b = nodes.get(hexid("b") + ";<container>", {})
    check(latest(b, "containers_memory_limit") == "none" and
          latest(b, "containers_pids") == "1 (no limit)" and
          latest(b, "containers_cpu_limit") is None and
          latest(b, "containers_io_read") == "0 B/s",
          "period 0, 2^64-1 limit, garbage pids.max, io counters that "
          "would wrap: %s"
          % {k: v["value"] for k, v in b.get("latest", {}).items()})
    c = nodes.get(hexid("c") + ";<container>", {})
    check(latest(c, "containers_cpu_limit") == "0.1 cores" and
          latest(c, "containers_throttled_time") is None,
          "cpu.stat a directory: the other values stay")
    logs = [l for l in err.splitlines() if "cpu.stat" in l]
    check(len(logs) == 1 and "logged once" in logs[0],
          "the unreadable cpu.stat is logged once in 3 collects: %s" % logs)


def test_empty_and_missing(builddir, tmp):
    root = os.path.join(tmp, "empty")
    w(root + "/cgroup.controllers", "")
    rc, docs, err = modrun(builddir, root)
    check(rc == 0 and docs and set(docs[0]) == {"Plugins"},
          "no containers: a valid empty report")
    root = os.path.join(tmp, "nothing")
    os.makedirs(root)
    rc, docs, err = modrun(builddir, root, ncollect=2)
    check(rc == 0 and len(docs) == 2 and
          err.count("no cgroup hierarchy") == 1,
          "no hierarchy at all: empty reports, logged once")
    rc, docs, err = modrun(builddir, os.path.join(tmp, "missing"))
    check(rc != 0 and "cgroup_root" in err and "No such file" in err,
          "a missing cgroup_root fails the collect, saying why: %s"
          % err.strip().replace("\n", " / ")[-200:])


def test_mountinfo(builddir, tmp):
    """v1 hierarchies with names only mountinfo explains."""
    root = os.path.join(tmp, "v1odd")
    cid = hexid("9")
    w(root + "/cpuacct-and-cpu/docker/%s/cpu.cfs_quota_us" % cid, "20000\n")
    w(root + "/cpuacct-and-cpu/docker/%s/cpu.cfs_period_us" % cid, "100000\n")
    w(root + "/mem/docker/%s/memory.limit_in_bytes" % cid, "%d\n" % (3 << 30))
    proc = os.path.join(tmp, "proc")
    w(proc + "/self/mountinfo",
      "30 25 0:26 / %s rw,nosuid - tmpfs tmpfs ro,mode=755\n"
      "31 30 0:27 / %s/cpuacct-and-cpu rw,nosuid shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
      "32 30 0:28 / %s/mem rw,nosuid shared:10 - cgroup cgroup rw,memory\n"
      "33 30 0:29 / %s/cpuset rw - cgroup cgroup rw,cpuset\n"
      "garbage line\n\n- - -\n" % (root, root, root, root))
    so = os.path.join(builddir, "plugins", ".libs", "containers.so")
    r = subprocess.run([os.path.join(builddir, "test", "modrun"), "-p",
                        "cgroup_root=%s" % root, "-r", proc, so],
                       capture_output=True, text=True, timeout=60)
    n = containers(json.loads(r.stdout or "{}")).get(cid + ";<container>", {})
    check(r.returncode == 0 and latest(n, "containers_cpu_limit") == "0.2 cores"
          and latest(n, "containers_memory_limit") == "3 GiB",
          "v1 hierarchies found through mountinfo: %s %s"
          % ({k: v["value"] for k, v in n.get("latest", {}).items()},
             r.stderr.strip()[-200:]))


def test_many(builddir, tmp):
    """10 000 container cgroups: capped, valid, within the deadline."""
    root = os.path.join(tmp, "many")
    w(root + "/cgroup.controllers", "cpu memory\n")
    for i in range(10000):
        d = "%s/system.slice/docker-%064x.scope" % (root, i)
        os.makedirs(d)
        with open(d + "/cpu.max", "w") as f:
            f.write("50000 100000\n")
        with open(d + "/memory.max", "w") as f:
            f.write("max\n")
    host = Host(builddir, tmp, {"cgroup_root": root,
                                "proc_root": root + "/no-proc"})
    try:
        for i in range(2):
            status, doc = host.get()
            n = len(containers(doc or {}))
            check(n == 1000, "10 000 cgroups, poll %d: %s, %d containers "
                  "(max_cgroups 1000), inside the host's deadline"
                  % (i + 1, status, n))
    finally:
        host.stop()
    check(host.logtext().count("reporting the first 1000") == 1,
          "the cap is logged once")


def test_static_pod(builddir, tmp):
    """A static pod (kubelet: uid = 32-hex hash of its manifest, never an
    API uid, so no Scope Pod node has it) under the cgroupfs driver: its
    bare-id containers are still containers, without a pod parent; a
    malformed pod directory elsewhere changes nothing."""
    root = os.path.join(tmp, "static")
    w(root + "/cgroup.controllers", "cpu memory\n")
    h = "0123456789abcdef0123456789abcdef"
    for qos, c in (("", "5"), ("burstable/", "6"), ("besteffort/", "7")):
        pod = "%s/kubepods/%spod%s" % (root, qos, h)
        w(pod + "/cpu.max", "max 100000\n")
        w("%s/%s/cpu.max" % (pod, hexid(c)), "25000 100000\n")
    # A bare id under a "pod..." directory outside kubepods: not a container.
    w("%s/system.slice/pod%s/%s/cpu.max" % (root, h, hexid("8")),
      "25000 100000\n")
    rc, docs, err = modrun(builddir, root)
    doc = docs[0] if docs else {}
    nodes = containers(doc)
    want = sorted(hexid(c) + ";<container>" for c in "567")
    check(rc == 0 and sorted(nodes) == want and
          all(latest(n, "containers_cpu_limit") == "0.25 cores"
              for n in nodes.values()),
          "static pods' containers (cgroupfs driver, every QoS class): %s"
          % sorted(k[:8] for k in nodes))
    check(not any(n.get("parents") for n in nodes.values()) and
          not doc.get("Pod", {}).get("nodes"),
          "no Pod node and no pod parent for a uid Scope cannot have")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builddir", default=".")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="sph-containers-bad.")
    try:
        test_garbage(args.builddir, tmp)
        test_empty_and_missing(args.builddir, tmp)
        test_mountinfo(args.builddir, tmp)
        test_static_pod(args.builddir, tmp)
        test_many(args.builddir, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d failed" % len(FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
