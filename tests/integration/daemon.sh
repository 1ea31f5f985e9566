#!/usr/bin/env bash
# cairn-update daemon on a private system bus: the documented interface is introspectable, the
# CLI installs through it (Progress and Completed signals seen), properties follow, MarkGood
# raises the floor, Rollback switches slots, Poll reads update.toml's [fleet] at every call and
# installs what the channel offers, the timer's poll trigger (a socket passed as systemd passes
# cairn-update-poll.socket) polls the same way and refuses callers other than root, SIGTERM stops
# it cleanly.
source "$(dirname "$0")/lib.sh"
: "${CAIRN_UPDATE:?}" "${CAIRN_POLL_TRIGGER:?}"
fresh_work_dir daemon
cat > "$work/bus.conf" <<CONF
<busconfig>
  <type>system</type>
  <listen>unix:path=$work/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/><allow own="*"/><allow send_destination="*"/><allow receive_sender="*"/>
  </policy>
</busconfig>
CONF
dbus-daemon --config-file="$work/bus.conf" --fork --print-pid > "$work/bus.pid"
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$work/bus"
pids=("$(cat "$work/bus.pid")")
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

"$CAIRN_BUILD" bundle "$minimal_out/minimal/1.0.1" --keys "$keys_dir" --output "$work/v2.cairnb" 2>/dev/null
cp --sparse=always "$minimal_dir/disk.img" "$work/disk.img"
host=(--disk "$work/disk.img" --booted A --trust "$keys_dir/trust" --state "$work/state"
      --machine-class x86_64-minimal)
mkdir -p "$work/root/etc/cairn"
# As systemd runs it: with cairn-update-poll.socket's listening socket as the descriptor named
# "poll". systemd-socket-activate starts the daemon (same PID) at the first connection: the
# timer's first poll, with nothing to do yet.
trigger=$work/poll.socket
systemd-socket-activate -l "$trigger" --fdname=poll -E PATH -E DBUS_SYSTEM_BUS_ADDRESS \
  "$CAIRN_UPDATE" "${host[@]}" daemon --config-root "$work/root" 2> "$work/daemon.log" &
daemon=$!
pids+=("$daemon")
for _ in $(seq 100); do [[ -S $trigger ]] && break; sleep 0.1; done
check_contains "the timer's poll trigger starts the daemon, which has no channel to poll" \
  "$("$CAIRN_POLL_TRIGGER" "$trigger")" "no channel to poll"
for i in $(seq 100); do
  busctl --system status org.cairn.Update1 >/dev/null 2>&1 && break
  sleep 0.1
done
dbus-monitor --system "type='signal',interface='org.cairn.Update1'" > "$work/signals.txt" 2>&1 &
pids+=("$!")
# The bus sends a monitor NameLost once it has become one: from then on no signal is missed.
wait_for_signal() {
  for _ in $(seq 100); do grep -q "member=$1" "$work/signals.txt" && return; sleep 0.1; done
}
wait_for_signal NameLost

interface=$(busctl --system introspect org.cairn.Update1 /org/cairn/Update1 org.cairn.Update1)
for member in .Install .Poll .Cancel .MarkGood .MarkBad .Rollback .SlotA .SlotB .Booted .Pending \
              .Phase .Status .Installing .Host .SecurityFloor .LastResult .History .Progress \
              .Completed; do
  check_contains "introspection lists $member" "$interface" "$member"
done
prop() { busctl --system get-property org.cairn.Update1 /org/cairn/Update1 org.cairn.Update1 "$1"; }
check_eq "SlotA before" 's "1.0.0"' "$(prop SlotA)"
check_eq "SlotB before" 's ""' "$(prop SlotB)"

"$CAIRN_UPDATE" "${host[@]}" install "$work/v2.cairnb" --json > "$work/install.json"
check_eq "the CLI's install went through: slot B, 1.0.1" "B 1.0.1" \
  "$(jq -r '[.slot, .version] | join(" ")' "$work/install.json")"
check_contains "… performed by the daemon (LastResult)" "$(prop LastResult)" "$work/v2.cairnb"
check_eq "SlotB after" 's "1.0.1"' "$(prop SlotB)"
check_eq "Pending" 's "B 1.0.1"' "$(prop Pending)"
wait_for_signal Completed
check_contains "Progress signals seen" "$(cat "$work/signals.txt")" "member=Progress"
check_contains "a Completed signal seen" "$(cat "$work/signals.txt")" "member=Completed"

