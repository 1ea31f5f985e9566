#!/usr/bin/env bash
# A fleet rollout end to end, on one machine: a channel repository served over HTTP on
# loopback, a one-member etcd on loopback, and 20 simulated hosts — each a copy of the minimal
# 1.0.0 disk image with its own machine-id, state directory and update.toml — polling with the
# real cairn-update. 1.0.1 rolls out in two waves (30 % at once, everyone an hour later); three
# hosts of the first wave fail their health window, so the rollout halts itself at
# max_failures = 3 and the hosts not yet updated stay as they were; `cairn-fleet report` lists
# the three reasons. Then resume (the second wave goes ahead) and pull (the rest stays put).
# Last, the index and bundle attacks a poll must refuse without installing anything.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/etcd.sh"
source "$(dirname "$0")/fleet_hosts.sh"
: "${CAIRN_UPDATE:?}" "${CAIRN_FLEET:?}"
fresh_work_dir fleet
v2="$minimal_out/minimal/1.0.1"
hosts=20
repo="$work/repo"
cleanup() {
  kill "${servers[@]}" 2>/dev/null || true
  stop_etcd "$work/etcd"
}
trap cleanup EXIT
start_etcd "$work/etcd"
fleet_cli() { "$CAIRN_FLEET" --store "$ETCD_ENDPOINT" --fleet itest "$@"; }

mkdir -p "$repo"
serve_repo "$repo"
channel_url="http://127.0.0.1:$port/channels/staging.json"

# --- the hosts -------------------------------------------------------------------------------
for i in $(seq 0 $((hosts - 1))); do
  new_fleet_host "$i" itest "rack-$((i % 2))" manual
done
clock=()  # later: faketime, for the hours a rollout's waves take
host() {  # host I ARGS…: cairn-update as simulated host I, from the slot it "booted"
  local i=$1; shift
  "${clock[@]}" "$CAIRN_UPDATE" --local --disk "$work/h$i/disk.img" --booted "${booted[i]}" \
    --trust "$keys_dir/trust" --state "$work/h$i/state" --machine-class x86_64-minimal \
    --machine-id "${ids[i]}" "$@"
}
poll() { host "$1" "${@:2}" poll --config-root "$work/h$1/root"; }
slot_b() { sfdisk --json "$work/h$1/disk.img" | jq -r '.partitiontable.partitions[3].name'; }
# The hosts whose bucket (SHA-256(machine-id ‖ version), first 64 bits) is below FRACTION.
in_wave() {  # in_wave FRACTION VERSION: the indexes, one line
  local i out=()
  for i in $(seq 0 $((hosts - 1))); do
    python3 -c "import hashlib,sys; d=hashlib.sha256(sys.argv[1].encode()+sys.argv[2].encode()).digest(); sys.exit(0 if int.from_bytes(d[:8],'big')/2**64 < float(sys.argv[3]) else 1)" \
      "${ids[i]}" "$2" "$1" && out+=("$i")
  done
  echo "${out[*]}"
}

# --- publish 1.0.1: two waves ------------------------------------------------------------------
"$CAIRN_BUILD" publish "$v2" --repo "$repo" --channel staging --keys "$keys_dir" \
  --waves 0.3:0s,1:1h --max-failures 3 >/dev/null 2>&1
check "the channel index is signed by the project key" openssl cms -verify -binary -inform DER \
  -in "$repo/channels/staging.json.sig" -content "$repo/channels/staging.json" \
  -CAfile "$keys_dir/trust/image-ca.crt" -purpose any -out /dev/null
