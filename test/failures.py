#!/usr/bin/env python3
"""Failures on screen (issue 12): why a module fails must reach the person
looking at Scope and at `scope-plugin-host status`.

- every error reply carries the reason in its HTTP status line (Scope's
  probe copies the status line into the plugin's status, shown in the
  tooltip): the module's logged error, the host's finding, the
  supervisor's own (crashed, failed, refused); printable ASCII, no CR/LF,
  at most 200 bytes; the JSON body keeps the full text;
- `status` shows the same last error;
- a refused module keeps a socket named after its file (an instance: its
  id) answering 503 with the refusal, which follows the file and the
  configuration and never takes a serving module's id; an unsafe file's
  instances are refused too;
- with the real Scope ($SCOPE_HARNESS, else ../shared/scope from the
  repository root), `plugincheck` and `scope-app status` show the reasons.
  Those cases are skipped (and counted) when it is absent, as are the
  root-only strict-modes cases when not root.

Usage: failures.py --builddir DIR [--only SUBSTRING]
Stdlib only; reuses Host and Conn from integration.py.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import integration as it  # noqa: E402
from integration import Conn, Host, check, fixture, wait_until  # noqa: E402
from interop import find_harness, free_port  # noqa: E402

HWMON = "cannot read /sys/class/hwmon: permission denied"
REASON_MAX = 200
SRCDIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Skip(Exception):
    pass


TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def poll(path, timeout=5.0):
    """One probe-style GET /report: (status line, status, headers, body)."""
    c = Conn(path, timeout)
    try:
        c.send_raw(("GET %s HTTP/1.1\r\nHost: plugin\r\nUser-Agent: Go-http-client/1.1\r\n"
                    "Accept-Encoding: gzip\r\n\r\n" % it.PROBE_QUERY).encode())
        while b"\r\n" not in c.buf:
            c._fill()
        line = c.buf.split(b"\r\n", 1)[0]
        st, hd, body = c.read_response()
        return line, st, hd, body
    finally:
        c.close()


def reason_of(line):
    """The reason phrase of a status line, checked to be what we promise."""
    check(all(0x20 <= b < 0x7f for b in line), "non-printable byte in status line %r" % line)
    m = re.match(rb"HTTP/1\.1 (\d{3}) (.*)$", line)
    check(m is not None, "bad status line %r" % line)
    reason = m.group(2).decode("ascii")
    check(0 < len(reason) <= REASON_MAX, "reason of %d bytes: %r" % (len(reason), reason))
    check(reason == reason.strip() and "  " not in reason, "untidy reason %r" % reason)
    return reason


def matches(rx, reason, full):
    """reason is rx's match, or is cut at 200 bytes from the text in full."""
    if rx.fullmatch(reason):
        return True
    return len(reason) == REASON_MAX and reason.endswith("...") and reason[:-3].rstrip() in full


def expect(path, status, reason, body_has=None):
    """Polls path; the status and reason must be as given (reason: exact
    string, or a compiled regex that must match the whole phrase, or its
    first 197 bytes and "..." when longer)."""
    line, st, _, body = poll(path)
    got = reason_of(line)
    check(st == status, "%s: status %d (%r), expected %d" % (path, st, line, status))
    if hasattr(reason, "fullmatch"):
        check(matches(reason, got, json.loads(body)["error"]), "%s: reason %r does not match %r" % (path, got, reason.pattern))
    else:
        check(got == reason, "%s: reason %r, expected %r" % (path, got, reason))
    err = json.loads(body)
    if body_has is not None:
        check(body_has in err["error"], "%s: body %r lacks %r" % (path, err["error"], body_has))
    return got, err


def status_json(h):
    exe = os.path.join(it.BUILDDIR, "scope-plugin-host")
    r = subprocess.run([exe, "status", "--json", "--socket-dir", h.sockdir], capture_output=True, text=True,
                       timeout=20)
    check(r.returncode == 0, "status exit %d: %s" % (r.returncode, r.stderr))
    return {m["file"]: m for m in json.loads(r.stdout)["modules"]}


def status_table(h):
    exe = os.path.join(it.BUILDDIR, "scope-plugin-host")
    r = subprocess.run([exe, "status", "--socket-dir", h.sockdir], capture_output=True, text=True, timeout=20)
    check(r.returncode == 0, "status exit %d: %s" % (r.returncode, r.stderr))
    return r.stdout.splitlines()


