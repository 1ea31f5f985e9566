#!/usr/bin/env bash
# cairn-update install on disk-image files: the minimal 1.0.1 bundle into a copy of the 1.0.0
# disk (booted from slot A) lands in slot B — data, verity, GPT names and UUIDs, boot entry,
# state — and bad installs are refused leaving slot A and its entry untouched.
source "$(dirname "$0")/lib.sh"
: "${CAIRN_UPDATE:?}"
fresh_work_dir install
v1="$minimal_dir" v2="$minimal_out/minimal/1.0.1"
"$CAIRN_BUILD" bundle "$v2" --keys "$keys_dir" --output "$work/v2.cairnb" 2>/dev/null
"$CAIRN_BUILD" bundle "$v1" --keys "$keys_dir" --output "$work/v1.cairnb" 2>/dev/null

esp_list() { MTOOLS_SKIP_CHECK=1 mdir -b -i "$1@@1M" ::/EFI/Linux | sed 's|.*/||' | sort | tr '\n' ' '; }
entry_a_sum() { MTOOLS_SKIP_CHECK=1 mtype -i "$1@@1M" ::/EFI/Linux/cairn_1.0.0+3-0.efi | sha256sum; }
update() {  # update DISK STATE ARGS…
  local disk=$1 state=$2; shift 2
  "$CAIRN_UPDATE" --disk "$disk" --booted A --trust "$keys_dir/trust" --state "$state" \
    --machine-class x86_64-minimal "$@"
}
part() { sfdisk --json "$1" | jq -r ".partitiontable.partitions[$2].$3"; }

disk="$work/disk.img"
cp --sparse=always "$v1/disk.img" "$disk"
a_before=$(entry_a_sum "$disk")
update "$disk" "$work/state" install "$work/v2.cairnb" --json > "$work/result.json"
check_eq "installed into slot B" "B 1.0.1 cairn_1.0.1+3-0.efi" \
  "$(jq -r '[.slot, .version, .entry] | join(" ")' "$work/result.json")"
check_eq "slot B named for 1.0.1" "cairn_1.0.1 cairn_1.0.1_verity" "$(part "$disk" 3 name) $(part "$disk" 4 name)"
root_hash=$(jq -r .root_hash "$v2/build.json")
uuid=$(part "$disk" 3 uuid | tr A-Z a-z | tr -d -)
check_eq "slot B root PARTUUID = first half of the root hash" "${root_hash:0:32}" "$uuid"
start_root=$(part "$disk" 3 start) start_verity=$(part "$disk" 4 start)
check "slot B holds the 1.0.1 erofs image" \
  cmp -n "$(stat -c %s "$v2/root.erofs")" -i "$((start_root * 512)):0" "$disk" "$v2/root.erofs"
data=$(losetup -f --show -r -o $((start_root * 512)) --sizelimit $(($(part "$disk" 3 size) * 512)) "$disk")
hash=$(losetup -f --show -r -o $((start_verity * 512)) --sizelimit $(($(part "$disk" 4 size) * 512)) "$disk")
check "veritysetup verifies slot B against the 1.0.1 root hash" veritysetup verify "$data" "$hash" "$root_hash"
losetup -d "$data" "$hash"
check_eq "ESP: both entries, the new one with three tries" "cairn_1.0.0+3-0.efi cairn_1.0.1+3-0.efi " "$(esp_list "$disk")"
check_eq "slot A's entry untouched" "$a_before" "$(entry_a_sum "$disk")"
check_eq "state: 1.0.1 pending in B" "B 1.0.1" "$(jq -r '[.pending.slot, .pending.version] | join(" ")' "$work/state/state.json")"
check_contains "status shows both slots" "$(update "$disk" "$work/state" status)" "slot B: 1.0.1"

# Rollback: not to a slot that never booted; once 1.0.1 runs from B, back to 1.0.0 in A by
# renaming entries only (A gets fresh tries, B's entry is spent and sorts last).
set +e; out=$(update "$disk" "$work/state" rollback 2>&1); code=$?; set -e
check_eq "rollback to a never-booted slot: exit 1" 1 "$code"
check_contains "rollback to a never-booted slot: says why" "$out" "never booted"
"$CAIRN_UPDATE" --disk "$disk" --booted B --trust "$keys_dir/trust" --state "$work/state" \
  --machine-class x86_64-minimal mark-good
"$CAIRN_UPDATE" --disk "$disk" --booted B --trust "$keys_dir/trust" --state "$work/state" \
  --machine-class x86_64-minimal --json rollback > "$work/rollback.json"
check_eq "rollback names slot A's version" "A 1.0.0" "$(jq -r '[.slot, .version] | join(" ")' "$work/rollback.json")"
check_eq "rollback: A has fresh tries, B's entry is spent" \
  "cairn_1.0.0+3-0.efi cairn_1.0.1+0-0.efi " "$(esp_list "$disk")"
