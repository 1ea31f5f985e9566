#!/bin/bash
# cairn-attest against software TPMs (swtpm), with an independent counterpart: a stand-in
# verifier (attest_stub_verifier.py) doing the TPM cryptography with tpm2-tools
# (tpm2_makecredential, tpm2_checkquote). Checks the EK (persistent with an NV certificate, and
# created from the TCG template), the AK, enrollment by credential activation, quotes over the 13
# attested PCRs, the token, exit codes; and a quote from another TPM is denied.
# Then, with CAIRN_VERIFIER set, end to end against the real cairn-verifier: a pretend measured
# boot (attest_fake_boot) of an approved image is admitted, and each attack through the real TPM
# path is denied with its reason: another TPM's AK, a replayed submission, an edited event log;
# submissions hand-made with tpm2-tools and the host's own AK (recreated from its template) that
# the TPM really signed: a nonce that expired (a second cairn-verifier with --nonce-lifetime 1),
# a quote over another PCR selection, a TPMS_ATTEST with another magic (signed through a
# TPM2_Hash ticket) or of another type (TPM2_GetTime); a boot of a version never approved,
# PCR 12 extended (cmdline override), a PCR extended after the log was read, a revoked version.
source "$(dirname "$0")/lib.sh"
: "${CAIRN_ATTEST:?CAIRN_ATTEST must point at cairn-attest}"
: "${CAIRN_FAKE_BOOT:?CAIRN_FAKE_BOOT must point at attest_fake_boot}"
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

# start_tpm NAME [setup]: a swtpm on a free TCP port, in $port; "setup" manufactures it like a
# real TPM (persistent RSA EK at 0x81010001 and its certificate in NV 0x01c00002).
start_tpm() {
  local name=$1
  mkdir -p "$work/$name"
  if [[ "${2:-}" == setup ]]; then
    swtpm_setup --tpm2 --tpmstate "$work/$name" --create-ek-cert --create-platform-cert \
      >"$work/$name.setup.log" 2>&1 || { cat "$work/$name.setup.log"; exit 1; }
  fi
  for _ in $(seq 20); do
    port=$((20000 + RANDOM % 20000))
    swtpm socket --tpm2 --tpmstate dir="$work/$name" --server type=tcp,port="$port" \
      --ctrl type=tcp,port=$((port + 1)) --flags not-need-init,startup-clear \
      >"$work/$name.log" 2>&1 &
    local pid=$!
    for _ in $(seq 50); do
      TPM2TOOLS_TCTI="swtpm:port=$port" tpm2_getrandom 1 >/dev/null 2>&1 && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      pids+=("$pid")
      return
    fi
  done
  echo "cannot start swtpm $name" >&2
  exit 1
}

# start_stub NAME [--wrong-ak-name]: the stand-in verifier; its URL in $url.
start_stub() {
  local dir="$work/$1"
  shift
  mkdir -p "$dir"
  python3 "$here/attest_stub_verifier.py" "$dir" "$dir/port" "$work/token.key" "$@" \
    >"$dir/stub.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 50); do [[ -s "$dir/port" ]] && break; sleep 0.1; done
  [[ -s "$dir/port" ]] || { echo "the stand-in verifier did not start" >&2; exit 1; }
  url="http://127.0.0.1:$(cat "$dir/port")"
}

start_tpm tpm_a setup
port_a=$port
pid_a=${pids[-1]}
start_tpm tpm_b
port_b=$port
tcti_a="swtpm:host=127.0.0.1,port=$port_a"
tcti_b="swtpm:host=127.0.0.1,port=$port_b"

# A "boot" on TPM A: firmware-like extends into the attested PCRs, and a log file to send.
for pcr in 0 4 7 11; do
  TPM2TOOLS_TCTI="swtpm:port=$port_a" tpm2_pcrextend \
    "$pcr:sha256=$(echo "measurement $pcr" | sha256sum | cut -d' ' -f1)"
done
printf 'fake firmware event log' >"$work/event_log"

