#!/usr/bin/env python3
"""The request-path contract (issue 11, scope-plugin-host(8) "REQUEST
PATH"): whatever a module does, every request on its socket gets a
complete, valid HTTP reply within Scope's 500 ms -- a report, or a 503
whose status line and JSON body say why -- and a healthy module beside it
loses no poll.  Also: concurrent polls share one collect (issue 14).

Usage: contract.py --builddir DIR [--only SUBSTRING]
Prints one ok/FAIL line per test and "N passed, N failed".

Each fault runs with a probe-like client on the faulty module and one on
a healthy module, both polling over kept-alive connections as Scope's
probe does (reconnecting only after a reply that closed the connection).
The probe's own timeout is 500 ms, and the clients use it: a reply later
than that is a failed poll, as it is for Scope.  The hosts run with
--deadline 300, so the bound holds with room for a busy machine; under the
sanitizers (SPH_TEST_SANITIZED=1) the clients wait 10 s and only the
replies' completeness is asserted.  Every wait is for a state or a count,
bounded in time; the figures measured are printed.
"""
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import integration as it  # noqa: E402
from integration import Conn, Host, check, wait_until  # noqa: E402

SANITIZED = os.environ.get("SPH_TEST_SANITIZED") == "1"
# Scope's probe gives each plugin 500 ms (docs/ARCHITECTURE.md).
PROBE_TIMEOUT = 10.0 if SANITIZED else 0.5
# The sanitizer build's looser limits (SPH_TEST_EXTRA_ARGS) win.
EXTRA = os.environ.get("SPH_TEST_EXTRA_ARGS", "").split() if SANITIZED else []
DEADLINE_MS = int(EXTRA[EXTRA.index("--deadline") + 1]) if "--deadline" in EXTRA else 300
NOTES = []
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def note(fmt, *args):
    NOTES.append(fmt % args)


def host(mods, extra=()):
    args = ["--backoff-min", "50", "--backoff-max", "200",
            "--max-failures", "0"] + EXTRA + ["--deadline", str(DEADLINE_MS)] + list(extra)
    return Host([it.fixture(m) for m in mods], args=args)


class Prober(threading.Thread):
    """Polls one socket like Scope's probe: GET /report every interval on
    a kept-alive connection, PROBE_TIMEOUT each.  A poll fails unless a
    complete HTTP response arrives in time: a valid report (200) or, when
    errors are allowed, an error with a reason (status >= 500 and a JSON
    body with "error")."""

    def __init__(self, path, mid, errors_ok, interval=0.05):
        super().__init__(daemon=True)
        self.path, self.mid, self.errors_ok = path, mid, errors_ok
        self.interval = interval
        self.halt = threading.Event()
        self.ok = self.errors = 0
        self.failures = []
        self.reasons = {}
        self.worst = 0.0
        self.times = []

    def poll(self, conn):
        t0 = time.monotonic()
        st, hd, body = conn.request()
        dt = time.monotonic() - t0
        self.worst = max(self.worst, dt)
        self.times.append(round(dt * 1000))
        if st == 200:
            it.assert_report(body, self.mid, controller=self.mid == "fx-good")
            self.ok += 1
        else:
            doc = json.loads(body)
            check(isinstance(doc.get("error"), str) and doc["error"],
                  "status %d without a reason: %r" % (st, body[:200]))
            check(self.errors_ok, "status %d: %s" % (st, doc["error"]))
            self.errors += 1
            key = doc["error"].split(";")[0][:90]
            self.reasons[key] = self.reasons.get(key, 0) + 1
        return hd.get("connection", "").lower() != "close"

    def run(self):
        conn = None
        while not self.halt.is_set():
            try:
                if conn is None:
                    conn = Conn(self.path, PROBE_TIMEOUT)
                if not self.poll(conn):
                    conn.close()
                    conn = None
            except Exception as e:  # noqa: BLE001 - a failed poll
                self.failures.append(repr(e))
                if conn is not None:
                    conn.close()
                    conn = None
            self.halt.wait(self.interval)
        if conn is not None:
            conn.close()

    def finish(self, what):
        self.halt.set()
        self.join(30)
        check(not self.failures, "%s: %d failed polls of %d, first %r" %
              (what, len(self.failures), self.ok + self.errors + len(self.failures),
               self.failures[:3]))
        check(self.ok > 0, "%s: no report at all" % what)


def worker_pid(h, name):
    """The pid of the worker running <name>.so, or None."""
    for pid in it.children_of(h.proc.pid):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if (name + ".so").encode() in f.read():
                    return pid
        except OSError:
            pass
    return None


