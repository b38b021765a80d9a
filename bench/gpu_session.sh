#!/usr/bin/env bash
# gpu_session.sh — everything issue 21 measures on a GPU, in one run that fits a 15-minute
# device loan (each part time-boxed): build lamac against the machine's PyTorch, the CUDA
# parity test, the benchmark matrix against the official iteration, the switches on and off,
# and a short training run's host-read count. Every figure goes to files under $OUT (at most
# 4 files: env.txt, build.txt, parity.txt, bench.txt) plus summary.txt, the lines that matter.
#
# Prepare here (a machine with apt): LAMA_REF=/path/to/lama scripts/gpu-carry.sh
# Run there, from the repository root, with .debs and .lama carried along:
#   OUT=/some/dir bash bench/gpu_session.sh            (OUT defaults to ./gpu-out)
# Env: JOBS (16), ITERS (5), QUICK=1 (a CPU dry run: --size 32, batch 1, 1 iteration, no build
# of its own: LAMAC_BUILD=build).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT=${OUT:-$ROOT/gpu-out}
mkdir -p "$OUT"
JOBS=${JOBS:-16}
ITERS=${ITERS:-5}
DEVICE=${DEVICE:-cuda}
BUILD=${LAMAC_BUILD:-build-cuda}
SUM=$OUT/summary.txt
: >"$SUM"
say() { echo "$*" | tee -a "$SUM"; }
t0=$(date +%s)
elapsed() { echo $(($(date +%s) - t0)); }

