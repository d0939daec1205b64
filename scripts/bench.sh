#!/usr/bin/env bash
# Benchmarks (not tests: no thresholds, not part of scripts/test.sh). One command each:
#
#   scripts/bench.sh bundle       quick-start page size, ours vs chatkitty@1.58.2 (Vite 7)
#   scripts/bench.sh session      session start in headless Chromium, + round trips
#   scripts/bench.sh throughput   onReceivedMessage rate and main-thread cost per message
#   scripts/bench.sh latency      send → other client's callback with 2/100/1,000 clients
#   scripts/bench.sh load         idle sessions + RSS, fan-out ours vs RabbitMQ Web-STOMP
#                                 (LOAD_PARTS=idle,ours,rabbitmq picks parts)
#   scripts/bench.sh plots        SVG plots from the results
#   scripts/bench.sh all          all of the above
#
# Each installs what it needs (npm packages; rabbitmq-server from Debian for `load`),
# builds the release server and the load generator, prints its figures and writes
# bench/results/<name>.json. Every process it starts is stopped on exit.
# CHATKITTY_SERVER_BIN / CHATKITTY_BENCH_BIN point at prebuilt binaries instead.
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
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null || true
  done
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && wait "$p" 2>/dev/null || true
  done
  stop_rabbitmq
  rm -rf "$TMP"
}
trap cleanup EXIT

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
start_server() {
  local dir=$TMP/server-$1
  mkdir -p "$dir"
  CHATKITTY_SEND_RATE=1000000 CHATKITTY_SEND_BURST=1000000 \
  CHATKITTY_RELAY_RATE=1000000 CHATKITTY_RELAY_BURST=1000000 \
  CHATKITTY_MAX_CONNECTIONS_PER_USER=1000 CHATKITTY_MAX_CONNECTIONS_PER_ADDRESS=0 RUST_LOG=warn \
    "$CHATKITTY_SERVER_BIN" --port 0 --database "$dir/chat.db" --api-key bench \
    --presence-grace-ms 0 --files-dir "$dir/files" >"$dir/out" 2>"$dir/err" &
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
  env HOME="$d/home" RABBITMQ_NODENAME=ckbench@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
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

run_load() {
  build_server; build_loadgen
  mkdir -p "$RESULTS"
  local parts=${LOAD_PARTS:-idle,ours,rabbitmq}
  if [[ ,$parts, == *,idle,* ]]; then
    log "idle sessions and resident memory (file descriptor limit: $(ulimit -n))"
    start_server idle
    "$CHATKITTY_BENCH_BIN" idle --server "$SERVER_ADDR" --key bench --server-pid "$SERVER_PID" \
      --steps "${IDLE_STEPS:-1000,5000,10000,15000,19500}" --out "$RESULTS/load-idle.json"
    stop_server
  fi

  # Fan-out: ours and RabbitMQ alternate, FANOUT_RUNS times (medians are reported).
  local runs=${FANOUT_RUNS:-3} frame=1700 i
  if [[ ,$parts, == *,rabbitmq,* ]]; then start_rabbitmq; fi
  for i in $(seq 1 "$runs"); do
    if [[ ,$parts, == *,ours,* ]]; then
      log "fan-out run $i/$runs: chatkitty-server"
      start_server "fanout$i"
      "$CHATKITTY_BENCH_BIN" fanout --target ours --server "$SERVER_ADDR" --key bench \
        --server-pid "$SERVER_PID" --members "${FANOUT_MEMBERS:-2,100,1000}" \
        --out "$RESULTS/load-fanout-ours.run$i.json"
      stop_server
      # RabbitMQ gets frames as long as ours (same bytes per delivery).
      frame=$(node -e 'const r=require(process.argv[1]);console.log(Math.max(...r.sizes.map(s=>s.delivered_frame_bytes)))' "$RESULTS/load-fanout-ours.run$i.json")
    fi
    if [[ ,$parts, == *,rabbitmq,* ]]; then
      log "fan-out run $i/$runs: RabbitMQ Web-STOMP (frames of $frame bytes, as ours)"
      "$CHATKITTY_BENCH_BIN" fanout --target rabbitmq --server 127.0.0.1:15699 \
        --server-pid "$RABBIT_PID" --members "${FANOUT_MEMBERS:-2,100,1000}" \
        --frame-bytes "$frame" --out "$RESULTS/load-fanout-rabbitmq.run$i.json"
    fi
  done
  stop_rabbitmq
  node "$BROWSER/load-report.mjs" --merge
}

run_plots() {
  node "$BROWSER/plots.mjs"
}

case "${1:-}" in
  bundle) run_bundle ;;
  session) run_session ;;
  throughput) run_throughput ;;
  latency) run_latency ;;
  load) run_load ;;
  plots) run_plots ;;
  all)
    run_bundle
    SKIP_PKG=1 run_session
    SKIP_PKG=1 run_throughput
    SKIP_PKG=1 run_latency
    run_load
    run_plots
    ;;
  *)
    echo "usage: scripts/bench.sh bundle|session|throughput|latency|load|plots|all" >&2
    exit 2
    ;;
esac