openssl ecparam -name prime256v1 -genkey -noout -out token.key 2>/dev/null
openssl ec -in token.key -pubout -out token.pub 2>/dev/null
start_stub stub
# write_config FILE VERIFIER_URL TOKEN_KEY EVENT_LOG TOKEN: an attest.toml for host kvm-07 on
# TPM A, and attest() running cairn-attest with it.
write_config() {
  cat >"$1" <<TOML
verifier_url = "$2"
verifier_key = "$3"
host = "kvm-07"
tcti = "$tcti_a"
event_log = "$4"
token = "$5"
TOML
  config_file=$1
}
attest() { "$CAIRN_ATTEST" --config "$config_file" "$@"; }
write_config "$work/attest.toml" "$url" "$work/token.pub" "$work/event_log" "$work/run/attest/token"
status_of() { local status=0; "$@" >"$work/out" 2>"$work/err" || status=$?; echo "$status"; }
b64_field() {  # b64_field FILE PYTHON-EXPR OUT: decode a base64 field of a JSON file
  python3 -c "import base64, json, sys; j = json.load(open(sys.argv[1]))
open(sys.argv[3], 'wb').write(base64.b64decode(eval(sys.argv[2])))" "$1" "$2" "$3"
}

# --- show: the EK and AK this TPM holds ---------------------------------------------------------
check "show on TPM A" attest show
attest show --json >show_a.json
b64_field show_a.json "j['ek']['public']" ek_a.pub
b64_field show_a.json "j['ak']['public']" ak_a.pub
b64_field show_a.json "j['ek']['certificate']" ek_a.der
TPM2TOOLS_TCTI="swtpm:port=$port_a" tpm2_readpublic -c 0x81010001 -o ek_a_tools.pub >/dev/null
check "TPM A: the EK is the persistent key at 0x81010001" cmp -s ek_a.pub ek_a_tools.pub
check_eq "TPM A: EK marked persistent" "True" \
  "$(python3 -c 'import json; print(json.load(open("show_a.json"))["ek"]["persistent"])')"
openssl x509 -inform DER -in ek_a.der -noout -pubkey >ek_a_cert_key.pem 2>/dev/null || true
tpm2_print -t TPM2B_PUBLIC -f pem ek_a.pub >ek_a_key.pem
check "TPM A: the NV EK certificate certifies this EK" cmp -s ek_a_cert_key.pem ek_a_key.pem
attest show --json >show_a2.json
check_eq "TPM A: the AK is the same key on every run (owner-hierarchy primary)" \
  "$(python3 -c 'import json; print(json.load(open("show_a.json"))["ak"]["name"])')" \
  "$(python3 -c 'import json; print(json.load(open("show_a2.json"))["ak"]["name"])')"
check_eq "the AK name is sha256 over its TPMT_PUBLIC" \
  "000b$(tail -c +3 ak_a.pub | sha256sum | cut -d' ' -f1)" \
  "$(python3 -c 'import json; print(json.load(open("show_a.json"))["ak"]["name"])')"

attest --tcti "$tcti_b" show --json >show_b.json
b64_field show_b.json "j['ek']['public']" ek_b.pub
TPM2TOOLS_TCTI="swtpm:port=$port_b" tpm2_createek -c - -G rsa -u ek_b_tools.pub >/dev/null
TPM2TOOLS_TCTI="swtpm:port=$port_b" tpm2_flushcontext -t
check "TPM B: the EK created from the TCG template equals tpm2_createek's" \
  cmp -s ek_b.pub ek_b_tools.pub
check_eq "TPM B: no EK certificate in NV" "None" \
  "$(python3 -c 'import json; print(json.load(open("show_b.json"))["ek"]["certificate"])')"

# --- enroll -------------------------------------------------------------------------------------
start_stub wrong --wrong-ak-name
wrong_url=$url
check_eq "enroll: a credential made for another AK name is refused (exit 6)" 6 \
  "$(status_of attest --verifier "$wrong_url" enroll)"
check_contains "enroll: the TPM's refusal is named" "$(cat err)" "refused the credential"

check_eq "attest before enrolling: the verifier refuses (exit 6)" 6 "$(status_of attest attest)"
check_eq "enroll on TPM A" 0 "$(status_of attest enroll --json)"
check_contains "enroll: the verifier's AK name" "$(cat out)" \
  "$(python3 -c 'import json; print(json.load(open("show_a.json"))["ak"]["name"])')"

