#!/usr/bin/env python3
"""gen_step_fixtures.py — parity fixtures for tests/check_step.c: the official losses
(saicinpainting/training/losses/adversarial.py, feature_matching.py), torch.optim Adam/AdamW,
clip_grad_norm_, and whole training iterations with the official semantics (harness.Step,
trainers/default.py): G step (D frozen), D step re-running G, clipping at 1, Adam 1e-3 / 1e-4.

Writes tests/fixtures/step/:
  losses.safetensors   every loss option on small fixed tensors: value and input gradient
  optim.safetensors    Adam, AdamW, Adam+weight_decay, amsgrad over 3 steps; clip_grad_norm_
  step_ffc.safetensors     ffc_resnet (ngf 8, 1 block) + NLayerDiscriminator (ndf 4, 4 layers),
  step_global.safetensors  pix2pixhd_global (ngf 4, 1 block) + the same discriminator:
      init.{generator,discriminator}.*   initial state (BN affine/stats perturbed)
      image (2,3,64,96), mask (2,1,64,96)
      s1.*, s10.*                         full state after 1 and 10 iterations
      loss.<k> (10,)                      each loss term per iteration
      norms.<k> (P,)                      per-tensor L2 norms of the state after iteration k
                                          (drift report), in metadata `norm_keys` order
  step_ffc_pl.safetensors  step_ffc's initial state and batch WITH ResNetPL (weight 30, encoder
      in training mode, weights = gen_perceptual_fixtures.det_values): s1.* (G, D and the
      encoder's BN buffers as loss_resnet_pl.impl.*) and loss.<k> for 3 iterations
  step_p2p_pl.safetensors  the same for pix2pixhd_global from step_global's initial state and batch
  step_ffc_f64, step_global_f64, step_ffc_pl_f64, step_p2p_pl_f64 (.safetensors)
      the same four iterations in float64 (modules and batch cast from the float32 initial
      state): s1.*, s10.* (not for _pl), loss.<k>, norms.<k>, all float64. Rounding there is
      ~1e-16, so tests/check_step.c compares them tightly on any CPU (--f64-only writes these).
  envelope.safetensors  the official float32 spread: each float32 iteration above re-run in a
      subprocess under perturbations any machine can make (intra-op threads 1/2/3,
      ATEN_CPU_CAPABILITY=default, ONEDNN_MAX_CPU_ISA=SSE41, the batch moved by one float32
      ulp); per case, the largest deviation from the stored fixture of every loss term per
      step (<case>.loss.<k>), of the non-noisy state norms per step (<case>.norm_drift, relative)
      and of every s1 tensor (<case>.s1.<key>, max abs). --envelope-only writes just this.
  (--pl-only writes just the two float32 PL files, --p2p-pl-only just step_p2p_pl; --self-drift
   prints the official code's own drift)
Every run pins one intra-op thread (torch.set_num_threads(1); LAMAC_FIXTURE_THREADS overrides
it for the envelope's subprocesses).
Run from the repo root:  LAMA_REF=/path/to/lama /usr/bin/python3 tests/ref/gen_step_fixtures.py
"""
import copy
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # tests/ref: harness, safetensors_io, perturb
import harness  # noqa: E402
harness.setup()  # $LAMA_REF checked and first on sys.path, import stubs installed
import safetensors_io as st  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from saicinpainting.training.losses.adversarial import NonSaturatingWithR1, BCELoss  # noqa: E402
from saicinpainting.training.losses.feature_matching import (feature_matching_loss,  # noqa: E402
                                                             masked_l1_loss, masked_l2_loss)
from saicinpainting.training.modules.pix2pixhd import NLayerDiscriminator, GlobalGenerator  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures', 'step')
os.makedirs(OUT, exist_ok=True)
torch.set_num_threads(int(os.environ.get('LAMAC_FIXTURE_THREADS', '1')))
torch.manual_seed(11)
ONLY = any(a.endswith('-only') or a in ('--self-drift', '--dump') for a in sys.argv)


def leaf(t):
    return t.detach().clone().requires_grad_(True)


