#!/usr/bin/env bash
# Webhook figures: throughput of a burst, and delay (p50/p99 from a message's send to
# its webhook's receipt) under fan-out load. One server in the benchmark's process
# (release build), a local receiver verifying every signature; see
# server/tests/webhooks_bench.rs for what is measured. Prints the figures and writes
# bench/results/webhooks.json.
#   bench/webhooks.sh
#   BENCH_MEMBERS=1000 BENCH_RATES=100,200 bench/webhooks.sh
# Settings: BENCH_MEMBERS (100), BENCH_RATES (messages/s, 200,500,1000), BENCH_SECONDS
# per rate (10), BENCH_BACKLOG (burst size, 5000), BENCH_CONCURRENCY (8,32).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
ulimit -n 65536 2>/dev/null || true
BENCH_OUT="$PWD/bench/results/webhooks.json" \
  cargo test --release -q -p chatkitty-server --test webhooks_bench -- \
  --ignored --nocapture --test-threads 1 2>&1 | grep -E '^(burst|fan-out)|test result|panicked'
echo "written: bench/results/webhooks.json"