check_eq "rollback: slot A's UKI unchanged" "$a_before" "$(entry_a_sum "$disk")"
check_eq "rollback keeps the security floor" 1 "$(jq -r .security_floor "$work/state/state.json")"

# From a URL: streamed over http by libcurl, and over https with a private CA.
serve() {  # serve PORT [tls CERT KEY | longer]: the work directory over http(s), until killed
  # longer: each file's Content-Length is declared 1 MiB longer than the file, and the
  # connection held open after the file, as a lying or stalled server would.
  python3 - "$work" "$@" <<'PY' &
import functools, http.server, ssl, sys, time
root, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else ""
class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass
    if mode == "longer":
        protocol_version = "HTTP/1.1"
        def send_header(self, key, value):
            if key == "Content-Length": value = str(int(value) + (1 << 20))
            super().send_header(key, value)
        def do_GET(self):
            super().do_GET()
            self.wfile.flush()
            time.sleep(3600)
server = http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                         functools.partial(Handler, directory=root))
server.daemon_threads = True
if mode == "tls":
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[4], sys.argv[5])
    server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
PY
  servers+=($!)
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done
}
servers=()
trap 'kill "${servers[@]}" 2>/dev/null || true' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
http_port=$((20000 + RANDOM % 20000)) https_port=$((http_port + 1)) longer_port=$((http_port + 2))
serve "$http_port"
serve "$https_port" tls "$work/tls.crt" "$work/tls.key"
serve "$longer_port" longer
for scheme in http https; do
  port=$http_port; [[ $scheme == https ]] && port=$https_port
  url_disk="$work/url-$scheme.img"
  cp --sparse=always "$v1/disk.img" "$url_disk"
  check "install from an $scheme URL" update "$url_disk" "$work/url-$scheme-state" install \
    --ca-file "$work/tls.crt" "$scheme://127.0.0.1:$port/v2.cairnb"
  check_eq "$scheme URL: slot B named for 1.0.1" "cairn_1.0.1" "$(part "$url_disk" 3 name)"
  check "$scheme URL: slot B holds the 1.0.1 erofs image" cmp -n "$(stat -c %s "$v2/root.erofs")" \
    -i "$(($(part "$url_disk" 3 start) * 512)):0" "$url_disk" "$v2/root.erofs"
  rm -f "$url_disk"
done

# Refusals: each leaves slot A and its entry as they were and slot B without an entry.
refused() {  # refused "what" EXPECTED_EXIT MESSAGE ARGS…
  local what=$1 want=$2 message=$3; shift 3
  local fresh="$work/refused.img" state="$work/refused-state"
  cp --sparse=always "$v1/disk.img" "$fresh"
  [[ -n "${PREPARE:-}" ]] && "$PREPARE" "$fresh"
  mkdir -p "$state"
  [[ -n "${FLOOR:-}" ]] && echo "{\"security_floor\": $FLOOR}" > "$state/state.json"
  set +e
  local started=$SECONDS
  out=$("$@" 2>&1); code=$?
  refused_seconds=$((SECONDS - started))
  set -e
  check_eq "$what: exit $want" "$want" "$code"
  check_contains "$what: says why" "$out" "$message"
  check_eq "$what: slot A's entry untouched" "$a_before" "$(entry_a_sum "$fresh")"
  check_eq "$what: no entry for slot B" "cairn_1.0.0+3-0.efi " "$(esp_list "$fresh")"
  check_eq "$what: slot A still named" "cairn_1.0.0" "$(part "$fresh" 1 name)"
  check_eq "$what: slot B named empty" "cairn_empty" "$(part "$fresh" 3 name)"
  local index
  for index in 1 2; do  # slot A's root and verity partitions, byte for byte
    check "$what: slot A partition $index unchanged" cmp -s \
      -n $(($(part "$fresh" $index size) * 512)) \
      -i $(($(part "$fresh" $index start) * 512)):$(($(part "$v1/disk.img" $index start) * 512)) \
      "$fresh" "$v1/disk.img"
  done
  check_eq "$what: one error line" 1 "$(grep -c 'error:' <<<"$out")"
  rm -rf "$state"
}
r=$work/refused.img s=$work/refused-state
refused "the running version" 1 "already running" update "$r" "$s" install "$work/v1.cairnb"
refused "another machine class" 1 "machine class" \
  "$CAIRN_UPDATE" --disk "$r" --booted A --trust "$keys_dir/trust" --state "$s" \
  --machine-class x86_64-kvm-host install "$work/v2.cairnb"