def write_losses_and_optim():
    """losses.safetensors and optim.safetensors (float32)."""
    # ---------------------------------------------------------------- losses
    L = {}
    pred, target = torch.rand(2, 3, 8, 12), torch.rand(2, 3, 8, 12)
    mask = (torch.rand(2, 1, 8, 12) > 0.6).float()
    L['px.pred'], L['px.target'], L['px.mask'] = pred, target, mask
    for name, fn in (('l1', masked_l1_loss), ('l2', masked_l2_loss)):
        for tag, wk, wm in (('a', 10, 0), ('b', 2.5, 3)):
            p = leaf(pred)
            v = fn(p, target, mask, wk, wm)
            v.backward()
            L['%s_%s.value' % (name, tag)] = v.detach().reshape(1)
            L['%s_%s.grad' % (name, tag)] = p.grad

    fake = [torch.randn(2, 4, 9, 13), torch.randn(2, 8, 5, 7), torch.randn(2, 1, 3, 4)]
    real = [torch.randn_like(f) for f in fake]
    fmask = (torch.rand(2, 1, 17, 25) > 0.5).float()
    for i in range(3):
        L['fm.fake%d' % i], L['fm.real%d' % i] = fake[i], real[i]
    L['fm.mask'] = fmask
    for tag, m in (('plain', None), ('masked', fmask)):
        fl = [leaf(f) for f in fake]
        v = feature_matching_loss(fl, real, mask=m)
        v.backward()
        L['fm_%s.value' % tag] = v.detach().reshape(1)
        for i in range(3):
            L['fm_%s.grad%d' % (tag, i)] = fl[i].grad

    # adversarial: a small differentiable "discriminator" the C test repeats with shim ops:
    #   logits = avg_pool2d(tanh(sum(x * w, dim 1, keepdim)), 2)   (N, 1, 5, 7) for x (N, 3, 10, 14)
    w = torch.randn(1, 3, 1, 1)
    xr, xf = torch.rand(2, 3, 10, 14), torch.rand(2, 3, 10, 14)
    amask = (torch.rand(2, 1, 10, 14) > 0.5).float()
    L['adv.w'], L['adv.real'], L['adv.fake'], L['adv.mask'] = w, xr, xf, amask


    def toy_d(x):
        return F.avg_pool2d(torch.tanh((x * w).sum(1, keepdim=True)), 2)


    ADV = {  # option sets (C test mirrors them by name)
        'default': dict(gp_coef=0.001, weight=10, mask_as_fake_target=True, allow_scale_mask=True),
        'extra': dict(gp_coef=0.5, weight=3, mask_as_fake_target=True, allow_scale_mask=True,
                      extra_mask_weight_for_gen=2.0),
        'unmasked': dict(gp_coef=5, weight=1, mask_as_fake_target=False, allow_scale_mask=True,
                         use_unmasked_for_gen=False, use_unmasked_for_discr=False),
        'maxpool': dict(gp_coef=0.01, weight=2, mask_as_fake_target=True, allow_scale_mask=True,
                        mask_scale_mode='maxpool', extra_mask_weight_for_gen=1.0),
        'bilinear': dict(gp_coef=0.01, weight=2, mask_as_fake_target=True, allow_scale_mask=True,
                         mask_scale_mode='bilinear', extra_mask_weight_for_gen=1.0),
        'plainfake': dict(gp_coef=0.1, weight=1, mask_as_fake_target=False, allow_scale_mask=False),
    }
    for tag, kw in ADV.items():
        loss = NonSaturatingWithR1(**kw)
        # generator term: gradient w.r.t. the fake input
        f = leaf(xf)
        v, _ = loss.generator_loss(xr, f, toy_d(xr), toy_d(f), mask=amask)
        v.backward()
        L['adv_%s.gen' % tag] = v.detach().reshape(1)
        L['adv_%s.gen_grad' % tag] = f.grad
        # discriminator term: R1 by double backward; gradients w.r.t. w and the fake logits
        wl = leaf(w)
        r = xr.clone()
        loss.pre_discriminator_step(r, xf, None, None)
        rl = F.avg_pool2d(torch.tanh((r * wl).sum(1, keepdim=True)), 2)
        fl = leaf(toy_d(xf))
        v, metrics = loss.discriminator_loss(r, xf, rl, fl, mask=amask)
        v.backward()
        L['adv_%s.discr' % tag] = v.detach().reshape(1)
        L['adv_%s.gp' % tag] = torch.as_tensor(metrics['discr_real_gp']).detach().reshape(1).float()
        L['adv_%s.discr_grad_w' % tag] = wl.grad
        L['adv_%s.discr_grad_fake' % tag] = fl.grad

    # bce on logits of equal size (the mask is the target of the fake logits)
    bce = BCELoss(weight=4)
    lf = leaf(toy_d(xf))
    v, _ = bce.generator_loss(lf)
    v.backward()
    L['bce.gen'], L['bce.gen_grad'] = v.detach().reshape(1), lf.grad
    small_mask = (torch.rand(2, 1, 5, 7) > 0.5).float()
    L['bce.mask'] = small_mask
    lr_, lf = leaf(toy_d(xr)), leaf(toy_d(xf))
    v, _ = bce.discriminator_loss(small_mask, lr_, lf)
    v.backward()
    L['bce.discr'], L['bce.discr_grad_real'], L['bce.discr_grad_fake'] = v.detach().reshape(1), lr_.grad, lf.grad
    st.save(L, os.path.join(OUT, 'losses.safetensors'))

    # ---------------------------------------------------------------- optimizers, clipping
    O = {}
    p0 = torch.randn(5, 7)
    grads = [torch.randn(5, 7) * s for s in (1.0, 0.01, 3.0)]
    grads[1][0, :3] = 0
    O['p0'] = p0
    for i, g in enumerate(grads):
        O['g%d' % i] = g
    OPTS = {
        'adam': (torch.optim.Adam, dict(lr=1e-3)),
        'adam_wd': (torch.optim.Adam, dict(lr=2e-3, betas=(0.5, 0.9), weight_decay=0.1, eps=1e-6)),
        'adamw': (torch.optim.AdamW, dict(lr=1e-2)),
        'adamw_ams': (torch.optim.AdamW, dict(lr=1e-2, weight_decay=0.3, amsgrad=True)),
    }
    for tag, (cls, kw) in OPTS.items():
        p = nn.Parameter(p0.clone())
        opt = cls([p], **kw)
        for i, g in enumerate(grads):
            p.grad = g.clone()
            opt.step()
            O['%s.p%d' % (tag, i + 1)] = p.detach().clone()
        s = opt.state[p]
        O['%s.exp_avg' % tag], O['%s.exp_avg_sq' % tag] = s['exp_avg'], s['exp_avg_sq']
        O['%s.step' % tag] = s['step'].reshape(1).float()
    cg = [torch.randn(3, 4) * 2, torch.randn(6), torch.randn(2, 2, 3)]
    for tag, mx in (('clip1', 1.0), ('clip100', 100.0)):
        ps = [nn.Parameter(torch.zeros_like(g)) for g in cg]
        for p, g in zip(ps, cg):
            p.grad = g.clone()
        tn = nn.utils.clip_grad_norm_(ps, mx)
        O['%s.total' % tag] = tn.reshape(1)
        for i, p in enumerate(ps):
            O['%s.g%d' % (tag, i)] = p.grad
    for i, g in enumerate(cg):
        O['clip.g%d' % i] = g
    st.save(O, os.path.join(OUT, 'optim.safetensors'))


