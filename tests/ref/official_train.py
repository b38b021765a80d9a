#!/usr/bin/env python3
"""official_train.py — the official trainer's dynamics over a batch stream: STEPS iterations of
DefaultInpaintingTrainingModule (saicinpainting/training/trainers/default.py generator_loss /
discriminator_loss, base.py _do_step) with the Lightning 1.2 loop's order (per batch: the
generator step with D frozen, then the discriminator step re-running G; every network in
training mode; gradient clipping to trainer.kwargs.gradient_clip_val per optimizer; the
optimizers of optimizers.{generator,discriminator} through the official make_optimizer's
classes), validation every --val-every steps. The networks come from the official
make_generator / make_discriminator with the run's config; nothing of the official code is
copied (it is imported from $LAMA_REF through tests/ref/harness.py).

Inputs, all written by `lamac train` (bench/curve_vs_official.sh, docs/curves.md):
  --config RUN/config.yaml   the resolved config of the lamac run (plain YAML)
  --init FILE                generator.* and discriminator.* (official state_dict names): the
                             initial weights both sides start from (a lamac checkpoint)
  --stream FILE              the batch stream (train/batchstream.h): step k trains on
                             image.%06d / mask.%06d of batch k (F32, or U8 = value / 255)
Validation (every --val-every steps and after the last): every NAME.png + NAME_mask*.png pair
of --val-dir (default data.val.indir), the generator in eval mode on img * (1 - mask) ++ mask
(mask = gray > 0), composited mask * pred + (1 - mask) * img; SSIM (the official
evaluation/losses/ssim.py SSIM, 11 px window) and L1 (mean |a - b|) per image, their mean over
images. Logged twice: val_ssim_total_mean / val_l1_total_mean on the composite converted as
the official bin/predict.py (uint8(clip(x * 255))) — what lamac's validation scores — and
val_float_ssim_total_mean / val_float_l1_total_mean on the float composite (the official
trainer's online evaluator).
Output (--out, JSON lines, the fields of lamac's metrics.jsonl): {"step": k, "kind": "train",
"losses": {gen_l1, gen_adv, gen_fm, gen_total, gen_grad_norm, discr_adv, adv_discr_real_out,
adv_discr_fake_out, adv_discr_real_gp, discr_grad_norm}} per step, {"step": k, "kind": "val",
"metrics": {...}} per validation.
Perturbations (the yardstick of docs/curves.md): --threads N (intra-op threads, default
$LAMAC_FIXTURE_THREADS or 1), --nudge-weight (the first element of the generator's first
convolution moved by one float32 ulp before training), --nudge-image (every batch's image
moved by one float32 ulp towards 1, as tests/ref/perturb.py's 'image + 1 ulp').

  LAMA_REF=/path/to/lama /usr/bin/python3 tests/ref/official_train.py --config R/config.yaml \\
      --init R0/checkpoints/last.safetensors --stream S.safetensors --steps 300 --out OUT.jsonl
"""
import argparse
import glob
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # tests/ref: harness, safetensors_io
import harness  # noqa: E402
harness.setup()
import safetensors_io as st  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

TERMS = ['gen_l1', 'gen_adv', 'gen_fm', 'gen_total', 'gen_grad_norm', 'discr_adv', 'adv_discr_real_out',
         'adv_discr_fake_out', 'adv_discr_real_gp', 'discr_grad_norm']


def load_yaml(path):
    import yaml
    with open(path) as f:
        return yaml.safe_load(f)


def kwargs_of(section):
    return {k: v for k, v in section.items() if k != 'kind'}


