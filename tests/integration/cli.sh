#!/usr/bin/env bash
# The command-line contract of the five programs (README "Exit codes"): usage errors exit 2 and
# say what was wrong, an unknown command is named, --help and --version exit 0; a path that is
# not a disk gets one clear error and exit 1, never libfdisk's abort (134).
source "$(dirname "$0")/lib.sh"
: "${CAIRN_UPDATE:?}" "${CAIRN_ATTEST:?}" "${CAIRN_VERIFIER:?}" "${CAIRN_FLEET:?}"
fresh_work_dir cli
version=$(sed -n 's/^project(cairn VERSION \([0-9.]*\).*/\1/p' "$CAIRN_SOURCE/CMakeLists.txt")

# run PROGRAM ARGS…: sets $code, $out (stdout) and $err (stderr); runs in $work.
run() {
  code=0
  out=$(cd "$work" && "$@" 2>"$work/stderr") || code=$?
  err=$(<"$work/stderr")
}
# usage NAME NEEDLE PROGRAM ARGS…: a usage error, exit 2, one line naming the problem.
usage() {
  local name=$1 needle=$2
  shift 2
  run "$@"
  check_eq "$name: exit 2" 2 "$code"
  check_contains "$name: names the problem" "$err" "$needle"
  check_eq "$name: one usage error line" 1 "$(grep -c ': usage error: ' <<<"$err")"
}
# fails NAME CODE NEEDLE PROGRAM ARGS…: an error that is not a usage error.
fails() {
  local name=$1 expected=$2 needle=$3
  shift 3
  run "$@"
  check_eq "$name: exit $expected" "$expected" "$code"
  check_contains "$name: names the problem" "$err" "$needle"
  check_eq "$name: one error line" 1 "$(grep -c ': error: ' <<<"$err")"
}

declare -A programs=([cairn-build]=$CAIRN_BUILD [cairn-update]=$CAIRN_UPDATE
  [cairn-attest]=$CAIRN_ATTEST [cairn-verifier]=$CAIRN_VERIFIER [cairn-fleet]=$CAIRN_FLEET)
declare -A a_command=([cairn-build]=keys [cairn-update]=status [cairn-attest]=show
  [cairn-verifier]=versions [cairn-fleet]=status)
for name in "${!programs[@]}"; do
  program=${programs[$name]}
  run "$program" --version
  check_eq "$name --version: exit 0" 0 "$code"
  check_eq "$name --version: prints the project version" "$name $version" "$out"
  run "$program" --help
  check_eq "$name --help: exit 0" 0 "$code"
  check_contains "$name --help: lists its commands" "$out" "${a_command[$name]}"
  usage "$name unknown command" "unknown command 'frobnicate'" "$program" frobnicate
  usage "$name no command" "A subcommand is required" "$program"
  usage "$name unknown option" "--no-such-option" "$program" --no-such-option "${a_command[$name]}"
  usage "$name unknown option after the command" "--no-such-option" \
    "$program" "${a_command[$name]}" --no-such-option
done

# Missing arguments, and values of the wrong kind.
usage "build without a recipe" "recipe is required" "$CAIRN_BUILD" build
usage "bundle without a build" "build is required" "$CAIRN_BUILD" bundle
usage "bundle of a missing directory" "Directory does not exist" "$CAIRN_BUILD" bundle "$work/nope"
usage "build --stop-after an unknown stage" "nope not in" \
  "$CAIRN_BUILD" build x.toml --stop-after nope
usage "build --source-date-epoch not a number" "--source-date-epoch" \
  "$CAIRN_BUILD" build x.toml --source-date-epoch yesterday
usage "--keys without its value" "--keys" "$CAIRN_BUILD" bundle "$work" --keys
usage "install without a source" "source is required" "$CAIRN_UPDATE" install
usage "--disk without its value" "--disk" "$CAIRN_UPDATE" status --disk
usage "attest --save-submission without its value" "--save-submission" \
  "$CAIRN_ATTEST" attest --save-submission
usage "verifier check without a submission" "submission is required" "$CAIRN_VERIFIER" check
usage "verifier serve --nonce-lifetime not a number" "--nonce-lifetime" \
  "$CAIRN_VERIFIER" serve --nonce-lifetime soon

usage "publish without --repo" "--repo is required" "$CAIRN_BUILD" publish "$work" --channel x
usage "fleet without a store" "--store is required" env -u CAIRN_FLEET_STORE "$CAIRN_FLEET" status
usage "fleet report without a version" "version is required" \
  "$CAIRN_FLEET" --store http://127.0.0.1:1 report
usage "fleet promote without --to" "--to is required" "$CAIRN_FLEET" --store http://127.0.0.1:1 \
  promote 1.0.1 --from staging --repo "$work" --keys "$work"
usage "poll --config-root without its value" "--config-root" "$CAIRN_UPDATE" poll --config-root
# An unreachable fleet store: one clear error naming it, exit 3 (the environment).
fails "fleet status, store unreachable" 3 "127.0.0.1:1" \
  "$CAIRN_FLEET" --store http://127.0.0.1:1 status
fails "fleet store that is not a URL" 1 "must start with http://" "$CAIRN_FLEET" --store 127.0.0.1:2379 status
fails "resume of a version that is not stopped" 3 "127.0.0.1:1" \
  "$CAIRN_FLEET" --store http://127.0.0.1:1 resume 9.9.9

# Paths that are not disks: named, exit 1, never an abort inside libfdisk.
fails "update --disk of a missing file" 1 "/nonexistent.img does not exist" \
  "$CAIRN_UPDATE" --disk /nonexistent.img status
fails "update --disk of a 9-byte file" 1 "too small to be a disk with a GPT" \
  "$CAIRN_UPDATE" --disk /etc/hostname status
fails "inspect of a small file" 1 "/etc/hostname is" "$CAIRN_BUILD" inspect /etc/hostname
fails "inspect of a missing image" 1 "/nonexistent.img does not exist" \
  "$CAIRN_BUILD" inspect /nonexistent.img
fails "inspect of a missing relative image" 1 "missing.img does not exist" \
  "$CAIRN_BUILD" inspect missing.img
fails "inspect of a directory without disk.img" 1 "$work/disk.img does not exist" \
  "$CAIRN_BUILD" inspect "$work"
truncate -s 4M "$work/zeros.img"
fails "inspect of a file without a GPT" 1 "has no GPT partition table" \
  "$CAIRN_BUILD" inspect "$work/zeros.img"
fails "inspect of a device that is not a disk image" 1 "neither a disk image file nor a block" \
  "$CAIRN_BUILD" inspect /dev/null
finish
