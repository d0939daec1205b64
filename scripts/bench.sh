#!/usr/bin/env bash
# Benchmarks (not tests: no thresholds, not part of scripts/test.sh). One command each:
#
#   scripts/bench.sh bundle       quick-start page size, ours vs chatkitty@1.58.2 (Vite 7)
#   scripts/bench.sh session      session start in headless Chromium, + round trips
#   scripts/bench.sh throughput   onReceivedMessage rate and main-thread cost per message
#   scripts/bench.sh latency      send → other client's callback with 2/100/1,000 clients
#   scripts/bench.sh offline      reload to first render, the cache vs the network, through a
#                                 proxy adding 40 ms each way; connections per user with
#                                 1/2/5/10 tabs, shareConnection on and off; the bundle with
#                                 each extension (Chromium and Firefox)
#   scripts/bench.sh load         idle sessions + RSS, session start-up cost, fan-out ours
#                                 vs RabbitMQ Web-STOMP vs NATS (WebSocket), server CPU per
#                                 delivery at 10k/50k/100k/200k deliveries/s into 1,000
#                                 (LOAD_PARTS=idle,startup,ours,rabbitmq,nats,cpu picks parts;
#                                 LOAD_PARTS=notify: server CPU per notification, 100 members
#                                 with no chat session open, at 50/100/200 messages/s)
#   scripts/bench.sh storm        reconnect storm: 10,000 sessions, server SIGKILLed and
#                                 restarted, SDK backoff + gap recovery (STORM_SESSIONS)
#   scripts/bench.sh memory       where an idle session's memory goes: RSS per session under
#                                 other allocators and settings, heaptrack's live heap by
#                                 structure, allocations per session start
#   scripts/bench.sh plots        SVG plots from the results
#   scripts/bench.sh all          all of the above
#
# Each installs what it needs (npm packages; rabbitmq-server and nats-server from Debian
# for `load`), builds the release server and the load generator, prints its figures and
# writes bench/results/<name>.json. Every process it starts is stopped on exit.
# CHATKITTY_SERVER_BIN / CHATKITTY_BENCH_BIN point at prebuilt binaries instead.
#
# Pinning (load, storm): PIN=1 runs the server, and each peer (RabbitMQ, NATS), on CPU
# $SERVER_CPU (0) and the load generator on CPU $LOADGEN_CPU (1), with `taskset -c`;
# results go to <name>-pinned.json. PIN=0 pins nothing (<name>.json). PIN=both (the
# default) runs unpinned, then pinned. A process pinned to one CPU sizes its thread pool
# to it: one tokio worker (server, load generator), one Erlang scheduler, GOMAXPROCS=1.
# The server's database lives on tmpfs (/dev/shm) when there is one, so a shared disk
# does not set the figures; BENCH_DB_DIR=<dir> puts it elsewhere. BENCH_POSTGRES=1 (load)
# gives each server a fresh database on the PostgreSQL server that
# scripts/with-postgres.sh starts instead, and names results <name>-postgres…json:
#   PG_FSYNC=on scripts/with-postgres.sh env BENCH_POSTGRES=1 LOAD_PARTS=startup scripts/bench.sh load
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RESULTS=$ROOT/bench/results
BROWSER=$ROOT/bench/browser
log() { printf '\n\033[1;35m[bench]\033[0m %s\n' "$*"; }

if [ -z "${BENCH_COMMIT:-}" ]; then
  dirty=""
  git diff --quiet HEAD -- server protocol src pkg-template bench 2>/dev/null || dirty="+uncommitted changes"
  BENCH_COMMIT="$(git rev-parse HEAD 2>/dev/null || echo unknown)$dirty"
fi
export BENCH_COMMIT

# Sockets are files: as many as the hard limit allows (servers and load generator).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

TMP=$(mktemp -d)
# The server's database: tmpfs when there is one (see the header).
if [ -n "${BENCH_DB_DIR:-}" ]; then
  DB_TMP=$(mktemp -d "$BENCH_DB_DIR/chatkitty-bench.XXXXXX")
