#!/usr/bin/env bash
# A second version of the minimal recipe with one overlay file changed: the warm rebuild reuses
# the cached tree, the repo's history has both versions, `diff` names the changed file and
# `inspect` reports versions, root hashes and signatures — and notices tampering.
source "$(dirname "$0")/lib.sh"
ensure_keys
work="$CAIRN_ITEST/v2"
rm -rf "$work"
mkdir -p "$work"
cp -r "$CAIRN_SOURCE/recipes/." "$work/"
sed -i 's/^version = "1.0.0"/version = "1.0.1"/' "$work/minimal.toml"
mkdir -p "$work/overlays/common/etc/cairn"
echo "changed in 1.0.1" > "$work/overlays/common/etc/cairn/release-note"

"$CAIRN_BUILD" build "$work/minimal.toml" --out "$minimal_out" --keys "$keys_dir" --json \
  > "$CAIRN_ITEST/v2.json"
check_eq "warm rebuild reused the cached root file system" true \
  "$(jq -r .rootfs_from_cache "$CAIRN_ITEST/v2.json")"

diff_json=$("$CAIRN_BUILD" diff 1.0.0 1.0.1 --recipe minimal --out "$minimal_out" --json)
check_contains "diff lists the added overlay file" "$diff_json" "/etc/cairn/release-note"
check_contains "diff lists the changed os-release" "$diff_json" "/usr/lib/os-release"
diff_text=$("$CAIRN_BUILD" diff 1.0.0 1.0.1 --recipe minimal --out "$minimal_out")
check_contains "human diff marks the added file" "$diff_text" "A /etc/cairn/release-note"

history=$("$CAIRN_BUILD" inspect cairn/minimal/x86_64 --out "$minimal_out" --keys "$keys_dir" --json)
check_eq "the ref points at 1.0.1" 1.0.1 "$(jq -r .version <<<"$history")"
check_eq "the commit signature is valid" valid "$(jq -r .signature.state <<<"$history")"

image=$("$CAIRN_BUILD" inspect "$minimal_dir/disk.img" --keys "$keys_dir" --json)
check_eq "inspect reads the version from the disk" 1.0.0 "$(jq -r .version <<<"$image")"
check_eq "inspect reads the root hash" "$(jq -r .root_hash "$minimal_dir/build.json")" \
  "$(jq -r .root_hash <<<"$image")"
check_eq "inspect: UKI signature valid" valid "$(jq -r .uki.signature <<<"$image")"
check_eq "inspect: verity tree matches" valid "$(jq -r .verity <<<"$image")"

# Flip one byte inside the root-A partition of a copy: inspect must say so and exit non-zero.
cp --sparse=always "$minimal_dir/disk.img" "$work/tampered.img"
start=$(sfdisk --json "$work/tampered.img" | jq '.partitiontable.partitions[] | select(.name == "cairn_1.0.0") | .start')
printf '\x55' | dd of="$work/tampered.img" bs=1 seek=$((start * 512 + 8192)) conv=notrunc status=none
status=0
tampered=$("$CAIRN_BUILD" inspect "$work/tampered.img" --keys "$keys_dir" --json) || status=$?
check_eq "inspect of a tampered image exits 5" 5 "$status"
check_contains "inspect names the verity failure" "$(jq -r .verity <<<"$tampered")" "invalid"
rm -f "$work/tampered.img"
finish