def table_row(lines, name):
    rows = [l for l in lines if l.split(" ", 1)[0] == name]
    check(len(rows) == 1, "no one row for %s in:\n%s" % (name, "\n".join(lines)))
    return rows[0]


def wait_running(h, mid, status=200):
    """Waits until mid's worker answers with status and the supervisor
    knows it runs: until then its fallback may still take a connection
    and answer "starting"."""
    def running():
        return any(m["id"] == mid and m["state"] == "running" for m in it.status_doc(h)["modules"])
    wait_until(running, what="%s running" % mid)
    # One poll (a collect: modules that fail at their Nth count it).
    line, st, _, _ = poll(h.sock(mid))
    check(st == status, "%s running but answering %r" % (mid, line))


def start(h, *mids):
    h.start()
    for mid in mids:
        wait_running(h, mid)
    return h


def socket_dirs(h):
    return sorted(e for e in os.listdir(h.sockdir) if not e.startswith("."))


def gone(path):
    return not os.path.exists(path)


def bring_down(h, mid):
    """Polls mid's worker into its fault (crash, hang), then waits for the
    supervisor's 503.  Returns the fatal poll's status line, or None when
    it got no answer (hung)."""
    try:
        line = poll(h.sock(mid))[0]
    except (it.HTTPError, OSError):
        line = None
    wait_until(lambda: poll(h.sock(mid))[1] == 503, what=mid + " down")
    return line


# ---------------------------------------------------------------- worker replies

@test
def collect_failure_reason_in_status_line_body_and_status():
    h = start(Host([fixture("fail"), fixture("nan"), fixture("good")]), "fx-good")
    try:
        wait_running(h, "fx-fail", 500)
        # The module's logged error is the reason; the body has it all.
        for _ in range(3):
            _, err = expect(h.sock("fx-fail"), 500, HWMON)
            check(err["error"] == "module fx-fail: %s (collect returned -1)" % HWMON, err)
            check(err["module"] == "fx-fail", err)
        # No error logged: the host's finding is the reason.
        wait_running(h, "fx-nan", 500)
        expect(h.sock("fx-nan"), 500, "collect: yajl_gen_double: invalid number (NaN, Inf or malformed)")
        # Other errors name themselves too.
        c = Conn(h.sock("fx-good"))
        c.send_raw(b"GET /metrics HTTP/1.1\r\nHost: plugin\r\n\r\n")
        while b"\r\n" not in c.buf:
            c._fill()
        check(c.buf.startswith(b"HTTP/1.1 404 not found: this plugin serves GET /report\r\n"), c.buf[:80])
        c.close()
        # status: the same last error, and the error count.
        mods = status_json(h)
        check(mods["fail.so"]["last_error"] == "%s (collect returned -1)" % HWMON, mods["fail.so"])
        check(mods["fail.so"]["errors"] >= 4, mods["fail.so"])
        check(mods["nan.so"]["last_error"] == "collect: yajl_gen_double: invalid number (NaN, Inf or malformed)",
              mods["nan.so"])
        check(mods["good.so"]["last_error"] == "", mods["good.so"])
        row = table_row(status_table(h), "fx-fail")
        check(row.endswith(" %s (collect returned -1)" % HWMON), row)
        check(table_row(status_table(h), "fx-good").endswith(" -"), "good module shows an error")
    finally:
        h.stop()
        h.cleanup()


