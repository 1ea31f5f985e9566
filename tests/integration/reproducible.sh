#!/usr/bin/env bash
# Two builds of the same recipe with the same packages and SOURCE_DATE_EPOCH are bit-identical.
# The second build starts from scratch (--no-cache: mmdebstrap runs again) in another out/.
source "$(dirname "$0")/lib.sh"
ensure_keys
fresh_work_dir out-second
second=$work
mkdir -p "$second/cache"
# Share only the downloaded .debs (same package versions), never the tree.
ln -sfn "$minimal_out/cache/debs" "$second/cache/debs"
"$CAIRN_BUILD" build "$CAIRN_SOURCE/recipes/minimal.toml" --out "$second" --keys "$keys_dir" \
  --no-cache --json > "$CAIRN_ITEST/second.json"
for f in root.erofs root.verity minimal_1.0.0.efi disk.img compliance.json compliance.json.sig \
  measurements.json measurements.json.sig; do
  check "$f is bit-identical" cmp "$minimal_dir/$f" "$second/minimal/1.0.0/$f"
done
first_hash=$(jq -r .root_hash "$CAIRN_ITEST/minimal.json")
second_hash=$(jq -r .root_hash "$CAIRN_ITEST/second.json")
check_eq "root hash is identical" "$first_hash" "$second_hash"
# The commit names its parent (the repo's history), so compare the tree it holds.
check_eq "OSTree tree is identical" "$(jq -r .tree "$minimal_dir/build.json")" \
  "$(jq -r .tree "$second/minimal/1.0.0/build.json")"
finish
