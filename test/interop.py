#!/usr/bin/env python3
"""Interop tests: every bundled module under the real Scope app and probe.

Usage: interop.py --builddir DIR [--srcdir DIR] [--shots DIR] [--no-shots]

Runs this build's scope-plugin-host with every bundled module
(DIR/plugins/.libs/*.so) on private sockets, runs Scope's app and probe
(scope-app from the Scope harness) on them, and checks what the UI
receives (the node details the app serves, as `scope-app details` prints
them) for the host node and for process nodes:

  - every module's plugin status is "ok";
  - every value a module reports (metrics, metadata, table rows and their
    cells) is in the details of its node;
  - every row of a module's multicolumn table has a first column naming it;
  - labels are unique within a node (metrics, metadata and tables, Scope's
    own included);
  - no module repeats a Scope built-in (by label, and no metric that always
    equals one of Scope's own on the same node);
  - the metric selector stays usable: at most 2 metrics per module per
    host or process node, at most 8 metric templates per topology over all
    modules (containers and pods: 4 per module);
  - no raw byte count: no metadata value or table cell that is a bare
    integer of 6 digits or more.

Screenshots of the host node and of the host's own process node go to
--shots (default DIR/test/interop-shots) when chromium is installed.

The harness is $SCOPE_HARNESS, else ../shared/scope beside the source tree;
without it (a user's machine) the test is skipped (exit 77).  Every wait is
bounded; everything started is stopped; the app listens on a free loopback
port with its own state directory.
"""
import argparse
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

# Modules that make sense only as configured instances.
INSTANCE_ONLY = {"exec.so", "prometheus.so"}

SKIP = 77

# What Scope shows itself (probe/host, probe/process, probe/docker), and
# the names a module would give the same value.  Compared case- and
# punctuation-insensitively.
BUILTIN = {
    "Host": ["CPU", "CPU usage", "Memory", "Memory used", "Memory usage",
             "Load (1m)", "Load (1 min)", "Load 1m", "Load average (1m)",
             "Uptime", "Kernel version", "OS", "Local networks", "Hostname"],
    "Process": ["CPU", "CPU usage", "Memory", "Memory usage", "RSS",
                "Open files", "Open file descriptors", "File descriptors",
                "# Threads", "Threads", "PID", "Parent PID", "PPID",
                "Command"],
    "Container": ["CPU", "CPU usage", "Memory", "Memory usage"],
    "Pod": ["CPU", "Memory"],
}
API_TOPOLOGY = {"Host": "hosts", "Process": "processes",
                "Container": "containers", "Pod": "pods"}
METRICS_PER_MODULE = {"Host": 2, "Process": 2, "Container": 4, "Pod": 4}
TEMPLATES_PER_TOPOLOGY = {"Host": 8, "Process": 8}
PROCESS_NODES = 12      # process nodes checked (of hundreds)


def norm(label):
    return re.sub(r"[^a-z0-9#]+", " ", label.lower()).strip()


class Failure(Exception):
    pass


