#!/usr/bin/env python3
"""bench_official_eval.py — times the OFFICIAL evaluation metrics (saicinpainting/evaluation,
imported from $LAMA_REF, never copied) on Debian's python3-torch, on the same workload as
`lamac bench eval` (cli/cmd_bench.c), so the two can be set side by side
(bench/eval_vs_official.sh):

  - SSIM: base_loss.py SSIMScore (losses/ssim.py SSIM, window 11, size_average=False), one image
    at a time: N pairs of random (1, 3, S, S) images;
  - LPIPS: base_loss.py LPIPSScore (losses/lpips.py PerceptualLoss, net-lin, vgg, v0.1,
    normalize=True, the real weights/lpips/vgg.pth linear layers), one image at a time, the same
    pairs;
  - FID features: base_loss.py FIDScore (losses/fid/inception.py InceptionV3([3]): bilinear
    resize to 299, 2x-1, pool3) on prediction + original, batches of B random (B, 3, S, S)
    images (the last one smaller when B does not divide N).

As in the official evaluator (evaluator.py), scores run under torch.no_grad() and are called as
score(pred, target); their per-image values go to numpy (individual_values) as there. Backbone
weights are random: torchvision's VGG16 and Inception v3 are built without a download (the
official code would fetch them) and every floating-point tensor of the VGG16 features and of the
Inception (weights, biases, BN statistics) is drawn from U(-0.05, 0.05) after manual_seed(1), as
`lamac bench eval` does: speed does not depend on the values.

Timing: `--warmup W` pairs (SSIM, LPIPS) and W batches (FID) first, untimed (W = 0 times the
very first calls too, as `lamac bench eval` does), then N images. Prints images/s per metric in
the line format of `lamac bench eval`, CPU seconds, peak RSS and the load average; never passes
or fails on time.

    LAMA_REF=/path/to/lama /usr/bin/python3 tests/ref/bench_official_eval.py \
        [--images 16] [--size 256] [--batch 8] [--threads T] [--warmup 1] [--seed 0]
"""
import argparse
import os
import resource
import sys
import time
import warnings

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # tests/ref: harness.py, official_eval.py
import harness  # noqa: E402
LAMA = harness.checkout()  # $LAMA_REF, checked
import official_eval  # noqa: E402  (tests/ref/official_eval.py: import stubs, $LAMA_REF on sys.path)

official_eval.install(LAMA)
# torchvision's notes on 'pretrained=' and Inception's init (construction only, untimed)
warnings.filterwarnings('ignore', category=UserWarning, module='torchvision')
warnings.filterwarnings('ignore', category=FutureWarning, module='torchvision')
from saicinpainting.evaluation.losses import base_loss as BL  # noqa: E402
from saicinpainting.evaluation.losses import lpips as LP  # noqa: E402
from saicinpainting.evaluation.losses.fid import inception as INC  # noqa: E402


def build_scores(vgg_lin):
    """The official SSIMScore, LPIPSScore(vgg) and FIDScore, built with random backbones (no
    download): torchvision's constructors are wrapped only to skip the pretrained files."""
    vgg16_orig = LP.tv.vgg16
    inc_orig, url_orig = INC.models.inception_v3, INC.load_state_dict_from_url
    built = {}

    def inception_no_download(*a, **k):
        built['inc'] = inc_orig(*a, **k)
        return built['inc']
    LP.tv.vgg16 = lambda pretrained=False, **k: vgg16_orig(weights=None)
    INC.models.inception_v3 = inception_no_download
    INC.load_state_dict_from_url = lambda *a, **k: built['inc'].state_dict()
    try:
        BL.FIDScore._MODEL = None
        scores = (BL.SSIMScore(), BL.LPIPSScore(model_path=vgg_lin, use_gpu=False), BL.FIDScore())
    finally:
        LP.tv.vgg16 = vgg16_orig
        INC.models.inception_v3, INC.load_state_dict_from_url = inc_orig, url_orig
    # as lamac bench eval: every float tensor of the backbones ~ U(-0.05, 0.05)
    torch.manual_seed(1)
    for backbone in (scores[1].score.model.net.net, scores[2].model):
        for t in backbone.state_dict().values():
            if t.is_floating_point():
                t.uniform_(-0.05, 0.05)
    return scores


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--images', type=int, default=16)
    ap.add_argument('--size', type=int, default=256)
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--threads', type=int, default=0, help='torch.set_num_threads (0: torch default)')
    ap.add_argument('--warmup', type=int, default=1, help='untimed pairs / FID batches first')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--vgg-lin', default=os.path.join(HERE, '..', '..', 'weights', 'lpips', 'vgg.pth'))
    a = ap.parse_args()
    if a.images < 1 or a.size < 16 or a.batch < 1 or a.warmup < 0:
        ap.error('--images >= 1, --size >= 16, --batch >= 1, --warmup >= 0')
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    with open('/proc/loadavg') as f:
        load = f.read().strip()
    t0 = time.perf_counter()
    ssim, lpips, fid = build_scores(a.vgg_lin)
    built_s = time.perf_counter() - t0
    n, s, bs = a.images, a.size, a.batch
    print(f'official bench eval: {n} images {s}x{s}, {torch.get_num_threads()} torch threads; '
          f'torch {torch.__version__}, SSIMScore / LPIPSScore(vgg) / FIDScore from {LAMA}, '
          f'built in {built_s:.1f} s, {a.warmup} warm-up', flush=True)
    blas = sorted({ln.split()[-1] for ln in open('/proc/self/maps') if 'blas' in ln})
    print('BLAS:', ', '.join(os.path.realpath(p) for p in blas) or 'none mapped')
    torch.manual_seed(a.seed)
    t_ssim = t_lpips = t_fid = 0.0
    c_all = 0.0
    with torch.no_grad():
        for i in range(a.warmup + n):
            x, y = torch.rand(1, 3, s, s), torch.rand(1, 3, s, s)
            c0, w0 = time.process_time(), time.perf_counter()
            ssim(x, y)
            w1 = time.perf_counter()
            lpips(x, y)
            w2, c1 = time.perf_counter(), time.process_time()
            if i >= a.warmup:
                t_ssim += w1 - w0
                t_lpips += w2 - w1
                c_all += c1 - c0
        batches = [bs] * a.warmup + [min(bs, n - d) for d in range(0, n, bs)]
        for k, q in enumerate(batches):
            x, y = torch.rand(q, 3, s, s), torch.rand(q, 3, s, s)
            c0, w0 = time.process_time(), time.perf_counter()
            fid(x, y)  # activations of prediction and original, kept as FIDScore does
            w1, c1 = time.perf_counter(), time.process_time()
            if k >= a.warmup:
                t_fid += w1 - w0
                c_all += c1 - c0
    print(f'  ssim              {n / t_ssim:8.1f} images/s')
    print(f'  lpips (vgg16)     {n / t_lpips:8.1f} images/s')
    print(f'  fid features      {n / t_fid:8.1f} images/s (prediction + original per image, batch {bs})')
    print(f'  all three         {n / (t_ssim + t_lpips + t_fid):8.1f} images/s')
    print(f'CPU seconds (timed part, all three): {c_all:.2f} over {t_ssim + t_lpips + t_fid:.2f} s wall')
    print(f'load average at start: {load}')
    print(f'peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB')


if __name__ == '__main__':
    main()
