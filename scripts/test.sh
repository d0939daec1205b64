#!/usr/bin/env bash
# Runs every test: native unit tests (protocol codec, SDK core, server modules), the
# server's integration tests over real WebSockets, the SDK's browser tests in headless
# Chromium, the compatibility harness (official chatkitty@1.58.2 client and ours, all
# pairings), the offline-first extensions in Chromium, Firefox and WebKitGTK, the SDK's leak check and a short
# soak, the server, the harness and a soak
# across two nodes on PostgreSQL + Redis, and the demo app end to end. Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '\n\033[1;34m[test]\033[0m %s\n' "$*"; }
# One target dir for every step, so nothing is compiled twice.
export CARGO_TARGET_DIR="$PWD/target"
# A one-shot run needs no incremental caches, and its debug builds only the line
# tables that backtraces print. Measured on `cargo test --workspace --no-run` from an
# empty target dir: 7.5 GB in 2 min 37 s with the defaults, 2.9 GB in 1 min 54 s so.
export CARGO_INCREMENTAL=0
export CARGO_PROFILE_DEV_DEBUG=line-tables-only

log "setup"
bash scripts/setup.sh test

log "code checks: formatting, layers (scripts/check-layers.py), clippy (native and wasm32), doc links"
cargo fmt --all --check
python3 scripts/check-layers.py
cargo clippy --workspace --all-targets --features chatkitty-server/fuzzing -- -D warnings
cargo clippy -p chatkitty-wasm --target wasm32-unknown-unknown --all-targets -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc -q --workspace --no-deps

log "native tests (cargo test --workspace)"
cargo test --workspace

log "server tests again, on PostgreSQL (throwaway cluster)"
bash scripts/with-postgres.sh cargo test -p chatkitty-server

log "the README's authentication example (JWT and HTTP callback, guest sessions off)"
bash examples/auth/run.sh

log "the README's webhook example (Node receiver verifying signatures, before-send hook)"
bash examples/webhooks/run.sh

log "building the npm package"
bash scripts/build-pkg.sh

log "TypeScript declarations (tsc --noEmit against pkg/index.d.ts)"
bash scripts/test-types.sh

log "SDK browser tests (wasm-pack test: Chromium, Firefox, WebKitGTK; live server)"
bash scripts/test-browser.sh

log "offline-first extensions (Node with a store in a Map; Chromium, Firefox and WebKitGTK against a live server)"
bash scripts/test-offline.sh

log "consumer matrix: the npm pack tarball in Vite, webpack, Next.js, esbuild, Rollup, Vitest, Node apps; Chromium, Firefox, WebKit"
(cd tests/consumers && npm install --no-audit --no-fund --loglevel=error && node run.mjs)

log "compatibility harness (official client and ours)"
(cd tests/harness && npm install --no-audit --no-fund --loglevel=error && node run.mjs)

log "the official client in Node (no WebSocket: SockJS transport)"
(cd tests/harness && node node-sockjs.mjs)

log "API surface of our SDK against docs/api.md (present/expected)"
(cd tests/harness && node api-surface/check.mjs)

log "reliability: 1000 chat sessions leave no leak; a short soak with the server SIGKILLed and restarted"
SOAK_SKIP_PKG=1 bash scripts/soak.sh
log "the soak again with each receiver as three tabs sharing one connection (docs/api.md §18)"
SOAK_SKIP_PKG=1 SOAK_SKIP_LEAK=1 bash scripts/soak.sh --share 40

log "several nodes: PostgreSQL + Redis, server multi-node tests, the harness and a soak across two nodes"
bash scripts/with-postgres.sh bash scripts/with-redis.sh bash -c \
  'cargo test -p chatkitty-server --test cluster -- --ignored &&
   (cd tests/harness && node run.mjs --cluster --pairing ours-ours,official-ours) &&
   SOAK_CLUSTER=1 SOAK_SECONDS=40 SOAK_SKIP_PKG=1 SOAK_SKIP_LEAK=1 bash scripts/soak.sh'

log "demo app end to end (Vite build, two people chatting in Chromium)"
(cd www && npm install --no-audit --no-fund --loglevel=error && npx vite build --logLevel warn && node e2e/run.mjs)

log "all tests passed"
