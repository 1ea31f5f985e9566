#!/usr/bin/env python3
"""A stand-in verifier for tests/integration/attest.sh: the wire protocol of attest/protocol.hpp
with tpm2-tools doing the TPM cryptography (tpm2_makecredential for enrollment, tpm2_checkquote
for quotes), so cairn-attest's TPM path is checked by an independent implementation.

It admits a quote when tpm2_checkquote accepts the signature and nonce and the reported PCR
values hash to the quote's pcrDigest; it checks no boot policy (that is cairn-verifier's job).

usage: attest_stub_verifier.py WORKDIR PORTFILE TOKEN_KEY_PEM [--wrong-ak-name]
Every submission is saved as WORKDIR/submission-N.json for the test to inspect."""
import base64, hashlib, json, os, struct, subprocess, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer

work, port_file, token_key = sys.argv[1], sys.argv[2], sys.argv[3]
wrong_ak_name = "--wrong-ak-name" in sys.argv
QUOTED_PCRS = [0, 1, 2, 3, 4, 5, 7, 9, 11, 12, 13, 14, 15]
hosts, pending, nonces = {}, {}, {}
submissions = 0


def b64(data):
    return base64.b64encode(data).decode()


def b64url(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def path(name):
    return os.path.join(work, name)


def tpm2b(data, offset):
    (size,) = struct.unpack_from(">H", data, offset)
    return data[offset + 2 : offset + 2 + size], offset + 2 + size


def parse_quote(attest):
    """(extraData, pcrDigest) of a TPMS_ATTEST of type quote."""
    magic, kind = struct.unpack_from(">IH", attest, 0)
    assert magic == 0xFF544347 and kind == 0x8018, "not a quote"
    _, offset = tpm2b(attest, 6)  # qualifiedSigner
    extra, offset = tpm2b(attest, offset)
    offset += 17 + 8  # clockInfo, firmwareVersion
    (count,) = struct.unpack_from(">I", attest, offset)
    offset += 4
    for _ in range(count):
        offset += 3 + attest[offset + 2]
    digest, _ = tpm2b(attest, offset)
    return extra, digest


def sign_token(claims):
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", token_key],
                               input=payload.encode(), capture_output=True, check=True).stdout
    return payload + "." + b64url(signature)


def enroll(request):
    host = request["host"]
    ek_pub, ak_pub = base64.b64decode(request["ek_public"]), base64.b64decode(request["ak_public"])
    name = b"\x00\x0b" + hashlib.sha256(ak_pub[2:]).digest()
    made_for = b"\x00\x0b" + bytes(32) if wrong_ak_name else name
    for file, data in (("ek.pub", ek_pub), (host + ".ak.pub", ak_pub)):
        open(path(file), "wb").write(data)
    secret = os.urandom(32)
    open(path("secret"), "wb").write(secret)
    subprocess.run(["tpm2_makecredential", "-T", "none", "-u", path("ek.pub"), "-s",
                    path("secret"), "-n", made_for.hex(), "-o", path("cred")],
                   check=True, capture_output=True)
    blob = open(path("cred"), "rb").read()[8:]  # tpm2-tools header: magic, version
    _, offset = tpm2b(blob, 0)
    credential, encrypted = blob[:offset], blob[offset:]
    enrollment = os.urandom(8).hex()
    pending[enrollment] = (host, secret, name)
    return 200, {"enrollment": enrollment, "credential_blob": b64(credential),
                 "encrypted_secret": b64(encrypted), "expires_at": int(time.time()) + 60}


def activate(request):
    host, secret, name = pending.pop(request["enrollment"], (None, None, None))
    if host is None or base64.b64decode(request["secret"]) != secret:
        return 403, {"error": "credential activation failed"}
    hosts[host] = name
    return 200, {"host": host, "ak_name": name.hex()}


def nonce(request):
    if request["host"] not in hosts:
        return 404, {"error": "host " + request["host"] + " is not enrolled"}
    value = os.urandom(32)
    nonces[value] = request["host"]
    return 200, {"nonce": b64(value), "expires_at": int(time.time()) + 60, "pcrs": QUOTED_PCRS}


def attest(submission):
    global submissions
    submissions += 1
    json.dump(submission, open(path("submission-%d.json" % submissions), "w"))
    host, value = submission["host"], base64.b64decode(submission["nonce"])
    attest_bytes = base64.b64decode(submission["quoted"])
    open(path("quote.msg"), "wb").write(attest_bytes)
    open(path("quote.sig"), "wb").write(base64.b64decode(submission["signature"]))
    checks = []

    def check(name, passed, detail):
        checks.append({"name": name, "passed": bool(passed), "detail": detail})

    check("nonce-unused", nonces.pop(value, None) == host, "granted to this host, first use")
    result = subprocess.run(["tpm2_checkquote", "-u", path(host + ".ak.pub"), "-m",
                             path("quote.msg"), "-s", path("quote.sig"), "-g", "sha256",
                             "-q", value.hex()], capture_output=True, text=True)
    check("ak-signature", result.returncode == 0, "tpm2_checkquote: " + result.stderr.strip())
    _, pcr_digest = parse_quote(attest_bytes)
    values = b"".join(bytes.fromhex(submission["pcrs"][str(pcr)]) for pcr in QUOTED_PCRS)
    check("pcr-digest", hashlib.sha256(values).digest() == pcr_digest, "values hash to pcrDigest")
    checks.sort(key=lambda entry: entry["passed"])
    admitted = all(entry["passed"] for entry in checks)
    verdict = {"host": host, "admitted": admitted, "checks": checks, "image_version": None,
               "token": None}
    if admitted:
        now = int(time.time())
        verdict["image_version"] = "stub 1"
        verdict["token"] = sign_token({"host": host, "image": "stub 1",
                                       "boot_id": submission["boot_id"], "reset_count": 0,
                                       "issued_at": now, "expires_at": now + 600})
    return 200, verdict


ROUTES = {"/v1/enroll": enroll, "/v1/enroll/activate": activate, "/v1/nonce": nonce,
          "/v1/attest": attest}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            status, answer = ROUTES[self.path](json.loads(body))
        except Exception as error:  # a test helper: report, never hang
            status, answer = 500, {"error": "%s: %s" % (type(error).__name__, error)}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Handler)
open(port_file + ".tmp", "w").write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