@test
def reason_phrase_is_printable_ascii_cut_at_200_bytes_body_keeps_all():
    nasty = ("temp\u00e9rature \u00ab capteur \u00bb\t\tfailed\r\nHTTP/1.1 200 OK\r\n\r\n"
             + "x" * 300 + " END")
    # Interval mode: the reply comes from the collector thread's cache.
    h = Host([fixture("fail")], args=["--param", "fx-fail.msg=" + nasty, "--set", "fx-fail.interval=100"])
    h.start()
    try:
        wait_running(h, "fx-fail", 500)
        line, st, hd, body = poll(h.sock("fx-fail"))
        reason = reason_of(line)
        check(reason.startswith("temp?rature ? capteur ? failed HTTP/1.1 200 OK xxx"), reason)
        check(len(reason) == REASON_MAX and reason.endswith("x..."), "%d %r" % (len(reason), reason))
        check(int(hd["content-length"]) == len(body), "framing broken by the reason")
        err = json.loads(body)["error"]
        check(err == "module fx-fail: %s (collect returned -1)" % nasty, "body lost text: %r" % err)
        check(status_json(h)["fail.so"]["last_error"].startswith(nasty), "status lost text")
    finally:
        h.stop()
        h.cleanup()
    # A module that says nothing: the host's finding.
    h = Host([fixture("fail")], args=["--param", "fx-fail.msg="])
    h.start()
    try:
        wait_running(h, "fx-fail", 500)
        _, err = expect(h.sock("fx-fail"), 500, "collect returned -1")
        check(err["error"] == "module fx-fail: collect returned -1", err)
    finally:
        h.stop()
        h.cleanup()


# ---------------------------------------------------------------- supervisor replies

@test
def crash_and_failed_reasons_from_the_supervisor():
    # Hung and killed at the deadline; one failure marks it failed.
    h = Host([fixture("hang")], args=["--param", "fx-hang.at=2", "--deadline", "300", "--max-failures", "1"])
    start(h, "fx-hang")
    try:
        bring_down(h, "fx-hang")
        expect(h.sock("fx-hang"), 503,
               re.compile(r"collect did not finish within 300 ms \(deadline\); failed 1 time in a row, "
                          r"not restarting until the file changes or SIGHUP"),
               body_has="module fx-hang failed: collect did not finish")
        mods = status_json(h)
        check(mods["hang.so"]["state"] == "failed" and mods["hang.so"]["last_error"].startswith("collect did not finish"),
              mods["hang.so"])
    finally:
        h.stop()
        h.cleanup()
    h = Host([fixture("crash"), fixture("abort")],
             args=["--param", "fx-crash.at=2", "--param", "fx-abort.at=2", "--backoff-min", "20000"])
    start(h, "fx-crash", "fx-abort")
    try:
        # The poll the worker dies under gets the supervisor's 503 with
        # the signal, not EOF.
        line = bring_down(h, "fx-crash")
        check(line is not None and re.fullmatch(
            rb"HTTP/1.1 503 killed by SIGSEGV \(11\); restarting in \d+ ms", line), line)
        line = bring_down(h, "fx-abort")
        check(line is not None and re.fullmatch(
            rb"HTTP/1.1 503 killed by SIGABRT \(6\); restarting in \d+ ms", line), line)
        # Then the supervisor answers while it waits to restart it.
        got, err = expect(h.sock("fx-crash"), 503,
                          re.compile(r"killed by SIGSEGV \(11\); restarting in \d+ ms"),
                          body_has="module fx-crash is down: killed by SIGSEGV")
        check(int(got.rsplit(" ", 2)[1]) <= 20000, got)
        mods = status_json(h)
        check(mods["crash.so"]["state"] == "restarting" and
              mods["crash.so"]["last_error"] == "killed by SIGSEGV (11)", mods["crash.so"])
        row = table_row(status_table(h), "fx-crash")
        check(row.endswith(" killed by SIGSEGV (11)"), row)
    finally:
        h.stop()
        h.cleanup()


# ---------------------------------------------------------------- refused modules

REFUSED = {
    # file: (socket id, reason after "refused: ")
    "abi.so": ("abi", re.compile(r"ABI version 2\.0 not supported .*")),
    "badid.so": ("badid", re.compile(r"id \"[^\"]*\" is not a valid Scope plugin id.*")),
    "nosym.so": ("nosym", re.compile(r"symbol sph_module_descriptor not found.*")),
    "initfail.so": ("initfail", re.compile(r"init failed: fixture: init fails on purpose")),
    "not_an_elf.so": ("not-an-elf", re.compile(r"not an ELF file.*")),
    "zz-dup.so": ("zz-dup", re.compile(r"id \"fx-good\" is already served by .*/good\.so; ids must be unique.*")),
}


