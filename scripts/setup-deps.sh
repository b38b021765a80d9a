#!/usr/bin/env bash
# setup-deps.sh — installs the Debian packages lamac needs that are missing (idempotent).
# Runs apt-get only when something is missing; needs root (or sudo) in that case.
set -euo pipefail
# chromium stays last: it is a test dependency only (tests/check_report_html.c loads report.html
# in headless chromium and fails, saying so, when it is missing); lamac itself does not need it.
PKGS=(build-essential cmake pkg-config libtorch-dev libhdf5-dev libyaml-dev libpng-dev
      libturbojpeg0-dev check libopenblas0-pthread libgloo-dev
      chromium)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "setup-deps: all packages present"
  exit 0
fi
SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo"
echo "setup-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
