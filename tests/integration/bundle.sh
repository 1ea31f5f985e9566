#!/usr/bin/env bash
# cairn-build bundle on the minimal build: member order, a signature that verifies against the
# image CA, payloads that match the manifest, byte-identical when made twice; bad input refused.
source "$(dirname "$0")/lib.sh"
ensure_keys
fresh_work_dir bundle
bundle="$work/minimal.cairnb"

"$CAIRN_BUILD" bundle "$minimal_dir" --keys "$keys_dir" --output "$bundle" --json > "$work/result.json"
check "bundle written" test -s "$bundle"
check_eq "members in format-1 order" "manifest.json manifest.sig root.erofs.zst root.verity uki.efi" \
  "$(tar -tf "$bundle" | tr '\n' ' ' | sed 's/ $//')"

tar -xf "$bundle" -C "$work"
manifest="$work/manifest.json"
check "manifest.sig verifies against the image CA" \
  openssl cms -verify -binary -inform DER -in "$work/manifest.sig" -content "$manifest" \
  -CAfile "$keys_dir/trust/image-ca.crt" -purpose any -out /dev/null
check_eq "manifest names the build" "minimal 1.0.0 x86_64-minimal 1" \
  "$(jq -r '[.name, .version, .machine_class, (.security_version|tostring)] | join(" ")' "$manifest")"
check_eq "root hash from the build" "$(jq -r .root_hash "$minimal_dir/build.json")" \
  "$(jq -r .root_hash "$manifest")"
root_sha=$(jq -r '.payloads[] | select(.target=="root") | .sha256' "$manifest")
check_eq "decompressed root payload = the slot image" "$(sha256sum < "$minimal_dir/root.erofs" | cut -d' ' -f1)" \
  "$(zstd -dc "$work/root.erofs.zst" | sha256sum | cut -d' ' -f1)"
check_eq "manifest digest of the root payload" "$(sha256sum < "$minimal_dir/root.erofs" | cut -d' ' -f1)" "$root_sha"
check_eq "manifest size of the root payload" "$(stat -c %s "$minimal_dir/root.erofs")" \
  "$(jq -r '.payloads[] | select(.target=="root") | .size' "$manifest")"
check_eq "uki payload = the signed UKI" "$(sha256sum < "$minimal_dir/minimal_1.0.0.efi" | cut -d' ' -f1)" \
  "$(jq -r '.payloads[] | select(.target=="uki") | .sha256' "$manifest")"

"$CAIRN_BUILD" bundle "$minimal_dir" --keys "$keys_dir" --output "$work/again.cairnb" 2>/dev/null
check "the same build bundles to the same bytes" cmp -s "$bundle" "$work/again.cairnb"

set +e
out=$("$CAIRN_BUILD" bundle "$work" --keys "$keys_dir" --output "$work/bad.cairnb" 2>&1); code=$?
set -e
check_eq "a directory that is not a build: exit 1" 1 "$code"
check_contains "… named" "$out" "build.json"
check "… and no bundle written" test ! -e "$work/bad.cairnb"
# A build.json whose version breaks the grammar (it names files and, later, boot entries).
mkdir -p "$work/forged-build"
jq '.version = "../1.0+3-0"' "$minimal_dir/build.json" > "$work/forged-build/build.json"
set +e
out=$("$CAIRN_BUILD" bundle "$work/forged-build" --keys "$keys_dir" --output "$work/bad.cairnb" 2>&1); code=$?
set -e
check_eq "a build.json with a bad version: exit 1" 1 "$code"
check_contains "… names the version" "$out" "version '../1.0+3-0' must start"
check "… and no bundle written" test ! -e "$work/bad.cairnb"
set +e
out=$("$CAIRN_BUILD" bundle "$minimal_dir" --keys "$work/no-keys" --output "$work/bad.cairnb" 2>&1); code=$?
set -e
check "missing signing keys: non-zero exit" test "$code" -ne 0
check_contains "… names the missing file" "$out" "missing key material"
check "… and no bundle written" test ! -e "$work/bad.cairnb"
# --output as a bare file name: the current directory.
set +e
out=$(cd "$work" && "$CAIRN_BUILD" bundle "$minimal_dir" --keys "$keys_dir" --output m.cairnb 2>&1)
code=$?
set -e
check_eq "--output m.cairnb: exit 0" 0 "$code"
check "… written to the current directory, the same bytes" cmp -s "$bundle" "$work/m.cairnb"

# A UKI that firmware would refuse is not bundled: unsigned, signed by another key, not a PE.
# uki_build NAME: $work/uki-NAME, the minimal build without its UKI; expect_uki_refused NAME NEEDLE
# bundles it once the test has put a UKI there.
uki_build() {
  local dir="$work/uki-$1"
  mkdir -p "$dir"
  cp "$minimal_dir/build.json" "$dir/"
  ln -sf "$minimal_dir/root.erofs" "$minimal_dir/root.verity" "$dir/"
  echo "$dir"
}
expect_uki_refused() {
  local dir="$work/uki-$1"
  set +e
  out=$("$CAIRN_BUILD" bundle "$dir" --keys "$keys_dir" --output "$work/bad.cairnb" 2>&1); code=$?
  set -e
  check_eq "UKI $1: exit 1" 1 "$code"
  check_contains "UKI $1: named as the UKI's signature" "$out" "checking the UKI's Secure Boot signature"
  check_contains "UKI $1: says why" "$out" "$2"
  check "UKI $1: no bundle written" test ! -e "$work/bad.cairnb"
}
uki=minimal_1.0.0.efi
cp "$minimal_dir/$uki" "$(uki_build unsigned)/$uki"
sbattach --remove "$work/uki-unsigned/$uki"
expect_uki_refused unsigned "the image is not signed"
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=foreign -days 1 -keyout "$work/foreign.key" \
  -out "$work/foreign.crt" 2>/dev/null
sbsign --key "$work/foreign.key" --cert "$work/foreign.crt" --output "$(uki_build foreign)/$uki" \
  "$work/uki-unsigned/$uki" 2>/dev/null
expect_uki_refused foreign "does not verify against the db certificate"
printf 'MZ 9 byte' > "$(uki_build tiny)/$uki"
expect_uki_refused tiny "not a PE32+ image"
check "no temporary directory left" bash -c "! ls -d '$work'/.bundle-* '$minimal_dir'/.bundle-* 2>/dev/null | grep -q ."
finish
