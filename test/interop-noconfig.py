#!/usr/bin/env python3
"""Interop of the exec and prometheus modules with the real Weave Scope:
two instances of each (a configuration file, as an operator writes it),
the app and probe from $SCOPE_HARNESS (else ../shared/scope from the
repository root) on the host's sockets.  Each instance is listed in Scope
under its own id with status ok, the modules' own ids are not listed, and
every instance's values reach the host's details panel as Scope renders
it.  SKIPs (exit 77) when the harness is absent.

Usage: interop-noconfig.py --builddir DIR
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import integration as it  # noqa: E402
from prometheus import Exporter  # noqa: E402
from interop import find_harness, free_port  # noqa: E402

TOP = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


class App:
    def __init__(self, hdir, root):
        self.env = dict(os.environ)
        self.state = tempfile.mkdtemp(prefix="sph-scope-")
        self.env.update(PORT=str(free_port()), STATE=self.state)
        self.app = os.path.join(hdir, "scope-app")
        self.run("start", root)

    def run(self, *args):
        r = subprocess.run([self.app] + list(args), env=self.env, capture_output=True,
                           text=True, timeout=120)
        if r.returncode != 0:
            raise AssertionError("scope-app %s: %s %s" % (" ".join(args), r.stdout[-500:], r.stderr[-500:]))
        return r.stdout

    def stop(self):
        subprocess.run([self.app, "stop"], env=self.env, capture_output=True, timeout=60)
        shutil.rmtree(self.state, ignore_errors=True)


def main():
    hdir = find_harness(TOP)
    if hdir is None:
        print("SKIP: no Scope harness ($SCOPE_HARNESS or ../shared/scope)")
        print("0 passed, 0 failed, 1 skipped")
        return 77
    it.BUILDDIR = os.path.abspath(sys.argv[sys.argv.index("--builddir") + 1]
                                  if "--builddir" in sys.argv else ".")
    hostname = socket.gethostname()
    ex = Exporter()
    sdir = tempfile.mkdtemp(prefix="sph-interop-")
    script = it.write_script(
        os.path.join(sdir, "values.sh"),
        "echo 'metric host queue_depth 17 label=\"Queue depth\" format=integer priority=1.5'\n"
        "echo 'info host site \"Hall 2\" label=\"Site\" priority=1'\n"
        "echo 'table jobs \"Batch jobs\" Job State'\n"
        "echo 'row host jobs nightly-backup running'\n")
    clock = it.write_script(
        os.path.join(sdir, "clock.sh"),
        "echo \"metric host clock_offset_ms 0.25 label=\\\"Clock offset (ms)\\\" priority=1.7\"\n"
        "echo \"info host who \\\"$SCOPE_PLUGIN_ID\\\" label=\\\"Clock instance\\\" priority=1.1\"\n")
    conf = os.path.join(sdir, "host.conf")
    with open(conf, "w") as f:
        f.write("module batch {\n    file exec.so\n    label Batch jobs\n    interval 1000\n"
                "    param command %s\n}\n"
                "module clock {\n    file exec.so\n    label Clock\n    interval 1000\n"
                "    param command %s\n}\n"
                "module node {\n    file prometheus.so\n    label Node exporter\n    interval 1000\n"
                "    param url %s\n"
                '    param metric.node_load1 host label="Load from exporter" priority=1.6\n}\n'
                "module nodeunix {\n    file prometheus.so\n    interval 1000\n"
                "    param url unix:%s\n"
                '    param metric.fresh host label="Fresh gauge" format=integer priority=1.8\n}\n'
                % (script, clock, ex.url(), ex.unix_path))
    ids = ("batch", "clock", "node", "nodeunix")
    h = it.Host([it.plugin("exec"), it.plugin("prometheus")], args=["--config", conf],
                env={"SCOPE_HOSTNAME": hostname}).start(wait_for=ids)
    app = None
    ok = False
    try:
        app = App(hdir, h.sockdir)

        def panel():
            node = json.loads(app.run("details", "hosts", hostname + ";<host>"))["node"]
            metrics = {m.get("label"): m.get("value") for m in node.get("metrics") or []}
            meta = {m.get("label"): m.get("value") for m in node.get("metadata") or []}
            tables = {t.get("label"): t for t in node.get("tables") or []}
            if (metrics.get("Queue depth") != 17 or metrics.get("Load from exporter") != 0.75 or
                    metrics.get("Clock offset (ms)") != 0.25 or metrics.get("Fresh gauge") != 6):
                return None
            return metrics, meta, tables
        metrics, meta, tables = it.wait_until(panel, 60, step=1, what="our values in the details panel")
        it.check(meta.get("Site") == "Hall 2", "metadata %r" % meta)
        it.check(meta.get("Clock instance") == "clock", "the script's SCOPE_PLUGIN_ID %r" % meta)
        rows = tables["Batch jobs"]["rows"]
        it.check([r["entries"] for r in rows] == [{"c0": "nightly-backup", "c1": "running"}],
                 "table rows %r" % rows)
        status = app.run("status")
        for mid in ids:
            it.check("plugin %s status=ok" % mid in status.splitlines(),
                     "plugin %s not ok in Scope:\n%s" % (mid, status))
        for mid in ("exec", "prometheus"):
            it.check(not any(l.startswith("plugin %s " % mid) for l in status.splitlines()),
                     "instance-only module %s listed in Scope:\n%s" % (mid, status))
        ok = True
        print("ok   two_instances_each_listed_by_id_values_in_scope_details_panel")
    except Exception as e:  # noqa: BLE001 - reported below
        print("FAIL two_instances_each_listed_by_id_values_in_scope_details_panel: %s" % e)
    finally:
        if app is not None:
            app.stop()
        h.stop()
        h.cleanup()
        ex.close()
        shutil.rmtree(sdir, ignore_errors=True)
    print("%d passed, %d failed" % (ok, not ok))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
