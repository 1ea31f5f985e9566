# Simulated fleet hosts for the fleet integration scripts: each a copy of the minimal 1.0.0 disk
# image with its own machine-id, state directory and update.toml, and a channel repository
# served over HTTP on loopback. Source after lib.sh and etcd.sh (start_etcd first), then:
#
#   serve_repo DIR [--redirect-scheme]     # sets $port; the server's pid joins ${servers[@]}
#   new_fleet_host I FLEET GROUP REBOOT [EXTRA_FLEET_TOML]   # sets ids[I], booted[I]=A
#
# The caller kills "${servers[@]}" in its cleanup.
servers=()
ids=() booted=()

serve_repo() {
  rm -f "$work/port"
  python3 "$CAIRN_SOURCE/tests/integration/channel_server.py" "$1" "$work/port" "${@:2}" \
    >>"$work/channel-server.log" 2>&1 &
  servers+=($!)
  for _ in $(seq 100); do [[ -s "$work/port" ]] && break; sleep 0.05; done
  port=$(cat "$work/port")
}

# The host's directory is $work/hI: disk.img, state/, root/etc/cairn/update.toml, checks/.
# Its channel is $channel_url and its store $ETCD_ENDPOINT, read when it is called.
new_fleet_host() {
  local i=$1 fleet=$2 group=$3 reboot=$4 extra=${5:-}
  local h="$work/h$i"
  ids[i]=$(printf 'fleet-host-%02d' "$i" | sha256sum | cut -c1-32)
  booted[i]=A
  mkdir -p "$h/state" "$h/root/etc/cairn" "$h/checks/required.d"
  cp --sparse=always "$minimal_dir/disk.img" "$h/disk.img"
  cat > "$h/root/etc/cairn/update.toml" <<TOML
[health]
window = "1s"
interval = "1s"
libvirtd = false
autostart_domains = false
checks_dir = "$h/checks"
[fleet]
channel = "$channel_url"
store = "$ETCD_ENDPOINT"
name = "$fleet"
group = "$group"
reboot = "$reboot"
$extra
TOML
}