check_eq "enroll TPM B as kvm-08 with --persist" 0 \
  "$(status_of attest --tcti "$tcti_b" --host kvm-08 enroll --persist)"
attest --tcti "$tcti_b" show --json >show_b2.json
b64_field show_b2.json "j['ek']['public']" ek_b2.pub
check_eq "TPM B: --persist stored the EK" "True" \
  "$(python3 -c 'import json; print(json.load(open("show_b2.json"))["ek"]["persistent"])')"
check "TPM B: the persisted EK is the one enrolled" cmp -s ek_b.pub ek_b2.pub
check "TPM B: tpm2-tools sees it at 0x81010001" \
  env TPM2TOOLS_TCTI="swtpm:port=$port_b" tpm2_readpublic -c 0x81010001

# --- attest -------------------------------------------------------------------------------------
check_eq "attest on TPM A: admitted" 0 "$(status_of attest attest)"
check_eq "attest is quiet on success" "" "$(cat out err)"
check_eq "the token file is mode 600" 600 "$(stat -c %a run/attest/token)"
submission=$(ls stub/submission-*.json | tail -1)
check_eq "the quote covers the 13 attested PCRs" "0 1 2 3 4 5 7 9 11 12 13 14 15" \
  "$(python3 -c 'import json, sys; print(*sorted(map(int, json.load(open(sys.argv[1]))["pcrs"])))' "$submission")"
TPM2TOOLS_TCTI="swtpm:port=$port_a" tpm2_pcrread sha256:0,1,2,3,4,5,7,9,11,12,13,14,15 \
  -o pcrs_tools.bin >/dev/null
check_eq "the reported PCR values are the TPM's (tpm2_pcrread)" "$(xxd -p pcrs_tools.bin | tr -d '\n')" \
  "$(python3 -c 'import json, sys; p = json.load(open(sys.argv[1]))["pcrs"]
print("".join(p[str(i)] for i in (0, 1, 2, 3, 4, 5, 7, 9, 11, 12, 13, 14, 15)))' "$submission")"
check_eq "the submission carries the event log" "fake firmware event log" \
  "$(python3 -c 'import base64, json, sys; print(base64.b64decode(json.load(open(sys.argv[1]))["event_log"]).decode())' "$submission")"
check_eq "check-token: valid" 0 "$(status_of attest check-token)"
check_eq "check-token --json" "True" \
  "$(attest check-token --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["valid"])')"
check_eq "quote is an alias of attest" 0 "$(status_of attest quote)"

# --- a quote signed by another TPM's AK ---------------------------------------------------------
check_eq "attest with TPM B's AK as kvm-07: denied (exit 6)" 6 \
  "$(status_of attest --tcti "$tcti_b" attest --json)"
check_contains "the denial names the AK signature" "$(cat out)" '"ak-signature"'
check_contains "the reason is printed on stderr" "$(cat err)" "denied: ak-signature"
check "the denial removed the token" test ! -e run/attest/token
check_eq "check-token after the denial: no valid token (exit 6)" 6 \
  "$(status_of attest check-token)"
check_contains "check-token says why" "$(cat err)" "no admission token"

# --- exit codes of what keeps a verdict from being reached -------------------------------------
check_eq "TPM unreachable: exit 3" 3 \
  "$(status_of attest --tcti "swtpm:host=127.0.0.1,port=1" attest)"
check_contains "TPM unreachable: the TCTI is named" "$(cat err)" "port=1"
check_eq "verifier unreachable: exit 3" 3 "$(status_of attest --verifier http://127.0.0.1:1 attest)"
check_eq "bad verifier URL: exit 1" 1 "$(status_of attest --verifier ftp://x attest)"
printf 'verifer_url = "x"\n' >bad.toml
check_eq "unknown configuration key: exit 1" 1 "$(status_of "$CAIRN_ATTEST" --config bad.toml show)"
check_contains "the bad key is named" "$(cat err)" "verifer_url"
check_eq "unknown subcommand: a usage error (exit 2)" 2 "$(status_of attest frobnicate)"

