#!/usr/bin/env python3
"""Tests of the prometheus module (plugins/prometheus.c,
scope-plugin-prometheus(8)) against a test exporter this script serves on
127.0.0.1 (an ephemeral port) and on a unix socket: counters as rates,
gauges, labels and escapes, comments, NaN/+Inf, stale samples, container
ids from cAdvisor-style labels, a 5 MB exposition, and endpoints that are
dead, never answer, answer 404 or send garbage, with a neighbour module
polled all along.

Usage: prometheus.py --builddir DIR [--only SUBSTRING]
"""
import http.server
import json
import os
import socket
import socketserver
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import integration as it  # noqa: E402  (the shared Host, Conn, get, waits)
from exec import NeighbourWatch, gave_up_below_deadline  # noqa: E402

TESTS = []
CID1 = "0123456789abcdef" * 4
CID2 = "fedcba9876543210" * 4
T0 = time.monotonic()


def test(fn):
    TESTS.append(fn)
    return fn


def exposition():
    """node_exporter and cAdvisor style series; the counters grow by
    1000/s and 10/s of the monotonic clock, so the rate is known whatever
    the scrape times."""
    t = time.monotonic() - T0
    now_ms = int(time.time() * 1000)
    return (
        "# HELP node_load1 1m load average.\n"
        "# TYPE node_load1 gauge\n"
        "node_load1 0.75\n"
        "# a comment line\n"
        "\n"
        "# TYPE node_network_receive_bytes_total counter\n"
        'node_network_receive_bytes_total{device="eth0"} %.3f\n'
        'node_network_receive_bytes_total{device="eth1"} %.3f\n'
        'node_network_receive_bytes_total{device="lo"} %.3f\n'
        "# TYPE container_memory_usage_bytes gauge\n"
        'container_memory_usage_bytes{id="/docker/%s"} 1.5e+08\n'
        'container_memory_usage_bytes{id="/system.slice/docker-%s.scope"} 2.5e+08\n'
        'container_memory_usage_bytes{id="/"} 9e+09\n'
        'container_memory_usage_bytes{id="/user.slice"} 1e+06\n'
        "# TYPE container_cpu_usage_seconds_total counter\n"
        'container_cpu_usage_seconds_total{cpu="cpu0",id="/docker/%s"} %.4f\n'
        'container_cpu_usage_seconds_total{cpu="cpu1",id="/docker/%s"} %.4f\n'
        "# TYPE escaped gauge\n"
        'escaped{path="C:\\\\dir\\"x\\"\\nnext",id="/docker/%s"} 3\n'
        "# TYPE not_a_number gauge\n"
        "not_a_number NaN\n"
        "# TYPE infinite gauge\n"
        "infinite +Inf\n"
        "# TYPE old gauge\n"
        "old 5 %d\n"
        "# TYPE fresh gauge\n"
        "fresh 6 %d\n"
        "unmapped_metric 1\n"
    ) % (1e6 + 1000 * t, 1e6 + 500 * t, 1e9 + 7777 * t, CID1, CID2,
         CID1, 100 + 5 * t, CID1, 100 + 5 * t, CID2, now_ms - 3600 * 1000, now_ms)


def big_exposition():
    lines = ["# TYPE filler gauge"]
    size = i = 0
    while size < 5 * 1024 * 1024:
        lines.append('filler{instance="host-%08d",job="padding-padding-padding"} %d' % (i, i))
        size += len(lines[-1]) + 1
        i += 1
    lines.append("# TYPE last_one gauge")
    lines.append("last_one 42")
    return "\n".join(lines) + "\n"