def slow_worker_serving(h):
    """The pid of fx-slow's worker, once it answers a report."""
    wait_until(lambda: worker_pid(h, "slow") is not None, 20,
               what="a worker for fx-slow")
    pid = worker_pid(h, "slow")
    wait_until(lambda: it.get(h.sock("fx-slow"), timeout=20)[0] == 200, 20,
               what="fx-slow serving")
    return pid


def count(h, text):
    return h.logtext().count(text)


def fault(mod, mid, extra, provoke, until, what):
    """Polls mid (faulty) and fx-good (healthy) while provoke(h) runs
    until until(h) holds; checks the contract on both."""
    h = host(["good", mod], extra).start(wait_for=["fx-good", mid])
    try:
        healthy = Prober(h.sock("fx-good"), "fx-good", errors_ok=False)
        faulty = Prober(h.sock(mid), mid, errors_ok=True)
        healthy.start()
        faulty.start()
        provoke(h)
        wait_until(lambda: until(h), 30, what=what)
        wait_until(lambda: faulty.errors > 0 and faulty.ok > 0, 30,
                   what="%s: both reports and errors seen" % mid)
        faulty.finish("%s (faulty)" % mid)
        healthy.finish("fx-good beside %s" % mid)
        note("%s: %d reports, %d errors %s, slowest reply %.0f ms; fx-good %d polls, "
             "slowest %.0f ms", mid, faulty.ok, faulty.errors, faulty.reasons,
             faulty.worst * 1000, healthy.ok, healthy.worst * 1000)
        return faulty
    finally:
        h.stop()
        h.cleanup()


def nothing(h):
    pass


def dies_mid_collect(mod, how):
    """The module dies in its third collect of each worker (at=3): the poll
    in flight gets a 503 that says how, not an EOF."""
    mid = "fx-" + mod
    f = fault(mod, mid, ["--param", "%s.at=3" % mid], nothing,
              lambda h: count(h, how) >= 3, "three deaths")
    check(any(how in r for r in f.reasons), "no 503 says %r: %r" % (how, f.reasons))


@test
def crash_mid_collect_answers_the_poll_in_flight():
    dies_mid_collect("crash", "killed by SIGSEGV")


@test
def exit_mid_collect_answers_the_poll_in_flight():
    dies_mid_collect("exit", "exited with status 3")


@test
def sigkill_mid_collect_answers_the_poll_in_flight():
    # Collects take 200 ms (under the deadline): a SIGKILL lands in one.
    kills = []

    def provoke(h):
        def killer():
            for _ in range(3):
                pid = slow_worker_serving(h)
                # A poll of our own, in flight when the worker dies.
                c = Conn(h.sock("fx-slow"), 20)
                c.send_raw(b"GET /report HTTP/1.1\r\nHost: plugin\r\n\r\n")
                time.sleep(0.05)
                os.kill(pid, signal.SIGKILL)
                st, _, body = c.read_response()
                c.close()
                wait_until(lambda: worker_pid(h, "slow") not in (None, pid), 20,
                           what="fx-slow restarted")
                kills.append((st, body))
        threading.Thread(target=killer, daemon=True).start()

    f = fault("slow", "fx-slow", ["--param", "fx-slow.sleep-ms=200"], provoke,
              lambda h: len(kills) >= 3, "three SIGKILLs")
    for st, body in kills:
        check(st == 503 and b"killed by SIGKILL" in body,
              "poll in flight at SIGKILL: %d %r" % (st, body[:200]))
    check(any("SIGKILL" in r for r in f.reasons) or kills, "no SIGKILL reason")


@test
def hung_collect_answered_at_the_deadline_then_restarted():
    f = fault("hang", "fx-hang", ["--param", "fx-hang.at=3"], nothing,
              lambda h: count(h, "collect did not finish within") >= 2, "two hangs")
    check(any("did not finish within %d ms" % DEADLINE_MS in r for r in f.reasons),
          "no 503 names the deadline: %r" % f.reasons)


def provoke_stop(h, stopped):
    """SIGSTOPs fx-slow's worker twice, each time once it serves."""
    def stopper():
        for _ in range(2):
            pid = slow_worker_serving(h)
            os.kill(pid, signal.SIGSTOP)
            stopped.append(pid)
            wait_until(lambda: not it.pid_alive(pid), 20,
                       what="the stopped worker killed")
    threading.Thread(target=stopper, daemon=True).start()


