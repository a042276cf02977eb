#!/usr/bin/env python3
"""Containment tests (issue 11): what a module starts dies with its worker,
shutdown is final, module output is captured and budgeted, truncated files
are refused.  A probe-like client polls a healthy module beside the unruly
one throughout, and every one of its polls must succeed.

Usage: contain.py --builddir DIR [--only SUBSTRING] [--valgrind]
Uses integration.py's host harness.  Every wait is for a state or a count,
bounded; nothing depends on the machine's speed.
"""
import json
import os
import random
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import integration as it  # noqa: E402
from integration import Conn, Host, check, fixture, get, wait_until  # noqa: E402

TESTS = []
VALGRIND_TESTS = set()


def test(valgrind=False):
    """A test of this suite; valgrind: also run under --valgrind (for
    modules that do not crash on purpose)."""
    def add(fn):
        TESTS.append(fn)
        if valgrind:
            VALGRIND_TESTS.add(fn.__name__)
        return fn
    return add


def new_marker():
    return "%08x" % random.getrandbits(32)


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def marked(marker):
    """Live processes that carry marker in their name or environment (the
    unruly fixture's helpers and daemons; the host has it in its command
    line only)."""
    want = marker.encode()
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        stat = read("/proc/%s/stat" % d)
        if not stat or stat.rsplit(b")", 1)[-1].split()[0] == b"Z":
            continue
        if any(want in read("/proc/%s/%s" % (d, f)) for f in ("comm", "environ")):
            out.append(int(d))
    return out


def of_host(hostpid):
    """Live processes with the host's worker marker in their environment."""
    want = ("SCOPE_PLUGIN_HOST_WORKER=%d." % hostpid).encode()
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit() and want in read("/proc/%s/environ" % d):
            stat = read("/proc/%s/stat" % d)
            if stat and stat.rsplit(b")", 1)[-1].split()[0] != b"Z":
                out.append(int(d))
    return out


def descendants(pid):
    kids = it.children_of(pid)
    out = list(kids)
    for k in kids:
        out += descendants(k)
    return out


def unruly_params(marker, **kw):
    args = ["--param", "fx-unruly.marker=%s" % marker]
    for k, v in kw.items():
        args += ["--param", "fx-unruly.%s=%s" % (k.replace("_", "-"), v)]
    return args


class Prober:
    """Scope's probe, in short: polls the healthy module and counts what
    failed.  Polled between the steps of a test, never in a timed loop."""

    def __init__(self, host, mid="fx-good"):
        self.path = host.sock(mid)
        self.mid = mid
        self.polls = self.failed = 0
        self.errors = []

    def poll(self):
        self.polls += 1
        try:
            st, _, body = get(self.path, timeout=5.0)
            it.assert_report(body, self.mid, controller=True)
            if st != 200:
                raise AssertionError("status %d" % st)
        except Exception as e:  # noqa: BLE001 - counted, reported at the end
            self.failed += 1
            self.errors.append(repr(e))

    def assert_clean(self):
        check(self.polls > 0 and self.failed == 0, "healthy module: %d of %d polls failed: %r" % (
            self.failed, self.polls, self.errors[:3]))


def any_reply(path):
    """One poll on the unruly module: any complete reply, or none while it
    is restarting and the socket is gone; returns the status or None."""
    try:
        st, _, _ = get(path, timeout=5.0)
        return st
    except (OSError, it.HTTPError):
        return None


def restarts(h, mid):
    return sum(1 for line in h.logtext().splitlines()
               if ("module %s: worker " % mid) in line and "; restart " in line)


def servings(h, mid):
    return h.logtext().count("module %s: serving /" % mid)


def run_contain(cgroups):
    marker = new_marker()
    args = unruly_params(marker, helpers=2, groups=1, daemons=1, crash_at=1)
    args += ["--backoff-min", "1", "--backoff-max", "50", "--max-failures", "0"]
    if not cgroups:
        args.append("--no-cgroups")
    h = Host([fixture("good"), fixture("unruly")], args=args)
    try:
        h.start(wait_for=["fx-good"])
        hostpid = h.proc.pid
        probe = Prober(h)
        # Each worker starts 4 processes and crashes at its first collect.
        for n in range(1, 4):
            wait_until(lambda: servings(h, "fx-unruly") >= n, 30, what="fx-unruly serving")
            probe.poll()
            any_reply(h.sock("fx-unruly"))  # crashes it: 500 or closed
            wait_until(lambda: restarts(h, "fx-unruly") >= n, 30, what="restart %d" % n)
            probe.poll()
        # The last worker serves with its 4 processes; all the others' are gone.
        wait_until(lambda: servings(h, "fx-unruly") >= 4, 30, what="fx-unruly serving")
        wait_until(lambda: len(marked(marker)) == 4, 30,
                   what="only the live worker's 4 processes (have %r)" % marked(marker))
        probe.poll()
        probe.assert_clean()
        if cgroups and "workers run in cgroups under" not in h.logtext():
            print("     (no cgroup v2 here: process group and marker only)")
        rc = h.stop()
        check(rc == 0, "host exit status %r" % rc)
        left = marked(marker)
        check(not left, "processes of the module left after the host exited: %r" % left)
        check(not of_host(hostpid), "processes with the host's marker left: %r" % of_host(hostpid))
        log = h.logtext()
        check("illegal state transition" not in log, "illegal transition")
    finally:
        h.stop()
        h.cleanup()


