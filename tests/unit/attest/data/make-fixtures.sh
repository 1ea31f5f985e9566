#!/bin/bash
# Regenerates the TPM fixtures of tests/unit/attest/tpm/structures_test.cpp from a real (software)
# TPM: swtpm 0.7 + tpm2-tools 5.4. Run from anywhere; it rewrites the files next to it. The quotes
# are signed by a fresh swtpm, so every run gives new bytes (the tests read the files, they do not
# know their values).
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
port=${PORT:-$((20000 + RANDOM % 20000))}
swtpm socket --tpm2 --tpmstate dir="$work" --server type=tcp,port="$port" \
  --ctrl type=tcp,port=$((port + 1)) --flags not-need-init,startup-clear &
swtpm_pid=$!
trap 'kill $swtpm_pid 2>/dev/null; rm -rf "$work"' EXIT
export TPM2TOOLS_TCTI="swtpm:port=$port"
for _ in $(seq 50); do tpm2_getrandom 1 >/dev/null 2>&1 && break; sleep 0.1; done
cd "$work"
flush() { tpm2_flushcontext -t; }

# Measurements, so the quoted PCRs are not all zero (PCR 0, 4, 7 and 11 as a booted host's).
for pcr in 0 4 7 11; do
  tpm2_pcrextend "$pcr:sha256=$(printf 'cairn fixture %d' "$pcr" | sha256sum | cut -c1-64)"
done
pcrs=sha256:0,1,2,3,4,5,7,9,11,12,13,14,15
# The verifier's nonce: 32 bytes.
printf 'cairn-fixture-nonce-0123456789ab' >"$out/nonce.bin"
nonce=$(xxd -p -c 64 "$out/nonce.bin")

tpm2_createek -c ek_rsa.ctx -G rsa -u "$out/ek_rsa.pub" >/dev/null
flush
tpm2_createek -c ek_ecc.ctx -G ecc -u "$out/ek_ecc.pub" >/dev/null
flush

# name: key-algorithm hash-algorithm signing-algorithm
while read -r name alg hash scheme; do
  tpm2_createak -C ek_rsa.ctx -c "ak_$name.ctx" -G "$alg" -g "$hash" -s "$scheme" \
    -u "$out/ak_$name.pub" -n "$out/ak_$name.name" -r "ak_$name.priv" >/dev/null
  flush
  tpm2_quote -c "ak_$name.ctx" -l "$pcrs" -q "$nonce" -g sha256 --scheme "$scheme" -m "$out/quote_$name.msg" \
    -s "$out/quote_$name.sig" -o "$out/quote_$name.pcrs" -F values >/dev/null
  flush
done <<'KEYS'
rsa rsa sha256 rsassa
rsa2 rsa sha256 rsassa
rsapss rsa sha256 rsapss
ecc ecc sha256 ecdsa
KEYS

# rsa2 is only "another AK" for the tests; its quote is not used.

# A signing key that is not restricted: it could sign a forged TPMS_ATTEST, so it is no AK.
tpm2_createprimary -C o -G rsa -c owner.ctx >/dev/null
tpm2_create -C owner.ctx -G rsa -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign' \
  -u "$out/sign_key.pub" -r sign_key.priv >/dev/null
flush
echo "fixtures written to $out"
