#!/usr/bin/python3
"""Small image fixtures for tests/check_image.c (tests/fixtures/images/).

Each decodable sample NAME.{png,jpg} comes with NAME.rgb (h*w*3 bytes) and NAME.gray (h*w
bytes): what lm_image_read must return for 3 and 1 channels, computed with PIL
(convert('RGB') / convert('L'), which drop alpha and expand palettes) except for 16-bit
files, where the expected 8-bit value is the high byte (what cv2.imread and PIL's RGB;16B
decoder keep), and for the EXIF-rotated JPEG (expected = PIL's decode transposed like
cv2.imread does). manifest.txt lists "NAME EXT W H TOLERANCE". Broken samples (truncated,
bad CRC, wrong signature) have no expected data. resize_WxH.rgb: PIL's
Image.resize((W, H), BICUBIC) of rgb8.png.

Run: /usr/bin/python3 tests/ref/gen_image_fixtures.py
"""
import io
import os

import cv2
import numpy as np
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "images")
W, H = 13, 9
rng = np.random.RandomState(3)
rgb = rng.randint(0, 256, (H, W, 3)).astype(np.uint8)
alpha = rng.randint(0, 256, (H, W)).astype(np.uint8)
manifest = []


def luma(a):  # PIL's L24 for RGB -> L
    a = a.astype(np.uint32)
    return ((a[..., 0] * 19595 + a[..., 1] * 38470 + a[..., 2] * 7471 + 0x8000) >> 16).astype(np.uint8)


def emit(name, ext, data, exp_rgb, exp_gray, tol=0):
    with open(os.path.join(OUT, f"{name}.{ext}"), "wb") as f:
        f.write(data)
    if exp_rgb is not None:
        exp_rgb = np.ascontiguousarray(exp_rgb, np.uint8)
        exp_rgb.tofile(os.path.join(OUT, f"{name}.rgb"))
        np.ascontiguousarray(exp_gray, np.uint8).tofile(os.path.join(OUT, f"{name}.gray"))
        manifest.append(f"{name} {ext} {exp_rgb.shape[1]} {exp_rgb.shape[0]} {tol}")


def pil_bytes(img, fmt, **kw):
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    return b.getvalue()


def main():
    os.makedirs(OUT, exist_ok=True)
    im = Image.fromarray(rgb, "RGB")
    emit("rgb8", "png", pil_bytes(im, "PNG"), rgb, np.array(im.convert("L")))
    assert (np.array(im.convert("L")) == luma(rgb)).all()
    rgba = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    emit("rgba8", "png", pil_bytes(rgba, "PNG"), np.array(rgba.convert("RGB")),
         np.array(rgba.convert("RGB").convert("L")))
    g = Image.fromarray(rgb[..., 1], "L")
    emit("gray8", "png", pil_bytes(g, "PNG"), np.array(g.convert("RGB")), rgb[..., 1])
    la = Image.fromarray(np.dstack([rgb[..., 2], alpha]), "LA")
    emit("gray_alpha8", "png", pil_bytes(la, "PNG"), np.array(la.convert("RGB")), rgb[..., 2])
    pal = im.quantize(colors=16)
    emit("palette", "png", pil_bytes(pal, "PNG"), np.array(pal.convert("RGB")),
         np.array(pal.convert("RGB").convert("L")))
    bw = Image.fromarray(rgb[..., 0] > 127).convert("1")
    emit("bilevel", "png", pil_bytes(bw, "PNG"), np.array(bw.convert("RGB")), np.array(bw.convert("L")))
    # 16-bit: cv2 writes BGR(A) / gray 16-bit PNGs
    v16 = rng.randint(0, 65536, (H, W, 3)).astype(np.uint16)
    ok, enc = cv2.imencode(".png", v16[..., ::-1])
    hi = (v16 >> 8).astype(np.uint8)
    emit("rgb16", "png", enc.tobytes(), hi, luma(hi))
    ok, enc = cv2.imencode(".png", v16[..., 0])
    emit("gray16", "png", enc.tobytes(), np.dstack([hi[..., 0]] * 3), hi[..., 0])
    # JPEG: PIL's libjpeg decode; ours (TurboJPEG, accurate DCT) may differ by rounding.
    # Tolerance 1: measured max |diff| 0 on Debian (both libjpeg-turbo), margin 1 for a
    # libjpeg build whose IDCT / upsampling rounds differently.
    jpg = pil_bytes(im, "JPEG", quality=95)
    dec = Image.open(io.BytesIO(jpg))
    emit("rgb", "jpg", jpg, np.array(dec.convert("RGB")), np.array(Image.open(io.BytesIO(jpg)).convert("L")), 1)
    # EXIF orientation 6 (rotate 90° clockwise to display), as cameras write it
    exif = Image.Exif()
    exif[0x0112] = 6
    jpg6 = pil_bytes(im, "JPEG", quality=95, exif=exif.tobytes())
    d6 = np.array(Image.open(io.BytesIO(jpg6)).convert("RGB"))
    rot = np.ascontiguousarray(np.rot90(d6, k=-1))
    emit("exif6", "jpg", jpg6, rot, np.ascontiguousarray(np.rot90(np.array(
        Image.open(io.BytesIO(jpg6)).convert("L")), k=-1)), 1)
    # broken files
    png = pil_bytes(im, "PNG")
    emit("truncated", "png", png[: len(png) // 2], None, None)
    emit("truncated", "jpg", jpg[: len(jpg) // 2], None, None)
    emit("truncated_scan", "jpg", jpg[: len(jpg) - 120], None, None)  # cut inside the scan
    bad = bytearray(png)
    idat = bad.find(b"IDAT")
    bad[idat + 6] ^= 0xFF  # corrupt compressed data, CRC no longer matches
    emit("badcrc", "png", bytes(bad), None, None)
    emit("garbage", "png", b"\x89PNG\r\n\x1a\n" + bytes(rng.randint(0, 256, 300).astype(np.uint8)), None, None)
    emit("notimage", "png", b"hello, this is text\n", None, None)
    emit("empty", "png", b"", None, None)
    # PIL bicubic resize of rgb8 (what bin/gen_mask_dataset.py uses): resize_WxH.rgb
    for (rw, rh) in [(29, 20), (6, 4), (13, 20), (40, 9)]:
        np.array(im.resize((rw, rh), resample=Image.BICUBIC)).tofile(
            os.path.join(OUT, f"resize_{rw}x{rh}.rgb"))
    with open(os.path.join(OUT, "manifest.txt"), "w") as f:
        f.write("\n".join(manifest) + "\n")


if __name__ == "__main__":
    main()