# --- end to end with cairn-verifier -------------------------------------------------------------
: "${CAIRN_VERIFIER:?CAIRN_VERIFIER must point at the cairn-verifier binary}"
mkdir e2e
cd e2e
verifier() { "$CAIRN_VERIFIER" --db "$work/e2e/verifier.db" "$@"; }
failed_checks() {  # the names of the failed checks in a cairn-attest --json (or verdict) output
  python3 -c 'import json, sys; j = json.load(open(sys.argv[1]))
print(*[c["name"] for c in (j.get("reasons") or [c for c in j.get("checks", []) if not c["passed"]])])' "$1"
}

# The image: golden measurements signed by a throwaway release key; a throwaway Secure Boot db.
openssl req -x509 -newkey rsa:2048 -nodes -keyout release.key -out release.crt -days 2 \
  -subj "/CN=cairn test release" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout db.key -out db.crt -days 2 \
  -subj "/CN=cairn test Secure Boot db" 2>/dev/null
"$CAIRN_FAKE_BOOT" measurements --db-cert db.crt --out measurements.json
openssl cms -sign -binary -noattr -in measurements.json -signer release.crt -inkey release.key \
  -outform DER -out measurements.json.sig
verifier token-key --token-key token-key.pem --show >token-key.pub
check "cairn-verifier approves the fake image's measurements.json" \
  verifier approve measurements.json --trust release.crt
# EK certificates must chain to swtpm's local CA (the one swtpm_setup signed TPM A's with).
mkdir ek-ca
cp /var/lib/swtpm-localca/issuercert.pem /var/lib/swtpm-localca/swtpm-localca-rootca-cert.pem ek-ca/
# Not through the verifier function: $! must be cairn-verifier itself, for the cleanup.
"$CAIRN_VERIFIER" --db "$work/e2e/verifier.db" serve --listen 127.0.0.1:0 \
  --token-key token-key.pem --ek-ca "$work/e2e/ek-ca" >serve.log 2>&1 &
pids+=("$!")
for _ in $(seq 50); do grep -q "listening on" serve.log && break; sleep 0.1; done
verifier_port=$(grep -o 'listening on 127.0.0.1:[0-9]*' serve.log | cut -d: -f2)
[[ -n "$verifier_port" ]] || { cat serve.log; exit 1; }

# A fresh power cycle of TPM A (PCRs back to zero), then the pretend boot.
kill "$pid_a"
wait "$pid_a" 2>/dev/null || true
start_tpm tpm_a
port_a=$port
tcti_a="swtpm:host=127.0.0.1,port=$port_a"
check "fake boot on TPM A" "$CAIRN_FAKE_BOOT" boot --tcti "$tcti_a" --db-cert db.crt --log boot_a.log
check "fake boot on TPM B" "$CAIRN_FAKE_BOOT" boot --tcti "$tcti_b" --db-cert db.crt --log boot_b.log
write_config "$work/e2e/attest.toml" "http://127.0.0.1:$verifier_port" \
  "$work/e2e/token-key.pub" "$work/e2e/boot_a.log" "$work/e2e/run/token"

check_eq "e2e: enroll (EK certificate checked against swtpm's CA)" 0 \
  "$(status_of attest enroll)"
check_contains "e2e: cairn-verifier lists the host" "$(verifier hosts)" "kvm-07"
# TPM B was never manufactured: no EK certificate, which is what any software TPM looks like.
check "e2e: a TPM without an EK certificate is refused with --ek-ca" \
  test "$(status_of attest --tcti "$tcti_b" --host kvm-08 enroll)" -ne 0
check_contains "e2e: … saying why" "$(cat "$work/err")" "no EK certificate"
check "e2e: … and is not enrolled" bash -c "! '$CAIRN_VERIFIER' --db '$work/e2e/verifier.db' hosts | grep -q kvm-08"
# serve refuses to start with neither an EK CA nor the lab's explicit opt-in.
check_eq "e2e: serve with no --ek-ca and no --allow-ek-without-certificate: exit 1" 1 \
  "$(status_of "$CAIRN_VERIFIER" --db "$work/e2e/verifier.db" serve --listen 127.0.0.1:0 \
    --token-key token-key.pem)"
