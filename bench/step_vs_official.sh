#!/bin/sh
# step_vs_official.sh — `lamac bench step` and the official iteration (tests/ref/
# bench_official_step.py: tests/ref/harness.py's Step on Debian's python3-torch) timed side by side, interleaved
# (A B A B ...) so both see the same load on a shared machine. Prints every iteration, the
# median of each side, their ratio, peak RSS and the load average. Never passes or fails on time.
#
#   LAMA_REF=/path/to/lama bench/step_vs_official.sh [ROUNDS] [ITERS] [-- lamac/official flags]
#   e.g. bench/step_vs_official.sh 3 2                      lama-fourier, batch 1
#        BATCH=4 bench/step_vs_official.sh 2 2              batch 4
#        CONFIG=configs/training/big-lama.yaml BLOCKS=18 bench/step_vs_official.sh 2 2
#        DEVICE=cuda BATCH=8 bench/step_vs_official.sh 3 5        on a GPU (both sides on cuda)
# Env: LAMAC (default build/lamac), CONFIG, BATCH (1), BLOCKS (9), THREADS (2), SIZE (256),
#      DEVICE (cpu; cuda or cuda:N: both sides there, the official side synchronised around each
#      timed iteration; GPU memory peaks printed),
#      LAMAC_FLAGS (extra arguments for lamac bench step, e.g.
#      "+training_model.reuse_generator_output=true"), OFFICIAL_PASSIVE=1 (also time the official
#      iteration with OMP_WAIT_POLICY=PASSIVE, lamac's own default, in each round).
set -eu
ROUNDS=${1:-3}
ITERS=${2:-2}
LAMAC=${LAMAC:-build/lamac}
CONFIG=${CONFIG:-configs/training/lama-fourier.yaml}
BATCH=${BATCH:-1}
BLOCKS=${BLOCKS:-9}
THREADS=${THREADS:-2}
SIZE=${SIZE:-256}
DEVICE=${DEVICE:-cpu}
PY=${PYTHON:-/usr/bin/python3}
: "${LAMA_REF:?set LAMA_REF to the official checkout}"
export LAMA_REF
HERE=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "load average before: $(cat /proc/loadavg)"
r=1
while [ "$r" -le "$ROUNDS" ]; do
    "$LAMAC" bench step "$CONFIG" data.batch_size="$BATCH" --iters "$ITERS" --warmup 1 \
        --threads "$THREADS" --size "$SIZE" --device "$DEVICE" ${LAMAC_FLAGS:-} > "$TMP/ours.$r"
    "$PY" "$HERE/tests/ref/bench_official_step.py" --iters "$ITERS" --warmup 1 --threads "$THREADS" \
        --size "$SIZE" --batch-size "$BATCH" --blocks "$BLOCKS" --device "$DEVICE" > "$TMP/off.$r"
    if [ -n "${OFFICIAL_PASSIVE:-}" ]; then
        OMP_WAIT_POLICY=PASSIVE "$PY" "$HERE/tests/ref/bench_official_step.py" --iters "$ITERS" --warmup 1 \
            --threads "$THREADS" --size "$SIZE" --batch-size "$BATCH" --blocks "$BLOCKS" > "$TMP/offp.$r"
    fi
    echo "round $r: ours $(grep -h 'iteration [0-9]*:' "$TMP/ours.$r" | awk '{printf "%s ", $3}')" \
         "| official $(grep -h 'iteration [0-9]*:' "$TMP/off.$r" | awk '{printf "%s ", $3}')" \
         "${OFFICIAL_PASSIVE:+| official passive $(grep -h 'iteration [0-9]*:' "$TMP/offp.$r" | awk '{printf "%s ", $3}')}" \
         "| load $(cut -d' ' -f1 /proc/loadavg)"
    r=$((r + 1))
done
echo "load average after: $(cat /proc/loadavg)"
med() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else printf "%.3f\n", (v[NR/2]+v[NR/2+1])/2}'; }
O=$(cat "$TMP"/ours.* | grep 'iteration [0-9]*:' | awk '{print $3}' | med)
F=$(cat "$TMP"/off.* | grep 'iteration [0-9]*:' | awk '{print $3}' | med)
OC=$(cat "$TMP"/ours.* | grep 'iteration [0-9]*:' | sed 's/.*CPU //; s/ s)//' | med)
FC=$(cat "$TMP"/off.* | grep 'iteration [0-9]*:' | sed 's/.*CPU //; s/ s)//' | med)
OR=$(grep -h 'peak RSS' "$TMP"/ours.* | awk '{print $3}' | sort -g | tail -1)
FR=$(grep -h 'peak RSS' "$TMP"/off.* | awk '{print $3}' | sort -g | tail -1)
echo "config $CONFIG, batch $BATCH x 3 x $SIZE x $SIZE, $THREADS threads, device $DEVICE, $ROUNDS rounds x $ITERS iterations"
grep -h '^BLAS' "$TMP/ours.1" | sed 's/^/ours /'
grep -h '^BLAS' "$TMP/off.1" | sed 's/^/official /'
OG=$(grep -h '^GPU memory: peak' "$TMP"/ours.* | awk '{print $5}' | sort -g | tail -1)
FG=$(grep -h '^GPU memory: peak' "$TMP"/off.* | awk '{print $5}' | sort -g | tail -1)
OH=$(grep -h '^host reads per iteration' "$TMP/ours.1" | awk '{print $5 "-" $7}')
echo "ours:     median $O s/iter (CPU $OC s), $(awk -v b="$BATCH" -v t="$O" 'BEGIN {printf "%.2f", b / t}') samples/s, peak RSS $OR MiB${OG:+, GPU peak $OG MiB}, host reads per iteration $OH"
echo "official: median $F s/iter (CPU $FC s), $(awk -v b="$BATCH" -v t="$F" 'BEGIN {printf "%.2f", b / t}') samples/s, peak RSS $FR MiB${FG:+, GPU peak $FG MiB}"
echo "(CPU s: the host thread's time per iteration; on a GPU, a CPU time near the wall time means the host is the limit)"
awk -v o="$O" -v f="$F" -v oc="$OC" -v fc="$FC" 'BEGIN {printf "speed-up (official / ours): wall %.2fx, CPU %.2fx\n", f / o, fc / oc}'
if [ -n "${OFFICIAL_PASSIVE:-}" ]; then
    P=$(cat "$TMP"/offp.* | grep 'iteration [0-9]*:' | awk '{print $3}' | med)
    PR=$(grep -h 'peak RSS' "$TMP"/offp.* | awk '{print $3}' | sort -g | tail -1)
    echo "official, OMP_WAIT_POLICY=PASSIVE: median $P s/iter, peak RSS $PR MiB"
    awk -v o="$O" -v p="$P" 'BEGIN {printf "speed-up (official passive / ours): wall %.2fx\n", p / o}'
fi
if [ -n "${KEEP:-}" ]; then cp "$TMP"/ours.1 "$KEEP.ours"; cp "$TMP"/off.1 "$KEEP.off"; fi