def build(cfg, init):
    from saicinpainting.training.modules import make_generator, make_discriminator
    from saicinpainting.training.losses.adversarial import NonSaturatingWithR1
    G = make_generator(None, cfg['generator']['kind'], **kwargs_of(cfg['generator']))
    D = make_discriminator(cfg['discriminator']['kind'], **kwargs_of(cfg['discriminator']))
    t, _ = st.load(init)
    for net, pre in ((G, 'generator.'), (D, 'discriminator.')):
        sd = {k[len(pre):]: v for k, v in t.items() if k.startswith(pre)}
        net.load_state_dict(sd, strict=True)
    adv_cfg = cfg['losses']['adversarial']
    if adv_cfg.get('kind', 'r1') != 'r1':
        sys.exit('official_train.py: losses.adversarial.kind %s is not covered' % adv_cfg['kind'])
    adv = NonSaturatingWithR1(**kwargs_of(adv_cfg))
    for key in ('perceptual', 'resnet_pl'):
        if float(cfg['losses'].get(key, {}).get('weight', 0) or 0) > 0:
            sys.exit('official_train.py: losses.%s.weight > 0 is not covered (the curve comparison runs '
                     'the demo losses: l1, adversarial, feature matching)' % key)
    if cfg.get('training_model', {}).get('average_generator'):
        sys.exit('official_train.py: training_model.average_generator is not covered')

    def optim(params, section):
        kind = section.get('kind', 'adamw')
        cls = {'adam': torch.optim.Adam, 'adamw': torch.optim.AdamW}[kind]  # base.py make_optimizer
        return cls(params, **kwargs_of(section))
    optG = optim(G.parameters(), cfg['optimizers']['generator'])
    optD = optim(D.parameters(), cfg['optimizers']['discriminator'])
    return G, D, adv, optG, optD


def set_trainable(m, flag):
    for p in m.parameters():
        p.requires_grad_(flag)


def gen_input(img, mask):
    return torch.cat([img * (1 - mask), mask], 1)  # concat_mask: (N, 4, H, W)


def iteration(G, D, adv, optG, optD, cfg, img, mask):
    """One batch as Lightning 1.2 runs training_step for optimizer 0 then 1 (default.py)."""
    from saicinpainting.training.losses.feature_matching import feature_matching_loss, masked_l1_loss
    L = cfg['losses']
    clip = cfg['trainer']['kwargs'].get('gradient_clip_val', 0) or 0
    m = {}
    # generator step (D frozen)
    set_trainable(G, True)
    set_trainable(D, False)
    pred = G(gen_input(img, mask))
    l1 = masked_l1_loss(pred, img, mask, L['l1']['weight_known'], L['l1']['weight_missing'])
    total = l1
    adv.pre_generator_step(real_batch=img, fake_batch=pred, generator=G, discriminator=D)
    rp, rf = D(img)
    fp, ff = D(pred)
    ga, _ = adv.generator_loss(real_batch=img, fake_batch=pred, discr_real_pred=rp, discr_fake_pred=fp, mask=mask)
    total = total + ga
    m.update(gen_l1=l1, gen_adv=ga)
    fmw = L['feature_matching']['weight']
    if fmw > 0:
        fm_mask = mask if L['feature_matching'].get('pass_mask', False) else None
        fm = feature_matching_loss(ff, rf, mask=fm_mask) * fmw
        total = total + fm
        m['gen_fm'] = fm
    m['gen_total'] = total
    optG.zero_grad()
    total.backward()
    m['gen_grad_norm'] = nn.utils.clip_grad_norm_(G.parameters(), clip) if clip > 0 else \
        torch.norm(torch.stack([p.grad.norm() for p in G.parameters() if p.grad is not None]))
    optG.step()
    # discriminator step (G frozen, re-run)
    set_trainable(G, False)
    set_trainable(D, True)
    pred = G(gen_input(img, mask)).detach()
    adv.pre_discriminator_step(real_batch=img, fake_batch=pred, generator=G, discriminator=D)
    rp, _ = D(img)
    fp, _ = D(pred)
    dl, met = adv.discriminator_loss(real_batch=img, fake_batch=pred, discr_real_pred=rp, discr_fake_pred=fp,
                                     mask=mask)
    m.update(discr_adv=dl, adv_discr_real_out=met['discr_real_out'], adv_discr_fake_out=met['discr_fake_out'],
             adv_discr_real_gp=met['discr_real_gp'])
    optD.zero_grad()
    dl.backward()
    m['discr_grad_norm'] = nn.utils.clip_grad_norm_(D.parameters(), clip) if clip > 0 else \
        torch.norm(torch.stack([p.grad.norm() for p in D.parameters() if p.grad is not None]))
    optD.step()
    return {k: float(v) for k, v in m.items()}


def val_pairs(vdir):
    """(image path, mask path) of every NAME.png + NAME_mask*.png pair, sorted."""
    out = []
    for mpath in sorted(glob.glob(os.path.join(vdir, '**', '*_mask*.png'), recursive=True)):
        ipath = mpath.rsplit('_mask', 1)[0] + '.png'
        if os.path.exists(ipath):
            out.append((ipath, mpath))
    if not out:
        sys.exit('official_train.py: no NAME.png + NAME_mask*.png pairs in %s' % vdir)
    return out


