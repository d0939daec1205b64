#!/usr/bin/env bash
# esbuild's own CLI, no plugins: one ES module bundle for the browser.
set -euo pipefail
rm -rf dist && mkdir -p dist
cp index.html dist/
npx esbuild main.js --bundle --format=esm --outfile=dist/main.js --log-level=warning
