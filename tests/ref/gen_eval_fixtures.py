#!/usr/bin/env python3
"""gen_eval_fixtures.py — parity fixtures for the evaluation metrics (tests/check_eval.c),
computed by the official modules of saicinpainting/evaluation (imported from $LAMA_REF, never
copied): losses/ssim.py SSIM, evaluator.py (both bin conventions, group statistics through
base_loss.py PairwiseScore), losses/lpips.py PNetLin ('alex', version 0.1, the real linear
layers), losses/fid/inception.py InceptionV3([3]) (fid_inception_v3 with pytorch-fid's blocks)
and base_loss.py calculate_frechet_distance (scipy.linalg.sqrtm).

Backbones get deterministic "formula" weights (no 95 MB file can be committed): for a tensor
named K with n elements, u_i = fmix32((fnv1a32(K) + i * 0x9E3779B9) mod 2^32) / 2^32 - 0.5
(double; fmix32 is MurmurHash3's finaliser),
  conv weights (4-D):   2 u sqrt(6 / fan_in)  (Kaiming-uniform scale)
  conv / bn bias:       0.1 u
  bn weight:            1 + 0.2 u
  bn running_mean:      0.1 u
  bn running_var:       1 + u
cast to float32. tests/check_eval.c computes the same values in C, so the committed fixtures are
inputs and expected outputs only. Key layout files (torchvision / pt_inception names and shapes)
are committed as torch.save zip files whose tensors are expand()ed views of a tiny storage
(per-output-channel values), a few KB each.

Writes tests/fixtures/eval/:
  ssim.safetensors      a, b (4, 3, 24, 32); ssim, psnr, l1 (4)
  bins.safetensors      area (N) float32 as torch computes it; offline, online (N) int32 bins;
                        values (M), groups (M) int32; group_mean/std (10), total mean/std in metadata
  lpips_alex.safetensors  pred, target (3, 3, 64, 64); lpips (3)
  inception.safetensors   x (6, 3, 40, 48); feats (6, 2048) (resize to 299 on)
                          and fid of feats[0:3] vs feats[3:6]... see metadata
  frechet.safetensors   a (300, 64), b (250, 64); metadata fid (scipy), fid_incep (2048-d, 8 vs 8)
  lpips_vgg.safetensors   pred, target (3, 3, 48, 40); lpips (3) (VGG16 + the real vgg.pth)
  e2e/images, e2e/predictions, e2e.csv   a folder in the official layout and the official
                        InpaintingEvaluator's table for it (metric, group, mean, std)
  alexnet_layout.pth, vgg16_layout.pth, inception_layout.pth   key/shape layout files (expanded tensors)
Run from the repo root:
  LAMA_REF=/path/to/lama /usr/bin/python3 tests/ref/gen_eval_fixtures.py
(python3-torch, python3-torchvision, python3-scipy from Debian)
"""
import os
import sys

import numpy as np
import torch
torch.set_num_threads(int(__import__('os').environ.get('LAMAC_FIXTURE_THREADS', '1')))  # pinned (README "Tests")

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'fixtures', 'eval')
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # tests/ref: harness.py, safetensors_io.py
import safetensors_io as st  # noqa: E402
import harness  # noqa: E402
import official_eval  # noqa: E402  (tests/ref/official_eval.py)
LAMA = harness.checkout()  # $LAMA_REF, checked

# Stubs for imports the modules used here never call, then $LAMA_REF on sys.path (official_eval.py).
official_eval.install(LAMA)

from saicinpainting.evaluation.losses.ssim import SSIM  # noqa: E402
from saicinpainting.evaluation.losses import lpips as LP  # noqa: E402
from saicinpainting.evaluation.losses.fid import inception as INC  # noqa: E402
from saicinpainting.evaluation.losses import base_loss as BL  # noqa: E402
from saicinpainting.evaluation import evaluator as EV  # noqa: E402

torch.set_grad_enabled(False)