class Run:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="sph-interop-")
        self.app = os.path.join(args.harness, "scope-app")
        self.env = dict(os.environ, STATE=os.path.join(self.tmp, "app"),
                        PUBLISH="1s")
        self.host = None
        self.failures = []
        self.passed = 0

    # --- starting and stopping ------------------------------------------

    def start(self):
        mods = os.path.join(self.tmp, "modules")
        os.mkdir(mods)
        os.chmod(self.tmp, 0o755)
        os.chmod(mods, 0o755)
        # Every bundled module, as a default install has them.  exec and
        # prometheus serve only as configured instances: without a
        # configuration they have no socket and no Plugins entry (their
        # own interop test, test/interop-noconfig.py, configures them).
        found = sorted(glob.glob(os.path.join(
            self.args.builddir, "plugins", ".libs", "*.so")))
        if not found:
            raise Failure("no bundled modules in %s/plugins/.libs" %
                          self.args.builddir)
        for so in found:
            shutil.copy(so, mods)
        self.modules = [os.path.basename(m)[:-3] for m in found
                        if os.path.basename(m) not in INSTANCE_ONLY]
        exe = os.path.join(self.args.builddir, "scope-plugin-host")
        # argv[0] as installed: Scope shows it as the process's command.
        argv = ["scope-plugin-host", "--foreground", "--no-config", "--module-dir", mods,
                "--socket-dir", os.path.join(self.tmp, "sock")]
        # Without hwmon (most VMs, CI) the sensors module has nothing to
        # show: give it the fixture tree so its rendering is checked too.
        self.sensors_fixture = not glob.glob("/sys/class/hwmon/hwmon*")
        if self.sensors_fixture and "sensors" in self.modules:
            argv += ["--param", "sensors.sys_root=" + os.path.join(
                self.args.srcdir, "test", "fixtures", "sensors", "sys")]
        self.hostlog = open(os.path.join(self.tmp, "host.log"), "w")
        self.host = subprocess.Popen(argv, executable=exe, stdout=self.hostlog,
                                     stderr=subprocess.STDOUT)
        self.wait(lambda: len(self.sockets()) >= len(self.modules), 20,
                  "sockets of all %d modules" % len(self.modules))
        for attempt in range(3):
            self.port = free_port()
            self.env["PORT"] = str(self.port)
            r = subprocess.run([self.app, "start",
                                os.path.join(self.tmp, "sock")],
                               env=self.env, capture_output=True, text=True,
                               timeout=120)
            if r.returncode == 0:
                break
            if "already in use" not in r.stderr:
                raise Failure("scope-app start: %s" % r.stderr.strip())
        else:
            raise Failure("no free port for the Scope app")

    def stop(self):
        try:
            subprocess.run([self.app, "stop"], env=self.env,
                           capture_output=True, timeout=60)
        except Exception as e:
            print("interop: scope-app stop: %s" % e)
        if self.host is not None and self.host.poll() is None:
            self.host.terminate()
            try:
                self.host.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.host.kill()
                self.host.wait(timeout=5)
        if self.host is not None:
            self.hostlog.close()
        if self.failures:
            try:
                with open(os.path.join(self.tmp, "host.log")) as f:
                    print("--- host log (last 20 lines)")
                    print("".join(f.readlines()[-20:]), end="")
            except OSError:
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def wait(self, cond, seconds, what):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if cond():
                return
            time.sleep(0.2)
        raise Failure("timed out after %d s waiting for %s" % (seconds, what))

    # --- the two sides ---------------------------------------------------

    def sockets(self):
        return glob.glob(os.path.join(self.tmp, "sock", "*", "*.sock"))

    def module_report(self, mod):
        """The module's own report, asked on its socket as the probe does."""
        path = os.path.join(self.tmp, "sock", mod, mod + ".sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect(path)
            s.sendall(b"GET /report HTTP/1.1\r\nHost: plugin\r\n"
                      b"Connection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0].decode("latin-1")
        if " 200 " not in status + " ":
            raise Failure("module %s: %s" % (mod, status))
        if b"transfer-encoding: chunked" in head.lower():
            body = unchunk(body)
        return json.loads(body)

    def api(self, path):
        url = "http://127.0.0.1:%d%s" % (self.port, path)
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)

    def details(self, topo, nid):
        try:
            return self.api("/api/topology/%s/%s" % (
                topo, urllib.parse.quote(nid, safe="")))["node"]
        except Exception:
            return None

    # --- checks ----------------------------------------------------------

    def check(self, name, fn):
        try:
            fn()
        except Failure as e:
            self.failures.append(name)
            print("FAIL %s: %s" % (name, e))
            return
        self.passed += 1
        print("ok   %s" % name)

    def plugin_status(self):
        def all_ok():
            got = {p["id"]: p.get("status")
                   for p in self.api("/api").get("plugins") or []}
            self.status = got
            return all(got.get(m) == "ok" for m in self.modules)
        try:
            self.wait(all_ok, 30, "every plugin ok")
        except Failure:
            bad = ["%s: %s" % (m, self.status.get(m, "missing"))
                   for m in self.modules if self.status.get(m) != "ok"]
            raise Failure("; ".join(bad))
        shown = [so[:-3] for so in INSTANCE_ONLY if so[:-3] in self.status]
        if shown:
            raise Failure("instance-only modules listed without a "
                          "configuration: %s" % ", ".join(sorted(shown)))

    def collect_reports(self):
        self.reports = {m: self.module_report(m) for m in self.modules}

    def our_nodes(self):
        """(topology key, node id) of every node a module reports."""
        out = {}
        for mod, rep in self.reports.items():
            for topo, body in rep.items():
                if topo == "Plugins" or not isinstance(body, dict):
                    continue
                for nid in body.get("nodes") or {}:
                    out.setdefault((topo, nid), []).append(mod)
        return out

    def chosen_nodes(self):
        nodes = self.our_nodes()
        hosts = [k for k in nodes if k[0] == "Host"]
        procs = sorted((k for k in nodes if k[0] == "Process"),
                       key=lambda k: int(k[1].rsplit(";", 1)[1]))
        # The host's own process first: it has IO and open files.
        me = [k for k in procs if k[1].endswith(";%d" % self.host.pid)]
        procs = me + [k for k in procs if k not in me]
        others = [k for k in nodes if k[0] not in ("Host", "Process")]
        return hosts + procs[:PROCESS_NODES] + others

    def values_in_details(self):
        """Every value a module reports is in its node's details."""
        problems = []
        checked = 0
        for topo, nid in self.chosen_nodes():
            api = API_TOPOLOGY.get(topo)
            if api is None:
                continue
            for attempt in range(4):
                d = self.details(api, nid)
                missing = self.missing(topo, nid, d) if d else None
                if missing == []:
                    checked += 1
                    break
                time.sleep(1.5)
            else:
                if d is None and topo == "Process":
                    continue        # the process exited meanwhile
                problems.append("%s %s: %s" % (
                    topo, nid, "not in the app" if d is None else
                    "; ".join(missing[:4])))
        if problems:
            raise Failure(" | ".join(problems[:6]))
        if checked == 0:
            raise Failure("no node of the modules reached the app")

    def missing(self, topo, nid, d):
        """What the modules report for node nid that d (details) lacks."""
        out = []
        metrics = {m["id"]: m for m in d.get("metrics") or []}
        meta = {m["id"]: m for m in d.get("metadata") or []}
        tables = {t["id"]: t for t in d.get("tables") or []}
        for mod, rep in self.reports.items():
            body = rep.get(topo) or {}
            node = (body.get("nodes") or {}).get(nid)
            if node is None:
                continue
            mt = body.get("metric_templates") or {}
            for key in node.get("metrics") or {}:
                if key in mt and key not in metrics:
                    out.append("%s: metric %r" % (mod, mt[key]["label"]))
            latest = node.get("latest") or {}
            for key, tmpl in (body.get("metadata_templates") or {}).items():
                if key in latest and key not in meta:
                    out.append("%s: metadata %r" % (mod, tmpl["label"]))
            for tid, tt in (body.get("table_templates") or {}).items():
                rows = table_rows(latest, tt)
                if not rows:
                    continue
                shown = tables.get(tid)
                if shown is None:
                    out.append("%s: table %r" % (mod, tt["label"]))
                    continue
                srows = {r["id"]: r.get("entries") or {}
                         for r in shown.get("rows") or []}
                for row, cells in rows.items():
                    if row not in srows:
                        out.append("%s: table %r row %r" %
                                   (mod, tt["label"], row))
                    elif set(cells) - set(srows[row]):
                        out.append("%s: table %r row %r cells %s" % (
                            mod, tt["label"], row,
                            sorted(set(cells) - set(srows[row]))))
        return out

    def rows_named(self):
        """Every row of a module's multicolumn table names itself."""
        problems = []
        for topo, nid in self.chosen_nodes():
            d = self.details(API_TOPOLOGY.get(topo, ""), nid)
            if d is None:
                continue
            for t in d.get("tables") or []:
                if t.get("type") != "multicolumn-table" or \
                        t["id"] not in self.our_tables(topo):
                    continue
                cols = t.get("columns") or []
                if not cols:
                    problems.append("%s: table %r has no columns" %
                                    (nid, t["label"]))
                    continue
                first = cols[0]
                if first.get("dataType") == "number":
                    problems.append("%s: table %r: first column %r is a "
                                    "number" % (nid, t["label"],
                                                first["label"]))
                for r in t.get("rows") or []:
                    v = (r.get("entries") or {}).get(first["id"], "")
                    if not v.strip() or re.fullmatch(r"[-+0-9. %]*", v):
                        problems.append("%s: table %r row %r: first column "
                                        "%r is %r, not a name" % (
                                            nid, t["label"], r["id"],
                                            first["label"], v))
        if problems:
            raise Failure(" | ".join(problems[:6]))

    def our_tables(self, topo):
        return {tid for rep in self.reports.values()
                for tid in ((rep.get(topo) or {}).get("table_templates")
                            or {})}

    def labels_unique(self):
        problems = []
        for topo, nid in self.chosen_nodes():
            d = self.details(API_TOPOLOGY.get(topo, ""), nid)
            if d is None:
                continue
            labels = [m.get("label", m["id"]) for m in d.get("metrics") or []]
            labels += [m.get("label", m["id"]) for m in
                       d.get("metadata") or []]
            labels += [t.get("label", t["id"]) for t in d.get("tables") or []]
            seen = set()
            for lab in labels:
                if norm(lab) in seen:
                    problems.append("%s: label %r twice" % (nid, lab))
                seen.add(norm(lab))
        if problems:
            raise Failure(" | ".join(problems[:6]))

    def no_builtin_repeats(self):
        problems = []
        for mod, rep in self.reports.items():
            for topo, body in rep.items():
                if topo == "Plugins" or not isinstance(body, dict):
                    continue
                banned = {norm(b) for b in BUILTIN.get(topo, [])}
                for sec in ("metric_templates", "metadata_templates",
                            "table_templates"):
                    for t in (body.get(sec) or {}).values():
                        if norm(t.get("label", "")) in banned:
                            problems.append("%s: %s %r repeats Scope's own"
                                            % (mod, sec, t["label"]))
        # A metric of ours that always equals one of Scope's on the node
        # (same format, not zero) shows the same number twice.
        ours = {k for rep in self.reports.values()
                for topo in ("Host", "Process")
                for k in ((rep.get(topo) or {}).get("metric_templates")
                          or {})}
        same = None
        for attempt in range(2):
            now = set()
            for topo, nid in self.chosen_nodes()[:6]:
                d = self.details(API_TOPOLOGY.get(topo, ""), nid)
                if d is None:
                    continue
                ms = d.get("metrics") or []
                for a in ms:
                    for b in ms:
                        if a["id"] in ours and b["id"] not in ours and \
                                a.get("format") == b.get("format") and \
                                a.get("value") and \
                                a.get("value") == b.get("value"):
                            now.add("%s: %r equals Scope's %r (%s)" % (
                                nid, a["label"], b["label"], a["value"]))
            same = now if same is None else same & now
            time.sleep(2)
        problems += sorted(same or [])
        if problems:
            raise Failure(" | ".join(problems[:6]))

    def metric_budget(self):
        problems = []
        per_topo = {}
        for mod, rep in self.reports.items():
            for topo, body in rep.items():
                if topo == "Plugins" or not isinstance(body, dict):
                    continue
                mt = body.get("metric_templates") or {}
                per_topo.setdefault(topo, set()).update(mt)
                limit = METRICS_PER_MODULE.get(topo)
                for nid, node in (body.get("nodes") or {}).items():
                    n = len([k for k in node.get("metrics") or {}
                             if k in mt])
                    if limit is not None and n > limit:
                        problems.append("%s: %d metrics on %s (at most %d)"
                                        % (mod, n, nid, limit))
                        break
        for topo, ids in per_topo.items():
            limit = TEMPLATES_PER_TOPOLOGY.get(topo)
            if limit is not None and len(ids) > limit:
                problems.append("%s: %d metric templates over all modules "
                                "(at most %d): %s" % (topo, len(ids), limit,
                                                      sorted(ids)))
        if problems:
            raise Failure(" | ".join(problems))

    def formatted(self):
        problems = []
        for mod, rep in self.reports.items():
            for topo, body in rep.items():
                if topo == "Plugins" or not isinstance(body, dict):
                    continue
                shown = set(body.get("metadata_templates") or {})
                prefixes = [t["prefix"] for t in
                            (body.get("table_templates") or {}).values()]
                for nid, node in (body.get("nodes") or {}).items():
                    for key, e in (node.get("latest") or {}).items():
                        if key not in shown and not any(
                                key.startswith(p) for p in prefixes):
                            continue
                        if re.fullmatch(r"\d{6,}", str(e.get("value"))):
                            problems.append("%s: %s on %s is a raw number "
                                            "%s" % (mod, key, nid,
                                                    e["value"]))
        if problems:
            raise Failure(" | ".join(problems[:6]))

    def screenshots(self):
        if self.args.no_shots:
            return
        if not any(shutil.which(c) for c in ("chromium", "chromium-browser",
                                               "google-chrome")):
            print("note: no chromium, no screenshots")
            return
        os.makedirs(self.args.shots, exist_ok=True)
        hosts = [k for k in self.chosen_nodes() if k[0] == "Host"]
        me = [k for k in self.chosen_nodes() if k[0] == "Process" and
              k[1].endswith(";%d" % self.host.pid)]
        # The host panel is long; a process panel needs less.
        for name, key, window in (("host", hosts[:1], self.args.window),
                                  ("process", me[:1], "1400x900")):
            if not key:
                continue
            env = dict(self.env, WINDOW=window,
                       SHOT_WAIT=str(self.args.shot_wait))
            out = os.path.join(self.args.shots, "scope-%s.png" % name)
            r = subprocess.run([self.app, "shot", out,
                                API_TOPOLOGY[key[0][0]], key[0][1]],
                               env=env, capture_output=True, text=True,
                               timeout=180)
            print("screenshot %s: %s" % (name, out if r.returncode == 0
                                         else r.stderr.strip()))


def table_rows(latest, tt):
    """{row: {column: value}} of a table template over latest keys."""
    rows = {}
    prefix = tt.get("prefix", "")
    for key, e in latest.items():
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix):]
        if tt.get("type") == "multicolumn-table":
            if "___" not in rest:
                continue
            row, col = rest.split("___", 1)
            rows.setdefault(row, {})[col] = e.get("value")
        else:
            rows.setdefault(rest, {})["value"] = e.get("value")
    return rows