FLOOR=5 refused "a security downgrade" 1 "below this host's floor" update "$r" "$s" install "$work/v2.cairnb"
head -c 100000000 "$work/v2.cairnb" > "$work/truncated.cairnb"
refused "a truncated bundle" 1 "truncated" update "$r" "$s" install "$work/truncated.cairnb"
"$CAIRN_BUILD" keys --dir "$work/other-keys" >/dev/null 2>&1
refused "a signer outside the trust anchors" 5 "manifest signature" \
  "$CAIRN_UPDATE" --disk "$r" --booted A --trust "$work/other-keys/trust" --state "$s" \
  --machine-class x86_64-minimal install "$work/v2.cairnb"
mkdir -p "$s"
exec 9>"$s/install.lock"
flock 9
refused "a second concurrent install" 3 "another update operation is running" update "$r" "$s" install "$work/v2.cairnb"
exec 9>&-
refused "a bundle URL that does not exist" 1 "returned error: 404" \
  update "$r" "$s" install "http://127.0.0.1:$http_port/missing.cairnb"
refused "an https server the host does not trust" 5 "SSL certificate problem" \
  update "$r" "$s" install "https://127.0.0.1:$https_port/v2.cairnb"
closed_port=1  # tcpmux: nothing listens there
refused "an unreachable update server" 3 "Failed to connect" \
  update "$r" "$s" install "http://127.0.0.1:$closed_port/v2.cairnb"
# Data after the bundle's end is no part of what was signed: refused before the slot is made
# bootable, from a file, stdin or a URL. A server that declares more than the bundle and holds
# the connection is refused at once (it held installs for 67 s, until curl's stall timeout).
v2_size=$(stat -c %s "$work/v2.cairnb")
{ cat "$work/v2.cairnb"; echo garbage; } > "$work/trailing.cairnb"
trailing="data after the bundle's end: 8 bytes from byte $v2_size on"
refused "a bundle file with data after its end" 1 "$trailing" \
  update "$r" "$s" install "$work/trailing.cairnb"
check_eq "a bundle file with data after its end: slot B not named for a version" "cairn_empty" \
  "$(part "$r" 3 name)"
piped() { local file=$1; shift; cat "$file" | "$@"; }  # piped FILE COMMAND…: FILE on a pipe
# (A pipe is read no further than the padding could run: the count may be a lower bound.)
refused "a bundle on stdin with data after its end" 1 "stdin: data after the bundle's end" \
  piped "$work/trailing.cairnb" update "$r" "$s" install -
refused "a bundle URL with data after its end" 1 "data after the bundle's end" \
  update "$r" "$s" install "http://127.0.0.1:$http_port/trailing.cairnb"
refused "a server declaring a longer Content-Length" 1 \
  "data after the bundle's end: the server declared Content-Length $((v2_size + (1 << 20))) but the bundle ends at byte $v2_size" \
  update "$r" "$s" install "http://127.0.0.1:$longer_port/v2.cairnb"
check "a server declaring a longer Content-Length: refused within 10 s (took $refused_seconds s)" \
  test "$refused_seconds" -lt 10
check_eq "a server declaring a longer Content-Length: slot B not named for a version" \
  "cairn_empty" "$(part "$r" 3 name)"
rm -f "$work/trailing.cairnb"

# Bundles signed with the project's own key that lie: what a mistaken CI job or a compromised
# build could publish. forge NAME JQ_FILTER: v2's bundle, its manifest edited and signed again.
forge() {
  local dir="$work/forge-$1"
  rm -rf "$dir" && mkdir -p "$dir"
  tar -xf "$work/v2.cairnb" -C "$dir"
  jq "$2" "$dir/manifest.json" > "$dir/edited.json"
  mv "$dir/edited.json" "$dir/manifest.json"
  openssl cms -sign -binary -noattr -nosmimecap -outform DER -in "$dir/manifest.json" \
    -signer "$keys_dir/signing.crt" -inkey "$keys_dir/signing.key" -out "$dir/manifest.sig"
  tar -cf "$work/$1.cairnb" -C "$dir" manifest.json manifest.sig \
    $(jq -r '.payloads[].name' "$dir/manifest.json")
}
forge counted '.version = "1.0.0+3-0"'
refused "a version spelt like the running entry's name" 1 "version '1.0.0+3-0' contains '+'" \
  update "$r" "$s" install "$work/counted.cairnb"
forge long ".version = \"1.0.1-$(printf '%018d' 1)\""
refused "a version too long for a GPT name" 1 "at most 23" update "$r" "$s" install "$work/long.cairnb"
forge capitals '.version = "1.0.0-RC1"'
refused "a version FAT would fold onto another" 1 "folds case" \
  update "$r" "$s" install "$work/capitals.cairnb"
forge downgrade '.security_version = 0'
refused "a downgrade below the running image, no state.json" 1 \
  "below this host's floor 1 (the running image's security version)" \
  update "$r" "$s" install "$work/downgrade.cairnb"
