"""Helpers shared by the containers module's Python tests: run
scope-plugin-host on the module alone and poll it as Scope's probe does.
"""
import json
import os
import shutil
import socket
import subprocess
import time


class Host:
    """scope-plugin-host serving containers.so from a private directory."""

    def __init__(self, builddir, tmp, params):
        self.tmp = tmp
        mods = os.path.join(tmp, "mods")
        self.sockdir = os.path.join(tmp, "plugins")
        os.makedirs(mods, exist_ok=True)
        shutil.copy(os.path.join(builddir, "plugins", ".libs",
                                 "containers.so"), mods)
        cmd = [os.path.join(builddir, "scope-plugin-host"), "--foreground",
               "--no-config", "--no-strict-modes", "--settle", "0",
               "--module-dir", mods, "--socket-dir", self.sockdir]
        for k, v in params.items():
            cmd += ["--param", "containers.%s=%s" % (k, v)]
        self.logpath = os.path.join(tmp, "host.log")
        self.log = open(self.logpath, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.sock = os.path.join(self.sockdir, "containers",
                                 "containers.sock")
        wait_for("the containers socket",
                 lambda: os.path.exists(self.sock), 30)

    def get(self, timeout=30.0):
        """One GET /report: (status line, parsed body or None)."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(self.sock)
            s.sendall(b"GET /report?api_version=1&probe_id=test HTTP/1.1\r\n"
                      b"Host: plugin\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        status = head.split(b"\r\n")[0].decode("latin-1")
        return status, (json.loads(body) if " 200 " in status else None)

    def report(self):
        status, doc = self.get()
        if doc is None:
            raise AssertionError("report: %s" % status)
        return doc

    def logtext(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.logpath) as f:
            return f.read()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def wait_for(what, pred, timeout, step=0.5):
    """pred() until it is true (returned) or timeout seconds passed."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r = pred()
        if r:
            return r
        time.sleep(step)
    raise AssertionError("timed out waiting for %s" % what)


def latest(node, key):
    v = (node or {}).get("latest", {}).get(key)
    return v["value"] if v else None


def metric(node, key):
    m = (node or {}).get("metrics", {}).get(key)
    return m["samples"][-1]["value"] if m else None