def load_val(vdir):
    import cv2
    items = []
    for ipath, mpath in val_pairs(vdir):
        img = cv2.cvtColor(cv2.imread(ipath, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        msk = cv2.imread(mpath, cv2.IMREAD_GRAYSCALE)
        img = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255  # (1, 3, H, W)
        msk = (torch.from_numpy(msk)[None, None] > 0).float()              # (1, 1, H, W)
        items.append((img, msk))
    return items


def validate(G, items, pad):
    import importlib.util  # ssim.py alone: the evaluation package's __init__ pulls in tqdm, sklearn, ...
    spec = importlib.util.spec_from_file_location(
        'official_ssim', os.path.join(harness.REF, 'saicinpainting', 'evaluation', 'losses', 'ssim.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ssim = mod.SSIM(window_size=11, size_average=False)
    s8, l8, sf, lf = [], [], [], []
    G.eval()
    with torch.no_grad():
        for img, msk in items:
            h, w = img.shape[2:]
            if h % pad or w % pad:
                sys.exit('official_train.py: val image %dx%d is not a multiple of %d (no padding here)' % (w, h, pad))
            pred = G(gen_input(img, msk))
            comp = msk * pred + (1 - msk) * img
            q = torch.clamp(comp * 255, 0, 255).to(torch.uint8).float() / 255  # bin/predict.py's uint8
            for out, s_acc, l_acc in ((q, s8, l8), (comp, sf, lf)):
                s_acc.append(float(ssim(out, img)))
                l_acc.append(float((out - img).abs().mean()))
    G.train()

    def mean_std(v):
        mu = sum(v) / len(v)
        return mu, math.sqrt(sum((x - mu) ** 2 for x in v) / len(v))
    out = {}
    for tag, s_acc, l_acc in (('', s8, l8), ('float_', sf, lf)):
        out['val_%sssim_total_mean' % tag], out['val_%sssim_total_std' % tag] = mean_std(s_acc)
        out['val_%sl1_total_mean' % tag], out['val_%sl1_total_std' % tag] = mean_std(l_acc)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--config', required=True)
    ap.add_argument('--init', required=True)
    ap.add_argument('--stream', required=True)
    ap.add_argument('--steps', type=int, required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--val-dir')
    ap.add_argument('--val-every', type=int, default=50)
    ap.add_argument('--threads', type=int, default=int(os.environ.get('LAMAC_FIXTURE_THREADS', '1')))
    ap.add_argument('--nudge-weight', action='store_true')
    ap.add_argument('--nudge-image', action='store_true')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = load_yaml(a.config)
    G, D, adv, optG, optD = build(cfg, a.init)
    if a.nudge_weight:
        with torch.no_grad():
            w = next(G.parameters()).view(-1)
            w[0] = torch.nextafter(w[0], torch.tensor(float('inf')))
    G.train()
    D.train()
    t, meta = st.load(a.stream)
    n = int(meta.get('batches', 0))
    if n < a.steps:
        sys.exit('official_train.py: the stream has %d batches, %d steps asked for' % (n, a.steps))
    items = load_val(a.val_dir or cfg['data']['val']['indir']) if a.val_every > 0 else []
    pad = 2 ** int(cfg['generator'].get('n_downsampling', 3))

    def as_float(x):
        return x.float() / 255 if x.dtype == torch.uint8 else x.float()
    with open(a.out, 'w') as f:
        for k in range(a.steps):
            img = as_float(t['image.%06d' % k])
            if a.nudge_image:  # tests/ref/perturb.py's 'image + 1 ulp'
                img = torch.nextafter(img, torch.ones_like(img))
            mask = t['mask.%06d' % k].float()
            m = iteration(G, D, adv, optG, optD, cfg, img, mask)
            f.write(json.dumps({'step': k + 1, 'kind': 'train', 'losses': m}) + '\n')
            if items and ((k + 1) % a.val_every == 0 or k + 1 == a.steps):
                f.write(json.dumps({'step': k + 1, 'kind': 'val', 'metrics': validate(G, items, pad)}) + '\n')
            f.flush()


if __name__ == '__main__':
    main()
