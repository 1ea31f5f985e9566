#!/usr/bin/env bash
# Fixture: builds recipes/minimal.toml once; later tests read its artifacts.
source "$(dirname "$0")/lib.sh"
ensure_keys
"$CAIRN_BUILD" build "$CAIRN_SOURCE/recipes/minimal.toml" --out "$minimal_out" --keys "$keys_dir" \
  --json > "$CAIRN_ITEST/minimal.json"
check "build.json written" test -s "$minimal_dir/build.json"
for f in disk.img root.erofs root.verity minimal_1.0.0.efi; do
  check "artifact $f exists" test -s "$minimal_dir/$f"
done
check "no temporary build directory left in out/" \
  bash -c "! ls -d '$minimal_out'/.build-* 2>/dev/null | grep -q ."
finish
