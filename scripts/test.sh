#!/usr/bin/env bash
# Run every test kms-envelope has, installing what they need first (idempotent).
# Usage: scripts/test.sh            (CI runs exactly this)
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=setup.sh
source scripts/setup.sh
set +e

passed=0; failed=0; failed_steps=()
step() { # step NAME COMMAND... : run one stage, record the outcome, keep going
  local name="$1"; shift
  log "$name"
  local t0=$SECONDS
  if "$@"; then passed=$((passed + 1)); log "$name: ok ($((SECONDS - t0)) s)"
  else failed=$((failed + 1)); failed_steps+=("$name"); log "$name: FAILED ($((SECONDS - t0)) s)"; fi
}

ensure_rust && ensure_venv || { echo "setup failed"; exit 1; }

export KMS_ENVELOPE_BIN="$ROOT/target/release/kms-envelope"
export KMS_DEV_SERVER_BIN="$ROOT/target/release/kms-dev-server"
export KMS_ENVELOPE_SHARED="${KMS_ENVELOPE_SHARED:-$ROOT/../shared}"

step "cargo fmt --check" cargo fmt --all --check
step "clippy (native)" cargo clippy --workspace --all-targets --quiet -- -D warnings
step "clippy (wasm32)" cargo clippy -p kms-envelope --lib --target wasm32-unknown-unknown --quiet -- -D warnings
step "release binaries" cargo build --workspace --release --bins --quiet
step "cargo test" cargo test --workspace --quiet
step "python interop (pytest)" "$ROOT/.venv/bin/pytest" -q tests/interop
step "static checks" bash scripts/static-checks.sh
step "npm package (pkg-tests)" bash scripts/pkg-tests.sh
step "demo end to end (e2e)" bash scripts/e2e.sh
step "fuzzing (bounded)" bash scripts/fuzz.sh

echo
if [ "$failed" -gt 0 ]; then echo "failed stages: ${failed_steps[*]}"; fi
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
