#!/usr/bin/env python3
"""peer.py - benchmark peer: a Scope plugin written the way
scope-http-statistics is: Python stdlib http.server, a threading server on
an AF_UNIX socket, HTTP/1.1 with Content-Length, the report built as dicts
and json.dumps'ed on every GET /report.  Serves the same documents as
mod-trivial.c / mod-realistic.c.

    peer.py --socket PATH [--id ID] [--shape trivial|realistic] [--cached]

--cached serialises once a second in a background thread and serves the
last report (the equivalent of a module's interval_ms).
"""
import argparse
import json
import os
import signal
import socket
import socketserver
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer


class UnixHTTPServer(socketserver.ThreadingMixIn, HTTPServer):
    address_family = socket.AF_UNIX
    daemon_threads = True
    request_queue_size = 128

    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name = "localhost"
        self.server_port = 0

    def handle_error(self, request, client_address):
        pass  # the load generator hangs up mid-response when it stops

    def get_request(self):
        request, _ = self.socket.accept()
        return request, ["local", 0]


def timestamp():
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (now.microsecond // 1000)


def metric(date, value, maximum):
    return {"samples": [{"date": date, "value": value}], "min": 0, "max": maximum}


def make_report(plugin_id, shape):
    date = timestamp()
    if shape == "realistic":
        nodes = {}
        for i in range(50):
            node_id = "bench-host;%d" % (1000 + i)
            nodes[node_id] = {
                "id": node_id,
                "topology": "process",
                "latest": {"bench_cmd": {
                    "timestamp": date,
                    "value": "/usr/bin/bench-worker --instance %d" % i}},
                "metrics": {
                    "bench_rps": metric(date, 1.5 * i, 1000),
                    "bench_errors": metric(date, i % 7, 100),
                },
                "parents": {"host": ["bench-host;<host>"]},
            }
        report = {"Process": {
            "nodes": nodes,
            "metadata_templates": {"bench_cmd": {
                "id": "bench_cmd", "label": "Command", "from": "latest", "priority": 1.5}},
            "metric_templates": {
                "bench_rps": {"id": "bench_rps", "label": "Requests/s",
                              "format": "", "priority": 2.5},
                "bench_errors": {"id": "bench_errors", "label": "Errors/s",
                                 "format": "integer", "priority": 3.5},
            },
        }}
    else:
        report = {"Host": {"nodes": {"bench-host;<host>": {
            "id": "bench-host;<host>",
            "topology": "host",
            "metrics": {"bench_value": metric(date, 42.5, 100)},
        }}}}
    report["Plugins"] = [{
        "id": plugin_id,
        "label": "Bench " + shape,
        "description": "Benchmark peer: Python http.server",
        "interfaces": ["reporter"],
        "api_version": "1",
    }]
    return json.dumps(report, separators=(",", ":")).encode()


class Plugin:
    def __init__(self, plugin_id, shape, cached):
        self.plugin_id = plugin_id
        self.shape = shape
        self.cached = make_report(plugin_id, shape) if cached else None
        if cached:
            threading.Thread(target=self.refresh, daemon=True).start()

    def refresh(self):
        while True:
            time.sleep(1)
            self.cached = make_report(self.plugin_id, self.shape)

    def body(self):
        if self.cached is not None:
            return self.cached
        return make_report(self.plugin_id, self.shape)


def handler_for(plugin):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            if self.path.split("?", 1)[0] != "/report":
                self.send_error(404)
                return
            body = plugin.body()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):
            pass

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", required=True)
    parser.add_argument("--id")
    parser.add_argument("--shape", choices=["trivial", "realistic"], default="trivial")
    parser.add_argument("--cached", action="store_true")
    args = parser.parse_args()

    plugin = Plugin(args.id or "bench-" + args.shape, args.shape, args.cached)
    try:
        os.unlink(args.socket)
    except FileNotFoundError:
        pass
    server = UnixHTTPServer(args.socket, handler_for(plugin))

    def stop(signum, frame):
        try:
            os.unlink(args.socket)
        finally:
            os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