check_contains "e2e: … saying why" "$(cat "$work/err")" "--allow-ek-without-certificate"
check_eq "e2e: attest: admitted" 0 "$(status_of attest attest --json --save-submission sub.json)"
check_eq "e2e: every check passed" "" "$(failed_checks "$work/out")"
check_contains "e2e: the verdict names the image" "$(cat "$work/out")" '"image_version": "fake 1.0.0"'
check_eq "e2e: check-token: valid" 0 "$(status_of attest check-token)"
cp "$work/e2e/run/token" "$work/e2e/token.admitted"  # for the revocation at the end

# denied NAME CHECK [cairn-attest options…]: attest is denied (exit 6) naming CHECK, in --json
# and on stderr, and the token is gone.
denied() {
  local what=$1 name=$2
  shift 2
  check_eq "$what: denied (exit 6)" 6 "$(status_of attest "$@" attest --json)"
  cp "$work/out" "$work/verdict.json"
  echo "     ($what: failed checks: $(failed_checks "$work/verdict.json"))"
  check_contains "$what: the verdict names $name" " $(failed_checks "$work/verdict.json") " " $name "
  check_contains "$what: stderr names $name" "$(cat "$work/err")" "denied: $name:"
  check_eq "$what: check-token refuses afterwards" 6 "$(status_of attest check-token)"
}
readmit() {
  check_eq "$1: the genuine boot is admitted again" 0 "$(status_of attest attest)"
}

denied "quote by another TPM's AK" ak-signature --tcti "$tcti_b" --event-log "$work/e2e/boot_b.log"
# (The other TPM's clock and reset counter may also be behind TPM A's: reset-count may fail too.)
check_eq "another TPM's AK: no boot check fails (same boot, same PCRs)" "ak-signature" \
  "$(failed_checks "$work/verdict.json" | sed 's/ reset-count//')"
readmit "after another TPM's AK"

curl -s -X POST -H 'Content-Type: application/json' --data-binary @sub.json \
  "http://127.0.0.1:$verifier_port/v1/attest" >replay.json
check_contains "replayed submission: denied, nonce already used" \
  " $(failed_checks replay.json) " " nonce-unused "
check_contains "replayed submission: no token" "$(python3 -c 'import json; print(json.load(open("replay.json")).get("token"))')" "None"

python3 - "$work/e2e/boot_a.log" edited.log <<'PY'
import hashlib, sys
log = bytearray(open(sys.argv[1], "rb").read())
digest = hashlib.sha256(b"fake systemd-boot").digest()  # systemd-boot's PCR 4 event
at = log.index(digest)
log[at] ^= 1
open(sys.argv[2], "wb").write(log)
PY
denied "event log edited" event-log-replay --event-log "$work/e2e/edited.log"
readmit "after the edited log"

# --- hand-made submissions: tpm2-tools with the host's own AK ----------------------------------
# The AK is a primary key of the owner hierarchy: whoever holds the TPM (root on the host)
# recreates it from its template and has it sign outside cairn-attest. Each submission below is
# the genuine one (sub.json) with the nonce, TPMS_ATTEST, signature and PCR values replaced by
# what this TPM really signed, POSTed to cairn-verifier's /v1/attest as cairn-attest does.
verifier_url="http://127.0.0.1:$verifier_port"
tpm_a() { TPM2TOOLS_TCTI="swtpm:port=$port_a" "$@"; }
# No resource manager: every object tpm2-tools loads stays loaded, so flush after each use.
ak_do() {
  local status=0
  tpm_a "$@" >/dev/null 2>"$work/tools.err" || status=$?
  tpm_a tpm2_flushcontext -t
  return "$status"
}
# attest/host/keys.cpp's template: RSA 2048, RSASSA-SHA256, restricted signing, unique "cairn
# attestation key" (tpm2-tools reads a TPMU_PUBLIC_ID: a little-endian size, then the bytes).
printf '\x15\x00cairn attestation key' >ak.unique
ak_do tpm2_createprimary -C o -g sha256 -G rsa2048:rsassa-sha256:null \
  -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign' -u ak.unique -c ak.ctx
