#!/usr/bin/env python3
"""Tests of the exec module (plugins/exec.c, scope-plugin-exec(8)): the
line protocol and JSON output end to end through the host, the script's
environment and standard error, and hostile scripts (binary garbage,
100 MB of output, never exits, exits non-zero, a child that keeps stdout
open, SIGTERM ignored, a setsid child) with a neighbour module polled all
along.

Usage: exec.py --builddir DIR [--only SUBSTRING]
Prints one line per test and "N passed, N failed".  Scripts are written
into private temporary directories; nothing needs the network.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import integration as it  # noqa: E402  (the shared Host, Conn, get, waits)

CID = "0123456789abcdef" * 4
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def host_node(doc, topo="Host", node="testhost;<host>"):
    return doc[topo]["nodes"][node]


class Scripts:
    """A private directory of shell scripts, each run with a marker in its
    environment so that the test can find every process it left."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sph-exec-")
        # Given to scripts only, as SCOPE_PARAM_MARKER (see exec_host).
        self.marker = uuid.uuid4().hex

    def write(self, name, body):
        return it.write_script(os.path.join(self.dir, name), body)

    def leftovers(self):
        """Pids of live processes that carry our marker."""
        found = []
        needle = b"SCOPE_PARAM_MARKER=" + self.marker.encode()
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) == os.getpid():
                continue
            try:
                with open("/proc/%s/environ" % d, "rb") as f:
                    env = f.read()
                with open("/proc/%s/stat" % d) as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if needle in env.split(b"\0") and state != "Z":
                found.append(int(d))
        return found

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def exec_host(scripts, command, extra=(), interval=0, more_modules=(), mid="clock", more_conf=""):
    """A host serving the exec instance mid (and more_modules) with
    command; interval 0 runs the script on every request, so each poll
    sees its outcome.  The scripts get the marker in their environment
    (every param is there as SCOPE_PARAM_<NAME>).  more_conf is appended
    to the configuration file."""
    h = it.Host([it.plugin("exec")] + list(more_modules), args=list(extra))
    conf = os.path.join(h.dir, "host.conf")
    with open(conf, "w") as f:
        f.write("module %s {\n    file exec.so\n    interval %d\n    param command %s\n"
                "    param marker %s\n}\n%s" % (mid, interval, command, scripts.marker, more_conf))
    h.args = ["--config", conf] + h.args
    return h


def report(h, mid="clock"):
    st, _, body = it.get(h.sock(mid))
    it.check(st == 200, "%s: status %d: %s" % (mid, st, body[:300]))
    return it.assert_report(body, mid)


def wait_error(h, text, mid="clock"):
    """Waits for a 500 from the module and for text in the log."""
    def failed():
        st, _, body = it.get(h.sock(mid))
        return st == 500 and json.loads(body)["error"]
    it.wait_until(failed, 20, what="%s failing with %r" % (mid, text))
    h.wait_log(text, 20)


PROTOCOL = r'''
# a comment, then a blank line

metric host offset 0.0125 label="Clock offset (s)" priority=3.5
metric host used 42.5 format=percent
metric host big 3e9 format=filesize min=0 max=8e9
metric host negative -2.5
info host source "ntp1.example.net (stratum 2)" label="NTP source" type=text
info host count 7
table errors "Log errors" Source Errors "Last error"
row host errors sshd 3 "Failed password"
row host errors kernel 1
metric container:%s restarts 2 format=integer label=Restarts
info container:%s state healthy
metric process:1 open_files 87 format=integer
row process:1 errors init 0 none
''' % (CID, CID)