# ---------------------------------------------------------------- whole iterations
def perturb_bn(m):
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.weight.uniform_(0.7, 1.3)
                mod.bias.uniform_(-0.1, 0.1)
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.7, 1.3)


def official_step(G, D, optG, optD, adv, img, mask, pl=None):
    """DefaultInpaintingTrainingModule.generator_loss / discriminator_loss + base._do_step, as
    harness.Step, returning every metric."""
    m = {}
    for p in D.parameters(): p.requires_grad_(False)
    for p in G.parameters(): p.requires_grad_(True)
    pred = G(torch.cat([img * (1 - mask), mask], 1))
    l1 = masked_l1_loss(pred, img, mask, 10, 0)
    total = l1
    rp, rf = D(img)
    fp, ff = D(pred)
    ga, _ = adv.generator_loss(real_batch=img, fake_batch=pred, discr_real_pred=rp, discr_fake_pred=fp, mask=mask)
    total = total + ga
    fm = feature_matching_loss(ff, rf, mask=None) * 100
    total = total + fm
    m.update(gen_l1=l1, gen_adv=ga, gen_fm=fm)
    if pl is not None:  # ResNetPL(weight=30): the frozen encoder in training mode (DESIGN 5)
        rpl = harness.resnet_pl(pl, pred, img, weight=30)
        total = total + rpl
        m['gen_resnet_pl'] = rpl
    m['gen_total'] = total
    optG.zero_grad()
    total.backward()
    m['gen_grad_norm'] = nn.utils.clip_grad_norm_(G.parameters(), 1.0)
    optG.step()
    for p in D.parameters(): p.requires_grad_(True)
    for p in G.parameters(): p.requires_grad_(False)
    pred = G(torch.cat([img * (1 - mask), mask], 1)).detach()
    adv.pre_discriminator_step(real_batch=img, fake_batch=pred, generator=G, discriminator=D)
    rp, _ = D(img)
    fp, _ = D(pred)
    dl, met = adv.discriminator_loss(real_batch=img, fake_batch=pred, discr_real_pred=rp, discr_fake_pred=fp, mask=mask)
    m.update(discr_adv=dl, adv_discr_real_out=met['discr_real_out'], adv_discr_fake_out=met['discr_fake_out'],
             adv_discr_real_gp=met['discr_real_gp'])
    optD.zero_grad()
    dl.backward()
    m['discr_grad_norm'] = nn.utils.clip_grad_norm_(D.parameters(), 1.0)
    optD.step()
    return {k: float(v) for k, v in m.items()}


