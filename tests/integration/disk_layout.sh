#!/usr/bin/env bash
# The minimal image's disk: GPT per the Discoverable Partitions Specification, UUIDs derived
# from the root hash, verity partitions read-only, ESP contents, dm-verity tree valid, UKI signed
# and bound to its slot. Checked with independent tools: sfdisk, systemd-dissect, veritysetup,
# mtools, sbverify, objcopy.
source "$(dirname "$0")/lib.sh"
ensure_keys
disk="$minimal_dir/disk.img"
root_hash=$(jq -r .root_hash "$minimal_dir/build.json")
check "root hash is 64 hex digits" bash -c "[[ '$root_hash' =~ ^[0-9a-f]{64}$ ]]"

uuid_of() { echo "${1:0:8}-${1:8:4}-${1:12:4}-${1:16:4}-${1:20:12}"; }
data_uuid=$(uuid_of "${root_hash:0:32}")
hash_uuid=$(uuid_of "${root_hash:32:32}")

table=$(sfdisk --json "$disk")
check_eq "label is gpt" gpt "$(jq -r .partitiontable.label <<<"$table")"
check_eq "six partitions" 6 "$(jq '.partitiontable.partitions | length' <<<"$table")"
part() { jq -r ".partitiontable.partitions[] | select(.name == \"$1\") | .$2" <<<"$table"; }
check_eq "ESP type" C12A7328-F81F-11D2-BA4B-00A0C93EC93B "$(part esp type)"
check_eq "root-A type" 4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709 "$(part cairn_1.0.0 type)"
check_eq "verity-A type" 2C7357ED-EBD2-46D9-AEC1-23D437EC2BF5 "$(part cairn_1.0.0_verity type)"
check_eq "var type" 4D21B016-B534-45C2-A9FB-5C16E091FD2D "$(part var type)"
check_eq "root-A UUID = first half of root hash" "${data_uuid^^}" "$(part cairn_1.0.0 uuid)"
check_eq "verity-A UUID = second half of root hash" "${hash_uuid^^}" "$(part cairn_1.0.0_verity uuid)"
check_eq "empty slot B present" 4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709 "$(part cairn_empty type)"
check_contains "verity-A is read-only (GPT attribute 60)" "$(part cairn_1.0.0_verity attrs)" "60"
check_contains "verity-B is read-only (GPT attribute 60)" "$(part cairn_empty_verity attrs)" "60"

dissect=$(systemd-dissect --json=short "$disk" 2>&1 || true)
check_contains "systemd-dissect sees the root partition" "$dissect" '"designator":"root"'
check_contains "systemd-dissect sees the root verity partition" "$dissect" '"designator":"root-verity"'
check_contains "systemd-dissect sees the ESP" "$dissect" '"designator":"esp"'

check "veritysetup verifies the slot image against the root hash" \
  veritysetup verify "$minimal_dir/root.erofs" "$minimal_dir/root.verity" "$root_hash"

esp_start=$(jq -r '.partitiontable.partitions[] | select(.name == "esp") | .start' <<<"$table")
esp="$disk@@$((esp_start * 512))"
listing=$(mdir -i "$esp" -/ -b :: 2>&1)
check_contains "ESP has systemd-boot as the removable-media loader" "$listing" "::/EFI/BOOT/BOOTX64.EFI"
check_contains "ESP has the UKI with a boot counter" "$listing" "::/EFI/Linux/cairn_1.0.0+3-0.efi"
check_contains "ESP has loader.conf" "$listing" "::/loader/loader.conf"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mcopy -i "$esp" "::/EFI/Linux/cairn_1.0.0+3-0.efi" "$tmp/uki.efi"
mcopy -i "$esp" "::/EFI/BOOT/BOOTX64.EFI" "$tmp/boot.efi"
check "the UKI on the ESP is the built one" cmp "$tmp/uki.efi" "$minimal_dir/minimal_1.0.0.efi"
check "the UKI is signed by the db key" sbverify --cert "$keys_dir/db.crt" "$tmp/uki.efi"
check "systemd-boot is signed by the db key" sbverify --cert "$keys_dir/db.crt" "$tmp/boot.efi"
objcopy -O binary --only-section=.cmdline "$tmp/uki.efi" "$tmp/cmdline"
cmdline=$(tr -d '\0' <"$tmp/cmdline")
check_contains "cmdline carries the root hash" "$cmdline" "roothash=$root_hash"
check_contains "cmdline binds the data partition" "$cmdline" "systemd.verity_root_data=PARTUUID=$data_uuid"
check_contains "cmdline binds the hash partition" "$cmdline" "systemd.verity_root_hash=PARTUUID=$hash_uuid"
check_contains "cmdline has the hardening profile" "$cmdline" "slab_nomerge"
objcopy -O binary --only-section=.osrel "$tmp/uki.efi" "$tmp/osrel"
check_contains "os-release names the image version" "$(cat "$tmp/osrel")" "IMAGE_VERSION=1.0.0"

# The slot image holds the hardened, identity-free tree.
mnt="$tmp/mnt"; mkdir "$mnt"
mount -o loop,ro -t erofs "$minimal_dir/root.erofs" "$mnt"
check "machine-id is empty" test ! -s "$mnt/etc/machine-id"
check "no SSH host key is baked in" bash -c "! ls '$mnt'/etc/ssh/ssh_host_* 2>/dev/null | grep -q ."
check_contains "root is locked" "$(grep '^root:' "$mnt/etc/shadow")" "root:!"
check "the initrd opens dm-verity" bash -c \
  "zstd -dc '$mnt'/usr/lib/modules/*/initrd | cpio -it 2>/dev/null | grep -q systemd-veritysetup"
umount "$mnt"
finish