@test
def line_protocol_every_kind():
    s = Scripts()
    path = s.write("proto.sh", "cat <<'EOF'\n" + PROTOCOL + "EOF\n")
    h = exec_host(s, path).start(wait_for=["clock"])
    try:
        doc = report(h)
        n = host_node(doc)
        m = n["metrics"]
        it.check(m["clock.offset"]["samples"][0]["value"] == 0.0125, "offset %r" % m["clock.offset"])
        it.check((m["clock.offset"]["min"], m["clock.offset"]["max"]) == (0, 0.0125), "default range 0..value")
        it.check((m["clock.used"]["min"], m["clock.used"]["max"]) == (0, 100), "percent range 0..100")
        it.check((m["clock.big"]["min"], m["clock.big"]["max"]) == (0, 8e9), "given min/max")
        it.check((m["clock.negative"]["min"], m["clock.negative"]["max"]) == (-2.5, 0), "negative range")
        mt = doc["Host"]["metric_templates"]
        it.check(mt["clock.offset"]["label"] == "Clock offset (s)" and mt["clock.offset"]["priority"] == 3.5,
                 "offset template %r" % mt["clock.offset"])
        it.check(mt["clock.used"]["format"] == "percent" and mt["clock.used"]["label"] == "used",
                 "used template %r" % mt["clock.used"])
        it.check(mt["clock.big"]["format"] == "filesize", "filesize")
        it.check(mt["clock.used"]["priority"] < mt["clock.big"]["priority"], "default priorities in order")
        lat = n["latest"]
        it.check(lat["clock.source"]["value"] == "ntp1.example.net (stratum 2)", "info text %r" % lat["clock.source"])
        md = doc["Host"]["metadata_templates"]
        it.check(md["clock.source"]["label"] == "NTP source" and md["clock.count"]["label"] == "count",
                 "metadata templates %r" % md)
        it.check(md["clock.source"]["priority"] < 10, "metadata visible without 'show more'")
        tt = doc["Host"]["table_templates"]["clock.errors"]
        it.check(tt["type"] == "multicolumn-table" and tt["label"] == "Log errors", "table template %r" % tt)
        it.check([c["label"] for c in tt["columns"]] == ["Source", "Errors", "Last error"], "columns %r" % tt["columns"])
        pre = tt["prefix"]
        it.check(lat[pre + "sshd___c0"]["value"] == "sshd", "first column names the row")
        it.check(lat[pre + "sshd___c2"]["value"] == "Failed password", "row value")
        it.check(pre + "kernel___c2" not in lat and lat[pre + "kernel___c1"]["value"] == "1", "short row")
        c = host_node(doc, "Container", CID + ";<container>")
        it.check(c["metrics"]["clock.restarts"]["samples"][0]["value"] == 2, "container metric")
        it.check(c["latest"]["clock.state"]["value"] == "healthy", "container info")
        it.check(doc["Container"]["metric_templates"]["clock.restarts"]["format"] == "integer", "container template")
        p = host_node(doc, "Process", "testhost;1")
        it.check(p["metrics"]["clock.open_files"]["samples"][0]["value"] == 87, "process metric")
        it.check("clock.errors" in doc["Process"]["table_templates"], "table template per topology")
        it.check(p["latest"][pre + "init___c0"]["value"] == "init", "process row")
    finally:
        h.stop()
        h.cleanup()
        s.cleanup()


MALFORMED = [
    ("metric hst a 1", "line 2: node must be host", "metric hst a 1"),
    ("metric host a one", "line 2: value is not a finite number", "metric host a one"),
    ("metric host a nan", "value is not a finite number", ""),
    ("metric host a inf", "value is not a finite number", ""),
    ("metric host a 1 colour=red", "unknown option", ""),
    ("metric host a 1 format=bytes", "format must be", ""),
    ("metric host a.b 1", "key must be", ""),
    ('metric host a 1 label="open', "unterminated quote", ""),
    ("row host nosuch r 1", "is not declared", ""),
    ("metric process:0 a 1", "pid above 0", ""),
    ("metric container:xyz a 1", "container id must be 64", ""),
    ("frobnicate host", "unknown record", "frobnicate host"),
    ("metric host a 1\\nmetric host a 2", "line 3", ""),
]