@test
def refused_modules_answer_every_poll_with_503_and_the_refusal():
    h = Host([fixture("abi"), fixture("badid"), fixture("nosym"), fixture("initfail"), fixture("good")],
             args=["--set", "fx-interval.enabled=0"])
    h.add(fixture("interval"))  # disabled by the operator: no socket
    with open(os.path.join(h.moddir, "not_an_elf.so"), "w") as f:
        f.write("this is not an ELF file\n")
    start(h, "fx-good")
    # Added once good.so serves fx-good: between two starting, either may win.
    h.add(fixture("dup"), "zz-dup.so")
    try:
        for name, (sid, rx) in REFUSED.items():
            wait_until(lambda: os.path.exists(h.sock(sid)), what="socket of " + name)
            for _ in range(3):
                line, st, hd, body = poll(h.sock(sid))
                check(st == 503 and hd.get("connection") == "close", "%s: %r %r" % (name, line, hd))
                err = json.loads(body)
                check(err["error"].startswith("module file %s/%s refused: " % (h.moddir, name)), err)
                full = err["error"].split(" refused: ", 1)[1]
                check(rx.fullmatch(full), "%s: body %r" % (name, err))
                reason = reason_of(line)
                check(reason.startswith("refused: ") and matches(rx, reason[9:], full),
                      "%s: reason %r" % (name, reason))
        check(socket_dirs(h) == sorted(["fx-good"] + [s for s, _ in REFUSED.values()]),
              "socket dirs %r" % socket_dirs(h))
        check(it.get(h.sock("fx-good"))[0] == 200, "good module not served")
        mods = status_json(h)
        for name, (sid, rx) in REFUSED.items():
            m = mods[name]
            check(m["state"] == "refused" and rx.fullmatch(m["last_error"]), m)
            check(m["socket"] == h.sock(sid), m)
        check(mods["interval.so"]["state"] == "refused" and
              mods["interval.so"]["last_error"] == "disabled by configuration" and
              mods["interval.so"]["socket"] == "", mods["interval.so"])
        lines = status_table(h)
        check(" refused " in table_row(lines, "abi.so") and "ABI version 2.0" in table_row(lines, "abi.so"), lines)
        check(table_row(lines, "not_an_elf.so").split()[1] == "refused", lines)
        # A SIGHUP retries them; they are still refused, the sockets stay.
        h.signal(signal.SIGHUP)
        h.wait_log("SIGHUP: rescanning")
        for name, (sid, rx) in REFUSED.items():
            wait_until(lambda: poll(h.sock(sid))[1] == 503 and
                       reason_of(poll(h.sock(sid))[0]).startswith("refused: "), what="%s after SIGHUP" % name)
    finally:
        h.stop()
        h.cleanup()
    check(not os.path.exists(h.sockdir) or socket_dirs(h) == [], "sockets left after stop")


@test
def refused_socket_follows_the_file():
    h = Host([fixture("good")], args=["--rescan", "200"])
    h.add(fixture("abi"))
    start(h, "fx-good")
    try:
        wait_until(lambda: os.path.exists(h.sock("abi")), what="abi's socket")
        expect(h.sock("abi"), 503, re.compile(r"refused: ABI version 2\.0 .*"))
        # Fixed (a working module renamed over it): its own id, the refusal's socket goes.
        h.add(fixture("interval"), "abi.so")
        wait_running(h, "fx-interval")
        wait_until(lambda: gone(h.sock("abi")), what="abi's socket removed")
        # Broken again: the refusal is back, the module's socket goes.
        h.add(fixture("nosym"), "abi.so")
        wait_until(lambda: os.path.exists(h.sock("abi")) and gone(h.sock("fx-interval")), what="refused again")
        expect(h.sock("abi"), 503, re.compile(r"refused: symbol sph_module_descriptor not found.*"))
        # Removed: no socket.
        os.unlink(os.path.join(h.moddir, "abi.so"))
        wait_until(lambda: gone(h.sock("abi")), what="socket removed with the file")
        check("abi.so" not in status_json(h), "removed file still in status")
        # Fixed in place under its own name: the socket stays and serves.
        h.add(fixture("abi"), "fx-slow.so")
        wait_until(lambda: os.path.exists(h.sock("fx-slow")), what="fx-slow.so refused")
        expect(h.sock("fx-slow"), 503, re.compile(r"refused: ABI version 2\.0 .*"))
        h.add(fixture("slow"), "fx-slow.so")
        wait_running(h, "fx-slow")
        check(status_json(h)["fx-slow.so"]["state"] == "running", "fixed module not running")
        check(it.get(h.sock("fx-good"))[0] == 200, "neighbour disturbed")
    finally:
        h.stop()
        h.cleanup()


