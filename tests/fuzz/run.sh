#!/usr/bin/env bash
# run.sh — builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a while.
# Usage (from anywhere): tests/fuzz/run.sh [seconds per target, default 60] [target...]
# Seeds come from tests/fixtures/weights (torch.save / legacy / safetensors files),
# tests/fixtures/export (torch.save's and lamac's own writer's .pth/.ckpt) and tests/fuzz/seeds
# (small files written by `lamac export`: a state_dict .pth and a lama-dir best.ckpt; rebuild with
#   lamac export tests/fixtures/weights/lightning.ckpt --format pth --with-discr --out tests/fuzz/seeds/lamac_state_dict.pth
#   lamac export tests/fixtures/weights/lightning.ckpt --format lama-dir --with-discr \
#       --config tests/fixtures/export/run/config.yaml --out DIR && cp DIR/models/best.ckpt tests/fuzz/seeds/lamac_best.ckpt).
# Crashes are written to build-fuzz/crash-*.
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
  cp "$ROOT"/tests/fixtures/export/*.pth "$ROOT"/tests/fixtures/export/*.ckpt "$ROOT"/tests/fuzz/seeds/* "$OUT/corpus_$t/" 2>/dev/null || true
  (cd "$OUT" && ./"fuzz_$t" -max_total_time="$SECS" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 "corpus_$t")
done