wave1=($(in_wave 0.3 1.0.1))
((${#wave1[@]} >= 4)) || { failed "the first wave needs 4 hosts, has ${#wave1[@]}"; finish; }

# Round 1: every host polls; exactly the first wave installs.
for i in $(seq 0 $((hosts - 1))); do poll "$i" > "$work/h$i/poll.out" 2>&1 || true; done
installed=()
for i in $(seq 0 $((hosts - 1))); do [[ $(slot_b "$i") == cairn_1.0.1 ]] && installed+=("$i"); done
check_eq "round 1: the first wave (30 %) installed 1.0.1" "${wave1[*]}" "${installed[*]}"
outside=$(comm -13 <(printf '%s\n' "${wave1[@]}" | sort) <(seq 0 $((hosts - 1)) | sort) | head -1)
check_contains "round 1: a host outside the wave waits for it" \
  "$(cat "$work/h$outside/poll.out")" "waiting for its wave"
status_json=$(fleet_cli --json status)
check_eq "cairn-fleet status: 20 hosts" 20 "$(jq '.hosts | length' <<<"$status_json")"
check_eq "cairn-fleet status: the first wave installed" "${#wave1[@]}" \
  "$(jq '.by_phase.installed' <<<"$status_json")"

# The first wave reboots into 1.0.1: three fail their window, the others commit.
failing=("${wave1[@]:0:3}") healthy=("${wave1[@]:3}")
for i in "${failing[@]}"; do
  printf '#!/bin/sh\necho "bridge br0 missing on host %s" >&2\nexit 1\n' "$i" \
    > "$work/h$i/checks/required.d/network"
  chmod +x "$work/h$i/checks/required.d/network"
done
for i in "${wave1[@]}"; do
  booted[i]=B
  host "$i" health --config-root "$work/h$i/root" > "$work/h$i/health.out" 2>&1 || true
done
for i in "${failing[@]}"; do  # back on 1.0.0: the rollback is recorded and reported
  booted[i]=A
  host "$i" health --config-root "$work/h$i/root" >> "$work/h$i/health.out" 2>&1 || true
done
report=$(fleet_cli --json report 1.0.1)
check_eq "report: committed hosts" "${#healthy[@]}" "$(jq .committed <<<"$report")"
check_eq "report: three rolled back" 3 "$(jq .rolled_back <<<"$report")"
check_eq "report: each rollback with its reason" 3 \
  "$(jq '[.rollbacks[] | select(.reason | test("bridge br0 missing"))] | length' <<<"$report")"
check_eq "report: step durations (write)" "${#wave1[@]}" "$(jq .steps.write.samples <<<"$report")"
check_eq "report: the hosts not yet updated are pending" $((hosts - ${#wave1[@]})) \
  "$(jq '.pending | length' <<<"$report")"
check_eq "the rollout halted itself at max_failures = 3" halted "$(jq -r .control.state <<<"$report")"
check_contains "the text report names the reasons" "$(fleet_cli report 1.0.1)" "bridge br0 missing"

# Promotion to stable: refused on this evidence, recorded with who forced it.
set +e
out=$(fleet_cli promote 1.0.1 --from staging --to stable --repo "$repo" --keys "$keys_dir" \
  --min-hosts 1 2>&1)
code=$?
set -e
check_eq "promote after rollbacks: refused, exit 1" 1 "$code"
check_contains "promote: says why" "$out" "3 rolled it back"
check "promote refused: no stable channel written" test ! -e "$repo/channels/stable.json"
fleet_cli --by alice promote 1.0.1 --from staging --to stable --repo "$repo" --keys "$keys_dir" \
  --force >/dev/null
check_eq "forced promote: 1.0.1 published in stable" 1.0.1 \
  "$(jq -r '.entries[0].version' "$repo/channels/stable.json")"
check_eq "forced promote: recorded with who forced it" "alice true" \
  "$(fleet_cli --json report 1.0.1 | jq -r '.promotions[0] | "\(.by) \(.forced)"')"

# Round 2, two hours later (the second wave is due): nobody starts a halted version.
clock=(faketime -f "+2h")
for i in $(seq 0 $((hosts - 1))); do poll "$i" > "$work/h$i/poll2.out" 2>&1 || true; done
untouched=0
for i in $(seq 0 $((hosts - 1))); do
  [[ " ${wave1[*]} " == *" $i "* ]] && continue
  [[ $(slot_b "$i") == cairn_empty ]] && untouched=$((untouched + 1))
done
check_eq "round 2: the halted rollout left every other host untouched" \
  $((hosts - ${#wave1[@]})) "$untouched"
check_contains "round 2: a host says why" "$(cat "$work/h$outside/poll2.out")" "halted"
check_contains "round 2: a failed host does not retry" "$(cat "$work/h${failing[0]}/poll2.out")" \
  "rolled back on this host"

# Resume: the second wave goes ahead (half of the rest polls); then pull: the rest stays.
rest=($(comm -13 <(printf '%s\n' "${wave1[@]}" | sort) <(seq 0 $((hosts - 1)) | sort) | sort -n))
fleet_cli resume 1.0.1 --by itest >/dev/null
half=$(( ${#rest[@]} / 2 ))
for i in "${rest[@]:0:$half}"; do poll "$i" >/dev/null 2>&1 || true; done
resumed=0
for i in "${rest[@]:0:$half}"; do [[ $(slot_b "$i") == cairn_1.0.1 ]] && resumed=$((resumed + 1)); done
check_eq "resume: the second wave installs" "$half" "$resumed"
fleet_cli pull 1.0.1 --reason "bad bridge config" >/dev/null
for i in "${rest[@]:$half}"; do poll "$i" > "$work/h$i/poll3.out" 2>&1 || true; done
pulled=0
for i in "${rest[@]:$half}"; do [[ $(slot_b "$i") == cairn_empty ]] && pulled=$((pulled + 1)); done
check_eq "pull: no host starts it" $(( ${#rest[@]} - half )) "$pulled"
check_contains "pull: the host says why" "$(cat "$work/h${rest[-1]}/poll3.out")" "pulled"

# --- refusals: one clear error, exit 1, nothing installed ---------------------------------------
victim=${rest[-1]}
refused() {  # refused "what" EXIT MESSAGE: the victim's poll fails saying MESSAGE; slot B empty
  set +e; out=$(poll "$victim" 2>&1); code=$?; set -e
  check_eq "$1: exit $2" "$2" "$code"
  check_contains "$1: says why" "$out" "$3"
  check_eq "$1: one error line" 1 "$(grep -c 'error:' <<<"$out")"
  check_eq "$1: nothing installed" cairn_empty "$(slot_b "$victim")"
  check_contains "$1: status says why" "$(host "$victim" status)" "last poll:"
}
sign() {  # sign FILE: a detached DER signature by the project's signing key
  openssl cms -sign -binary -noattr -outform DER -md sha256 -signer "$keys_dir/signing.crt" \
    -inkey "$keys_dir/signing.key" -in "$1" -out "$1.sig"
}
index="$repo/channels/staging.json"
cp "$index" "$work/good.json"; cp "$index.sig" "$work/good.json.sig"
serial=$(jq .serial "$index")

# (1.0.1 is still pulled: the victim accepts indexes without installing.) A newer index the
# host accepts, then the older one served again: replayed.
jq ".serial = $((serial + 1))" "$work/good.json" > "$index"; sign "$index"
poll "$victim" >/dev/null 2>&1 || true
cp "$work/good.json" "$index"; cp "$work/good.json.sig" "$index.sig"
refused "a replayed older index" 5 "replayed"
# Expired.
jq ".serial = $((serial + 2)) | .expires = \"2020-01-01T00:00:00Z\"" "$work/good.json" > "$index"
sign "$index"
refused "an expired index" 5 "expired"
# Signed by a key the hosts do not trust.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=intruder -keyout "$work/x.key" \
  -out "$work/x.crt" 2>/dev/null
jq ".serial = $((serial + 3))" "$work/good.json" > "$index"
openssl cms -sign -binary -noattr -outform DER -md sha256 -signer "$work/x.crt" \
  -inkey "$work/x.key" -in "$index" -out "$index.sig"
refused "an index signed by an untrusted key" 5 "signature"
# Signed properly, but its sha256 is not the bundle's (1.0.1 resumed: the host tries it).
fleet_cli resume 1.0.1 >/dev/null
jq ".serial = $((serial + 4)) | .entries[0].bundle.sha256 = \"$(printf x | sha256sum | cut -c1-64)\"" \
  "$work/good.json" > "$index"
sign "$index"
refused "an index whose sha256 disagrees with the bundle" 5 "differs from the channel index"
# The bundle grew past what the index says.
jq ".serial = $((serial + 5))" "$work/good.json" > "$index"; sign "$index"
bundle_file="$repo/$(jq -r '.entries[0].bundle.path' "$index")"
cp "$bundle_file" "$work/bundle.orig"
head -c 1048576 /dev/zero >> "$bundle_file"
refused "a bundle bigger than the index says" 5 "bigger than the channel index says"
cp "$work/bundle.orig" "$bundle_file"
# A channel URL that redirects to another scheme.
serve_repo "$repo" --redirect-scheme
sed -i "s|^channel = .*|channel = \"http://127.0.0.1:$port/channels/staging.json\"|" \
  "$work/h$victim/root/etc/cairn/update.toml"
refused "a channel URL that redirects to another scheme" 1 "redirected away from http"
# Unreachable channel and store: nothing changes, status says why.
sed -i "s|^channel = .*|channel = \"http://127.0.0.1:1/channels/staging.json\"|" \
  "$work/h$victim/root/etc/cairn/update.toml"
refused "an unreachable channel server" 3 "127.0.0.1:1"

finish
