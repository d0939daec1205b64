#!/usr/bin/env bash
# Installs what the build and the tests need, idempotently (skips what is present).
#   setup.sh demo   the wasm target and wasm-bindgen-cli (enough to build and run the demo)
#   setup.sh test   also wasm-pack, Chromium and ChromeDriver, Firefox ESR and geckodriver,
#                   WebKitGTK's WebKitWebDriver and Xvfb (the browser tests)
# npm packages are installed by the scripts that use them (npm install is idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-test}

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

if ! rustup target list --installed | grep -q '^wasm32-unknown-unknown$'; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
want=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  log "installing wasm-bindgen-cli $want (found: ${have:-none})"
  # --locked first (reproducible); if a pinned transitive crate was yanked from the
  # registry, resolve fresh versions instead.
  cargo install --locked --force wasm-bindgen-cli --version "$want" ||
    cargo install --force wasm-bindgen-cli --version "$want"
fi

if [ "$mode" = "test" ]; then
  if ! command -v wasm-pack >/dev/null 2>&1; then
    log "installing wasm-pack"
    cargo install --locked wasm-pack || cargo install wasm-pack
  fi
  need_apt=()
  command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
  # Firefox and WebKit: the SDK's browser tests and the consumer matrix. WebKitGTK has no
  # headless mode, so its MiniBrowser runs on Xvfb.
  command -v firefox-esr >/dev/null 2>&1 || need_apt+=(firefox-esr)
  command -v WebKitWebDriver >/dev/null 2>&1 || need_apt+=(webkit2gtk-driver)
  command -v Xvfb >/dev/null 2>&1 || need_apt+=(xvfb)
  if [ ${#need_apt[@]} -gt 0 ]; then
    log "installing ${need_apt[*]} from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
  fi
  if ! command -v geckodriver >/dev/null 2>&1; then
    log "installing geckodriver (wasm-pack test --firefox)"
    cargo install --locked geckodriver || cargo install geckodriver
  fi
fi

log "ready ($mode)"
