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


class Skip(Exception):
    """This machine cannot do what the caller needs (a reason to skip)."""


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


class Cgroups:
    """Cgroups made for a test, in every hierarchy that needs them, and
    removed again by cleanup().  Kinds: cpu, memory, blkio, pids, unified
    (v1 only: the hybrid layout's v2 part); under v2 all are the root."""

    V1 = {"cpu": ("cpu", "cpu,cpuacct", "cpuacct,cpu"), "memory": ("memory",),
          "blkio": ("blkio",), "pids": ("pids",), "unified": ("unified",)}

    def __init__(self, root, need):
        self.root = root
        self.made = []          # directories, removed in reverse order
        self.enabled = []       # (subtree_control file, controller)
        self.v2 = os.path.exists(os.path.join(root, "cgroup.controllers"))
        self.hier = {}
        for kind, names in self.V1.items():
            if self.v2:
                self.hier[kind] = root
                continue
            for n in names:
                d = os.path.join(root, n)
                if os.path.exists(os.path.join(d, "cgroup.procs")):
                    self.hier[kind] = d
                    break
        missing = [k for k in need if k not in self.hier]
        if missing:
            raise Skip("no cgroup v2 and no v1 %s under %s"
                       % (" and ".join(missing), root))

    def enable(self, d, ctls):
        """v2: let d's children use the controllers ctls."""
        ctl = os.path.join(d, "cgroup.subtree_control")
        with open(ctl) as f:
            have = f.read().split()
        for c in ctls:
            if c in have:
                continue
            try:
                write(ctl, "+%s" % c)
            except OSError as e:
                raise Skip("cannot enable the %s controller in %s: %s"
                           % (c, ctl, e.strerror))
            self.enabled.append((ctl, c))

    def mkdir(self, rel, kinds):
        for k in kinds:
            if k not in self.hier:
                continue
            d = os.path.join(self.hier[k], rel)
            if d in self.made:
                continue
            try:
                os.mkdir(d)
            except OSError as e:
                raise Skip("cannot create cgroup %s: %s" % (d, e.strerror))
            self.made.append(d)

    def path(self, kind, rel, name):
        return os.path.join(self.hier[kind], rel, name)

    def join(self, kinds, rel, pid):
        for k in kinds:
            if k in self.hier and (not self.v2 or k == kinds[0]):
                write(self.path(k, rel, "cgroup.procs"), "%d\n" % pid)

    def cleanup(self):
        for d in reversed(self.made):
            for _ in range(50):       # a cgroup empties a moment after its
                try:                  # last process is reaped
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                print("warning: could not remove %s" % d)
        for ctl, c in reversed(self.enabled):
            try:
                write(ctl, "-%s" % c)
            except OSError:
                pass                  # another cgroup uses it meanwhile