@test
def stopped_worker_noticed_answered_and_restarted():
    stopped = []
    f = fault("slow", "fx-slow", ["--param", "fx-slow.sleep-ms=1"],
              lambda h: provoke_stop(h, stopped),
              lambda h: len(stopped) >= 2 and count(h, "worker not responding") >= 2,
              "two stopped workers replaced")
    check(any("not responding" in r for r in f.reasons),
          "no 503 names the stop: %r" % f.reasons)


@test
def stop_and_continue_without_a_request_costs_nothing():
    # A worker stopped and continued while nothing waits (a debugger, a
    # job-control ^Z) is not restarted, and serves on as before; stopped
    # for less than the deadline while polled, it answers late, not 503.
    h = host(["good"])
    h.start(wait_for=["fx-good"])
    try:
        pid = worker_pid(h, "good")
        os.kill(pid, signal.SIGSTOP)
        wait_until(lambda: it.proc_state(pid) == "T", 10, what="worker stopped")
        time.sleep(0.05)
        os.kill(pid, signal.SIGCONT)
        wait_until(lambda: it.proc_state(pid) != "T", 10, what="worker continued")
        p = Prober(h.sock("fx-good"), "fx-good", errors_ok=False)
        p.start()
        wait_until(lambda: p.ok >= 5, 30, what="five reports after SIGCONT")
        for _ in range(3):
            os.kill(pid, signal.SIGSTOP)
            time.sleep(DEADLINE_MS / 3000.0)
            os.kill(pid, signal.SIGCONT)
            n = p.ok
            wait_until(lambda: p.ok >= n + 3, 30, what="reports after a short stop")
        p.finish("fx-good stopped for a third of the deadline")
        check(worker_pid(h, "good") == pid, "the worker was restarted")
        check(count(h, "not responding") == 0, "a stop was taken for a hang:\n" +
              h.logtext()[-1000:])
        note("stopped and continued: %d reports, slowest %.0f ms, same worker",
             p.ok, p.worst * 1000)
    finally:
        h.stop()
        h.cleanup()


@test
def collects_past_the_busy_alarm_answered_by_the_worker():
    # Collects of 60 ms: each one sounds the worker's busy alarm (10 ms)
    # and the supervisor watches; two probers on the module, so requests
    # also arrive during collects.  Every poll gets its report, none a 503,
    # and the worker is never restarted.
    h = host(["good", "slow"], ["--param", "fx-slow.sleep-ms=60"])
    h.start(wait_for=["fx-good", "fx-slow"])
    try:
        pid = worker_pid(h, "slow")
        probers = [Prober(h.sock("fx-slow"), "fx-slow", errors_ok=False, interval=0.02)
                   for _ in range(2)]
        healthy = Prober(h.sock("fx-good"), "fx-good", errors_ok=False)
        for p in probers + [healthy]:
            p.start()
        wait_until(lambda: min(p.ok for p in probers) >= 15, 60,
                   what="fifteen slow reports on each connection")
        for i, p in enumerate(probers):
            p.finish("fx-slow prober %d" % i)
        healthy.finish("fx-good beside fx-slow")
        check(worker_pid(h, "slow") == pid, "the slow worker was restarted:\n" +
              h.logtext()[-1000:])
        note("60 ms collects: %d reports, slowest %.0f ms, no 503",
             sum(p.ok for p in probers), max(p.worst for p in probers) * 1000)
    finally:
        h.stop()
        h.cleanup()


@test
def interval_collect_past_its_deadline_restarts_the_worker():
    # A background collect that overruns its own deadline cannot be
    # cancelled: the supervisor, woken by the busy alarm, kills the worker;
    # polls meanwhile are answered from the cache.
    h = host(["good", "slow"], ["--set", "fx-slow.interval=100",
                                "--param", "fx-slow.sleep-ms=%d" % (DEADLINE_MS * 3),
                                "--param", "fx-slow.at=3"])
    h.start(wait_for=["fx-good", "fx-slow"])
    try:
        pid = worker_pid(h, "slow")
        cached = Prober(h.sock("fx-slow"), "fx-slow", errors_ok=True)
        cached.start()
        wait_until(lambda: count(h, "collect did not finish within") >= 1, 30,
                   what="the overrunning background collect killed")
        wait_until(lambda: worker_pid(h, "slow") not in (None, pid), 30,
                   what="fx-slow restarted")
        cached.finish("fx-slow (interval, overrunning)")
    finally:
        h.stop()
        h.cleanup()


