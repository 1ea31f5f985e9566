#!/bin/bash
# cairn-attest against software TPMs (swtpm), with an independent counterpart: a stand-in
# verifier (attest_stub_verifier.py) doing the TPM cryptography with tpm2-tools
# (tpm2_makecredential, tpm2_checkquote). Checks the EK (persistent with an NV certificate, and
# created from the TCG template), the AK, enrollment by credential activation, quotes over the 13
# attested PCRs, the token, exit codes; and a quote from another TPM is denied.
source "$(dirname "$0")/lib.sh"
: "${CAIRN_ATTEST:?CAIRN_ATTEST must point at cairn-attest}"
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
cat >attest.toml <<TOML
verifier_url = "$url"
verifier_key = "$work/token.pub"
host = "kvm-07"
tcti = "$tcti_a"
event_log = "$work/event_log"
token = "$work/run/attest/token"
TOML
attest() { "$CAIRN_ATTEST" --config "$work/attest.toml" "$@"; }
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

finish
