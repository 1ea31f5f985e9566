#!/usr/bin/env bash
# cairn-build audit: the minimal image passes its profile and ships a signed compliance.json; a
# weakened tree fails with exactly the control it weakens; a libvirt host recipe passes
# anssi-hypervisor, and one that turns migration and nested virtualization on and the IOMMU off
# fails its build with exactly R1, R3 and R4, leaving nothing in out/.
source "$(dirname "$0")/lib.sh"
ensure_keys
for m in "$CAIRN_ITEST/audit"/mnt/*; do mountpoint -q "$m" && umount "$m"; done 2>/dev/null || true
fresh_work_dir audit
mkdir -p "$work/mnt/slot" "$work/mnt/upper" "$work/mnt/weak"
cleanup() {
  umount "$work/mnt/weak" 2>/dev/null || true
  umount "$work/mnt/slot" 2>/dev/null || true
}
trap cleanup EXIT

# audit ARGS… → sets $status and $report (the JSON report)
audit() {
  status=0
  "$CAIRN_BUILD" audit "$@" -r "$work/report.json" > "$work/table.txt" 2> "$work/stderr.txt" ||
    status=$?
  report="$work/report.json"
}

# --- the built minimal image ------------------------------------------------------------------
check "compliance.json shipped beside the image" test -s "$minimal_dir/compliance.json"
check_eq "compliance.json listed in build.json with its sha256" \
  "$(sha256sum < "$minimal_dir/compliance.json" | cut -d' ' -f1)" \
  "$(jq -r '.artifacts[] | select(.role=="compliance") | .sha256' "$minimal_dir/build.json")"
check "compliance.json.sig verifies against the image CA" \
  openssl cms -verify -binary -inform DER -in "$minimal_dir/compliance.json.sig" \
  -content "$minimal_dir/compliance.json" -CAfile "$keys_dir/trust/image-ca.crt" -purpose any \
  -out /dev/null
check_eq "the build's report passes" pass "$(jq -r .result "$minimal_dir/compliance.json")"

audit "$minimal_dir"
check_eq "audit of the built image: exit 0" 0 "$status"
check_eq "image audit: profile recorded in the image" base "$(jq -r .profile "$report")"
check_eq "image audit: kind" image "$(jq -r .target.kind "$report")"
check_eq "image audit: command line read from the UKI" pass \
  "$(jq -r '.checks[] | select(.id=="cmdline:slab_nomerge") | .status' "$report")"
check_eq "image audit: the erofs slot's shadow checked" pass \
  "$(jq -r '.checks[] | select(.id=="root-locked") | .status' "$report")"
check_eq "image audit: Secure Boot is a live check, skipped on an image" skipped \
  "$(jq -r '.checks[] | select(.id=="secure-boot") | .status' "$report")"
check_eq "image audit: same checks as the build's report" \
  "$(jq -c '[.checks[] | {id, status}]' "$minimal_dir/compliance.json")" \
  "$(jq -c '[.checks[] | {id, status}]' "$report")"
check_eq "every DAT-NT-011 point is listed" 15 \
  "$(jq '[.controls[] | select(.document=="DAT-NT-011")] | length' "$report")"
check_eq "organisational points say what the image offers" 0 \
  "$(jq '[.controls[] | select(.status=="organisational" and (.offers // "") == "")] | length' "$report")"
check_contains "the table is for people" "$(cat "$work/table.txt")" "Result: pass"

# --- the image with a running host's kernel state (a snapshot of its /proc and /sys) ----------
snap="$work/snapshot"
mkdir -p "$snap/proc/self" "$snap/sys/kernel/security" "$snap/sys/firmware/efi/efivars"
jq -r '.checks[] | select(.type=="cmdline") | .evidence' "$minimal_dir/compliance.json" |
  tr '\n' ' ' > "$snap/proc/cmdline"
jq -r '.checks[] | select(.type=="sysctl") | .expected' "$minimal_dir/compliance.json" |
  while read -r key _ value; do
    mkdir -p "$snap/proc/sys/$(dirname "${key//.//}")"
    echo "$value" > "$snap/proc/sys/${key//.//}"
  done
for m in /var /tmp /dev/shm; do echo "30 1 0:30 / $m rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw"; done \
  > "$snap/proc/self/mountinfo"
secure_boot() { printf "\x06\x00\x00\x00\x$1" > "$snap/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"; }
secure_boot 01
audit "$minimal_dir" --live-root "$snap"
check_eq "host snapshot: exit 0" 0 "$status"
check_eq "host snapshot: kind" host-snapshot "$(jq -r .target.kind "$report")"
check_eq "host snapshot: Secure Boot read from the host" pass \
  "$(jq -r '.checks[] | select(.id=="secure-boot") | .status' "$report")"
check_eq "host snapshot: sysctls are the running kernel's" "running kernel: 2" \
  "$(jq -r '.checks[] | select(.id=="sysctl:kernel.kptr_restrict") | .evidence' "$report")"
secure_boot 00
echo 0 > "$snap/proc/sys/kernel/kptr_restrict"
audit "$minimal_dir" --live-root "$snap"
check_eq "host snapshot, Secure Boot off and kptr_restrict 0: exit 5" 5 "$status"
check_eq "host snapshot: exactly the live failures" '["BP-028:R9","DAT-NT-011:C6.2","DAT-NT-011:C6.3"]' \
  "$(jq -c .failed_controls "$report")"

# --- a weakened tree: the slot with a password hash for root (overlay over the erofs) ----------
mount -t erofs -o loop,ro "$minimal_dir/root.erofs" "$work/mnt/slot"
mkdir -p "$work/mnt/upper/up" "$work/mnt/upper/work"
mount -t overlay overlay \
  -o "lowerdir=$work/mnt/slot,upperdir=$work/mnt/upper/up,workdir=$work/mnt/upper/work" \
  "$work/mnt/weak"
sed -i 's|^root:[^:]*:|root:$6$salt$0123456789abcdef:|' "$work/mnt/weak/etc/shadow"
cmdline=$(jq -r '.checks[] | select(.type=="cmdline") | .evidence' "$minimal_dir/compliance.json" | tr '\n' ' ')
audit "$work/mnt/weak" --cmdline "$cmdline"
check_eq "weakened tree: exit 5" 5 "$status"
check_eq "weakened tree: exactly R6 fails" '["DAT-NT-011:R6"]' "$(jq -c .failed_controls "$report")"
check_eq "weakened tree: the evidence names root" \
  "accounts with a usable password: root (password hash)" \
  "$(jq -r '.checks[] | select(.id=="no-passwords") | .evidence' "$report")"
check_contains "weakened tree: stderr names the failed point" "$(cat "$work/stderr.txt")" \
  "audit failed: control points DAT-NT-011:R6"
audit "$work/mnt/weak"
check_eq "bare tree without --cmdline: command-line checks skipped" skipped \
  "$(jq -r '.checks[] | select(.id=="cmdline:slab_nomerge") | .status' "$report")"
cleanup
audit "$work/mnt/weak"
check_eq "a tree recording no profile needs --profile: exit 1" 1 "$status"

# --- a libvirt host recipe with anssi-hypervisor ----------------------------------------------
cp -r "$CAIRN_SOURCE/recipes/overlays" "$work/"
host_recipe() {  # host_recipe NAME EXTRA-TOML
  cat > "$work/$1.toml" <<EOF
[image]
name = "$1"
version = "1.0.0"
[debian]
packages = [
  "linux-image-cloud-amd64", "systemd", "systemd-sysv", "udev", "dbus", "dracut",
  "systemd-boot-efi", "kmod", "e2fsprogs", "passwd", "login", "openssh-server", "zstd",
  "libvirt-daemon-system", "libvirt-daemon-driver-qemu", "nftables", "chrony", "auditd",
  "apparmor", "polkitd", "sudo", "libarchive13", "libcurl4", "libtomlplusplus3",
  "libtss2-esys-3.0.2-0", "libtss2-tctildr0", "libtss2-rc0",  # cairn-attest
]
[overlay]
dir = "overlays/common"
[hardening]
profile = "anssi-hypervisor"
[network]
admin_interface = "admin0"
[systemd]
enable = ["nftables.service", "chrony.service", "auditd.service", "apparmor.service"]
$2
EOF
}
host_recipe kvm-lite '[[users]]
name = "ops"
ssh_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq ops@example"]
[[users]]
name = "vmop"
role = "operator"
ssh_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq vmop@example"]' 
status=0
"$CAIRN_BUILD" build "$work/kvm-lite.toml" --out "$minimal_out" --keys "$keys_dir" \
  --stop-after audit --json > "$work/kvm-lite.json" 2> "$work/kvm-lite.err" || status=$?
check_eq "libvirt host recipe passes anssi-hypervisor" 0 "$status"
tree="$(jq -r .output_dir "$work/kvm-lite.json")/tree"
check "--stop-after audit keeps the audited tree and names it" test -d "$tree/etc"
check_eq "--stop-after audit: the JSON says where it stopped" "audit $tree" \
  "$(jq -r '"\(.stopped_after) \(.tree)"' "$work/kvm-lite.json")"
summary=$(<"$work/kvm-lite.err")
check_contains "--stop-after audit: the summary says it stopped, not built" "$summary" \
  "after stage audit (--stop-after); nothing was published"
check_contains "--stop-after audit: the summary names the work tree" "$summary" \
  "work tree     $(jq -r .output_dir "$work/kvm-lite.json")"
check "--stop-after audit: no 'Built' line with an empty commit" \
  bash -c "! grep -q 'commit ,' '$work/kvm-lite.err'"
if [[ -d "$tree/etc" ]]; then
  audit "$tree"
  check_eq "its kept tree audited alone passes (command line unknown: skipped)" 0 "$status"
  check_eq "its kept tree: no check failed" '[]' \
    "$(jq -c '[.checks[] | select(.status=="fail") | .id]' "$report")"
  hook="$tree/etc/libvirt/hooks/qemu.d/10-cairn-limits"
  limited='<domain><memtune><hard_limit unit="KiB">1048576</hard_limit></memtune><vcpu>2</vcpu>
<cputune><quota>50000</quota></cputune></domain>'
  check "limits hook: a bounded domain starts" bash -c "printf '%s' '$limited' | '$hook' vm1 prepare begin -"
  check "limits hook: an unbounded domain is refused" bash -c \
    "! printf '<domain><vcpu>2</vcpu></domain>' | '$hook' vm1 prepare begin - 2>/dev/null"
  check "limits hook: other operations pass" bash -c "printf '' | '$hook' vm1 stopped end -"
  check_contains "nftables: sshd on the admin interface only" "$(cat "$tree/etc/nftables.conf")" \
    'iifname "admin0" tcp dport 22 accept'
  check_eq "roles: cairn-admin holds the admin only" ops \
    "$(awk -F: '$1 == "cairn-admin" {print $4}' "$tree/etc/group")"
  check_eq "roles: cairn-vm-operator holds the operator only" vmop \
    "$(awk -F: '$1 == "cairn-vm-operator" {print $4}' "$tree/etc/group")"
  check_eq "qemu.conf: seccomp sandbox on" 1 \
    "$(grep -c '^seccomp_sandbox = 1$' "$tree/etc/libvirt/qemu.conf")"
  rm -rf "$(dirname "$tree")"
fi

host_recipe kvm-weak '[virtualization]
migration = true
nested = true
[kernel]
cmdline = ["intel_iommu=off"]'
status=0
message=$("$CAIRN_BUILD" build "$work/kvm-weak.toml" --out "$minimal_out" --keys "$keys_dir" \
  2>&1 >/dev/null) || status=$?
check_eq "weakened recipe: build fails with exit 5" 5 "$status"
check_contains "weakened recipe: failed controls named" "$message" \
  "failed controls DAT-NT-011:R1, DAT-NT-011:R3, DAT-NT-011:R4)"
check_contains "weakened recipe: evidence" "$message" \
  "cmdline:intel_iommu: the command line ends with intel_iommu=off"
check "weakened recipe: nothing left in out/" bash -c \
  "! find '$minimal_out' -mindepth 1 -maxdepth 2 \( -name '.build-*' -o -name 'kvm-weak' \) | grep -q ."
check "weakened recipe: no ref in the repo" bash -c "! ostree --repo='$minimal_out/repo' refs 2>/dev/null | grep -q kvm-weak"
cleanup
finish