def fnv1a32(s):
    h = 2166136261
    for c in s.encode():
        h = ((h ^ c) * 16777619) & 0xffffffff
    return h


def formula(name, shape):
    n = int(np.prod(shape)) if len(shape) else 1
    i = np.arange(n, dtype=np.uint64)
    M = np.uint64(0xffffffff)
    x = (np.uint64(fnv1a32(name)) + i * np.uint64(0x9E3779B9)) & M  # murmur3 fmix32 of h + i*golden
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x85EBCA6B)) & M
    x ^= x >> np.uint64(13)
    x = (x * np.uint64(0xC2B2AE35)) & M
    x ^= x >> np.uint64(16)
    u = x.astype(np.float64) / 4294967296.0 - 0.5
    leaf = name.rsplit('.', 1)[-1]
    if len(shape) == 4:
        fan_in = int(np.prod(shape[1:]))
        v = 2.0 * u * np.sqrt(6.0 / fan_in)
    elif leaf == 'bias':
        v = 0.1 * u
    elif leaf == 'weight':
        v = 1.0 + 0.2 * u
    elif leaf == 'running_mean':
        v = 0.1 * u
    elif leaf == 'running_var':
        v = 1.0 + u
    else:
        raise ValueError(name)
    return torch.from_numpy(v.astype(np.float32).reshape(shape))


def fill(module, rename=lambda k: k):
    sd = module.state_dict()
    new = {}
    for k, v in sd.items():
        if k.endswith('num_batches_tracked'):
            new[k] = v
        else:
            new[k] = formula(rename(k), tuple(v.shape))
    module.load_state_dict(new)


