#!/bin/sh
# export_runtimes.sh — one model, four ways to run it at S x S, timed on this machine in one
# run, rounds interleaved (A B C A B C ...) so all see the same load:
#   lamac predict          (the CLI: process start, weights load, forward, PNG write)
#   lamac model forward    (the generator's eval forward alone, same threads)
#   onnxruntime-node       (lamac export --format onnx, --fft matmul and --fft dft-op:
#                           session creation, then one run)
#   torch.jit.load         (lamac export --format torchscript, called as IOPaint calls it)
# The model: `lamac model init` of CONFIG (seeded random weights: the time does not depend on
# the values). Prints every round and the medians. Never passes or fails on time.
#   bench/export_runtimes.sh [ROUNDS]      e.g. bench/export_runtimes.sh 3
# Env: LAMAC (build/lamac), CONFIG (configs/training/big-lama.yaml), S (512), THREADS (2).
#      Needs node + .rt/ and /usr/bin/python3 with torch
#      (scripts/setup-deps.sh).
set -eu
ROUNDS=${1:-3}
LAMAC=${LAMAC:-build/lamac}
CONFIG=${CONFIG:-configs/training/big-lama.yaml}
S=${S:-512}
THREADS=${THREADS:-2}
PY=${PYTHON:-/usr/bin/python3}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export LAMAC_RT_THREADS=$THREADS
echo "load average before: $(cat /proc/loadavg)"
"$LAMAC" model init "$CONFIG" --out "$TMP/w.safetensors"
t0=$(date +%s.%N)
"$LAMAC" export "$TMP/w.safetensors" --format onnx --size "$S" --out "$TMP/m.onnx" >/dev/null
t1=$(date +%s.%N)
"$LAMAC" export "$TMP/w.safetensors" --format torchscript --out "$TMP/m.pt" >/dev/null
t2=$(date +%s.%N)
"$LAMAC" export "$TMP/w.safetensors" --format onnx --size "$S" --fft dft-op --out "$TMP/d.onnx" >/dev/null
el() { echo "$1 $2" | awk '{printf "%.2f", $1 - $2}'; }
echo "export: onnx $(el "$t1" "$t0") s, $(stat -c %s "$TMP/m.onnx") bytes; torchscript $(el "$t2" "$t1") s, $(stat -c %s "$TMP/m.pt") bytes; onnx dft-op $(stat -c %s "$TMP/d.onnx") bytes"
# the inputs: an S x S picture with a box hole, as PNG (predict) and raw (the runners)
"$PY" - "$TMP" "$S" <<'PYEOF'
import sys, zlib, struct
import numpy as np
d, S = sys.argv[1], int(sys.argv[2])
y, x = np.mgrid[0:S, 0:S]
img = np.stack([(127 + 100 * np.sin(0.05 * (x + 1) * (k + 1) + 0.03 * y)) for k in range(3)], -1).astype(np.uint8)
mask = np.zeros((S, S), np.uint8); mask[S // 4:S // 2, S // 3:2 * S // 3] = 255
def png(path, a):
    c = 1 if a.ndim == 2 else 3
    raw = b"".join(b"\0" + a[r].tobytes() for r in range(a.shape[0]))
    ch = lambda t, p: struct.pack(">I", len(p)) + t + p + struct.pack(">I", zlib.crc32(t + p))
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + ch(b"IHDR", struct.pack(">IIBBBBB", S, S, 8, 0 if c == 1 else 2, 0, 0, 0))
                           + ch(b"IDAT", zlib.compress(raw)) + ch(b"IEND", b""))
png(f"{d}/img.png", img); png(f"{d}/mask.png", mask)
img.tofile(f"{d}/img.u8"); mask.tofile(f"{d}/mask.u8")
(img.transpose(2, 0, 1)[None].astype(np.float32) / 255).tofile(f"{d}/img.f32")
(mask[None, None].astype(np.float32) / 255).tofile(f"{d}/mask.f32")
PYEOF
secs() { s=$(date +%s.%N); "$@" > "$TMP/last.out" 2>&1; e=$(date +%s.%N); echo "$e $s" | awk '{printf "%.2f", $1 - $2}'; }
r=1
while [ "$r" -le "$ROUNDS" ]; do
    p=$(secs "$LAMAC" predict --model "$TMP/w.safetensors" --image "$TMP/img.png" --mask "$TMP/mask.png" \
        --out "$TMP/out.png" --threads "$THREADS" --quiet)
    f=$(OMP_NUM_THREADS=$THREADS "$LAMAC" model forward "$CONFIG" --size "${S}x${S}" 2>&1 | sed -n 's/.* in \([0-9.]*\) s$/\1/p' | head -1)
    o=$(secs node tests/rt/ort_run.js "$TMP/m.onnx" "$TMP/img.f32" "$TMP/mask.f32" 1 "$S" "$TMP/o.f32")
    ol=$(cat "$TMP/last.out")
    d=$(secs node tests/rt/ort_run.js "$TMP/d.onnx" "$TMP/img.f32" "$TMP/mask.f32" 1 "$S" "$TMP/d.f32")
    dl=$(cat "$TMP/last.out")
    t=$(secs "$PY" tests/rt/ts_run.py "$TMP/m.pt" "$TMP/img.u8" "$TMP/mask.u8" "$S" "$S" "$TMP/t.f32")
    tl=$(cat "$TMP/last.out")
    echo "round $r: lamac predict $p s | lamac forward ${f:-?} s | onnxruntime $o s ($ol) | dft-op $d s ($dl) | torch.jit $t s ($tl)"
    ms() { echo "$1" | sed -n 's/.*run \([0-9.]*\) ms.*/\1/p'; }
    echo "$p $f $o $t $(ms "$ol") $(ms "$tl") $d $(ms "$dl")" >> "$TMP/rows"
    r=$((r + 1))
done
med() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
echo "medians over $ROUNDS rounds, $CONFIG at ${S}x${S}, $THREADS threads:"
echo "  lamac predict (whole CLI)      $(cut -d' ' -f1 "$TMP/rows" | med) s"
echo "  lamac generator forward        $(cut -d' ' -f2 "$TMP/rows" | med) s"
echo "  onnxruntime-node process       $(cut -d' ' -f3 "$TMP/rows" | med) s (run alone: $(cut -d' ' -f5 "$TMP/rows" | med) ms)"
echo "  onnxruntime-node, dft-op file  $(cut -d' ' -f7 "$TMP/rows" | med) s (run alone: $(cut -d' ' -f8 "$TMP/rows" | med) ms)"
echo "  torch.jit.load process         $(cut -d' ' -f4 "$TMP/rows" | med) s (run alone: $(cut -d' ' -f6 "$TMP/rows" | med) ms)"
echo "load average after: $(cat /proc/loadavg)"