ak_do tpm2_readpublic -c ak.ctx -n ak.name
attest show --json >show_e2e.json
check_eq "tpm2_createprimary with the AK's template recreates the host's AK (same name)" \
  "$(python3 -c 'import json; print(json.load(open("show_e2e.json"))["ak"]["name"])')" \
  "$(xxd -p ak.name | tr -d '\n')"

# nonce_from URL: a nonce for kvm-07 from that verifier (grant.json), as cairn-attest asks for
# one; base64 in $nonce, hex in $nonce_hex.
nonce_from() {
  curl -sf -X POST -H 'Content-Type: application/json' --data-binary '{"host": "kvm-07"}' \
    "$1/v1/nonce" >grant.json
  nonce=$(python3 -c 'import json; print(json.load(open("grant.json"))["nonce"])')
  nonce_hex=$(base64 -d <<<"$nonce" | xxd -p -c 64)
}
attested=0,1,2,3,4,5,7,9,11,12,13,14,15
# quote_with_ak PCRS: the AK quotes sha256:PCRS over $nonce: quote.attest (TPMS_ATTEST),
# quote.sig (TPMT_SIGNATURE: tpm2-tools' default "tss" format, as cairn-attest sends it) and the
# PCR values read with it, quote.pcrs.
quote_with_ak() {
  ak_do tpm2_quote -c ak.ctx -l "sha256:$1" -q "$nonce_hex" -g sha256 -m quote.attest \
    -s quote.sig -o quote.pcrs -F values
}
# forge OUT ATTEST SIGNATURE PCRS VALUES: sub.json with $nonce, this TPMS_ATTEST, signature and
# PCR values (binary, ascending, one sha256 each: tpm2-tools' "values" format).
forge() {
  python3 - "$nonce" "$@" <<'PY'
import base64, json, sys
nonce, out, attest, signature, pcrs, values = sys.argv[1:]
submission = json.load(open("sub.json"))
raw = open(values, "rb").read()
pcrs = [int(p) for p in pcrs.split(",")]
assert len(raw) == 32 * len(pcrs), f"{len(raw)} bytes of PCR values for {len(pcrs)} PCRs"
b64 = lambda path: base64.b64encode(open(path, "rb").read()).decode()
submission.update(nonce=nonce, quoted=b64(attest), signature=b64(signature),
                  pcrs={str(p): raw[32 * i:32 * i + 32].hex() for i, p in enumerate(pcrs)})
json.dump(submission, open(out, "w"))
PY
}
# submit WHAT FILE [URL]: POSTs FILE to cairn-verifier; its answer in verdict.json.
submit() {
  curl -s -X POST -H 'Content-Type: application/json' --data-binary "@$2" \
    "${3:-$verifier_url}/v1/attest" >"$work/verdict.json"
  echo "     ($1: failed checks: $(failed_checks "$work/verdict.json"))"
}
verdict_field() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get(sys.argv[2]))' \
    "$work/verdict.json" "$1"
}
# forged_denied WHAT CHECK: the verdict denies, names CHECK and carries no token.
forged_denied() {
  check_eq "$1: denied" False "$(verdict_field admitted)"
  check_contains "$1: the verdict names $2" " $(failed_checks "$work/verdict.json") " " $2 "
  check_eq "$1: no token" None "$(verdict_field token)"
}

# The control: the same path with nothing forged is admitted, so each denial below is the attack's.
nonce_from "$verifier_url"
quote_with_ak "$attested"
forge genuine.json quote.attest quote.sig "$attested" quote.pcrs
submit "hand-made genuine quote" genuine.json
check_eq "a genuine quote made with tpm2-tools: admitted" True "$(verdict_field admitted)"
check_eq "a genuine quote made with tpm2-tools: every check passed" "" \
  "$(failed_checks "$work/verdict.json")"
check "a genuine quote made with tpm2-tools: a token" test "$(verdict_field token)" != None

