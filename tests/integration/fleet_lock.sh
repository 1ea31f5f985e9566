#!/usr/bin/env bash
# The reboot gate end to end with the real cairn-update on disk-image hosts, a channel served
# over HTTP and etcd on loopback: three hosts of one group with reboot = "now" take the group's
# fleet lock (max 1) in turn — the second waits while the first holds it, and gets it once the
# first reached steady state (its window committed) —; a failing pre-reboot hook gives the place
# back; post-commit hooks run after the commit; `cairn-fleet unlock` frees a dead host's place;
# a failed window's rollback reboot waits for the lock like an update's, and gets it at a later
# poll (a fourth host holding the place meanwhile); an unreachable etcd stops the reboot (fail closed) unless lock = "none". Disk-image hosts have
# no guests: the evacuation itself is tested against libvirt in evacuate.sh and QEMU.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/etcd.sh"
source "$(dirname "$0")/fleet_hosts.sh"
: "${CAIRN_UPDATE:?}" "${CAIRN_FLEET:?}"
fresh_work_dir fleet_lock
v2="$minimal_out/minimal/1.0.1"
repo="$work/repo"
cleanup() {
  kill "${servers[@]}" 2>/dev/null || true
  stop_etcd "$work/etcd"
}
trap cleanup EXIT
start_etcd "$work/etcd"
fleet_cli() { "$CAIRN_FLEET" --store "$ETCD_ENDPOINT" --fleet lock "$@"; }
mkdir -p "$repo"
serve_repo "$repo"
channel_url="http://127.0.0.1:$port/channels/stable.json"
"$CAIRN_BUILD" publish "$v2" --repo "$repo" --channel stable --keys "$keys_dir" >/dev/null 2>&1

for i in 0 1 2; do
  new_fleet_host "$i" lock rack-1 now "hooks_dir = \"$work/h$i/hooks\""
  h="$work/h$i"
  mkdir -p "$h/hooks/pre-reboot.d" "$h/hooks/post-commit.d"
  # Hooks record what they were told.
  for stage in pre-reboot post-commit; do
    printf '#!/bin/sh\necho "$CAIRN_HOOK $CAIRN_REBOOT $CAIRN_VERSION $CAIRN_GROUP $CAIRN_MACHINE_ID" >> %s\n' \
      "$h/hooks.log" > "$h/hooks/$stage.d/50-record"
    chmod +x "$h/hooks/$stage.d/50-record"
  done
done
host() {
  local i=$1; shift
  "$CAIRN_UPDATE" --local --disk "$work/h$i/disk.img" --booted "${booted[i]}" \
    --trust "$keys_dir/trust" --state "$work/h$i/state" --machine-class x86_64-minimal \
    --machine-id "${ids[i]}" "$@"
}
poll() { host "$1" --json poll --config-root "$work/h$1/root"; }
health() { host "$1" health --config-root "$work/h$1/root" > "$work/h$1/health.out" 2>&1 || true; }
holders() { fleet_cli --json locks | jq -r '[.locks[] | select(.group == "rack-1") | .holders[].id] | join(" ")'; }

# Host 0 installs and takes the one place; host 1 installs and waits for it.
out0=$(poll 0)
check_eq "host 0: installed and rebooting" "1.0.1 true" "$(jq -r '"\(.installed) \(.rebooting)"' <<<"$out0")"
check_contains "host 0: took the place" "$(jq -r .message <<<"$out0")" "took a place in the fleet lock of group rack-1"
check_eq "the lock names host 0" "${ids[0]}" "$(holders)"
check_eq "host 0's pre-reboot hook ran with its environment" \
  "pre-reboot update 1.0.1 rack-1 ${ids[0]}" "$(cat "$work/h0/hooks.log")"
out1=$(poll 1)
check_eq "host 1: installed, not rebooting" "1.0.1 false" "$(jq -r '"\(.installed) \(.rebooting)"' <<<"$out1")"
check_contains "host 1: waits for the lock, naming its holder" "$(jq -r .message <<<"$out1")" \
  "waiting for the fleet lock: the fleet lock of group rack-1 is full (1 of 1): ${ids[0]}"
check "host 1's hooks did not run" test ! -e "$work/h1/hooks.log"
check_contains "host 1: the next poll still waits" "$(poll 1 | jq -r .message)" "is full"
check_contains "cairn-fleet locks (text)" "$(fleet_cli locks)" "rack-1: 1 of 1 held"

# Host 0 boots 1.0.1, passes its window and commits: steady state gives the place back.
booted[0]=B
health 0
check_contains "host 0 committed" "$(cat "$work/h0/health.out")" "committed"
check_eq "host 0 gave the place back" "" "$(holders)"
check_eq "host 0's post-commit hook ran" "post-commit update 1.0.1 rack-1 ${ids[0]}" \
  "$(tail -1 "$work/h0/hooks.log")"
out1=$(poll 1)
check_eq "host 1: now rebooting" "true" "$(jq -r .rebooting <<<"$out1")"
check_eq "the lock names host 1" "${ids[1]}" "$(holders)"

