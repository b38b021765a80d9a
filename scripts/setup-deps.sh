#!/usr/bin/env bash
# setup-deps.sh — installs the Debian packages lamac needs that are missing, then the test
# runtime onnxruntime-node into the repository's .rt/ folder (idempotent).
# Runs apt-get only when something is missing; needs root (or sudo) in that case.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ORT_VERSION=1.31.1
# python3-onnx (onnx.checker), python3-torch (tests/ref, the export round trip), nodejs + npm
# (onnxruntime-node, below) and chromium are test dependencies only (tests/check_onnx.c,
# tests/check_report_html.c; each says so when its runtime is missing); lamac itself needs
# none of them. chromium stays last.
PKGS=(build-essential cmake pkg-config libtorch-dev libhdf5-dev libyaml-dev libpng-dev
      libturbojpeg0-dev check libopenblas0-pthread libgloo-dev
      python3-onnx python3-torch
      chromium)
# node and npm: Debian's nodejs + npm unless a node with its own npm is already installed
# (nodesource's nodejs package ships npm and conflicts with Debian's npm)
command -v npm >/dev/null 2>&1 || PKGS=("${PKGS[@]:0:${#PKGS[@]}-1}" nodejs npm chromium)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "setup-deps: all packages present"
else
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  echo "setup-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# onnxruntime-node for tests/rt/ort_run.js (suite onnx). Its package carries the CPU
# binaries; its install script only fetches GPU extras (and fails offline), hence
# --ignore-scripts. Repo-local (.rt/ is git-ignored), not global.
if [[ -f "$ROOT/.rt/node_modules/onnxruntime-node/package.json" ]]; then
  echo "setup-deps: onnxruntime-node present in .rt/"
else
  # pinned: the version the ONNX tests were measured with. A failed install (no registry)
  # does not stop the build: the ONNX runtime checks then print that they did not run.
  echo "setup-deps: installing onnxruntime-node@$ORT_VERSION into .rt/"
  mkdir -p "$ROOT/.rt"
  npm install --prefix "$ROOT/.rt" --ignore-scripts --no-audit --no-fund "onnxruntime-node@$ORT_VERSION" ||
    echo "setup-deps: WARNING: npm could not install onnxruntime-node; the onnxruntime checks will not run" >&2
fi