class Exporter:
    """The test exporter: TCP on 127.0.0.1:0 and a unix socket."""

    def __init__(self):
        self.stop = threading.Event()
        self.big = big_exposition().encode()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                p = self.path
                if p == "/never":
                    outer.stop.wait(30)
                    return
                if p == "/garbage":
                    body = bytes(range(256)) * 40
                elif p == "/big":
                    body = outer.big
                elif p in ("/metrics", "/"):
                    body = exposition().encode()
                    outer.scrapes += 1
                else:
                    self.send_error(404, "No Such Page")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class TCP(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # the module hanging up on a too large answer

        class Unix(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass

            def get_request(self):
                conn, _ = super().get_request()
                return conn, ("unix", 0)

        self.scrapes = 0
        self.dir = tempfile.mkdtemp(prefix="sph-prom-")
        self.unix_path = os.path.join(self.dir, "exporter.sock")
        self.tcp = TCP(("127.0.0.1", 0), Handler)
        self.unix = Unix(self.unix_path, Handler)
        self.port = self.tcp.server_address[1]
        self.threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05})
                        for s in (self.tcp, self.unix)]
        for t in self.threads:
            t.start()

    def url(self, path="/metrics"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def close(self):
        self.stop.set()
        for s in (self.tcp, self.unix):
            s.shutdown()
            s.server_close()
        for t in self.threads:
            t.join()
        try:
            os.unlink(self.unix_path)
            os.rmdir(self.dir)
        except OSError:
            pass


MAPPING = [
    'metric.node_load1=host label="Load (1 min)" priority=1.5',
    "metric.node_network_receive_bytes_total=host format=filesize where=device!=lo",
    "metric.container_memory_usage_bytes=container:id format=filesize",
    "metric.container_cpu_usage_seconds_total=container:id label=CPU",
    "metric.escaped=container:id",
    "metric.not_a_number=host",
    "metric.infinite=host",
    "metric.old=host",
    "metric.fresh=host",
    "metric.last_one=host",
]


def conf_block(mid, url, interval, mapping=None):
    """An instance of prometheus.so: url, interval and the mapping."""
    lines = ["module %s {" % mid, "    file prometheus.so", "    interval %d" % interval]
    if url is not None:
        lines.append("    param url %s" % url)
    for m in MAPPING if mapping is None else mapping:
        lines.append("    param " + m.replace("=", " ", 1))
    return "\n".join(lines) + "\n}\n"


def prom_host(url, mid="node", interval=300, extra=(), more_modules=(), more_conf=""):
    """A host serving the prometheus instance mid; extra are flags (such
    as --param mid.key=value, which win over the file)."""
    h = it.Host([it.plugin("prometheus")] + list(more_modules), args=list(extra))
    conf = os.path.join(h.dir, "host.conf")
    with open(conf, "w") as f:
        f.write(conf_block(mid, url, interval) + more_conf)
    h.args = ["--config", conf] + h.args
    return h


def report(h, mid="node"):
    st, _, body = it.get(h.sock(mid))
    it.check(st == 200, "status %d: %s" % (st, body[:300]))
    return it.assert_report(body, mid)


def metric(doc, key, topo="Host", node="testhost;<host>", mid="node"):
    try:
        return doc[topo]["nodes"][node]["metrics"][mid + "." + key]
    except KeyError:
        return None


def wait_metric(h, key, topo="Host", node="testhost;<host>", mid="node"):
    return it.wait_until(lambda: metric(report(h, mid), key, topo, node, mid), 15,
                         what="metric %s on %s" % (key, node))


@test
def counters_gauges_labels_and_containers():
    ex = Exporter()
    h = prom_host(ex.url()).start(wait_for=["node"])
    try:
        m = wait_metric(h, "node_network_receive_bytes_total")
        doc = report(h)
        load = metric(doc, "node_load1")
        it.check(load["samples"][0]["value"] == 0.75, "gauge as it is: %r" % load)
        mt = doc["Host"]["metric_templates"]
        it.check(mt["node.node_load1"]["label"] == "Load (1 min)" and
                 mt["node.node_load1"]["priority"] == 1.5, "label/priority %r" % mt["node.node_load1"])
        # eth0 + eth1 grow by 1500/s; lo (7777/s) is excluded by where=.
        rate = metric(doc, "node_network_receive_bytes_total")["samples"][0]["value"]
        it.check(1200 < rate < 1800, "rate of eth0+eth1 %r, expected about 1500/s" % rate)
        t = mt["node.node_network_receive_bytes_total"]
        it.check(t["format"] == "filesize" and t["label"] == "node_network_receive_bytes_total /s",
                 "counter template %r" % t)
        c1 = "%s;<container>" % CID1
        c2 = "%s;<container>" % CID2
        mem1 = metric(doc, "container_memory_usage_bytes", "Container", c1)
        mem2 = metric(doc, "container_memory_usage_bytes", "Container", c2)
        it.check(mem1["samples"][0]["value"] == 1.5e8, "/docker/<id>: %r" % mem1)
        it.check(mem2["samples"][0]["value"] == 2.5e8, "docker-<id>.scope: %r" % mem2)
        it.check(set(doc["Container"]["nodes"]) == {c1, c2}, "nodes without a container id: %r"
                 % list(doc["Container"]["nodes"]))
        cpu = wait_metric(h, "container_cpu_usage_seconds_total", "Container", c1)
        it.check(8 < cpu["samples"][0]["value"] < 12, "per-cpu series summed as a rate, expected 10/s: %r" % cpu)
        it.check(doc["Container"]["metric_templates"]["node.container_cpu_usage_seconds_total"]["label"] == "CPU",
                 "container label option")
        esc = metric(doc, "escaped", "Container", c2)
        it.check(esc is not None and esc["samples"][0]["value"] == 3, "series with escaped labels: %r" % esc)
        for gone in ("not_a_number", "infinite", "old"):
            it.check(metric(doc, gone) is None, "%s should be dropped" % gone)
            it.check("node." + gone not in mt, "template of dropped %s" % gone)
        it.check(metric(doc, "fresh")["samples"][0]["value"] == 6, "timestamped fresh sample")
        it.check("node.unmapped_metric" not in json.dumps(doc), "unmapped series reported")
        it.check(m is not None, "no rate")
    finally:
        h.stop()
        h.cleanup()
        ex.close()


@test
def unix_socket_and_5mb_exposition():
    ex = Exporter()
    h = prom_host("unix:%s:/big" % ex.unix_path).start(wait_for=["node"])
    h2 = prom_host("unix:" + ex.unix_path).start(wait_for=["node"])
    try:
        it.check(metric(report(h), "last_one")["samples"][0]["value"] == 42, "series after 5 MB")
        it.check(metric(report(h2), "node_load1")["samples"][0]["value"] == 0.75, "default path /metrics")
    finally:
        h.stop()
        h2.stop()
        h.cleanup()
        h2.cleanup()
        ex.close()


def dead_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@test
def bad_endpoints_are_the_reason_never_a_hang():
    ex = Exporter()
    cases = [
        ("never", ex.url("/never"), "no answer within 300 ms"),
        ("garbage", ex.url("/garbage"), ": line 1: "),
        ("notfound", ex.url("/nothing"), "HTTP 404 No Such Page"),
        ("dead", "http://127.0.0.1:%d/metrics" % dead_port(), "connect: Connection refused"),
        ("nosocket", "unix:%s/none.sock" % ex.dir, "connect: No such file or directory"),
        ("toobig", ex.url("/big"), "answer larger than 1048576 bytes"),
    ]
    try:
        for name, url, reason in cases:
            h = prom_host(url, extra=["--param", "node.timeout=300",
                                      "--param", "node.max_size=1048576"],
                          more_modules=[it.plugin("load")]).start(wait_for=["load"])
            try:
                with NeighbourWatch(h, name):
                    def failing():
                        st, _, body = it.get(h.sock("node"))
                        return st == 500 and json.loads(body)["error"]
                    it.wait_until(failing, 20, what="%s: prometheus failing" % name)
                    h.wait_log(reason, 20)
                    for _ in range(5):
                        t0 = time.monotonic()
                        st, _, _ = it.get(h.sock("node"))
                        it.check(st == 500 and time.monotonic() - t0 < 1, "%s: poll %d in %.2fs" %
                                 (name, st, time.monotonic() - t0))
                    it.check("restart" not in h.logtext(), "%s: worker restarted" % name)
            finally:
                h.stop()
                h.cleanup()
    finally:
        ex.close()


@test
def recovers_when_the_endpoint_comes_back():
    ex = Exporter()
    port = dead_port()
    h = prom_host("http://127.0.0.1:%d/metrics" % port).start()
    try:
        h.wait_log("Connection refused", 20)

        class Fwd(socketserver.ThreadingMixIn, socketserver.TCPServer):
            allow_reuse_address = True
            daemon_threads = True

        class Relay(socketserver.BaseRequestHandler):
            def handle(self):
                up = socket.create_connection(("127.0.0.1", ex.port))
                up.sendall(self.request.recv(65536))
                while True:
                    d = up.recv(65536)
                    if not d:
                        break
                    self.request.sendall(d)
                up.close()

        srv = Fwd(("127.0.0.1", port), Relay)
        th = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
        th.start()
        try:
            h.wait_serving("node", 20)
            wait_metric(h, "node_load1")
        finally:
            srv.shutdown()
            srv.server_close()
            th.join()
    finally:
        h.stop()
        h.cleanup()
        ex.close()


@test
def two_instances_at_once_with_their_own_ids_and_mappings():
    # Two instances of prometheus.so in one host scraping at the same
    # time, one over TCP, one over the unix socket, each with its own id,
    # mapping and label; a third on a dead port fails alone, with the URL
    # and the cause as its reason; --check and status list each.
    ex = Exporter()
    port = dead_port()
    more = (conf_block("cadvisor", "unix:" + ex.unix_path, 500,
                       ["metric.container_memory_usage_bytes=container:id label=Memory"]) +
            conf_block("down", "http://127.0.0.1:%d/metrics" % port, 300, ["metric.node_load1=host"]))
    h = prom_host(ex.url(), more_conf=more, extra=["--param", "down.timeout=300"])
    try:
        r = __import__("subprocess").run(h.cmd(["--check"]), capture_output=True, text=True, timeout=60, env=h.env)
        for want in ("skip prometheus.so: served only as instances (node, cadvisor, down)",
                     "ok   prometheus.so node: ", "ok   prometheus.so cadvisor: ", "FAIL prometheus.so down: "):
            it.check(want in r.stdout, "--check: missing %r in:\n%s" % (want, r.stdout))
        it.check(r.returncode == 1, "--check exit %d" % r.returncode)
        it.check("module down: http://127.0.0.1:%d/metrics: connect: Connection refused" % port in r.stdout + r.stderr,
                 "--check: the reason: " + r.stdout + r.stderr)
        h.start(wait_for=["node", "cadvisor"])
        wait_metric(h, "node_network_receive_bytes_total")
        c1 = "%s;<container>" % CID1
        wait_metric(h, "container_memory_usage_bytes", "Container", c1, mid="cadvisor")
        docs = {}

        def poll(mid):
            docs[mid] = [it.get(h.sock(mid), timeout=10) for _ in range(10)]
        threads = [threading.Thread(target=poll, args=(m,)) for m in ("node", "cadvisor", "down")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for st, _, body in docs["node"]:
            doc = it.assert_report(body, "node")
            it.check(metric(doc, "node_load1")["samples"][0]["value"] == 0.75, "node's load")
            it.check(not any(k.startswith("cadvisor.") for k in json.dumps(doc).split('"')), "cadvisor's keys in node")
        for st, _, body in docs["cadvisor"]:
            doc = it.assert_report(body, "cadvisor")
            it.check(metric(doc, "container_memory_usage_bytes", "Container", c1, "cadvisor")["samples"][0]["value"]
                     == 1.5e8, "cadvisor's container memory")
            it.check(doc["Container"]["metric_templates"]["cadvisor.container_memory_usage_bytes"]["label"] ==
                     "Memory", "cadvisor's label")
            it.check(metric(doc, "node_load1", mid="cadvisor") is None and
                     metric(doc, "node_load1") is None, "node's mapping used by cadvisor")
        for st, _, body in docs["down"]:
            it.check(st == 500, "down: %d %r" % (st, body[:200]))
        h.wait_log("module down: http://127.0.0.1:%d/metrics: connect: Connection refused" % port)
        it.check(not os.path.exists(os.path.join(h.sockdir, "prometheus")), "served under its own id")
        mods = it.status_by_id(h)
        for mid in ("node", "cadvisor", "down"):
            it.check(mods[mid]["instance"] is True and mods[mid]["file"] == "prometheus.so", mods[mid])
        it.check(len({mods[m]["pid"] for m in ("node", "cadvisor", "down")}) == 3, "shared workers %r" % mods)
        it.check("init failed" not in h.logtext(), h.logtext()[-800:])
    finally:
        h.stop()
        h.cleanup()
        ex.close()


@test
def timeout_follows_the_deadline():
    # No timeout param: a scrape that hangs is given up below the
    # instance's deadline (less a tenth, at least 50 ms), with the URL as
    # the reason, and the worker is not killed.
    ex = Exporter()
    more = conf_block("slow", ex.url("/never"), 0, ["metric.node_load1=host"]).replace(
        "    interval 0\n", "    interval 0\n    deadline 800\n")
    h = prom_host(ex.url("/never"), mid="sooner", interval=0, more_conf=more,
                  extra=["--set", "sooner.deadline=500"])
    h.start()
    try:
        gave_up_below_deadline(h, {mid: "module %s: %s: no answer within %d ms" % (mid, ex.url("/never"), ms)
                                   for mid, ms in (("sooner", 450), ("slow", 720))})
    finally:
        h.stop()
        h.cleanup()
        ex.close()


@test
def mapped_names_missing_from_the_exposition_warned_once():
    ex = Exporter()
    h = prom_host(ex.url(), interval=200, extra=["--param", "node.metric.no_such_series=host",
                                                 "--param", "node.metric.also_missing=container:id"])
    h.start(wait_for=["node"])
    try:
        h.wait_log("param metric.no_such_series: no series no_such_series in the exposition at " + ex.url())
        h.wait_log("param metric.also_missing: no series also_missing in the exposition")
        # Several scrapes later, still said once per name.
        first = ex.scrapes
        it.wait_until(lambda: ex.scrapes >= first + 4, 15, what="four more scrapes")
        report(h)
        log = h.logtext()
        it.check(log.count("param metric.no_such_series: no series") == 1, "warned more than once:\n" + log[-1500:])
        # A mapped name that is present is not warned about.
        it.check("param metric.node_load1: no series" not in log, log[-1500:])
    finally:
        h.stop()
        h.cleanup()
        ex.close()


@test
def refused_without_a_usable_url_and_bad_mappings_logged():
    # A default install: prometheus.so and no configuration: not served,
    # not refused as failing.
    h = it.Host([it.plugin("prometheus")]).start()
    try:
        h.wait_log("module prometheus.so: not loaded: served only as instances, and none is configured")
        it.check("init failed" not in h.logtext() and "param url is not set" not in h.logtext(), h.logtext())
    finally:
        h.stop()
        h.cleanup()
    for url, text in [(None, "param url is not set"), ("ftp://x/", "must start with http:// or unix:"),
                      ("http://127.0.0.1:99999999/", "bad port"), ("unix:relative.sock", "absolute socket path")]:
        h = prom_host(url, mid="bad")
        h.start()
        try:
            h.wait_log(text)
            h.wait_log("refused")
            it.check("module bad: param url" in h.logtext(), "not logged under the instance's id: " + h.logtext())
        finally:
            h.stop()
            h.cleanup()
    ex = Exporter()
    h = prom_host(ex.url(), extra=["--param", "node.metric.node_load1=process:1",
                                   "--param", "node.metric.fresh=host format=bytes"]).start(wait_for=["node"])
    try:
        h.wait_log("module node: param metric.node_load1: only host and container:LABEL; ignored")
        h.wait_log("param metric.fresh: format must be")
        it.check(metric(report(h), "node_load1") is None, "a bad mapping was used")
        it.check(metric(report(h), "node_network_receive_bytes_total") is not None or
                 wait_metric(h, "node_network_receive_bytes_total"), "the good mappings not used")
    finally:
        h.stop()
        h.cleanup()
        ex.close()


if __name__ == "__main__":
    it.TESTS[:] = TESTS
    sys.exit(it.main())
