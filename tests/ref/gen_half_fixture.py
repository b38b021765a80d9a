#!/usr/bin/env python3
"""gen_half_fixture.py — what PyTorch writes when a float32 tensor is saved in half precision,
for tests/check_weights.c (lamac's `lm_weights_save` with dtype F16 / BF16 must write these
exact bytes). Values: rounding ties and near-ties of both formats, f16 subnormals and the
values that round into / out of them, f32 subnormals (bf16 keeps them), the largest finite
values and the overflow boundaries, +-0, +-inf, NaN, and random values over many scales.

Writes tests/fixtures/weights/half_save.safetensors with
  f32 (N,)   the inputs
  f16 (N,)   x.half()       (torch's float -> Half, round to nearest even)
  bf16 (N,)  x.bfloat16()
Run from the repo root with Debian's torch:  /usr/bin/python3 tests/ref/gen_half_fixture.py
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # tests/ref: harness.py, safetensors_io.py
import safetensors_io as st  # noqa: E402
import torch  # noqa: E402
torch.set_num_threads(int(__import__('os').environ.get('LAMAC_FIXTURE_THREADS', '1')))  # pinned (README "Tests")

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures', 'weights')
e = [0.0, -0.0, float('inf'), -float('inf'), float('nan'),
     1.0 + 2.0 ** -11, 1.0 + 3 * 2.0 ** -11, 1.0 + 2.0 ** -11 + 2.0 ** -20,  # f16 ties / above
     1.0 + 2.0 ** -8, 1.0 + 3 * 2.0 ** -8, 1.0 + 2.0 ** -8 + 2.0 ** -20,     # bf16 ties / above
     -(1.0 + 2.0 ** -11), -(1.0 + 3 * 2.0 ** -8),
     65504.0, 65519.0, 65519.99, 65520.0, -65520.0, 1e5,                    # f16 max / overflow
     2.0 ** -24, 2.0 ** -25, 2.0 ** -25 * 1.0001, 3 * 2.0 ** -25, 2.0 ** -14,  # f16 subnormals
     2.0 ** -14 - 2.0 ** -25, 6.1e-5, 1e-7, -3e-8,
     1e-40, -1e-40, 1.4e-45, 1.1754942e-38,                                 # f32 subnormals
     3.3895314e38, 3.3961e38, 3.4028235e38, -3.4028235e38]                  # bf16 max / overflow
g = torch.Generator().manual_seed(5)
r = torch.cat([torch.randn(256, generator=g) * s for s in (1e-6, 1e-3, 1.0, 1e2, 3e4, 1e30)])
x = torch.cat([torch.tensor(e, dtype=torch.float32), r])
st.save({'f32': x, 'f16': x.half(), 'bf16': x.bfloat16()}, os.path.join(OUT, 'half_save.safetensors'),
        {'torch': torch.__version__})
print(x.numel(), 'values')
