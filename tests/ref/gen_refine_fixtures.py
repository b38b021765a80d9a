#!/usr/bin/env python3
"""gen_refine_fixtures.py — parity fixtures for `lamac predict --refine` (tests/check_refine.c):
the OFFICIAL refiner, saicinpainting/evaluation/refinement.py refine_predict (official PR
#112), run on a small big-lama-shaped FFCResNetGenerator (ngf 8, n_downsampling 3, 2 blocks,
ratio 0.75, random weights with perturbed BatchNorm statistics), batch size 1, in float64 and
float32.

Cases (image 100x116 uint8 RGB / 255, mask grey / 255 with a few grey levels; 3 iterations,
lr 0.01, modulo 8):
  a  min_side 32, max_scales 3, px_budget 1.8e6   -> 3 levels (25x29, 50x58, 100x116)
  b  min_side 32, max_scales 3, px_budget 6000    -> resized to 71x83 first, 2 levels
  c  min_side 200                                 -> 1 level: the plain forward

What is not the official code, and why:
  - kornia is not installable here (no pip; Debian has no python3-kornia): the refiner's three
    kornia functions come from tests/ref/kornia_stub (lamac's own implementation of kornia
    0.5.0's semantics for the arguments used; its README says what each does).
  - cv2 (python3-opencv) may be absent: when it is, a stand-in cv2 module provides
    getStructuringElement(MORPH_ELLIPSE, ksize) with OpenCV's algorithm (and the INTER_AREA
    constant evaluation/data.py reads at import; it equals OpenCV 4.6.0's kernel for every odd
    size 3..39, and the committed fixture was written with the real cv2, metadata 'cv2');
    tqdm and easydict are stubbed when absent.
  - the refiner puts the network on 'cuda:<id>' for each gpu_ids entry: the script passes
    gpu_ids "0," and gives refinement.py a `torch` whose device() maps every device to the
    CPU (a proxy of the torch module in that module's globals; no official file is changed).
  - saicinpainting/evaluation/__init__.py (the evaluator, with its own imports) is not run:
    the package is registered with its path only, so its submodules import from their files.

Writes tests/fixtures/refine/:
  image.png, image_mask.png  the inputs as PNG (for the CLI test)
  gen.safetensors            generator.* weights (F32) + metadata format/config (lamac weights)
  refine.safetensors         image (h, w, 3) U8, mask (h, w) U8, ellipse (15, 15) U8 (the
                             cv2 kernel), and per case X and dtype D in {f64, f32}:
                             X_D_out (1, 3, h', w'), X_D_level<k> (each level's result, k = 0
                             the coarsest); metadata: the options of each case
  envelope.safetensors       per case X: X_f32_env (0-dim F64), the largest |official float32
                             output under a perturbation - the fixture| over the perturbations
                             of tests/ref/perturb.py (threads 1/2/3, ATEN_CPU_CAPABILITY=default,
                             ONEDNN_MAX_CPU_ISA=SSE41, the image + 1 ulp); X_f32_env_<label>
                             per perturbation; metadata: the labels and the machine
Run from the repo root (~1 minute):
  LAMA_REF=/path/to/lama /usr/bin/python3 tests/ref/gen_refine_fixtures.py [--no-envelope]
Worker mode (used by the envelope): --worker OUT.safetensors [--nudge].
"""
import importlib
import os
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # tests/ref: harness.py, safetensors_io.py, perturb.py
import harness  # noqa: E402
harness.setup()  # $LAMA_REF checked and first on sys.path, import stubs installed
import numpy as np  # noqa: E402
import torch  # noqa: E402
import perturb  # noqa: E402
import safetensors_io as st  # noqa: E402

torch.set_num_threads(perturb.fixture_threads())  # pinned (README "Parity that holds on every machine")

# ---- the stand-ins ------------------------------------------------------------------------
for name in [m for m in sys.modules if m == 'kornia' or m.startswith('kornia.')]:
    del sys.modules[name]  # harness.py's empty kornia stub: replaced by the stand-in package
sys.path.insert(0, os.path.join(HERE, 'kornia_stub'))
import kornia  # noqa: E402,F401


