#!/usr/bin/env python3
"""Hostile HTTP(S) clients for cairn-verifier's front, each bounded in bytes and time, loopback
only: slow headers, an endless chunked body, deeply nested JSON, oversized headers. Prints one
JSON object with what the server answered (status line, timings) and, with --pid, the server's
peak RSS during the attack (VmHWM, reset first through /proc/PID/clear_refs when allowed).
Used by tests/integration/verifier_front.sh and bench/verify-http.

  http_attacks.py --url https://127.0.0.1:8740 --cafile ca.pem --pid PID COMMAND [options]
"""
import argparse
import http.client
import ipaddress
import json
import select
import socket
import ssl
import sys
import threading
import time
import urllib.parse

MIB = 1 << 20
# Set when the server's RSS passed --rss-abort: every attack stops sending (a server without
# limits would otherwise take the machine's memory with it).
ABORT = threading.Event()


class Target:
    def __init__(self, url, cafile):
        parts = urllib.parse.urlsplit(url)
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.tls else 80)
        if not ipaddress.ip_address(self.host).is_loopback:
            sys.exit(f"http_attacks.py: {self.host} is not a loopback address")
        self.authority = parts.netloc
        self.context = None
        if self.tls:
            self.context = ssl.create_default_context(cafile=cafile)

    def connect(self, timeout=5.0):
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls:
            sock = self.context.wrap_socket(sock, server_hostname=self.host)
        return sock

    def request(self, method, path, body=None, timeout=5.0):
        """A well-behaved request (http.client): its status and how long it took."""
        start = time.monotonic()
        if self.tls:
            conn = http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                               context=self.context)
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read(64 * 1024)
            return {"status": response.status, "seconds": time.monotonic() - start,
                    "body": text.decode("utf-8", "replace")[:300]}
        except (OSError, http.client.HTTPException) as error:
            return {"status": 0, "seconds": time.monotonic() - start, "error": str(error)}
        finally:
            conn.close()


def poll(sock):
    """Without waiting: b"" when nothing came, the bytes the server sent, or None once it closed.
    (A readable TLS socket may only hold a session ticket: readability alone says nothing.)"""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable and not (isinstance(sock, ssl.SSLSocket) and sock.pending()):
        return b""
    sock.setblocking(False)
    try:
        data = sock.recv(64 * 1024)
        return data if data else None
    except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
        return b""
    except OSError:
        return None
    finally:
        sock.setblocking(True)


def read_reply(sock, wait, data=b""):
    """What the server sent until it closed, `wait` seconds passed, or 64 KiB came."""
    deadline = time.monotonic() + wait
    while len(data) < 64 * 1024:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(16 * 1024)
        except (socket.timeout, ssl.SSLError, OSError):
            break
        if not chunk:
            break
        data += chunk
        if b"\r\n\r\n" in data and b'"error"' in data.split(b"\r\n\r\n", 1)[1]:
            break
    return data


def describe_reply(data):
    """Only the status line and whether the body carries {"error": ...}: no HTTP parsing."""
    first = data.split(b"\r\n", 1)[0].decode("latin-1")
    words = first.split(" ")
    status = int(words[1]) if len(words) > 1 and words[0].startswith("HTTP/") and \
        words[1].isdigit() else 0
    body = data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""
    return {"status": status, "status_line": first[:200], "error_json": b'"error"' in body}


def stream(target, head, pieces, limit_seconds, wait_reply=5.0):
    """Sends `head`, then `pieces` (an iterator of bytes) until the server answers, closes, stops
    reading for 5 s, or `limit_seconds` pass; then reads its answer."""
    start = time.monotonic()
    sent, stopped, early = 0, "all sent", b""
    try:
        sock = target.connect()
    except OSError as error:
        return {"status": 0, "error": f"connect: {error}", "sent_bytes": 0, "seconds": 0}
    try:
        sock.sendall(head)
        sent += len(head)
        for piece in pieces:
            if time.monotonic() - start > limit_seconds:
                stopped = "time limit"
                break
            if ABORT.is_set():
                stopped = "aborted: server RSS above --rss-abort"
                break
            early = poll(sock)
            if early is None:
                early, stopped = b"", "server closed"
                break
            if early:
                stopped = "server answered"
                break
            sock.settimeout(5.0)
            try:
                sock.sendall(piece)
            except socket.timeout:
                stopped = "server stopped reading"
                break
            sent += len(piece)
    except OSError as error:
        stopped = f"send failed: {error.__class__.__name__}"
    reply = read_reply(sock, wait_reply, early)
    sock.close()
    out = describe_reply(reply)
    out.update(sent_bytes=sent, seconds=round(time.monotonic() - start, 3), stopped=stopped)
    return out


