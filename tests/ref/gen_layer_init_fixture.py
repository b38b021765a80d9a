#!/usr/bin/env python3
"""gen_layer_init_fixture.py — default initialisation of the layers the official networks use
(torch.nn.Conv2d / ConvTranspose2d / BatchNorm2d reset_parameters, which
saicinpainting/training/modules keeps: no custom init), for tests/check_layers.c.

Each layer is built right after torch.manual_seed(seed), so with the same seed lamac's
libtorch generator must draw the same numbers in the same order (weight, then bias):
  conv.weight (6, 4, 3, 3), conv.bias (6)          seed 11, Conv2d(4, 6, 3)
  gconv.weight (6, 2, 3, 3)                        seed 12, Conv2d(4, 6, 3, groups=2, bias=False)
  convt.weight (6, 4, 3, 3), convt.bias (4)        seed 13, ConvTranspose2d(6, 4, 3, 2, 1, 1):
                                                   fan_in = weight.size(1) * 3 * 3 = 36, not 54
  bn.weight, bn.bias, bn.running_mean, bn.running_var (5)   BatchNorm2d(5)
Writes tests/fixtures/layers/init.safetensors. Run from the repo root with Debian's torch:
    /usr/bin/python3 tests/ref/gen_layer_init_fixture.py
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # tests/ref: harness.py, safetensors_io.py
import safetensors_io as st  # noqa: E402
import torch  # noqa: E402
torch.set_num_threads(int(__import__('os').environ.get('LAMAC_FIXTURE_THREADS', '1')))  # pinned (README "Tests")

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures', 'layers')
os.makedirs(OUT, exist_ok=True)
out = {}
torch.manual_seed(11)
c = torch.nn.Conv2d(4, 6, 3)
out['conv.weight'], out['conv.bias'] = c.weight, c.bias
torch.manual_seed(12)
out['gconv.weight'] = torch.nn.Conv2d(4, 6, 3, groups=2, bias=False).weight
torch.manual_seed(13)
t = torch.nn.ConvTranspose2d(6, 4, 3, stride=2, padding=1, output_padding=1)
out['convt.weight'], out['convt.bias'] = t.weight, t.bias
bn = torch.nn.BatchNorm2d(5)
for k in ('weight', 'bias', 'running_mean', 'running_var'):
    out['bn.' + k] = getattr(bn, k)
st.save(out, os.path.join(OUT, 'init.safetensors'), {'torch': torch.__version__})
print({k: tuple(v.shape) for k, v in out.items()})
