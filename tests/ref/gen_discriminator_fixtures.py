#!/usr/bin/env python3
"""gen_discriminator_fixtures.py — parity fixture for tests/check_discriminator.c: the official
NLayerDiscriminator (saicinpainting/training/modules/pix2pixhd.py) with ndf 4, n_layers 4 on a
(2, 3, 64, 64) input, in training mode.

Writes tests/fixtures/discriminator/nlayer_small.safetensors with:
  w.<key>        initial state_dict (BN affine and running stats perturbed away from defaults)
  x              input (2, 3, 64, 64)
  logits, f0..f4 training-mode forward: logits and the activations of model0..model4
  c              coefficients of the scalar loss L = sum(logits * c) + sum_i mean(f_i^2)
  g.<key>        dL/dparam
  after.<key>    BN running_mean / running_var / num_batches_tracked after that one forward
  r1.grad_real   d(sum D(x))/dx with create_graph (a fresh D from w.*)
  r1.penalty     mean over samples of |grad_real|^2 (make_r1_gp), shape (1,)
  r1g.<key>      d(penalty)/dparam (double backward; zeros where PyTorch gives None)
Run from the repo root:  LAMA_REF=/path/to/lama /usr/bin/python3 tests/ref/gen_discriminator_fixtures.py
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # tests/ref: harness.py, safetensors_io.py
import harness  # noqa: E402
harness.setup()  # $LAMA_REF checked and first on sys.path, import stubs installed
import safetensors_io as st  # noqa: E402
import torch  # noqa: E402
torch.set_num_threads(int(__import__('os').environ.get('LAMAC_FIXTURE_THREADS', '1')))  # pinned (README "Tests")
from saicinpainting.training.modules.pix2pixhd import NLayerDiscriminator  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures', 'discriminator')
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(7)

D = NLayerDiscriminator(3, ndf=4, n_layers=4)
with torch.no_grad():
    for name, m in D.named_modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-0.2, 0.2)
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
init = {k: v.detach().clone() for k, v in D.state_dict().items()}
out = {'w.' + k: v for k, v in init.items()}

x = torch.rand(2, 3, 64, 64) * 2 - 1
out['x'] = x
D.train()
logits, feats = D(x)
c = torch.randn_like(logits)
loss = (logits * c).sum() + sum((f ** 2).mean() for f in feats)
loss.backward()
out['logits'] = logits.detach()
out['c'] = c
for i, f in enumerate(feats):
    out['f%d' % i] = f.detach()
for k, p in D.named_parameters():
    out['g.' + k] = p.grad.detach().clone()
for k, v in D.state_dict().items():
    if 'running' in k or 'num_batches' in k:
        out['after.' + k] = v.clone()

# R1 on a fresh copy (official make_r1_gp)
D2 = NLayerDiscriminator(3, ndf=4, n_layers=4)
D2.load_state_dict(init)
D2.train()
real = x.clone().requires_grad_(True)
pred, _ = D2(real)
grad_real = torch.autograd.grad(outputs=pred.sum(), inputs=real, create_graph=True)[0]
penalty = (grad_real.view(grad_real.shape[0], -1).norm(2, dim=1) ** 2).mean()
penalty.backward()
out['r1.grad_real'] = grad_real.detach()
out['r1.penalty'] = penalty.detach().reshape(1)
for k, p in D2.named_parameters():
    # the last conv's bias does not reach grad_real: no gradient (None) -> zeros
    out['r1g.' + k] = p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p)

path = os.path.join(OUT, 'nlayer_small.safetensors')
st.save(out, path, {'ndf': 4, 'n_layers': 4, 'input_nc': 3})
print(path, os.path.getsize(path), 'bytes;', len(out), 'tensors; params',
      sum(p.numel() for p in D.parameters()), 'penalty', float(penalty))
