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
# --- golden measurements (measurements.json), each value checked with tools outside cairn ---------
m="$minimal_dir/measurements.json"
check "measurements.json written" test -s "$m"
for role in measurements measurements-sig; do
  file=$m; [[ $role == *-sig ]] && file=$m.sig
  check_eq "$role listed in the --json result with its sha256" \
    "$(sha256sum < "$file" | cut -d' ' -f1)" \
    "$(jq -r ".artifacts[] | select(.role==\"$role\") | .sha256" "$CAIRN_ITEST/minimal.json")"
done
check "measurements.json.sig verifies against the image CA" \
  openssl cms -verify -binary -inform DER -in "$m.sig" -content "$m" \
  -CAfile "$keys_dir/trust/image-ca.crt" -purpose any -out /dev/null
check "a changed measurements.json no longer verifies" bash -c "! sed 's/\"pcr13\"/\"pcr14\"/' '$m' |
  openssl cms -verify -binary -inform DER -in '$m.sig' -content /dev/stdin \
    -CAfile '$keys_dir/trust/image-ca.crt' -purpose any -out /dev/null 2>/dev/null"
check_eq "measurements.json names the image" "minimal 1.0.0 1" "$(jq -r '"\(.name) \(.version) \(.format)"' "$m")"

mtmp=$(mktemp -d)
trap 'rm -rf "$mtmp"' EXIT
# The digest an Authenticode signature signs (the first 32-byte OCTET STRING: the
# SpcIndirectDataContent's digest), from the PE's certificate table (data directory 4).
signed_digest() {
  local pe off len
  pe=$(od -An -tu4 -j60 -N4 "$1" | tr -d ' ')
  read -r off len < <(od -An -tu4 -j$((pe + 24 + 112 + 4 * 8)) -N8 "$1")
  dd if="$1" of="$mtmp/sig.der" bs=1M iflag=skip_bytes,count_bytes skip=$((off + 8)) \
    count=$((len - 8)) status=none
  openssl asn1parse -inform DER -in "$mtmp/sig.der" |
    sed -n 's/.*l=  32 prim: OCTET STRING *\[HEX DUMP\]:\([0-9A-F]\{64\}\).*/\1/p' | head -1 |
    tr 'A-F' 'a-f'
}
uki="$minimal_dir/minimal_1.0.0.efi"
# sbverify recomputes the image digest and checks the signature holds that same digest.
check "the UKI's signature is valid for its digest" sbverify --cert "$keys_dir/db.crt" "$uki"
check_eq "uki_authenticode is the digest the UKI's signature signs" \
  "$(signed_digest "$uki")" "$(jq -r .uki_authenticode "$m")"
table=$(sfdisk --json "$minimal_dir/disk.img")
esp_start=$(jq -r '.partitiontable.partitions[] | select(.name == "esp") | .start' <<<"$table")
mcopy -i "$minimal_dir/disk.img@@$((esp_start * 512))" ::/EFI/BOOT/BOOTX64.EFI "$mtmp/boot.efi"
check "the ESP's systemd-boot signature is valid for its digest" \
  sbverify --cert "$keys_dir/db.crt" "$mtmp/boot.efi"
check_eq "systemd_boot_authenticode is the digest the ESP's systemd-boot signature signs" \
  "$(signed_digest "$mtmp/boot.efi")" "$(jq -r .systemd_boot_authenticode "$m")"

# PCR 11: systemd-measure (systemd 252) on the sections objcopy extracts from the built UKI.
measure_args=()
for section in linux osrel cmdline initrd; do
  objcopy -O binary --only-section=".$section" "$uki" "$mtmp/$section"
  measure_args+=("--$section=$mtmp/$section")
done
phase_path=""
measure_args+=("--phase=")
for phase in enter-initrd leave-initrd sysinit ready; do
  phase_path+="${phase_path:+:}$phase"
  measure_args+=("--phase=$phase_path")
done
expected=$(/usr/lib/systemd/systemd-measure calculate --bank=sha256 --json=short \
  "${measure_args[@]}" | jq -r '[.sha256[].hash] | join(" ")')