forge huge-uki '(.payloads[] | select(.target == "uki") | .size) = 1073741824'
refused "a UKI declared at 1 GiB" 1 "declares 1073741824 bytes" \
  update "$r" "$s" install "$work/huge-uki.cairnb"
fill_esp() {  # leaves 8 MiB free on the ESP of disk image $1: less than any UKI
  local free
  free=$(MTOOLS_SKIP_CHECK=1 LC_ALL=C mdir -i "$1@@1M" ::/ | sed -n 's/ bytes free//p' | tr -d ' ')
  head -c $((free - 8 * 1024 * 1024)) /dev/zero > "$work/filler"
  MTOOLS_SKIP_CHECK=1 mcopy -i "$1@@1M" "$work/filler" ::/filler
  rm -f "$work/filler"
}
PREPARE=fill_esp refused "a UKI the ESP has no room for" 3 "does not fit on the ESP" \
  update "$r" "$s" install "$work/v2.cairnb"

# What the CLI says: the booted slot, a version only while its entry exists, the phase, the last
# update's real outcome, every verb's --json, and usage errors as such.
c=$work/cli.img cs=$work/cli-state
cp --sparse=always "$v1/disk.img" "$c"
update "$c" "$cs" install "$work/v2.cairnb" >/dev/null 2>&1
status=$(update "$c" "$cs" status --json)
check_eq "status --json: booted, phase, both versions" "A installed 1.0.0 1.0.1" \
  "$(jq -r '[.booted, .phase, .slots.A.version, .slots.B.version] | join(" ")' <<<"$status")"
check_contains "status marks the booted slot" "$(update "$c" "$cs" status)" "1.0.0 (cairn_1.0.0+3-0.efi)  <- booted"
out=$(update "$c" "$cs" --json mark-bad)
check_eq "mark-bad --json: what it marked and where the host stands" "1.0.1 bad rolled-back" \
  "$(jq -r '[.marked.version, .marked.verdict, .phase] | join(" ")' <<<"$out")"
status=$(update "$c" "$cs" status --json)
check_eq "after mark-bad: slot B shows no version (its entry is gone)" "" "$(jq -r .slots.B.version <<<"$status")"
check_eq "after mark-bad: the last update's version and real outcome" "1.0.1 failed" \
  "$(jq -r '[.last_update.version, .last_update.outcome] | join(" ")' <<<"$status")"
set +e
out=$(update "$c" "$cs" --booted C status 2>&1); code=$?
set -e
check_eq "--booted C: a usage error (exit 2)" 2 "$code"
check_contains "--booted C: names the option" "$out" "--booted"
# A downgrade: 1.0.1 runs from slot B; the 1.0.0 bundle installs only when asked for.
update "$c" "$cs" install "$work/v2.cairnb" >/dev/null 2>&1
"$CAIRN_UPDATE" --disk "$c" --booted B --trust "$keys_dir/trust" --state "$cs" \
  --machine-class x86_64-minimal mark-good >/dev/null
set +e
out=$("$CAIRN_UPDATE" --disk "$c" --booted B --trust "$keys_dir/trust" --state "$cs" \
  --machine-class x86_64-minimal install "$work/v1.cairnb" 2>&1); code=$?
set -e
check_eq "an older version: refused (exit 1)" 1 "$code"
check_contains "an older version: says how to ask for it" "$out" "--allow-downgrade"
check "an older version with --allow-downgrade installs" \
  "$CAIRN_UPDATE" --disk "$c" --booted B --trust "$keys_dir/trust" --state "$cs" \
  --machine-class x86_64-minimal install "$work/v1.cairnb" --allow-downgrade
rm -f "$c"

# A full disk: the image file lives on a file system with room for what it already holds but
# not for slot B's data.
full=$work/full
mkdir -p "$full"
mount -t tmpfs -o size=4G tmpfs "$full"
trap 'umount "$full" 2>/dev/null || true; kill "${servers[@]}" 2>/dev/null || true' EXIT
r_full=$full/disk.img
cp --sparse=always "$v1/disk.img" "$r_full"
mount -o remount,size=$(( $(du -k "$r_full" | cut -f1) / 1024 + 48 ))M "$full"
set +e
out=$(update "$r_full" "$s" install "$work/v2.cairnb" 2>&1); code=$?
set -e
check_eq "a full disk: exit 3" 3 "$code"
check_contains "a full disk: says why" "$out" "No space left on device"
check_eq "a full disk: slot A's entry untouched" "$a_before" "$(entry_a_sum "$r_full")"
check_eq "a full disk: no entry for slot B" "cairn_1.0.0+3-0.efi " "$(esp_list "$r_full")"
check_eq "a full disk: slot B not named for a version" "cairn_empty" "$(part "$r_full" 3 name)"
umount "$full"
finish