def chunked(target, args):
    head = (f"POST {args.path} HTTP/1.1\r\nHost: {target.authority}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    block = b"x" * (64 * 1024)
    chunk = f"{len(block):x}\r\n".encode() + block + b"\r\n"

    def pieces():
        for _ in range(args.bytes // len(block)):
            yield chunk
        yield b"0\r\n\r\n"
    return stream(target, head, pieces(), args.limit)


def deep_json_one(target, args):
    body = b"[" * args.bytes
    head = (f"POST {args.path} HTTP/1.1\r\nHost: {target.authority}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    view = memoryview(body)
    return stream(target, head, (view[i:i + 256 * 1024] for i in range(0, len(body), 256 * 1024)),
                  args.limit)


def deep_json(target, args):
    results = [None] * args.parallel

    def one(index):
        results[index] = deep_json_one(target, args)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(args.parallel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"requests": results, "statuses": sorted({r["status"] for r in results}),
            "seconds": max(r["seconds"] for r in results),
            "error_json": all(r["error_json"] for r in results)}


def huge_headers(target, args):
    head = f"GET /healthz HTTP/1.1\r\nHost: {target.authority}\r\n".encode()
    line_value = b"a" * 1000

    def pieces():
        count = args.bytes // 64 // 1024
        for block in range(count):  # 64 header lines of ~1 KiB per piece
            yield b"".join(b"X-Pad-%08d: %s\r\n" % (block * 64 + i, line_value) for i in range(64))
        yield b"\r\n"
    return stream(target, head, pieces(), args.limit)


def slow_headers(target, args):
    """`connections` clients each sending one header byte a second, never finishing; meanwhile a
    normal request every second. Reports how long the normal requests took."""
    request = (f"GET /v1/token-key HTTP/1.1\r\nHost: {target.authority}\r\n"
               "X-Slow: ").encode() + b"a" * 100000
    socks, positions = [], []
    open_deadline = time.monotonic() + args.limit
    for _ in range(args.connections):
        if time.monotonic() > open_deadline:
            break
        try:
            socks.append(target.connect())
            positions.append(0)
        except OSError:
            break
    opened = len(socks)
    probes = []
    stop = threading.Event()

    def probe():
        time.sleep(min(2.0, args.hold / 2))
        while not stop.is_set():
            probes.append(target.request("GET", args.probe_path, timeout=args.probe_timeout))
            stop.wait(1.0)
    prober = threading.Thread(target=probe)
    prober.start()
    closed = [False] * opened
    end = time.monotonic() + args.hold
    while time.monotonic() < end and not ABORT.is_set():
        for index, sock in enumerate(socks):
            if closed[index]:
                continue
            try:
                if poll(sock) != b"":  # an answer (408/431) or a close: the server let go of it
                    closed[index] = True
                    continue
                sock.settimeout(0.5)
                sock.send(request[positions[index]:positions[index] + 1])
                positions[index] += 1
            except OSError:
                closed[index] = True
        time.sleep(max(0.0, 1.0 - 0.001 * opened))
    stop.set()
    prober.join()
    for sock in socks:
        sock.close()
    answered = [p for p in probes if p["status"] == 200]
    return {"opened": opened, "closed_by_server": sum(closed), "held_seconds": args.hold,
            "probes": len(probes), "probes_ok": len(answered),
            "probe_max_seconds": round(max((p["seconds"] for p in probes), default=-1), 3),
            "probe_statuses": sorted({p["status"] for p in probes})}


def probe(target, args):
    return target.request(args.method, args.path, body=args.data, timeout=args.probe_timeout)


def mix(target, args):
    """The attacks at once: slow headers, a 1 GiB chunked body, eight 4 MB bodies of '[' and
    78 MB of headers."""
    jobs = {
        "slow_headers": (slow_headers, argparse.Namespace(
            connections=args.connections, hold=args.hold, limit=20, probe_path=args.probe_path,
            probe_timeout=args.probe_timeout)),
        "chunked": (chunked, argparse.Namespace(bytes=1 << 30, path="/v1/attest",
                                                limit=args.limit)),
        "deep_json": (deep_json, argparse.Namespace(bytes=4_000_000, parallel=8, path="/v1/attest",
                                                    limit=args.limit)),
        "huge_headers": (huge_headers, argparse.Namespace(bytes=78_000_000, limit=args.limit)),
    }
    results = {}

    def run(name, function, options):
        results[name] = function(target, options)
    threads = [threading.Thread(target=run, args=(name, f, o)) for name, (f, o) in jobs.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


class RssWatch:
    """The server's peak resident set during the attack: VmHWM after resetting it, and VmRSS
    sampled every 50 ms (the larger of the two, in case the reset is not allowed)."""

    def __init__(self, pid, abort_mib):
        self.pid = pid
        self.abort_kib = abort_mib * 1024
        self.sampled_kib = 0
        self.stop = threading.Event()
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as clear:
                clear.write("5")
            self.reset = True
        except OSError:
            self.reset = False
        self.thread = threading.Thread(target=self.sample)
        self.thread.start()

    def status(self, key):
        try:
            with open(f"/proc/{self.pid}/status") as status:
                for line in status:
                    if line.startswith(key + ":"):
                        return int(line.split()[1])
        except OSError:
            pass
        return -1

    def sample(self):
        while not self.stop.wait(0.05):
            self.sampled_kib = max(self.sampled_kib, self.status("VmRSS"))
            if self.sampled_kib > self.abort_kib:
                ABORT.set()

    def finish(self):
        time.sleep(0.3)
        self.stop.set()
        self.thread.join()
        peak = max(self.sampled_kib, self.status("VmHWM") if self.reset else 0)
        return {"rss_peak_mib": round(peak / 1024, 1),
                "rss_after_mib": round(self.status("VmRSS") / 1024, 1),
                "hwm_reset": self.reset, "aborted": ABORT.is_set(),
                "alive": self.status("VmRSS") >= 0}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="http(s)://LOOPBACK:PORT")
    parser.add_argument("--cafile", help="CA the server's certificate chains to (https)")
    parser.add_argument("--pid", type=int, help="the server's pid, to report its peak RSS")
    parser.add_argument("--rss-abort", type=int, default=1024,
                        help="MiB of server RSS at which every attack stops sending")
    parser.add_argument("--limit", type=float, default=30, help="seconds any one attack may take")
    parser.add_argument("--probe-timeout", type=float, default=5)
    commands = parser.add_subparsers(dest="command", required=True)
    sub = commands.add_parser("chunked", help="a chunked POST body of BYTES, 64 KiB chunks")
    sub.add_argument("--bytes", type=int, default=8 * MIB)
    sub.add_argument("--path", default="/v1/attest")
    sub = commands.add_parser("deep-json", help="PARALLEL POSTs of BYTES of '['")
    sub.add_argument("--bytes", type=int, default=4_000_000)
    sub.add_argument("--parallel", type=int, default=1)
    sub.add_argument("--path", default="/v1/attest")
    sub = commands.add_parser("huge-headers", help="BYTES of header lines")
    sub.add_argument("--bytes", type=int, default=78_000_000)
    sub = commands.add_parser("slow-headers", help="CONNECTIONS dribbling headers, and probes")
    sub.add_argument("--connections", type=int, default=10)
    sub.add_argument("--hold", type=float, default=5)
    sub.add_argument("--probe-path", default="/v1/token-key")
    sub = commands.add_parser("probe", help="one normal request")
    sub.add_argument("--method", default="GET")
    sub.add_argument("--path", default="/healthz")
    sub.add_argument("--data")
    sub = commands.add_parser("mix", help="slow headers, chunked, deep JSON, huge headers at once")
    sub.add_argument("--connections", type=int, default=50)
    sub.add_argument("--hold", type=float, default=10)
    sub.add_argument("--probe-path", default="/v1/token-key")
    args = parser.parse_args()
    if getattr(args, "connections", 0) > 1000 or getattr(args, "bytes", 0) > (2 << 30):
        sys.exit("http_attacks.py: bounded: at most 1000 connections and 2 GiB")

    target = Target(args.url, args.cafile)
    watch = RssWatch(args.pid, args.rss_abort) if args.pid else None
    command = {"chunked": chunked, "deep-json": deep_json, "huge-headers": huge_headers,
               "slow-headers": slow_headers, "probe": probe, "mix": mix}[args.command]
    result = command(target, args)
    if watch:
        result.update(watch.finish())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
