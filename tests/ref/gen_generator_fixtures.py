#!/usr/bin/env python3
"""gen_generator_fixtures.py — parity fixtures for tests/check_generator.c: the official
generators (saicinpainting/training/modules/ffc.py FFCResNetGenerator, pix2pixhd.py
GlobalGenerator and MultiDilatedGlobalGenerator) in small variants.

Each tests/fixtures/generator/<name>.safetensors holds:
  w.<key>      initial state_dict (BN affine and running stats perturbed away from defaults)
  x            input (N, 4, H, W)
  c            coefficients of the scalar loss L = sum(out * c)
  out_train    training-mode forward output
  g.<key>      dL/dparam
  after.<key>  BN running_mean / running_var / num_batches_tracked after that one forward
  out_eval     eval-mode forward (no grad) after the training forward, same input
Variants (the C test builds the same options; metadata repeats them for humans):
  ffc_a        ffc_resnet ngf 8, 2 blocks, ratio 0.75, no LFU, sigmoid, (2, 4, 40, 56)
               (bottleneck 5x7: odd sizes through rfft/irfft)
  ffc_lfu      ffc_resnet ngf 8, 1 block, LFU everywhere, init/downsample ratio 0.5 (stride-2
               SpectralTransform with AvgPool), resnet ratio 0.75, (1, 4, 64, 64)
  ffc_gated    ffc_resnet ngf 8, 1 block, gated, spectral_pos_encoding, fft_norm backward,
               max_features 32, add_out_act True (tanh), (2, 4, 48, 40)
  global       pix2pixhd_global ngf 4, 2 blocks, add_out_act True (tanh), (2, 4, 64, 48)
  multidil     pix2pixhd_multidilated ngf 8, n_downsampling 2, 2 blocks, cat_in 4 dilations,
               sigmoid, (2, 4, 64, 64)
It also asserts the official parameter counts of the full-size generators.
Run from the repo root:  LAMA_REF=/path/to/lama /usr/bin/python3 tests/ref/gen_generator_fixtures.py
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # tests/ref: harness.py, safetensors_io.py
import harness  # noqa: E402
harness.setup()  # $LAMA_REF checked and first on sys.path, import stubs installed
import safetensors_io as st  # noqa: E402
import torch  # noqa: E402
torch.set_num_threads(int(__import__('os').environ.get('LAMAC_FIXTURE_THREADS', '1')))  # pinned (README "Tests")
from saicinpainting.training.modules.ffc import FFCResNetGenerator  # noqa: E402
from saicinpainting.training.modules.pix2pixhd import GlobalGenerator, MultiDilatedGlobalGenerator  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures', 'generator')
os.makedirs(OUT, exist_ok=True)


def nparams(m):
    return sum(p.numel() for p in m.parameters())


# ---- official full-size counts (what `lamac model summary` must print) ----
assert nparams(harness.make_generator(9)) == 27048835
assert nparams(harness.make_generator(18)) == 50975875
assert nparams(GlobalGenerator(4, 3, ngf=64, n_downsampling=3, n_blocks=9, add_out_act='sigmoid')) == 45617731
assert nparams(GlobalGenerator(4, 3, ngf=64, n_downsampling=3, n_blocks=15, add_out_act='sigmoid')) == 73947715
assert nparams(MultiDilatedGlobalGenerator(4, 3, ngf=64, n_downsampling=3, n_blocks=9, add_out_act='sigmoid',
                                           multidilation_kwargs=dict(comb_mode='cat_in', dilation_num=4))) == 45645379


def kw(r_in, r_out, lfu=False, **extra):
    return dict(ratio_gin=r_in, ratio_gout=r_out, enable_lfu=lfu, **extra)


def build(name):
    if name == 'ffc_a':
        return FFCResNetGenerator(4, 3, ngf=8, n_downsampling=3, n_blocks=2, add_out_act='sigmoid',
                                  init_conv_kwargs=kw(0, 0), downsample_conv_kwargs=kw(0, 0),
                                  resnet_conv_kwargs=kw(0.75, 0.75)), (2, 4, 40, 56)
    if name == 'ffc_lfu':
        return FFCResNetGenerator(4, 3, ngf=8, n_downsampling=3, n_blocks=1, add_out_act='sigmoid',
                                  init_conv_kwargs=kw(0, 0.5, True), downsample_conv_kwargs=kw(0.5, 0.5, True),
                                  resnet_conv_kwargs=kw(0.75, 0.75, True)), (1, 4, 64, 64)
    if name == 'ffc_gated':
        r = kw(0.75, 0.75, gated=True, spectral_pos_encoding=True, fft_norm='backward')
        return FFCResNetGenerator(4, 3, ngf=8, n_downsampling=3, n_blocks=1, add_out_act=True, max_features=32,
                                  init_conv_kwargs=kw(0, 0), downsample_conv_kwargs=kw(0, 0),
                                  resnet_conv_kwargs=r), (2, 4, 48, 40)
    if name == 'global':
        return GlobalGenerator(4, 3, ngf=4, n_downsampling=3, n_blocks=2), (2, 4, 64, 48)
    if name == 'multidil':
        return MultiDilatedGlobalGenerator(4, 3, ngf=8, n_downsampling=2, n_blocks=2, add_out_act='sigmoid',
                                           multidilation_kwargs=dict(comb_mode='cat_in', dilation_num=4)), \
            (2, 4, 64, 64)
    raise ValueError(name)


def make(name, seed):
    torch.manual_seed(seed)
    G, shape = build(name)
    with torch.no_grad():
        for m in G.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(3)
    out = {'w.' + k: v.detach().clone() for k, v in G.state_dict().items()}
    img = torch.rand(shape[0], 3, shape[2], shape[3])
    mask = (torch.rand(shape[0], 1, shape[2], shape[3]) > 0.7).float()
    x = torch.cat([img * (1 - mask), mask], 1)
    out['x'] = x
    G.train()
    y = G(x)
    c = torch.randn_like(y)
    (y * c).sum().backward()
    out['c'] = c
    out['out_train'] = y.detach()
    for k, p in G.named_parameters():
        out['g.' + k] = p.grad.detach().clone()
    for k, v in G.state_dict().items():
        if 'running' in k or 'num_batches' in k:
            out['after.' + k] = v.clone()
    G.eval()
    with torch.no_grad():
        out['out_eval'] = G(x)
    path = os.path.join(OUT, name + '.safetensors')
    st.save(out, path, {'variant': name, 'params': nparams(G), 'seed': seed})
    print(path, os.path.getsize(path), 'bytes;', len(out), 'tensors; params', nparams(G),
          'out range', float(y.min()), float(y.max()))


if __name__ == '__main__':
    for i, n in enumerate(['ffc_a', 'ffc_lfu', 'ffc_gated', 'global', 'multidil']):
        make(n, 100 + i)