@test
def refusal_socket_stays_while_the_module_is_tried_again():
    # initfail.so says hello as fx-initfail, then fails init: on each retry
    # its refusal's socket ("initfail") must keep answering.
    h = Host([fixture("initfail")])
    h.start()
    try:
        wait_until(lambda: os.path.exists(h.sock("initfail")), what="refusal socket")
        answers, failures, stop = {}, [], threading.Event()

        def poller():
            while not stop.is_set():
                try:
                    line = poll(h.sock("initfail"))[0].decode()
                    answers[line] = answers.get(line, 0) + 1
                except (it.HTTPError, OSError) as e:
                    failures.append(repr(e))
        t = threading.Thread(target=poller)
        t.start()
        try:
            for n in range(2, 5):
                # SIGHUP retries a refused module once its worker is gone.
                wait_until(lambda: status_json(h)["initfail.so"]["pid"] == 0, what="refused worker exited")
                h.signal(signal.SIGHUP)
                wait_until(lambda: h.logtext().count("module initfail.so: refused") >= n,
                           what="refusal %d" % n)
        finally:
            stop.set()
            t.join(10)
        check(not failures, "refusal socket gone during a retry: %r (answers %r)" % (failures[:3], answers))
        want = "HTTP/1.1 503 refused: init failed: fixture: init fails on purpose"
        check(set(answers) <= {want, "HTTP/1.1 503 starting"} and answers.get(want), answers)
        check(gone(h.sock("fx-initfail")), "the retry's own socket left behind")
    finally:
        h.stop()
        h.cleanup()


@test
def refused_socket_never_takes_a_serving_modules_id():
    # fx-good.so is broken and named like good.so's id: good.so keeps it.
    h = Host([fixture("good")], args=["--rescan", "200"])
    h.add(fixture("abi"), "fx-good.so")
    h.start()
    try:
        wait_running(h, "fx-good")
        h.wait_log("module fx-good.so: refused")
        for _ in range(5):
            check(it.get(h.sock("fx-good"))[0] == 200, "the refused file took the serving id")
        m = status_json(h)["fx-good.so"]
        check(m["state"] == "refused" and m["socket"] == "" and "ABI version" in m["last_error"], m)
        # The id frees: the refusal shows there.
        os.unlink(os.path.join(h.moddir, "good.so"))
        wait_until(lambda: reason_of(poll(h.sock("fx-good"))[0]).startswith("refused: "),
                   what="refusal on the freed socket")
        expect(h.sock("fx-good"), 503, re.compile(r"refused: ABI version 2\.0 .*"))
        # A module wanting the id again gets it from the refusal.
        h.add(fixture("good"))
        wait_running(h, "fx-good")
        for _ in range(5):
            check(it.get(h.sock("fx-good"))[0] == 200, "refusal came back on a serving id")
        mods = status_json(h)
        check(mods["good.so"]["state"] == "running" and mods["fx-good.so"]["socket"] == "", mods)
    finally:
        h.stop()
        h.cleanup()


def need_root():
    if os.geteuid() != 0:
        raise Skip("needs root (strict modes)")