elif [ -d /dev/shm ] && [ -w /dev/shm ]; then
  DB_TMP=$(mktemp -d /dev/shm/chatkitty-bench.XXXXXX)
else
  DB_TMP=$TMP
fi
# Recorded in each result: the file system the database was on, or PostgreSQL.
BENCH_DATABASE="$(stat -f -c %T "$DB_TMP" 2>/dev/null || echo unknown)"
PG_ADMIN=""
if [ "${BENCH_POSTGRES:-}" = 1 ]; then
  PG_ADMIN=${CHATKITTY_TEST_POSTGRES:?BENCH_POSTGRES=1 runs under scripts/with-postgres.sh}
  PSQL=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql | sort -V | tail -1)
  BENCH_DATABASE="postgresql, fsync $("$PSQL" "$PG_ADMIN" -tAc 'SHOW fsync')"
fi
export BENCH_DATABASE
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null || true
  done
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && wait "$p" 2>/dev/null || true
  done
  stop_rabbitmq
  stop_nats
  # A server the storm benchmark started and did not get to stop.
  for f in "$TMP"/storm-*/pid; do
    [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
  done
  rm -rf "$TMP"
  if [ "$DB_TMP" != "$TMP" ]; then rm -rf "$DB_TMP"; fi
}
trap cleanup EXIT

# --- pinning ----------------------------------------------------------------------
# SRV / GEN prefix the server (and peers) / the load generator; SUFFIX names results.
SRV=()
GEN=()
SUFFIX=""
pin_modes() {
  case "${PIN:-both}" in
    1) echo pinned ;;
    0) echo unpinned ;;
    both) echo unpinned pinned ;;
    *) echo "PIN must be 0, 1 or both" >&2; exit 2 ;;
  esac
}
set_pin() {
  if [ "$1" = pinned ]; then
    command -v taskset >/dev/null || { echo "taskset (util-linux) is needed for PIN=1" >&2; exit 1; }
    SRV=(taskset -c "${SERVER_CPU:-0}")
    GEN=(taskset -c "${LOADGEN_CPU:-1}")
    SUFFIX=${PG_ADMIN:+-postgres}-pinned
    log "pinned: server and peers on CPU ${SERVER_CPU:-0}, load generator on CPU ${LOADGEN_CPU:-1}"
  else
    SRV=()
    GEN=()
    SUFFIX=${PG_ADMIN:+-postgres}
    log "unpinned: server, peers and load generator share every CPU"
  fi
}

build_server() {
  if [ -n "${CHATKITTY_SERVER_BIN:-}" ]; then return; fi
  log "cargo build --release -p chatkitty-server"
  (unset CARGO_TARGET_DIR; cargo build --release -p chatkitty-server)
  export CHATKITTY_SERVER_BIN=$ROOT/target/release/chatkitty-server
}

build_loadgen() {
  if [ -n "${CHATKITTY_BENCH_BIN:-}" ]; then return; fi
  log "cargo build --release -p chatkitty-bench"
  CARGO_TARGET_DIR=$ROOT/target/bench cargo build --release -p chatkitty-bench
  export CHATKITTY_BENCH_BIN=$ROOT/target/bench/release/chatkitty-bench
}

browser_deps() {
  if [ -z "${SKIP_PKG:-}" ]; then
    log "building the npm package (scripts/build-pkg.sh)"
    bash scripts/build-pkg.sh
  fi
  command -v chromium >/dev/null || { log "installing chromium"; apt-get install -y -qq chromium >/dev/null; }
  log "npm install (bench/browser)"
  # chatkitty-wasm is a file: dependency: npm links pkg/, so it is always current.
  (cd "$BROWSER" && npm install --no-audit --no-fund --loglevel=error)
}

bench_page() {
  (cd "$BROWSER" && node_modules/.bin/vite build --logLevel error)
}