# Expired nonce: a second cairn-verifier on the same database grants nonces valid for 1 s.
"$CAIRN_VERIFIER" --db "$work/e2e/verifier.db" serve --listen 127.0.0.1:0 \
  --token-key token-key.pem --ek-ca "$work/e2e/ek-ca" --nonce-lifetime 1 >serve_short.log 2>&1 &
pids+=("$!")
for _ in $(seq 50); do grep -q "listening on" serve_short.log && break; sleep 0.1; done
short_port=$(grep -o 'listening on 127.0.0.1:[0-9]*' serve_short.log | cut -d: -f2)
[[ -n "$short_port" ]] || { cat serve_short.log; exit 1; }
short_url="http://127.0.0.1:$short_port"
asked_at=$(date +%s)
nonce_from "$short_url"
expires_at=$(python3 -c 'import json; print(json.load(open("grant.json"))["expires_at"])')
check "--nonce-lifetime 1: the nonce expires within seconds (not the default 60)" \
  test $((expires_at - asked_at)) -le 5
quote_with_ak "$attested"
forge expired.json quote.attest quote.sig "$attested" quote.pcrs
while (($(date +%s) < expires_at)); do sleep 0.2; done  # nonce-fresh: now < expires_at
submit "expired nonce" expired.json "$short_url"
forged_denied "expired nonce" nonce-fresh
check_eq "expired nonce: only nonce-fresh fails" "nonce-fresh" \
  "$(failed_checks "$work/verdict.json")"

# Another PCR selection: a genuine quote by the AK over the fresh nonce, but without PCR 12 (it
# would hide a command line override), with PCR values that match what it signed.
nonce_from "$verifier_url"
without12=0,1,2,3,4,5,7,9,11,13,14,15
quote_with_ak "$without12"
forge no12.json quote.attest quote.sig "$without12" quote.pcrs
submit "quote without PCR 12" no12.json
forged_denied "quote without PCR 12" pcr-selection
check_eq "quote without PCR 12: signature, nonce and PCR digest are fine" "" \
  "$(failed_checks "$work/verdict.json" | tr ' ' '\n' |
    grep -xE 'ak-signature|nonce-.*|pcr-digest' || true)"
# One PCR more (8) leaves every attested value in place: pcr-selection alone denies it.
nonce_from "$verifier_url"
with8=0,1,2,3,4,5,7,8,9,11,12,13,14,15
quote_with_ak "$with8"
forge with8.json quote.attest quote.sig "$with8" quote.pcrs
submit "quote with PCR 8 too" with8.json
forged_denied "quote with PCR 8 too" pcr-selection
check_eq "quote with PCR 8 too: only pcr-selection fails" "pcr-selection" \
  "$(failed_checks "$work/verdict.json")"

# Wrong magic. A restricted key signs external data only with a TPM2_Hash ticket, and TPM2_Hash
# issues a real one only when the data does not start with TPM_GENERATED_VALUE: so the AK will
# sign a TPMS_ATTEST whose magic is anything else. That forgery is what the magic check is for.
nonce_from "$verifier_url"
quote_with_ak "$attested"
ak_do tpm2_hash -C o -g sha256 -t genuine.ticket -o genuine.digest quote.attest
check_eq "the AK does not sign a hash of data starting with TPM_GENERATED_VALUE" 1 \
  "$(status_of ak_do tpm2_sign -c ak.ctx -g sha256 -d genuine.digest -t genuine.ticket -o x.sig)"
check_contains "... the TPM names the ticket" "$(cat "$work/tools.err")" "invalid ticket"
python3 -c 'import sys; a = bytearray(open("quote.attest", "rb").read())
assert a[:4] == bytes.fromhex("ff544347"); a[3] ^= 0x01; open("magic.attest", "wb").write(a)'
ak_do tpm2_hash -C o -g sha256 -t magic.ticket -o magic.digest magic.attest
check "the AK signs the same TPMS_ATTEST with magic 0xff544346 (hash ticket)" \
  ak_do tpm2_sign -c ak.ctx -g sha256 -d magic.digest -t magic.ticket -o magic.sig
