#!/usr/bin/env python3
"""get-report.py SOCKET ID - GET /report on a plugin socket as Scope's probe
does; exits 0 when the answer is a 200 with a JSON body whose Plugins entry
names ID, else prints what came back and exits 1.  Used by the install
tests (test/user-install.test, test/deb-package.sh)."""
import json
import socket
import sys


def main():
    path, mid = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    s.sendall(b"GET /report HTTP/1.1\r\nHost: plugin\r\nConnection: close\r\n\r\n")
    data = b""
    while len(data) < 64 << 20:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1] if b" " in head else b"?"
    try:
        plugins = json.loads(body)["Plugins"]
        ok = status == b"200" and plugins[0]["id"] == mid
    except (ValueError, KeyError, IndexError, TypeError):
        ok = False
    if not ok:
        print("%s: status %s, body %.300r" % (path, status.decode(errors="replace"), body))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
