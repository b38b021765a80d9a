#!/usr/bin/python3
"""Fixtures for tests/check_masks.c, from the OFFICIAL mask code (advimman/lama).

Writes
  tests/fixtures/masks/stats.json  per preset: mean and quartiles (25/50/75) of the masked
      area fraction and of the mask width (mean over hole pixels of the exact Euclidean
      distance to the nearest known pixel; masks without a known pixel are left out of the
      width statistic), over N masks of the preset's size drawn by
      saicinpainting.training.data.masks.MixedMaskGenerator with the preset's kwargs.
  tests/fixtures/masks/lines.bin  cv2.line / cv2.circle(thickness=-1) on random cases
      (points partly outside the image), the exact pixels our rasteriser must reproduce.
      Format: b"LMRL", u32 count; per case 8 x i32 (h, w, x0, y0, x1, y1, thickness, kind
      0=line 1=circle) then the (h, w) 0/1 plane, np.packbits (MSB first).

Run:  LAMA_REF=/path/to/lama /usr/bin/python3 tests/ref/gen_mask_stats.py [N]
Needs numpy and python3-opencv (cv2.distanceTransform with DIST_MASK_PRECISE is exact).
"""
import json
import os
import struct
import sys
import types

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # tests/ref: harness.py
import harness  # noqa: E402

REF = harness.checkout()  # $LAMA_REF, checked; this script installs its own stubs
sys.path.insert(0, REF)
# stubs for imports that masks.py pulls in but the generators used here never call
pl = types.ModuleType("pytorch_lightning")
pl.seed_everything = lambda *a, **k: None
sys.modules.setdefault("pytorch_lightning", pl)
for name in ["saicinpainting.evaluation", "saicinpainting.evaluation.masks",
             "saicinpainting.evaluation.masks.mask"]:
    sys.modules[name] = types.ModuleType(name)
sys.modules["saicinpainting.evaluation.masks.mask"].SegmentationMask = None
from saicinpainting.training.data.masks import MixedMaskGenerator  # noqa: E402

import yaml  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "masks")


def preset_kwargs():
    """(name, size, MixedMaskGenerator kwargs) read from the official config files."""
    out = []
    with open(os.path.join(REF, "configs/training/data/abl-04-256-mh-dist.yaml")) as f:
        tr = yaml.safe_load(f)["train"]
    out.append(("train", int(tr["out_size"]), dict(tr["mask_gen_kwargs"])))
    for kind in ("thin", "medium", "thick"):
        for size in (256, 512):
            with open(os.path.join(REF, f"configs/data_gen/random_{kind}_{size}.yaml")) as f:
                cfg = yaml.safe_load(f)
            kw = dict(cfg["mask_generator_kwargs"])
            kw.pop("variants_n", None)
            out.append((f"random_{kind}_{size}", size, kw))
    return out


def quartiles(v):
    v = np.asarray(v, np.float64)
    return {"mean": float(v.mean()), "q25": float(np.percentile(v, 25)),
            "q50": float(np.percentile(v, 50)), "q75": float(np.percentile(v, 75))}


def mask_stats(n):
    res = {}
    for name, size, kw in preset_kwargs():
        np.random.seed(12345)
        gen = MixedMaskGenerator(**kw)
        img = np.zeros((3, size, size), np.float32)
        areas, widths = [], []
        for _ in range(n):
            m = gen(img)[0]
            hole = (m > 0.5).astype(np.uint8)
            areas.append(hole.mean())
            if 0 < hole.sum() < hole.size:
                d = cv2.distanceTransform(hole, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
                widths.append(float(d[hole > 0].astype(np.float64).mean()))
        res[name] = {"size": size, "count": n, "area": quartiles(areas),
                     "width": quartiles(widths), "width_count": len(widths)}
        print(name, json.dumps(res[name]), flush=True)
    return res


def lines(n):
    rng = np.random.RandomState(1)
    buf = [struct.pack("<4sI", b"LMRL", n)]
    for k in range(n):
        h, w = rng.randint(8, 64), rng.randint(8, 64)
        kind = 1 if k % 5 == 4 else 0
        x0, y0 = rng.randint(-12, w + 12), rng.randint(-12, h + 12)
        x1, y1 = rng.randint(-12, w + 12), rng.randint(-12, h + 12)
        if k % 7 == 0:
            y1 = y0
        if k % 11 == 0:
            x1 = x0
        if k % 13 == 0:
            x1, y1 = x0, y0
        t = int(rng.randint(1, 40))
        m = np.zeros((h, w), np.float32)
        if kind == 0:
            cv2.line(m, (int(x0), int(y0)), (int(x1), int(y1)), 1.0, t)
        else:
            cv2.circle(m, (int(x0), int(y0)), radius=t, color=1.0, thickness=-1)
        buf.append(struct.pack("<8i", h, w, x0, y0, x1, y1, t, kind))
        buf.append(np.packbits(m.astype(np.uint8).ravel()).tobytes())
    return b"".join(buf)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "lines.bin"), "wb") as f:
        f.write(lines(500))
    stats = {"generator": "saicinpainting.training.data.masks.MixedMaskGenerator",
             "opencv": cv2.__version__, "numpy": np.__version__,
             "width": "mean over hole pixels of the exact L2 distance to the nearest known pixel",
             "presets": mask_stats(n)}
    with open(os.path.join(OUT, "stats.json"), "w") as f:
        json.dump(stats, f, indent=1)


if __name__ == "__main__":
    main()
