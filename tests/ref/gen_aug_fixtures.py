#!/usr/bin/env python3
"""gen_aug_fixtures.py — reference outputs for tests/check_augment.c, made with OpenCV
(python3-opencv, the library albumentations 0.5 calls underneath) following the
albumentations 0.5 formulas that saicinpainting/training/data/datasets.py get_transforms()
uses. albumentations/imgaug are not needed: each step is the cv2 call they make.

Writes raw uint8 arrays (no header; shapes are fixed below and in the C test) to
tests/fixtures/augment/. Run from the repo root with /usr/bin/python3 (Debian's cv2):
    /usr/bin/python3 tests/ref/gen_aug_fixtures.py
"""
import os

import cv2
import numpy as np

OUT = os.path.join(os.path.dirname(__file__), '..', 'fixtures', 'augment')
os.makedirs(OUT, exist_ok=True)
rng = np.random.RandomState(1234)


def save(name, arr):
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    arr.tofile(os.path.join(OUT, name))
    print(name, arr.shape)


# source: smooth colour noise with some edges, (64, 64, 3) RGB
noise = rng.rand(64, 64, 3).astype(np.float32)
src = cv2.GaussianBlur(noise, (0, 0), 2.0)
src = (src - src.min()) / (src.max() - src.min())
src[20:40, 10:12] = 1.0  # a sharp bar
src = np.clip(src * 255 + 0.5, 0, 255).astype(np.uint8)
save('src_64x64x3.u8', src)

# 1. warpAffine: rotate 30 deg, scale 0.9 about (31.5, 31.5), shift (3, -2); BORDER_REFLECT_101
M = cv2.getRotationMatrix2D((31.5, 31.5), 30.0, 0.9)
M[0, 2] += 3.0
M[1, 2] -= 2.0
aff = cv2.warpAffine(src, M, (64, 64), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
save('affine_64x64x3.u8', aff)
with open(os.path.join(OUT, 'affine_M.txt'), 'w') as f:
    f.write(' '.join('%.17g' % v for v in M.reshape(-1)) + '\n')

# 2. A.OpticalDistortion (albumentations 0.5 F.optical_distortion), k = 0.05, dx = dy = 0
k = 0.05
H, W = src.shape[:2]
cam = np.array([[W, 0, W * 0.5], [0, H, H * 0.5], [0, 0, 1]], dtype=np.float32)
dist = np.array([k, k, 0, 0, 0], dtype=np.float32)
m1, m2 = cv2.initUndistortRectifyMap(cam, dist, None, None, (W, H), cv2.CV_32FC1)
opt = cv2.remap(src, m1, m2, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
save('optical_k005_64x64x3.u8', opt)

# 3. CLAHE on a gray plane (cv2.createCLAHE), clip 2.0, 8x8 tiles; divisible and not
gray = cv2.cvtColor(src, cv2.COLOR_RGB2GRAY)
save('gray_64x64.u8', gray)
save('clahe_gray_64x64.u8', cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(gray))
gray2 = np.ascontiguousarray(cv2.resize(gray, (70, 60), interpolation=cv2.INTER_LINEAR))
save('gray_60x70.u8', gray2)
save('clahe_gray_60x70.u8', cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8)).apply(gray2))

# 4. A.CLAHE on RGB (albumentations F.clahe): Lab, CLAHE on L, back; clip 2.5
lab = cv2.cvtColor(src, cv2.COLOR_RGB2LAB)
lab[:, :, 0] = cv2.createCLAHE(clipLimit=2.5, tileGridSize=(8, 8)).apply(lab[:, :, 0])
save('clahe_rgb_64x64x3.u8', cv2.cvtColor(lab, cv2.COLOR_LAB2RGB))

# 5. HSV: 8-bit conversions of 4096 random pixels, and A.HueSaturationValue's uint8 path
px = rng.randint(0, 256, size=(64, 64, 3)).astype(np.uint8)
save('px_64x64x3.u8', px)
save('px_hsv_64x64x3.u8', cv2.cvtColor(px, cv2.COLOR_RGB2HSV))
hsvin = px.copy()
hsvin[:, :, 0] %= 180
save('hsvin_64x64x3.u8', hsvin)
save('hsvin_rgb_64x64x3.u8', cv2.cvtColor(hsvin, cv2.COLOR_HSV2RGB))


def shift_hsv(img, hue_shift, sat_shift, val_shift):  # albumentations 0.5 _shift_hsv_uint8
    img = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
    hue, sat, val = cv2.split(img)
    lut_hue = np.mod(np.arange(0, 256, dtype=np.int16) + hue_shift, 180).astype(np.uint8)
    hue = cv2.LUT(hue, lut_hue)
    lut_sat = np.clip(np.arange(0, 256, dtype=np.int16) + sat_shift, 0, 255).astype(np.uint8)
    sat = cv2.LUT(sat, lut_sat)
    lut_val = np.clip(np.arange(0, 256, dtype=np.int16) + val_shift, 0, 255).astype(np.uint8)
    val = cv2.LUT(val, lut_val)
    img = cv2.merge((hue, sat, val)).astype(np.uint8)
    return cv2.cvtColor(img, cv2.COLOR_HSV2RGB)


save('hsvshift_3.7_-12.3_4.2_64x64x3.u8', shift_hsv(src, 3.7, -12.3, 4.2))

# 6. a real homography (imgaug PerspectiveTransform's warp: cv2.warpPerspective, linear,
# BORDER_REPLICATE). The output corners map to a jittered quad inside and outside the source,
# so the projective terms are non-zero and the border is reached. persp_H.txt holds the
# OUTPUT -> SOURCE matrix (what lm_aug_plan.persp_h holds), row-major.
dst_q = np.float32([[0, 0], [63, 0], [63, 63], [0, 63]])
src_q = np.float32([[6.5, 3.25], [58.0, -2.5], [66.75, 61.0], [-3.5, 55.5]])
Hp = cv2.getPerspectiveTransform(dst_q, src_q)  # output (x, y) -> source (x, y)
persp = cv2.warpPerspective(src, Hp, (64, 64), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_REPLICATE)
save('persp_64x64x3.u8', persp)
with open(os.path.join(OUT, 'persp_H.txt'), 'w') as f:
    f.write(' '.join('%.17g' % v for v in Hp.reshape(-1)) + '\n')
