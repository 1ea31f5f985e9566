#!/bin/bash
# cairn's software MakeCredential against a real (software) TPM: swtpm + tpm2-tools create an EK
# and AKs, attest_make_credential protects a secret for an AK's name, and the TPM's own
# TPM2_ActivateCredential must release exactly that secret, and refuse a credential made for
# another AK's name or changed in transit. For RSA and ECC EKs.
source "$(dirname "$0")/lib.sh"
: "${CAIRN_MAKE_CREDENTIAL:?CAIRN_MAKE_CREDENTIAL must point at attest_make_credential}"

work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
swtpm socket --tpm2 --tpmstate dir="$work" --server type=tcp,port="$port" \
  --ctrl type=tcp,port=$((port + 1)) --flags not-need-init,startup-clear &
swtpm_pid=$!
trap 'kill $swtpm_pid 2>/dev/null; rm -rf "$work"' EXIT
export TPM2TOOLS_TCTI="swtpm:port=$port"
for _ in $(seq 50); do tpm2_getrandom 1 >/dev/null 2>&1 && break; sleep 0.1; done
cd "$work"

# activate CREDENTIAL AK_CTX OUT: TPM2_ActivateCredential with the EK's policy (PolicySecret of the
# endorsement hierarchy, as the TCG EK template demands).
activate() {
  tpm2_startauthsession --policy-session -S session.ctx >/dev/null
  tpm2_policysecret -S session.ctx -c e >/dev/null
  local status=0
  tpm2_activatecredential -c "$2" -C ek.ctx -i "$1" -o "$3" -P session:session.ctx \
    >/dev/null 2>activate.err || status=$?
  tpm2_flushcontext session.ctx >/dev/null
  tpm2_flushcontext -t >/dev/null
  return $status
}

for ek_alg in rsa ecc; do
  rm -f ek.ctx ak*.ctx released*
  tpm2_createek -c ek.ctx -G "$ek_alg" -u ek.pub >/dev/null
  tpm2_flushcontext -t
  for ak in ak ak2; do
    tpm2_createak -C ek.ctx -c "$ak.ctx" -G rsa -g sha256 -s rsassa -u "$ak.pub" -n "$ak.name" \
      -r "$ak.priv" >/dev/null
    tpm2_flushcontext -t
  done
  head -c 32 /dev/urandom >secret

  check "$ek_alg EK: make_credential for the AK" "$CAIRN_MAKE_CREDENTIAL" ek.pub ak.name secret cred
  if activate cred ak.ctx released; then
    check "$ek_alg EK: the TPM released the secret unchanged" cmp -s secret released
  else
    failed "$ek_alg EK: the TPM refused our credential: $(cat activate.err)"
  fi

  "$CAIRN_MAKE_CREDENTIAL" ek.pub ak2.name secret cred_other
  if activate cred_other ak.ctx released_other; then
    failed "$ek_alg EK: a credential for another AK's name was released"
  else
    check_contains "$ek_alg EK: another AK's name fails the TPM's integrity check" \
      "$(cat activate.err)" "integrity"
  fi

  # One bit of the encrypted identity (after the 8-byte file header, the TPM2B_ID_OBJECT's size
  # and the 2 + 32-byte HMAC).
  python3 -c 'import sys; b = bytearray(open("cred", "rb").read()); b[46] ^= 1
open("cred_changed", "wb").write(b)'
  if activate cred_changed ak.ctx released_changed; then
    failed "$ek_alg EK: a changed credential was released"
  else
    check_contains "$ek_alg EK: a changed credential fails the TPM's integrity check" \
      "$(cat activate.err)" "integrity"
  fi
done
finish