# --- chatkitty-server for the load benchmarks ------------------------------------
# Per-connection rate limits and connection caps out of the way (the benchmarks measure
# capacity, not the abuse protection).
export CHATKITTY_SEND_RATE=1000000 CHATKITTY_SEND_BURST=1000000 \
  CHATKITTY_RELAY_RATE=1000000 CHATKITTY_RELAY_BURST=1000000 \
  CHATKITTY_MAX_CONNECTIONS_PER_USER=1000 CHATKITTY_MAX_CONNECTIONS_PER_ADDRESS=0
# start_server NAME [PREFIX...]: PREFIX (e.g. `env MALLOC_ARENA_MAX=1`) goes before the
# server's command, after the pinning.
start_server() {
  local dir=$TMP/server-$1 db="$DB_TMP/$1/chat.db"
  mkdir -p "$dir" "$DB_TMP/$1"
  if [ -n "$PG_ADMIN" ]; then
    local name
    name="bench_$(date +%s%N)"
    "$PSQL" "$PG_ADMIN" -qc "CREATE DATABASE $name"
    db="${PG_ADMIN%/*}/$name"
  fi
  RUST_LOG=warn "${SRV[@]}" "${@:2}" "$CHATKITTY_SERVER_BIN" --port 0 --database "$db" \
    --api-key bench --presence-grace-ms 0 --files-dir "$dir/files" >"$dir/out" 2>"$dir/err" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 1 100); do
    SERVER_ADDR=$(grep -o '127.0.0.1:[0-9]*' "$dir/out" 2>/dev/null || true)
    [ -n "$SERVER_ADDR" ] && return
    sleep 0.1
  done
  echo "server did not start: $(cat "$dir/err")" >&2
  exit 1
}

stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}

# --- RabbitMQ Web-STOMP on loopback, in a throwaway directory ---------------------
RABBIT_PID=""
EPMD_WAS_RUNNING=""
start_rabbitmq() {
  if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
    log "installing rabbitmq-server (Debian)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
  fi
  pgrep -x epmd >/dev/null && EPMD_WAS_RUNNING=1
  local d=$TMP/rabbitmq
  mkdir -p "$d/home"
  cat >"$d/rabbitmq.conf" <<'EOF'
listeners.tcp.1 = 127.0.0.1:5699
stomp.listeners.tcp.1 = 127.0.0.1:61699
web_stomp.tcp.ip = 127.0.0.1
web_stomp.tcp.port = 15699
loopback_users.guest = true
log.console = false
log.file.level = warning
EOF
  echo '[rabbitmq_web_stomp].' >"$d/enabled_plugins"
  : >"$d/rabbitmq-env.conf"
  log "starting RabbitMQ (Web-STOMP on 127.0.0.1:15699)"
  "${SRV[@]}" env HOME="$d/home" RABBITMQ_NODENAME=ckbench@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
    RABBITMQ_NODE_PORT=5699 RABBITMQ_DIST_PORT=25699 ERL_EPMD_ADDRESS=127.0.0.1 \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins" \
    RABBITMQ_ADVANCED_CONFIG_FILE="$d/advanced.config" RABBITMQ_CONF_ENV_FILE="$d/rabbitmq-env.conf" \
    RABBITMQ_MNESIA_BASE="$d/mnesia" RABBITMQ_LOG_BASE="$d/log" RABBITMQ_PID_FILE="$d/pid" \
    /usr/lib/rabbitmq/bin/rabbitmq-server >"$d/out.log" 2>&1 &
  PIDS+=("$!")
  for _ in $(seq 1 120); do
    if (exec 3<>/dev/tcp/127.0.0.1/15699) 2>/dev/null && [ -s "$d/pid" ]; then
      RABBIT_PID=$(cat "$d/pid")
      return
    fi
    sleep 0.5
  done
  echo "RabbitMQ did not start: $(tail -20 "$d/out.log")" >&2
  exit 1
}

