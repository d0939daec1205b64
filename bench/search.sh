#!/usr/bin/env bash
# Message search latency, p50/p99, over 1,000,000 messages on SQLite and on PostgreSQL
# (a throwaway cluster from scripts/with-postgres.sh). Self-contained: builds the
# server's search_bench example (server/examples/search_bench.rs) in release mode,
# fills each database, times the search relay's answers and writes
# bench/results/search-sqlite.json and bench/results/search-postgres.json.
#
#   bench/search.sh                       both backends, 1,000,000 messages
#   SEARCH_BENCH_MESSAGES=100000 SEARCH_BENCH_BACKENDS=sqlite bench/search.sh
#
# SEARCH_BENCH_QUERIES (default 200) queries of each kind. CHATKITTY_SEARCH_BENCH_BIN
# points at a prebuilt binary instead. Not a test: no thresholds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MESSAGES=${SEARCH_BENCH_MESSAGES:-1000000}
QUERIES=${SEARCH_BENCH_QUERIES:-200}
BACKENDS=${SEARCH_BENCH_BACKENDS:-sqlite postgres}
log() { printf '\n\033[1;35m[search-bench]\033[0m %s\n' "$*"; }

if [ -z "${CHATKITTY_SEARCH_BENCH_BIN:-}" ]; then
  log "cargo build --release -p chatkitty-server --example search_bench"
  cargo build --release -p chatkitty-server --example search_bench
  CHATKITTY_SEARCH_BENCH_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/search_bench
fi
export CHATKITTY_SEARCH_BENCH_BIN MESSAGES QUERIES
mkdir -p bench/results
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

for backend in $BACKENDS; do
  case $backend in
    sqlite)
      log "SQLite, $MESSAGES messages"
      "$CHATKITTY_SEARCH_BENCH_BIN" --database "$TMP/search.db" --messages "$MESSAGES" \
        --queries "$QUERIES" --out bench/results/search-sqlite.json >/dev/null
      ;;
    postgres)
      log "PostgreSQL, $MESSAGES messages"
      bash scripts/with-postgres.sh bash -c '"$CHATKITTY_SEARCH_BENCH_BIN" --database "$CHATKITTY_TEST_POSTGRES" \
        --messages "$MESSAGES" --queries "$QUERIES" --out bench/results/search-postgres.json >/dev/null'
      ;;
    *) echo "unknown backend $backend" >&2; exit 2 ;;
  esac
done
log "results in bench/results/search-*.json"