@test
def malformed_line_fails_the_poll_with_the_line_as_reason():
    s = Scripts()
    for i, (line, reason, quoted) in enumerate(MALFORMED):
        if not reason:
            continue
        path = s.write("bad%d.sh" % i, "printf '%%s\\n' 'metric host ok 1'\nprintf '%s\\n'\n" % line.replace("'", "'\\''"))
        h = exec_host(s, path).start()
        try:
            wait_error(h, reason)
            log = h.logtext()
            it.check("module clock: bad%d.sh: " % i in log, "reason not logged with module and program: %s" % log[-800:])
            if quoted:
                it.check('"%s"' % quoted in log, "reason lacks the line %r" % quoted)
            st, _, body = it.get(h.sock("clock"))
            it.check(st == 500 and "clock" in json.loads(body)["error"], "not a 500 naming the module")
        finally:
            h.stop()
            h.cleanup()
    s.cleanup()


@test
def json_output_passed_on_and_checked():
    s = Scripts()
    good = {"Host": {"nodes": {"testhost;<host>": {"id": "testhost;<host>", "topology": "host",
                                                    "latest": {"j": {"timestamp": "2024-03-01T10:00:00Z", "value": "v"}}}},
                     "metadata_templates": {"j": {"id": "j", "label": "J", "priority": 3, "from": "latest"}}}}
    path = s.write("json.sh", "cat <<'EOF'\n  \n%s\nEOF\n" % json.dumps(good, indent=1))
    h = exec_host(s, path).start(wait_for=["clock"])
    try:
        doc = report(h)
        it.check(doc["Host"] == good["Host"], "JSON not passed on as it is: %r" % doc["Host"])
    finally:
        h.stop()
        h.cleanup()
    for name, out, reason in [
            ("lower", '{"host": {}}', '"host" is not a Scope topology'),
            ("plugins", '{"Plugins": []}', '"Plugins" member'),
            ("trunc", '{"Host": {"nodes": {', "JSON output:"),
            ("array", '{"Host": []}', "topology must be an object"),
            ("big", '{"Host": {"x": 1e999}}', "out of range"),
            ("two", '{"Host": {}} {"Host": {}}', "JSON output:")]:
        path = s.write(name + ".sh", "printf '%%s\\n' '%s'\n" % out)
        h = exec_host(s, path).start()
        try:
            wait_error(h, reason)
        finally:
            h.stop()
            h.cleanup()
    s.cleanup()


@test
def environment_and_stderr():
    s = Scripts()
    path = s.write("env.sh", r'''
echo "info host id $SCOPE_PLUGIN_ID"
echo "info host hn $SCOPE_HOSTNAME"
echo "info host pid \"$SCOPE_PROBE_ID\""
echo "info host cmd \"$SCOPE_PARAM_COMMAND\""
echo "info host site \"$SCOPE_PARAM_SITE_NAME\""
echo "info host secret \"${SCOPE_PARAM_SECRET:-unset}\""
echo "info host timeout \"${SCOPE_PARAM_TIMEOUT:-unset}\""
echo "info host stdin \"$(cat | wc -c)\""
echo "info host socks \"$(ls -l /proc/$$/fd | grep -c -e socket: -e memfd:)\""
i=0; while [ $i -lt 50 ]; do echo "complaint $i" >&2; i=$((i+1)); done
printf 'bad \001 byte\n' >&2
''')
    h = exec_host(s, path + " arg1", ["--param", "clock.site.name=Main hall",
                                      "--param", "clock.secret=x"]).start(wait_for=["clock"])
    try:
        lat = host_node(report(h))["latest"]
        val = {k.split(".", 1)[1]: v["value"] for k, v in lat.items()}
        it.check(val["id"] == "clock", "SCOPE_PLUGIN_ID %r" % val["id"])
        it.check(val["hn"] == "testhost", "SCOPE_HOSTNAME %r" % val["hn"])
        it.check(val["pid"] == "5f2a9c", "SCOPE_PROBE_ID %r" % val["pid"])
        it.check(val["cmd"] == path + " arg1", "SCOPE_PARAM_COMMAND %r" % val["cmd"])
        it.check(val["site"] == "Main hall", "SCOPE_PARAM_SITE_NAME %r" % val["site"])
        # Every param of the instance, and only those: no "timeout" was given.
        it.check(val["secret"] == "x", "SCOPE_PARAM_SECRET %r" % val["secret"])
        it.check(val["timeout"] == "unset", "SCOPE_PARAM_TIMEOUT %r" % val["timeout"])
        it.check(val["stdin"] == "0", "stdin not empty")
        it.check(val["socks"] == "0", "%s of the host's sockets leaked into the script" % val["socks"])
        h.wait_log("complaint 0")
        log = h.logtext()
        it.check("module clock: stderr: complaint 0" in log, "stderr not logged with the module id")
        it.check("complaint 19" in log and "complaint 20" not in log, "stderr not limited to 20 lines")
        it.check("more standard error lines not logged" in log, "dropped lines not counted")
    finally:
        h.stop()
        h.cleanup()
        s.cleanup()


