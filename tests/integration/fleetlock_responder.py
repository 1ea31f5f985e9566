#!/usr/bin/env python3
"""A FleetLock responder for the tests, as airlock is one: POST /v1/pre-reboot and
/v1/steady-state with the header `fleet-lock-protocol: true` and {"client_params": {"id",
"group"}}. It keeps its semaphore in etcd in Cairn's own layout (fleet/reboot_lock.hpp), so hosts
that lock through it and hosts that lock in etcd directly share one semaphore per group:

  /cairn/<fleet>/semaphores/<group>                {"max", "holders": [{"id", "since", "version"}]}
  /cairn/<fleet>/semaphore-holders/<group>/<id>    "" under a lease of TTL seconds

Every change is one etcd transaction comparing the document's mod_revision.

usage: fleetlock_responder.py ETCD_URL PORT_FILE [--fleet NAME] [--ttl SECONDS]
"""
import base64
import datetime
import http.server
import json
import os
import sys
import urllib.request

etcd, port_file = sys.argv[1].rstrip("/"), sys.argv[2]
fleet = sys.argv[sys.argv.index("--fleet") + 1] if "--fleet" in sys.argv else "default"
ttl = int(sys.argv[sys.argv.index("--ttl") + 1]) if "--ttl" in sys.argv else 3600


def b64(text):
    return base64.b64encode(text.encode()).decode()


def call(path, body):
    request = urllib.request.Request(etcd + path, json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def prefix_end(prefix):
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def current(group):
    key = f"/cairn/{fleet}/semaphores/{group}"
    kvs = call("/v3/kv/range", {"key": b64(key)}).get("kvs", [])
    doc = json.loads(base64.b64decode(kvs[0]["value"])) if kvs else {"max": 1, "holders": []}
    revision = int(kvs[0]["mod_revision"]) if kvs else 0
    prefix = f"/cairn/{fleet}/semaphore-holders/{group}/"
    live = {base64.b64decode(kv["key"]).decode()[len(prefix):]
            for kv in call("/v3/kv/range", {"key": b64(prefix),
                                            "range_end": b64(prefix_end(prefix))}).get("kvs", [])}
    doc["holders"] = [h for h in doc["holders"] if h["id"] in live]
    return key, prefix, doc, revision


def swap(key, revision, doc, writes):
    compare = ({"key": b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}
               if revision == 0 else
               {"key": b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": str(revision)})
    success = [{"request_put": {"key": b64(key), "value": b64(json.dumps(doc))}}] + writes
    return call("/v3/kv/txn", {"compare": [compare], "success": success}).get("succeeded", False)


def pre_reboot(host, group):
    for _ in range(16):
        key, prefix, doc, revision = current(group)
        if any(h["id"] == host for h in doc["holders"]):
            return 200, None
        if len(doc["holders"]) >= doc["max"]:
            held = ", ".join(h["id"] for h in doc["holders"])
            return 409, {"kind": "failed_lock", "value": f"semaphore full, held by {held}"}
        since = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        doc["holders"].append({"id": host, "since": since, "version": ""})
        lease = call("/v3/lease/grant", {"TTL": str(ttl)})["ID"]
        if swap(key, revision, doc, [{"request_put": {"key": b64(prefix + host), "value": "",
                                                      "lease": lease}}]):
            return 200, None
    return 503, {"kind": "busy", "value": "the semaphore kept changing"}


def steady_state(host, group):
    for _ in range(16):
        key, prefix, doc, revision = current(group)
        doc["holders"] = [h for h in doc["holders"] if h["id"] != host]
        if swap(key, revision, doc, [{"request_delete_range": {"key": b64(prefix + host)}}]):
            return 200, None
    return 503, {"kind": "busy", "value": "the semaphore kept changing"}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode() if body else b""
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.headers.get("fleet-lock-protocol") != "true":
            return self.answer(400, {"kind": "missing_header", "value": "fleet-lock-protocol"})
        try:
            params = json.loads(body)["client_params"]
            host, group = params["id"], params["group"]
        except (ValueError, KeyError, TypeError):
            return self.answer(400, {"kind": "bad_request", "value": "no client_params"})
        steps = {"/v1/pre-reboot": pre_reboot, "/v1/steady-state": steady_state}
        if self.path not in steps:
            return self.answer(404, {"kind": "not_found", "value": self.path})
        try:
            return self.answer(*steps[self.path](host, group))
        except OSError as error:
            return self.answer(500, {"kind": "etcd_unavailable", "value": str(error)})


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
# The port, written whole before the test reads it.
with open(port_file + ".tmp", "w") as out:
    out.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
