#!/usr/bin/env bash
# The demo's end-to-end test: installs what it needs (Debian Chromium, the Python venv with the
# ESDK, e2e/node_modules from the committed lock), builds the web package, the dev KMS and the
# CLI, then drives the demo page in headless Chromium against the real dev KMS
# (e2e/demo.test.mjs). Screenshots: test-output/e2e/*.png. Idempotent; CI=true is honoured
# (no colours, `npm ci` from the lock, never `npm install`).
# Usage: bash scripts/e2e.sh            Last line: "e2e: N passed, N failed".
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=setup.sh
source scripts/setup.sh

fail_setup() { echo "e2e setup failed: $*" >&2; echo "e2e: 0 passed, 1 failed"; exit 1; }

command -v node >/dev/null && command -v npm >/dev/null || fail_setup "node and npm are needed"
ensure_rust || fail_setup "rust targets"
ensure_chromium || fail_setup "Debian chromium"
[ -x /usr/bin/chromium ] || fail_setup "/usr/bin/chromium missing"
ensure_venv || fail_setup "python venv"

lock="e2e/package-lock.json" stamp="e2e/node_modules/.package-lock.json"
if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ] || [ e2e/package.json -nt "$stamp" ]; then
  log "npm ci (e2e/)"
  (cd e2e && npm ci --silent --no-audit --no-fund) >/dev/null || fail_setup "npm ci in e2e/"
fi

log "building the demo (pkg/web, dev KMS) and the CLI"
bash scripts/demo.sh --build-only || fail_setup "demo build"
cargo build --quiet --release --bin kms-envelope || fail_setup "cargo build kms-envelope"

log "e2e: demo page in headless Chromium against the dev KMS"
out="$(mktemp)"; trap 'rm -f "$out"' EXIT
color=""; [ "${CI:-}" = true ] && color="NO_COLOR=1"
env $color DEMO_SKIP_BUILD=1 node --test --test-reporter=tap e2e/demo.test.mjs 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
pass=$(awk '/^# pass /{print $3}' "$out" | tail -1)
fail=$(awk '/^# fail /{print $3}' "$out" | tail -1)
cancelled=$(awk '/^# cancelled /{print $3}' "$out" | tail -1)
pass=${pass:-0}; fail=$(( ${fail:-0} + ${cancelled:-0} ))
[ "$status" -ne 0 ] && [ "$fail" -eq 0 ] && fail=1 # the runner itself failed
echo "screenshots: $ROOT/test-output/e2e/"
echo "e2e: $pass passed, $fail failed"
[ "$status" -eq 0 ] && [ "$fail" -eq 0 ]