stop_rabbitmq() {
  if [ -n "$RABBIT_PID" ]; then
    kill "$RABBIT_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$RABBIT_PID" 2>/dev/null || break; sleep 0.2; done
    RABBIT_PID=""
    # The Erlang port mapper it started (none was running before).
    if [ -z "$EPMD_WAS_RUNNING" ] && command -v epmd >/dev/null; then epmd -kill >/dev/null 2>&1 || true; fi
  fi
}

# --- NATS with its WebSocket listener on loopback, in a throwaway directory ---------
NATS_PID=""
NATS_WS=127.0.0.1:18299
start_nats() {
  if ! command -v nats-server >/dev/null; then
    log "installing nats-server (Debian)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
  fi
  local d=$TMP/nats
  mkdir -p "$d"
  # Client port and WebSocket on loopback; no TLS (loopback only); no monitoring port.
  # Idle clients are pinged every 10 min instead of 2 (the reader answers anyway).
  cat >"$d/nats.conf" <<EOF
listen: 127.0.0.1:14299
ping_interval: "10m"
websocket {
  host: 127.0.0.1
  port: ${NATS_WS##*:}
  no_tls: true
}
EOF
  log "starting NATS $(nats-server --version 2>/dev/null | awk '{print $NF}') (WebSocket on $NATS_WS)"
  "${SRV[@]}" nats-server -c "$d/nats.conf" >"$d/out.log" 2>&1 &
  NATS_PID=$!
  PIDS+=("$NATS_PID")
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/${NATS_WS%:*}/${NATS_WS##*:}") 2>/dev/null; then return; fi
    sleep 0.1
  done
  echo "NATS did not start: $(tail -20 "$d/out.log")" >&2
  exit 1
}

stop_nats() {
  if [ -n "$NATS_PID" ]; then
    kill "$NATS_PID" 2>/dev/null || true
    wait "$NATS_PID" 2>/dev/null || true
    NATS_PID=""
  fi
}

# --- the benchmarks ---------------------------------------------------------------
run_bundle() {
  build_server; build_loadgen; browser_deps
  log "bundle size"
  node "$BROWSER/bundle.mjs"
}

run_session() {
  build_server; build_loadgen; browser_deps; bench_page
  log "session start"
  node "$BROWSER/session.mjs"
}

run_throughput() {
  build_server; build_loadgen; browser_deps; bench_page
  log "receive throughput"
  node "$BROWSER/throughput.mjs"
}

run_latency() {
  build_server; build_loadgen; browser_deps; bench_page
  log "end-to-end latency"
  node "$BROWSER/latency.mjs"
}

run_offline() {
  build_server; browser_deps
  command -v firefox-esr >/dev/null || [ -n "${FIREFOX:-}" ] || {
    log "installing firefox-esr"
    apt-get install -y -qq firefox-esr >/dev/null
  }
  log "offline cache and shared connection (docs/api.md §17, §18)"
  node "$BROWSER/offline.mjs"
}

run_load() {
  build_server; build_loadgen
  mkdir -p "$RESULTS"
  local parts=${LOAD_PARTS:-idle,startup,ours,rabbitmq,nats,cpu} mode
  has() { [[ ,$parts, == *,$1,* ]]; }
  for mode in $(pin_modes); do
    set_pin "$mode"
    if has idle; then
      log "idle sessions and resident memory (file descriptor limit: $(ulimit -n))"
      start_server "idle$SUFFIX"
      "${GEN[@]}" "$CHATKITTY_BENCH_BIN" idle --server "$SERVER_ADDR" --key bench --server-pid "$SERVER_PID" \
        --steps "${IDLE_STEPS:-1000,5000,10000,15000,19500}" --out "$RESULTS/load-idle$SUFFIX.json"
      stop_server
    fi
    if has startup; then
      log "session start-up cost (${STARTUP_SESSIONS:-2000} sessions x ${STARTUP_ROUNDS:-3} rounds)"
      start_server "startup$SUFFIX"
      "${GEN[@]}" "$CHATKITTY_BENCH_BIN" startup --server "$SERVER_ADDR" --key bench --server-pid "$SERVER_PID" \
        --sessions "${STARTUP_SESSIONS:-2000}" --rounds "${STARTUP_ROUNDS:-3}" --out "$RESULTS/load-startup$SUFFIX.json"
      stop_server
    fi

    # Fan-out: ours, RabbitMQ and NATS alternate, FANOUT_RUNS times (medians reported).
    # The peers run for all the runs of a pinning mode, started under that pinning.
    local runs=${FANOUT_RUNS:-3} frame=1700 i
    if has rabbitmq; then start_rabbitmq; fi
    if has nats || has cpu; then start_nats; fi
    for i in $(seq 1 "$runs"); do
      if ! has ours && ! has rabbitmq && ! has nats; then break; fi
      if has ours; then
        log "fan-out run $i/$runs: chatkitty-server"
        start_server "fanout$i$SUFFIX"
        "${GEN[@]}" "$CHATKITTY_BENCH_BIN" fanout --target ours --server "$SERVER_ADDR" --key bench \
          --server-pid "$SERVER_PID" --members "${FANOUT_MEMBERS:-2,100,1000}" \
          --out "$RESULTS/load-fanout-ours$SUFFIX.run$i.json"
        stop_server
        # The peers get frames as long as ours (same bytes per delivery).
        frame=$(frame_bytes "$RESULTS/load-fanout-ours$SUFFIX.run$i.json")
      fi
      if has rabbitmq; then
        log "fan-out run $i/$runs: RabbitMQ Web-STOMP (frames of $frame bytes, as ours)"
        "${GEN[@]}" "$CHATKITTY_BENCH_BIN" fanout --target rabbitmq --server 127.0.0.1:15699 \
          --server-pid "$RABBIT_PID" --members "${FANOUT_MEMBERS:-2,100,1000}" \
          --frame-bytes "$frame" --out "$RESULTS/load-fanout-rabbitmq$SUFFIX.run$i.json"
      fi
      if has nats; then
        log "fan-out run $i/$runs: NATS over WebSocket (messages of $frame bytes, as ours)"
        "${GEN[@]}" "$CHATKITTY_BENCH_BIN" fanout --target nats --server "$NATS_WS" \
          --server-pid "$NATS_PID" --members "${FANOUT_MEMBERS:-2,100,1000}" \
          --frame-bytes "$frame" --out "$RESULTS/load-fanout-nats$SUFFIX.run$i.json"
      fi
    done
    stop_rabbitmq

    # CPU per delivery: fixed offered rates into 1,000 members, every rate offered.
    if has cpu; then
      local cpu_rates=${CPU_RATES:-10,50,100,200} cpu_secs=${CPU_STEP_SECS:-10}
      log "server CPU per delivery into 1,000 members at $cpu_rates messages/s: chatkitty-server"
      start_server "cpu$SUFFIX"
      "${GEN[@]}" "$CHATKITTY_BENCH_BIN" fanout --target ours --server "$SERVER_ADDR" --key bench \
        --server-pid "$SERVER_PID" --members 1000 --rates-1000 "$cpu_rates" --all-steps \
        --step-secs "$cpu_secs" --idle-secs 3 --out "$RESULTS/load-cpu-ours$SUFFIX.json"
      stop_server
      frame=$(frame_bytes "$RESULTS/load-cpu-ours$SUFFIX.json")
      log "server CPU per delivery into 1,000 members at $cpu_rates messages/s: NATS"
      "${GEN[@]}" "$CHATKITTY_BENCH_BIN" fanout --target nats --server "$NATS_WS" \
        --server-pid "$NATS_PID" --members 1000 --rates-1000 "$cpu_rates" --all-steps \
        --step-secs "$cpu_secs" --idle-secs 3 --frame-bytes "$frame" --out "$RESULTS/load-cpu-nats$SUFFIX.json"
    fi
    stop_nats

    # Notifications: members without a chat session get each message as a notification
    # rendered for them (not part of the default parts).
    if has notify; then
      log "server CPU per notification into 100 members at ${NOTIFY_RATES:-50,100,200} messages/s"
      start_server "notify$SUFFIX"
      "${GEN[@]}" "$CHATKITTY_BENCH_BIN" fanout --target ours --server "$SERVER_ADDR" --key bench \
        --server-pid "$SERVER_PID" --members 100 --rates-100 "${NOTIFY_RATES:-50,100,200}" --all-steps \
        --step-secs 5 --idle-secs 2 --notifications --out "$RESULTS/load-notify-ours$SUFFIX.json"
      stop_server
    fi
  done
  node "$BROWSER/load-report.mjs" --merge
}

# The longest delivered frame of a fan-out result (what the peers are padded to).
frame_bytes() {
  node -e 'const r=require(process.argv[1]);console.log(Math.max(...r.sizes.map(s=>s.delivered_frame_bytes)))' "$1"
}

run_storm() {
  build_server; build_loadgen
  mkdir -p "$RESULTS"
  local n=${STORM_SESSIONS:-10000} mode d
  if [ "$(ulimit -n)" -lt $((n + 1000)) ]; then
    echo "storm: $n sessions need more file descriptors than ulimit -n allows ($(ulimit -n))" >&2
    exit 1
  fi
  for mode in $(pin_modes); do
    set_pin "$mode"
    d=$TMP/storm-$mode
    mkdir -p "$d" "$DB_TMP/storm-$mode"
    # The benchmark starts the server itself, again after the kill, on a port it picks.
    {
      echo '#!/bin/sh'
      printf 'RUST_LOG=warn exec %s "%s" --port "$STORM_PORT" --database "%s" --api-key bench --presence-grace-ms 0 --files-dir "%s" >>"%s" 2>>"%s"\n' \
        "${SRV[*]}" "$CHATKITTY_SERVER_BIN" "$DB_TMP/storm-$mode/chat.db" "$d/files" "$d/out" "$d/err"
    } >"$d/server.sh"
    chmod +x "$d/server.sh"
    log "reconnect storm: $n sessions, the server killed and restarted"
    "${GEN[@]}" "$CHATKITTY_BENCH_BIN" storm --server-cmd "$d/server.sh" --pid-file "$d/pid" --key bench \
      --sessions "$n" --out "$RESULTS/storm$SUFFIX.json"
  done
}

# Idle memory: the idle benchmark at MEMORY_SESSIONS (10,000) under other settings, then
# the release server built with line tables under heaptrack holding HEAP_SESSIONS (6,000)
# idle sessions, killed (SIGKILL) with them open: what is still allocated then is the
# sessions' live heap, by allocation stack.
run_memory() {
  build_server; build_loadgen
  mkdir -p "$RESULTS"
  local n=${MEMORY_SESSIONS:-10000} hn=${HEAP_SESSIONS:-6000} variants=""
  if ! command -v heaptrack >/dev/null; then
    log "installing heaptrack (Debian)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq heaptrack >/dev/null
  fi
  set_pin unpinned
  mem_idle() { # ID LABEL [PREFIX...]
    log "idle sessions: $2"
    start_server "mem-$1" "${@:3}"
    "${GEN[@]}" "$CHATKITTY_BENCH_BIN" idle --server "$SERVER_ADDR" --key bench --server-pid "$SERVER_PID" \
      --steps "1000,$n" --out "$TMP/mem-$1.json"
    stop_server
    variants+="$2=$TMP/mem-$1.json,"
  }
  mem_idle default "as shipped (jemalloc)"
  mem_idle worker1 "TOKIO_WORKER_THREADS=1" env TOKIO_WORKER_THREADS=1
  set_pin pinned
  mem_idle pinned "pinned to one CPU (one worker)"
  set_pin unpinned

  local bin=${CHATKITTY_SERVER_DEBUGINFO_BIN:-}
  if [ -z "$bin" ]; then
    # The system's malloc: heaptrack hooks malloc and does not see jemalloc's.
    log "cargo build --release -p chatkitty-server --features system-allocator, with line tables (target/bench-debuginfo)"
    CARGO_PROFILE_RELEASE_DEBUG=line-tables-only CARGO_TARGET_DIR=$ROOT/target/bench-debuginfo \
      cargo build --release -p chatkitty-server --features system-allocator
    bin=$ROOT/target/bench-debuginfo/release/chatkitty-server
  fi
  local d=$TMP/heap
  mkdir -p "$d"
  heap_run() { # NAME SESSIONS
    mkdir -p "$DB_TMP/heap-$1"
    RUST_LOG=warn heaptrack -o "$d/$1" "$bin" --port 0 --database "$DB_TMP/heap-$1/chat.db" --api-key bench \
      --presence-grace-ms 0 --files-dir "$d/files-$1" >"$d/$1.out" 2>"$d/$1.err" &
    local wrapper=$! pid="" addr=""
    for _ in $(seq 1 300); do
      addr=$(grep -o '127.0.0.1:[0-9]*' "$d/$1.out" 2>/dev/null || true)
      pid=$(pgrep -f -n "^$bin --port 0 --database $DB_TMP/heap-$1/" || true)
      [ -n "$addr" ] && [ -n "$pid" ] && break
      sleep 0.1
    done
    [ -n "$addr" ] || { echo "the server under heaptrack did not start: $(cat "$d/$1.err")" >&2; exit 1; }
    local gen=""
    if [ "$2" -gt 0 ]; then
      # The load generator closes its sessions when it exits: the server is killed
      # as soon as the step is reported, while the sessions are still open.
      "$CHATKITTY_BENCH_BIN" idle --server "$addr" --key bench --server-pid "$pid" --steps "$2" \
        >"$d/$1.idle" 2>&1 &
      gen=$!
      for _ in $(seq 1 6000); do
        grep -q 'sessions (' "$d/$1.idle" && break
        kill -0 "$gen" 2>/dev/null || break
        sleep 0.1
      done
      grep 'sessions (' "$d/$1.idle" || { echo "heaptrack run: $(cat "$d/$1.idle")" >&2; exit 1; }
    else
      sleep 3
    fi
    # Killed with its sessions open: what it still holds is theirs.
    kill -9 "$pid"
    [ -z "$gen" ] || wait "$gen" 2>/dev/null || true
    wait "$wrapper" 2>/dev/null || true
    heaptrack_print -f "$d/$1.zst" -n 0 --print-leaks 0 --print-peaks 0 --print-allocators 0 \
      --print-temporary 0 -F "$d/$1.live" --flamegraph-cost-type leaked >/dev/null
    heaptrack_print -f "$d/$1.zst" -n 0 --print-leaks 0 --print-peaks 0 --print-allocators 0 \
      --print-temporary 0 -F "$d/$1.calls" --flamegraph-cost-type allocations >/dev/null
  }
  log "heaptrack: $hn idle sessions"
  heap_run sessions "$hn"
  log "heaptrack: no session (the allocations of starting the server)"
  heap_run baseline 0
  "$CHATKITTY_BENCH_BIN" memory --variants "${variants%,}" --sessions "$hn" --live "$d/sessions.live" \
    --live-baseline "$d/baseline.live" \
    --allocations "$d/sessions.calls" --allocations-baseline "$d/baseline.calls" --out "$RESULTS/memory.json"
}

run_plots() {
  node "$BROWSER/plots.mjs"
}

case "${1:-}" in
  bundle) run_bundle ;;
  session) run_session ;;
  throughput) run_throughput ;;
  latency) run_latency ;;
  offline) run_offline ;;
  load) run_load ;;
  storm) run_storm ;;
  memory) run_memory ;;
  plots) run_plots ;;
  all)
    run_bundle
    SKIP_PKG=1 run_session
    SKIP_PKG=1 run_throughput
    SKIP_PKG=1 run_latency
    SKIP_PKG=1 run_offline
    run_load
    run_storm
    run_memory
    run_plots
    ;;
  *)
    echo "usage: scripts/bench.sh bundle|session|throughput|latency|offline|load|storm|memory|plots|all" >&2
    exit 2
    ;;
esac
