#!/usr/bin/env python3
"""gen_perceptual_fixtures.py — parity fixtures for tests/check_perceptual.c: the official
ResNetPL and PerceptualLoss (saicinpainting/training/losses/perceptual.py) on the ADE20k
deep-stem ResNet50 encoder (models/ade20k: ResnetDilated for 'resnet50dilated', Resnet for
'resnet50') and on VGG19 features.

A full ResNet50 is ~94 MB and VGG19's first 30 modules ~80 MB, too big to commit, so the
weights are not stored: every tensor is filled with deterministic values that the C test
recomputes bit for bit (det_values below: an integer hash of the key and element index ->
u in {-1, -0.999, ..., 1} -> a float64 expression -> float32):
  conv weight (4-D)   u * sqrt(6 / fan_in)        fan_in = C_in * k * k
  bias                0.1 u
  BN weight (1-D)     1 + 0.2 u
  running_mean        0.1 u
  running_var         1 + 0.25 (u + 1)
  num_batches_tracked unchanged (0)
The key hashed is the one inside the network ("conv1.weight", "layer3.0.downsample.1.bias",
"0.weight" for vgg[0]).

torchvision is not installed here (and vgg19(pretrained=True) would download), so a stub
`torchvision.models.vgg19` returns torchvision's VGG19 `features` layout (cfg 'E': Conv 3x3
pad 1 + ReLU(inplace), MaxPool2d(2, 2)); everything else is the official PerceptualLoss.

Writes tests/fixtures/perceptual/:
  resnet_pl.safetensors   pred, target (2, 3, 64, 96) in [0, 1]; for each config
                          C in {dil_train, dil_eval, r50_train, r50_eval} (arch resnet50dilated /
                          resnet50; encoder .train() / .eval()): C.loss (weight 30, shape (1,)),
                          C.grad = dloss/dpred, and for *_train C.after.<key> = every BN
                          running_mean / running_var / num_batches_tracked after the call
  vgg_pl.safetensors      pred, target (2, 3, 64, 96), mask (2, 1, 64, 96) in {0, 1};
                          nomask.loss / mask.loss = PerceptualLoss(pred, target[, mask]).sum()
                          (weight 1), nomask.per_sample / mask.per_sample (2), *.grad
  ade20k/ade20k-resnet50dilated-ppm_deepsup/encoder_epoch_20.pth
                          a LEGACY-format (pre-1.6) torch.save of a few encoder tensors with
                          det values (conv1.weight, bn1.{weight,bias,running_mean,running_var}
                          without num_batches_tracked, layer1.0.conv1.weight) plus an
                          unexpected fc.weight (2, 4): the official directory layout, for the
                          non-strict load test
  bad_shape.pth           legacy file whose conv1.weight is (64, 3, 5, 5)
  vgg19_part.pth          zip-format file with features.0.weight/bias (det values, keys as in
                          torchvision's vgg19-dcbb9e9d.pth) and classifier.6.bias (ignored)
  resnet_pl_f64.safetensors       the ResNetPL configs in float64 (same keys)
  resnet_pl_envelope.safetensors  the official spread of each compared quantity under
                          perturb.PERTURBATIONS: C.loss, C.grad_rel (relative L2 of the gradient),
                          C.after.<key> in float32, C_f64.* in float64
Run from the repo root:  LAMA_REF=/path/to/lama /usr/bin/python3 tests/ref/gen_perceptual_fixtures.py
(--resnet-pl-only: only the float64 fixture and the envelope, from the stored resnet_pl.safetensors)
"""
import os
import sys
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # tests/ref: harness.py, safetensors_io.py
import harness  # noqa: E402
harness.setup()  # $LAMA_REF checked and first on sys.path, import stubs installed
import safetensors_io as st  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from perturb import PERTURBATIONS, fixture_threads, run_worker  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402


def _vgg19(pretrained=False, **kw):
    cfg = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M',
           512, 512, 512, 512, 'M']
    layers, cin = [], 3
    for v in cfg:
        if v == 'M':
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(cin, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            cin = v
    return types.SimpleNamespace(features=nn.Sequential(*layers))


tv = types.ModuleType('torchvision')
tv.models = types.SimpleNamespace(vgg19=_vgg19)
sys.modules['torchvision'] = tv

from saicinpainting.training.losses.perceptual import PerceptualLoss, ResNetPL  # noqa: E402
from models.ade20k import resnet as r  # noqa: E402
from models.ade20k.base import Resnet, ResnetDilated  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures', 'perceptual')
M32 = 0xFFFFFFFF


def fnv1a(s):
    h = 2166136261
    for b in s.encode():
        h = ((h ^ b) * 16777619) & M32
    return h


def det_u(key, n):
    i = np.arange(n, dtype=np.uint64)
    h = (i * np.uint64(2654435761) + np.uint64(fnv1a(key))) & np.uint64(M32)
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(2246822519)) & np.uint64(M32)
    h ^= h >> np.uint64(13)
    return ((h % np.uint64(2001)).astype(np.int64) - 1000) / 1000.0


