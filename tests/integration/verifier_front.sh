#!/bin/bash
# cairn-verifier's HTTP(S) front (issue 16) against hostile clients, all on loopback, every
# payload and loop bounded (http_attacks.py): headers sent a byte at a time must not hold up a
# normal request; a chunked body beyond 4 MiB is refused with 413, 4 MB of '[' with 400 (JSON
# depth), 78 MB of headers with 431, each as one 4xx with a JSON error and without the process
# growing; then serve's options: a port in use (exit 3), a bad --listen (exit 1), IPv6 loopback,
# plain HTTP refused off loopback, HTTPS with a pinned CA; the database intact afterwards;
# /healthz and /metrics.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tls_pki.sh"
: "${CAIRN_VERIFIER:?CAIRN_VERIFIER must point at the cairn-verifier binary}"
here=$(cd "$(dirname "$0")" && pwd)

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
db=$work/verifier.db
small_mib=64  # what "the process stays small" means: the idle verifier holds ~11 MiB

verifier() { "$CAIRN_VERIFIER" --db "$db" "$@"; }
status_of() { local status=0; "$@" >"$work/out" 2>"$work/err" || status=$?; echo "$status"; }
# start_verifier NAME SERVE-OPTIONS…: serve in the background, logging to NAME.log; sets $pid,
# and $port once it printed "listening on" (empty if it exited or took over 10 s).
start_verifier() {
  local name=$1
  shift
  "$CAIRN_VERIFIER" --db "$db" serve --token-key "$work/token-key.pem" \
    --allow-ek-without-certificate "$@" >"$work/$name.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  port=
  for _ in $(seq 100); do
    grep -q "listening on" "$work/$name.log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  port=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$work/$name.log" | head -1)
}
attack() { python3 "$here/http_attacks.py" --url "$url" --pid "$pid" "$@" || echo '{}'; }
field() {  # field JSON PYTHON-EXPR-ON-j
  python3 -c 'import json, sys; j = json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}
http_code() { curl -s -o "$work/body" -w '%{http_code}' --max-time 5 "$@" || true; }
below() {  # below X LIMIT: X < LIMIT (decimals)
  python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)' "$1" "$2"
}

# --- a plain-HTTP verifier on 127.0.0.1 ---------------------------------------------------------
start_verifier plain --listen 127.0.0.1:0
[[ -n "$port" ]] || { cat "$work/plain.log"; echo "cairn-verifier serve did not start"; exit 1; }
url=http://127.0.0.1:$port
main_pid=$pid
check_eq "/healthz: 200" 200 "$(http_code "$url/healthz")"

# --- slow headers -------------------------------------------------------------------------------
out=$(attack slow-headers --connections 10 --hold 5 --probe-path /v1/token-key)
echo "     (slow headers: $out)"
check_eq "10 clients sending headers a byte a second: all connected" 10 \
  "$(field "$out" "j['opened']")"
check "… a normal request meanwhile is answered (200)" \
  test "$(field "$out" "j['probes_ok']")" -ge 1 -a "$(field "$out" "j['probes_ok']")" -eq \
  "$(field "$out" "j['probes']")"
check "… within 1 s" below "$(field "$out" "j['probe_max_seconds']")" 1.0

# --- bodies -------------------------------------------------------------------------------------
out=$(attack chunked --bytes $((16 << 20)))
echo "     (16 MiB chunked: $out)"
check_eq "a 16 MiB chunked body: 413" 413 "$(field "$out" "j['status']")"
check_eq "… with a JSON error" True "$(field "$out" "j['error_json']")"
check "… and the verifier stays under $small_mib MiB" \
  below "$(field "$out" "j['rss_peak_mib']")" "$small_mib"

out=$(attack deep-json --bytes 4000000)
echo "     (4 MB of '[': $out)"
check_eq "4 MB of '[' (nested deeper than 32): 400" "[400]" "$(field "$out" "j['statuses']")"
check_eq "… with a JSON error" True "$(field "$out" "j['error_json']")"
check "… and the verifier stays under 256 MiB" below "$(field "$out" "j['rss_peak_mib']")" 256
out=$(attack deep-json --bytes 4000000 --parallel 8)
echo "     (8 x 4 MB of '[' at once: statuses $(field "$out" "j['statuses']"),"\
  "peak RSS $(field "$out" "j['rss_peak_mib']") MiB)"
check_eq "eight 4 MB bodies of '[' at once: each 400" "[400]" "$(field "$out" "j['statuses']")"
check "… and the verifier stays under 256 MiB" below "$(field "$out" "j['rss_peak_mib']")" 256

# --- headers ------------------------------------------------------------------------------------
out=$(attack huge-headers --bytes 78000000)
echo "     (78 MB of headers: $out)"
check_contains "78 MB of headers: 431 (or 400)" " 431 400 " " $(field "$out" "j['status']") "
check_eq "… with a JSON error" True "$(field "$out" "j['error_json']")"
check "… within 2 s" below "$(field "$out" "j['seconds']")" 2.0
check "… and the verifier stays under $small_mib MiB" \
  below "$(field "$out" "j['rss_peak_mib']")" "$small_mib"

