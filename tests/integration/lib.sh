# Shared helpers for the integration test scripts: assertions that print what differed.
set -euo pipefail

: "${CAIRN_BUILD:?CAIRN_BUILD must point at the cairn-build binary}"
: "${CAIRN_SOURCE:?CAIRN_SOURCE must point at the source tree}"
: "${CAIRN_ITEST:?CAIRN_ITEST must point at the integration work directory}"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}

failures=0
pass() { echo "ok   - $*"; }
failed() { echo "FAIL - $*"; failures=$((failures + 1)); }
check() {  # check "description" command…
  local what=$1; shift
  if "$@"; then pass "$what"; else failed "$what"; fi
}
check_eq() {  # check_eq "description" expected actual
  if [[ "$2" == "$3" ]]; then pass "$1"; else failed "$1: expected '$2', got '$3'"; fi
}
check_contains() {  # check_contains "description" haystack needle
  if [[ "$2" == *"$3"* ]]; then pass "$1"; else failed "$1: '$3' not in: $2"; fi
}
# fresh_work_dir NAME: an empty $CAIRN_ITEST/NAME as $work. Such directories hold disk images,
# trees and bundles (GBs, and CI disks are small), so finish removes them, never crossing into
# a file system still mounted there; CAIRN_ITEST_KEEP=1 keeps them for a look after a run.
work_dirs=()
fresh_work_dir() {
  work="$CAIRN_ITEST/$1"
  rm -rf --one-file-system "$work"
  mkdir -p "$work"
  work_dirs+=("$work")
}
finish() {
  if [[ ${CAIRN_ITEST_KEEP:-} != 1 ]]; then
    for dir in "${work_dirs[@]}"; do rm -rf --one-file-system "$dir" || true; done
  fi
  if ((failures > 0)); then echo "$failures check(s) failed"; exit 1; fi
  echo "all checks passed"
}

# The keys every build uses (made once per integration run).
keys_dir="$CAIRN_ITEST/keys"
ensure_keys() {
  [[ -f "$keys_dir/signing.key" ]] || "$CAIRN_BUILD" keys --dir "$keys_dir" >/dev/null
}

# The minimal image built by the build_minimal fixture.
minimal_out="$CAIRN_ITEST/out"
minimal_dir="$minimal_out/minimal/1.0.0"
