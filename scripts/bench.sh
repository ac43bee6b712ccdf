#!/usr/bin/env bash
# The side-by-side browser benchmark (bench/README.md): installs bench/node_modules from the
# committed lockfile, builds pkg/web, the raw aes-gcm reference wasm and the dev KMS, then runs
# bench/run.mjs in headless Chromium and writes bench/RESULTS.md. Idempotent; not part of the
# tests (timings are never asserted). Takes about 10–15 minutes on 2 cores.
# Usage: bash scripts/bench.sh [--quick] [run.mjs options…]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=setup.sh
source scripts/setup.sh
ensure_rust
ensure_chromium

stamp="bench/node_modules/.package-lock.json"
if [ ! -f "$stamp" ] || [ bench/package-lock.json -nt "$stamp" ]; then
  log "installing bench/node_modules (npm ci)"
  (cd bench && npm ci --silent --no-audit --no-fund >/dev/null)
fi

bash scripts/build-pkg.sh web

log "building the raw aes-gcm reference (bench/aes-raw)"
# With wasm SIMD, as scripts/build-pkg.sh builds the package (sha2 has a simd128 backend).
(cd bench/aes-raw && CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128" \
  cargo build --quiet --locked --release --target wasm32-unknown-unknown \
  --target-dir "$ROOT/target/bench-aes-raw")
mkdir -p bench/dist
cp target/bench-aes-raw/wasm32-unknown-unknown/release/aes_raw_bench.wasm bench/dist/

log "building the dev KMS"
cargo build --quiet --release --locked --bin kms-dev-server

log "running the benchmark (headless Chromium)"
node bench/run.mjs "$@"