@test
def unsafe_module_file_and_dir_refusals_on_their_sockets():
    need_root()
    h = Host([fixture("good")], args=["--rescan", "200"])
    h.add(fixture("interval"), "gw.so")
    os.chmod(os.path.join(h.moddir, "gw.so"), 0o775)
    start(h, "fx-good")
    try:
        wait_until(lambda: os.path.exists(h.sock("gw")), what="gw's socket")
        expect(h.sock("gw"), 503, re.compile(r"refused: .*/gw\.so is writable by its group \(mode 0775\) "
                                             r"\(strict modes; --no-strict-modes to allow\)"))
        check(status_json(h)["gw.so"]["state"] == "refused", "gw.so not listed as refused")
        # Fixed (chmod): loaded, the refusal's socket goes.
        os.chmod(os.path.join(h.moddir, "gw.so"), 0o755)
        h.wait_serving("fx-interval")
        wait_until(lambda: gone(h.sock("gw")), what="gw's socket removed")
        # Unsafe again while running: stopped, refused on its file's socket.
        os.chmod(os.path.join(h.moddir, "gw.so"), 0o757)
        wait_until(lambda: gone(h.sock("fx-interval")) and os.path.exists(h.sock("gw")), what="gw refused again")
        expect(h.sock("gw"), 503, re.compile(r"refused: .*/gw\.so is writable by others \(mode 0757\) .*"))
        os.chmod(os.path.join(h.moddir, "gw.so"), 0o755)
        h.wait_serving("fx-interval")
        # The whole directory unsafe: every module refused with its reason.
        os.chmod(h.moddir, 0o777)
        wait_until(lambda: os.path.exists(h.sock("good")) and os.path.exists(h.sock("gw")),
                   what="directory refusal sockets")
        for sid in ("good", "gw"):
            expect(h.sock(sid), 503, re.compile(r"refused: .*/modules is writable by others \(mode 0777\)"
                                                r"; loading no module from it.*"))
        check(gone(h.sock("fx-good")) and gone(h.sock("fx-interval")), "module served from an unsafe dir")
        os.chmod(h.moddir, 0o755)
        h.wait_serving("fx-good")
        h.wait_serving("fx-interval")
        wait_until(lambda: gone(h.sock("good")) and gone(h.sock("gw")), what="refusal sockets removed")
    finally:
        h.stop()
        h.cleanup()


# ---------------------------------------------------------------- instances

INITFAIL = "refused: init failed: fixture: init fails on purpose"


def refused_entries(h):
    """Entries of `status --json` by instance id, or file for the rest."""
    return {(m["id"] if m["instance"] else m["file"]): m for m in it.status_doc(h)["modules"]}


@test
def refused_instance_shows_its_refusal_on_its_own_id_until_a_reload_drops_it():
    h = Host([fixture("good"), fixture("initfail")])
    conf = it.write_conf(h, "module one {\n    file initfail.so\n}\n"
                            "module two {\n    file initfail.so\n}\n"
                            "module three {\n    file good.so\n}\n")
    h.args = ["--config", conf]
    start(h, "fx-good", "three")
    try:
        for sid in ("initfail", "one", "two"):
            wait_until(lambda: os.path.exists(h.sock(sid)), what="refusal socket " + sid)
            expect(h.sock(sid), 503, INITFAIL)
        # Named after the instance's id: no socket under the id the
        # module says hello with, the serving ones untouched.
        check(socket_dirs(h) == sorted(["fx-good", "initfail", "one", "two", "three"]),
              "socket dirs %r" % socket_dirs(h))
        mods = refused_entries(h)
        for k in ("one", "two"):
            check(mods[k]["state"] == "refused" and mods[k]["socket"] == h.sock(k) and
                  "init fails on purpose" in mods[k]["last_error"], mods[k])
        lines = status_table(h)
        check(" refused " in table_row(lines, "one") and " refused " in table_row(lines, "two") and
              " refused " in table_row(lines, "initfail.so"), lines)
        # A reload that drops two (and three) takes their sockets along.
        it.write_conf(h, "module one {\n    file initfail.so\n}\n")
        h.signal(signal.SIGHUP)
        h.wait_log("reloaded; rescanning")
        wait_until(lambda: gone(h.sock("two")) and gone(h.sock("three")), what="dropped instances' sockets removed")
        h.wait_log("module two: instance no longer in the configuration")
        wait_until(lambda: "two" not in refused_entries(h), what="two out of the status")
        # one is tried again by the reload and refused again: still shown.
        wait_until(lambda: poll(h.sock("one"))[0] == ("HTTP/1.1 503 " + INITFAIL).encode(),
                   what="one refused after the reload")
        check(it.get(h.sock("fx-good"))[0] == 200, "fx-good disturbed")
    finally:
        h.stop()
        h.cleanup()
    check(not os.path.exists(h.sockdir) or socket_dirs(h) == [], "sockets left after stop")