"$CAIRN_BUILD" bundle "$minimal_dir" --keys "$keys_dir" --output "$work/v1.cairnb" 2>/dev/null
set +e
out=$("$CAIRN_UPDATE" "${host[@]}" install "$work/v1.cairnb" 2>&1); code=$?
set -e
check_eq "the running version, refused by the daemon: exit 1 (its error kind kept)" 1 "$code"
check_contains "… with the daemon's reason" "$out" "already running"

"$CAIRN_UPDATE" "${host[@]}" mark-good
check_eq "MarkGood raised the floor" "t 1" "$(prop SecurityFloor)"
check_eq "… and nothing is pending" 's ""' "$(prop Pending)"

history=$(busctl --system --json=short get-property org.cairn.Update1 /org/cairn/Update1 \
          org.cairn.Update1 History | jq -r .data)
check_eq "History: the install, then the refused one" "1.0.1:committed 1.0.0:install-failed" \
  "$(jq -r '[.updates[] | .version + ":" + .outcome] | join(" ")' <<<"$history")"
check_eq "… with the install's steps timed" "verify retire write check identify activate" \
  "$(jq -r '[.updates[0].steps[].step] | join(" ")' <<<"$history")"
check_contains "cairn-update history shows the refusal's reason" \
  "$("$CAIRN_UPDATE" "${host[@]}" history)" "already running"

check_eq "Rollback through the daemon switches the next boot to the other slot" 'ss "1.0.1" "B"' \
  "$(busctl --system call org.cairn.Update1 /org/cairn/Update1 org.cairn.Update1 Rollback)"
check_eq "… by renaming entries: the running one is spent" "cairn_1.0.0+0-0.efi cairn_1.0.1+3-0.efi" \
  "$(MTOOLS_SKIP_CHECK=1 mdir -b -i "$work/disk.img@@1M" ::/EFI/Linux | sed 's|.*/||' | sort | xargs)"

# The daemon never blocks: an install fed slowly through a pipe is under way while properties,
# the status and a second Install answer at once; Cancel() then stops it, target unbootable.
mkfifo "$work/slow.cairnb"
"$CAIRN_UPDATE" "${host[@]}" --json install "$work/slow.cairnb" > "$work/slow.json" 2>/dev/null &
slow=$!
exec 7>"$work/slow.cairnb"
head -c $((4 * 1024 * 1024)) "$work/v2.cairnb" >&7
for _ in $(seq 100); do [[ $(prop Phase) == 's "installing"' ]] && break; sleep 0.1; done
check_eq "mid-install: the Phase property answers" 's "installing"' "$(prop Phase)"
check_eq "mid-install: Installing" "b true" "$(prop Installing)"
status=$(busctl --system --json=short get-property org.cairn.Update1 /org/cairn/Update1 \
         org.cairn.Update1 Status | jq -r .data)
check_eq "mid-install: the Status property (the CLI's status view)" "installing 1.0.1" \
  "$(jq -r '[.phase, .pending.version] | join(" ")' <<<"$status")"
set +e
out=$(timeout 5 busctl --system call org.cairn.Update1 /org/cairn/Update1 org.cairn.Update1 \
      Install s "$work/v2.cairnb" 2>&1); code=$?
set -e
check_contains "a second Install is refused at once: Busy" "$out" "already running"
check "Cancel() is accepted" busctl --system call org.cairn.Update1 /org/cairn/Update1 \
  org.cairn.Update1 Cancel
# The install notices at its next chunk: feed the rest.
tail -c +$((4 * 1024 * 1024 + 1)) "$work/v2.cairnb" >&7 2>/dev/null || true
exec 7>&-
set +e; wait "$slow"; code=$?; set -e
check_eq "the cancelled install: exit 3" 3 "$code"
check_eq "… reported as cancelled" "cancelled" "$(jq -r .error.code "$work/slow.json")"
check_eq "… the target holds no version" 's ""' "$(prop SlotB)"
check_eq "… no entry boots it (only the running version's, spent by the rollback)" "cairn_1.0.0+0-0.efi" \
  "$(MTOOLS_SKIP_CHECK=1 mdir -b -i "$work/disk.img@@1M" ::/EFI/Linux | sed 's|.*/||' | sort | xargs)"
