#!/usr/bin/env bash
# Bounded fuzzing of kms-envelope with cargo-fuzz (libFuzzer): builds the targets in fuzz/ (its
# own workspace), seeds fuzz/corpus/ (git-ignored) from our own messages and the shared
# vectors, runs every target for a fixed time and prints the exec counts reached.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#   SECONDS_PER_TARGET  default 60 (also with CI=true); FUZZ_SECONDS overrides the default
#   TARGET              header_parse decrypt_message stream_decrypt context_parse (default: all)
# Environment:
#   FUZZ_SANITIZER=none|address   default none (safe Rust; overflow checks are on either way)
#   FUZZ_JOBS=N                   libFuzzer workers per target (default 1; the machine has 2 cores)
#   KMS_ENVELOPE_SHARED           the shared/ folder with vectors/ (default ../shared)
# Exit status: non-zero if a target crashed, hung (>10 s on one input), ran out of memory, or
# the build failed. A crashing input is kept in fuzz/artifacts/TARGET/ with a command to replay.
# Longer runs: see fuzz/README.md.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT/fuzz"

SECONDS_PER_TARGET="${1:-${FUZZ_SECONDS:-60}}"
shift $(( $# > 0 ? 1 : 0 ))
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(header_parse decrypt_message stream_decrypt context_parse)
SANITIZER="${FUZZ_SANITIZER:-none}"
JOBS="${FUZZ_JOBS:-1}"
export KMS_ENVELOPE_SHARED="${KMS_ENVELOPE_SHARED:-$ROOT/../shared}"
# libFuzzer instrumentation needs unstable rustc flags; this machine has only the stable
# toolchain, which accepts them with RUSTC_BOOTSTRAP=1 (no nightly features are used).
export RUSTC_BOOTSTRAP=1
FUZZ_FLAGS=(--sanitizer "$SANITIZER" --debug-assertions)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  log "installing cargo-fuzz from crates.io"
  cargo install -q --locked cargo-fuzz || cargo install -q cargo-fuzz || { echo "fuzz: cannot install cargo-fuzz"; exit 1; }
fi

log "building fuzz targets (sanitizer $SANITIZER, debug assertions)"
t0=$SECONDS
mkdir -p "$ROOT/fuzz/artifacts"
if ! cargo fuzz build "${FUZZ_FLAGS[@]}" > "$ROOT/fuzz/artifacts/build.log" 2>&1; then
  tail -30 "$ROOT/fuzz/artifacts/build.log"
  echo "fuzz: build failed (fuzz/artifacts/build.log)"
  exit 1
fi
BIN="$ROOT/fuzz/target/x86_64-unknown-linux-gnu/release"
for t in "${TARGETS[@]}"; do
  [ -x "$BIN/$t" ] || { echo "fuzz: target $t was not built"; exit 1; }
done
log "built in $((SECONDS - t0)) s"

[ -d "$KMS_ENVELOPE_SHARED/vectors" ] || log "warning: no vectors under $KMS_ENVELOPE_SHARED: seeding from our own messages only"
KMS_ENVELOPE_FUZZ_SEEDS="$ROOT/fuzz/corpus" "$BIN/header_parse" 2>/dev/null | grep 'wrote' >&2 \
  || { echo "fuzz: seeding failed"; exit 1; }

LOGDIR="$ROOT/fuzz/artifacts/logs"
mkdir -p "$LOGDIR"
declare -A EXECS COV STATUS
failed=0
for t in "${TARGETS[@]}"; do
  log "fuzzing $t for ${SECONDS_PER_TARGET} s"
  mkdir -p "$ROOT/fuzz/corpus/$t" "$ROOT/fuzz/artifacts/$t"
  extra=()
  [ "$JOBS" -gt 1 ] && extra=(-jobs="$JOBS" -workers="$JOBS")
  cargo fuzz run "${FUZZ_FLAGS[@]}" "$t" "$ROOT/fuzz/corpus/$t" -- \
    -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$ROOT/fuzz/artifacts/$t/" "${extra[@]}" \
    > "$LOGDIR/$t.log" 2>&1
  rc=$?
  # libFuzzer's closing lines: "stat::number_of_executed_units: N" and "#N DONE cov: C ...".
  EXECS[$t]=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$LOGDIR/$t.log" | awk '{s+=$2} END {print s+0}')
  COV[$t]=$(grep -E '#[0-9]+\s+(DONE|pulse|NEW|REDUCE)' "$LOGDIR/$t.log" | tail -1 | grep -o 'cov: [0-9]*' | awk '{print $2}')
  if [ "$rc" -eq 0 ]; then
    STATUS[$t]=ok
  else
    STATUS[$t]="FAILED (exit $rc)"
    failed=$((failed + 1))
    grep -E 'panicked|ERROR: libFuzzer|SUMMARY|Test unit written|timeout|out-of-memory' "$LOGDIR/$t.log" | head -8
    for a in "$ROOT/fuzz/artifacts/$t"/crash-* "$ROOT/fuzz/artifacts/$t"/timeout-* "$ROOT/fuzz/artifacts/$t"/oom-*; do
      [ -e "$a" ] && echo "  replay: (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run ${FUZZ_FLAGS[*]} $t $a)"
    done
  fi
done

echo
echo "fuzz summary: ${SECONDS_PER_TARGET} s per target, sanitizer $SANITIZER, debug assertions on"
printf '  %-16s %14s %8s  %s\n' target execs cov status
for t in "${TARGETS[@]}"; do
  printf '  %-16s %14s %8s  %s\n' "$t" "${EXECS[$t]:-0}" "${COV[$t]:-?}" "${STATUS[$t]}"
done
echo "  logs: fuzz/artifacts/logs/   corpus: fuzz/corpus/ (kept between runs)"
[ "$failed" -eq 0 ]
