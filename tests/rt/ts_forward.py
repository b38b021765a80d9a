"""ts_forward.py — runs a `lamac export --format torchscript` archive the way IOPaint /
lama-cleaner do (torch.jit.load, eval, an int64 0/1 mask, no grad), for tests/check_torchscript.c.

    ts_forward.py MODEL IMAGE.f32 MASK.f32 H W OUT.f32

IMAGE.f32 holds (1, 3, H, W) and MASK.f32 (1, 1, H, W) raw little-endian float32; the
output (1, 3, H, W) is written to OUT.f32 the same way. Needs torch only."""
import sys

import torch


def main():
    model, image_path, mask_path, h, w, out_path = sys.argv[1:]
    h, w = int(h), int(w)
    torch.set_num_threads(1)
    m = torch.jit.load(model, map_location="cpu")
    m.eval()
    image = torch.from_file(image_path, size=3 * h * w, dtype=torch.float32).view(1, 3, h, w)
    mask = torch.from_file(mask_path, size=h * w, dtype=torch.float32).view(1, 1, h, w)
    mask = (mask > 0) * 1  # IOPaint's model input: an int64 0/1 tensor
    with torch.no_grad():
        y = m(image, mask)
    assert y.shape == (1, 3, h, w) and y.dtype == torch.float32, (y.shape, y.dtype)
    with open(out_path, "wb") as f:
        f.write(y.contiguous().numpy().tobytes())


if __name__ == "__main__":
    main()