def state(G, D):
    s = {}
    for k, v in G.state_dict().items():
        s['generator.' + k] = v.detach().clone()
    for k, v in D.state_dict().items():
        s['discriminator.' + k] = v.detach().clone()
    return s


def run_case(fname, G, steps=10):
    torch.manual_seed(5)
    D = NLayerDiscriminator(3, ndf=4, n_layers=4)
    perturb_bn(G)
    perturb_bn(D)
    G.train(); D.train()
    img = torch.rand(2, 3, 64, 96)
    mask = torch.zeros(2, 1, 64, 96)
    mask[0, :, 10:40, 20:70] = 1
    mask[1, :, 30:60, 5:50] = 1
    mask[1, :, 0:8, 80:96] = 1
    out = {'image': img, 'mask': mask}
    init = state(G, D)
    out.update({'init.' + k: v for k, v in init.items()})
    # cross-check against harness.Step (the reference iteration) from the same state
    ref = harness.Step(n_blocks=1, ngf=8, use_pl=False)
    ref.G, ref.D = copy.deepcopy(G), copy.deepcopy(D)
    ref.optG = torch.optim.Adam(ref.G.parameters(), lr=1e-3)
    ref.optD = torch.optim.Adam(ref.D.parameters(), lr=1e-4)
    ref_losses = ref(img.clone(), mask)
    adv = NonSaturatingWithR1(gp_coef=0.001, weight=10, mask_as_fake_target=True, allow_scale_mask=True)
    optG = torch.optim.Adam(G.parameters(), lr=1e-3)
    optD = torch.optim.Adam(D.parameters(), lr=1e-4)
    keys = list(init.keys())
    names = None
    per = {}
    for k in range(1, steps + 1):
        m = official_step(G, D, optG, optD, adv, img.clone(), mask)
        if k == 1:
            assert abs(m['gen_total'] - ref_losses[0]) < 1e-6 and abs(m['discr_adv'] - ref_losses[1]) < 1e-6, \
                (m, ref_losses)
            sd = state(G, D)
            rs = state(ref.G, ref.D)
            assert all(torch.equal(sd[q], rs[q]) for q in sd), 'official_step != harness.Step'
            out.update({'s1.' + q: v for q, v in sd.items()})
        names = list(m.keys())
        for n in names:
            per.setdefault(n, []).append(m[n])
        s = state(G, D)
        out['norms.%d' % k] = torch.stack([s[q].double().norm().float() for q in keys])
    out.update({'s%d.' % steps + q: v for q, v in state(G, D).items()})
    for n in names:
        out['loss.' + n] = torch.tensor(per[n], dtype=torch.float32)
    st.save(out, os.path.join(OUT, fname), metadata={'norm_keys': ','.join(keys), 'terms': ','.join(names)})
    print(fname, os.path.getsize(os.path.join(OUT, fname)), 'bytes', {n: per[n][0] for n in names})