# Host 2's drain fails: the place it took is given back at once, and it does not reboot.
printf '#!/bin/sh\necho "openstack: no compute host can take instance i-42" >&2\nexit 3\n' \
  > "$work/h2/hooks/pre-reboot.d/10-drain"
chmod +x "$work/h2/hooks/pre-reboot.d/10-drain"
booted[1]=B
health 1
out2=$(poll 2)
check_eq "host 2: installed, not rebooting" "1.0.1 false" "$(jq -r '"\(.installed) \(.rebooting)"' <<<"$out2")"
check_contains "host 2: the hook's reason" "$(jq -r .message <<<"$out2")" \
  "pre-reboot hook 10-drain failed: exit 3: openstack: no compute host can take instance i-42"
check_contains "host 2: the place given back" "$(jq -r .message <<<"$out2")" "fleet lock given back"
check_eq "nobody holds the lock" "" "$(holders)"
check_contains "host 2's status says why" "$(host 2 status 2>&1)" \
  "10-drain failed"

# Host 2 takes the place and "dies" holding it: the operator frees it.
rm "$work/h2/hooks/pre-reboot.d/10-drain"
check_eq "host 2: rebooting" "true" "$(poll 2 | jq -r .rebooting)"
check_eq "the lock names host 2" "${ids[2]}" "$(holders)"
check_contains "cairn-fleet unlock" "$(fleet_cli --by ops unlock "${ids[2]}")" \
  "Freed ${ids[2]}'s place in the fleet lock of group rack-1"
check_eq "the place is free" "" "$(holders)"
set +e
out=$(fleet_cli unlock "${ids[2]}" 2>&1); code=$?
set -e
check_eq "unlock of a host holding nothing: exit 1" 1 "$code"
check_contains "unlock of a host holding nothing: says so" "$out" "holds no place"
fleet_cli set-max rack-1 2 >/dev/null
check_eq "set-max" 2 "$(fleet_cli --json locks | jq '.locks[0].max')"
fleet_cli set-max rack-1 1 >/dev/null

# The rollback reboot takes the same lock: host 3 installs and holds the one place; host 2 boots
# 1.0.1, fails its window, and its rollback reboot waits for the place (no hook runs) — until
# the place is free, when the next poll passes the gate (the hooks told "rollback") and reboots.
new_fleet_host 3 lock rack-1 now "hooks_dir = \"$work/h3/hooks\""
check_eq "host 3: installed and rebooting" "true" "$(poll 3 | jq -r .rebooting)"
check_eq "the lock names host 3" "${ids[3]}" "$(holders)"
printf '#!/bin/sh\necho "bridge br0 missing" >&2\nexit 1\n' > "$work/h2/checks/required.d/network"
chmod +x "$work/h2/checks/required.d/network"
booted[2]=B
lines_before=$(wc -l < "$work/h2/hooks.log")
health 2
check_contains "host 2: the window failed" "$(cat "$work/h2/health.out")" "bridge br0 missing"
check_contains "host 2: the rollback reboot waits for the lock" "$(cat "$work/h2/health.out")" \
  "is full (1 of 1): ${ids[3]}"
check_eq "host 2: no hook ran for it" "$lines_before" "$(wc -l < "$work/h2/hooks.log")"
check_eq "host 3 still holds the place" "${ids[3]}" "$(holders)"
fleet_cli unlock "${ids[3]}" >/dev/null
out2=$(poll 2)
check_eq "host 2: the held-back rollback reboots at the next poll" "true" \
  "$(jq -r .rebooting <<<"$out2")"
check_eq "the lock names host 2" "${ids[2]}" "$(holders)"
check_eq "host 2's pre-reboot hook was told: rollback to 1.0.0" \
  "pre-reboot rollback 1.0.0 rack-1 ${ids[2]}" "$(tail -1 "$work/h2/hooks.log")"

# etcd unreachable: no reboot (fail closed), unless lock = "none". The wave's
# halt check asks the store first, so that is the refusal the host reports;
# the lock's own refusal is covered by reboot_gate_test and poll_test.
stop_etcd "$work/etcd"
set +e
out=$(poll 3 2>&1); code=$?
set -e
check_eq "etcd down: the poll fails (unavailable)" 3 "$code"
check_contains "etcd down: no reboot, and why" "$out" "not rebooting into 1.0.1: the fleet store cannot say"
printf '[fleet]\nlock = "none"\nstore = ""\n' > "$work/h3/root/etc/cairn/update.toml.d.tmp"
mkdir -p "$work/h3/root/etc/cairn/update.toml.d"
mv "$work/h3/root/etc/cairn/update.toml.d.tmp" "$work/h3/root/etc/cairn/update.toml.d/90-alone.toml"
out=$(poll 3)
check_eq "lock = \"none\" and no store: the host reboots alone" "true" "$(jq -r .rebooting <<<"$out")"
finish
