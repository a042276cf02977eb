#!/usr/bin/env python3
"""Integration tests: run scope-plugin-host on private temp directories and
talk to it over its unix sockets exactly as Scope's probe does.

Usage: integration.py --builddir DIR [--only SUBSTRING] [--valgrind]
Prints one line per test and a closing "N passed, N failed" line.
Every wait is bounded; no test needs root or the network.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

BUILDDIR = "."
VALGRIND = False
PROBE_QUERY = "/report?api_version=1&probe_id=5f2a9c"


def fixture(name):
    return os.path.join(BUILDDIR, "test", "fixtures", ".libs", name + ".so")


def plugin(name):
    return os.path.join(BUILDDIR, "plugins", ".libs", name + ".so")


class HTTPError(Exception):
    pass


class Conn:
    """A keep-alive HTTP/1.1 client over a unix socket, probe style."""

    def __init__(self, path, timeout=5.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def request(self, method="GET", target=PROBE_QUERY, body=None, headers=None):
        lines = ["%s %s HTTP/1.1" % (method, target), "Host: plugin",
                 "User-Agent: Go-http-client/1.1"]
        if body is not None:
            lines.append("Content-Length: %d" % len(body))
            lines.append("Content-Type: application/json")
        lines.append("Accept-Encoding: gzip")
        for h in headers or []:
            lines.append(h)
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode()
        if body is not None:
            raw += body if isinstance(body, bytes) else body.encode()
        self.sock.sendall(raw)
        return self.read_response(head_only=(method == "HEAD"))

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise HTTPError("connection closed by server")
        self.buf += chunk

    def read_response(self, head_only=False):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise HTTPError("bad status line %r" % lines[0])
        status = int(parts[1])
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        if status == 100:
            return self.read_response(head_only)
        if "content-length" not in headers:
            raise HTTPError("no Content-Length")
        n = int(headers["content-length"])
        if head_only:
            return status, headers, b""
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body


def get(path, target=PROBE_QUERY, timeout=5.0):
    c = Conn(path, timeout)
    try:
        return c.request("GET", target)
    finally:
        c.close()


def wait_until(pred, timeout=10.0, step=0.02, what="condition"):
    if VALGRIND:
        timeout *= 6
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            r = pred()
            if r:
                return r
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last = e
        time.sleep(step)
    raise AssertionError("timed out after %.1fs waiting for %s (last: %r)" % (timeout, what, last))


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


class Host:
    """A scope-plugin-host on private directories."""

    def __init__(self, modules=(), args=(), env=None, settle=0):
        self.dir = tempfile.mkdtemp(prefix="sph-test-")
        self.moddir = os.path.join(self.dir, "modules")
        self.sockdir = os.path.join(self.dir, "sockets")
        os.mkdir(self.moddir)
        # As root the host refuses group/other-writable modules and module
        # dirs (strict modes): never inherit a permissive umask or source mode.
        os.chmod(self.moddir, 0o755)
        for m in modules:
            self.add(m)
        self.args = list(args)
        self.settle = settle
        self.env = dict(os.environ)
        self.env["SCOPE_HOSTNAME"] = "testhost"
        self.env.update(env or {})
        self.proc = None
        self.logfile = os.path.join(self.dir, "host.log")

    def add(self, src, name=None):
        dst = os.path.join(self.moddir, name or os.path.basename(src))
        tmp = dst + ".tmp"
        shutil.copy(src, tmp)
        os.chmod(tmp, 0o755)
        os.rename(tmp, dst)
        return dst

    def cmd(self, extra=()):
        exe = os.path.join(BUILDDIR, "scope-plugin-host")
        args = self.args + list(extra)
        # Never pick up the machine's scope-plugin-host.conf.
        noconf = [] if "--config" in args else ["--no-config"]
        base = [exe, "--foreground", "--module-dir", self.moddir,
                "--socket-dir", self.sockdir, "--settle", str(self.settle),
                "--log-level", "debug"] + noconf
        # Slow runs (sanitizers, valgrind) need looser limits; a test's own
        # flags come later and win.
        base += os.environ.get("SPH_TEST_EXTRA_ARGS", "").split()
        if VALGRIND:
            base += ["--deadline", "30000", "--start-timeout", "120000", "--memory-limit", "0"]
        base += args
        if VALGRIND:
            base = ["valgrind", "--quiet", "--error-exitcode=99",
                    "--leak-check=full", "--errors-for-leak-kinds=definite",
                    "--trace-children=yes",
                    "--log-file=%s/vg.%%p.log" % self.dir] + base
        return base

    def start(self, extra=(), wait_for=()):
        self.log = open(self.logfile, "ab")
        self.proc = subprocess.Popen(self.cmd(extra), stdout=self.log,
                                     stderr=subprocess.STDOUT, env=self.env)
        for mid in wait_for:
            self.wait_serving(mid)
        return self

    def sock(self, mid):
        return os.path.join(self.sockdir, mid, mid + ".sock")

    def wait_serving(self, mid, timeout=15.0):
        def ok():
            st, _, _ = get(self.sock(mid), timeout=2.0)
            return st == 200
        wait_until(ok, timeout, what="module %s answering 200" % mid)
        # Until the supervisor has read READY, its fallback may still take
        # a new connection and answer "starting": wait for its log line.
        wait_until(lambda: ("module %s: serving " % mid) in self.logtext(), timeout,
                   what="module %s: serving (logged)" % mid)

    def logtext(self):
        with open(self.logfile, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, text, timeout=10.0):
        wait_until(lambda: text in self.logtext(), timeout, what="log %r" % text)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=15.0):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("host did not exit within %ss of SIGTERM" % timeout)
        self.log.close()
        rc = self.proc.returncode
        self.proc = None
        self.check_sanitizers()
        return rc

    def check_sanitizers(self):
        """Any sanitizer or valgrind report from host code, or a module state
        change the supervisor's transition table forbids, fails the test."""
        text = self.logtext()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                       "illegal state transition"):
            if marker in text:
                i = text.index(marker)
                raise AssertionError("%s in host log:\n" % marker.rstrip(":") + text[max(0, i - 200):i + 3000])
        for report in self.valgrind_errors():
            raise AssertionError("valgrind report:\n" + report[:4000])

    def cleanup(self):
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def valgrind_errors(self):
        out = []
        for f in os.listdir(self.dir):
            if f.startswith("vg.") and os.path.getsize(os.path.join(self.dir, f)) > 0:
                with open(os.path.join(self.dir, f)) as fh:
                    out.append(fh.read())
        return out


def children_of(pid):
    """Every live process whose parent is pid (from /proc)."""
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                kids.append(int(d))
        except OSError:
            pass
    return kids


