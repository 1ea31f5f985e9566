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
mkdir -p "$work/bin" "$work/etc/cairn" "$work/run/cairn" "$work/libexec"
cat >"$work/bin/cairn-attest" <<STUB
#!/bin/sh
echo "\$1" >>"$work/calls"
code=\$(cat "$work/answer-\$1" 2>/dev/null || echo 0)
[ "\$code" = 0 ] || echo "denied: image-known: no loaded image version has the UKI" >&2
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

if ((failures > 0)); then echo "$failures check(s) failed"; exit 1; fi
echo "all checks passed"