# Hostile scripts: (name, body, text in the reason).  Each leaves nothing
# behind and never holds up the neighbour module.
HOSTILE = [
    ("garbage", "head -c 200000 /dev/urandom\n", ": line "),
    ("huge", "yes 'metric host a 1' | head -c 100000000\n", "output larger than 1048576 bytes"),
    ("forever", "echo 'metric host a 1'\nexec sleep 1000\n", "timed out after"),
    ("status", "echo 'metric host a 1'\necho 'disk on fire' >&2\nexit 3\n", "exited with status 3: disk on fire"),
    ("signal", "kill -SEGV $$\n", "killed by signal 11"),
    ("noterm", "trap '' TERM\nwhile :; do :; done\n", "timed out after"),
    ("closes", "exec >&- 2>&-\nsleep 1000\n", "timed out after"),
    ("setsid", "setsid sh -c 'sleep 1000' &\nsleep 0.3\necho 'metric host a 1'\n", "output was still open"),
    ("missing", None, "command not found"),
]


def poll_neighbour(h, stop, result):
    """Polls the load module like the probe, recording failures and the
    slowest answer."""
    c = None
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            if c is None:
                c = it.Conn(h.sock("load"), timeout=5.0)
            st, _, _ = c.request()
            if st != 200:
                result["failed"] += 1
        except Exception as e:  # noqa: BLE001 - counted, reported by the test
            result["failed"] += 1
            result["last"] = repr(e)
            c = None
        result["polls"] += 1
        result["slowest"] = max(result["slowest"], time.monotonic() - t0)
        time.sleep(0.05)


class NeighbourWatch:
    """Polls the load module of h in a thread while the block runs; on
    exit checks that every poll succeeded and none took long."""

    def __init__(self, h, name):
        self.h, self.name = h, name
        self.stop = threading.Event()
        self.res = {"failed": 0, "polls": 0, "slowest": 0.0, "last": None}

    def __enter__(self):
        self.t = threading.Thread(target=poll_neighbour, args=(self.h, self.stop, self.res))
        self.t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.t.join()
        if exc[0] is not None:
            return False
        r = self.res
        it.check(r["failed"] == 0 and r["polls"] > 0, "%s: neighbour failed %d of %d polls (%s)"
                 % (self.name, r["failed"], r["polls"], r["last"]))
        it.check(r["slowest"] < 2.0, "%s: neighbour took %.2fs" % (self.name, r["slowest"]))
        return False


@test
def hostile_scripts_fail_cleanly_and_leave_nothing():
    s = Scripts()
    for name, body, reason in HOSTILE:
        path = s.write(name + ".sh", body) if body is not None else os.path.join(s.dir, "no-such-program")
        h = exec_host(s, path, ["--param", "clock.timeout=400", "--deadline", "1000"],
                      more_modules=[it.plugin("load")]).start(wait_for=["load"])
        try:
            with NeighbourWatch(h, name):
                wait_error(h, reason)
                # Three more polls: each one runs the script again.
                for _ in range(3):
                    t0 = time.monotonic()
                    st, _, body = it.get(h.sock("clock"), timeout=10)
                    it.check(st == 500, "%s: status %d" % (name, st))
                    it.check(time.monotonic() - t0 < 5, "%s: poll took %.1fs" % (name, time.monotonic() - t0))
                it.wait_until(lambda: not s.leftovers(), 10, what="%s: no process left" % name)
                it.check(h.proc.poll() is None, "host died")
                log = h.logtext()
                it.check("restart" not in log, "%s: the worker was restarted:\n%s" % (name, log[-1500:]))
        except Exception as e:
            raise AssertionError("%s: %r; host log:\n%s" % (name, e, h.logtext()[-3000:])) from e
        finally:
            h.stop()
            h.cleanup()
        it.check(not s.leftovers(), "%s: processes left after the host stopped: %r" % (name, s.leftovers()))
    s.cleanup()