@test
def slow_collect_answered_at_the_deadline_then_restarted():
    # Collects of 1.5 deadlines: every poll answered at the deadline, the
    # worker restarted (a collect is never cancelled).
    f = fault("slow", "fx-slow", ["--param", "fx-slow.sleep-ms=%d" % (DEADLINE_MS * 3 // 2),
                                  "--param", "fx-slow.at=3"], nothing,
              lambda h: count(h, "collect did not finish within") >= 2, "two slow collects")
    check(any("did not finish within %d ms" % DEADLINE_MS in r for r in f.reasons),
          "no 503 names the deadline: %r" % f.reasons)


@test
def interval_module_slow_collect_never_delays_a_poll():
    # An interval module's background collect may take longer than a
    # request's deadline (its own deadline is longer): the reports come
    # from the cache at once, never a 503.
    h = host(["good", "slow"], ["--set", "fx-slow.interval=100",
                                "--param", "fx-slow.sleep-ms=%d" % (DEADLINE_MS * 3 // 2),
                                "--param", "fx-slow.at=2",
                                "--set", "fx-slow.deadline=%d" % (DEADLINE_MS * 10)])
    h.start(wait_for=["fx-good", "fx-slow"])
    try:
        pid = worker_pid(h, "slow")
        healthy = Prober(h.sock("fx-good"), "fx-good", errors_ok=False)
        cached = Prober(h.sock("fx-slow"), "fx-slow", errors_ok=False)
        healthy.start()
        cached.start()
        wait_until(lambda: cached.ok >= 20, 60, what="twenty cached reports")
        cached.finish("fx-slow (interval)")
        healthy.finish("fx-good beside fx-slow")
        check(worker_pid(h, "slow") == pid, "the interval worker was restarted")
        note("interval module with %d ms collects: %d polls answered from the cache, "
             "slowest %.0f ms", DEADLINE_MS * 3 // 2, cached.ok, cached.worst * 1000)
    finally:
        h.stop()
        h.cleanup()


def fixture_count(body):
    doc = json.loads(body)
    node = next(iter(doc["Host"]["nodes"].values()))
    return node["metrics"]["fixture_count"]["samples"][0]["value"]


def concurrent_polls(mod, n=8):
    """One poll starts a 300 ms collect; n more arrive during it.  Returns
    the first poll's collect number and the n others'."""
    mid = "fx-" + mod
    h = host([mod])
    started = os.path.join(h.dir, "started")
    # Collects long enough for n requests to arrive during one.
    h.args += ["--param", "%s.sleep-ms=400" % mid, "--set", "%s.deadline=30000" % mid,
               "--deadline", "20000", "--param", "%s.started-file=%s" % (mid, started)]
    h.start(wait_for=[mid])
    try:
        conns = [Conn(h.sock(mid), 60) for _ in range(n + 1)]
        os.unlink(started)
        conns[0].send_raw(b"GET /report HTTP/1.1\r\nHost: plugin\r\n\r\n")
        wait_until(lambda: os.path.exists(started), 30, step=0.005,
                   what="the first collect running")
        for c in conns[1:]:
            c.send_raw(b"GET /report HTTP/1.1\r\nHost: plugin\r\n\r\n")
        replies = [c.read_response() for c in conns]
        for c in conns:
            c.close()
        for st, _, body in replies:
            check(st == 200, "status %d: %r" % (st, body[:200]))
        counts = [fixture_count(b) for _, _, b in replies]
        return counts[0], counts[1:]
    finally:
        h.stop()
        h.cleanup()


@test
def concurrent_polls_share_one_collect_never_an_older_one():
    first, rest = concurrent_polls("slow")
    # Each reply is from a collect that started after its request: the
    # polls sent during the first collect are not answered by it.
    check(all(c > first for c in rest), "a reply older than its request: first %d, "
          "others %r" % (first, rest))
    check(len(set(rest)) == 1, "%d polls took %d collects: %r" % (len(rest), len(set(rest)), rest))
    note("coalescing: %d concurrent polls answered by one collect (#%d; the poll before "
         "them by #%d)", len(rest), rest[0], first)


@test
def per_request_flag_keeps_one_collect_per_poll():
    first, rest = concurrent_polls("perreq", n=3)
    check(sorted(rest) == list(range(first + 1, first + 1 + len(rest))),
          "per-request module shared collects: first %d, others %r" % (first, rest))


def main():
    rc = it.run_tests(TESTS, ())
    for n in NOTES:
        print("# " + n)
    return rc


if __name__ == "__main__":
    sys.exit(main())
