#!/usr/bin/env python3
"""A channel repository's static files over HTTP on 127.0.0.1, as a CDN serves them: an ETag per
file (its SHA-256), 304 Not Modified for a matching If-None-Match, and a count of requests
(REQUESTS_FILE) for the tests that measure a poll. With --redirect-scheme, every request is
answered 302 to the same path on https://, as a server sending hosts to another scheme.

usage: channel_server.py ROOT PORT_FILE [--redirect-scheme] [--requests FILE]
"""
import hashlib
import http.server
import os
import sys
import threading

root, port_file = os.path.abspath(sys.argv[1]), sys.argv[2]
redirect = "--redirect-scheme" in sys.argv
requests_file = sys.argv[sys.argv.index("--requests") + 1] if "--requests" in sys.argv else None
lock = threading.Lock()
count = 0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def count(self):
        global count
        with lock:
            count += 1
            if requests_file:
                with open(requests_file, "w") as out:
                    out.write(f"{count}\n")

    def do_GET(self):
        self.count()
        if redirect:
            self.send_response(302)
            self.send_header("Location", f"https://127.0.0.1:{self.server.server_port}{self.path}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path = os.path.normpath(os.path.join(root, self.path.lstrip("/").split("?")[0]))
        if not path.startswith(os.path.abspath(root)) or not os.path.isfile(path):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with open(path, "rb") as f:
            body = f.read()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(port_file + ".tmp", "w") as out:
    out.write(f"{server.server_port}\n")
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