def det_values(key, shape):
    n = int(np.prod(shape)) if len(shape) else 1
    u = det_u(key, n)
    leaf = key.rsplit('.', 1)[-1]
    if len(shape) == 4:
        v = u * np.sqrt(6.0 / float(shape[1] * shape[2] * shape[3]))
    elif leaf == 'bias':
        v = 0.1 * u
    elif leaf == 'weight':
        v = 1.0 + 0.2 * u
    elif leaf == 'running_mean':
        v = 0.1 * u
    elif leaf == 'running_var':
        v = 1.0 + 0.25 * (u + 1.0)
    else:
        raise ValueError(key)
    return torch.from_numpy(v.astype(np.float32).reshape(shape))


def fill_det(module):
    with torch.no_grad():
        for k, t in module.state_dict().items():
            if k.endswith('num_batches_tracked'):
                continue
            t.copy_(det_values(k, tuple(t.shape)))


def encoder(arch):
    orig = r.ResNet(r.Bottleneck, [3, 4, 6, 3])  # resnet.resnet50(pretrained=False)
    enc = ResnetDilated(orig, dilate_scale=8) if arch == 'resnet50dilated' else Resnet(orig)
    fill_det(enc)
    return enc


def resnet_pl(enc, weight=30):
    pl = ResNetPL.__new__(ResNetPL)  # official forward; __init__ would load files
    nn.Module.__init__(pl)
    pl.impl = enc
    for w in pl.impl.parameters():
        w.requires_grad_(False)
    pl.weight = weight
    return pl


RESNET_PL_CONFIGS = [('dil_train', 'resnet50dilated', True), ('dil_eval', 'resnet50dilated', False),
                     ('r50_train', 'resnet50', True), ('r50_eval', 'resnet50', False)]


def resnet_pl_results(dtype, nudge=False):
    """The four ResNetPL configs in dtype on resnet_pl.safetensors' pred/target (det weights
    filled in float32, then cast, as the C test): {C.loss, C.grad, C.after.<key>}.
    nudge: pred moved by one ulp of dtype."""
    t, _ = st.load(os.path.join(OUT, 'resnet_pl.safetensors'))
    pred, target = t['pred'].to(dtype), t['target'].to(dtype)
    if nudge:
        pred = torch.nextafter(pred, torch.ones_like(pred))
    out = {}
    for name, arch, train in RESNET_PL_CONFIGS:
        enc = encoder(arch).to(dtype)
        pl = resnet_pl(enc)
        pl.train(train)
        p = pred.clone().requires_grad_(True)
        loss = pl(p, target)
        loss.backward()
        out[f'{name}.loss'] = loss.detach().reshape(1)
        out[f'{name}.grad'] = p.grad
        if train:
            for k, v in enc.state_dict().items():
                if k.rsplit('.', 1)[-1] in ('running_mean', 'running_var', 'num_batches_tracked'):
                    out[f'{name}.after.{k}'] = v.clone()
    return out


def write_resnet_pl_f64():
    """resnet_pl_f64.safetensors: the configs in float64 (same keys, float64 values)."""
    out = resnet_pl_results(torch.float64)
    st.save(out, os.path.join(OUT, 'resnet_pl_f64.safetensors'), metadata={'dtype': 'float64'})
    print('resnet_pl_f64', {k: float(v) for k, v in out.items() if k.endswith('.loss')})


def resnet_pl_deviations(ref, d):
    """C.loss: |dev|; C.grad_rel: relative L2 of the gradient's deviation; C.after.<k>: max |dev|."""
    out = {}
    for k, v in d.items():
        e = ref[k].double()
        v = v.double()
        if k.endswith('.grad'):
            out[k[:-len('grad')] + 'grad_rel'] = ((v - e).norm() / e.norm()).reshape(1)
        else:
            out[k] = (v - e).abs().max().reshape(1)
    return out


def write_resnet_pl_envelope():
    """resnet_pl_envelope.safetensors: the largest deviation of each compared quantity over
    perturb.PERTURBATIONS, float32 (C.*, against resnet_pl.safetensors) and float64 (C_f64.*,
    against resnet_pl_f64.safetensors)."""
    import tempfile
    tmp = tempfile.mkdtemp()
    env_out = {}
    for dtype, suffix, ref_name in ((torch.float32, '', 'resnet_pl'), (torch.float64, '_f64', 'resnet_pl_f64')):
        ref, _ = st.load(os.path.join(OUT, ref_name + '.safetensors'))
        for i, (label, env, nudge) in enumerate(PERTURBATIONS):
            path = os.path.join(tmp, '%d%s.safetensors' % (i, suffix))
            run_worker(__file__, ['--dump', path] + (['--f64'] if suffix else []), env, nudge)
            d, _ = st.load(path)
            dev = resnet_pl_deviations(ref, d)
            for k, v in dev.items():
                cfg, _, q = k.partition('.')
                key = cfg + suffix + '.' + q
                env_out[key] = torch.maximum(env_out[key], v) if key in env_out else v
            print('%-8s %-28s' % (suffix or 'float32', label),
                  ' '.join('%s %.2g' % (c, float(dev[c + '.grad_rel'])) for c, _, _ in RESNET_PL_CONFIGS),
                  '(grad rel L2)', flush=True)
    st.save({k: v.double() for k, v in env_out.items()}, os.path.join(OUT, 'resnet_pl_envelope.safetensors'),
            metadata={'perturbations': '; '.join(p[0] for p in PERTURBATIONS)})


