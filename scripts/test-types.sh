#!/usr/bin/env bash
# Type-checks tests/types/app.ts (the seed snippet and a sample of every kind of call)
# with `tsc --noEmit` (strict) against the package as an app installs it: the npm pack
# tarball of pkg/ in tests/types/node_modules, no path mapping.
# Needs pkg/ built first (scripts/build-pkg.sh).
set -euo pipefail
cd "$(dirname "$0")/../tests/types"
[ -f ../../pkg/index.d.ts ] || { echo "pkg/ not built: run scripts/build-pkg.sh" >&2; exit 1; }
npm install --no-audit --no-fund --loglevel=error
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tarball=$(npm pack ../../pkg --pack-destination "$tmp" --silent | tail -1)
npm install --no-save --no-audit --no-fund --loglevel=error "$tmp/$tarball"
npx tsc -p .
echo "tsc --noEmit: the packed chatkitty-wasm's types check tests/types/app.ts"