def _ellipse(ksize):
    """OpenCV getStructuringElement(MORPH_ELLIPSE, ksize), anchor at the centre."""
    w, h = ksize
    r, c = h // 2, w // 2
    inv_r2 = 1.0 / (r * r) if r else 0.0
    out = np.zeros((h, w), np.uint8)
    for i in range(h):
        j1 = j2 = 0
        dy = i - r
        if abs(dy) <= r:
            dx = int(np.rint(c * np.sqrt((r * r - dy * dy) * inv_r2)))  # saturate_cast: half to even
            j1, j2 = max(c - dx, 0), min(c + dx + 1, w)
        out[i, j1:j2] = 1
    return out


try:
    import cv2  # noqa: F401
    HAVE_CV2 = True
except ImportError:
    HAVE_CV2 = False
    cv2 = harness._stub('cv2', MORPH_RECT=0, MORPH_CROSS=1, MORPH_ELLIPSE=2, INTER_AREA=3,
                        getStructuringElement=lambda shape, ksize: _ellipse(ksize))
for mod, attrs in (('tqdm', {}), ('easydict', {'EasyDict': dict})):
    try:
        importlib.import_module(mod)
    except ImportError:
        class _Bar:
            def __init__(self, it, **kwargs):
                self.it = it

            def __iter__(self):
                return iter(self.it)

            def set_description(self, text):
                pass
        harness._stub(mod, tqdm=_Bar, **attrs)

evaluation = types.ModuleType('saicinpainting.evaluation')  # without its __init__.py
evaluation.__path__ = [os.path.join(harness.REF, 'saicinpainting', 'evaluation')]
sys.modules['saicinpainting.evaluation'] = evaluation
from saicinpainting.evaluation import refinement  # noqa: E402


class _CpuTorch(types.ModuleType):
    """torch, with device() giving the CPU for any name (the refiner asks for cuda:<id>)."""

    def __getattr__(self, name):
        return getattr(torch, name)

    @staticmethod
    def device(*args, **kwargs):
        return torch.device('cpu')


refinement.torch = _CpuTorch('torch')

LEVELS = []  # each _infer's result of the current run, coarsest first
_infer = refinement._infer


def _recording_infer(*args, **kwargs):
    out = _infer(*args, **kwargs)
    LEVELS.append(out.clone())
    return out


refinement._infer = _recording_infer

# ---- the network and the inputs -----------------------------------------------------------
NGF, NBLOCKS, H, W = 8, 2, 100, 116
CASES = {  # name: refiner options (gpu_ids, modulo added below)
    'a': dict(n_iters=3, lr=0.01, min_side=32, max_scales=3, px_budget=1800000),
    'b': dict(n_iters=3, lr=0.01, min_side=32, max_scales=3, px_budget=6000),
    'c': dict(n_iters=3, lr=0.01, min_side=200, max_scales=3, px_budget=1800000),
}
MODULO = 8
CONFIG = harness.generator_config_yaml(NBLOCKS, NGF)


def make_generator():
    torch.manual_seed(11)
    G = harness.make_generator(NBLOCKS, NGF)
    with torch.no_grad():
        for m in G.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(100)
        last = [m for m in G.modules() if isinstance(m, torch.nn.Conv2d)][-1]
        last.weight.mul_(10)  # sigmoid outputs spread over 0-1, not all near 0.5
    return G.eval()


def make_inputs():
    rng = np.random.RandomState(7)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    img = np.stack([128 + 100 * np.sin(xx / 6.0 + yy / 11.0), 128 + 90 * np.cos(yy / 5.0),
                    xx * 255.0 / W], -1) + rng.randn(H, W, 3) * 10
    img = np.clip(img, 0, 255).astype(np.uint8)
    m = np.zeros((H, W), np.uint8)
    m[14:86, 18:100] = 255            # a hole wider than the 15x15 erosion at every level
    m[60:63, 0:W] = 255               # a stroke to the borders (padding and erosion edges)
    m[20:40, 105:112] = 128           # grey still means "hole" (> 0 after the level masks)
    m[90:93, 5:9] = 1
    return img, m


class Inpainter(torch.nn.Module):
    """What refine_predict reads of the trainer: .generator, eval mode, concat_mask, no noise."""

    def __init__(self, g):
        super().__init__()
        self.generator = g
        self.concat_mask = True
        self.add_noise_kwargs = None