def self_drift():
    """The official code against itself with the generator perturbed by 1e-7 (relative): how
    fast this small GAN amplifies rounding differences (the envelope check_step.c allows)."""
    torch.manual_seed(3)
    G = harness.make_generator(n_blocks=1, ngf=8)
    torch.manual_seed(5)
    D = NLayerDiscriminator(3, ndf=4, n_layers=4)
    perturb_bn(G)
    perturb_bn(D)
    img = torch.rand(2, 3, 64, 96)
    mask = torch.zeros(2, 1, 64, 96)
    mask[0, :, 10:40, 20:70] = 1

    def run(pert):
        g, d = copy.deepcopy(G), copy.deepcopy(D)
        if pert:
            gen = torch.Generator().manual_seed(pert)
            with torch.no_grad():
                for p in g.parameters():
                    p.add_(torch.randn(p.shape, generator=gen) * 1e-7 * p.abs().max())
        adv = NonSaturatingWithR1(gp_coef=0.001, weight=10, mask_as_fake_target=True, allow_scale_mask=True)
        og, od = torch.optim.Adam(g.parameters(), lr=1e-3), torch.optim.Adam(d.parameters(), lr=1e-4)
        return [official_step(g, d, og, od, adv, img.clone(), mask) for _ in range(10)]
    a, b = run(0), run(1)
    for k in range(10):
        print('step %2d' % (k + 1), ' '.join('%s %.2g' % (n, abs(a[k][n] - b[k][n]) / abs(a[k][n])) for n in a[k]))


def make_global():
    return GlobalGenerator(4, 3, ngf=4, n_downsampling=3, n_blocks=1, add_out_act='sigmoid')


def noisy_keys(G, D):
    """The state keys tests/check_step.c noisy_key() excludes from the norm drift: a bias
    directly before a BatchNorm ("model.7.bias" with "model.8.running_mean") and that
    BatchNorm's running_mean."""
    out = set()
    for pre, m in (('generator.', G), ('discriminator.', D)):
        sd = m.state_dict()
        for k in sd:
            stem, _, leaf = k.rpartition('.')
            head = stem.rstrip('0123456789')
            if head == stem:
                continue
            idx = int(stem[len(head):])
            if leaf == 'bias' and '%s%d.running_mean' % (head, idx + 1) in sd and \
                    '%s%d.running_var' % (head, idx + 1) in sd:
                out.add(pre + k)
                out.add(pre + '%s%d.running_mean' % (head, idx + 1))
    return out


def iterate(src, make_g, steps, dtype, pl=False, nudge=False):
    """`steps` official iterations from the initial state and batch stored in `src`
    (step_ffc / step_global) in `dtype`, with or without ResNetPL (weight 30, encoder in training
    mode, weights = gen_perceptual_fixtures.det_values, which the C test recomputes).
    nudge: the image moved by one ulp of dtype (the envelope's rounding perturbation).
    Returns (states {1: s1, steps: s_last}, per-step metrics, per-step norms, pl state after 1, keys)."""
    t, _ = st.load(os.path.join(OUT, src))
    G = make_g()
    D = NLayerDiscriminator(3, ndf=4, n_layers=4)
    G.load_state_dict({k[len('init.generator.'):]: v for k, v in t.items() if k.startswith('init.generator.')})
    D.load_state_dict({k[len('init.discriminator.'):]: v for k, v in t.items() if k.startswith('init.discriminator.')})
    G, D = G.to(dtype), D.to(dtype)
    enc = None
    if pl:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import gen_perceptual_fixtures as gpf
        enc = harness.make_resnet_pl()
        gpf.fill_det(enc)  # float32 values, then cast: the C test fills float32 and converts
        enc = enc.to(dtype)
        enc.train()
        for p in enc.parameters():
            p.requires_grad_(False)
    G.train(); D.train()
    img, mask = t['image'].to(dtype), t['mask'].to(dtype)
    if nudge:  # one ulp of dtype
        img = torch.nextafter(img, torch.ones_like(img))
    adv = NonSaturatingWithR1(gp_coef=0.001, weight=10, mask_as_fake_target=True, allow_scale_mask=True)
    optG = torch.optim.Adam(G.parameters(), lr=1e-3)
    optD = torch.optim.Adam(D.parameters(), lr=1e-4)
    keys = [k[len('init.'):] for k in t if k.startswith('init.')]
    states, per, norms, pls = {}, {}, {}, {}
    for k in range(1, steps + 1):
        m = official_step(G, D, optG, optD, adv, img.clone(), mask, pl=enc)
        for n in m:
            per.setdefault(n, []).append(m[n])
        s = state(G, D)
        norms[k] = torch.stack([s[q].double().norm() for q in keys])
        if k in (1, steps):
            states[k] = s
        if k == 1 and enc is not None:
            pls = {'loss_resnet_pl.impl.' + q: v.clone() for q, v in enc.state_dict().items()
                   if 'running' in q or 'num_batches' in q}
    return states, per, norms, pls, keys, noisy_keys(G, D)