check_eq "pcr11 (sections, then each boot phase) equals systemd-measure calculate" "$expected" \
  "$(jq -r '[.pcr11 | .sections, .["enter-initrd"], .["leave-initrd"], .sysinit, .ready] | join(" ")' "$m")"
# PCR 12: systemd-boot measures the UKI's .cmdline (trailing newline dropped) as UTF-16LE with
# its NUL terminator into a zeroed PCR.
{ head -c 32 /dev/zero
  { sed -z 's/\n$//' "$mtmp/cmdline" | iconv -f ASCII -t UTF-16LE; head -c 2 /dev/zero; } |
    openssl dgst -sha256 -binary
} > "$mtmp/pcr12.in"
check_eq "pcr12 is the extend of the UTF-16 command line" \
  "$(openssl dgst -sha256 -r "$mtmp/pcr12.in" | cut -c1-64)" "$(jq -r .pcr12 "$m")"
check_eq "pcr13 is zero" "$(printf '0%.0s' {1..64})" "$(jq -r .pcr13 "$m")"
check_eq "the db certificate's fingerprint" \
  "$(openssl x509 -in "$keys_dir/db.crt" -outform DER | sha256sum | cut -d' ' -f1)" \
  "$(jq -r .secure_boot_db.sha256 "$m")"
check_eq "the db certificate itself" "$(openssl x509 -in "$keys_dir/db.crt")" \
  "$(jq -r .secure_boot_db.pem "$m" | openssl x509)"

# --- what the initrd carries: what the boot needs, not what a generic initrd adds ---------------
initrd_files=$(zstd -dc "$mtmp/initrd" | cpio -t --quiet 2>/dev/null)
for needed in usr/lib/systemd/systemd-veritysetup usr/lib/systemd/systemd-pcrphase \
  usr/lib/systemd/system/initrd.target.wants/systemd-pcrphase-initrd.service \
  usr/lib/x86_64-linux-gnu/libtss2-esys.so.0 usr/lib/x86_64-linux-gnu/libtss2-sys.so.1 \
  usr/lib/x86_64-linux-gnu/libtss2-tcti-device.so.0 usr/sbin/mkfs.ext4 usr/lib/systemd/systemd-growfs; do
  check "the initrd carries $needed" grep -qx "$needed" <<<"$initrd_files"
done
for module in erofs dm-verity dm-bufio virtio_blk sd_mod; do
  check "the initrd carries the $module module" grep -q "/$module.ko" <<<"$initrd_files"
done
# Modules no Cairn root can use (kInitrdOmittedDrivers): md RAID, other device-mapper targets,
# network block storage, SCSI targets.
for unwanted in /btrfs.ko /xfs.ko /md-mod.ko /raid456.ko /bcache.ko /dm-thin-pool.ko /dm-crypt.ko \
  /libceph.ko /rbd.ko /nbd.ko /target_core_mod.ko /scsi_debug.ko \
  usr/lib/systemd/systemd-cryptsetup libtss2-fapi usr/bin/tpm2 \
  usr/lib/dracut/hooks/cmdline/30-parse-crypt.sh usr/lib/systemd/systemd-hibernate-resume; do
  check "the initrd leaves out $unwanted" bash -c '! grep -q -- "$1" <<<"$2"' _ "$unwanted" "$initrd_files"
done
# --- units the recipe disables ([systemd] disable) ------------------------------------------------
mkdir "$mtmp/root"
fsck.erofs --extract="$mtmp/root" "$minimal_dir/root.erofs" >/dev/null 2>&1
check "the slot extracts" test -d "$mtmp/root/etc/systemd/system"
check "ssh.service is enabled" test -L "$mtmp/root/etc/systemd/system/multi-user.target.wants/ssh.service"
for unit in multi-user.target.wants/e2scrub_reap.service timers.target.wants/e2scrub_all.timer \
  timers.target.wants/dpkg-db-backup.timer; do
  check "$unit is disabled" test ! -e "$mtmp/root/etc/systemd/system/$unit"
done
finish
