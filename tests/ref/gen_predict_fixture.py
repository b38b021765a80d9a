#!/usr/bin/env python3
"""gen_predict_fixture.py — parity fixture for `lamac predict` (tests/check_predict.c): the
official FFCResNetGenerator (ngf 8, 2 blocks, random weights with perturbed BatchNorm
statistics) run with the official prediction semantics on a 61x45 image (not a multiple of 8):
InpaintingDataset from saicinpainting/evaluation/data.py (PIL RGB / L loading, /255,
pad_img_to_modulo 8 in numpy 'symmetric' mode), mask > 0, the trainer's forward
(img * (1 - mask), cat mask, G in eval mode, blend mask * pred + (1 - mask) * img), crop to the
unpadded size, uint8(clip(x * 255, 0, 255)), cv2.imwrite — as bin/predict.py does.

Writes tests/fixtures/predict/:
  indir/scene.png, indir/scene_mask.png      input in the official layout (NAME.png, NAME_mask*.png)
  indir/sub/tiny.png, indir/sub/tiny_mask001.png  a 19x13 image in a subfolder
  expected/scene_mask.png, expected/sub/tiny_mask001.png   outputs named as bin/predict.py names them
  variants/scene_rgba.png, variants/scene_mask_rgb.png   the first case as RGBA / RGB mask
  pad.safetensors          numpy 'symmetric' padding cases (srcK -> dstK)
  gen.safetensors          generator.* weights (F32) + metadata format/config (the generator group)
  official/config.yaml + official/models/best.ckpt   an official-style model directory: a
                           Lightning-like checkpoint (torch.save) whose state_dict holds the same
                           generator.* plus discriminator.* and loss_resnet_pl.* keys
Run from the repo root:  LAMA_REF=/path/to/lama /usr/bin/python3 tests/ref/gen_predict_fixture.py
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # tests/ref: harness.py, safetensors_io.py
import harness  # noqa: E402
harness.setup()  # $LAMA_REF checked and first on sys.path, import stubs installed
import safetensors_io as st  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
torch.set_num_threads(int(__import__('os').environ.get('LAMAC_FIXTURE_THREADS', '1')))  # pinned (README "Tests")
from PIL import Image  # noqa: E402
from torch.utils.data._utils.collate import default_collate  # noqa: E402
import importlib.util  # noqa: E402
# saicinpainting/evaluation/__init__.py pulls in the evaluator (tqdm, ...): load data.py alone
_spec = importlib.util.spec_from_file_location('lama_eval_data', os.path.join(harness.REF, 'saicinpainting', 'evaluation', 'data.py'))
_data = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_data)
InpaintingDataset = _data.InpaintingDataset
from saicinpainting.training.modules.pix2pixhd import NLayerDiscriminator  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures', 'predict')
IND, EXP = os.path.join(ROOT, 'indir'), os.path.join(ROOT, 'expected')
for d in (IND, EXP, os.path.join(IND, 'sub'), os.path.join(EXP, 'sub'), os.path.join(ROOT, 'official', 'models')):
    os.makedirs(d, exist_ok=True)

torch.manual_seed(3)
rng = np.random.RandomState(5)
NGF, NBLOCKS = 8, 2
G = harness.make_generator(NBLOCKS, NGF)
with torch.no_grad():
    for m in G.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-0.3, 0.3)
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.num_batches_tracked.fill_(100)
    # widen the output range (random init gives sigmoid outputs near 0.5): a stronger test
    last = [m for m in G.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    last.weight.mul_(10)
G.eval()

CONFIG = harness.generator_config_yaml(NBLOCKS, NGF)


def make_image(h, w):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([128 + 100 * np.sin(xx / 5.0 + yy / 9.0), 128 + 90 * np.cos(yy / 4.0),
                    (xx * 255.0 / w)], -1)
    img += rng.randn(h, w, 3) * 12
    return np.clip(img, 0, 255).astype(np.uint8)


def make_mask(h, w):
    m = np.zeros((h, w), np.uint8)
    cv2.circle(m, (w // 2, h // 2), min(h, w) // 4, 255, -1)
    cv2.line(m, (2, h - 5), (w - 3, 4), 200, 3)
    m[0:3, 0:4] = 1  # barely nonzero grey still means "hole" (mask > 0)
    return m


cases = [('scene.png', 'scene_mask.png', 45, 61), ('sub/tiny.png', 'sub/tiny_mask001.png', 13, 19)]
for img_name, mask_name, h, w in cases:
    Image.fromarray(make_image(h, w), 'RGB').save(os.path.join(IND, img_name))
    Image.fromarray(make_mask(h, w), 'L').save(os.path.join(IND, mask_name))

# other encodings of the first case (same pixels after PIL's convert('RGB') / convert('L')):
# an RGBA image (alpha dropped) and a mask stored as RGB
os.makedirs(os.path.join(ROOT, 'variants'), exist_ok=True)
rgb = np.array(Image.open(os.path.join(IND, 'scene.png')))
alpha = rng.randint(0, 256, rgb.shape[:2]).astype(np.uint8)
Image.fromarray(np.dstack([rgb, alpha]), 'RGBA').save(os.path.join(ROOT, 'variants', 'scene_rgba.png'))
m = np.array(Image.open(os.path.join(IND, 'scene_mask.png')))
Image.fromarray(np.dstack([m, m, m]), 'RGB').save(os.path.join(ROOT, 'variants', 'scene_mask_rgb.png'))
assert (np.array(Image.open(os.path.join(ROOT, 'variants', 'scene_mask_rgb.png')).convert('L')) == m).all()

# the official pipeline (bin/predict.py with dataset.kind=default, img_suffix .png, pad 8)
indir = IND + '/'
ds = InpaintingDataset(indir, img_suffix='.png', pad_out_to_modulo=8)
assert len(ds) == len(cases), ds.mask_filenames
for i in range(len(ds)):
    mask_fname = ds.mask_filenames[i]
    out_fname = os.path.join(EXP, os.path.splitext(mask_fname[len(indir):])[0] + '.png')
    batch = default_collate([ds[i]])
    with torch.no_grad():
        batch['mask'] = (batch['mask'] > 0) * 1
        img, mask = batch['image'], batch['mask']
        masked_img = torch.cat([img * (1 - mask), mask], dim=1)
        pred = G(masked_img)
        inpainted = mask * pred + (1 - mask) * img
        cur = inpainted[0].permute(1, 2, 0).numpy()
        oh, ow = batch['unpad_to_size']
        cur = cur[:int(oh), :int(ow)]
    cur = np.clip(cur * 255, 0, 255).astype('uint8')
    cv2.imwrite(out_fname, cv2.cvtColor(cur, cv2.COLOR_RGB2BGR))
    print(out_fname, cur.shape, 'pred range', float(pred.min()), float(pred.max()))

gsd = {'generator.' + k: v for k, v in G.state_dict().items()}
st.save(gsd, os.path.join(ROOT, 'gen.safetensors'), {'format': 'lamac-weights-1', 'config': CONFIG})

# an official-style model directory: config.yaml + models/best.ckpt (Lightning checkpoint)
D = NLayerDiscriminator(3, ndf=4, n_layers=4)
sd = dict(gsd)
sd.update({'discriminator.' + k: v for k, v in D.state_dict().items()})
sd['loss_resnet_pl.impl.conv1.weight'] = torch.zeros(4, 3, 3, 3)
ckpt = {'epoch': 3, 'global_step': 1234, 'pytorch-lightning_version': '1.2.9', 'state_dict': sd,
        'callbacks': {}, 'optimizer_states': [], 'lr_schedulers': []}
torch.save(ckpt, os.path.join(ROOT, 'official', 'models', 'best.ckpt'))
with open(os.path.join(ROOT, 'official', 'config.yaml'), 'w') as f:
    f.write("run_title: predict-fixture\n" + CONFIG + """discriminator:
  kind: pix2pixhd_nlayer
  input_nc: 3
  ndf: 4
  n_layers: 4
training_model:
  kind: default
  visualize_each_iters: 1000
  concat_mask: true
  store_discr_outputs_for_vis: true
""")
# numpy 'symmetric' padding, including pads longer than the side (period 2n)
pads = {}
for k, (h, w, H, W) in enumerate([(3, 5, 8, 8), (1, 2, 8, 16), (45, 61, 48, 64), (5, 3, 21, 13)]):
    a = rng.rand(h, w, 2).astype(np.float32)
    pads['src%d' % k] = torch.from_numpy(a)
    pads['dst%d' % k] = torch.from_numpy(np.ascontiguousarray(np.pad(a, ((0, H - h), (0, W - w), (0, 0)), mode='symmetric')))
st.save(pads, os.path.join(ROOT, 'pad.safetensors'))
for dp, _, fs in os.walk(ROOT):
    for f in fs:
        p = os.path.join(dp, f)
        print(os.path.relpath(p, ROOT), os.path.getsize(p))