@test
def background_child_killed_when_the_script_exits():
    s = Scripts()
    path = s.write("bg.sh", "(sleep 1000; echo late) &\necho 'metric host a 1'\n")
    h = exec_host(s, path).start(wait_for=["clock"])
    try:
        for _ in range(3):
            report(h)
        it.wait_until(lambda: not s.leftovers(), 10, what="background children killed")
    finally:
        h.stop()
        h.cleanup()
        s.cleanup()


@test
def interval_mode_serves_cache_and_the_failure():
    s = Scripts()
    flag = os.path.join(s.dir, "fail")
    count = os.path.join(s.dir, "count")
    path = s.write("iv.sh", 'echo x >> "%s"\n[ -e "%s" ] && { echo "broken" >&2; exit 1; }\n'
                   'echo "metric host runs $(wc -l < "%s")"\n' % (count, flag, count))
    h = exec_host(s, path, interval=200).start(wait_for=["clock"])
    try:
        first = host_node(report(h))["metrics"]["clock.runs"]["samples"][0]["value"]
        it.wait_until(lambda: host_node(report(h))["metrics"]["clock.runs"]["samples"][0]["value"] > first,
                      10, what="the interval runs the script again")
        open(flag, "w").close()
        wait_error(h, "iv.sh: exited with status 1: broken")
        os.unlink(flag)
        h.wait_serving("clock")
    finally:
        h.stop()
        h.cleanup()
        s.cleanup()


