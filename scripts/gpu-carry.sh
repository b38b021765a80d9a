#!/usr/bin/env bash
# gpu-carry.sh — prepares, on a machine with Debian's apt, what bench/gpu_session.sh needs on a
# GPU machine that reaches no package registry: .debs/ (the C dependencies lamac builds
# against: HDF5, libyaml, libpng, libjpeg-turbo, Check, Gloo's headers; Debian bookworm
# packages, unpacked there with dpkg -x) and .lama/ (the official code for the side-by-side
# benchmark: saicinpainting/, configs/ and models/ of the checkout $LAMA_REF names). Both folders are
# git-ignored; pass them along with the working tree (the device tool's `carry`).
#
#   LAMA_REF=/path/to/lama scripts/gpu-carry.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${LAMA_REF:?set LAMA_REF to an extracted checkout of advimman/lama}"
DEBS=(libhdf5-dev libhdf5-103-1 libhdf5-hl-100 libsz2 libaec0 libyaml-dev libyaml-0-2
      libturbojpeg0-dev libturbojpeg0 libpng-dev libpng16-16 check libsubunit-dev libsubunit0
      libgloo-dev)
rm -rf "$ROOT/.debs" "$ROOT/.lama"
mkdir -p "$ROOT/.debs" "$ROOT/.lama"
(cd "$ROOT/.debs" && apt-get download "${DEBS[@]}")
cp -r "$LAMA_REF/saicinpainting" "$LAMA_REF/configs" "$LAMA_REF/models" "$ROOT/.lama/"
echo "gpu-carry: $(ls "$ROOT/.debs" | wc -l) packages in .debs ($(du -sh "$ROOT/.debs" | cut -f1)), official code in .lama ($(du -sh "$ROOT/.lama" | cut -f1))"