def proc_state(pid):
    """The state letter of pid in /proc (R, S, T, Z...), or None if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def pid_alive(pid):
    return proc_state(pid) not in (None, "Z")


def assert_report(body, mid, controller=False):
    doc = json.loads(body)
    check(isinstance(doc, dict), "report is not an object")
    plugins = doc.get("Plugins")
    check(isinstance(plugins, list) and len(plugins) == 1, "need exactly one Plugins entry: %r" % plugins)
    p = plugins[0]
    check(p.get("id") == mid, "Plugins id %r != %r" % (p.get("id"), mid))
    check(isinstance(p.get("label"), str) and p["label"], "empty label")
    check("description" in p, "no description")
    check(p.get("api_version") == "1", "api_version must be the string \"1\"")
    want = ["reporter", "controller"] if controller else ["reporter"]
    check(p.get("interfaces") == want, "interfaces %r != %r" % (p.get("interfaces"), want))
    return doc


TESTS = []
VALGRIND_TESTS = set()


def test(fn):
    TESTS.append(fn)
    return fn


def valgrind_too(fn):
    """Also run under valgrind: well-behaved modules only (a deliberately
    crashing fixture is a valgrind report by design)."""
    VALGRIND_TESTS.add(fn.__name__)
    return fn


# ---------------------------------------------------------------- issue 2

@test
@valgrind_too
def report_as_probe_sees_it():
    h = Host([fixture("good")]).start(wait_for=["fx-good"])
    try:
        st, hd, body = get(h.sock("fx-good"))
        check(st == 200, "status %d" % st)
        check(hd.get("content-type") == "application/json", "content-type %r" % hd.get("content-type"))
        check(int(hd["content-length"]) == len(body), "content-length mismatch")
        doc = assert_report(body, "fx-good", controller=True)
        check("testhost;<host>" in doc["Host"]["nodes"], "SCOPE_HOSTNAME not honoured")
    finally:
        h.stop()
        h.cleanup()


@test
@valgrind_too
def keep_alive_many_requests_one_connection():
    h = Host([fixture("good")]).start(wait_for=["fx-good"])
    try:
        c = Conn(h.sock("fx-good"))
        for i in range(50):
            st, hd, body = c.request()
            check(st == 200, "request %d: status %d" % (i, st))
            check("close" not in hd.get("connection", ""), "server closed a keep-alive connection")
            doc = json.loads(body)
            check(doc["Host"]["nodes"]["testhost;<host>"]["metrics"]["fixture_count"]["samples"][0]["value"] >= i + 1,
                  "collect not called per request")
        c.close()
    finally:
        h.stop()
        h.cleanup()


@test
@valgrind_too
def query_string_and_host_ignored_other_paths_404_methods_405():
    h = Host([fixture("good")]).start(wait_for=["fx-good"])
    try:
        for target in ["/report", "/report?", "/report?x=1&y", "/report?probe_id=%zz&&api_version=9"]:
            st, _, body = get(h.sock("fx-good"), target)
            check(st == 200, "%s: %d" % (target, st))
            assert_report(body, "fx-good", controller=True)
        c = Conn(h.sock("fx-good"))
        st, _, body = c.request("GET", "/metrics")
        check(st == 404 and "error" in json.loads(body), "404 with a JSON body expected, got %d" % st)
        st, hd, body = c.request("POST", "/report", body="{}")
        check(st == 405 and "error" in json.loads(body), "405 expected, got %d" % st)
        check("GET" in hd.get("allow", ""), "405 without Allow")
        st, hd, body = c.request("DELETE", "/report")
        check(st == 405, "DELETE: %d" % st)
        st, hd, body = c.request("HEAD", "/report")
        check(st == 200 and int(hd["content-length"]) > 0, "HEAD: %d" % st)
        st, _, body = c.request()  # connection still usable after all that
        check(st == 200, "after errors: %d" % st)
        c.close()
        # A reporter-only module has no /control.
        h.add(fixture("interval"))
        h.wait_serving("fx-interval")
        st, _, _ = Conn(h.sock("fx-interval")).request("POST", "/control", body="{}")
        check(st == 404, "POST /control on a reporter: %d" % st)
    finally:
        h.stop()
        h.cleanup()


FAULTS = {
    "nan": "yajl_gen_double: invalid number",
    "badutf8": "yajl_gen_string: invalid UTF-8",
    "plugins": "\"Plugins\" key",
    "unbalanced": "unbalanced",
    "fail": "collect returned -1",
    "keyonly": "key without a value",
    "badnumber": "yajl_gen_number: invalid number",
}


@test
@valgrind_too
def module_faults_give_500_with_json_and_worker_keeps_serving():
    h = Host([fixture(k) for k in FAULTS] + [fixture("good")]).start(wait_for=["fx-good"])
    try:
        for kind, text in FAULTS.items():
            mid = "fx-" + kind
            # Until its worker is ready the supervisor answers 503 "starting".
            wait_until(lambda: get(h.sock(mid))[0] == 500, what="worker of " + mid)
            c = Conn(h.sock(mid))
            for i in range(3):
                st, hd, body = c.request()
                check(st == 500, "%s: status %d" % (kind, st))
                err = json.loads(body)
                check(mid in err["error"] and text in err["error"],
                      "%s: error %r lacks %r" % (kind, err["error"], text))
                check(err.get("module") == mid, "%s: module field" % kind)
            c.close()
        st, _, body = get(h.sock("fx-good"))
        check(st == 200, "good module affected")
    finally:
        h.stop()
        h.cleanup()


REFUSALS = {
    "abi": "ABI version 2.0 not supported",
    "badid": "not a valid Scope plugin id",
    "nolabel": "label is empty",
    "nocollect": "no collect callback",
    "nosym": "symbol sph_module_descriptor not found",
    "initfail": "init failed",
    "ctorcrash": "",
}
# A constructor that crashes is not a refusal but a crash: see its own test.
del REFUSALS["ctorcrash"]


@test
def refused_modules_are_logged_once_and_shown_on_a_socket():
    mods = [fixture(k) for k in REFUSALS] + [fixture("good")]
    h = Host(mods)
    h.add(fixture("dup"), "zz-dup.so")  # scanned after good.so: it loses
    with open(os.path.join(h.moddir, "notelf.so"), "w") as f:
        f.write("this is not an ELF file\n")
    h.start(wait_for=["fx-good"])
    try:
        def refusal_line(kind):
            for line in h.logtext().splitlines():
                if "module %s.so: refused: " % kind in line:
                    return line
            return None
        for kind, text in REFUSALS.items():
            line = wait_until(lambda: refusal_line(kind), what="refusal of " + kind)
            check(text in line, "%s: %r lacks %r" % (kind, line, text))
        h.wait_log("module notelf.so: refused: not an ELF file")
        h.wait_log("module zz-dup.so: refused: id \"fx-good\" is already served by")
        # One line per refusal, not a storm.
        time.sleep(0.5)
        log = h.logtext()
        for kind, text in REFUSALS.items():
            if text:
                n = log.count("module %s.so: refused" % kind)
                check(n == 1, "%s refused %d times in the log" % (kind, n))
        # Each refused file shows its refusal on a socket named after the
        # file (test/failures.py covers what it answers).
        entries = sorted(e for e in os.listdir(h.sockdir) if not e.startswith("."))
        want = sorted(["fx-good", "notelf", "zz-dup"] + list(REFUSALS))
        check(entries == want, "socket dirs %r, expected %r" % (entries, want))
        for kind in REFUSALS:
            st, _, body = get(h.sock(kind))
            check(st == 503 and REFUSALS[kind] in json.loads(body)["error"], "%s: %d %r" % (kind, st, body))
        st, _, _ = get(h.sock("fx-good"))
        check(st == 200, "good module not served")
    finally:
        h.stop()
        h.cleanup()


@test
def check_mode_verdicts():
    good = Host([fixture("good"), fixture("interval")])
    bad = Host([fixture("good"), fixture("nan"), fixture("abi"), fixture("crash")])
    bad.add(fixture("dup"), "zz-dup.so")
    try:
        r = subprocess.run(good.cmd(["--check"]), capture_output=True, text=True, timeout=60, env=good.env)
        check(r.returncode == 0, "good --check exit %d: %s %s" % (r.returncode, r.stdout, r.stderr))
        check("ok   good.so fx-good" in r.stdout, r.stdout)
        check(not os.path.exists(os.path.join(good.sockdir, "fx-good")), "--check must not create sockets")
        r = subprocess.run(bad.cmd(["--check", "--param", "fx-crash.at=1"]), capture_output=True, text=True,
                           timeout=60, env=bad.env)
        check(r.returncode == 1, "bad --check exit %d" % r.returncode)
        out = r.stdout
        check("FAIL nan.so" in out and "invalid number" in out, out)
        check("FAIL abi.so" in out and "ABI version" in out, out)
        check("FAIL crash.so" in out and "signal 11" in out, out)
        check("FAIL good.so" not in out and "ok   good.so" in out, out)
        check("FAIL zz-dup.so" in out and "already used by good.so" in out, out)
    finally:
        good.cleanup()
        bad.cleanup()


@test
@valgrind_too
def sigterm_removes_sockets_and_subdirs_and_workers():
    h = Host([fixture("good"), fixture("interval"), fixture("crash")], args=["--param", "fx-crash.at=1"])
    h.start(wait_for=["fx-good", "fx-interval"])
    try:
        kids = children_of(h.proc.pid)
        check(len(kids) >= 2, "expected workers, got %r" % kids)
        rc = h.stop()
        check(rc == 0, "exit code %r" % rc)
        left = [e for e in os.listdir(h.sockdir) if not e.startswith(".")]
        check(left == [], "left behind: %r" % left)
        check(os.path.isdir(h.sockdir), "socket dir itself must stay")
        wait_until(lambda: not any(pid_alive(k) for k in kids), 5, what="workers gone")
    finally:
        h.cleanup()


@test
def probe_style_poll_loop_never_fails():
    """Like the probe: one connection, poll; each reply complete and valid."""
    h = Host([fixture("good")]).start(wait_for=["fx-good"])
    try:
        c = Conn(h.sock("fx-good"))
        for _ in range(200):
            st, _, body = c.request()
            check(st == 200, "status %d" % st)
            assert_report(body, "fx-good", controller=True)
        c.close()
    finally:
        h.stop()
        h.cleanup()


@test
def huge_report_delivered_whole_and_over_50mib_refused():
    h = Host([fixture("huge")], args=["--deadline", "5000"]).start(wait_for=["fx-huge"])
    try:
        st, hd, body = get(h.sock("fx-huge"), timeout=20)
        check(st == 200 and len(body) == int(hd["content-length"]) > 7000000, "huge: %d %d" % (st, len(body)))
        assert_report(body, "fx-huge")
        h.stop()
        h.args = ["--deadline", "20000", "--param", "fx-huge.nodes=300000"]
        h.start()
        wait_until(lambda: get(h.sock("fx-huge"), timeout=60)[0] != 503, what="worker ready")
        st, _, body = get(h.sock("fx-huge"), timeout=60)
        check(st == 500 and "larger than Scope's limit of 50 MiB" in json.loads(body)["error"],
              "over 50 MiB: %d %r" % (st, body[:300]))
    finally:
        h.stop()
        h.cleanup()


# ---------------------------------------------------------------- issue 3

@test
def crash_restarts_with_backoff_and_error_reply_while_down():
    h = Host([fixture("crash"), fixture("good")],
             args=["--param", "fx-crash.at=2", "--backoff-min", "300"]).start(wait_for=["fx-crash", "fx-good"])
    try:
        first_pid = None
        # Second collect crashes the worker.
        try:
            get(h.sock("fx-crash"))
        except (HTTPError, OSError):
            pass
        h.wait_log("module fx-crash: worker")
        # While down: an immediate 503 with a JSON reason, never silence.
        t0 = time.monotonic()
        st, _, body = get(h.sock("fx-crash"), timeout=1.0)
        check(time.monotonic() - t0 < 0.5, "error reply was slow")
        err = json.loads(body)
        check(st == 503 and "SIGSEGV" in err["error"] and "restarting in" in err["error"],
              "down reply: %d %r" % (st, err))
        # Comes back (first collect of the new worker succeeds).
        h.wait_serving("fx-crash")
        check("restart 1 in 300 ms" in h.logtext(), "backoff not logged")
        del first_pid
    finally:
        h.stop()
        h.cleanup()


@test
def exit_ex_config_while_starting_is_a_refusal():
    # A worker that exits with EX_CONFIG (78) before READY and sends no
    # refusal: the module is refused, once, and not restarted.  (Under ASan
    # this also caught a use after free in the supervisor's reason text.)
    h = Host([fixture("exit"), fixture("good")],
             args=["--param", "fx-exit.exit-in-init=78", "--backoff-min", "50"])
    h.start(wait_for=["fx-good"])
    try:
        h.wait_log("module exit.so: refused: refused by the worker")
        exe = os.path.join(BUILDDIR, "scope-plugin-host")
        r = subprocess.run([exe, "status", "--json", "--socket-dir", h.sockdir], capture_output=True, text=True,
                           timeout=20)
        mods = {m["file"]: m for m in json.loads(r.stdout)["modules"]}
        e = mods["exit.so"]
        check(e["state"] == "refused" and e["last_error"] == "refused by the worker" and e["restarts"] == 0, e)
        # The SIGUSR1 dump agrees, and the refusal was logged once.
        h.signal(signal.SIGUSR1)
        h.wait_log("status: fx-exit file=exit.so state=refused")
        check(h.logtext().count("module exit.so: refused") == 1, "refused more than once")
    finally:
        h.stop()
        h.cleanup()


@test
def abort_and_exit_are_crashes_too():
    h = Host([fixture("abort"), fixture("exit"), fixture("ctorcrash")],
             args=["--param", "fx-abort.at=2", "--param", "fx-exit.at=2", "--backoff-min", "50"])
    h.start(wait_for=["fx-abort", "fx-exit"])
    try:
        for mid, how in (("fx-abort", "killed by SIGABRT (6)"), ("fx-exit", "exited with status 3")):
            try:
                get(h.sock(mid))
            except (HTTPError, OSError):
                pass
            h.wait_log("module %s: worker" % mid)
            check(how in h.logtext(), "%s: %r not logged" % (mid, how))
            h.wait_serving(mid)  # restarted, first collect fine again
        # A constructor that crashes takes only its own worker down, over and over.
        wait_until(lambda: h.logtext().count("module ctorcrash.so: worker") >= 2, what="ctorcrash restarts")
        check("killed by SIGSEGV" in h.logtext(), "constructor crash not reported")
    finally:
        h.stop()
        h.cleanup()


@test
def crash_loop_does_not_disturb_neighbour_1000_polls():
    h = Host([fixture("crash"), fixture("good")],
             args=["--param", "fx-crash.at=1", "--backoff-min", "10", "--backoff-max", "50",
                   "--max-failures", "0"]).start(wait_for=["fx-good"])
    try:
        c = Conn(h.sock("fx-good"))
        crash_replies = 0

        def crashes():
            return h.logtext().count("module fx-crash: worker")
        # 1000 polls, and on until the crasher has crashed three times: a
        # fast machine gets through 1000 polls within one backoff delay.
        deadline = time.monotonic() + 30
        i = 0
        while i < 1000 or (crashes() < 3 and time.monotonic() < deadline):
            st, _, body = c.request()
            check(st == 200, "poll %d of the good module: %d" % (i, st))
            if i % 50 == 0:
                try:
                    st2, _, _ = get(h.sock("fx-crash"), timeout=1.0)
                    crash_replies += st2 == 503
                except (HTTPError, OSError):
                    pass
            i += 1
        c.close()
        check(crashes() >= 3, "the crasher was not restarted repeatedly")
        check(crash_replies > 0, "never saw the crasher's 503")
    finally:
        h.stop()
        h.cleanup()


@test
def hung_collect_killed_at_deadline():
    h = Host([fixture("hang"), fixture("good")],
             args=["--param", "fx-hang.at=2", "--deadline", "300", "--backoff-min", "100"])
    h.start(wait_for=["fx-hang", "fx-good"])
    try:
        # The hung poll itself is answered: a 503 that says why.
        st, _, body = get(h.sock("fx-hang"), timeout=30.0)
        check(st == 503, "hung poll answered %d" % st)
        check(b"did not finish within 300 ms" in body, "no reason: %r" % body)
        h.wait_log("collect did not finish within 300 ms")
        h.wait_serving("fx-hang")  # restarted; first collect is fine
        st, _, _ = get(h.sock("fx-good"))
        check(st == 200, "neighbour affected")
    finally:
        h.stop()
        h.cleanup()


@test
def leaking_worker_killed_at_memory_limit():
    h = Host([fixture("leak")], args=["--param", "fx-leak.at=1", "--memory-limit", "150"])
    h.start()
    try:
        wait_until(lambda: os.path.exists(h.sock("fx-leak")), what="socket")
        for _ in range(20):
            try:
                get(h.sock("fx-leak"), timeout=2.0)
            except (HTTPError, OSError):
                pass
            if "over the 150 MiB limit" in h.logtext():
                break
            time.sleep(0.1)
        h.wait_log("over the 150 MiB limit")
    finally:
        h.stop()
        h.cleanup()


@test
def fails_permanently_after_max_failures_until_sighup():
    h = Host([fixture("crash")], args=["--param", "fx-crash.at=1", "--backoff-min", "20",
                                       "--max-failures", "3"]).start()
    try:
        def poke():
            try:
                get(h.sock("fx-crash"), timeout=1.0)
            except (HTTPError, OSError):
                pass
            return "marked failed" in h.logtext()
        wait_until(poke, 15, step=0.05, what="marked failed")
        st, _, body = get(h.sock("fx-crash"))
        check(st == 503 and "failed" in json.loads(body)["error"], "failed reply %d %r" % (st, body))
        n = h.logtext().count("module fx-crash: worker")
        time.sleep(0.5)
        check(h.logtext().count("module fx-crash: worker") == n, "failed module restarted on its own")
        h.signal(signal.SIGHUP)
        h.wait_log("SIGHUP: rescanning")
        wait_until(lambda: h.logtext().count("module fx-crash: serving") >= 4, what="restart after SIGHUP")
    finally:
        h.stop()
        h.cleanup()


@test
@valgrind_too
def hot_add_replace_remove():
    h = Host([fixture("good")]).start(wait_for=["fx-good"])
    try:
        # Add: served within about a second.
        t0 = time.monotonic()
        h.add(fixture("interval"))
        h.wait_serving("fx-interval", timeout=5)
        check(time.monotonic() - t0 < 3.0, "hot add took %.1fs" % (time.monotonic() - t0))
        # Replace by rename: the worker restarts on the new file.
        h.wait_log("module fx-interval: serving")
        before = h.logtext().count("module fx-interval: serving")
        h.add(fixture("interval"), "interval.so")
        wait_until(lambda: h.logtext().count("module fx-interval: serving") > before, 5, what="restart on replace")
        # Remove: worker stopped, socket and subdirectory gone.
        os.unlink(os.path.join(h.moddir, "interval.so"))
        wait_until(lambda: not os.path.exists(os.path.join(h.sockdir, "fx-interval")), 5, what="socket dir removed")
        st, _, _ = get(h.sock("fx-good"))
        check(st == 200, "neighbour affected")
    finally:
        h.stop()
        h.cleanup()


@test
def half_written_module_not_loaded():
    h = Host([fixture("good")], settle=400).start(wait_for=["fx-good"])
    try:
        src = open(fixture("interval"), "rb").read()
        dst = os.path.join(h.moddir, "slow-copy.so")
        with open(dst, "wb") as f:
            f.write(src[:len(src) // 3])
            f.flush()
            time.sleep(0.2)
            f.write(src[len(src) // 3:])
        h.wait_serving("fx-interval", timeout=5)
        check("slow-copy.so: refused" not in h.logtext(), "loaded half a file")
    finally:
        h.stop()
        h.cleanup()


@test
def removed_socket_is_recreated():
    h = Host([fixture("good")], args=["--rescan", "200"]).start(wait_for=["fx-good"])
    try:
        shutil.rmtree(os.path.join(h.sockdir, "fx-good"))
        h.wait_log("was removed; restarting the module on a new one")
        h.wait_serving("fx-good")
        # Even the whole socket directory.
        shutil.rmtree(h.sockdir)
        wait_until(lambda: os.path.exists(h.sock("fx-good")), what="socket recreated with its directory")
        h.wait_serving("fx-good")
        # ... and the lock with it: a second host is still refused.
        r = subprocess.run(h.cmd(), capture_output=True, text=True, timeout=20, env=h.env)
        check(r.returncode != 0 and "another scope-plugin-host" in r.stdout + r.stderr,
              "second host after the directory was recreated: %s" % (r.stdout + r.stderr))
    finally:
        h.stop()
        h.cleanup()


@test
def second_host_on_same_socket_dir_refused():
    h = Host([fixture("good")]).start(wait_for=["fx-good"])
    try:
        r = subprocess.run(h.cmd(), capture_output=True, text=True, timeout=20, env=h.env)
        check(r.returncode != 0, "second host ran")
        check("another scope-plugin-host" in r.stdout + r.stderr, r.stdout + r.stderr)
        st, _, _ = get(h.sock("fx-good"))
        check(st == 200, "first host disturbed")
    finally:
        h.stop()
        h.cleanup()


@test
def sigkill_supervisor_leaves_no_workers_and_restart_cleans_stale():
    h = Host([fixture("good"), fixture("interval")]).start(wait_for=["fx-good", "fx-interval"])
    try:
        kids = children_of(h.proc.pid)
        check(len(kids) == 2, "workers %r" % kids)
        h.proc.kill()
        h.proc.wait()
        wait_until(lambda: not any(pid_alive(k) for k in kids), 5, what="orphans gone")
        # Stale sockets from the dead host; a stranger's file is left alone.
        check(os.path.exists(h.sock("fx-good")), "stale socket expected after SIGKILL")
        os.mkdir(os.path.join(h.sockdir, "other"))
        with open(os.path.join(h.sockdir, "other", "other.sock"), "w") as f:
            f.write("not a socket")
        h.log.close()
        h.start(wait_for=["fx-good", "fx-interval"])
        check(os.path.exists(os.path.join(h.sockdir, "other", "other.sock")), "non-socket removed")
        rc = h.stop()
        check(rc == 0, "rc %r" % rc)
        check(os.path.exists(os.path.join(h.sockdir, "other", "other.sock")), "non-socket removed at exit")
        check(not os.path.exists(os.path.join(h.sockdir, "fx-good")), "socket dir left")
    finally:
        h.cleanup()


@test
@valgrind_too
def concurrent_polls_answered_by_one_collect():
    """Requests read while a collect runs share the next one (issue 14);
    test/contract.py has the faults.  Well-behaved, so valgrind runs it."""
    h = Host([fixture("slow")])
    started = os.path.join(h.dir, "started")
    h.args = ["--param", "fx-slow.sleep-ms=300", "--param", "fx-slow.started-file=" + started,
              "--set", "fx-slow.deadline=60000", "--deadline", "60000"]
    h.start(wait_for=["fx-slow"])
    try:
        conns = [Conn(h.sock("fx-slow"), 60) for _ in range(5)]
        os.unlink(started)
        conns[0].send_raw(b"GET /report HTTP/1.1\r\nHost: plugin\r\n\r\n")
        wait_until(lambda: os.path.exists(started), 60, step=0.005, what="a collect running")
        for c in conns[1:]:
            c.send_raw(b"GET /report HTTP/1.1\r\nHost: plugin\r\n\r\n")
        counts = []
        for c in conns:
            st, _, body = c.read_response()
            check(st == 200, "status %d" % st)
            node = json.loads(body)["Host"]["nodes"]["testhost;<host>"]
            counts.append(node["metrics"]["fixture_count"]["samples"][0]["value"])
            c.close()
        check(len(set(counts[1:])) == 1 and counts[1] > counts[0],
              "4 polls during a collect: collects %r" % counts)
    finally:
        h.stop()
        h.cleanup()


@test
@valgrind_too
def interval_module_serves_cached_report():
    h = Host([fixture("interval")]).start(wait_for=["fx-interval"])
    try:
        def count():
            _, _, body = get(h.sock("fx-interval"))
            return json.loads(body)["Host"]["nodes"]["testhost;<host>"]["metrics"]["fixture_count"]["samples"][0]["value"]
        a = count()
        b = count()
        check(b == a, "collect ran per request in interval mode (%d, %d)" % (a, b))
        wait_until(lambda: count() > a, 3, what="background collect")
    finally:
        h.stop()
        h.cleanup()


@test
def slow_module_warned_and_interval_override_answers_at_once():
    h = Host([fixture("slow")]).start(wait_for=["fx-slow"])
    try:
        h.wait_log("over the 100 ms budget")
        h.stop()
        # The operator sets an interval: the slow collect moves to a
        # background thread and every poll is answered from the cache.
        h.args = ["--set", "fx-slow.interval=200"]
        h.start(wait_for=["fx-slow"])
        # Until its first background collect has finished the worker has
        # nothing cached (503, "no report yet"): wait for that, not a time.
        h.wait_serving("fx-slow")
        c = Conn(h.sock("fx-slow"))
        took = []
        for _ in range(40):
            t0 = time.monotonic()
            st, _, body = c.request()
            took.append(time.monotonic() - t0)
            check(st == 200, "status %d" % st)
            assert_report(body, "fx-slow")
            time.sleep(0.01)
        c.close()
        # The median, not the worst: one poll may lose the CPU to other
        # work on a busy machine; a reply that waited for the collect
        # would take 150 ms every time.
        took.sort()
        check(took[len(took) // 2] < 0.1, "cached replies took a median %.0f ms "
              "(collect takes 150 ms)" % (took[len(took) // 2] * 1000))
    finally:
        h.stop()
        h.cleanup()


@test
def sigusr1_dumps_states():
    h = Host([fixture("good"), fixture("abi")]).start(wait_for=["fx-good"])
    try:
        h.wait_log("module abi.so: refused")
        h.signal(signal.SIGUSR1)
        h.wait_log("status: fx-good file=good.so state=running")
        h.wait_log("file=abi.so state=refused")
    finally:
        h.stop()
        h.cleanup()


# ---------------------------------------------------------------- issue 7

@test
def systemd_notify_ready_reloading_stopping():
    h = Host([fixture("good"), fixture("abi"), fixture("interval")])
    nsock = os.path.join(h.dir, "notify")
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(nsock)
    rx.settimeout(20 if not VALGRIND else 120)
    h.env["NOTIFY_SOCKET"] = nsock
    try:
        h.start()
        msg = rx.recv(4096).decode()
        check(msg.startswith("READY=1"), "first message %r" % msg)
        # READY only after every module was tried: both served, abi refused.
        check("module abi.so: refused" in h.logtext(), "READY before the refusal")
        for mid in ("fx-good", "fx-interval"):
            st, _, _ = get(h.sock(mid))
            check(st == 200, "READY before %s was serving" % mid)
        check("STATUS=2 of 3 modules serving" in msg, msg)
        h.signal(signal.SIGHUP)
        msg = rx.recv(4096).decode()
        check(msg.startswith("RELOADING=1\nMONOTONIC_USEC="), "no RELOADING=1: %r" % msg)
        check(rx.recv(4096).decode().startswith("READY=1"), "no READY=1 after reload")
        h.stop()
        check(rx.recv(4096).decode() == "STOPPING=1", "no STOPPING=1")
    finally:
        rx.close()
        h.stop()
        h.cleanup()


@test
@valgrind_too
def status_command_table_and_json():
    h = Host([fixture("good"), fixture("abi")]).start(wait_for=["fx-good"])
    try:
        h.wait_log("module abi.so: refused")
        c = Conn(h.sock("fx-good"))
        for _ in range(10):
            c.request()
        c.close()
        exe = os.path.join(BUILDDIR, "scope-plugin-host")
        r = subprocess.run([exe, "status", "--socket-dir", h.sockdir], capture_output=True, text=True, timeout=20)
        check(r.returncode == 0, "status exit %d: %s" % (r.returncode, r.stderr))
        lines = r.stdout.splitlines()
        check(lines[1].split()[:3] == ["MODULE", "STATE", "PID"], r.stdout)
        good = [l for l in lines if l.startswith("fx-good ")]
        check(good and good[0].split()[1] == "running", r.stdout)
        check(any(l.startswith("abi.so ") and " refused " in l and "ABI version" in l for l in lines), r.stdout)
        r = subprocess.run([exe, "status", "--json", "--socket-dir", h.sockdir], capture_output=True, text=True,
                           timeout=20)
        doc = json.loads(r.stdout)
        mods = {m["file"]: m for m in doc["modules"]}
        g = mods["good.so"]
        check(g["state"] == "running" and g["requests"] >= 11 and g["collects"] >= 11, g)
        check(g["collect_p50_ms"] > 0 and g["collect_p99_ms"] >= g["collect_p50_ms"], g)
        check(mods["abi.so"]["state"] == "refused" and "ABI" in mods["abi.so"]["last_error"], mods["abi.so"])
        check(doc["pid"] == h.proc.pid, "pid")
        h.stop()
        r = subprocess.run([exe, "status", "--socket-dir", h.sockdir], capture_output=True, text=True, timeout=20)
        check(r.returncode == 1 and "no host is serving" in r.stderr, r.stderr)
    finally:
        h.stop()
        h.cleanup()


# ---------------------------------------------------------------- controls

def control(path, body, timeout=5.0):
    c = Conn(path, timeout)
    try:
        return c.request("POST", "/control?api_version=1&probe_id=5f2a9c", body=body)
    finally:
        c.close()


@test
@valgrind_too
def control_round_trips():
    h = Host([fixture("good")]).start(wait_for=["fx-good"])
    try:
        st, _, body = control(h.sock("fx-good"),
                              '{"AppID":"app1","Control":"set-mode","ControlArgs":{"mode":"fast"},'
                              '"NodeID":"testhost;\\u003chost\\u003e"}')
        check(st == 200, "status %d %r" % (st, body))
        doc = json.loads(body)
        rep = doc.get("shortcutReport")
        check(isinstance(rep, dict), "no shortcutReport: %r" % doc)
        assert_report(json.dumps(rep), "fx-good", controller=True)
        check(rep["Host"]["nodes"]["testhost;<host>"]["latest"]["fixture_mode"]["value"] == "fast",
              "control did not take effect")
        st, _, body = control(h.sock("fx-good"), '{"Control":"noop","NodeID":"x","AppID":"a","ControlArgs":null}')
        check(st == 200 and json.loads(body) == {}, "noop: %d %r" % (st, body))
        st, _, body = control(h.sock("fx-good"), '{"NodeID":"a;\\u003chost\\u003e","Control":"nope"}')
        check(st == 200 and json.loads(body)["error"] == "unknown control nope on a;<host>",
              "error reply: %d %r" % (st, body))
        for bad in ['', '{', '[]', '{"NodeID":1,"Control":"x"}', '{"Control":"x"}', 'null']:
            st, _, body = control(h.sock("fx-good"), bad)
            check(st == 400 and "error" in json.loads(body), "malformed %r: %d" % (bad, st))
        st, _, _ = get(h.sock("fx-good"))
        check(st == 200, "worker hurt by bad controls")
    finally:
        h.stop()
        h.cleanup()


# ---------------------------------------------------------------- issue 7: configuration file

def write_script(path, body):
    """Writes an executable shell script, body after its #! line; returns path."""
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)
    return path