def make_ffc():
    return harness.make_generator(n_blocks=1, ngf=8)


CASES = {  # name: (source fixture, generator, steps, with ResNetPL)
    'step_ffc': ('step_ffc.safetensors', make_ffc, 10, False),
    'step_global': ('step_global.safetensors', make_global, 10, False),
    'step_ffc_pl': ('step_ffc.safetensors', make_ffc, 3, True),
    'step_p2p_pl': ('step_global.safetensors', make_global, 3, True),
}


def run_pl_case(fname, src, make_g=None, steps=3):
    """The float32 ResNetPL fixture: s1.* (G, D and the encoder's BN buffers as
    loss_resnet_pl.impl.*) and loss.<k> for 3 iterations."""
    states, per, _, pls, _, _ = iterate(src, make_g or make_ffc, steps, torch.float32, pl=True)
    out = {'s1.' + q: v for q, v in states[1].items()}
    out.update({'s1.' + q: v for q, v in pls.items()})
    for n in per:
        out['loss.' + n] = torch.tensor(per[n], dtype=torch.float32)
    st.save(out, os.path.join(OUT, fname), metadata={'terms': ','.join(per.keys()), 'init': src})
    print(fname, os.path.getsize(os.path.join(OUT, fname)), 'bytes', {n: per[n][0] for n in per})


def write_f64(case):
    """<case>_f64.safetensors: the case in float64, everything stored in float64."""
    src, make_g, steps, pl = CASES[case]
    states, per, norms, pls, keys, _ = iterate(src, make_g, steps, torch.float64, pl=pl)
    out = {}
    for k, sd in states.items():
        if k == 1 or not pl:
            out.update({'s%d.' % k + q: v for q, v in sd.items()})
    out.update({'s1.' + q: v.double() if v.is_floating_point() else v for q, v in pls.items()})
    for n in per:
        out['loss.' + n] = torch.tensor(per[n], dtype=torch.float64)
    for k, v in norms.items():
        out['norms.%d' % k] = v
    fname = case + '_f64.safetensors'
    st.save(out, os.path.join(OUT, fname), metadata={'norm_keys': ','.join(keys), 'terms': ','.join(per.keys()),
                                                     'init': src, 'dtype': 'float64'})
    print(fname, os.path.getsize(os.path.join(OUT, fname)), 'bytes', {n: per[n][0] for n in per})


def dump(path, nudge, dtype):
    """The four cases in dtype under this process's environment, for the envelope."""
    out = {}
    for case, (src, make_g, steps, pl) in CASES.items():
        states, per, norms, pls, keys, noisy = iterate(src, make_g, steps, dtype, pl=pl, nudge=nudge)
        for n in per:
            out['%s.loss.%s' % (case, n)] = torch.tensor(per[n], dtype=torch.float64)
        for k, sd in states.items():
            if k == 1 or not pl:
                out.update({'%s.s%d.%s' % (case, k, q): v for q, v in sd.items()})
        out.update({'%s.s1.%s' % (case, q): v for q, v in pls.items()})
        out['%s.norms' % case] = torch.stack([norms[k] for k in sorted(norms)])
        out['%s.clean' % case] = torch.tensor([q not in noisy for q in keys], dtype=torch.float64)
    st.save(out, path)


from perturb import PERTURBATIONS, run_worker  # noqa: E402


