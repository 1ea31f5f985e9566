# shellcheck shell=bash
# make_tls_pki DIR: a throwaway TLS PKI for a loopback server (ECDSA P-256, valid 2 days):
# DIR/ca.pem, the test CA; DIR/server.pem + DIR/server.key, its certificate for 127.0.0.1, ::1
# and localhost; DIR/other-ca.pem, a CA that signed nothing here (for clients that must fail).
# Sourced by tests/integration/verifier_front.sh and bench/verify-http.
make_tls_pki() {
  local dir=$1
  mkdir -p "$dir"
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
  openssl req -x509 "${ec[@]}" -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 2 \
    -subj "/CN=cairn test CA" 2>/dev/null
  openssl req -x509 "${ec[@]}" -keyout "$dir/other-ca.key" -out "$dir/other-ca.pem" -days 2 \
    -subj "/CN=cairn other test CA" 2>/dev/null
  openssl req "${ec[@]}" -keyout "$dir/server.key" -out "$dir/server.csr" \
    -subj "/CN=cairn-verifier test" 2>/dev/null
  printf '%s\n' "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost" "basicConstraints=CA:FALSE" \
    "extendedKeyUsage=serverAuth" "subjectKeyIdentifier=hash" \
    "authorityKeyIdentifier=keyid,issuer" >"$dir/server.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 2 -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
  chmod 600 "$dir"/*.key
}