@test()
def helpers_groups_daemons_die_with_their_worker_cgroup():
    run_contain(cgroups=True)


@test()
def helpers_groups_daemons_die_with_their_worker_no_cgroup():
    run_contain(cgroups=False)


@test(valgrind=True)
def host_exit_leaves_no_descendant():
    marker = new_marker()
    h = Host([fixture("good"), fixture("unruly")],
             args=unruly_params(marker, helpers=1, groups=1, daemons=2))
    try:
        h.start(wait_for=["fx-good", "fx-unruly"])
        hostpid = h.proc.pid
        wait_until(lambda: len(marked(marker)) == 4, 30, what="the module's 4 processes")
        # Double-forked daemons were re-parented to the host (subreaper).
        check(set(marked(marker)) <= set(descendants(hostpid)),
              "module processes outside the host's tree: %r" % marked(marker))
        rc = h.stop()
        check(rc == 0, "host exit status %r" % rc)
        check(not marked(marker), "left after the host exited: %r" % marked(marker))
        check(not of_host(hostpid), "left with the host's marker: %r" % of_host(hostpid))
        if os.path.isdir("/sys/fs/cgroup/unified") or os.path.isdir("/sys/fs/cgroup"):
            for root in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
                check(not os.path.exists(os.path.join(root, "scope-plugin-host.%d" % hostpid)),
                      "the host's cgroup is left in %s" % root)
    finally:
        h.stop()
        h.cleanup()


@test()
def shutdown_is_final_even_with_a_worker_ignoring_sigterm():
    marker = new_marker()
    args = unruly_params(marker, helpers=1, daemons=1, blockterm=1)
    args += ["--param", "fx-crash.at=1", "--backoff-min", "1", "--backoff-max", "20", "--max-failures", "0",
             "--rescan", "100", "--stop-grace", "1500"]
    h = Host([fixture("good"), fixture("unruly"), fixture("crash"), fixture("interval")], args=args)
    try:
        h.start(wait_for=["fx-good", "fx-unruly", "fx-interval"])
        hostpid = h.proc.pid
        probe = Prober(h)
        probe.poll()
        # The crashing module restarts on a short backoff: timers are armed.
        any_reply(h.sock("fx-crash"))
        wait_until(lambda: restarts(h, "fx-crash") >= 1, 30, what="fx-crash restarted")
        probe.poll()
        probe.assert_clean()
        wait_until(lambda: len(marked(marker)) == 2, 30, what="the unruly module's 2 processes")
        h.signal(signal.SIGTERM)
        h.proc.wait(60)
        rc = h.stop()
        check(rc == 0, "host exit status %r" % rc)
        log = h.logtext()
        check("shutting down" in log, "no shutdown logged")
        after = log[log.index("shutting down"):]
        for bad in ("started worker", ": restart", "; restart ", "serving /", "not started: shutting down",
                    "illegal state transition"):
            check(bad not in after, "%r after SIGTERM:\n%s" % (bad, after[:3000]))
        check("fx-unruly: worker" in after and "killing it" in after,
              "the worker ignoring SIGTERM was not killed at the grace:\n" + after[:3000])
        check(not marked(marker), "left after the host exited: %r" % marked(marker))
        check(not of_host(hostpid), "left with the host's marker: %r" % of_host(hostpid))
    finally:
        h.stop()
        h.cleanup()