def run_case(model, img_u8, mask_u8, opts, dtype, nudge=False):
    image = torch.from_numpy(img_u8).permute(2, 0, 1)[None].float() / 255  # load_image: float32 / 255
    mask = torch.from_numpy(mask_u8)[None, None].float() / 255
    if nudge:
        image = torch.nextafter(image, torch.full_like(image, 2.0))
    image, mask = image.to(dtype), mask.to(dtype)
    batch = {'image': image, 'mask': mask,
             'unpad_to_size': [torch.tensor([image.shape[2]]), torch.tensor([image.shape[3]])]}
    LEVELS.clear()
    out = refinement.refine_predict(batch, model, gpu_ids='0,', modulo=MODULO, **opts)
    return out, list(LEVELS)


def build_model(dtype):
    G = make_generator()
    return Inpainter(G.to(dtype)).eval(), G


def worker(path, nudge):
    img, mask = make_inputs()
    model, _ = build_model(torch.float32)
    out = {}
    for name, opts in CASES.items():
        out[f'{name}_f32_out'] = run_case(model, img, mask, opts, torch.float32, nudge)[0]
    st.save(out, path)


def main():
    if '--worker' in sys.argv:
        worker(sys.argv[sys.argv.index('--worker') + 1], '--nudge' in sys.argv)
        return
    root = os.path.join(HERE, '..', 'fixtures', 'refine')
    os.makedirs(root, exist_ok=True)
    img, mask = make_inputs()
    model32, G = build_model(torch.float32)
    gsd = {f'generator.{k}': v.detach().clone().contiguous() for k, v in G.state_dict().items()}
    st.save(gsd, os.path.join(root, 'gen.safetensors'), {'format': 'lamac-weights-1', 'config': CONFIG})
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15))
    fx = {'image': torch.from_numpy(img), 'mask': torch.from_numpy(mask),
          'ellipse': torch.from_numpy(np.ascontiguousarray(kernel, dtype=np.uint8))}
    meta = {'cv2': 'opencv' if HAVE_CV2 else 'stand-in', 'modulo': str(MODULO)}
    model64 = Inpainter(make_generator().double()).eval()
    for name, opts in CASES.items():
        meta[f'{name}_opts'] = repr(opts)
        for tag, dtype, model in (('f64', torch.float64, model64), ('f32', torch.float32, model32)):
            out, levels = run_case(model, img, mask, opts, dtype)
            fx[f'{name}_{tag}_out'] = out.contiguous()
            for k, lv in enumerate(levels):
                fx[f'{name}_{tag}_level{k}'] = lv.contiguous()
            print(f'case {name} {tag}: {len(levels)} level(s), output {tuple(out.shape)}')
    st.save(fx, os.path.join(root, 'refine.safetensors'), meta)
    from PIL import Image  # the same inputs as PNG, for the CLI test
    Image.fromarray(img).save(os.path.join(root, 'image.png'))
    Image.fromarray(mask).save(os.path.join(root, 'image_mask.png'))
    if '--no-envelope' in sys.argv:
        return
    env, labels = {}, []
    tmp = os.path.join(root, '.worker.safetensors')
    for label, envv, nudge in perturb.PERTURBATIONS:
        perturb.run_worker(__file__, ['--worker', tmp], envv, nudge)
        got = st.load(tmp)[0]
        labels.append(label)
        key = label.replace(' ', '_').replace('=', '_').replace('+', 'plus')
        for name in CASES:
            d = (got[f'{name}_f32_out'].double() - fx[f'{name}_f32_out'].double()).abs().max()
            env[f'{name}_f32_env_{key}'] = d
            env[f'{name}_f32_env'] = torch.maximum(env.get(f'{name}_f32_env', d), d)
            print(f'envelope {label}: case {name} {d.item():.3e}')
    os.remove(tmp)
    import platform
    st.save(env, os.path.join(root, 'envelope.safetensors'),
            {'perturbations': '; '.join(labels), 'machine': platform.processor() or platform.machine(),
             'torch': torch.__version__})


if __name__ == '__main__':
    main()
