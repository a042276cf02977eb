#!/usr/bin/env python3
"""The containers module under the real Scope app and probe.

Usage: containers-interop.py --builddir DIR --srcdir DIR

Finds Scope's test harness as $SCOPE_HARNESS, else ../shared/scope from
the repository root, and skips (77) when it is absent.  Serves the module
on the v2-kubepods fixture tree (Kubernetes pods of each QoS class), runs
the Scope app and probe (scope-app) on that plugins directory with a
private state directory and a free loopback port, and checks what the UI
receives: the plugin is ok, every container and pod of the fixture is
listed, and their details panels carry the module's values, labelled,
each label once.  Stops everything it started.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import shutil

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from containers_host import Host, wait_for  # noqa: E402

FAILS = []

CONTAINERS = {c * 64: pod for c, pod in (
    ("1", "11111111-2222-3333-4444-555555555555"),
    ("2", "11111111-2222-3333-4444-555555555555"),
    ("3", "66666666-7777-8888-9999-aaaaaaaaaaaa"),
    ("4", "bbbbbbbb-cccc-dddd-eeee-ffffffffffff"))}
PODS = sorted(set(CONTAINERS.values()))

# What test/golden-containers-v2-kubepods.test derives, as the UI shows it.
WANT = {
    ("containers", "1" * 64 + ";<container>"): {
        "metadata": {"CPU limit": "1 core", "Memory limit": "256 MiB",
                     "OOM kills": "0", "Throttled for": "800 ms",
                     "IO read": "0 B/s", "IO write": "0 B/s",
                     "IO pressure": "2.5 %", "PIDs": "18 (no limit)"},
        "metrics": {"CPU throttled": 0, "Memory of limit": 50,
                    "CPU pressure": 5, "Memory pressure": 1},
    },
    ("pods", "11111111-2222-3333-4444-555555555555;<pod>"): {
        "metadata": {"CPU limit": "1.5 cores", "Memory limit": "384 MiB",
                     "PIDs": "20 (no limit)", "IO pressure": "2.5 %"},
        "metrics": {"Memory of limit": 50, "CPU pressure": 5},
    },
    # One container (3*64, CPU pressure 40 under a 0.2-core limit): Scope
    # merges a lone container's metrics into its pod; the pod must still
    # show its own (no limit, so no throttling; pressure 0).
    ("pods", "66666666-7777-8888-9999-aaaaaaaaaaaa;<pod>"): {
        "metadata": {"CPU limit": "none", "PIDs": "5 (no limit)",
                     "IO read": "0 B/s"},
        "metrics": {"CPU pressure": 0, "Memory pressure": 0},
        "absent": ["CPU throttled"],
    },
    ("containers", "3" * 64 + ";<container>"): {
        "metadata": {"CPU limit": "0.2 cores", "Memory limit": "none",
                     "Throttled for": "9 s"},
        "metrics": {"CPU pressure": 40, "CPU throttled": 0},
    },
}


def check(cond, what):
    print("%s: %s" % ("ok" if cond else "FAIL", what))
    if not cond:
        FAILS.append(what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builddir", default=".")
    ap.add_argument("--srcdir", default=".")
    args = ap.parse_args()
    harness = os.environ.get("SCOPE_HARNESS") or os.path.join(
        args.srcdir, "..", "shared", "scope")
    if not os.access(os.path.join(harness, "scope-bin"), os.X_OK):
        print("SKIP: no Scope harness at %s (set SCOPE_HARNESS)" % harness)
        return 77
    for tool in ("curl",):
        if shutil.which(tool) is None:
            print("SKIP: %s missing (scope-app needs it)" % tool)
            return 77
    app = os.path.join(harness, "scope-app")
    tmp = tempfile.mkdtemp(prefix="sph-containers-interop.")
    env = dict(os.environ, PORT=str(free_port()),
               STATE=os.path.join(tmp, "state"))
    fixture = os.path.join(args.srcdir, "test", "fixtures", "containers",
                           "v2-kubepods")

    def scope(*a):
        r = subprocess.run([app] + list(a), env=env, capture_output=True,
                           text=True, timeout=120)
        return r.returncode, r.stdout, r.stderr

    host = None
    try:
        host = Host(args.builddir, tmp,
                    {"cgroup_root": os.path.abspath(fixture),
                     "proc_root": os.path.join(tmp, "no-proc")})
        rc, out, err = scope("start", host.sockdir)
        if rc != 0:
            print("FAIL: scope-app start: %s" % (err or out).strip())
            return 1

        def listed(topo, want):
            rc, out, _ = scope("nodes", topo)
            ids = {l.split("\t")[0] for l in out.splitlines()}
            return ids if rc == 0 and want <= ids else None

        try:
            wait_for("the plugin's nodes in the app",
                     lambda: listed("containers", {
                         c + ";<container>" for c in CONTAINERS}) and
                     listed("pods", {p + ";<pod>" for p in PODS}), 60)
            check(True, "the app lists the %d containers and %d pods"
                  % (len(CONTAINERS), len(PODS)))
        except AssertionError as e:
            check(False, str(e))
        rc, out, _ = scope("status")
        check("plugin containers status=ok" in out,
              "Scope shows the plugin ok: %s" % out.strip().splitlines()[-1:])

        for (topo, nid), want in WANT.items():
            def details():
                rc, out, _ = scope("details", topo, nid)
                if rc != 0:
                    return None
                node = json.loads(out)["node"]
                md = {m["label"]: m["value"]
                      for m in node.get("metadata") or []}
                # Rates need a second collect: wait until they are there.
                return node if all(k in md for k in want["metadata"]) \
                    else None
            try:
                node = wait_for("%s details" % nid[:12], details, 30)
            except AssertionError as e:
                check(False, str(e))
                continue
            labels = [m["label"] for m in node.get("metadata") or []] + \
                [m["label"] for m in node.get("metrics") or []]
            md = {m["label"]: m["value"] for m in node["metadata"]}
            mt = {m["label"]: m["value"] for m in node.get("metrics") or []}
            check(len(labels) == len(set(labels)),
                  "%s %s: every label once" % (topo, nid[:12]))
            for k, v in want["metadata"].items():
                check(md.get(k) == v, "%s %s: %s = %r (UI: %r)"
                      % (topo, nid[:12], k, v, md.get(k)))
            for k, v in want["metrics"].items():
                check(mt.get(k) == v, "%s %s: metric %s = %r (UI: %r)"
                      % (topo, nid[:12], k, v, mt.get(k)))
            for k in want.get("absent", []):
                check(k not in mt and k not in md, "%s %s: no %s"
                      % (topo, nid[:12], k))
        rc, out, _ = scope("details", "containers", "1" * 64 + ";<container>")
        parents = {p["id"] for p in json.loads(out)["node"].get("parents")
                   or []} if rc == 0 else set()
        check(PODS[0] + ";<pod>" in parents,
              "a container's details link to its pod")
    finally:
        scope("stop")
        if host is not None:
            host.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d failed" % len(FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
