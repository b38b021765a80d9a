"""harness.py — the official LaMa code (advimman/lama) as the fixture scripts use it, on
Debian's python3-torch with no other package.

The official code is imported at run time from the checkout that $LAMA_REF names; nothing of
it is copied here. A script puts this folder on sys.path (from its own location) and calls

    REF = harness.setup()       # checks $LAMA_REF, installs the import stubs, puts it on sys.path

after which `from saicinpainting... import ...` works. checkout() only checks $LAMA_REF (for
scripts that set up the evaluation imports themselves, tests/ref/official_eval.py).

What it offers on top (each mirrors an official class or the official trainer):
  make_generator(n_blocks, ngf, ratio)  FFCResNetGenerator as configs/training/generator/
                                        ffc_resnet_075.yaml builds it (no LFU, sigmoid output)
  make_resnet_pl()                      the ResNet50-dilated encoder of ResNetPL (random weights)
  resnet_pl(enc, pred, target, weight)  losses/perceptual.py ResNetPL.forward on a given encoder
  Step                                  one training iteration of lama-fourier.yaml with the
                                        official trainer's semantics (trainers/default.py,
                                        base.py and the Lightning 1.2 loop)
"""
import os
import sys
import types

HELP = ('set LAMA_REF to an extracted checkout of advimman/lama '
        '(e.g. LAMA_REF=/path/to/lama python3 tests/ref/<script>.py)')

REF = None  # the checkout, once setup() has run


def checkout():
    """The official checkout named by $LAMA_REF; exits with a clear message when it is unset or
    does not look like advimman/lama."""
    ref = os.environ.get('LAMA_REF')
    if not ref:
        sys.exit(f'LAMA_REF is not set: {HELP}')
    for part in ('saicinpainting', os.path.join('models', 'ade20k'), 'configs'):
        if not os.path.isdir(os.path.join(ref, part)):
            sys.exit(f'LAMA_REF={ref} is not a checkout of advimman/lama '
                     f'(no {part}/ there): {HELP}')
    return os.path.abspath(ref)


def _stub(name, **attrs):
    """An empty module registered as `name`, holding attrs (for imports that are never called)."""
    mod = types.ModuleType(name)
    for key, value in attrs.items():
        setattr(mod, key, value)
    sys.modules[name] = mod
    return mod


def _install_stubs():
    """The official training modules import kornia (spatial_transform.py), pytorch_lightning
    (trainers), scipy.io and pandas (the ADE20k segmentation helpers); the code paths the
    fixtures use call none of them."""
    transform = _stub('kornia.geometry.transform', rotate=None)
    geometry = _stub('kornia.geometry', transform=transform)
    _stub('kornia', geometry=geometry)
    _stub('pytorch_lightning', seed_everything=lambda *args, **kwargs: None)
    scipy_io = _stub('scipy.io', loadmat=lambda path: {'colors': None})
    _stub('scipy', io=scipy_io)
    _stub('pandas', read_csv=lambda path: None)


def setup():
    """Checks $LAMA_REF, installs the stubs and puts the checkout first on sys.path (once);
    returns the checkout."""
    global REF
    if REF is None:
        ref = checkout()
        _install_stubs()
        sys.path.insert(0, ref)
        REF = ref
    return REF


# ---- the networks -------------------------------------------------------------------------

def make_generator(n_blocks=9, ngf=64, ratio=0.75):
    """FFCResNetGenerator(4 -> 3): init and downsampling convs purely local, the resnet blocks
    with ratio_gin = ratio_gout = ratio; 27,048,835 parameters for 9 blocks at ngf 64."""
    setup()
    from saicinpainting.training.modules.ffc import FFCResNetGenerator

    def conv_kwargs(r):
        return {'ratio_gin': r, 'ratio_gout': r, 'enable_lfu': False}
    return FFCResNetGenerator(4, 3, ngf=ngf, n_downsampling=3, n_blocks=n_blocks,
                              add_out_act='sigmoid',
                              init_conv_kwargs=conv_kwargs(0),
                              downsample_conv_kwargs=conv_kwargs(0),
                              resnet_conv_kwargs=conv_kwargs(ratio))


def generator_config_yaml(n_blocks, ngf):
    """The `generator:` group of make_generator(n_blocks, ngf) (ratio 0.75) as config YAML text,
    the metadata/config.yaml that lamac reads beside the fixture's weights."""
    return f"""generator:
  kind: ffc_resnet
  input_nc: 4
  output_nc: 3
  ngf: {ngf}
  n_downsampling: 3
  n_blocks: {n_blocks}
  add_out_act: sigmoid
  init_conv_kwargs:
    ratio_gin: 0
    ratio_gout: 0
    enable_lfu: false
  downsample_conv_kwargs:
    ratio_gin: 0
    ratio_gout: 0
    enable_lfu: false
  resnet_conv_kwargs:
    ratio_gin: 0.75
    ratio_gout: 0.75
    enable_lfu: false
"""


