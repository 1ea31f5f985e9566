#!/usr/bin/env bash
# Bad input gets one clear error naming what was wrong, a non-zero exit, and leaves nothing in
# out/: no artifact directory, no temporary build directory.
source "$(dirname "$0")/lib.sh"
ensure_keys
fresh_work_dir bad-input
cp -r "$CAIRN_SOURCE/recipes/overlays" "$work/"

# expect_failure NAME EXIT_CODE NEEDLE RECIPE_TEXT (KEYS=dir overrides the key directory)
expect_failure() {
  local name=$1 code=$2 needle=$3 text=$4
  local recipe="$work/$name.toml" out="$work/out-$name"
  printf '%s\n' "$text" > "$recipe"
  local status=0
  local message
  message=$("$CAIRN_BUILD" build "$recipe" --out "$out" --keys "${KEYS:-$keys_dir}" 2>&1 >/dev/null) || status=$?
  check_eq "$name: exit code" "$code" "$status"
  check_contains "$name: message names the problem" "$message" "$needle"
  check_eq "$name: one error line" 1 "$(grep -c '^cairn-build: error:' <<<"$message")"
  check "$name: nothing left in out/" bash -c \
    "! find '$out' -mindepth 1 -maxdepth 2 \( -name '.build-*' -o -name '$name' \) 2>/dev/null | grep -q ."
}

good='[image]
name = "bad"
version = "1.0"
[debian]
packages = ["linux-image-cloud-amd64", "systemd", "dracut", "zstd", "systemd-boot-efi"]'

expect_failure unknown-key 1 "unknown key 'debian.pakages' (did you mean 'debian.packages'?)" "$good
pakages = []"
expect_failure wrong-type 1 "'image.version' must be a string, not an integer" '[image]
name = "bad"
version = 1'
# Versions: one grammar for every name derived from them (entries, GPT names).
expect_failure version-plus 1 "version '1.0+3-0' contains '+'" "${good/\"1.0\"/\"1.0+3-0\"}"
expect_failure version-long 1 "is 24 characters long: at most 23" \
  "${good/\"1.0\"/\"1.0.0-123456789012345678\"}"
expect_failure version-case 1 "folds case" "${good/\"1.0\"/\"1.0-RC1\"}"
expect_failure password 1 "passwords are not allowed" "$good
[[users]]
name = \"ops\"
password = \"secret\"
ssh_keys = [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq ops\"]"
expect_failure unreachable-mirror 3 "mirror http://127.0.0.1:9/debian is unreachable" \
  "${good/\[debian\]/[debian]
mirrors = [\"http://127.0.0.1:9/debian\"]}"
KEYS="$work/no-keys" expect_failure missing-keys 1 "missing key material" "$good"
expect_failure unknown-package 1 "unknown package 'cairn-no-such-package'" \
  "${good/\"systemd\",/\"systemd\", \"cairn-no-such-package\",}"

# Not enough disk: out/ on a 64 MiB tmpfs.
small="$work/out-small"
mkdir -p "$small"
mount -t tmpfs -o size=64M tmpfs "$small"
printf '%s\n' "$good" > "$work/small.toml"
status=0
message=$("$CAIRN_BUILD" build "$work/small.toml" --out "$small" --keys "$keys_dir" 2>&1) || status=$?
check_eq "no-space: exit code" 3 "$status"
check_contains "no-space: message" "$message" "not enough disk space"
check "no-space: nothing left in out/" bash -c "[[ -z \"\$(ls -A '$small')\" ]]"
umount "$small"

# Not root. The binary and recipe go to a world-readable place: the checkout may not be.
nobody_dir=$(mktemp -d)
chmod 755 "$nobody_dir"
cp "$CAIRN_BUILD" "$work/small.toml" "$nobody_dir/"
chmod 644 "$nobody_dir/small.toml"
status=0
message=$(cd / && setpriv --reuid=65534 --regid=65534 --clear-groups \
  "$nobody_dir/cairn-build" build "$nobody_dir/small.toml" --out "$nobody_dir/out" 2>&1) || status=$?
rm -rf "$nobody_dir"
check_eq "not-root: exit code" 3 "$status"
check_contains "not-root: message" "$message" "must run as root"

# A missing recipe file.
status=0
message=$("$CAIRN_BUILD" build "$work/absent.toml" --out "$work/out-absent" 2>&1) || status=$?
check_eq "absent recipe: exit code" 1 "$status"
check_contains "absent recipe: message" "$message" "absent.toml: no such file"
finish