def deviations(case, ref, d, steps):
    """{quantity: largest |deviation| of dump d from the reference fixture ref} for one case:
    loss.<t> (steps,), s<k>.<key> (1,), norm_drift (steps,) relative, clean keys only."""
    out = {}
    for k, v in d.items():
        if not k.startswith(case + '.'):
            continue
        q = k[len(case) + 1:]
        if q.startswith('loss.'):
            out[q] = (v - ref[q].double()).abs()
        elif q.startswith('s') and q.split('.')[0][1:].isdigit():
            out[q] = (v.double() - ref[q].double()).abs().max().reshape(1)
        elif q == 'norms' and 'norms.1' in ref:
            clean = d[case + '.clean'] > 0
            rows = []
            for s in range(steps):
                e = ref['norms.%d' % (s + 1)].double()
                rows.append(((v[s] - e).abs() / (e.abs() + 1e-12))[clean].max())
            out['norm_drift'] = torch.stack(rows)
    return out


def write_envelope():
    """envelope.safetensors: for every quantity the C tests compare, the largest deviation
    from the stored fixture over PERTURBATIONS: keys <case>.<quantity> for float32 (against
    <case>.safetensors) and <case>_f64.<quantity> for float64 (against <case>_f64.safetensors).
    Each perturbation runs in a fresh interpreter (the environment must be set before torch
    loads)."""
    import tempfile
    env_out = {}
    tmp = tempfile.mkdtemp()
    for dtype, suffix in ((torch.float32, ''), (torch.float64, '_f64')):
        ref = {case: st.load(os.path.join(OUT, case + suffix + '.safetensors'))[0] for case in CASES}
        for i, (label, env, nudge) in enumerate(PERTURBATIONS):
            path = os.path.join(tmp, '%d%s.safetensors' % (i, suffix))
            run_worker(__file__, ['--dump', path] + (['--f64'] if dtype == torch.float64 else []), env, nudge)
            d, _ = st.load(path)
            worst = {}
            for case in CASES:
                for q, dev in deviations(case, ref[case], d, CASES[case][2]).items():
                    key = case + suffix + '.' + q
                    env_out[key] = torch.maximum(env_out[key], dev) if key in env_out else dev
                    if q.startswith('loss.'):
                        e = ref[case][q].double().abs() + 1e-12
                        worst[case] = max(worst.get(case, 0.0), float((dev / e).max()))
            print('%-8s %-28s' % (dtype.__repr__()[6:], label),
                  ' '.join('%s %.2g' % (c, w) for c, w in worst.items()), '(max rel loss deviation)', flush=True)
    env_out = {k: v.double() for k, v in env_out.items()}
    st.save(env_out, os.path.join(OUT, 'envelope.safetensors'),
            metadata={'perturbations': '; '.join(p[0] for p in PERTURBATIONS)})
    print('envelope.safetensors', len(env_out), 'tensors')


if '--dump' in sys.argv:
    dump(sys.argv[sys.argv.index('--dump') + 1], '--nudge' in sys.argv,
         torch.float64 if '--f64' in sys.argv else torch.float32)
    sys.exit(0)

if '--pl-only' in sys.argv:
    run_pl_case('step_ffc_pl.safetensors', 'step_ffc.safetensors')
    run_pl_case('step_p2p_pl.safetensors', 'step_global.safetensors', make_global)
    sys.exit(0)

if '--p2p-pl-only' in sys.argv:
    run_pl_case('step_p2p_pl.safetensors', 'step_global.safetensors', make_global)
    sys.exit(0)

if '--self-drift' in sys.argv:
    self_drift()
    sys.exit(0)

if '--f64-only' in sys.argv:
    for c in CASES:
        write_f64(c)
    sys.exit(0)

if '--envelope-only' in sys.argv:
    write_envelope()
    sys.exit(0)

write_losses_and_optim()
torch.manual_seed(3)
run_case('step_ffc.safetensors', harness.make_generator(n_blocks=1, ngf=8))
torch.manual_seed(4)
run_case('step_global.safetensors', make_global())
run_pl_case('step_ffc_pl.safetensors', 'step_ffc.safetensors')
run_pl_case('step_p2p_pl.safetensors', 'step_global.safetensors', make_global)
for c in CASES:
    write_f64(c)
write_envelope()
