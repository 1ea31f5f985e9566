#!/usr/bin/env bash
# Fixture cleanup, once every test that uses the minimal images has run: their out/ (images,
# OSTree repos, cached trees: about 3 GB) would otherwise hold the disk the qemu tests need next.
# The downloaded .debs and the keys stay for the next run; CAIRN_ITEST_KEEP=1 keeps everything.
source "$(dirname "$0")/lib.sh"
if [[ ${CAIRN_ITEST_KEEP:-} == 1 ]]; then
  echo "CAIRN_ITEST_KEEP=1: keeping $CAIRN_ITEST"
  exit 0
fi
before=$(du -sm "$CAIRN_ITEST" | cut -f1)
for built in "$minimal_out"/*/; do
  [[ $(basename "$built") == cache ]] || rm -rf --one-file-system "$built"
done
rm -rf --one-file-system "$minimal_out/cache/rootfs" "$minimal_out/cache/staging-repo" \
  "$CAIRN_ITEST/v2"
after=$(du -sm "$CAIRN_ITEST" | cut -f1)
echo "removed $((before - after)) MiB of built images and caches; $after MiB left in $CAIRN_ITEST"
check "only the downloaded packages and the keys are left" bash -c \
  "! find '$CAIRN_ITEST' -name '*.img' -o -name '*.erofs' -o -name '*.cairnb' | grep -q ."
finish