def layout_file(sd, path):
    """torch.save zip of the state_dict's keys and shapes; tensors are expand()ed views of one
    value per output channel (value = 0.001 * (index + 1) * (k + 1) for the k-th tensor)."""
    out = {}
    for k, (name, v) in enumerate(sd.items()):
        if v.numel() > (1 << 22):  # lamac's reader refuses to materialise huge strided views;
            continue               # the big classifier matrices are unused anyway
        if name.endswith('num_batches_tracked'):
            out[name] = torch.tensor(0, dtype=torch.int64)
            continue
        c = v.shape[0]
        base = (torch.arange(c, dtype=torch.float32) + 1) * 0.001 * (k + 1)
        out[name] = base.view([c] + [1] * (v.dim() - 1)).expand(v.shape)
    torch.save(out, path)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.RandomState(10)

    # ---- SSIM, PSNR, L1 ----------------------------------------------------------------------
    a = torch.from_numpy(rng.rand(4, 3, 24, 32).astype(np.float32))
    b = (a + torch.from_numpy(rng.randn(4, 3, 24, 32).astype(np.float32)) * torch.tensor([0.02, 0.1, 0.3, 0.0]).view(4, 1, 1, 1)).clamp(0, 1)
    ssim = SSIM(window_size=11, size_average=False)(a, b)
    mse = ((a.double() - b.double()) ** 2).mean(dim=(1, 2, 3))
    psnr = torch.where(mse > 0, 10 * torch.log10(1.0 / mse.clamp_min(1e-300)), torch.full_like(mse, 100.0))
    l1 = (a - b).abs().mean(dim=(1, 2, 3))
    st.save({'a': a, 'b': b, 'ssim': ssim.float(), 'psnr': psnr.float(), 'l1': l1.float()},
            os.path.join(OUT, 'ssim.safetensors'))

    # ---- bins at edges ---------------------------------------------------------------------------
    # masks of 20x25 = 500 pixels: counts on every edge (k*50), one off either side, 0 and 500
    counts = sorted(set([c for k in range(11) for c in (50 * k - 1, 50 * k, 50 * k + 1) if 0 <= c <= 500]))
    masks = []
    for c in counts:
        m = np.zeros(500, np.float32)
        m[:c] = 1.0
        masks.append(m.reshape(1, 20, 25))
    masks = np.stack(masks)  # (N, 1, 20, 25)
    ds = [dict(mask=torch.from_numpy(m)) for m in masks]
    ev = EV.InpaintingEvaluator(ds, scores={}, bins=10, batch_size=7, device='cpu')
    offline, names = ev._get_bin_edges()
    onl = EV.InpaintingEvaluatorOnline(scores={}, bins=10)
    online = onl._get_bins(torch.from_numpy(masks))
    area = torch.from_numpy(masks).reshape(len(masks), -1).mean(dim=-1)
    # group statistics through the official PairwiseScore
    vals = rng.rand(len(counts)).astype(np.float64)
    score = BL.SSIMScore()
    score.individual_values = vals
    total, groups = score.get_value(groups=offline)
    gm = np.full(10, np.nan)
    gs = np.full(10, np.nan)
    for g, r in groups.items():
        gm[g], gs[g] = r['mean'], r['std']
    meta = {'total_mean': repr(float(total['mean'])), 'total_std': repr(float(total['std'])),
            'names': ','.join(names),
            'ssim_fid100_f1': repr(EV.ssim_fid100_f1({('ssim', 'total'): {'mean': 0.8}, ('fid', 'total'): {'mean': 12.5}})),
            'lpips_fid100_f1': repr(EV.lpips_fid100_f1({('lpips', 'total'): {'mean': 0.2}, ('fid', 'total'): {'mean': 12.5}})),
            'ssim_fid100_f1_big_fid': repr(EV.ssim_fid100_f1({('ssim', 'total'): {'mean': 0.8}, ('fid', 'total'): {'mean': 150.0}}))}
    st.save({'area': area, 'offline': torch.from_numpy(offline.astype(np.int32)),
             'online': torch.from_numpy(online.astype(np.int32)),
             'counts': torch.tensor(counts, dtype=torch.int32),
             'values': torch.from_numpy(vals.astype(np.float32)),
             'group_mean': torch.from_numpy(gm.astype(np.float32)),
             'group_std': torch.from_numpy(gs.astype(np.float32))},
            os.path.join(OUT, 'bins.safetensors'), metadata=meta)
    # values are stored as float32 and the statistics were taken over their float64 values:
    # recompute on the float32-rounded values so both sides see the same inputs
    score.individual_values = vals.astype(np.float32).astype(np.float64)
    total, groups = score.get_value(groups=offline)
    for g, r in groups.items():
        gm[g], gs[g] = r['mean'], r['std']
    meta.update(total_mean=repr(float(total['mean'])), total_std=repr(float(total['std'])))
    st.save({'area': area, 'offline': torch.from_numpy(offline.astype(np.int32)),
             'online': torch.from_numpy(online.astype(np.int32)),
             'counts': torch.tensor(counts, dtype=torch.int32),
             'values': torch.from_numpy(vals.astype(np.float32)),
             'group_mean': torch.from_numpy(gm.astype(np.float32)),
             'group_std': torch.from_numpy(gs.astype(np.float32))},
            os.path.join(OUT, 'bins.safetensors'), metadata=meta)

    # ---- LPIPS (alex) ------------------------------------------------------------------------------
    import torchvision as tv
    net = LP.PNetLin(pnet_rand=True, pnet_type='alex', use_dropout=True, spatial=False, version='0.1', lpips=True)
    net.load_state_dict(torch.load(os.path.join(HERE, '..', '..', 'weights', 'lpips', 'alex.pth'), map_location='cpu'), strict=False)
    # slices keep torchvision's indices: net.slice2.3.weight is features.3.weight
    fill(net.net, rename=lambda k: 'features.' + k.split('.', 1)[1])
    net.eval()
    pred = torch.from_numpy(rng.rand(3, 3, 64, 64).astype(np.float32))
    target = (pred * 0.7 + 0.3 * torch.from_numpy(rng.rand(3, 3, 64, 64).astype(np.float32)))
    target[2] = pred[2]
    lp = net.forward(2 * target - 1, 2 * pred - 1).flatten()  # PerceptualLoss(normalize=True)
    st.save({'pred': pred, 'target': target, 'lpips': lp.float()}, os.path.join(OUT, 'lpips_alex.safetensors'))
    layout_file(tv.models.alexnet().state_dict(), os.path.join(OUT, 'alexnet_layout.pth'))

    # ---- LPIPS (vgg16, what the official evaluator uses) ------------------------------------------
    net = LP.PNetLin(pnet_rand=True, pnet_type='vgg', use_dropout=True, spatial=False, version='0.1', lpips=True)
    net.load_state_dict(torch.load(os.path.join(HERE, '..', '..', 'weights', 'lpips', 'vgg.pth'), map_location='cpu'), strict=False)
    fill(net.net, rename=lambda k: 'features.' + k.split('.', 1)[1])
    net.eval()
    pred = torch.from_numpy(rng.rand(3, 3, 48, 40).astype(np.float32))
    target = (pred * 0.6 + 0.4 * torch.from_numpy(rng.rand(3, 3, 48, 40).astype(np.float32)))
    target[1] = (target[1] + 0.1).clamp(0, 1)
    lpv = net.forward(2 * target - 1, 2 * pred - 1).flatten()
    st.save({'pred': pred, 'target': target, 'lpips': lpv.float()}, os.path.join(OUT, 'lpips_vgg.safetensors'))
    layout_file(tv.models.vgg16().state_dict(), os.path.join(OUT, 'vgg16_layout.pth'))

    # ---- FID Inception -----------------------------------------------------------------------------
    captured = {}
    orig = INC.models.inception_v3

    def capture(*a, **k):
        m = orig(*a, **k)
        captured['m'] = m
        return m

    def fake_url(*a, **k):
        m = captured['m']
        fill(m)
        return m.state_dict()

    INC.models.inception_v3 = capture
    INC.load_state_dict_from_url = fake_url
    model = INC.InceptionV3([3]).eval()
    INC.models.inception_v3 = orig
    layout_file(captured['m'].state_dict(), os.path.join(OUT, 'inception_layout.pth'))
    x = torch.from_numpy(rng.rand(8, 3, 40, 48).astype(np.float32))
    x[4:] = x[4:] * 0.5 + 0.25 * torch.from_numpy(rng.rand(4, 3, 40, 48).astype(np.float32))
    feats = model(x)[0].squeeze(-1).squeeze(-1)  # (8, 2048)
    fid_small = BL.calculate_frechet_distance(feats[:4].double().numpy(), feats[4:].double().numpy())
    st.save({'x': x, 'feats': feats.float()}, os.path.join(OUT, 'inception.safetensors'),
            metadata={'fid_4v4': repr(float(np.real(fid_small)))})

    # ---- Fréchet distance (scipy sqrtm) on full-rank sets --------------------------------------------
    A = rng.randn(300, 64).astype(np.float32) @ (np.eye(64, dtype=np.float32) + 0.3 * rng.randn(64, 64).astype(np.float32))
    B = (rng.randn(250, 64).astype(np.float32) * 1.3 + 0.2) @ (np.eye(64, dtype=np.float32) + 0.2 * rng.randn(64, 64).astype(np.float32))
    fid = BL.calculate_frechet_distance(A.astype(np.float64), B.astype(np.float64))
    fid_self = BL.calculate_frechet_distance(A.astype(np.float64), A.astype(np.float64))
    st.save({'a': torch.from_numpy(A), 'b': torch.from_numpy(B)}, os.path.join(OUT, 'frechet.safetensors'),
            metadata={'fid': repr(float(fid)), 'fid_self': repr(float(fid_self))})
    # ---- the whole official pipeline: bin/evaluate_predicts.py's dataset + InpaintingEvaluator ----
    end_to_end(rng)
    print('fid', fid, 'fid_self', fid_self, 'fid_4v4', fid_small, 'lpips', lp.tolist(), 'ssim', ssim.tolist())
    print('offline', offline.tolist())
    print('online ', online.tolist())
    print('counts ', counts)


