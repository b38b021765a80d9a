#!/usr/bin/env bash
# run.sh — builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a while.
# Usage (from anywhere): tests/fuzz/run.sh [seconds per target, default 60] [target...]
# Seeds come from tests/fixtures/weights; crashes are written to build-fuzz/crash-*.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECS=${1:-60}; shift || true
TARGETS=${*:-"safetensors pth"}
OUT="$ROOT/build-fuzz"
mkdir -p "$OUT"
SRCS="$ROOT/io/safetensors.c $ROOT/io/pickle.c $ROOT/io/zipread.c $ROOT/io/pth.c $ROOT/core/err.c"
for t in $TARGETS; do
  clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -I"$ROOT" "$ROOT/tests/fuzz/fuzz_$t.c" $SRCS -o "$OUT/fuzz_$t"
  mkdir -p "$OUT/corpus_$t"
  cp "$ROOT"/tests/fixtures/weights/*.* "$ROOT"/tests/fixtures/weights/lpips/*.pth "$OUT/corpus_$t/" 2>/dev/null || true
  (cd "$OUT" && ./"fuzz_$t" -max_total_time="$SECS" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 "corpus_$t")
done