@test
def refused_instance_never_takes_a_serving_modules_id():
    # The file's name gives no refusal socket on an id the configuration
    # gives to an instance: fx-good.so is broken, an instance of good.so
    # is fx-good.
    h = Host([fixture("good")])
    h.add(fixture("abi"), "fx-good.so")
    h.args = ["--config", it.write_conf(h, "module fx-good {\n    file good.so\n}\n")]
    start(h, "fx-good")
    try:
        h.wait_log("module fx-good.so: refused")
        for _ in range(5):
            check(it.get(h.sock("fx-good"))[0] == 200, "the refused file took the instance's id")
        m = refused_entries(h)["fx-good.so"]
        check(m["state"] == "refused" and m["socket"] == "", m)
        # good.so under its own id lost it to the instance: shown on "good".
        wait_until(lambda: os.path.exists(h.sock("good")), what="good.so's refusal socket")
        expect(h.sock("good"), 503, re.compile(r"refused: id \"fx-good\" belongs to the instance of good\.so .*"))
        check(socket_dirs(h) == ["fx-good", "good"], "socket dirs %r" % socket_dirs(h))
    finally:
        h.stop()
        h.cleanup()


@test
def unsafe_files_instances_are_refused_too():
    need_root()
    h = Host([fixture("good")], args=["--rescan", "200"])
    h.add(fixture("interval"), "gw.so")
    os.chmod(os.path.join(h.moddir, "gw.so"), 0o775)
    conf = it.write_conf(h, "module inst1 {\n    file gw.so\n}\nmodule inst2 {\n    file gw.so\n}\n")
    h.args += ["--config", conf]
    try:
        r = subprocess.run(h.cmd(["--check"]), capture_output=True, text=True, timeout=60, env=h.env)
        check(r.returncode == 1, "--check exit %d: %s %s" % (r.returncode, r.stdout, r.stderr))
        for want in ("FAIL gw.so: ", "FAIL gw.so inst1: ", "FAIL gw.so inst2: ", "check: 1 module ok, 3 failing"):
            check(want in r.stdout, "missing %r in:\n%s" % (want, r.stdout))
        check(r.stdout.count("is writable by its group (mode 0775)") == 3, r.stdout)
        start(h, "fx-good")
        rx = re.compile(r"refused: .*/gw\.so is writable by its group \(mode 0775\) "
                        r"\(strict modes; --no-strict-modes to allow\)")
        for sid in ("gw", "inst1", "inst2"):
            wait_until(lambda: os.path.exists(h.sock(sid)), what="refusal socket " + sid)
            expect(h.sock(sid), 503, rx)
        mods = refused_entries(h)
        check(all(mods[k]["state"] == "refused" and mods[k]["pid"] == 0 for k in ("gw.so", "inst1", "inst2")), mods)
        # Fixed: the file and both instances serve on their own ids.
        os.chmod(os.path.join(h.moddir, "gw.so"), 0o755)
        for mid in ("fx-interval", "inst1", "inst2"):
            wait_running(h, mid)
        wait_until(lambda: gone(h.sock("gw")), what="gw's refusal socket removed")
        # Unsafe again: all three stopped and refused again.
        os.chmod(os.path.join(h.moddir, "gw.so"), 0o757)
        wait_until(lambda: gone(h.sock("fx-interval")) and os.path.exists(h.sock("gw")), what="gw refused again")
        for sid in ("inst1", "inst2"):
            wait_until(lambda: poll(h.sock(sid))[1] == 503 and
                       "writable by others" in reason_of(poll(h.sock(sid))[0]), what=sid + " refused again")
        check(it.get(h.sock("fx-good"))[0] == 200, "fx-good disturbed")
    finally:
        h.stop()
        h.cleanup()


# ---------------------------------------------------------------- the real Scope

def harness():
    d = find_harness(SRCDIR)
    if d is None:
        raise Skip("no Scope harness ($SCOPE_HARNESS or ../shared/scope)")
    return d


def failing_host():
    """A host with one module per kind of failure, crashes already done."""
    h = Host([fixture("good"), fixture("fail"), fixture("nan"), fixture("abi"), fixture("crash")],
             args=["--param", "fx-crash.at=2", "--max-failures", "1"])
    with open(os.path.join(h.moddir, "not_an_elf.so"), "w") as f:
        f.write("this is not an ELF file\n")
    start(h, "fx-good", "fx-crash")
    h.add(fixture("dup"), "zz-dup.so")  # after good.so serves: it loses
    bring_down(h, "fx-crash")
    for sid in ("abi", "zz-dup", "not-an-elf"):
        wait_until(lambda: os.path.exists(h.sock(sid)), what="socket " + sid)
    return h