forge magic.json magic.attest magic.sig "$attested" quote.pcrs
submit "wrong magic" magic.json
forged_denied "wrong magic" magic
check_eq "wrong magic: only magic fails (the AK's signature verifies)" "magic" \
  "$(failed_checks "$work/verdict.json")"

# Wrong type: a genuine TPMS_ATTEST of another type, TPM2_GetTime's (TPM_ST_ATTEST_TIME), signed
# by the AK over the fresh nonce (tpm2_certify takes no qualifying data), sent as the quote.
nonce_from "$verifier_url"
check "the AK signs a time attestation over the nonce" \
  ak_do tpm2_gettime -c ak.ctx -q "$nonce_hex" --attestation time.attest -o time.sig
tpm_a tpm2_pcrread "sha256:$attested" -o time.pcrs >/dev/null
forge type.json time.attest time.sig "$attested" time.pcrs
submit "wrong type" type.json
forged_denied "wrong type" type
# A time attestation selects no PCRs: pcr-selection fails and pcr-digest cannot be checked.
check_eq "wrong type: magic, nonce and signature are fine" "type pcr-selection pcr-digest" \
  "$(failed_checks "$work/verdict.json")"

# --- a version never approved -------------------------------------------------------------------
# power_cycle_a: TPM A resets (PCRs to zero, resetCount + 1), as at a reboot. Orderly: a TPM
# counts a reset without TPM2_Shutdown against dictionary-attack lockout, and locks the AK out.
power_cycle_a() {
  tpm_a tpm2_shutdown -c
  swtpm_ioctl --tcp "127.0.0.1:$((port_a + 1))" -i >/dev/null
  tpm_a tpm2_startup -c
}
power_cycle_a
check "fake boot of version 2.0.0 (never approved) on TPM A" "$CAIRN_FAKE_BOOT" boot \
  --tcti "$tcti_a" --db-cert db.crt --log boot_v2.log --version 2.0.0
denied "unapproved version" image-known --event-log "$work/e2e/boot_v2.log"
check_eq "unapproved version: every other failure is a check that needs the image" "" \
  "$(python3 -c 'import json, sys; reasons = json.load(open(sys.argv[1]))["reasons"]
print(*[c["name"] for c in reasons
        if c["name"] != "image-known" and not c["detail"].startswith("not checked: no image")])' \
    "$work/verdict.json")"
power_cycle_a
check "fake boot of version 1.0.0 again on TPM A" "$CAIRN_FAKE_BOOT" boot --tcti "$tcti_a" \
  --db-cert db.crt --log boot_a.log
readmit "after the unapproved version"

cp boot_a.log cmdline.log
check "PCR 12 extended with another command line (logged)" "$CAIRN_FAKE_BOOT" extend \
  --tcti "$tcti_a" --log cmdline.log --pcr 12 --ipl "init=/bin/sh"
denied "cmdline override" pcr12 --event-log "$work/e2e/cmdline.log"
check_eq "cmdline override: only pcr12 fails (the log replays, the image is known)" "pcr12" \
  "$(failed_checks "$work/verdict.json")"

TPM2TOOLS_TCTI="swtpm:port=$port_a" tpm2_pcrextend \
  "4:sha256=$(echo "loaded after the log was read" | sha256sum | cut -d' ' -f1)"
denied "PCR 4 extended after the log was read" event-log-replay --event-log "$work/e2e/cmdline.log"

# Last: revocation is final for the fake image.
check "the operator revokes the image" verifier revoke fake 1.0.0
denied "revoked version" image-not-revoked --event-log "$work/e2e/cmdline.log"
# A token issued before the revocation, still unexpired: check-token (what the libvirt hook asks
# at every VM start) refuses it at once, from the verifier's signed revocation list.
cp "$work/e2e/token.admitted" "$work/e2e/run/token"
check_eq "a token of a version revoked since: check-token refuses it (exit 6)" 6 \
  "$(status_of attest check-token)"
check_contains "… because the revocation list names it" "$(cat "$work/err")" \
  "fake 1.0.0 has been revoked"
check "… and keeps that list for when the verifier is out of reach" \
  test -s "$work/e2e/run/revocations"

finish