# ---- 1. the machine ----
{
    date -u; uname -a; nvidia-smi 2>&1 | head -15
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "devices", torch.cuda.device_count(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")' 2>&1
    cmake --version 2>&1 | head -1; nvcc --version 2>&1 | tail -1; gcc --version 2>&1 | head -1
} >"$OUT/env.txt" 2>&1
say "machine: $(grep -m1 '^torch' "$OUT/env.txt")"

# ---- 2. the C dependencies (Debian packages carried in .debs; files already there are kept) ----
if [ -z "${QUICK:-}" ]; then
    if ls .debs/*.deb >/dev/null 2>&1; then
        rm -rf /tmp/deps && mkdir -p /tmp/deps
        for f in .debs/*.deb; do dpkg -x "$f" /tmp/deps || say "deps: cannot unpack $f"; done
        cp -rn /tmp/deps/usr/. /usr/ 2>/dev/null
        [ -d /tmp/deps/lib ] && cp -rn /tmp/deps/lib/. /lib/ 2>/dev/null
        ldconfig 2>/dev/null
    else
        say "deps: no .debs folder (scripts/gpu-carry.sh prepares it): the build needs HDF5, libyaml, libpng, libjpeg-turbo, Check installed"
    fi
    for h in hdf5/serial/hdf5.h yaml.h png.h turbojpeg.h check.h gloo/context.h; do
        [ -e "/usr/include/$h" ] || [ -e "/usr/include/x86_64-linux-gnu/$h" ] || say "deps: missing header $h"
    done
fi

# ---- 3. build against the machine's PyTorch (5 minutes at most) ----
if [ -z "${QUICK:-}" ]; then
    TORCH_CMAKE=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null)
    NCCL_HOME=$(python3 -c 'import nvidia.nccl as m; print(list(m.__path__)[0])' 2>/dev/null) && export NCCL_HOME
    {
        timeout 60 cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TORCH_CMAKE" &&
            timeout 240 cmake --build "$BUILD" -j "$JOBS"
    } >"$OUT/build.txt" 2>&1
    brc=$?
    say "build: rc $brc after $(elapsed) s ($(grep -h 'c10d\|LT_WITH_CUDA' "$OUT/build.txt" | tr '\n' ' '))"
    if [ $brc != 0 ]; then say "build failed: $(grep -m3 -E 'error|Error' "$OUT/build.txt" | tr '\n' ' ')"; exit 1; fi
fi
LAMAC=$ROOT/$BUILD/lamac

# ---- 4. the CUDA parity test (tests/check_step.c test_cli_step_parity_cuda, in the step suite) ----
(cd "$BUILD" && CK_RUN_SUITE=step LAMAC_BIN="$LAMAC" timeout 240 ./lamac_tests) >"$OUT/parity.txt" 2>&1
say "parity (step suite): $(grep -E '^[0-9]+%: Checks' "$OUT/parity.txt") | $(grep -m1 'lamac step --device cuda' "$OUT/parity.txt")"
grep -E ':F:|:E:' "$OUT/parity.txt" | head -5 | tee -a "$SUM"

# ---- 5. benchmarks (lamac and the official iteration interleaved; time-boxed) ----
B=$OUT/bench.txt
: >"$B"
SIZE=256
BATCHES="1 8 16"
STEPS=200
[ -n "${QUICK:-}" ] && SIZE=32 BATCHES=1 ITERS=1 STEPS=10
export LAMA_REF=${LAMA_REF:-$ROOT/.lama}
bench() { # label, timeout, command...
    local label=$1 lim=$2
    shift 2
    echo "==== $label" >>"$B"
    timeout "$lim" "$@" >>"$B" 2>&1 || echo "(rc $?: stopped or failed)" >>"$B"
}
for cfg in lama-fourier:9 big-lama:18; do
    name=${cfg%%:*} blocks=${cfg##*:}
    for bs in $BATCHES; do
        bench "$name batch $bs vs official" 100 env LAMAC="$LAMAC" DEVICE="$DEVICE" PYTHON="${PYTHON:-$(command -v python3)}" CONFIG="configs/training/$name.yaml" \
            BLOCKS="$blocks" BATCH="$bs" SIZE="$SIZE" bench/step_vs_official.sh 1 "$ITERS"
        say "$name batch $bs: $(awk "/^==== $name batch $bs vs/{f=1} f&&/^(ours|official):/{printf \"%s | \", \$0} f&&/^speed-up/{print; f=0}" "$B")"
    done
done
for sw in "trainer.tf32=false" "trainer.tf32=true" "trainer.channels_last=true" "trainer.channels_last=false"; do
    bench "lama-fourier batch 8 $sw" 60 "$LAMAC" bench step configs/training/lama-fourier.yaml --device "$DEVICE" \
        --batch-size $([ -n "${QUICK:-}" ] && echo 1 || echo 8) --size "$SIZE" --iters "$ITERS" --warmup 2 "$sw"
    say "switch $sw: $(awk "/^==== lama-fourier batch 8 $sw\$/{f=1} f&&/^(seconds per|host seconds|samples|GPU memory)/{printf \"%s | \", \$0} f&&/^profile/{print \"\"; f=0}" "$B")"
done
bench "host reads: bench step --checks immediate" 60 "$LAMAC" bench step configs/training/lama-fourier.yaml --device "$DEVICE" \
    --batch-size 8 --size "$SIZE" --iters "$ITERS" --warmup 2 --checks immediate
say "immediate checks: $(awk '/^==== host reads/{f=1} f&&/^(seconds per|host seconds|host reads)/{printf "%s | ", $0} f&&/^profile/{print ""; f=0}' "$B")"

# ---- 6. a short training run: the host reads between log steps, prefetch on and off ----
TR=/tmp/gpu-train
rm -rf "$TR"
if timeout 60 "$LAMAC" synth "$TR/data" --train 64 --val 8 --test 8 --train-size 256 --size 256 >>"$B" 2>&1; then
    for pf in true false; do
        bench "train demo device_prefetch=$pf" 90 "$LAMAC" train configs/training/demo.yaml location.data_root_dir="$TR/data" \
            --device "$DEVICE" trainer.kwargs.max_steps=$STEPS trainer.kwargs.log_every_n_steps=50 data.train.device_prefetch=$pf \
            --run-dir "$TR/run-$pf"
        say "train device_prefetch=$pf: $(grep -h '^done at step' "$B" | tail -1)"
    done
fi
say "total $(elapsed) s"