# --- still serving ------------------------------------------------------------------------------
check "after the attacks: the verifier is still running" kill -0 "$main_pid"
check_eq "after the attacks: /healthz 200" 200 "$(http_code "$url/healthz")"
check_eq "after the attacks: /v1/token-key 200" 200 "$(http_code "$url/v1/token-key")"
unknown='{"host": "nobody", "nonce": "AAAA", "quoted": "AAAA", "signature": "AAAA", "pcrs": {},
  "event_log": "AAAA", "boot_id": "x"}'
check_eq "a submission from a host never enrolled: 200 with a verdict" 200 \
  "$(http_code -H 'Content-Type: application/json' --data-binary "$unknown" "$url/v1/attest")"
check_contains "… denied" "$(cat "$work/body")" '"admitted":false'
check_eq "/metrics: 200" 200 "$(http_code "$url/metrics")"
check_contains "/metrics counts verdicts" "$(cat "$work/body")" "cairn_verifier_verdicts_total"

# --- serve's options ----------------------------------------------------------------------------
check_eq "a second serve on the same port: exit 3" 3 \
  "$(status_of timeout 10 "$CAIRN_VERIFIER" --db "$db" serve --listen "127.0.0.1:$port" \
    --token-key "$work/token-key.pem" --allow-ek-without-certificate)"
for bad in 127.0.0.1:abc :99999; do
  check_eq "--listen $bad: exit 1" 1 \
    "$(status_of timeout 5 "$CAIRN_VERIFIER" --db "$db" serve --listen "$bad" \
      --token-key "$work/token-key.pem" --allow-ek-without-certificate)"
  check "--listen $bad: … naming it, without listening" \
    bash -c 'grep -qF -- "$1" "$2" && ! grep -q "listening on" "$2"' _ "$bad" "$work/err"
done
# 0.0.0.0:0 only binds (for at most 5 s): nothing is sent off the machine.
status=$(status_of timeout 5 "$CAIRN_VERIFIER" --db "$db" serve --listen 0.0.0.0:0 \
  --token-key "$work/token-key.pem" --allow-ek-without-certificate)
echo "     (serve --listen 0.0.0.0:0 without TLS: exit $status; 124: still serving after 5 s)"
check "plain HTTP on 0.0.0.0 without --insecure-http: refused at start" \
  test "$status" -ne 0 -a "$status" -ne 124
check "… saying how to serve there (TLS, or --insecure-http)" \
  grep -qiE 'insecure-http|tls' "$work/err"

if python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
  start_verifier ipv6 --listen '[::1]:0'
  check "--listen [::1]:0: listening on [::1]:PORT" grep -qE 'listening on \[::1\]:[0-9]+ ' \
    "$work/ipv6.log"
  if [[ -n "$port" ]]; then
    check_eq "--listen [::1]:0: /healthz 200 over IPv6" 200 \
      "$(http_code "http://[::1]:$port/healthz")"
  else
    failed "--listen [::1]:0: /healthz 200 over IPv6" \
      "(serve did not start: $(tail -1 "$work/ipv6.log"))"
  fi
  kill "$pid" 2>/dev/null || true
else
  echo "     (skipped --listen [::1]:0: this machine has no IPv6 loopback)"
fi

# --- HTTPS --------------------------------------------------------------------------------------
make_tls_pki "$work/pki"
start_verifier tls --listen 127.0.0.1:0 --tls-cert "$work/pki/server.pem" \
  --tls-key "$work/pki/server.key"
if [[ -n "$port" ]]; then
  tls_url=https://127.0.0.1:$port
  check_eq "HTTPS: a client pinned to the test CA: /healthz 200" 200 \
    "$(http_code --cacert "$work/pki/ca.pem" "$tls_url/healthz")"
  check_eq "HTTPS: a client trusting only another CA fails (no HTTP status)" 000 \
    "$(http_code --cacert "$work/pki/other-ca.pem" "$tls_url/healthz")"
  check_eq "HTTPS: a client trusting the system's CAs fails (no HTTP status)" 000 \
    "$(http_code "$tls_url/healthz")"
  url=$tls_url
  out=$(attack --cafile "$work/pki/ca.pem" deep-json --bytes 4000000)
  check_eq "HTTPS: 4 MB of '[': 400" "[400]" "$(field "$out" "j['statuses']")"
  kill "$pid" 2>/dev/null || true
else
  failed "HTTPS: serve --tls-cert --tls-key starts (it said: $(tail -1 "$work/tls.log"))"
fi

# --- the database afterwards --------------------------------------------------------------------
kill "$main_pid" 2>/dev/null || true
for _ in $(seq 100); do kill -0 "$main_pid" 2>/dev/null || break; sleep 0.1; done
check "SIGTERM stops the verifier within 10 s" bash -c "! kill -0 $main_pid 2>/dev/null"
check_eq "after the attacks: cairn-verifier hosts reads the database" 0 \
  "$(status_of verifier hosts)"
check_eq "after the attacks: SQLite integrity_check" ok \
  "$(python3 -c 'import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("PRAGMA integrity_check").fetchone()[0])' "$db")"

finish