def make_discriminator(ndf=64, n_layers=4):
    """NLayerDiscriminator on RGB, as configs/training/discriminator/pix2pixhd_nlayer.yaml."""
    setup()
    from saicinpainting.training.modules.pix2pixhd import NLayerDiscriminator
    return NLayerDiscriminator(3, ndf=ndf, n_layers=n_layers)


def make_resnet_pl():
    """ResNetPL's encoder: ade20k ResNet50 (Bottleneck, 3-4-6-3) dilated to stride 8, random
    weights (the fixtures need the structure, not the trained segmentation weights)."""
    setup()
    from models.ade20k import resnet
    from models.ade20k.base import ResnetDilated
    return ResnetDilated(resnet.ResNet(resnet.Bottleneck, [3, 4, 6, 3]), dilate_scale=8)


def _imagenet_normalize(x):  # (N, 3, H, W)
    import torch
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    return (x - mean) / std


def resnet_pl(enc, pred, target, weight=30):
    """ResNetPL: weight * sum over the encoder's feature maps of MSE(pred map, target map),
    both inputs ImageNet-normalised; pred and target go through the encoder separately."""
    import torch
    import torch.nn.functional as F
    pred_maps = enc(_imagenet_normalize(pred), return_feature_maps=True)
    target_maps = enc(_imagenet_normalize(target), return_feature_maps=True)
    terms = [F.mse_loss(p, t) for p, t in zip(pred_maps, target_maps)]
    return torch.stack(terms).sum() * weight


# ---- one training iteration ----------------------------------------------------------------

def _set_trainable(module, flag):
    for p in module.parameters():
        p.requires_grad_(flag)


class Step:
    """One iteration of lama-fourier.yaml training as the official trainer runs it: the
    generator step (masked L1 with weight_known 10, weight_missing 0; non-saturating
    adversarial x10; feature matching x100; ResNetPL x30), then the
    discriminator step (non-saturating + R1 with gp_coef 0.001) on a fresh no-grad
    prediction; Adam (G lr 1e-3, D lr 1e-4), gradients clipped to norm 1 per optimizer, every
    network in training mode. Calling it returns (generator loss, discriminator loss)."""

    def __init__(self, n_blocks=9, ngf=64, use_pl=True, device="cpu"):
        setup()
        import torch
        from saicinpainting.training.losses.adversarial import NonSaturatingWithR1
        self.G = make_generator(n_blocks, ngf)
        self.D = make_discriminator(64, 4)
        self.adv = NonSaturatingWithR1(gp_coef=0.001, weight=10, mask_as_fake_target=True,
                                       allow_scale_mask=True)
        self.pl = None
        if use_pl:
            # ResNetPL.__init__ puts its encoder in eval mode, but Lightning 1.2 calls train()
            # on the whole LightningModule before the loop, so in official training the frozen
            # encoder's BatchNorms use batch statistics (of pred and of target separately).
            self.pl = make_resnet_pl().train()
            _set_trainable(self.pl, False)
        # bench/step_vs_official.sh --device cuda: the networks on that device (Module.to keeps
        # the Parameter objects, the optimizers below take them there)
        self.G.to(device)
        self.D.to(device)
        if self.pl is not None:
            self.pl.to(device)
        self.optG = torch.optim.Adam(self.G.parameters(), lr=1e-3)
        self.optD = torch.optim.Adam(self.D.parameters(), lr=1e-4)

    def _generator_input(self, img, mask):
        import torch
        return torch.cat([img * (1 - mask), mask], 1)  # (N, 4, H, W)

    def _generator_step(self, img, mask):
        from saicinpainting.training.losses.feature_matching import (feature_matching_loss,
                                                                     masked_l1_loss)
        import torch.nn as nn
        _set_trainable(self.D, False)
        _set_trainable(self.G, True)
        pred = self.G(self._generator_input(img, mask))
        loss = masked_l1_loss(pred, img, mask, 10, 0)
        real_score, real_feats = self.D(img)
        fake_score, fake_feats = self.D(pred)
        loss = loss + self.adv.generator_loss(img, pred, real_score, fake_score, mask)[0]
        loss = loss + feature_matching_loss(fake_feats, real_feats) * 100
        if self.pl is not None:
            loss = loss + resnet_pl(self.pl, pred, img)
        self.optG.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.G.parameters(), 1.0)
        self.optG.step()
        return loss

    def _discriminator_step(self, img, mask):
        import torch
        import torch.nn as nn
        _set_trainable(self.D, True)
        _set_trainable(self.G, False)
        with torch.no_grad():
            pred = self.G(self._generator_input(img, mask))
        img = img.clone().requires_grad_(True)  # R1 differentiates the real scores by img
        real_score, _ = self.D(img)
        fake_score, _ = self.D(pred)
        loss = self.adv.discriminator_loss(img, pred, real_score, fake_score, mask)[0]
        self.optD.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.D.parameters(), 1.0)
        self.optD.step()
        return loss

    def __call__(self, img, mask):
        gloss = self._generator_step(img, mask)
        dloss = self._discriminator_step(img, mask)
        return float(gloss), float(dloss)
