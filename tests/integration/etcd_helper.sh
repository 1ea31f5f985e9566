#!/usr/bin/env bash
# tests/integration/etcd.sh itself: start_etcd serves a usable etcd at $ETCD_ENDPOINT, stop_etcd
# ends it (twice is fine), and a second etcd next to a first gets ports of its own.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/etcd.sh"
fresh_work_dir etcd_helper
trap 'stop_etcd "$work/one"; stop_etcd "$work/two"' EXIT

start_etcd "$work/one"
first=$ETCD_ENDPOINT
check_contains "ETCD_ENDPOINT is a loopback URL" "$first" "http://127.0.0.1:"
key=$(printf 'cairn' | base64)
curl -fsS -X POST "$first/v3/kv/put" -d "{\"key\":\"$key\",\"value\":\"$key\"}" >/dev/null
check_contains "a key written is read back" \
  "$(curl -fsS -X POST "$first/v3/kv/range" -d "{\"key\":\"$key\"}")" "\"value\":\"$key\""

start_etcd "$work/two"
check "a second etcd listens elsewhere" test "$ETCD_ENDPOINT" != "$first"

pid=$(<"$work/one/etcd.pid")
stop_etcd "$work/one"
check "stop_etcd ends etcd" test ! -e "/proc/$pid"
check "stop_etcd twice is fine" stop_etcd "$work/one"
check "the stopped etcd no longer answers" \
  bash -c "! curl -fsS --max-time 1 '$first/health' >/dev/null 2>&1"
stop_etcd "$work/two"
finish
