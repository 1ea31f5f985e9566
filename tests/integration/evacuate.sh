#!/usr/bin/env bash
# cairn-evacuate against a real libvirt: its test driver (test:///default, one running domain
# "test", in the process's memory). The policy's outcomes as the reboot gate reads them: shut
# down by policy (exit 0, JSON summary), a domain that cannot move (exit 3, the peer's reason),
# an unreachable libvirt, usage errors. Live migration itself needs two libvirt hosts: QEMU test
# tests/qemu/evacuation_test.cpp.
source "$(dirname "$0")/lib.sh"
: "${CAIRN_EVACUATE:?}"
fresh_work_dir evacuate
evacuate() { "$CAIRN_EVACUATE" --uri test:///default "$@"; }

out=$(evacuate --json --shutdown '*')
check_eq "shutdown by policy: ok" true "$(jq .ok <<<"$out")"
check_eq "shutdown by policy: the domain named" test "$(jq -r '.shut_down | join(",")' <<<"$out")"
check_eq "shutdown by policy: the summary" "shut down test" "$(jq -r .summary <<<"$out")"
check_eq "a named domain policy" "shut down test" "$(evacuate --shutdown test)"

set +e
out=$(evacuate --json 2>"$work/err"); code=$?
set -e
check_eq "no peer: exit 3 (busy)" 3 "$code"
check_contains "no peer: the reason" "$(jq -r .error.message <<<"$out")" \
  "domain test could not be moved: no migration_peers configured"
check_eq "no peer: one line on stderr" 1 "$(wc -l < "$work/err")"

set +e
out=$(evacuate --json --peer qemu+ssh://cairn@127.0.0.1:1/system --peer test:///other 2>/dev/null)
code=$?
set -e
check_eq "peers that cannot take it: exit 3" 3 "$code"
check_contains "each peer's reason, in order" "$(jq -r .error.message <<<"$out")" \
  "qemu+ssh://cairn@127.0.0.1:1/system: live migration of test to qemu+ssh://cairn@127.0.0.1:1/system failed"
check_contains "the second peer tried too" "$(jq -r .error.message <<<"$out")" "; test:///other:"

set +e
out=$("$CAIRN_EVACUATE" --uri "qemu+tcp://127.0.0.1:1/system" --peer test:///x 2>&1); code=$?
set -e
check "an unreachable libvirt: an error" test "$code" -ne 0
check_contains "an unreachable libvirt: says which" "$out" "connecting to qemu+tcp://127.0.0.1:1/system"

set +e
out=$(evacuate --timeout soon 2>&1); code=$?
set -e
check_eq "a bad --timeout: usage error, exit 2" 2 "$code"
check_contains "a bad --timeout: named" "$out" "--timeout 'soon'"
check_contains "--help" "$("$CAIRN_EVACUATE" --help)" "--peer"
finish
