#!/bin/sh
# eval_vs_official.sh — `lamac bench eval` and the official metrics (tests/ref/
# bench_official_eval.py: SSIMScore, LPIPSScore(vgg), FIDScore from $LAMA_REF on Debian's
# python3-torch) timed on the same workload, interleaved (A B A B ...) so both see the same load
# on a shared machine: N random SxS image pairs, SSIM and LPIPS one image at a time, FID
# Inception features of prediction + original in batches of B, random backbone weights, the
# same thread count. Prints every round, the median images/s of each side per metric, their
# ratio (ours / official: > 1 means lamac is faster) and the load average. Never passes or
# fails on time.
#
#   LAMA_REF=/path/to/lama bench/eval_vs_official.sh [ROUNDS=3] [N=16] [SIZE=256] [BATCH=8]
#   e.g. bench/eval_vs_official.sh 3                  16 images at 256x256, batch 8, 2 threads
#        THREADS=1 bench/eval_vs_official.sh 1 2 64 2 a quick check
# Env: LAMAC (default build/lamac), THREADS (2), PYTHON (/usr/bin/python3),
#      WARMUP (1: pairs / full FID batches both sides run untimed first, `lamac bench eval
#      --warmup` and the official script's --warmup),
#      OFFICIAL_PASSIVE=1 (run the official side with OMP_WAIT_POLICY=PASSIVE, which lamac sets
#      for itself unless OMP_WAIT_POLICY is set; default: libgomp's own spin-then-sleep).
set -eu
ROUNDS=${1:-3}
N=${2:-16}
SIZE=${3:-256}
BATCH=${4:-8}
LAMAC=${LAMAC:-build/lamac}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-1}
PY=${PYTHON:-/usr/bin/python3}
: "${LAMA_REF:?set LAMA_REF to the official checkout}"
export LAMA_REF
HERE=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# images/s of one metric line ("  ssim   123.4 images/s ...") in file $2
ips() { grep -h "^  $1 " "$2" | sed 's/.* \([0-9.][0-9.]*\) images\/s.*/\1/'; }
METRICS="ssim lpips fid all"
label() { case $1 in ssim) echo ssim;; lpips) echo 'lpips (vgg16)';; fid) echo 'fid features';; all) echo 'all three';; esac; }
echo "load average before: $(cat /proc/loadavg)"
r=1
while [ "$r" -le "$ROUNDS" ]; do
    "$LAMAC" bench eval --images "$N" --size "$SIZE" --batch "$BATCH" --threads "$THREADS" \
        --warmup "$WARMUP" > "$TMP/ours.$r"
    ${OFFICIAL_PASSIVE:+env OMP_WAIT_POLICY=PASSIVE} "$PY" "$HERE/tests/ref/bench_official_eval.py" --images "$N" --size "$SIZE" --batch "$BATCH" \
        --threads "$THREADS" --warmup "$WARMUP" > "$TMP/off.$r"
    line="round $r (images/s, ours / official):"
    for m in $METRICS; do
        l=$(label "$m")
        line="$line $m $(ips "$l" "$TMP/ours.$r") / $(ips "$l" "$TMP/off.$r"),"
    done
    echo "$line load $(cut -d' ' -f1 /proc/loadavg)"
    r=$((r + 1))
done
echo "load average after: $(cat /proc/loadavg)"
med() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else printf "%.3f\n", (v[NR/2]+v[NR/2+1])/2}'; }
echo "$N images ${SIZE}x${SIZE}, FID batch $BATCH, $THREADS threads, $ROUNDS rounds, warm-up $WARMUP${OFFICIAL_PASSIVE:+, official OMP_WAIT_POLICY=PASSIVE}"
head -1 "$TMP/ours.1" | sed 's/^/ours: /'
head -1 "$TMP/off.1" | sed 's/^/official: /'
grep -h '^BLAS' "$TMP/off.1" | sed 's/^/official /' || true
grep -h '^peak RSS' "$TMP/off.1" | sed 's/^/official /' || true
printf '%-16s %12s %12s %10s\n' metric "ours img/s" "official" "ours/off"
for m in $METRICS; do
    l=$(label "$m")
    O=$(for f in "$TMP"/ours.*; do ips "$l" "$f"; done | med)
    F=$(for f in "$TMP"/off.*; do ips "$l" "$f"; done | med)
    awk -v l="$l" -v o="$O" -v f="$F" 'BEGIN {printf "%-16s %12s %12s %9.2fx\n", l, o, f, o / f}'
done
if [ -n "${KEEP:-}" ]; then cp "$TMP"/ours.1 "$KEEP.ours"; cp "$TMP"/off.1 "$KEEP.off"; fi