def unchunk(body):
    out = b""
    while body:
        size, _, body = body.partition(b"\r\n")
        n = int(size.split(b";")[0], 16)
        if n == 0:
            break
        out += body[:n]
        body = body[n + 2:]
    return out


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def find_harness(srcdir):
    for d in (os.environ.get("SCOPE_HARNESS"),
              os.path.join(srcdir, "..", "shared", "scope")):
        if d and os.access(os.path.join(d, "scope-bin"), os.X_OK) and \
                os.access(os.path.join(d, "scope-app"), os.X_OK):
            return os.path.abspath(d)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builddir", default=".")
    ap.add_argument("--srcdir", default=os.environ.get("srcdir", "."))
    ap.add_argument("--shots", default=None)
    ap.add_argument("--no-shots", action="store_true")
    ap.add_argument("--window", default="1400x1900")
    ap.add_argument("--shot-wait", type=int, default=8000)
    args = ap.parse_args()
    args.builddir = os.path.abspath(args.builddir)
    args.srcdir = os.path.abspath(args.srcdir)
    if args.shots is None:
        args.shots = os.path.join(args.builddir, "test", "interop-shots")
    args.harness = find_harness(args.srcdir)
    if args.harness is None:
        print("SKIP: no Scope harness (set SCOPE_HARNESS, or put it at "
              "../shared/scope beside the source tree)")
        return SKIP
    for tool in ("curl", "python3"):
        if shutil.which(tool) is None:
            print("SKIP: %s missing (scope-app needs it)" % tool)
            return SKIP
    run = Run(args)
    try:
        try:
            run.start()
        except Failure as e:
            print("FAIL start: %s" % e)
            run.failures.append("start")
            return 1
        print("interop: host with %s; Scope app on port %d%s" % (
            ", ".join(run.modules), run.port,
            "; sensors on the fixture tree (no hwmon here)"
            if run.sensors_fixture and "sensors" in run.modules else ""))
        run.check("every plugin ok", run.plugin_status)
        run.check("module reports", run.collect_reports)
        if "module reports" not in run.failures:
            # Let the app merge a few probe reports of every module.
            time.sleep(3)
            run.check("every value in the details", run.values_in_details)
            run.check("every table row named", run.rows_named)
            run.check("labels unique within a node", run.labels_unique)
            run.check("no repeat of a Scope built-in",
                      run.no_builtin_repeats)
            run.check("metric selector budget", run.metric_budget)
            run.check("values formatted for people", run.formatted)
            run.screenshots()
    finally:
        run.stop()
    print("%d passed, %d failed" % (run.passed, len(run.failures)))
    return 1 if run.failures else 0


if __name__ == "__main__":
    sys.exit(main())
