#!/usr/bin/env bash
# demo.sh — the main job on the embedded default (configs/training/demo.yaml): synthesise a
# periodic-texture dataset into HDF5 shards, train the small FFC model on the CPU for a few
# minutes, evaluate it on held-out images with thick masks beside the untrained model and two
# naive fills, print the table, and write the run's report.html (with its evaluation).
set -euo pipefail
BUILD=${1:-build}
LAMAC="$BUILD/lamac"
OUT=${LAMAC_DEMO_OUT:-demo-run}
CFG=configs/training/demo.yaml
THREADS=${LAMAC_DEMO_THREADS:-2}
rm -rf "$OUT/data" "$OUT/run" "$OUT/untrained" "$OUT/eval"
mkdir -p "$OUT"

echo "== lamac demo: $("$LAMAC" --version), output in $OUT/"
echo "== 1. synthetic periodic textures -> $OUT/data (train shards, val and held-out test pairs, thick masks)"
"$LAMAC" synth "$OUT/data"
export LAMAC_DATA="$OUT/data"

echo "== 2. the untrained model (same seed, 0 steps) -> $OUT/untrained"
"$LAMAC" train "$CFG" trainer.kwargs.max_steps=0 --run-dir "$OUT/untrained" --threads "$THREADS" --no-tb 2>&1 | tail -n 1

echo "== 3. training ($CFG: FFC ngf 16, 2 blocks, 2 downsamplings, 64 px crops, batch 4, 5400 steps) -> $OUT/run"
"$LAMAC" train "$CFG" --run-dir "$OUT/run" --threads "$THREADS"

echo "== 4. held-out evaluation ($OUT/data/test, thick masks) -> $OUT/run/eval (trained), $OUT/eval (the others)"
"$LAMAC" fill --images "$OUT/data/test" --out "$OUT/eval/mean_fill/pred" --method mean >/dev/null
"$LAMAC" fill --images "$OUT/data/test" --out "$OUT/eval/blur_fill/pred" --method blur >/dev/null
for m in mean_fill blur_fill; do
  "$LAMAC" eval --images "$OUT/data/test" --predictions "$OUT/eval/$m/pred" --out "$OUT/eval/$m" \
    --no-lpips --no-fid --quiet --threads "$THREADS" >/dev/null
done
"$LAMAC" eval --model "$OUT/untrained" --images "$OUT/data/test" --out "$OUT/eval/untrained" \
  --no-lpips --no-fid --quiet --threads "$THREADS" >/dev/null
# the trained model's evaluation goes into the run directory, so its report.html shows it
"$LAMAC" eval --model "$OUT/run" --images "$OUT/data/test" --out "$OUT/run/eval" \
  --no-lpips --no-fid --quiet --threads "$THREADS" >/dev/null
"$LAMAC" report "$OUT/run" 2>/dev/null

evaldir() { if [[ $1 == run ]]; then echo "$OUT/run/eval"; else echo "$OUT/eval/$1"; fi; }
total() { grep "^$2,total," "$(evaldir "$1")/metrics.csv" | cut -d, -f3; }
echo
echo "held-out test set: $(ls "$OUT"/data/test/*_mask*.png | wc -l) images 64x64, thick masks (random_thick_256 scaled)"
printf "%-26s %10s %10s %10s\n" "method" "L1 (lower)" "SSIM" "PSNR"
for m in run untrained mean_fill blur_fill; do
  case $m in
    run) name="trained (lamac train)";; untrained) name="untrained (same init)";;
    mean_fill) name="naive: mean colour";; blur_fill) name="naive: diffusion (blur)";;
  esac
  printf "%-26s %10.4f %10.4f %10.2f\n" "$name" "$(total $m l1)" "$(total $m ssim)" "$(total $m psnr)"
done
echo
echo "run directory: $OUT/run (config.yaml, checkpoints/, metrics.jsonl, samples/, eval/, tb/: tensorboard --logdir $OUT/run/tb)"
echo "report: $OUT/run/report.html (training curves, sample grid, evaluation charts and examples; open it in a browser)"
