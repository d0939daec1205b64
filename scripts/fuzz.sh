#!/usr/bin/env bash
# Fuzzes the STOMP decoder, the frame -> handler path and structured requests to every
# relay and action (checking each answer's byte budget) with cargo-fuzz (libFuzzer),
# each for a bounded time; an input taking over 2 s or 2 GiB counts as a crash. Needs a nightly toolchain; installs cargo-fuzz if missing.
#   scripts/fuzz.sh            60 s per target
#   FUZZ_SECONDS=600 scripts/fuzz.sh
# Crashes land in fuzz/artifacts/<target>/; add each as a regression test
# (protocol/tests/stomp_codec.rs or server/tests/fuzz_regressions.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
log() { printf '\033[1;34m[fuzz]\033[0m %s\n' "$*"; }

cargo +nightly --version >/dev/null 2>&1 || { echo "a nightly toolchain is needed (rustup toolchain install nightly)" >&2; exit 1; }
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz || cargo install cargo-fuzz

status=0
for target in stomp_decoder frame_handler handlers; do
  log "$target for ${SECONDS_PER_TARGET}s"
  mkdir -p "fuzz/corpus/$target"
  # The corpus is copied so runs do not dirty the seeds in git.
  work=$(mktemp -d)
  cp -r "fuzz/corpus/$target/." "$work/"
  (cd fuzz && cargo +nightly fuzz run "$target" "$work" -- \
      -max_total_time="$SECONDS_PER_TARGET" -max_len=8192 -timeout=2 -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tee "$work/log") || status=$?
  grep -E "^stat::number_of_executed_units|^stat::new_units_added|^stat::peak_rss_mb" "$work/log" | sed "s/^/  $target /" || true
  rm -rf "$work"
done
if [ -n "$(find fuzz/artifacts -type f 2>/dev/null)" ]; then
  log "crashes found:"; find fuzz/artifacts -type f; exit 1
fi
log "no crashes"
exit $status
