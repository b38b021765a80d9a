#!/bin/sh
# download-weights.sh — fetch the pretrained files lamac looks up (DESIGN §6) from their
# official URLs into $TORCH_HOME (default $XDG_CACHE_HOME/torch, else ~/.cache/torch), where
# the official LaMa code and torch.hub keep them, and check their sha256.
#
#   scripts/download-weights.sh [NAME...]     NAME: resnet_pl (default set: all of them)
#                                                   resnet50-imagenet vgg19 vgg16 inception
#
# Files (path under $TORCH_HOME, URL, what uses it):
#   ade20k/ade20k-resnet50dilated-ppm_deepsup/encoder_epoch_20.pth   resnet_pl (HRF perceptual
#       loss, lama-fourier / big-lama), URL from the official LaMa README
#   hub/checkpoints/resnet50-imagenet.pth   resnet_pl with segmentation: false (the official
#       models/ade20k/resnet.py downloads it into ./pretrained/; lamac looks in both places)
#   hub/checkpoints/vgg19-dcbb9e9d.pth      VGG19 perceptual loss (torchvision vgg19)
#   hub/checkpoints/vgg16-397923af.pth      LPIPS backbone (torchvision vgg16)
#   hub/checkpoints/pt_inception-2015-12-05-6726825d.pth   FID Inception (pytorch-fid; URL as
#       in the official saicinpainting/evaluation/losses/fid/inception.py)
#
# Hashes: torchvision and pytorch-fid name their files with the first 8 hex digits of the
# file's sha256 (torch.hub's check_hash convention); those prefixes are checked and a
# mismatch is refused. The CSAIL files (ade20k encoder, resnet50-imagenet) have no published
# hash: the script prints their sha256 and keeps them (lamac logs the path and size of what it
# loads). An existing file is checked, not downloaded again.
set -eu

TH="${TORCH_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/torch}"

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# fetch URL DEST SHA256_PREFIX ("" = unknown: print the hash, don't refuse)
fetch() {
    url=$1 dest=$2 want=$3
    mkdir -p "$(dirname "$dest")"
    if [ ! -f "$dest" ]; then
        echo "download $url -> $dest"
        tmp="$dest.part.$$"
        if command -v curl >/dev/null 2>&1; then
            curl -fL --retry 3 -o "$tmp" "$url" || { rm -f "$tmp"; echo "error: download failed: $url" >&2; return 1; }
        elif command -v wget >/dev/null 2>&1; then
            wget -O "$tmp" "$url" || { rm -f "$tmp"; echo "error: download failed: $url" >&2; return 1; }
        else
            echo "error: neither curl nor wget is installed" >&2
            return 1
        fi
        mv "$tmp" "$dest"
    fi
    got=$(sha256_of "$dest")
    if [ -n "$want" ]; then
        case "$got" in
        "$want"*) echo "ok   $dest  sha256 $got (prefix $want matches)" ;;
        *)  echo "error: $dest: sha256 $got does not start with $want; the file is corrupt or" \
                 "not the official one (delete it and run again)" >&2
            return 1 ;;
        esac
    else
        echo "ok   $dest  sha256 $got (no published hash: not checked)"
    fi
}

get() {
    case "$1" in
    resnet_pl)
        fetch http://sceneparsing.csail.mit.edu/model/pytorch/ade20k-resnet50dilated-ppm_deepsup/encoder_epoch_20.pth \
              "$TH/ade20k/ade20k-resnet50dilated-ppm_deepsup/encoder_epoch_20.pth" "" ;;
    resnet50-imagenet)
        fetch http://sceneparsing.csail.mit.edu/model/pretrained_resnet/resnet50-imagenet.pth \
              "$TH/hub/checkpoints/resnet50-imagenet.pth" "" ;;
    vgg19)
        fetch https://download.pytorch.org/models/vgg19-dcbb9e9d.pth \
              "$TH/hub/checkpoints/vgg19-dcbb9e9d.pth" dcbb9e9d ;;
    vgg16)
        fetch https://download.pytorch.org/models/vgg16-397923af.pth \
              "$TH/hub/checkpoints/vgg16-397923af.pth" 397923af ;;
    inception)
        fetch https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth \
              "$TH/hub/checkpoints/pt_inception-2015-12-05-6726825d.pth" 6726825d ;;
    *)  echo "error: unknown name '$1' (resnet_pl resnet50-imagenet vgg19 vgg16 inception)" >&2
        return 2 ;;
    esac
}

[ $# -gt 0 ] || set -- resnet_pl resnet50-imagenet vgg19 vgg16 inception
echo "TORCH_HOME: $TH"
status=0
for n in "$@"; do get "$n" || status=1; done
exit $status