@test(valgrind=True)
def module_output_logged_budgeted_never_on_host_stdout():
    # The first collect fits in the burst (1000 lines), the next ones do not.
    noise, polls, longline = 300, 4, 10000
    marker = new_marker()
    h = Host([fixture("good"), fixture("unruly")],
             args=unruly_params(marker, noise=noise, longline=longline, logspam=1500))
    out = os.path.join(h.dir, "host.stdout")
    try:
        # The host's stdout apart from its log (stderr).
        h.log = open(h.logfile, "ab")
        with open(out, "wb") as so:
            h.proc = subprocess.Popen(h.cmd(), stdout=so, stderr=h.log, env=h.env)
        h.wait_serving("fx-good")
        h.wait_serving("fx-unruly")
        probe = Prober(h)
        c = Conn(h.sock("fx-unruly"), timeout=60)
        for _ in range(polls):
            st, _, _ = c.request()
            check(st == 200, "unruly poll: %d" % st)
            probe.poll()
        c.close()
        wait_until(lambda: "lines of output dropped" in h.logtext(), 30, what="a drop count")
        wait_until(lambda: "log lines dropped" in h.logtext(), 30, what="a log drop count")
        probe.assert_clean()
        # How many collects ran (wait_serving's poll was one too).
        exe = os.path.join(it.BUILDDIR, "scope-plugin-host")
        r = subprocess.run([exe, "status", "--json", "--socket-dir", h.sockdir], capture_output=True, text=True,
                           timeout=20)
        collects = {m["file"]: m for m in json.loads(r.stdout)["modules"]}["unruly.so"]["collects"]
        check(collects >= polls, "%d collects" % collects)
        rc = h.stop()
        check(rc == 0, "host exit status %r" % rc)
        check(os.path.getsize(out) == 0, "module output on the host's stdout: %r" % read(out)[:300])
        log = h.logtext()
        lines = log.splitlines()
        # Every line written is either logged or counted as dropped.
        logged = sum(1 for l in lines if "module fx-unruly: stdout: " in l or "module fx-unruly: stderr: " in l)
        dropped = 0
        for l in lines:
            if "module fx-unruly: " in l and " lines of output dropped (" in l:
                dropped += int(l.split("module fx-unruly: ", 1)[1].split()[0])
        written = collects * (2 * noise + 1)
        check(logged + dropped == written, "logged %d + dropped %d != written %d" % (logged, dropped, written))
        check(dropped > 0 and logged > 0, "logged %d, dropped %d" % (logged, dropped))
        check(any("module fx-unruly: stdout: noise stdout 0" in l for l in lines), "stdout line missing")
        check(any("module fx-unruly: stderr: noise stderr 0" in l for l in lines), "stderr line missing")
        cut = [l for l in lines if "stdout: xxxx" in l]
        if cut:
            check("[line cut: " in cut[0] and len(cut[0]) < longline, "long line not cut: %d bytes" % len(cut[0]))
        # The worker's own log lines still arrive, under the module's id.
        check(any("module fx-unruly: fixture: unruly module started" in l for l in lines),
              "the module's sph_log line is missing")
        check(any("module fx-good: serving (interval" in l for l in lines),
              "the worker's own log line is missing")
        log_logged = sum(1 for l in lines if "module fx-unruly: fixture: log line " in l)
        log_dropped = sum(int(l.split("module fx-unruly: ", 1)[1].split()[0]) for l in lines
                          if "module fx-unruly: " in l and " log lines dropped (" in l)
        # The worker's own few lines (debug ones at stop) share the budget.
        extra = log_logged + log_dropped - collects * 1500
        check(0 <= extra <= 5, "log lines: logged %d + dropped %d, %d written" % (
            log_logged, log_dropped, collects * 1500))
    finally:
        h.stop()
        h.cleanup()


@test(valgrind=True)
def truncated_module_refused_once_not_crash_looping():
    h = Host([fixture("good")])
    src = fixture("good")
    size = os.path.getsize(src)
    for name, keep in (("trunc-half.so", size // 2), ("trunc-tail.so", size - 16), ("trunc-head.so", 40)):
        with open(src, "rb") as f:
            data = f.read(keep)
        path = os.path.join(h.moddir, name)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o755)
    try:
        h.start(wait_for=["fx-good"])
        for name in ("trunc-half.so", "trunc-tail.so", "trunc-head.so"):
            h.wait_log("module %s: refused: not a complete shared object" % name)
        exe = os.path.join(it.BUILDDIR, "scope-plugin-host")
        r = subprocess.run([exe, "status", "--json", "--socket-dir", h.sockdir], capture_output=True, text=True,
                           timeout=20)
        mods = {m["file"]: m for m in json.loads(r.stdout)["modules"]}
        for name in ("trunc-half.so", "trunc-tail.so", "trunc-head.so"):
            m = mods[name]
            check(m["state"] == "refused" and "not a complete shared object" in m["last_error"], m)
        # A refusal is final for this version of the file: SIGHUP retries
        # it once more, one more line, and no crash.
        h.signal(signal.SIGHUP)
        for name in ("trunc-half.so", "trunc-tail.so", "trunc-head.so"):
            wait_until(lambda: h.logtext().count("module %s: refused: " % name) == 2, 30,
                       what="the retry's refusal of " + name)
        st, _, _ = get(h.sock("fx-good"))
        check(st == 200, "good module not served")
        h.stop()
        log = h.logtext()
        for name in ("trunc-half.so", "trunc-tail.so", "trunc-head.so"):
            check(log.count("module %s: refused: " % name) == 2, "%s: %d refusals" % (
                name, log.count("module %s: refused: " % name)))
        check("SIGBUS" not in log and "restart 1" not in log, "a crash:\n" + log[-2000:])
    finally:
        h.stop()
        h.cleanup()


if __name__ == "__main__":
    sys.exit(it.run_tests(TESTS, VALGRIND_TESTS))
