# etcd for integration scripts: Debian's etcd-server as a one-member cluster on 127.0.0.1, its
# data and log in a directory of the caller's. Source this file, then:
#
#   start_etcd "$work/etcd"               # exports ETCD_ENDPOINT=http://127.0.0.1:<port>
#   trap 'stop_etcd "$work/etcd"' EXIT
#
# stop_etcd is idempotent and safe in a trap, also when start_etcd failed half-way. etcd cannot
# listen on port 0, so free ports are picked first (and picked again if etcd loses the race).

# A loopback port nothing listens on right now.
etcd_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_etcd DIR: starts etcd with DIR/data, DIR/etcd.log and DIR/etcd.pid; returns once it
# answers /health (20 s at most), else prints its log's end and returns 1.
start_etcd() {
  local dir=$1 attempt client peer pid deadline
  mkdir -p "$dir"
  for attempt in 1 2 3; do
    client=$(etcd_free_port)
    peer=$(etcd_free_port)
    [[ $client != "$peer" ]] || continue
    rm -rf "$dir/data"
    # etcd reads ETCD_* variables as flags: an ETCD_ENDPOINT from an earlier start_etcd is none.
    env -u ETCD_ENDPOINT etcd --name cairn-test --data-dir "$dir/data" \
      --listen-client-urls "http://127.0.0.1:$client" \
      --advertise-client-urls "http://127.0.0.1:$client" \
      --listen-peer-urls "http://127.0.0.1:$peer" \
      --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
      --initial-cluster "cairn-test=http://127.0.0.1:$peer" \
      --initial-cluster-state new </dev/null >>"$dir/etcd.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/etcd.pid"
    deadline=$((SECONDS + 20))
    while ((SECONDS < deadline)) && etcd_running "$pid"; do
      if curl -fsS --max-time 1 "http://127.0.0.1:$client/health" 2>/dev/null |
        grep -q '"health":"true"'; then
        export ETCD_ENDPOINT="http://127.0.0.1:$client"
        return 0
      fi
      sleep 0.1
    done
    stop_etcd "$dir"
  done
  echo "etcd did not start; the end of $dir/etcd.log:" >&2
  tail -n 20 "$dir/etcd.log" >&2
  return 1
}

# True while PID runs (an exited child of this shell that is not reaped yet does not count).
etcd_running() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $state != Z* ]]
}

# stop_etcd DIR: SIGTERM, then SIGKILL after 5 s. Leaves DIR (and the log) to the caller.
stop_etcd() {
  local dir=$1 pid _
  [[ -f "$dir/etcd.pid" ]] || return 0
  pid=$(<"$dir/etcd.pid")
  rm -f "$dir/etcd.pid"
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in {1..50}; do
    etcd_running "$pid" || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true  # reaps it when it is this shell's child
}
