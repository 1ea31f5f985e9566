#!/usr/bin/env bash
# cairn-build publish on the minimal build: a channel repository whose index and signature verify
# against the image CA with openssl, a bundle that is the build's, a second publish raising the
# serial, and bad input (missing build, bad waves, bad channel name, other keys, a tampered index)
# refused with the repository left exactly as it was.
source "$(dirname "$0")/lib.sh"
ensure_keys
fresh_work_dir publish
repo="$work/repo"
ca="$keys_dir/trust/image-ca.crt"
# The fixture's build seen from a directory of this test's own, so that the bundle publish makes
# there does not change what the other tests read.
build="$work/build"
mkdir -p "$build"
cp "$minimal_dir/build.json" "$build/"
ln -s "$minimal_dir/root.erofs" "$minimal_dir/root.verity" "$minimal_dir/minimal_1.0.0.efi" "$build/"

index="$repo/channels/staging.json"
verifies() {  # verifies INDEX: its detached signature holds for the image CA
  openssl cms -verify -binary -inform DER -in "$1.sig" -content "$1" -CAfile "$ca" \
    -purpose any -out /dev/null 2>/dev/null
}
now=$(date +%s)
"$CAIRN_BUILD" publish "$build" --repo "$repo" --channel staging --keys "$keys_dir" \
  --waves 0.1:0s,0.5:1h,1:1d --max-failures 2 --json > "$work/first.json"
check "index and signature written" test -s "$index" -a -s "$index.sig"
check "the index's signature verifies against the image CA (openssl)" verifies "$index"
check_eq "channel, serial" "staging 1" "$(jq -r '"\(.channel) \(.serial)"' "$index")"
entry='.entries[0]'
check_eq "the entry names the build" "1.0.0 x86_64-minimal 1 active" \
  "$(jq -r "$entry | \"\(.version) \(.machine_class) \(.security_version) \(.state)\"" "$index")"
bundle_path=$(jq -r "$entry.bundle.path" "$index")
check_eq "bundle path" "bundles/minimal_1.0.0.cairnb" "$bundle_path"
check_eq "bundle sha256" "$(sha256sum < "$repo/$bundle_path" | cut -d' ' -f1)" \
  "$(jq -r "$entry.bundle.sha256" "$index")"
check_eq "bundle size" "$(stat -c %s "$repo/$bundle_path")" "$(jq -r "$entry.bundle.size" "$index")"
check "the published bundle is the one made in the build directory" \
  cmp -s "$repo/$bundle_path" "$build/minimal_1.0.0.cairnb"
check_eq "waves" "0.1:0 0.5:3600 1:86400 max 2" \
  "$(jq -r "$entry.rollout | ([.waves[] | \"\(.fraction):\(.delay_seconds)\"] | join(\" \")) + \" max \(.max_failures)\"" "$index")"
expires=$(date -d "$(jq -r .expires "$index")" +%s)
check "expires in 7 days" test $((expires - now)) -ge $((7 * 86400 - 60)) -a $((expires - now)) -le $((7 * 86400 + 60))
check_eq "--json: serial, bundle made and copied" "1 true true false" \
  "$(jq -r '"\(.serial) \(.bundle.made) \(.bundle.copied) \(.replaced)"' "$work/first.json")"
check_eq "--json: the entry as the index spells it" "$(jq -c "$entry" "$index")" \
  "$(jq -c .entry "$work/first.json")"

# Again, paused, with a day's lifetime: the same entry replaced, the serial raised.
"$CAIRN_BUILD" publish "$build" --repo "$repo" --channel staging --keys "$keys_dir" \
  --state paused --expires-in 1d --start 2030-01-01T00:00:00Z --json > "$work/second.json" 2>"$work/second.err"
check "the new index verifies too" verifies "$index"
check_eq "serial 2, one entry, paused, from the given start" "2 1 paused 2030-01-01T00:00:00Z" \
  "$(jq -r '"\(.serial) \(.entries|length) \(.entries[0].state) \(.entries[0].rollout.start)"' "$index")"
check_eq "--json: bundle reused, entry replaced" "false false true" \
  "$(jq -r '"\(.bundle.made) \(.bundle.copied) \(.replaced)"' "$work/second.json")"
check_contains "says what it did" "$(cat "$work/second.err")" "Replaced 1.0.0 (x86_64-minimal, paused) in channel staging: serial 2"
check "a changed index no longer verifies" bash -c "! sed 's/\"serial\": 2/\"serial\": 9/' '$index' |
  openssl cms -verify -binary -inform DER -in '$index.sig' -content /dev/stdin -CAfile '$ca' \
    -purpose any -out /dev/null 2>/dev/null"

# Bad input: one line naming the problem, a non-zero exit, the repository as it was.
listing() { (cd "$repo" && find . -printf '%p %s\n' | sort && find . -type f -exec sha256sum {} + | sort); }
before=$(listing)
refused() {  # refused "description" EXIT NEEDLE args…: publish fails so, and changes nothing
  local what=$1 want=$2 needle=$3 out code
  shift 3
  set +e
  out=$("$CAIRN_BUILD" publish "$@" 2>&1); code=$?
  set -e
  check_eq "$what: exit $want" "$want" "$code"
  check_contains "$what: says why" "$out" "$needle"
  # One line besides the progress headers ("==> [1] publish"); usage errors (exit 2) add a
  # pointer to --help.
  [[ $want == 2 ]] || check_eq "$what: one line" 1 "$(grep -v '^==> \|^    ' <<<"$out" | grep -c .)"
  check_eq "$what: repository unchanged" "$before" "$(listing)"
}
refused "missing build directory" 2 "does not exist" "$work/no-build" --repo "$repo" \
  --channel staging --keys "$keys_dir"
refused "waves out of order" 1 "fraction must be larger" "$build" --repo "$repo" \
  --channel staging --keys "$keys_dir" --waves 0.5:0s,0.2:1h
refused "waves without a delay" 1 "is not FRACTION:DELAY" "$build" --repo "$repo" \
  --channel staging --keys "$keys_dir" --waves 0.5
refused "bad channel name" 1 "channel name 'Stable'" "$build" --repo "$repo" --channel Stable \
  --keys "$keys_dir"
refused "bad start" 1 "--start: time 'tomorrow'" "$build" --repo "$repo" --channel staging \
  --keys "$keys_dir" --start tomorrow
refused "bad lifetime" 1 "--expires-in" "$build" --repo "$repo" --channel staging \
  --keys "$keys_dir" --expires-in 1week
# Other keys: the build's bundle is not signed by what their trust/ holds.
"$CAIRN_BUILD" keys --dir "$work/other-keys" >/dev/null
refused "a bundle the trust anchors do not accept" 5 "not trusted" "$build" --repo "$repo" \
  --channel staging --keys "$work/other-keys"
cp "$index" "$work/index.saved"
sed -i 's/"serial": 2/"serial": 3/' "$index"
before=$(listing)
refused "a tampered index" 5 "is not re-signed blindly" "$build" --repo "$repo" --channel staging \
  --keys "$keys_dir"
cp "$work/index.saved" "$index"
check "no temporary file left in the repository" bash -c "! find '$repo' -name '.*' | grep -q ."
finish
