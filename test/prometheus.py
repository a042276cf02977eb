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
from exec import NeighbourWatch  # noqa: E402

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


def prom_host(url, mid="prometheus", interval=300, extra=(), more_modules=()):
    args = ["--param", "%s.url=%s" % (mid, url), "--set", "%s.interval=%d" % (mid, interval)]
    for m in MAPPING:
        args += ["--param", "%s.%s" % (mid, m)]
    return it.Host([it.plugin("prometheus")] + list(more_modules), args=args + list(extra))


def report(h, mid="prometheus"):
    st, _, body = it.get(h.sock(mid))
    it.check(st == 200, "status %d: %s" % (st, body[:300]))
    return it.assert_report(body, mid)


def metric(doc, key, topo="Host", node="testhost;<host>"):
    try:
        return doc[topo]["nodes"][node]["metrics"]["prometheus." + key]
    except KeyError:
        return None


def wait_metric(h, key, topo="Host", node="testhost;<host>"):
    return it.wait_until(lambda: metric(report(h), key, topo, node), 15,
                         what="metric %s on %s" % (key, node))


@test
def counters_gauges_labels_and_containers():
    ex = Exporter()
    h = prom_host(ex.url()).start(wait_for=["prometheus"])
    try:
        m = wait_metric(h, "node_network_receive_bytes_total")
        doc = report(h)
        load = metric(doc, "node_load1")
        it.check(load["samples"][0]["value"] == 0.75, "gauge as it is: %r" % load)
        mt = doc["Host"]["metric_templates"]
        it.check(mt["prometheus.node_load1"]["label"] == "Load (1 min)" and
                 mt["prometheus.node_load1"]["priority"] == 1.5, "label/priority %r" % mt["prometheus.node_load1"])
        # eth0 + eth1 grow by 1500/s; lo (7777/s) is excluded by where=.
        rate = metric(doc, "node_network_receive_bytes_total")["samples"][0]["value"]
        it.check(1200 < rate < 1800, "rate of eth0+eth1 %r, expected about 1500/s" % rate)
        t = mt["prometheus.node_network_receive_bytes_total"]
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
        it.check(doc["Container"]["metric_templates"]["prometheus.container_cpu_usage_seconds_total"]["label"] == "CPU",
                 "container label option")
        esc = metric(doc, "escaped", "Container", c2)
        it.check(esc is not None and esc["samples"][0]["value"] == 3, "series with escaped labels: %r" % esc)
        for gone in ("not_a_number", "infinite", "old"):
            it.check(metric(doc, gone) is None, "%s should be dropped" % gone)
            it.check("prometheus." + gone not in mt, "template of dropped %s" % gone)
        it.check(metric(doc, "fresh")["samples"][0]["value"] == 6, "timestamped fresh sample")
        it.check("prometheus.unmapped_metric" not in json.dumps(doc), "unmapped series reported")
        it.check(m is not None, "no rate")
    finally:
        h.stop()
        h.cleanup()
        ex.close()


@test
def unix_socket_and_5mb_exposition():
    ex = Exporter()
    h = prom_host("unix:%s:/big" % ex.unix_path).start(wait_for=["prometheus"])
    h2 = prom_host("unix:" + ex.unix_path).start(wait_for=["prometheus"])
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
            h = prom_host(url, extra=["--param", "prometheus.timeout=300",
                                      "--param", "prometheus.max_size=1048576"],
                          more_modules=[it.plugin("load")]).start(wait_for=["load"])
            try:
                with NeighbourWatch(h, name):
                    def failing():
                        st, _, body = it.get(h.sock("prometheus"))
                        return st == 500 and json.loads(body)["error"]
                    it.wait_until(failing, 20, what="%s: prometheus failing" % name)
                    h.wait_log(reason, 20)
                    for _ in range(5):
                        t0 = time.monotonic()
                        st, _, _ = it.get(h.sock("prometheus"))
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
            h.wait_serving("prometheus", 20)
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
def two_hosts_each_with_prometheus_at_once():
    ex = Exporter()
    ha = prom_host(ex.url()).start()
    hb = prom_host("unix:" + ex.unix_path, interval=500).start()
    try:
        ha.wait_serving("prometheus")
        hb.wait_serving("prometheus")
        for h in (ha, hb):
            wait_metric(h, "node_network_receive_bytes_total")
            it.check(metric(report(h), "node_load1")["samples"][0]["value"] == 0.75, "load")
    finally:
        ha.stop()
        hb.stop()
        ha.cleanup()
        hb.cleanup()
        ex.close()


@test
def refused_without_a_usable_url_and_bad_mappings_logged():
    for url, text in [(None, "param url is not set"), ("ftp://x/", "must start with http:// or unix:"),
                      ("http://127.0.0.1:99999999/", "bad port"), ("unix:relative.sock", "absolute socket path")]:
        args = [] if url is None else ["--param", "prometheus.url=" + url]
        h = it.Host([it.plugin("prometheus")], args=args).start()
        try:
            h.wait_log(text)
            h.wait_log("refused")
        finally:
            h.stop()
            h.cleanup()
    ex = Exporter()
    h = prom_host(ex.url(), extra=["--param", "prometheus.metric.node_load1=process:1",
                                   "--param", "prometheus.metric.fresh=host format=bytes"]).start(wait_for=["prometheus"])
    try:
        h.wait_log("param metric.node_load1: only host and container:LABEL; ignored")
        h.wait_log("param metric.fresh: format must be")
        it.check(metric(report(h), "node_load1") is None, "a bad mapping was used")
    finally:
        h.stop()
        h.cleanup()
        ex.close()


if __name__ == "__main__":
    it.TESTS[:] = TESTS
    sys.exit(it.main())
