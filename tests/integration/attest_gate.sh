#!/usr/bin/env bash
# The admission gate's scripts as the image ships them (attest/dist/): the libvirt hook, the
# health window's attestation check and the token refresh, driven by a stand-in cairn-attest
# that answers as the real one does for each verdict (exit 0 admitted, 3 unreachable, 6 denied
# or not enrolled). The real cairn-attest against a real verifier is attest.sh's job; this pins
# what each answer means for a domain start and for an update's health window.
set -euo pipefail
dist="$CAIRN_SOURCE/attest/dist"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
pass() { echo "ok   - $*"; }
failed() { echo "FAIL - $*"; failures=$((failures + 1)); }
expect() {  # expect "description" expected-exit command…
  local what=$1 want=$2; shift 2
  local got=0
  "$@" >"$work/out" 2>&1 </dev/null || got=$?
  if [[ $got == "$want" ]]; then pass "$what"; else failed "$what: exit $got, wanted $want: $(cat "$work/out")"; fi
}

# The stand-in: `cairn-attest <command>` exits with $work/answer-<command> (default 0) and logs.
# A refusal says $work/said-<command>-<n> for the command's n-th call when that file exists, else
# the usual denial; with $work/slow, each call takes a second and is traced (begin/end).
mkdir -p "$work/bin" "$work/etc/cairn" "$work/run/cairn" "$work/libexec"
cat >"$work/bin/cairn-attest" <<STUB
#!/bin/sh
echo "\$1" >>"$work/calls"
n=\$(grep -c "^\$1\$" "$work/calls")
if [ -e "$work/slow" ]; then echo "begin \$1" >>"$work/trace"; sleep 1; echo "end \$1" >>"$work/trace"; fi
code=\$(cat "$work/answer-\$1" 2>/dev/null || echo 0)
if [ "\$code" != 0 ]; then
  if [ -e "$work/said-\$1-\$n" ]; then cat "$work/said-\$1-\$n" >&2
  else echo "cairn-attest: denied: image-known: no loaded image version has the UKI" >&2; fi
fi
exit "\$code"
STUB
chmod +x "$work/bin/cairn-attest"
install -m 0755 "$dist/attest-refresh" "$work/libexec/attest-refresh"
export PATH="$work/bin:$PATH" CAIRN_ETC="$work/etc" CAIRN_RUN="$work/run" CAIRN_LIBEXEC="$work/libexec"
answer() { echo "$2" >"$work/answer-$1"; }
# libvirt hands the domain XML on stdin and ignores a hook that exits without reading it; a
# here-string, not a pipe, so an early exit cannot kill the writer with SIGPIPE (exit 141).
hook() { "$dist/libvirt-hook" tenant "$@" - <<<'<domain><name>tenant</name></domain>'; }

# No verifier configured: nothing is gated, cairn-attest is never asked.
answer check-token 6
expect "hook: no verifier configured, the domain starts" 0 hook prepare begin
expect "health: no verifier configured, the check passes" 0 "$dist/health-check"
[[ ! -e "$work/calls" ]] && pass "unconfigured: cairn-attest not run" || failed "unconfigured: cairn-attest ran"

touch "$work/run/cairn/attest.toml"  # configured at run time
answer check-token 0
expect "hook: valid token, the domain starts" 0 hook prepare begin
answer check-token 6
expect "hook: no valid token, the domain is refused" 1 hook prepare begin
grep -q "domain tenant refused: this host is not attested" "$work/out" &&
  pass "hook: the refusal names the domain and why" || failed "hook message: $(cat "$work/out")"
expect "hook: other operations are not gated" 0 hook release end

rm "$work/run/cairn/attest.toml"; touch "$work/etc/cairn/attest.toml"  # configured in the image
: >"$work/calls"
answer attest 0
expect "health: admitted, the check passes" 0 "$dist/health-check"
answer attest 3
expect "health: verifier unreachable, a warning only" 0 "$dist/health-check"
grep -q "attestation not checked" "$work/out" && pass "health: the warning says so" ||
  failed "health warning: $(cat "$work/out")"
answer attest 6; answer enroll 0
: >"$work/calls"
expect "health: denied after enrolling, the update is rolled back" 1 "$dist/health-check"
[[ "$(tr '\n' ' ' <"$work/calls")" == "attest enroll attest " ]] &&
  pass "refresh: not admitted → enroll once, attest again" || failed "calls: $(cat "$work/calls")"
answer enroll 6
expect "refresh: enrollment refused, denied" 6 "$work/libexec/attest-refresh"
answer attest 3
expect "refresh: unreachable is not an enrollment reason" 3 "$work/libexec/attest-refresh"


# The update's reason is the check's last line: the final attempt's first check that failed
# outright, not the attempt before enrolling, nor the checks that could not run because of it.
: >"$work/calls"
answer attest 6; answer enroll 0
printf 'cairn-attest: denied: host-known: no host named kvm-07\n' >"$work/said-attest-1"
printf '%s\n' "cairn-attest: denied: pcr4-boot-chain: not checked: no image version" \
  "cairn-attest: denied: image-known: no loaded image version has the UKI" \
  "cairn-attest: denied: secure-boot: SecureBoot = 00" >"$work/said-attest-2"
expect "health: denied, the reason is one line" 1 "$dist/health-check"
last=$(tail -n 1 "$work/out")
[[ $last == "attestation denied: image-known: no loaded image version has the UKI" ]] &&
  pass "health: the reason is the first check that failed outright" || failed "last line: $last"
grep -q "before enrolling: cairn-attest: denied: host-known" "$work/out" &&
  pass "health: the denial before enrolling is kept, marked" || failed "output: $(cat "$work/out")"
rm -f "$work"/said-attest-*
answer attest 3
: >"$work/calls"
expect "health: unreachable, a one-line warning" 0 "$dist/health-check"
[[ $(tail -n 1 "$work/out") == "attestation not checked, verifier or TPM unreachable: cairn-attest: denied: image-known: no loaded image version has the UKI" ]] &&
  pass "health: the warning is the last line" || failed "warning: $(tail -n 1 "$work/out")"

# Configured by the machine's system credential (SMBIOS type 11 or the ESP): gated and checked.
rm "$work/etc/cairn/attest.toml"
mkdir -p "$work/run/credentials/@system"
: >"$work/calls"
answer check-token 0; answer attest 0
expect "hook: no verifier configured anywhere, the domain starts" 0 hook prepare begin
[[ ! -s "$work/calls" ]] && pass "unconfigured: cairn-attest not run" || failed "calls: $(cat "$work/calls")"
touch "$work/run/credentials/@system/cairn.attest"
answer check-token 6
expect "hook: configured by credential, no valid token, refused" 1 hook prepare begin
answer attest 6; answer enroll 6
expect "health: configured by credential, denied" 1 "$dist/health-check"

# Two refreshes at once (the timer's and the health window's) run one after the other.
answer attest 0
: >"$work/calls"; : >"$work/trace"; touch "$work/slow"
"$work/libexec/attest-refresh" >/dev/null 2>&1 &
"$work/libexec/attest-refresh" >/dev/null 2>&1 &
wait
rm "$work/slow"
[[ "$(tr '\n' ' ' <"$work/trace")" == "begin attest end attest begin attest end attest " ]] &&
  pass "refresh: concurrent runs are serialized" || failed "trace: $(tr '\n' ' ' <"$work/trace")"

if ((failures > 0)); then echo "$failures check(s) failed"; exit 1; fi
echo "all checks passed"
