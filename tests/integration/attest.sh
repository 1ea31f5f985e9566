#!/bin/bash
# cairn-attest against software TPMs (swtpm), with an independent counterpart: a stand-in
# verifier (attest_stub_verifier.py) doing the TPM cryptography with tpm2-tools
# (tpm2_makecredential, tpm2_checkquote). Checks the EK (persistent with an NV certificate, and
# created from the TCG template), the AK, enrollment by credential activation, quotes over the 13
# attested PCRs, the token, exit codes; and a quote from another TPM is denied.
# Then, with CAIRN_VERIFIER set, end to end against the real cairn-verifier: a pretend measured
# boot (attest_fake_boot) of an approved image is admitted, and each attack through the real TPM
# path is denied with its reason: another TPM's AK, a replayed submission, an edited event log,
# PCR 12 extended (cmdline override), a PCR extended after the log was read.
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
check_eq "unknown subcommand: exit 1" 1 "$(status_of attest frobnicate)"

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
check_eq "e2e: attest: admitted" 0 "$(status_of attest attest --json --save-submission sub.json)"
check_eq "e2e: every check passed" "" "$(failed_checks "$work/out")"
check_contains "e2e: the verdict names the image" "$(cat "$work/out")" '"image_version": "fake 1.0.0"'
check_eq "e2e: check-token: valid" 0 "$(status_of attest check-token)"

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

finish
