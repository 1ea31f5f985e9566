#!/usr/bin/env bash
# Fixture for the qemu tests: a test-only SSH key made for this build tree, development signing
# keys, and the qemu-test image built from qemu-test.toml.in.
#   build_image.sh [VERSION [VARIANT]]     (default 1.0.0) → $CAIRN_QTEST/out/qemu-test/VERSION/
# The image's overlay is recipes/overlays/common, then tests/qemu/overlays/all (a short health
# window), then tests/qemu/overlays/VARIANT when given (a failing check, a panic, a hang).
set -euo pipefail
: "${CAIRN_BUILD:?}" "${CAIRN_SOURCE:?}" "${CAIRN_QTEST:?}"
version=${1:-1.0.0}
variant=${2:-}
mkdir -p "$CAIRN_QTEST/ssh"
key=$CAIRN_QTEST/ssh/id_ed25519
[[ -f $key ]] || ssh-keygen -q -t ed25519 -N "" -C cairn-test -f "$key"
[[ -f $CAIRN_QTEST/keys/signing.key ]] || "$CAIRN_BUILD" keys --dir "$CAIRN_QTEST/keys" >/dev/null
overlay=$CAIRN_QTEST/overlay-$version
rm -rf "$overlay"
mkdir -p "$overlay"
for layer in "$CAIRN_SOURCE/recipes/overlays/common" "$CAIRN_SOURCE/tests/qemu/overlays/all" \
             ${variant:+"$CAIRN_SOURCE/tests/qemu/overlays/$variant"}; do
  cp -a "$layer/." "$overlay/"
done
# The hang variant boots Debian's full kernel, whose i6300esb driver lets the emulated hardware
# watchdog reset the machine (the cloud kernel of the other images has no watchdog driver).
kernel=linux-image-cloud-amd64
[[ $variant == hang ]] && kernel=linux-image-amd64
# The failing variants carry a higher security version than 1.0.0 and 1.0.1: a floor raised by a
# failed update would show (and 1.0.1 after it would be refused).
security=1
[[ -n $variant ]] && security=2
# The libvirt variant: hypervisors with libvirt that live-migrate a nested guest to each other
# (qemu+ssh as cairn-test, a member of group libvirt, allowed by libvirt's polkit rule).
extra_packages="" groups="" root_size=512M
if [[ $variant == libvirt ]]; then
  extra_packages='"qemu-system-x86", "libvirt-daemon-system", "libvirt-clients", "polkitd", "openssh-client", "netcat-openbsd",'
  groups='"libvirt"'
  root_size=1280M
  security=1
fi
recipe=$CAIRN_QTEST/qemu-test-$version.toml
sed -e "s|@OVERLAY@|$overlay|" -e "s|@VERSION@|$version|" -e "s|@KERNEL@|$kernel|" \
    -e "s|@SECURITY@|$security|" -e "s|@EXTRA_PACKAGES@|$extra_packages|" \
    -e "s|@GROUPS@|$groups|" -e "s|@ROOT_SIZE@|$root_size|" \
    -e "s|@TEST_KEY@|$(cat "$key.pub")|" "$CAIRN_SOURCE/tests/qemu/qemu-test.toml.in" > "$recipe"
"$CAIRN_BUILD" build "$recipe" --out "$CAIRN_QTEST/out" --keys "$CAIRN_QTEST/keys"
test -s "$CAIRN_QTEST/out/qemu-test/$version/disk.img"
# Only x.0.0 (1.0.0, and 2.0.0 of the libvirt variant) is booted from its disk image; the later
# versions reach the guests as bundles, made from root.erofs and the UKI. Their disk images would
# hold 2 GB of CI disk for nothing.
if [[ $version != *.0.0 ]]; then
  rm "$CAIRN_QTEST/out/qemu-test/$version/disk.img"
fi