check_eq "… and the lifecycle is at rest" 's "idle"' "$(prop Phase)"

# Host options through the daemon must be its own: otherwise the CLI would answer for a host
# other than the one it names.
set +e
out=$("$CAIRN_UPDATE" --disk "$work/disk.img" --booted A --trust "$keys_dir/trust" \
      --state "$work/other-state" --machine-class x86_64-minimal mark-good 2>&1); code=$?
set -e
check_eq "another --state than the daemon's: a usage error (exit 2)" 2 "$code"
check_contains "… naming the option" "$out" "--state differs from what the cairn-update daemon serves"
set +e
out=$("$CAIRN_UPDATE" "${host[@]}" install "$work/v2.cairnb" --ca-file /etc/ssl/certs/ca-certificates.crt 2>&1); code=$?
set -e
check_eq "--ca-file through the daemon: refused (exit 2), not ignored" 2 "$code"
check_contains "… with the way out" "$out" "--local"

# The timer's poll (cairn-update-poll.service calls Poll): the daemon reads update.toml at each
# call, so a [fleet] section written after it started counts.
call() { busctl --system call org.cairn.Update1 /org/cairn/Update1 org.cairn.Update1 "$@"; }
check_contains "Poll without a [fleet] channel: nothing to do" "$(call Poll)" "no channel to poll"
source "$CAIRN_SOURCE/tests/integration/fleet_hosts.sh"
trap 'kill "${pids[@]}" "${servers[@]}" 2>/dev/null || true' EXIT
mkdir -p "$work/repo"
serve_repo "$work/repo"
"$CAIRN_BUILD" publish "$minimal_dir" --repo "$work/repo" --channel stable --keys "$keys_dir" \
  --waves 1:0s >/dev/null 2>&1
printf '[fleet]\nchannel = "http://127.0.0.1:%s/channels/stable.json"\n' "$port" \
  > "$work/root/etc/cairn/update.toml"
completed=$(grep -c "member=Completed" "$work/signals.txt")
check_contains "a quiet Poll (the channel offers the running version): nothing installed" \
  "$(call Poll)" '"" false'
check_eq "… and it emits nothing" "$completed" "$(grep -c "member=Completed" "$work/signals.txt")"
check_contains "the timer's trigger: the same quiet poll, its message printed" \
  "$("$CAIRN_POLL_TRIGGER" "$trigger")" "up to date (1.0.0"
# The socket's mode keeps others out (0600 in cairn-update-poll.socket); opened to all here, the
# daemon itself still refuses anyone but root.
chmod 0666 "$trigger"
set +e
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$CAIRN_POLL_TRIGGER" "$trigger" 2>&1)
code=$?
set -e
check_eq "a trigger from another user than root: refused (exit 1)" 1 "$code"
check_contains "… saying only root may" "$out" "only root may trigger a poll"
chmod 0600 "$trigger"
"$CAIRN_BUILD" publish "$minimal_out/minimal/1.0.1" --repo "$work/repo" --channel stable --keys "$keys_dir" \
  --waves 1:0s >/dev/null 2>&1
check_contains "Poll installs 1.0.1, offered to every host at once (reboot = manual)" \
  "$(call Poll)" '"1.0.1" false'
check_eq "… into slot B" 's "1.0.1"' "$(prop SlotB)"
check_contains "… the poll's result (LastResult)" "$(prop LastResult)" 'source\":\"poll'  # busctl escapes the JSON
printf '[fleet]\nchannel = 7\n' > "$work/root/etc/cairn/update.toml"
set +e
out=$(call Poll 2>&1); code=$?
set -e
check "a bad update.toml: Poll fails" test "$code" -ne 0
check_contains "… naming the file" "$out" "update.toml"
set +e
out=$("$CAIRN_POLL_TRIGGER" "$trigger" 2>&1); code=$?
set -e
check_eq "… and through the trigger: exit 1" 1 "$code"
check_contains "… with the same reason" "$out" "update.toml"

kill -TERM "$daemon"
set +e
wait "$daemon"; code=$?
set -e
check_eq "SIGTERM stops the daemon cleanly" 0 "$code"
set +e
out=$("$CAIRN_POLL_TRIGGER" "$work/no-such.socket" 2>&1); code=$?
set -e
check_eq "no daemon behind the socket: exit 2" 2 "$code"
check_contains "… saying what it could not reach" "$out" "cannot reach the cairn-update daemon"
finish