# What Scope must show: the probe's words, then our status line.
NON200 = "error: plugin returned non-200 status code: "
SHOWN = {
    "fx-good": re.compile(r"ok"),
    "fx-fail": re.compile(re.escape(NON200 + "500 " + HWMON)),
    "fx-nan": re.compile(re.escape(NON200 + "500 collect: yajl_gen_double: invalid number (NaN, Inf or malformed)")),
    "abi": re.compile(re.escape(NON200 + "503 refused: ABI version 2.0 not supported") + ".*"),
    "zz-dup": re.compile(re.escape(NON200 + "503 refused: id \"fx-good\" is already served by ") + ".*"),
    "not-an-elf": re.compile(re.escape(NON200 + "503 refused: not an ELF file")),
    "fx-crash": re.compile(re.escape(NON200 + "503 killed by SIGSEGV (11); failed 1 time in a row") + ".*"),
}


def statuses(text):
    """plugin <id> status=<...> lines (plugincheck and scope-app status)."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"plugin (\S+) status=(.*?)(?: \(round \d+\))?(?: interfaces=\S*)?$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def check_shown(got, where):
    for pid, rx in SHOWN.items():
        check(pid in got, "%s: plugin %s not listed: %r" % (where, pid, got))
        check(rx.fullmatch(got[pid]), "%s: plugin %s shows %r" % (where, pid, got[pid]))


def plugincheck(scope, h, rounds):
    """What the probe's own plugin registry (plugincheck) prints over
    rounds polls of h's sockets: stdout and stderr together."""
    r = subprocess.run([os.path.join(scope, "plugincheck"), "-root", h.sockdir, "-n", str(rounds)],
                       capture_output=True, text=True, timeout=120)
    return r.stdout + r.stderr


@test
def plugincheck_shows_why_in_every_round_of_a_crash_loop():
    scope = harness()
    h = Host([fixture("crash")], args=["--param", "fx-crash.at=1", "--backoff-min", "50", "--backoff-max", "200",
                                       "--max-failures", "0"])
    h.start()
    try:
        wait_until(lambda: os.path.exists(h.sock("fx-crash")), what="fx-crash socket")
        loop = re.compile(re.escape(NON200) + r"(503 killed by SIGSEGV \(11\); restarting in \d+ ms|503 starting)")
        for _ in range(4):
            got = statuses(plugincheck(scope, h, 1)).get("fx-crash")
            check(got is not None and loop.fullmatch(got), "plugincheck shows %r" % got)
    finally:
        h.stop()
        h.cleanup()


@test
def plugincheck_shows_every_reason():
    scope = harness()
    h = failing_host()
    try:
        out = plugincheck(scope, h, 2)
        check("RESULT: FAIL" in out, "plugincheck passed failing modules:\n" + out)
        check_shown(statuses(out), "plugincheck")
    finally:
        h.stop()
        h.cleanup()


@test
def scope_app_status_shows_every_reason():
    scope = harness()
    h = failing_host()
    state = tempfile.mkdtemp(prefix="sph-scope-")
    env = dict(os.environ, PORT=str(free_port()), STATE=state)
    app = os.path.join(scope, "scope-app")
    try:
        r = subprocess.run([app, "start", h.sockdir], capture_output=True, text=True, timeout=120, env=env)
        check(r.returncode == 0, "scope-app start: %s %s" % (r.stdout, r.stderr))
        last = {}

        def shown():
            nonlocal last
            r = subprocess.run([app, "status"], capture_output=True, text=True, timeout=60, env=env)
            last = statuses(r.stdout)
            return all(p in last and rx.fullmatch(last[p]) for p, rx in SHOWN.items())
        try:
            wait_until(shown, timeout=60, step=1.0, what="scope-app status showing every reason")
        except AssertionError:
            check_shown(last, "scope-app status")
            raise
    finally:
        subprocess.run([app, "stop"], capture_output=True, timeout=60, env=env)
        shutil.rmtree(state, ignore_errors=True)
        h.stop()
        h.cleanup()


if __name__ == "__main__":
    sys.exit(it.run_tests(TESTS, skip=(Skip,)))
