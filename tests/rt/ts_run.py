#!/usr/bin/env python3
"""ts_run.py — runs a TorchScript file written by `lamac export --format torchscript` the way
IOPaint's LaMa model calls big-lama.pt, for tests/check_export_runtimes.c. Usage:
  ts_run.py MODEL IMAGE.u8 MASK.u8 H W OUT.f32
IMAGE.u8: raw RGB uint8 (H, W, 3); MASK.u8: raw uint8 (H, W). As IOPaint does: image and mask
normalised to CHW float32 / 255, the mask binarised to int64 (> 0) * 1, both padded bottom/right to a
multiple of 8 in numpy's 'symmetric' mode, model(image[None], mask[None]) under no_grad,
the result cropped back. OUT.f32 receives the (H, W, 3) float32 output (0..1, before any
8-bit conversion). Prints the load and run times. Threads: $LAMAC_RT_THREADS (default 1).
Exit status 3 when /usr/bin/python3 has no torch."""
import os
import sys
import time

try:
    import numpy as np
    import torch
except ImportError:
    print("ts_run: python3-torch is not installed (scripts/setup-deps.sh installs it)")
    sys.exit(3)


def pad_to_8(a):  # a (C, H, W)
    h, w = a.shape[1:]
    ph, pw = (-h) % 8, (-w) % 8
    return np.pad(a, ((0, 0), (0, ph), (0, pw)), mode="symmetric")


def main():
    model, img, msk, H, W, out = sys.argv[1:7]
    H, W = int(H), int(W)
    torch.set_num_threads(int(os.environ.get("LAMAC_RT_THREADS", "1")))  # 1 in the tests
    t0 = time.perf_counter()
    m = torch.jit.load(model, map_location="cpu")
    m.eval()
    image = np.fromfile(img, dtype=np.uint8).reshape(H, W, 3).transpose(2, 0, 1).astype(np.float32) / 255
    mask = np.fromfile(msk, dtype=np.uint8).reshape(1, H, W).astype(np.float32) / 255
    mask = (mask > 0) * 1  # int64, as IOPaint hands it over
    x = torch.from_numpy(pad_to_8(image))[None]
    mk = torch.from_numpy(pad_to_8(mask))[None]
    t1 = time.perf_counter()
    with torch.no_grad():
        y = m(x, mk)
    t2 = time.perf_counter()
    y = y[0].permute(1, 2, 0).numpy()[:H, :W].astype(np.float32)
    y.tofile(out)
    print(f"ts_run: load {1e3 * (t1 - t0):.1f} ms, run {1e3 * (t2 - t1):.1f} ms, input {tuple(x.shape)}")


main()