def main():
    os.makedirs(OUT, exist_ok=True)
    # d loss / d pred through training-mode BN is ill-conditioned (1-2 % between thread
    # counts, see tests/check_perceptual.c): one thread here and in the test
    torch.set_num_threads(fixture_threads())
    torch.manual_seed(11)
    pred = torch.rand(2, 3, 64, 96)
    target = torch.rand(2, 3, 64, 96)
    out = {'pred': pred, 'target': target}
    for name, arch, train in [('dil_train', 'resnet50dilated', True),
                              ('dil_eval', 'resnet50dilated', False),
                              ('r50_train', 'resnet50', True), ('r50_eval', 'resnet50', False)]:
        enc = encoder(arch)
        pl = resnet_pl(enc)
        pl.train(train)
        p = pred.clone().requires_grad_(True)
        loss = pl(p, target)
        loss.backward()
        out[f'{name}.loss'] = loss.detach().reshape(1)
        out[f'{name}.grad'] = p.grad
        if train:
            for k, t in enc.state_dict().items():
                if k.rsplit('.', 1)[-1] in ('running_mean', 'running_var', 'num_batches_tracked'):
                    out[f'{name}.after.{k}'] = t.clone()
        print(name, float(loss), float(p.grad.abs().max()))
    st.save(out, os.path.join(OUT, 'resnet_pl.safetensors'))
    write_resnet_pl_f64()
    write_resnet_pl_envelope()

    # VGG19 perceptual loss
    torch.manual_seed(12)
    pred = torch.rand(2, 3, 64, 96)
    target = torch.rand(2, 3, 64, 96)
    mask = torch.zeros(2, 1, 64, 96)
    mask[0, :, 10:40, 20:70] = 1
    mask[1, :, 30:61, 5:37] = 1
    mask[1, :, 3:9, 50:93] = 1
    ploss = PerceptualLoss()
    fill_det(ploss.vgg)
    out = {'pred': pred, 'target': target, 'mask': mask}
    for name, m in [('nomask', None), ('mask', mask)]:
        p = pred.clone().requires_grad_(True)
        per = ploss(p, target, mask=m)
        loss = per.sum() * 1.0  # trainer: .sum() * config.losses.perceptual.weight
        loss.backward()
        out[f'{name}.per_sample'] = per.detach()
        out[f'{name}.loss'] = loss.detach().reshape(1)
        out[f'{name}.grad'] = p.grad
        print(name, per.tolist(), float(p.grad.abs().max()))
    st.save(out, os.path.join(OUT, 'vgg_pl.safetensors'))

    # small PyTorch files for the loading tests
    part = {}
    shapes = {'conv1.weight': (64, 3, 3, 3), 'bn1.weight': (64,), 'bn1.bias': (64,),
              'bn1.running_mean': (64,), 'bn1.running_var': (64,),
              'layer1.0.conv1.weight': (64, 128, 1, 1)}
    for k, s in shapes.items():
        part[k] = det_values(k, s)
    part['fc.weight'] = torch.ones(2, 4)
    d = os.path.join(OUT, 'ade20k', 'ade20k-resnet50dilated-ppm_deepsup')
    os.makedirs(d, exist_ok=True)
    torch.save(part, os.path.join(d, 'encoder_epoch_20.pth'), _use_new_zipfile_serialization=False)
    bad = {'conv1.weight': torch.zeros(64, 3, 5, 5), 'bn1.weight': torch.ones(64)}
    torch.save(bad, os.path.join(OUT, 'bad_shape.pth'), _use_new_zipfile_serialization=False)
    vgg = {'features.0.weight': det_values('0.weight', (64, 3, 3, 3)),
           'features.0.bias': det_values('0.bias', (64,)),
           'classifier.6.bias': torch.zeros(3)}
    torch.save(vgg, os.path.join(OUT, 'vgg19_part.pth'))


if __name__ == '__main__':
    torch.set_num_threads(fixture_threads())
    if '--dump' in sys.argv:  # a worker of write_resnet_pl_envelope
        d = resnet_pl_results(torch.float64 if '--f64' in sys.argv else torch.float32, '--nudge' in sys.argv)
        st.save(d, sys.argv[sys.argv.index('--dump') + 1])
    elif '--resnet-pl-only' in sys.argv:  # the float64 fixture and the envelopes, not the rest
        write_resnet_pl_f64()
        write_resnet_pl_envelope()
    else:
        main()
