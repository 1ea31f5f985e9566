#!/usr/bin/env bash
# cairn-update killed (SIGKILL, as a power cut or the OOM killer would end it) at every point of
# an install's lifecycle, and once in the middle of writing the slot: each time the next run
# finds a consistent host — slot A and its entry untouched, the target either not bootable (no
# boot entry) or fully installed (entry, GPT names, verity) — undoes what was half-done, and
# installs the bundle.
source "$(dirname "$0")/lib.sh"
: "${CAIRN_UPDATE:?}"
fresh_work_dir lifecycle_kill
v1="$minimal_dir" v2="$minimal_out/minimal/1.0.1"
"$CAIRN_BUILD" bundle "$v2" --keys "$keys_dir" --output "$work/v2.cairnb" 2>/dev/null

esp_list() { MTOOLS_SKIP_CHECK=1 mdir -b -i "$1@@1M" ::/EFI/Linux | sed 's|.*/||' | sort | xargs; }
entry_a_sum() { MTOOLS_SKIP_CHECK=1 mtype -i "$1@@1M" ::/EFI/Linux/cairn_1.0.0+3-0.efi | sha256sum; }
slot_a() { sfdisk --json "$1" | jq -c '[.partitiontable.partitions[1,2] | [.name, .uuid, .start, .size]]'; }
part() { sfdisk --json "$1" | jq -r ".partitiontable.partitions[$2].$3"; }
update() {  # update DISK STATE ARGS…
  local disk=$1 state=$2; shift 2
  "$CAIRN_UPDATE" --disk "$disk" --booted A --trust "$keys_dir/trust" --state "$state" \
    --machine-class x86_64-minimal --local "$@"
}
root_hash=$(jq -r .root_hash "$v2/build.json")
verity_ok() {  # the slot B of DISK verifies against 1.0.1's root hash
  local disk=$1 data hash ok=0
  data=$(losetup -f --show -r -o $(($(part "$disk" 3 start) * 512)) --sizelimit $(($(part "$disk" 3 size) * 512)) "$disk")
  hash=$(losetup -f --show -r -o $(($(part "$disk" 4 start) * 512)) --sizelimit $(($(part "$disk" 4 size) * 512)) "$disk")
  veritysetup verify "$data" "$hash" "$root_hash" >/dev/null 2>&1 || ok=1
  losetup -d "$data" "$hash"
  return $ok
}

# What a killed install may leave: checked before anything runs again.
check_consistent() {  # check_consistent WHAT DISK STATE
  local what=$1 disk=$2 state=$3 entries
  check_eq "$what: slot A's partitions untouched" "$a_parts" "$(slot_a "$disk")"
  check_eq "$what: slot A's entry untouched" "$a_sum" "$(entry_a_sum "$disk")"
  entries=$(esp_list "$disk")
  if [[ $entries == *cairn_1.0.1* ]]; then
    # Bootable: then wholly installed, and known as installed.
    check_eq "$what: a bootable target is named for 1.0.1" "cairn_1.0.1 cairn_1.0.1_verity" \
      "$(part "$disk" 3 name) $(part "$disk" 4 name)"
    check "$what: a bootable target verifies" verity_ok "$disk"
    check_eq "$what: … and the state says installed" "installed" "$(jq -r .phase "$state/state.json")"
  else
    check_eq "$what: no entry boots the target" "cairn_1.0.0+3-0.efi" "$entries"
  fi
}

disk0="$work/disk0.img"
cp --sparse=always "$v1/disk.img" "$disk0"
a_parts=$(slot_a "$disk0") a_sum=$(entry_a_sum "$disk0")

for point in installing retire write check identify installed activate; do
  disk="$work/$point.img" state="$work/$point-state"
  cp --sparse=always "$disk0" "$disk"
  set +e
  CAIRN_TEST_KILL_AT=$point update "$disk" "$state" install "$work/v2.cairnb" >/dev/null 2>&1
  code=$?
  set -e
  check_eq "killed at $point: by SIGKILL" 137 "$code"
  check_eq "killed at $point: the saved phase" \
    "$([[ $point == installed || $point == activate ]] && echo installed || echo installing)" \
    "$(jq -r .phase "$state/state.json")"
  check_consistent "killed at $point" "$disk" "$state"
  # The next run undoes the half-done install, then installs.
  update "$disk" "$state" install "$work/v2.cairnb" --json > "$work/$point.json" 2>/dev/null
  check_eq "after a kill at $point: the next install completes" "B 1.0.1" \
    "$(jq -r '[.slot, .version] | join(" ")' "$work/$point.json")"
  check_consistent "after a kill at $point, reinstalled" "$disk" "$state"
  check_eq "after a kill at $point: one entry per version" "cairn_1.0.0+3-0.efi cairn_1.0.1+3-0.efi" \
    "$(esp_list "$disk")"
  if [[ $point != activate ]]; then
    check_contains "after a kill at $point: the history says the install was interrupted" \
      "$(update "$disk" "$state" history)" "interrupted"
  fi
done

# A kill from outside, in the middle of writing the slot.
disk="$work/mid-write.img" state="$work/mid-write-state"
cp --sparse=always "$disk0" "$disk"
# exec: $! must be cairn-update itself, not a shell that would die and leave it running.
(exec "$CAIRN_UPDATE" --disk "$disk" --booted A --trust "$keys_dir/trust" --state "$state" \
  --machine-class x86_64-minimal --local install "$work/v2.cairnb" >/dev/null 2>&1) &
installer=$!
for _ in $(seq 200); do
  [[ $(jq -r .phase "$state/state.json" 2>/dev/null) == installing ]] && break
  sleep 0.05
done
sleep 0.2
kill -KILL "$installer" 2>/dev/null || true
set +e; wait "$installer"; code=$?; set -e
check_eq "killed mid-write: by SIGKILL" 137 "$code"
check_consistent "killed mid-write" "$disk" "$state"
status=$(update "$disk" "$state" status --json)
check_eq "killed mid-write: status shows no version in slot B" "" "$(jq -r .slots.B.version <<<"$status")"
update "$disk" "$state" install "$work/v2.cairnb" >/dev/null 2>&1
check_consistent "killed mid-write, reinstalled" "$disk" "$state"
finish