def write_conf(h, text):
    path = os.path.join(h.dir, "host.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


@test
def status_socket_idle_clients_and_other_users():
    h = Host([fixture("good")]).start(wait_for=["fx-good"])
    exe = os.path.join(BUILDDIR, "scope-plugin-host")
    idle = []
    try:
        # Clients that connect and never read nor close hold up nobody.
        addr = "\0scope-plugin-host:" + os.path.realpath(h.sockdir)
        for _ in range(24):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(addr)
            idle.append(s)
        r = subprocess.run([exe, "status", "--json", "--socket-dir", h.sockdir], capture_output=True, text=True,
                           timeout=20)
        check(r.returncode == 0 and json.loads(r.stdout)["modules"][0]["state"] == "running",
              "status with idle clients: %d %s %s" % (r.returncode, r.stdout, r.stderr))
        # Each idle client got the whole document too.
        s = idle[-1]
        s.settimeout(10)
        got = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
        check(json.loads(got)["pid"] == h.proc.pid, got[:200])
        # Only root and the host's own user may read it.
        if os.geteuid() == 0:
            os.chmod(h.dir, 0o711)  # the client resolves the socket dir's path
            r = subprocess.run([exe, "status", "--socket-dir", h.sockdir], capture_output=True, text=True,
                               timeout=20, preexec_fn=lambda: os.setuid(65534))
            check(r.returncode == 1 and "permission denied" in r.stderr, "other user: %d %s %s" % (
                r.returncode, r.stdout, r.stderr))
    finally:
        for s in idle:
            s.close()
        h.stop()
        h.cleanup()


@test
def config_file_params_deadline_and_enabled():
    h = Host([fixture("hang"), fixture("good"), fixture("interval")])
    conf = write_conf(h, "# per-module settings from the file\n"
                         "backoff-min 100\n"
                         "module fx-hang {\n"
                         "    param at 2\n"
                         "    deadline 300\n"
                         "}\n"
                         "module fx-good {\n"
                         "    enabled no\n"
                         "}\n")
    h.args = ["--config", conf]
    h.start(wait_for=["fx-hang", "fx-interval"])
    try:
        st, _, body = get(h.sock("fx-hang"), timeout=30.0)
        check(st == 503, "hung poll answered %d: param at=2 from the file "
              "not applied" % st)
        h.wait_log("within 300 ms (deadline)")  # the block's, not the global 400
        h.wait_log("good.so: not loaded: disabled by configuration")
        check(not os.path.exists(h.sock("fx-good")), "disabled module got a socket")
        log = h.logtext()
        check("refused" not in log, "a disabled module was logged as refused:\n" + log)
        st, _, _ = get(h.sock("fx-interval"))
        check(st == 200, "neighbour affected")
    finally:
        h.stop()
        h.cleanup()


@test
def bad_config_file_fails_before_sockets():
    h = Host([fixture("good")])
    conf = write_conf(h, "deadline 100\n"
                         "deadlin 100\n"
                         "module fx-good {\n"
                         "    interval fast\n"
                         "}\n"
                         "}\n")
    try:
        # A flag for the same setting does not excuse an error in the file.
        r = subprocess.run(h.cmd(["--config", conf, "--deadline", "200"]), capture_output=True,
                           text=True, timeout=30, env=h.env)
        check(r.returncode != 0, "host started with a bad config")
        for want in ['host.conf:2: unknown key "deadlin"',
                     'host.conf:4: interval: expected a number',
                     'host.conf:6: "}" without a module block']:
            check(want in r.stderr, "missing %r in stderr:\n%s" % (want, r.stderr))
        check(not os.path.exists(h.sockdir), "socket directory created despite the bad config")
        r = subprocess.run(h.cmd(["--config", os.path.join(h.dir, "absent.conf")]), capture_output=True,
                           text=True, timeout=30, env=h.env)
        check(r.returncode != 0 and "absent.conf" in r.stderr, "missing --config file: %d %s" % (r.returncode, r.stderr))
    finally:
        h.cleanup()


@test
def check_mode_reads_config_file():
    h = Host([fixture("good"), fixture("interval")])
    bad = write_conf(h, "module fx-good {\n    enabled maybe\n}\nmodule fx-good {\n}\n")
    try:
        r = subprocess.run(h.cmd(["--config", bad, "--check"]), capture_output=True, text=True,
                           timeout=60, env=h.env)
        check(r.returncode != 0, "--check accepted a bad config")
        check("host.conf:2: enabled: expected yes or no" in r.stderr and
              'host.conf:4: second block for module "fx-good" (first on line 1)' in r.stderr, r.stderr)
        check("ok   good.so" not in r.stdout, "modules checked despite config errors: " + r.stdout)
        good = write_conf(h, "module fx-good {\n    enabled no\n}\nparam unused x\n")
        r = subprocess.run(h.cmd(["--config", good, "--check"]), capture_output=True, text=True,
                           timeout=60, env=h.env)
        check(r.returncode == 0, "--check exit %d: %s %s" % (r.returncode, r.stdout, r.stderr))
        check("ok   config " + good in r.stdout, r.stdout)
        check("skip good.so: disabled by configuration" in r.stdout, r.stdout)
        check("ok   interval.so fx-interval" in r.stdout, r.stdout)
    finally:
        h.cleanup()


# ---------------------------------------------------------------- issue 15: module instances

def status_doc(h):
    exe = os.path.join(BUILDDIR, "scope-plugin-host")
    r = subprocess.run([exe, "status", "--json", "--socket-dir", h.sockdir], capture_output=True, text=True,
                       timeout=20)
    check(r.returncode == 0, "status: %d %s" % (r.returncode, r.stderr))
    return json.loads(r.stdout)


def status_by_id(h):
    """Module entries of `status --json` by id (by file when there is none)."""
    return {m["id"] or m["file"]: m for m in status_doc(h)["modules"]}


def worker_pids(h):
    """The worker pid of each module by id (0: none)."""
    return {k: m["pid"] for k, m in status_by_id(h).items()}


def fixture_values(h, mid):
    """Plugins entry, fixture_mode and fixture_id of a fixture's report on socket mid."""
    st, _, body = get(h.sock(mid))
    check(st == 200, "%s: status %d %r" % (mid, st, body[:200]))
    doc = json.loads(body)
    latest = doc["Host"]["nodes"]["testhost;<host>"]["latest"]
    return doc["Plugins"][0], latest["fixture_mode"]["value"], latest["fixture_id"]["value"]


INSTANCES_CONF = ("module alpha {\n"
                  "    file good.so\n"
                  "    label Alpha clock\n"
                  "    description First instance\n"
                  "    param mode alpha\n"
                  "    deadline 20000\n"
                  "}\n"
                  "module beta {\n"
                  "    file good.so\n"
                  "    param mode beta\n"
                  "    interval 300\n"
                  "}\n")


@test
@valgrind_too
def instances_of_one_module_served_under_their_ids():
    h = Host([fixture("good")])
    h.args = ["--config", write_conf(h, INSTANCES_CONF)]
    h.start(wait_for=["fx-good", "alpha", "beta"])
    try:
        for mid in ("alpha", "beta"):
            check(os.path.exists(os.path.join(h.sockdir, mid, mid + ".sock")), "no socket for %s" % mid)
        p, mode, fid = fixture_values(h, "alpha")
        assert_report(get(h.sock("alpha"))[2], "alpha", controller=True)
        check(p["label"] == "Alpha clock" and p["description"] == "First instance", "alpha's Plugins entry %r" % p)
        check((mode, fid) == ("alpha", "alpha"), "alpha: mode %r id %r" % (mode, fid))
        p, mode, fid = fixture_values(h, "beta")
        check(p["id"] == "beta" and p["label"] == "Fixture fx-good" and p["description"] == "Test fixture module",
              "beta's Plugins entry (the descriptor's label) %r" % p)
        check((mode, fid) == ("beta", "beta"), "beta: mode %r id %r" % (mode, fid))
        # The module is served under its own id too (it is not instances-only).
        p, mode, fid = fixture_values(h, "fx-good")
        check(p["id"] == "fx-good" and (mode, fid) == ("default", "fx-good"), "fx-good: %r %r %r" % (p, mode, fid))
        # Three workers, one per id; status lists each instance as a module.
        check(len(children_of(h.proc.pid)) == 3, "workers %r" % children_of(h.proc.pid))
        mods = status_by_id(h)
        for mid in ("alpha", "beta"):
            m = mods[mid]
            check(m["instance"] is True and m["file"] == "good.so" and m["state"] == "running" and m["pid"] > 0, m)
        check(mods["fx-good"]["instance"] is False, mods["fx-good"])
        check(len({mods[x]["pid"] for x in ("alpha", "beta", "fx-good")}) == 3, "shared workers: %r" % mods)
        # alpha's own deadline; beta has the global one, as fx-good.
        check(mods["alpha"]["deadline_ms"] == 20000 and
              mods["beta"]["deadline_ms"] == mods["fx-good"]["deadline_ms"] != 20000, mods)
        # beta's interval (its own setting): collect counts run on without requests.
        _, _, body = get(h.sock("beta"))
        n0 = json.loads(body)["Host"]["nodes"]["testhost;<host>"]["metrics"]["fixture_count"]["samples"][0]["value"]
        wait_until(lambda: json.loads(get(h.sock("beta"))[2])["Host"]["nodes"]["testhost;<host>"]["metrics"]
                   ["fixture_count"]["samples"][0]["value"] > n0 + 1, 5, what="beta collecting every 300 ms")
        exe = os.path.join(BUILDDIR, "scope-plugin-host")
        r = subprocess.run([exe, "status", "--socket-dir", h.sockdir], capture_output=True, text=True, timeout=20)
        check(any(l.startswith("alpha ") and " running " in l for l in r.stdout.splitlines()), r.stdout)
    finally:
        h.stop()
        h.cleanup()


@test
def instances_check_mode():
    h = Host([fixture("good"), fixture("instonly")])
    conf = write_conf(h, INSTANCES_CONF + "module one {\n    file instonly.so\n    label One\n}\n")
    try:
        r = subprocess.run(h.cmd(["--config", conf, "--check"]), capture_output=True, text=True, timeout=60,
                           env=h.env)
        check(r.returncode == 0, "--check exit %d: %s %s" % (r.returncode, r.stdout, r.stderr))
        for want in ("ok   good.so fx-good: ", 'ok   good.so alpha: "Alpha clock" reporter+controller',
                     'ok   good.so beta: "Fixture fx-good"', "skip instonly.so: served only as instances (one)",
                     'ok   instonly.so one: "One"', "check: 4 modules ok, 0 failing"):
            check(want in r.stdout, "missing %r in:\n%s" % (want, r.stdout))
    finally:
        h.cleanup()


@test
def instances_only_module_is_not_served_under_its_own_id():
    h = Host([fixture("instonly"), fixture("good")]).start(wait_for=["fx-good"])
    try:
        h.wait_log("module instonly.so: not loaded: served only as instances, and none is configured")
        check("instonly.so: refused" not in h.logtext(), "logged as an error:\n" + h.logtext())
        check(not os.path.exists(os.path.join(h.sockdir, "fx-instonly")), "socket under its own id")
        # Not a failure: no refusal shown on a socket named after the file.
        check(not os.path.exists(os.path.join(h.sockdir, "instonly")), "refusal socket for instances-only")
        m = status_by_id(h)["instonly.so"]
        check(m["state"] == "refused" and "served only as instances" in m["last_error"], m)
        h.stop()
        h.args = ["--config", write_conf(h, "module one {\n    file instonly.so\n}\n"
                                            "module two {\n    file instonly.so\n    param mode second\n}\n")]
        h.start(wait_for=["one", "two"])
        h.wait_log("module instonly.so: not loaded: served only as instances; its instances: one, two")
        check(fixture_values(h, "two")[1:] == ("second", "two"), "two: %r" % (fixture_values(h, "two"),))
        check(not os.path.exists(os.path.join(h.sockdir, "fx-instonly")), "socket under its own id")
        check(len(children_of(h.proc.pid)) == 3, "workers %r" % children_of(h.proc.pid))
    finally:
        h.stop()
        h.cleanup()


@test
def replacing_a_file_restarts_every_instance_of_it():
    h = Host([fixture("good"), fixture("interval")])
    h.args = ["--config", write_conf(h, INSTANCES_CONF)]
    h.start(wait_for=["fx-good", "alpha", "beta", "fx-interval"])
    try:
        before = worker_pids(h)
        h.add(fixture("good"), "good.so")
        def restarted():
            now = status_by_id(h)
            return all(now[k]["pid"] not in (0, before[k]) and now[k]["state"] == "running"
                       for k in ("fx-good", "alpha", "beta"))
        wait_until(restarted, 10, what="every instance of good.so restarted")
        for mid in ("fx-good", "alpha", "beta"):
            h.wait_log("module %s: good.so changed" % mid)
            h.wait_serving(mid)
        check(status_by_id(h)["fx-interval"]["pid"] == before["fx-interval"], "interval.so restarted too")
        check(fixture_values(h, "alpha")[1] == "alpha", "alpha lost its param")
        # Removing the file stops them all.
        os.unlink(os.path.join(h.moddir, "good.so"))
        for mid in ("fx-good", "alpha", "beta"):
            wait_until(lambda: not os.path.exists(os.path.join(h.sockdir, mid)), 5, what="%s's socket removed" % mid)
        check(set(status_by_id(h)) == {"fx-interval"}, status_by_id(h))
    finally:
        h.stop()
        h.cleanup()


@test
def instance_config_errors_name_file_and_line():
    h = Host([fixture("good")])
    try:
        cases = [
            ("module x {\n    file nothere.so\n}\n",
             "host.conf:2: module x: file nothere.so: no such file in the module directory " + h.moddir),
            ("module bad_id {\n    file good.so\n}\n", 'host.conf:1: invalid module id "bad_id"'),
            ("module fx-good {\n    deadline 500\n}\nmodule fx-good {\n    file good.so\n}\n",
             'host.conf:4: second block for module "fx-good" (first on line 1)'),
            ("module y {\n    file ../good.so\n}\n", 'host.conf:2: file: expected the name of a module'),
            ("file good.so\n", 'host.conf:1: "file" is allowed only in a module block'),
        ]
        for text, want in cases:
            conf = write_conf(h, text)
            for extra in ([], ["--check"]):
                r = subprocess.run(h.cmd(["--config", conf] + extra), capture_output=True, text=True, timeout=30,
                                   env=h.env)
                check(r.returncode != 0 and want in r.stderr, "%r %r: %d %s" % (text, extra, r.returncode, r.stderr))
                check(not os.path.exists(h.sockdir), "socket directory created despite the bad config")
    finally:
        h.cleanup()


@test
def instance_id_taken_from_a_plain_module_of_another_file():
    # interval.so's own id is fx-interval; the configuration gives it to an
    # instance of good.so: the instance gets it, interval.so is refused.
    h = Host([fixture("good"), fixture("interval")])
    conf = write_conf(h, "module fx-interval {\n    file good.so\n}\n")
    h.args = ["--config", conf]
    try:
        r = subprocess.run(h.cmd(["--check"]), capture_output=True, text=True, timeout=60, env=h.env)
        want = ('FAIL interval.so fx-interval: id "fx-interval" belongs to the instance of good.so defined at '
                '%s:1' % conf)
        check(r.returncode == 1 and want in r.stdout, "--check: %d %s" % (r.returncode, r.stdout))
        check("ok   good.so fx-interval" in r.stdout, r.stdout)
        h.start(wait_for=["fx-good", "fx-interval"])
        h.wait_log("module interval.so: refused: id \"fx-interval\" belongs to the instance of good.so defined at "
                   "%s:1" % conf)
        check(fixture_values(h, "fx-interval")[2] == "fx-interval", "not the instance on fx-interval")
        check(fixture_values(h, "fx-interval")[0]["label"] == "Fixture fx-good", "interval.so's report on the socket")
        m = {(x["file"], x["id"]): x for x in status_doc(h)["modules"]}
        check(m[("good.so", "fx-interval")]["instance"] and m[("good.so", "fx-interval")]["state"] == "running", m)
        check(m[("interval.so", "fx-interval")]["state"] == "refused", m)
        # A worker that was stopped may still be on its way out: wait, bounded.
        wait_until(lambda: len(children_of(h.proc.pid)) == 2, 10, what="two workers")
    finally:
        h.stop()
        h.cleanup()


@test
def two_instances_of_exec_with_their_own_ids_and_commands():
    h = Host([plugin("exec")])
    script = write_script(os.path.join(h.dir, "values.sh"),
                          'echo "metric host value $1"\necho "info host who \\"$SCOPE_PLUGIN_ID\\""\n')
    h.args = ["--config", write_conf(h, "module ntp {\n    file exec.so\n    label Clock\n    interval 0\n"
                                        "    param command %s 1\n}\n"
                                        "module logs {\n    file exec.so\n    interval 0\n"
                                        "    param command %s 2\n}\n" % (script, script))]
    h.start(wait_for=["ntp", "logs"])
    try:
        for mid, value, label in (("ntp", 1, "Clock"), ("logs", 2, "Exec")):
            st, _, body = get(h.sock(mid))
            check(st == 200, "%s: %d %r" % (mid, st, body[:300]))
            doc = assert_report(body, mid)
            check(doc["Plugins"][0]["label"] == label, "%s: label %r" % (mid, doc["Plugins"][0]["label"]))
            node = doc["Host"]["nodes"]["testhost;<host>"]
            # The module keys its values by the id it is told, and the
            # script sees that id too: the two never collide.
            check(node["metrics"][mid + ".value"]["samples"][0]["value"] == value, "%s: %r" % (mid, node["metrics"]))
            check(node["latest"][mid + ".who"]["value"] == mid, "%s: %r" % (mid, node["latest"]))
        check(not os.path.exists(os.path.join(h.sockdir, "exec")) or
              get(h.sock("exec"))[0] != 200, "exec served under its own id without a command")
    finally:
        h.stop()
        h.cleanup()


# ---------------------------------------------------------------- issue 16: reload

def notify_receiver(h):
    nsock = os.path.join(h.dir, "notify")
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(nsock)
    rx.settimeout(30 if not VALGRIND else 120)
    h.env["NOTIFY_SOCKET"] = nsock
    return rx


def start_notified(h, rx):
    """Starts h, waits for READY=1; returns the workers' pids by module id."""
    h.start()
    msg = rx.recv(4096).decode()
    check(msg.startswith("READY=1"), "first message %r" % msg)
    return worker_pids(h)


def reload_and_wait(h, rx):
    """SIGHUP, then RELOADING=1 and READY=1 (returned) from the notify socket."""
    h.signal(signal.SIGHUP)
    msg = rx.recv(4096).decode()
    check(msg.startswith("RELOADING=1\nMONOTONIC_USEC="), "first after SIGHUP: %r" % msg)
    msg = rx.recv(4096).decode()
    check(msg.startswith("READY=1"), "second after SIGHUP: %r" % msg)
    return msg


RELOAD_V1 = ("param mode global\n"
             "module alpha {\n    file good.so\n    param mode a1\n}\n"
             "module beta {\n    file good.so\n    param mode b1\n}\n"
             "module delta {\n    file good.so\n}\n")
RELOAD_V2 = ("param mode global\n"
             "module alpha {\n    file good.so\n    param mode a2\n}\n"
             "module beta {\n    file good.so\n    param mode b2\n}\n"
             "module gamma {\n    file interval.so\n    label Gamma\n}\n")


@test
def reload_applies_changes_to_the_affected_modules_only():
    h = Host([fixture("good"), fixture("interval")])
    rx = notify_receiver(h)
    conf = write_conf(h, RELOAD_V1)
    # A flag keeps overriding the file across reloads.
    h.args = ["--config", conf, "--param", "alpha.mode=flag"]
    try:
        before = start_notified(h, rx)
        check(set(before) == {"fx-good", "fx-interval", "alpha", "beta", "delta"}, before)
        check(fixture_values(h, "alpha")[1] == "flag" and fixture_values(h, "beta")[1] == "b1", "params at start")
        check(fixture_values(h, "fx-good")[1] == "global", "global param")
        write_conf(h, RELOAD_V2)
        msg = reload_and_wait(h, rx)
        check("not reloaded" not in msg, msg)
        h.wait_log("reloaded; rescanning")
        # beta's param changed: it restarted on the new one, and only it.
        now = status_by_id(h)
        check(now["beta"]["pid"] != before["beta"] and fixture_values(h, "beta")[1] == "b2", "beta: %r" % now["beta"])
        h.wait_log("module beta: settings changed; restarting it")
        for mid in ("alpha", "fx-good", "fx-interval"):
            check(now[mid]["pid"] == before[mid] and now[mid]["state"] == "running", "%s restarted: %r" % (mid, now))
        check(fixture_values(h, "alpha")[1] == "flag", "the flag no longer wins after the reload")
        # gamma is new: served by its own worker, with its label.
        p, mode, fid = fixture_values(h, "gamma")
        check(p["label"] == "Gamma" and fid == "gamma" and mode == "global", (p, mode, fid))
        # delta is gone: worker stopped, socket removed.
        wait_until(lambda: not os.path.exists(os.path.join(h.sockdir, "delta")), 5, what="delta's socket removed")
        h.wait_log("module delta: instance no longer in the configuration; stopping")
        wait_until(lambda: "delta" not in status_by_id(h), 5, what="delta out of the status")
        wait_until(lambda: not pid_alive(before["delta"]), 5, what="delta's worker gone")
        check("illegal" not in h.logtext(), h.logtext())
    finally:
        rx.close()
        h.stop()
        h.cleanup()


@test
def reload_with_errors_keeps_the_running_configuration():
    h = Host([fixture("good")])
    rx = notify_receiver(h)
    conf = write_conf(h, RELOAD_V1)
    h.args = ["--config", conf]
    try:
        before = start_notified(h, rx)
        # A syntax error, and (alone) an instance of a file that is not there.
        for text, errors in [
                (RELOAD_V2.replace("param mode b2", "param mode b2\n    deadline soon") + "bogus 1\n",
                 ['host.conf:9: deadline: expected a number', 'host.conf:15: unknown key "bogus"']),
                (RELOAD_V1 + "module eps {\n    file nothere.so\n}\n",
                 ["host.conf:14: module eps: file nothere.so: no such file in the module directory"])]:
            write_conf(h, text)
            msg = reload_and_wait(h, rx)
            check("not reloaded" in msg, "READY=1 without the refusal: %r" % msg)
            for e in errors:
                h.wait_log(e)
            h.wait_log("in %s; not reloaded: the running configuration stays" % conf)
            now = worker_pids(h)
            check(now == before, "modules touched: %r -> %r" % (before, now))
            check(fixture_values(h, "beta")[1] == "b1", "beta's param changed")
            check(not os.path.exists(os.path.join(h.sockdir, "eps")), "eps served")
        # Fixed: the next reload applies it.
        write_conf(h, RELOAD_V1.replace("b1", "b3"))
        msg = reload_and_wait(h, rx)
        check("not reloaded" not in msg, msg)
        check(fixture_values(h, "beta")[1] == "b3", "beta's param not applied after a good reload")
        check(status_by_id(h)["alpha"]["pid"] == before["alpha"], "alpha restarted")
    finally:
        rx.close()
        h.stop()
        h.cleanup()


@test
def reload_of_a_global_setting_restarts_only_the_modules_that_inherit_it():
    h = Host([fixture("good"), fixture("interval")])
    rx = notify_receiver(h)
    h.args = ["--config", write_conf(h, "budget 100\nmodule fx-good {\n    budget 50\n}\n")]
    try:
        before = start_notified(h, rx)
        write_conf(h, "budget 200\nmodule fx-good {\n    budget 50\n}\n")
        reload_and_wait(h, rx)
        now = status_by_id(h)
        check(now["fx-good"]["pid"] == before["fx-good"], "fx-good has its own budget: restarted")
        check(now["fx-interval"]["pid"] != before["fx-interval"] and now["fx-interval"]["state"] == "running",
              "fx-interval inherits the budget: not restarted %r" % now["fx-interval"])
        # The same file again: nothing restarts.
        reload_and_wait(h, rx)
        check(worker_pids(h) == {k: m["pid"] for k, m in now.items()}, "an unchanged file restarted modules")
    finally:
        rx.close()
        h.stop()
        h.cleanup()


@test
def reload_gives_an_id_to_an_instance_and_back():
    h = Host([fixture("good"), fixture("interval")])
    rx = notify_receiver(h)
    conf = write_conf(h, "# nothing yet\n")
    h.args = ["--config", conf]
    try:
        start_notified(h, rx)
        check(fixture_values(h, "fx-interval")[0]["label"] == "Fixture fx-interval", "interval.so not serving")
        # An instance of good.so takes fx-interval from interval.so ...
        write_conf(h, "module fx-interval {\n    file good.so\n    label Taken\n}\n")
        reload_and_wait(h, rx)
        wait_until(lambda: fixture_values(h, "fx-interval")[0]["label"] == "Taken", 10,
                   what="the instance serving fx-interval")
        h.wait_log("module interval.so: refused: id \"fx-interval\" belongs to the instance of good.so")
        # ... and gives it back when it leaves the configuration.
        write_conf(h, "# nothing again\n")
        reload_and_wait(h, rx)
        wait_until(lambda: fixture_values(h, "fx-interval")[0]["label"] == "Fixture fx-interval", 10,
                   what="interval.so serving fx-interval again")
        check(fixture_values(h, "fx-interval")[2] == "fx-interval", "fixture_id")
        # A worker that was stopped may still be on its way out: wait, bounded.
        wait_until(lambda: len(children_of(h.proc.pid)) == 2, 10, what="two workers")
    finally:
        rx.close()
        h.stop()
        h.cleanup()


# ---------------------------------------------------------------- bundled modules

BUNDLED = ["iowait", "load", "memory", "network", "disk", "procfds",
           "filesystems", "sensors"]


@test
def bundled_modules_pass_check_on_this_machine():
    h = Host([plugin(m) for m in BUNDLED])
    try:
        r = subprocess.run(h.cmd(["--check"]), capture_output=True, text=True, timeout=120, env=h.env)
        check(r.returncode == 0, "--check of the bundled modules: %s %s" % (r.stdout, r.stderr))
        for m in BUNDLED:
            check(("ok   %s.so %s:" % (m, m)) in r.stdout, r.stdout)
        # Valid is not enough: no table that Scope would show without names.
        check("warning:" not in r.stdout, r.stdout)
    finally:
        h.cleanup()


@test
@valgrind_too
def bundled_modules_served_and_iowait_control_round_trip():
    h = Host([plugin(m) for m in BUNDLED]).start(wait_for=BUNDLED)
    try:
        for m in BUNDLED:
            st, _, body = get(h.sock(m))
            check(st == 200, "%s: %d %r" % (m, st, body[:200]))
            assert_report(body, m, controller=(m == "iowait"))
        _, _, body = get(h.sock("iowait"))
        node = json.loads(body)["Host"]["nodes"]["testhost;<host>"]
        check("iowait" in node["metrics"], "iowait metric missing: %r" % node)
        check(node["latest"]["control_probe_id"]["value"] == "5f2a9c", "control_probe_id not the probe's id")
        req = '{"AppID":"app","NodeID":"testhost;\\u003chost\\u003e","Control":"switchToIdle","ControlArgs":null}'
        st, _, body = control(h.sock("iowait"), req)
        check(st == 200, "control status %d" % st)
        rep = json.loads(body)["shortcutReport"]
        assert_report(json.dumps(rep), "iowait", controller=True)
        check("idle" in rep["Host"]["nodes"]["testhost;<host>"]["metrics"], "control did not switch to idle")
        _, _, body = get(h.sock("iowait"))
        check("idle" in json.loads(body)["Host"]["nodes"]["testhost;<host>"]["metrics"], "switch not kept")
        st, _, body = control(h.sock("iowait"), '{"NodeID":"other;<host>","Control":"switchToIOWait"}')
        check(st == 200 and "error" in json.loads(body), "unknown node accepted: %r" % body)
        st, _, body = control(h.sock("iowait"), '{"NodeID":"testhost;<host>","Control":"explode"}')
        check(st == 200 and "error" in json.loads(body), "unknown control accepted: %r" % body)
    finally:
        h.stop()
        h.cleanup()


# ---------------------------------------------------------------- runner

def run_tests(tests, valgrind_tests=(), skip=()):
    """The command line of this file and of the suites built on it
    (contain.py, failures.py): runs tests, or under --valgrind those in
    valgrind_tests, one ok/FAIL/skip line each (an exception in skip is a
    skip, its text the reason), then the counts; returns the exit status."""
    global BUILDDIR, VALGRIND
    ap = argparse.ArgumentParser()
    ap.add_argument("--builddir", default=".")
    ap.add_argument("--only", default="")
    ap.add_argument("--valgrind", action="store_true")
    a = ap.parse_args()
    BUILDDIR = os.path.abspath(a.builddir)
    VALGRIND = a.valgrind
    os.umask(0o022)  # files the tests write must pass strict modes as root
    passed = failed = skipped = 0
    for fn in tests:
        if a.only and a.only not in fn.__name__:
            continue
        if VALGRIND and fn.__name__ not in valgrind_tests:
            continue
        t0 = time.monotonic()
        try:
            fn()
            passed += 1
            print("ok   %-60s %.2fs" % (fn.__name__, time.monotonic() - t0), flush=True)
        except tuple(skip) as e:
            skipped += 1
            print("skip %-60s (%s)" % (fn.__name__, e), flush=True)
        except Exception:  # noqa: BLE001 - report and continue
            failed += 1
            print("FAIL %-60s %.2fs" % (fn.__name__, time.monotonic() - t0), flush=True)
            traceback.print_exc(file=sys.stdout)
    print("%d passed, %d failed%s" % (passed, failed, ", %d skipped" % skipped if skipped else ""))
    return 1 if failed else 0


def main():
    return run_tests(TESTS, VALGRIND_TESTS)


if __name__ == "__main__":
    sys.exit(main())