def end_to_end(rng):
    """A folder in the official layout (images/NAME.png + NAME_maskK.png, predictions/NAME_maskK.png),
    scored by PrecomputedInpaintingResultsDataset (img_suffix .png, inpainted_suffix .png, as
    configs/eval2.yaml) + InpaintingEvaluator with SSIMScore, LPIPSScore (vgg, the real vgg.pth,
    formula VGG16 weights) and FIDScore (formula Inception weights), lpips_fid100_f1, as
    bin/evaluate_predicts.py. Writes e2e/ and e2e.csv (metric, group, mean, std)."""
    import cv2
    import torchvision as tv
    from saicinpainting.evaluation.data import PrecomputedInpaintingResultsDataset
    root = os.path.join(OUT, 'e2e')
    for sub in ('images', 'predictions'):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    H, W = 40, 48
    n_img = 5
    for i in range(n_img):
        img = (rng.rand(H // 8, W // 8, 3) * 255).astype(np.uint8)
        img = cv2.resize(img, (W, H), interpolation=cv2.INTER_LINEAR)
        cv2.imwrite(os.path.join(root, 'images', f'img{i}.png'), img[:, :, ::-1])
        for k in range(2):
            # masked area: a rectangle of (i*2 + k + 1) * 10 % of the height, full width
            rows = int(round(H * (i * 2 + k + 1) / 10 * 0.9))
            mask = np.zeros((H, W), np.uint8)
            mask[:rows] = 255
            if i == 0 and k == 0:
                mask[:] = 0  # no hole: bin 0, as the official
            cv2.imwrite(os.path.join(root, 'images', f'img{i}_mask{k:03d}.png'), mask)
            noise = rng.randn(H, W, 3) * (10 + 10 * k)
            pred = np.clip(img.astype(np.float64) + noise * (mask[:, :, None] > 0), 0, 255).astype(np.uint8)
            cv2.imwrite(os.path.join(root, 'predictions', f'img{i}_mask{k:03d}.png'), pred[:, :, ::-1])
    ds = PrecomputedInpaintingResultsDataset(os.path.join(root, 'images'), os.path.join(root, 'predictions'),
                                             img_suffix='.png', inpainted_suffix='.png')

    vgg16_orig = LP.tv.vgg16

    def vgg16_formula(pretrained=False, **k):
        m = vgg16_orig(weights=None)
        fill(m.features, rename=lambda n: 'features.' + n)
        return m
    LP.tv.vgg16 = vgg16_formula
    captured = {}
    orig = INC.models.inception_v3

    def capture(*a, **k):
        m = orig(*a, **k)
        captured['m'] = m
        return m
    INC.models.inception_v3 = capture
    INC.load_state_dict_from_url = lambda *a, **k: (fill(captured['m']), captured['m'].state_dict())[1]
    BL.FIDScore._MODEL = None
    scores = {'ssim': BL.SSIMScore(),
              'lpips': BL.LPIPSScore(model_path=os.path.join(HERE, '..', '..', 'weights', 'lpips', 'vgg.pth'), use_gpu=False),
              'fid': BL.FIDScore()}
    INC.models.inception_v3 = orig
    LP.tv.vgg16 = vgg16_orig
    ev = EV.InpaintingEvaluator(ds, scores=scores, area_grouping=True, bins=10, batch_size=8, device='cpu',
                                integral_title='lpips_fid100_f1', integral_func=EV.lpips_fid100_f1)
    res = ev.evaluate()
    with open(os.path.join(OUT, 'e2e.csv'), 'w') as f:
        f.write('metric,group,mean,std\n')
        for (metric, group), v in sorted(res.items()):
            f.write('%s,%s,%r,%r\n' % (metric, group, float(v['mean']), float(v.get('std', float('nan')))))
    print(open(os.path.join(OUT, 'e2e.csv')).read())


if __name__ == '__main__':
    main()