@test
def two_instances_at_once_with_their_own_ids_params_and_failures():
    # Two instances of exec.so in one host, polled at the same time: each
    # runs its own command with its own params and id, keys its values by
    # that id, and one failing does not touch the other.
    s = Scripts()
    a = s.write("a.sh", 'echo "metric host value $SCOPE_PARAM_N"\n'
                        'echo "info host who \\"$SCOPE_PLUGIN_ID ${SCOPE_PARAM_ONLYB:-none}\\""\n'
                        'echo "whine from $SCOPE_PLUGIN_ID" >&2\n')
    bad = s.write("bad.sh", "echo 'metrc host x 1'\n")
    h = exec_host(s, a, interval=0, mid="alpha",
                  more_conf="module beta {\n    file exec.so\n    label Beta\n    interval 0\n"
                            "    param command %s\n    param n 2\n    param onlyb yes\n"
                            "    param marker %s\n}\n"
                            "module gamma {\n    file exec.so\n    interval 0\n    param command %s\n"
                            "    param marker %s\n}\n" % (a, s.marker, bad, s.marker),
                  extra=["--param", "alpha.n=1"])
    h.start(wait_for=["alpha", "beta"])
    try:
        results = {}

        def poll(mid):
            got = []
            for _ in range(10):
                st, _, body = it.get(h.sock(mid), timeout=10)
                got.append((st, body))
            results[mid] = got
        threads = [threading.Thread(target=poll, args=(m,)) for m in ("alpha", "beta", "gamma")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for mid, n, who in (("alpha", 1, "alpha none"), ("beta", 2, "beta yes")):
            for st, body in results[mid]:
                it.check(st == 200, "%s: %d %r" % (mid, st, body[:300]))
                node = host_node(it.assert_report(body, mid))
                it.check(node["metrics"][mid + ".value"]["samples"][0]["value"] == n, "%s: %r" % (mid, node))
                it.check(node["latest"][mid + ".who"]["value"] == who, "%s: %r" % (mid, node["latest"]))
                it.check(not any(k.startswith(("alpha.", "beta.")) and not k.startswith(mid + ".")
                                 for k in list(node["metrics"]) + list(node["latest"])), "keys of the other instance")
        for st, body in results["gamma"]:
            it.check(st == 500, "gamma: %d %r" % (st, body[:200]))
        it.check(it.assert_report(it.get(h.sock("beta"))[2], "beta")["Plugins"][0]["label"] == "Beta", "beta's label")
        h.wait_log('module gamma: bad.sh: line 1: unknown record (metric, info, table or row expected): "metrc host x 1"')
        h.wait_log("module alpha: stderr: whine from alpha")
        h.wait_log("module beta: stderr: whine from beta")
        it.check(not os.path.exists(os.path.join(h.sockdir, "exec")), "exec served under its own id")
        mods = it.status_by_id(h)
        for mid in ("alpha", "beta", "gamma"):
            it.check(mods[mid]["instance"] is True and mods[mid]["file"] == "exec.so", mods[mid])
        it.check(mods["alpha"]["pid"] != mods["beta"]["pid"], "one worker for two instances")
        it.check(mods["exec.so"]["state"] == "refused" and "served only as instances" in mods["exec.so"]["last_error"],
                 mods["exec.so"])
        exe = os.path.join(it.BUILDDIR, "scope-plugin-host")
        r = subprocess.run([exe, "status", "--socket-dir", h.sockdir], capture_output=True, text=True, timeout=20)
        lines = r.stdout.splitlines()
        for mid in ("alpha", "beta"):
            it.check(any(l.startswith(mid + " ") and " running " in l for l in lines), r.stdout)
    finally:
        h.stop()
        h.cleanup()
        s.cleanup()


@test
def check_mode_runs_each_instance():
    s = Scripts()
    a = s.write("a.sh", "echo 'metric host v 1'\n")
    bad = s.write("bad.sh", "echo 'metrc host x 1'\n")
    h = exec_host(s, a, mid="alpha",
                  more_conf="module beta {\n    file exec.so\n    param command %s\n}\n" % bad)
    try:
        r = subprocess.run(h.cmd(["--check"]), capture_output=True, text=True, timeout=60, env=h.env)
        it.check(r.returncode == 1, "--check exit %d: %s %s" % (r.returncode, r.stdout, r.stderr))
        for want in ("ok   exec.so alpha: ", "skip exec.so: served only as instances (alpha, beta)",
                     "FAIL exec.so beta: "):
            it.check(want in r.stdout, "missing %r in:\n%s" % (want, r.stdout))
        # The reason, logged at error level with the instance's id.
        it.check('module beta: bad.sh: line 1: unknown record' in r.stdout + r.stderr, r.stdout + r.stderr)
    finally:
        h.cleanup()
        s.cleanup()


def gave_up_below_deadline(h, reasons):
    """Each instance (id -> its reason) fails its poll and logs its
    reason, and the host killed no worker at a deadline."""
    for mid, reason in reasons.items():
        # Until the supervisor logs "serving", its fallback may hold the
        # connection ("starting") or close it as the worker takes over.
        h.wait_log("module %s: serving " % mid, timeout=15)
        st, _, body = it.get(h.sock(mid), timeout=10)
        it.check(st == 500, "%s: %d %r" % (mid, st, body[:200]))
        h.wait_log(reason)
    it.check("did not finish within" not in h.logtext(), "the host killed a worker at its deadline:\n" + h.logtext()[-1500:])
    mods = it.status_by_id(h)
    it.check(all(mods[mid]["restarts"] == 0 for mid in reasons), "a worker was restarted: %r" % mods)


@test
def timeout_follows_the_deadline():
    # No timeout param: the command is stopped below the instance's
    # deadline (less a tenth, at least 50 ms), so the poll fails with the
    # module's reason, not with the worker killed.
    s = Scripts()
    path = s.write("slow.sh", "sleep 30\n")
    conf = "module later {\n    file exec.so\n    interval 0\n    deadline 1500\n    param command %s\n" \
           "    param marker %s\n}\n" % (path, s.marker)
    h = exec_host(s, path, mid="sooner", more_conf=conf, extra=["--set", "sooner.deadline=600"])
    h.start()
    try:
        gave_up_below_deadline(h, {"sooner": "module sooner: slow.sh: timed out after 540 ms (killed)",
                                   "later": "module later: slow.sh: timed out after 1350 ms (killed)"})
        it.wait_until(lambda: not s.leftovers(), 10, what="no process left")
    finally:
        h.stop()
        h.cleanup()
        s.cleanup()


SYSLOG = """\
Dec  1 10:00:01 web1 sshd[1234]: error: Failed password for root from 10.0.0.7 port 2222 ssh2
Dec  1 10:00:02 web1 sshd[1234]: error: Failed password for admin from 10.0.0.7 port 2223 ssh2
Dec  1 10:00:03 web1 kernel: [ 12.3] EXT4-fs error (device sda1): reading directory lblock 0
Dec  1 10:00:04 web1 systemd[1]: Started Daily apt download activities.
2026-12-01T10:00:07.123456+00:00 web1 nginx[55]: connect() failed (111: Connection refused)
Dec  1 10:00:08 web1 app[9]: \xc3\xa9chec "quoted" \x01 byte
"""


@test
def contrib_log_errors_example():
    s = Scripts()
    log = os.path.join(s.dir, "syslog")
    with open(log, "wb") as f:
        f.write(SYSLOG.encode("latin-1"))
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "contrib", "exec", "log-errors.sh")
    h = exec_host(s, "sh " + os.path.abspath(src), ["--param", "clock.log=" + log,
                                                    "--param", "clock.pattern=error|fail|chec"]).start(wait_for=["clock"])
    try:
        doc = report(h)
        n = host_node(doc)
        it.check(n["metrics"]["clock.errors"]["samples"][0]["value"] == 5, "error count %r" % n["metrics"])
        rows = {}
        for k, v in n["latest"].items():
            if k.startswith("clock.by_program."):
                row, col = k[len("clock.by_program."):].split("___")
                rows.setdefault(row, {})[col] = v["value"]
        it.check(set(rows) == {"sshd", "kernel", "nginx", "app"}, "rows %r" % rows)
        it.check(rows["sshd"]["c0"] == "sshd" and rows["sshd"]["c1"] == "2", "sshd row %r" % rows["sshd"])
        it.check(rows["nginx"]["c2"].startswith("connect() failed"), "nginx message %r" % rows["nginx"])
        it.check(doc["Host"]["table_templates"]["clock.by_program"]["label"] == "Log errors by program", "table")
    finally:
        h.stop()
        h.cleanup()
        s.cleanup()


@test
def not_served_under_its_own_id_and_an_instance_without_a_command_refused():
    # A default install: exec.so is in the module directory, no
    # configuration names it.  It is not served, and not refused as failing.
    h = it.Host([it.plugin("exec"), it.plugin("load")]).start(wait_for=["load"])
    try:
        h.wait_log("module exec.so: not loaded: served only as instances, and none is configured")
        log = h.logtext()
        it.check("init failed" not in log and "param command is not set" not in log, log[-800:])
        it.check(not os.path.exists(os.path.join(h.sockdir, "exec")), "exec served under its own id")
    finally:
        h.stop()
        h.cleanup()
    h = it.Host([it.plugin("exec")])
    conf = os.path.join(h.dir, "host.conf")
    with open(conf, "w") as f:
        f.write("module nocmd {\n    file exec.so\n}\n")
    h.args = ["--config", conf]
    h.start()
    try:
        h.wait_log("module nocmd: param command is not set")
        h.wait_log("refused")
    finally:
        h.stop()
        h.cleanup()


if __name__ == "__main__":
    # integration.py's runner (--builddir, --only), over these tests.
    it.TESTS[:] = TESTS
    sys.exit(it.main())
